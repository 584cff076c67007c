"""The generated modules against torchvision's state_dicts, `resdsl summary`, and a real forward pass.

The reference is tests/fixtures/torchvision-0.29.1-resnets.json (keys, shapes and order of each
torchvision model's state_dict, and its parameter count), recorded from torchvision 0.29.1.
"""

from __future__ import annotations

import json

import pytest
import torch
from torch_support import (
    ROOT,
    TORCHVISION_SPECS,
    extra_specs,
    model_class,
    shipped_network_specs,
)
from typer.testing import CliRunner

from resdsl.cli import app

REFERENCE = json.loads((ROOT / "tests/fixtures/torchvision-0.29.1-resnets.json").read_text())


def _on_meta(spec: str) -> torch.nn.Module:
    """The network built without memory: shapes and names only, in a moment."""
    cls = model_class(spec)
    with torch.device("meta"):
        return cls()


@pytest.mark.parametrize("model", sorted(TORCHVISION_SPECS))
def test_state_dict_keys_shapes_and_order_equal_torchvision(model):
    ours = {k: list(v.shape) for k, v in _on_meta(TORCHVISION_SPECS[model]).state_dict().items()}
    reference = REFERENCE[model]["state_dict"]
    assert list(ours) == list(reference)  # same keys, same order
    assert ours == reference
    params = sum(p.numel() for p in _on_meta(TORCHVISION_SPECS[model]).parameters())
    assert params == REFERENCE[model]["params"]


def test_torchvision_reference_figures():
    # A few of the fixture's figures as published by torchvision's model documentation.
    assert REFERENCE["resnet50"]["params"] == 25_557_032
    assert REFERENCE["resnet18"]["params"] == 11_689_512
    assert REFERENCE["wide_resnet50_2"]["params"] == 68_883_240


@pytest.mark.parametrize("spec", shipped_network_specs())
def test_parameter_count_equals_resdsl_summary(spec):
    result = CliRunner().invoke(app, ["summary", str(ROOT / spec), "--format", "json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    model = _on_meta(spec)
    assert sum(p.numel() for p in model.parameters()) == summary["params"]
    assert summary["classes"] == (10 if spec.startswith("specs/cifar/") else 1000)


@pytest.mark.parametrize("spec", [*shipped_network_specs(), *extra_specs()])
def test_forward_and_backward_at_the_declared_input(spec):
    """Every spec builds, runs forward and backward (train mode), output [N, classes]."""
    from resdsl.backends.torch import compile_source

    _, net = compile_source(str(ROOT / spec))
    classes = {
        "tests/fixtures/torch/features.res": 5,
        "tests/fixtures/torch/inplace.res": 4,
        "tests/fixtures/torch/layout.res": 6,
        "tests/fixtures/torch/shortcut_cd.res": 7,
    }.get(spec, 10 if spec.startswith("specs/cifar/") else 1000)
    batch = 1 if net.input_shape[1] >= 100 or "1202" in spec else 2
    torch.manual_seed(0)
    model = model_class(spec)()
    model.train()
    x = torch.randn(batch, *net.input_shape)
    before = x.clone()
    out = model(x)
    assert out.shape == (batch, classes)
    assert torch.equal(x, before)  # the caller's input is never overwritten in place
    out.square().mean().backward()
    missing = [name for name, p in model.named_parameters() if p.grad is None]
    assert not missing
    assert all(torch.isfinite(p.grad).all() for p in model.parameters())
