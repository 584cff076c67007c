"""`resdsl check` and `resdsl summary` never import torch, numpy or onnx (nor jinja2, which only
code generation needs): they must stay fast."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _imported(*args: str) -> set[str]:
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "resdsl", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    modules = set()
    for line in proc.stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            name = line.rsplit("|", 1)[1].strip()
            if name != "imported package":
                modules.add(name)
    assert "resdsl.pipeline" in modules  # the importtime output was read
    return modules


@pytest.mark.parametrize(
    "args",
    [
        ("check", "specs/resnet50.res"),
        ("summary", "--format", "json", "specs/resnet50.res"),
        ("summary", "specs/cifar/resnet20.res"),
    ],
    ids=["check", "summary-json", "summary-table"],
)
def test_no_torch_or_numpy(args: tuple[str, ...]) -> None:
    modules = _imported(*args)
    heavy = sorted(
        m for m in modules if m.split(".")[0] in {"torch", "numpy", "onnx", "onnxruntime", "jinja2"}
    )
    assert heavy == []
