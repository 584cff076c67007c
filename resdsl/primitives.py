"""The primitive layers: their arguments, and how each maps an input shape to an output shape.

One table serves every phase: name resolution (is `conv` a primitive?), argument checking
(which keywords, which types, which ranges), shape inference, and the parameter and
multiply-add counts of `resdsl summary`. Backends read the checked attributes.

Shapes are ``(C, H, W)`` for feature maps and ``(F,)`` after ``flatten``; the batch is implicit.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from .values import MAX_INT, PREC, Policy, Size, Val

Shape = tuple[int, ...]

MAX_CHANNELS = 1 << 20  # a million channels: far beyond any network, far below an OOM
MAX_SPATIAL = 1 << 16
MAX_KERNEL = 1 << 10


class ShapeProblem(Exception):
    """A shape rule failed; the shapes pass turns it into a located diagnostic."""

    def __init__(self, code: str, message: str, help: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.help = help


@dataclass(frozen=True)
class Attr:
    name: str
    kind: str  # int | size | bool | float | policy
    default: object = None  # None: required; a callable: computed from the other attributes
    lo: float = 0
    hi: float = MAX_INT
    role: str = "kw"  # head (first positional), arrow (after ->), kw

    @property
    def required(self) -> bool:
        return self.default is None and self.kind != "policy"


@dataclass(frozen=True)
class Inferred:
    shape: Shape
    params: int = 0
    macs: int = 0


@dataclass(frozen=True)
class Primitive:
    name: str
    summary: str
    attrs: tuple[Attr, ...] = ()
    infer: Callable[[dict[str, object], Shape], Inferred] = field(default=lambda a, s: Inferred(s))
    has_weights: bool = False

    def attr(self, name: str) -> Attr | None:
        return next((a for a in self.attrs if a.name == name), None)

    def role(self, role: str) -> Attr | None:
        return next((a for a in self.attrs if a.role == role), None)


# --- shape rules ----------------------------------------------------------------------------


def _spatial(shape: Shape, op: str) -> tuple[int, int, int]:
    if len(shape) != 3:
        raise ShapeProblem(
            "E307",
            f"`{op}` needs a feature map [C, H, W], got {list(shape)}",
            "feature-map layers go before `flatten`",
        )
    return shape  # type: ignore[return-value]


def _pair(value: object) -> tuple[int, int]:
    if isinstance(value, Size):
        return (int(value[0]), int(value[1]))
    return (int(value), int(value))  # type: ignore[call-overload]


def _window(op: str, size: int, k: int, s: int, p: int, d: int, ceil: bool = False) -> int:
    """Output size along one axis, by PyTorch's rule (``pooling_output_shape``).

    floor((size + 2p - span) / s) + 1, or with ``ceil`` the ceiling, less one window if the
    last would start beyond the input and its left padding. In ceil mode a window may hang
    over the edge: a 2x2/2 pool of a 1x1 map gives 1x1, as in PyTorch.
    """
    span = d * (k - 1) + 1
    num = size + 2 * p - span
    out = (num + (s - 1 if ceil else 0)) // s + 1  # floor division, as PyTorch's div_rtn
    if ceil and (out - 1) * s >= size + p:  # PyTorch: the last window must start inside
        out -= 1
    if out < 1:
        raise ShapeProblem(
            "E304",
            f"`{op}` kernel spans {span} but its padded input is {size + 2 * p}",
            "use a smaller kernel or more padding, or remove a stride earlier",
        )
    return out


def _conv(a: dict[str, object], shape: Shape) -> Inferred:
    c, h, w = _spatial(shape, "conv")
    out = int(a["out"])  # type: ignore[call-overload]
    groups = int(a["groups"])  # type: ignore[call-overload]
    if c % groups or out % groups:
        raise ShapeProblem(
            "E305",
            f"groups = {groups} does not divide {c} input and {out} output channels",
            "pick groups that divide both channel counts",
        )
    kh, kw = _pair(a["kernel"])
    sh, sw = _pair(a["stride"])
    ph, pw = _pair(a["padding"])
    dh, dw = _pair(a["dilation"])
    oh = _window("conv", h, kh, sh, ph, dh)
    ow = _window("conv", w, kw, sw, pw, dw)
    weights = out * (c // groups) * kh * kw
    params = weights + (out if a["bias"] else 0)
    return Inferred((out, oh, ow), params, weights * oh * ow)


def _pool(op: str) -> Callable[[dict[str, object], Shape], Inferred]:
    def infer(a: dict[str, object], shape: Shape) -> Inferred:
        c, h, w = _spatial(shape, op)
        kh, kw = _pair(a["kernel"])
        sh, sw = _pair(a["stride"])
        ph, pw = _pair(a["padding"])
        if ph * 2 > kh or pw * 2 > kw:
            raise ShapeProblem("E207", f"`{op}` padding must be at most half the kernel")
        ceil = bool(a["ceil"])
        return Inferred((c, _window(op, h, kh, sh, ph, 1, ceil), _window(op, w, kw, sw, pw, 1, ceil)))

    return infer


def _batchnorm(a: dict[str, object], shape: Shape) -> Inferred:
    c, _, _ = _spatial(shape, "batchnorm")
    return Inferred(shape, 2 * c)


def _globalpool(a: dict[str, object], shape: Shape) -> Inferred:
    c, _, _ = _spatial(shape, "globalpool")
    return Inferred((c, 1, 1))


def _flatten(a: dict[str, object], shape: Shape) -> Inferred:
    n = 1
    for d in shape:
        n *= d
    return Inferred((n,))


def _linear(a: dict[str, object], shape: Shape) -> Inferred:
    if len(shape) != 1:
        raise ShapeProblem(
            "E307",
            f"`linear` needs a flat input [F], got {list(shape)}",
            "add `flatten` (after `globalpool`) before the linear layer",
        )
    out = int(a["out"])  # type: ignore[call-overload]
    weights = shape[0] * out
    return Inferred((out,), weights + (out if a["bias"] else 0), weights)


def _same(a: dict[str, object], shape: Shape) -> Inferred:
    return Inferred(shape)


def _default_padding(a: dict[str, Val]) -> Val:
    kernel, dilation = a["kernel"], a["dilation"]
    k = _pair(kernel.value)
    d = _pair(dilation.value)
    pad = (d[0] * (k[0] - 1) // 2, d[1] * (k[1] - 1) // 2)
    const = Val.const(pad[0] if pad[0] == pad[1] else Size(pad))
    n = k[0] - 1
    if kernel.free or not dilation.free or k[0] != k[1] or isinstance(dilation.value, Size) or n == 0:
        return const
    # A block parameter sets the dilation: the code keeps it (torchvision's `padding=dilation`),
    # so that one block class serves every dilation.
    if n == 2:
        return Val(pad[0], dilation.code, dilation.free, dilation.prec)
    code = f"{dilation.wrapped(PREC['*'])} * " + (f"{n} // 2" if n % 2 else str(n // 2))
    return Val(pad[0], code, dilation.free, PREC["*"])


def _default_stride(a: dict[str, Val]) -> Val:
    return a["kernel"]


_CH = {"lo": 1, "hi": MAX_CHANNELS}
_K = {"lo": 1, "hi": MAX_KERNEL}

PRIMITIVES: dict[str, Primitive] = {
    p.name: p
    for p in [
        Primitive(
            "conv",
            "2-D convolution; padding defaults to dilation * (kernel - 1) / 2",
            (
                Attr("kernel", "size", role="head", **_K),
                Attr("out", "int", role="arrow", **_CH),
                Attr("stride", "size", Val.const(1), **_K),
                Attr("dilation", "size", Val.const(1), **_K),
                Attr("padding", "size", _default_padding, lo=0, hi=MAX_KERNEL),
                Attr("groups", "int", Val.const(1), **_CH),
                Attr("bias", "bool", Val.const(False)),
            ),
            _conv,
            has_weights=True,
        ),
        Primitive("batchnorm", "batch normalization over channels", (), _batchnorm, True),
        Primitive("relu", "rectified linear unit", (), _same),
        Primitive(
            "maxpool",
            "max pooling; stride defaults to the kernel",
            (
                Attr("kernel", "size", role="head", **_K),
                Attr("stride", "size", _default_stride, **_K),
                Attr("padding", "size", Val.const(0), lo=0, hi=MAX_KERNEL),
                Attr("ceil", "bool", Val.const(False)),
            ),
            _pool("maxpool"),
        ),
        Primitive(
            "avgpool",
            "average pooling; stride defaults to the kernel",
            (
                Attr("kernel", "size", role="head", **_K),
                Attr("stride", "size", _default_stride, **_K),
                Attr("padding", "size", Val.const(0), lo=0, hi=MAX_KERNEL),
                Attr("ceil", "bool", Val.const(False)),
            ),
            _pool("avgpool"),
        ),
        Primitive("globalpool", "global average pooling to 1x1", (), _globalpool),
        Primitive("flatten", "flatten [C, H, W] to [C*H*W]", (), _flatten),
        Primitive(
            "linear",
            "fully connected layer",
            (Attr("out", "int", role="arrow", **_CH), Attr("bias", "bool", Val.const(True))),
            _linear,
            has_weights=True,
        ),
        Primitive(
            "dropout",
            "dropout with probability p",
            (Attr("p", "float", Val.const(0.5), lo=0.0, hi=0.999999, role="head"),),
            _same,
        ),
        Primitive(
            "residual",
            "add the block's shortcut (its form set by the shortcut policy)",
            (Attr("policy", "policy", role="head"),),
            _same,
        ),
        Primitive("identity", "passes its input through unchanged", (), _same),
        Primitive("branch", "projection shortcuts read from here (pre-activation)", (), _same),
    ]
}

ALIASES = {"fc": "linear", "bn": "batchnorm"}


def lookup(name: str) -> Primitive | None:
    return PRIMITIVES.get(ALIASES.get(name, name))


__all__ = ["PRIMITIVES", "Attr", "Inferred", "Policy", "Primitive", "ShapeProblem", "lookup"]
