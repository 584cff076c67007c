"""Numerical parity with torchvision 0.29.1 (optional: needs torchvision, absent from `make test`).

torchvision does not install beside the CPU build of torch that `make test` uses, so these tests
skip there. Run them in an environment that has it (here /tmp/tvenv, torch 2.14.1 + torchvision
0.29.1):

    PYTHONPATH=/work/main /tmp/tvenv/bin/python -m pytest tests/test_torchvision_parity.py -s

For each of the seven torchvision ResNets, torchvision's randomly initialised model (BN weights,
biases and running statistics randomised too) is loaded *strictly* into the module resdsl
generates, and the two eval-mode outputs are compared.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

torch = pytest.importorskip("torch")
torchvision = pytest.importorskip(
    "torchvision",
    reason="torchvision is not installed (it does not install beside the CPU torch of `make test`); "
    "run under an environment with torchvision 0.29.1",
)

from torch_support import ROOT, TORCHVISION_SPECS, model_class  # noqa: E402

MAX_RELATIVE_DIFFERENCE = 1e-5


def _randomise_batchnorm(model: torch.nn.Module) -> None:
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)
                m.running_mean.uniform_(-0.2, 0.2)
                m.running_var.uniform_(0.5, 1.5)


def _relative_difference(ours: torch.Tensor, theirs: torch.Tensor) -> float:
    return ((ours - theirs).abs().max() / theirs.abs().max()).item()


@pytest.mark.parametrize("name", sorted(TORCHVISION_SPECS))
def test_torchvision_weights_load_strictly_and_give_the_same_output(name):
    torch.set_num_threads(2)
    torch.manual_seed(0)
    reference = getattr(torchvision.models, name)(weights=None)
    _randomise_batchnorm(reference)
    reference.eval()
    ours = model_class(TORCHVISION_SPECS[name])()
    ours.load_state_dict(reference.state_dict(), strict=True)
    ours.eval()
    x = torch.randn(2, 3, 224, 224)
    with torch.no_grad():
        expected = reference(x)
        got = ours(x)
    difference = _relative_difference(got, expected)
    print(f"\n{name}: max relative difference {difference:.3g} (max |output| {expected.abs().max():.3g})")
    assert got.shape == expected.shape == (2, 1000)
    assert difference <= MAX_RELATIVE_DIFFERENCE


CHECK = textwrap.dedent(
    """
    import importlib.util, sys
    import torch, torchvision
    try:
        import resdsl
    except ImportError:
        pass
    else:
        raise SystemExit("resdsl is importable: the check must run without it")
    spec = importlib.util.spec_from_file_location("resnet50", "resnet50.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    torch.manual_seed(0)
    reference = torchvision.models.resnet50(weights=None)
    with torch.no_grad():
        for m in reference.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)
                m.running_mean.uniform_(-0.2, 0.2)
                m.running_var.uniform_(0.5, 1.5)
    ours = module.Resnet50()
    ours.load_state_dict(reference.state_dict(), strict=True)
    reference.eval()
    ours.eval()
    x = torch.randn(2, 3, 224, 224)
    with torch.no_grad():
        a, b = ours(x), reference(x)
    print(((a - b).abs().max() / b.abs().max()).item())
    """
)


def test_compiled_file_needs_only_torch(tmp_path):
    """`resdsl compile specs/resnet50.res -o resnet50.py`, then, in a Python that cannot import
    resdsl, import that file, load torchvision's resnet50 state_dict strictly, compare outputs."""
    out = str(tmp_path / "resnet50.py")
    compiled = subprocess.run(
        [sys.executable, "-m", "resdsl", "compile", "specs/resnet50.res", "--target", "torch", "-o", out],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert compiled.returncode == 0, compiled.stderr
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    check = subprocess.run(
        [sys.executable, "-I", "-c", CHECK], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert check.returncode == 0, check.stdout + check.stderr
    difference = float(check.stdout.strip().splitlines()[-1])
    print(f"\nresnet50.py without resdsl: max relative difference {difference:.3g}")
    assert difference <= MAX_RELATIVE_DIFFERENCE
