"""Golden files: the generated PyTorch of a few specs, committed and compared byte for byte.

After a deliberate change to the backend, rewrite them with `python tests/regenerate_golden.py
torch` and read `git diff tests/golden/torch` before committing.
"""

from __future__ import annotations

import importlib.util
import json

import pytest
import torch
from regenerate_golden import GOLDEN
from regenerate_golden import torch as torch_golden
from torch_support import ROOT, ruff_default_settings

CASES = torch_golden()


def test_the_golden_cases():
    assert sorted(CASES) == [
        "torch/preact_resnet18.py",
        "torch/resnet20.py",
        "torch/resnet50.py",
        "torch/shortcut_cd.py",
    ]


@pytest.mark.parametrize("name", sorted(CASES))
def test_generated_code_equals_the_golden_file(name):
    path = GOLDEN / name
    assert path.exists(), f"missing {path}: run `python tests/regenerate_golden.py torch`"
    assert CASES[name].encode("utf-8") == path.read_bytes(), (
        f"{name} differs from what resdsl generates: if the change is intended, run "
        "`python tests/regenerate_golden.py torch` and review `git diff tests/golden`"
    )


def test_golden_files_pass_ruff_with_default_settings():
    check, fmt = ruff_default_settings(GOLDEN / "torch")
    assert check.returncode == 0, check.stdout + check.stderr
    assert fmt.returncode == 0, fmt.stdout + fmt.stderr


def test_a_golden_file_works_on_its_own():
    """The file needs only torch: import it from disk, build, check against torchvision's names."""
    spec = importlib.util.spec_from_file_location("golden_resnet50", GOLDEN / "torch/resnet50.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.__all__ == ["Bottleneck", "Resnet50"]
    with torch.device("meta"):
        model = module.Resnet50()
    reference = json.loads((ROOT / "tests/fixtures/torchvision-0.29.1-resnets.json").read_text())
    shapes = {k: list(v.shape) for k, v in model.state_dict().items()}
    assert list(shapes.items()) == list(reference["resnet50"]["state_dict"].items())
    small = module.Resnet50(num_classes=3).eval()
    with torch.no_grad():
        assert small(torch.randn(1, 3, 64, 64)).shape == (1, 3)
