"""Diagnostic snapshot cases: tests/cases/<CODE>_<slug>.res beside <CODE>_<slug>.expected.

A case runs ``resdsl check <case>`` (or the command in a first-line comment
``# args: compile --target torch -o {tmp}/out.py {case}``) from the repository root, in
process, and records the exit code, stdout (when not empty) and stderr exactly as a user sees
them without colour. ``{case}`` is the case's path, ``{tmp}`` a fresh temporary folder (written
back as ``{tmp}`` in the recording); ``{tmp}/resnet20.pt`` is made as ResNet-20's state_dict.
``# xfail: reason`` with ``# requires: path`` marks a case that cannot pass until ``path`` (a
file of the repository, e.g. a backend) exists.

Used by tests/test_diagnostic_snapshots.py and by tests/regenerate_snapshots.py.
"""

from __future__ import annotations

import os
import re
import shlex
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CASES = ROOT / "tests" / "cases"
_HEADER = re.compile(r"^#\s*(args|xfail|requires):\s*(.*?)\s*$")


@dataclass(frozen=True)
class Case:
    path: Path

    @property
    def name(self) -> str:
        return self.path.stem

    @property
    def code(self) -> str:
        return self.name.split("_", 1)[0]

    @property
    def expected_path(self) -> Path:
        return self.path.with_suffix(".expected")

    def _headers(self) -> dict[str, str]:
        found: dict[str, str] = {}
        with self.path.open("rb") as handle:
            for raw in handle.read().split(b"\n")[:4]:
                match = _HEADER.match(raw.decode("utf-8", errors="replace"))
                if match:
                    found[match.group(1)] = match.group(2)
        return found

    @property
    def args(self) -> str:
        return self._headers().get("args", "check {case}")

    @property
    def xfail(self) -> str | None:
        """Why the case cannot pass yet, while the file it requires is missing."""
        headers = self._headers()
        required = headers.get("requires")
        if required and (ROOT / required).exists():
            return None
        return headers.get("xfail")

    def run(self) -> str:
        """Run the case through the CLI; return its recording (the .expected text)."""
        from typer.testing import CliRunner

        from resdsl.cli import app

        rel = self.path.relative_to(ROOT).as_posix()
        with tempfile.TemporaryDirectory() as tmp:
            argv = [a.replace("{case}", rel).replace("{tmp}", tmp) for a in shlex.split(self.args)]
            if "{tmp}/resnet20.pt" in self.args:
                _save_resnet20(Path(tmp) / "resnet20.pt")
            old = Path.cwd()
            os.chdir(ROOT)
            try:
                result = CliRunner(env={"NO_COLOR": "1", "COLUMNS": "100"}).invoke(app, argv)
            finally:
                os.chdir(old)
            stdout = result.stdout.replace(tmp, "{tmp}")
            stderr = result.stderr.replace(tmp, "{tmp}")
        shown = " ".join(shlex.quote(a) for a in self.args.replace("{case}", rel).split())
        out = [f"$ resdsl {shown}", f"exit code: {result.exit_code}"]
        if stdout:
            out += ["--- stdout", stdout.rstrip("\n")]
        out += ["--- stderr", stderr.rstrip("\n")]
        return "\n".join(out) + "\n"


def cases() -> list[Case]:
    return [Case(p) for p in sorted(CASES.glob("*.res"))]


def _save_resnet20(path: Path) -> None:
    import torch

    import resdsl

    torch.save(resdsl.load(str(ROOT / "specs" / "cifar" / "resnet20.res")).state_dict(), path)
