"""Property tests of shape arithmetic and parameter counts, against formulas and against torch.

The formulas here are written out independently of resdsl.primitives: PyTorch's documented
output size floor((H + 2p - d(k - 1) - 1) / s) + 1, and for ceil_mode its rule that the last
window must start inside the input or its left padding.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from resdsl.ir import Op
from resdsl.pipeline import Analysis, analyze

SETTINGS = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def conv_out(h: int, k: int, s: int, p: int, d: int) -> int | None:
    """PyTorch's Conv2d output size; None where torch refuses (kernel beyond padded input)."""
    if d * (k - 1) + 1 > h + 2 * p:
        return None
    return (h + 2 * p - d * (k - 1) - 1) // s + 1


def pool_out(h: int, k: int, s: int, p: int, ceil: bool) -> int | None:
    """PyTorch's MaxPool2d output size (dilation 1); None where torch refuses (below 1).

    In ceil mode the division rounds up, so a window may hang over the edge; then one window
    is dropped if the last would start beyond the input and its left padding.
    """
    num = h + 2 * p - (k - 1) - 1
    out = (num + (s - 1 if ceil else 0)) // s + 1
    if ceil and (out - 1) * s >= h + p:
        out -= 1
    return out if out >= 1 else None


def _analyze(body: str, c: int, h: int, w: int) -> Analysis:
    text = f"network t {{\n    input {c} x {h} x {w}\n    classes 1\n{body}\n}}\n"
    return analyze(Path("prop.res"), text=text)


def _first(analysis: Analysis, kind: str) -> Op:
    return next(op for op in analysis.network.ops() if op.kind == kind)


HEAD = "    globalpool\n    flatten\n    fc: linear -> classes"

sizes = st.integers(1, 24)
kernels = st.integers(1, 7)
strides = st.integers(1, 4)
paddings = st.integers(0, 3)
dilations = st.integers(1, 3)


@st.composite
def convs(draw: st.DrawFn) -> dict[str, int]:
    groups = draw(st.sampled_from([1, 2, 4]))
    return {
        "c": groups * draw(st.integers(1, 3)),
        "out": groups * draw(st.integers(1, 3)),
        "groups": groups,
        "h": draw(sizes),
        "w": draw(sizes),
        "kh": draw(kernels),
        "kw": draw(kernels),
        "sh": draw(strides),
        "sw": draw(strides),
        "ph": draw(paddings),
        "pw": draw(paddings),
        "dh": draw(dilations),
        "dw": draw(dilations),
        "bias": draw(st.booleans()),
    }


def _conv_line(a: dict[str, int]) -> str:
    return (
        f"    c: conv {a['kh']}x{a['kw']} -> {a['out']}, stride = {a['sh']}x{a['sw']}, "
        f"padding = {a['ph']}x{a['pw']}, dilation = {a['dh']}x{a['dw']}, groups = {a['groups']}, "
        f"bias = {'true' if a['bias'] else 'false'}"
    )


def _expected_conv(a: dict[str, int]) -> tuple[int, int, int] | None:
    oh = conv_out(a["h"], a["kh"], a["sh"], a["ph"], a["dh"])
    ow = conv_out(a["w"], a["kw"], a["sw"], a["pw"], a["dw"])
    return None if oh is None or ow is None else (a["out"], oh, ow)


@SETTINGS
@given(convs())
def test_conv_shape_and_params_follow_the_formulas(a: dict[str, int]) -> None:
    result = _analyze(_conv_line(a) + "\n" + HEAD, a["c"], a["h"], a["w"])
    expected = _expected_conv(a)
    if expected is None:
        assert [d.code for d in result.diagnostics] == ["E304"]
        assert result.diagnostics[0].span.line == 4  # the conv's line
        return
    assert result.ok, [d.message for d in result.diagnostics]
    conv = _first(result, "conv")
    assert conv.out_shape == expected
    weights = a["out"] * (a["c"] // a["groups"]) * a["kh"] * a["kw"]
    assert conv.params == weights + (a["out"] if a["bias"] else 0)
    assert conv.macs == weights * expected[1] * expected[2]


@st.composite
def pools(draw: st.DrawFn) -> dict[str, int]:
    k = draw(kernels)
    return {
        "c": draw(st.integers(1, 3)),
        "h": draw(sizes),
        "w": draw(sizes),
        "k": k,
        "s": draw(strides),
        "p": draw(st.integers(0, k // 2)),
        "ceil": draw(st.booleans()),
    }


def _pool_line(a: dict[str, int]) -> str:
    return (
        f"    p: maxpool {a['k']}x{a['k']}, stride = {a['s']}, padding = {a['p']}, "
        f"ceil = {'true' if a['ceil'] else 'false'}"
    )


def _expected_pool(a: dict[str, int]) -> tuple[int, int, int] | None:
    oh = pool_out(a["h"], a["k"], a["s"], a["p"], bool(a["ceil"]))
    ow = pool_out(a["w"], a["k"], a["s"], a["p"], bool(a["ceil"]))
    return None if oh is None or ow is None else (a["c"], oh, ow)


@SETTINGS
@given(pools())
def test_pool_shape_follows_pytorchs_rule(a: dict[str, int]) -> None:
    result = _analyze(_pool_line(a) + "\n" + HEAD, a["c"], a["h"], a["w"])
    expected = _expected_pool(a)
    if expected is None:
        assert [d.code for d in result.diagnostics] == ["E304"]
        return
    assert result.ok, [d.message for d in result.diagnostics]
    assert _first(result, "maxpool").out_shape == expected


def test_pool_padding_beyond_half_the_kernel_is_refused() -> None:
    result = _analyze("    p: maxpool 2x2, padding = 2\n" + HEAD, 1, 8, 8)
    assert [d.code for d in result.diagnostics] == ["E207"]


@SETTINGS
@given(convs())
def test_conv_shape_matches_torch(a: dict[str, int]) -> None:
    torch = pytest.importorskip("torch")
    layer = torch.nn.Conv2d(
        a["c"],
        a["out"],
        (a["kh"], a["kw"]),
        stride=(a["sh"], a["sw"]),
        padding=(a["ph"], a["pw"]),
        dilation=(a["dh"], a["dw"]),
        groups=a["groups"],
        bias=bool(a["bias"]),
    )
    try:
        with torch.no_grad():
            got: tuple[int, ...] | None = tuple(layer(torch.zeros(1, a["c"], a["h"], a["w"])).shape[1:])
    except RuntimeError:
        got = None
    result = _analyze(_conv_line(a) + "\n" + HEAD, a["c"], a["h"], a["w"])
    if got is None:
        assert [d.code for d in result.diagnostics] == ["E304"]
        return
    conv = _first(result, "conv")
    assert conv.out_shape == got
    assert conv.params == sum(p.numel() for p in layer.parameters())


@SETTINGS
@given(pools())
def test_pool_shape_matches_torch(a: dict[str, int]) -> None:
    torch = pytest.importorskip("torch")
    layer = torch.nn.MaxPool2d(a["k"], stride=a["s"], padding=a["p"], ceil_mode=bool(a["ceil"]))
    try:
        got: tuple[int, ...] | None = tuple(layer(torch.zeros(1, a["c"], a["h"], a["w"])).shape[1:])
    except RuntimeError:
        got = None
    result = _analyze(_pool_line(a) + "\n" + HEAD, a["c"], a["h"], a["w"])
    if got is None:
        assert [d.code for d in result.diagnostics] == ["E304"]
        return
    assert _first(result, "maxpool").out_shape == got


@SETTINGS
@given(st.integers(1, 300), st.integers(1, 300), st.booleans())
def test_linear_params_follow_the_formula(features: int, out: int, bias: bool) -> None:
    body = f"    flatten\n    fc: linear -> {out}, bias = {'true' if bias else 'false'}"
    text = f"network t {{\n    input {features} x 1 x 1\n    classes {out}\n{body}\n}}\n"
    result = analyze(Path("prop.res"), text=text)
    assert result.ok
    fc = _first(result, "linear")
    assert fc.params == features * out + (out if bias else 0)
    assert fc.macs == features * out


# --- whole networks: summary params == the generated module's parameters ------------------


@st.composite
def networks(draw: st.DrawFn) -> str:
    width = draw(st.sampled_from([4, 8]))
    policy = draw(st.sampled_from(["A", "B", "C", "D"]))
    block = draw(st.sampled_from(["basic", "bottleneck", "preact_basic"]))
    stages = []
    for i in range(draw(st.integers(1, 3))):
        count = draw(st.integers(1, 2))
        stride = " stride 2" if i and draw(st.booleans()) else ""
        stages.append(f"    stage layer{i + 1}: {count} x {block}({width * 2**i}){stride}")
    if policy == "A" and block == "bottleneck":
        policy = "B"  # option A cannot drop channels: a bottleneck's output is 4x its input
    head = "preact_classifier" if block.startswith("preact") else "classifier"
    return "\n".join(
        [
            "import std",
            "",
            "network random_net {",
            "    input 3 x 16 x 16",
            f"    classes {draw(st.integers(2, 12))}",
            f"    shortcut {policy}",
            f"    stem cifar({width})",
            *stages,
            f"    head {head}",
            "}",
            "",
        ]
    )


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(networks())
def test_random_network_params_equal_the_torch_module(spec: str) -> None:
    pytest.importorskip("torch")
    import resdsl

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "net.res"
        path.write_text(spec)
        result = analyze(path)
        assert result.ok, [d.message for d in result.diagnostics]
        module = resdsl.load(str(path))
    assert result.network.total_params == sum(p.numel() for p in module.parameters())
