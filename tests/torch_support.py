"""Shared facts for the torch backend tests: where the specs are, and how to compile them."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TEST_SPECS = ROOT / "tests" / "fixtures" / "torch"

# The seven torchvision models of tests/fixtures/torchvision-0.29.1-resnets.json, by spec.
TORCHVISION_SPECS = {
    "resnet18": "specs/resnet18.res",
    "resnet34": "specs/resnet34.res",
    "resnet50": "specs/resnet50.res",
    "resnet101": "specs/resnet101.res",
    "resnet152": "specs/resnet152.res",
    "resnext50_32x4d": "specs/resnext50_32x4d.res",
    "wide_resnet50_2": "specs/wide_resnet50_2.res",
}


@cache
def shipped_network_specs() -> tuple[str, ...]:
    """specs/**/*.res that define a network (std.res defines only blocks), relative to ROOT."""
    from resdsl.pipeline import analyze

    found = []
    for path in sorted((ROOT / "specs").rglob("*.res")):
        result = analyze(path, all_networks=True, require_network=False)
        assert result.ok, f"{path} does not check"
        if result.networks:
            found.append(path.relative_to(ROOT).as_posix())
    return tuple(found)


def extra_specs() -> tuple[str, ...]:
    return tuple(p.relative_to(ROOT).as_posix() for p in sorted(TEST_SPECS.glob("*.res")))


def compile_spec(spec: str, **params: object) -> str:
    """Generated PyTorch for a spec path relative to ROOT, with that path in its header."""
    from resdsl.backends.torch import compile_source

    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        code, _ = compile_source(spec, params=dict(params))
    finally:
        os.chdir(cwd)
    return code


def load(spec: str, **kwargs: object):  # -> torch.nn.Module
    import resdsl

    return resdsl.load(str(ROOT / spec), **kwargs)


def ruff() -> list[str]:
    exe = Path(sys.executable).with_name("ruff")
    if exe.exists():
        return [str(exe)]
    found = shutil.which("ruff")
    return [found] if found else [sys.executable, "-m", "ruff"]


def ruff_default_settings(folder: Path) -> tuple[subprocess.CompletedProcess[str], ...]:
    """`ruff check` and `ruff format --check` with ruff's defaults (--isolated: no pyproject)."""
    check = subprocess.run(
        [*ruff(), "check", "--isolated", "--no-cache", "."],
        cwd=folder,
        capture_output=True,
        text=True,
    )
    fmt = subprocess.run(
        [*ruff(), "format", "--isolated", "--no-cache", "--check", "--diff", "."],
        cwd=folder,
        capture_output=True,
        text=True,
    )
    return check, fmt


def model_class(spec: str, **params: object) -> type:
    """The generated network class of a spec (path relative to ROOT)."""
    from resdsl.backends.torch import class_name, compile_source, import_source

    code, net = compile_source(str(ROOT / spec), params=dict(params))
    return getattr(import_source(code, f"<resdsl {net.name}>"), class_name(net.name))
