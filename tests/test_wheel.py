"""The wheel carries the grammar, templates and spec library, and resdsl runs from it alone.

Builds the wheel offline (``python -m build --wheel --no-isolation``: hatchling comes from the
dev extra), lists it, installs it with ``pip install --no-deps --target`` into a temporary
folder, and runs ``resdsl check`` from a folder outside the repository with only that folder
and the third-party dependencies (not the checkout) on the path.
"""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("build")
    pytest.importorskip("hatchling")
    out = tmp_path_factory.mktemp("dist")
    proc = subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(out), str(ROOT)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    (found,) = out.glob("resdsl-*.whl")
    return found


def test_wheel_lists_grammar_templates_and_specs(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    for required in [
        "resdsl/_data/grammars/resdsl.lark",
        "resdsl/_data/templates/torch/module.py.j2",
        "resdsl/_data/specs/std.res",
        "resdsl/_data/specs/resnet50.res",
        "resdsl/_data/specs/cifar/family.res",
        "resdsl/cli.py",
        "resdsl/resources.py",
    ]:
        assert required in names, required
    # every file the checkout's grammars/, templates/ and specs/ hold is in the wheel
    for folder in ("grammars", "templates", "specs"):
        for path in (ROOT / folder).rglob("*"):
            if path.is_file() and "__pycache__" not in path.parts:
                assert f"resdsl/_data/{path.relative_to(ROOT).as_posix()}" in names, path
    assert any(n.endswith(".dist-info/entry_points.txt") for n in names)


def _dependency_paths() -> list[str]:
    """Where the current environment's third-party packages are (never the checkout)."""
    paths = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    return [p for p in sorted(paths) if Path(p).resolve() != ROOT.resolve()]


def test_installed_wheel_checks_a_spec_outside_the_repository(wheel: Path, tmp_path: Path) -> None:
    target = tmp_path / "site"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-index",
            "--target",
            str(target),
            str(wheel),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert (target / "resdsl" / "_data" / "specs" / "std.res").is_file()

    work = tmp_path / "elsewhere"
    work.mkdir()
    (work / "mine.res").write_text(
        "import std\n\nnetwork mine {\n    input 3 x 32 x 32\n    classes 10\n    shortcut A\n"
        "    stem cifar(16)\n    stage layer1: 2 x basic(16)\n    stage layer2: 2 x basic(32) stride 2\n"
        "    head classifier\n}\n"
    )
    (work / "bad.res").write_text(
        "import std\n\nnetwork bad {\n    input 3 x 32 x 32\n    classes 10\n    stem cifr\n}\n"
    )
    probe = (
        "import sys, resdsl, resdsl.resources as r; "
        "print(resdsl.__file__); print(r.grammar_path()); print(r.stdlib_dir())"
    )
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(target), *_dependency_paths()]),
        "RESDSL_CACHE_DIR": "",  # build the parser from the wheel's grammar, not a cache
    }
    # -S: no site-packages of this venv (where resdsl is installed in development mode)
    base = [sys.executable, "-S"]
    where = subprocess.run(
        [*base, "-c", probe], cwd=work, env=env, capture_output=True, text=True, timeout=60
    )
    assert where.returncode == 0, where.stderr
    module, grammar, stdlib = where.stdout.splitlines()
    assert Path(module).is_relative_to(target)
    assert Path(grammar) == target / "resdsl" / "_data" / "grammars" / "resdsl.lark"
    assert Path(stdlib) == target / "resdsl" / "_data" / "specs"

    ok = subprocess.run(
        [*base, "-m", "resdsl", "check", "mine.res"],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (ok.returncode, ok.stdout, ok.stderr) == (0, "", "checked 1 file: no problems found\n")

    bad = subprocess.run(
        [*base, "-m", "resdsl", "check", "--format", "concise", "bad.res"],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode == 1
    assert bad.stderr.splitlines() == [
        "bad.res:6:10: error: unknown block `cifr` [E202]",
        "checked 1 file: found 1 error",
    ]
