"""What the generated modules compute: shortcuts A and D by hand, initialisation, compile, layout."""

from __future__ import annotations

import math

import pytest
import torch
from torch_support import model_class

import resdsl

# A block whose residual branch is a single 1x1 conv: set it to zero and the block's output is
# its shortcut alone. No ReLU after the join, so the shortcut is seen as it is.
ONE_BLOCK = """import std

block conv_only(width, stride = 1) {{
    conv1: conv 1x1 -> width, stride = stride
    residual
}}

network one_block {{
    input {input}
    classes 3
    shortcut {policy}
    stage layer1: 1 x conv_only({width}) stride 2
    head classifier
}}
"""


def _one_block(tmp_path, policy: str, input: str, width: int) -> torch.nn.Module:
    spec = tmp_path / f"option_{policy}.res"
    spec.write_text(ONE_BLOCK.format(policy=policy, input=input, width=width))
    model = resdsl.load(str(spec)).eval()
    return model.layer1[0]


def test_option_a_is_a_strided_identity_with_zero_channels_appended(tmp_path):
    block = _one_block(tmp_path, "A", "2 x 5 x 5", 4)
    assert [name for name, _ in block.named_parameters()] == ["conv1.weight"]  # A adds none
    x = torch.arange(50, dtype=torch.float32).reshape(1, 2, 5, 5)
    with torch.no_grad():
        block.conv1.weight.zero_()
        got = block(x)
    # Rows and columns 0, 2, 4 of each input channel, then two channels of zeros.
    expected = torch.tensor(
        [
            [[0, 2, 4], [10, 12, 14], [20, 22, 24]],
            [[25, 27, 29], [35, 37, 39], [45, 47, 49]],
            [[0, 0, 0], [0, 0, 0], [0, 0, 0]],
            [[0, 0, 0], [0, 0, 0], [0, 0, 0]],
        ],
        dtype=torch.float32,
    )
    assert torch.equal(got[0], expected)
    # The branch adds onto it: out channel 3 of the conv copies input channel 1.
    with torch.no_grad():
        block.conv1.weight[3, 1] = 1.0
        got = block(x)
    expected[3] = expected[1]
    assert torch.equal(got[0], expected)


def test_option_d_averages_2x2_with_ceil_mode_then_projects(tmp_path):
    block = _one_block(tmp_path, "D", "1 x 5 x 5", 2)
    names = [name for name, _ in block.named_parameters()]
    assert names == ["conv1.weight", "downsample.1.weight", "downsample.2.weight", "downsample.2.bias"]
    pool = block.downsample[0]
    assert isinstance(pool, torch.nn.AvgPool2d)
    assert (pool.kernel_size, pool.stride, pool.ceil_mode, pool.count_include_pad) == (2, 2, True, False)
    x = torch.arange(25, dtype=torch.float32).reshape(1, 1, 5, 5)  # x[r, c] = 5r + c
    with torch.no_grad():
        block.conv1.weight.zero_()
        block.downsample[1].weight.copy_(torch.tensor([1.0, 2.0]).reshape(2, 1, 1, 1))
        got = block(x)
    # 2x2 windows over rows {0,1}, {2,3}, {4} and the same columns; a window cut by the edge
    # averages only the pixels inside: (0+1+5+6)/4 = 3, (4+9)/2 = 6.5, 24/1 = 24, ...
    pooled = torch.tensor([[3.0, 5.0, 6.5], [13.0, 15.0, 16.5], [20.5, 22.5, 24.0]])
    bn = 1 / math.sqrt(1 + 1e-5)  # eval BN at init: running mean 0, variance 1, eps 1e-5
    assert torch.allclose(got[0, 0], pooled * bn, rtol=1e-6, atol=0)
    assert torch.allclose(got[0, 1], 2 * pooled * bn, rtol=1e-6, atol=0)


def test_option_d_uses_an_identity_pool_where_only_channels_change():
    model = model_class("tests/fixtures/torch/shortcut_cd.res")()
    assert isinstance(model.layer5[0].downsample[0], torch.nn.Identity)
    assert isinstance(model.layer4[0].downsample[0], torch.nn.AvgPool2d)
    # C: a projection on every block of layer3, although its shape never changes.
    assert all(isinstance(b.downsample, torch.nn.Sequential) for b in model.layer3)
    assert isinstance(model.layer1[0].downsample, torch.nn.Identity)


# --- initialisation -----------------------------------------------------------------------------


def _blocks(model: torch.nn.Module) -> list[tuple[str, torch.nn.Module]]:
    return [(n, m) for n, m in model.named_modules() if n.count(".") == 1 and n.startswith("layer")]


@pytest.mark.parametrize(
    ("spec", "zeroed"),
    [
        (
            "tests/fixtures/torch/shortcut_cd.res",
            [
                "layer1.0.bn2",
                "layer1.1.bn2",
                "layer2.0.bn3",
                "layer2.1.bn3",
                "layer3.0.bn2",
                "layer3.1.bn2",
                "layer4.0.bn2",
                "layer5.0.bn2",
            ],
        ),
        (
            "specs/cifar/resnet20.res",
            [f"layer{s}.{b}.bn2" for s in (1, 2, 3) for b in range(3)],
        ),
    ],
)
def test_zero_init_residual_makes_each_block_relu_of_its_shortcut(spec, zeroed):
    cls = model_class(spec)
    torch.manual_seed(1)
    plain = cls()
    torch.manual_seed(1)
    model = cls(zero_init_residual=True).eval()
    # The flag zeroes exactly the last BN weight of each residual branch, nothing else.
    before, after = plain.state_dict(), model.state_dict()
    changed = sorted(k for k in before if not torch.equal(before[k], after[k]))
    assert changed == sorted(f"{name}.weight" for name in zeroed)
    assert all(not after[k].any() for k in changed)
    seen: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
    for name, block in _blocks(model):
        block.register_forward_hook(lambda m, args, out, name=name: seen.update({name: (args[0], out)}))
    with torch.no_grad():
        model(torch.randn(2, 3, 33, 33))
        assert len(seen) == len(zeroed)
        for name, block in _blocks(model):
            x, out = seen[name]
            assert torch.allclose(out, torch.relu(block.downsample(x)), rtol=0, atol=1e-6), name


def test_zero_init_residual_in_pre_activation_blocks():
    cls = model_class("specs/cifar/preact_resnet110.res", n=2)
    model = cls(zero_init_residual=True).eval()
    zeroed = sorted(k for k, v in model.state_dict().items() if k.endswith("weight") and not v.any())
    assert zeroed == [f"layer{s}.{b}.bn2.weight" for s in (1, 2, 3) for b in (0, 1)]
    with torch.no_grad():
        x = torch.randn(2, 3, 32, 32)
        x = model.conv1(x)
        block = model.layer2[0]  # projection shortcut, reading the pre-activated input
        pre = torch.relu(block.bn1(model.layer1(x)))
        assert torch.allclose(block(model.layer1(x)), block.downsample(pre), atol=1e-6)


def test_weights_start_as_torchvision_initialises_them():
    torch.manual_seed(0)
    model = model_class("specs/resnet18.res")()
    for name, m in model.named_modules():
        if isinstance(m, torch.nn.Conv2d):
            fan_out = m.out_channels * m.kernel_size[0] * m.kernel_size[1]
            std = math.sqrt(2.0 / fan_out)  # kaiming normal, mode fan_out, relu gain sqrt(2)
            assert abs(m.weight.mean().item()) < 0.1 * std, name
            assert abs(m.weight.std().item() / std - 1) < 0.1, name
        elif isinstance(m, torch.nn.BatchNorm2d):
            assert torch.equal(m.weight, torch.ones_like(m.weight)), name
            assert torch.equal(m.bias, torch.zeros_like(m.bias)), name


# --- torch.compile and channels_last ------------------------------------------------------------

SMALL = [
    ("specs/cifar/resnet20.res", {}, (2, 3, 32, 32)),  # option A
    ("tests/fixtures/torch/shortcut_cd.res", {}, (2, 3, 33, 33)),  # C and D, odd sizes
    ("tests/fixtures/torch/features.res", {}, (2, 3, 40, 40)),  # lets, groups, dilation, pools
    ("specs/cifar/preact_resnet110.res", {"n": 2}, (2, 3, 32, 32)),  # pre-activation, `branch`
]


@pytest.mark.parametrize(("spec", "params", "shape"), SMALL)
def test_torch_compile_fullgraph_has_no_graph_breaks(spec, params, shape):
    torch.manual_seed(0)
    model = model_class(spec, **params)().eval()
    x = torch.randn(shape)
    compiled = torch.compile(model, fullgraph=True, backend="eager")
    with torch.no_grad():
        assert torch.allclose(compiled(x), model(x), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(("spec", "params", "shape"), SMALL)
def test_channels_last_gives_the_same_result(spec, params, shape):
    torch.manual_seed(0)
    model = model_class(spec, **params)().eval()
    with torch.no_grad():  # random BN statistics, so that BN is not the identity
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
    x = torch.randn(shape)
    with torch.no_grad():
        expected = model(x)
        model = model.to(memory_format=torch.channels_last)
        got = model(x.to(memory_format=torch.channels_last))
    assert torch.allclose(got, expected, rtol=1e-5, atol=1e-5)
    scale = expected.abs().max().item()
    assert (got - expected).abs().max().item() <= 1e-5 * max(1.0, scale)


def test_no_layer_overwrites_a_tensor_that_is_still_needed():
    """tests/fixtures/torch/inplace.res: a block's input feeds its shortcut; ReLU and the
    projection keep tensors for the backward pass. In-place layers there would corrupt them."""
    torch.manual_seed(0)
    model = model_class("tests/fixtures/torch/inplace.res")().train()
    block = model.layer1[0]  # identity shortcut; its first layer is a named ReLU
    x = torch.randn(2, 8, 16, 16)
    before = x.clone()
    out = block(x)
    assert torch.equal(x, before)
    bn = block.bn2(block.conv1(torch.relu(block.bn1(torch.relu(x)))))
    # In train mode, BN normalises by the batch statistics: recomputing gives the same output.
    assert torch.allclose(out, torch.relu(bn + x), atol=1e-5)
    # Backward through every layer (autograd raises if a saved tensor was overwritten).
    model(torch.randn(2, 3, 16, 16)).sum().backward()
