"""PyTorch backend: a standalone module file that imports only torch.

The view model below decides every name, literal, argument and comment; the template
``templates/torch/module.py.j2`` only lays them out. Blocks instantiated by stages become one
``nn.Module`` class per distinct kind, parameterised by the block's own parameters (the
evaluator kept their expressions as code, e.g. ``width * 4``); the network class builds its
stages from those classes with concrete arguments, under torchvision's module names.
"""

from __future__ import annotations

import hashlib
import linecache
import sys
import types
from dataclasses import dataclass, field, replace
from pathlib import PurePath
from typing import Any

from .. import __version__
from ..ir import Block, Network, Op, Shortcut, Stage
from ..values import Size, Val, py_attr, py_ident, py_literal, type_name
from . import EmitOptions, jinja_env
from .pyformat import Call, Repeat, assign, kw, render, statement

# --- naming ---------------------------------------------------------------------------------


def class_name(name: str) -> str:
    """``wide_resnet50_2`` -> ``WideResnet50_2``; ``bottleneck`` -> ``Bottleneck``."""
    parts = [p for p in name.split("_") if p]
    out = ""
    for part in parts:
        if out and out[-1].isdigit() and part[0].isdigit():
            out += "_"
        out += part[0].upper() + part[1:]
    ident = out or "Net"
    return py_ident(ident if ident[0].isalpha() else "Net" + ident)


def _attr(local: str) -> str:
    """A layer name as an attribute (see values.py_attr: injective, keywords get a `_`)."""
    return py_attr(local)


# --- layer constructors -----------------------------------------------------------------------


def _code(val: Val, block_code: bool) -> str:
    """The code for an attribute: its expression inside a block class, else its value."""
    if not val.free and isinstance(val.value, Size) and len(set(val.value)) == 1:
        return str(val.value[0])  # a square 3x3 is written 3, as torchvision does
    if block_code:
        return val.code
    if val.free <= {"classes"}:
        return val.code
    return py_literal(val.value)


def _channels(op: Op, block_code: bool) -> str:
    if block_code and op.channels is not None:
        return op.channels.code
    assert op.in_shape is not None
    return str(op.in_shape[0])


def _is_default(val: Val, default: object) -> bool:
    return not val.free and val.value == default and type_name(val.value) == type_name(default)


def _pool_args(op: Op, block_code: bool) -> list[str]:
    """kernel, stride (when it is not the kernel), padding and ceil_mode of a pooling layer."""
    a = op.attrs
    args = [_code(a["kernel"], block_code)]
    if a["stride"].code != a["kernel"].code:
        args.append(f"stride={_code(a['stride'], block_code)}")
    if not _is_default(a["padding"], 0):
        args.append(f"padding={_code(a['padding'], block_code)}")
    if not _is_default(a["ceil"], False):
        args.append(f"ceil_mode={_code(a['ceil'], block_code)}")
    return args


def layer_call(op: Op, block_code: bool, inplace: bool = True) -> Call | None:
    """``nn.Conv2d(...)`` etc. for a layer that is a module; None for a functional one.

    Layers with weights are always modules; parameter-free ones are modules when named (as the
    stem's ``relu`` and ``maxpool`` in torchvision), else applied functionally in ``forward``.
    """
    a = op.attrs

    def opt(name: str, default: object, arg: str | None = None) -> list[str]:
        val = a[name]
        return [] if _is_default(val, default) else [f"{arg or name}={_code(val, block_code)}"]

    if op.kind == "conv":
        args = [
            _channels(op, block_code),
            _code(a["out"], block_code),
            f"kernel_size={_code(a['kernel'], block_code)}",
            *opt("stride", 1),
            *opt("padding", 0),
            *opt("dilation", 1),
            *opt("groups", 1),
            *([] if _is_default(a["bias"], True) else [f"bias={_code(a['bias'], block_code)}"]),
        ]
        return Call("nn.Conv2d", tuple(args))
    if op.kind == "batchnorm":
        return Call("nn.BatchNorm2d", (_channels(op, block_code),))
    if op.kind == "linear":
        in_features = _channels(op, block_code)
        return Call("nn.Linear", (in_features, _code(a["out"], block_code), *opt("bias", True)))
    if not op.local:
        return None
    if op.kind == "relu":
        return Call("nn.ReLU", ("inplace=True",) if inplace else ())
    if op.kind in ("maxpool", "avgpool"):
        cls = "nn.MaxPool2d" if op.kind == "maxpool" else "nn.AvgPool2d"
        args = _pool_args(op, block_code)
        return Call(cls, (f"kernel_size={args[0]}", *args[1:]))
    if op.kind == "globalpool":
        return Call("nn.AdaptiveAvgPool2d", ("(1, 1)",))
    if op.kind == "flatten":
        return Call("nn.Flatten", ("1",))
    if op.kind == "dropout":
        return Call("nn.Dropout", (f"p={_code(a['p'], block_code)}",))
    if op.kind == "identity":
        return Call("nn.Identity", ())
    return None


def functional(op: Op, src: str, block_code: bool, inplace: bool) -> Call | None:
    """The call applying an unnamed parameter-free layer to ``src``; None for the identity."""
    if op.kind == "relu":
        return Call("nn.functional.relu", (src, "inplace=True") if inplace else (src,))
    if op.kind == "flatten":
        return Call("torch.flatten", (src, "1"))
    if op.kind == "globalpool":
        return Call("nn.functional.adaptive_avg_pool2d", (src, "1"))
    if op.kind == "dropout":
        p = _code(op.attrs["p"], block_code)
        return Call("nn.functional.dropout", (src, f"p={p}", "training=self.training"))
    if op.kind in ("maxpool", "avgpool"):
        fn = "max_pool2d" if op.kind == "maxpool" else "avg_pool2d"
        return Call(f"nn.functional.{fn}", (src, *_pool_args(op, block_code)))
    if op.kind == "identity":
        return None
    raise AssertionError(f"no functional form for `{op.kind}`")


def shortcut_call(sc: Shortcut) -> Call | None:
    """The ``downsample`` module of a block: None for the identity."""
    if sc.kind == "identity":
        return None
    if sc.kind == "pad":
        return Call("ZeroPadShortcut", (py_literal(sc.stride), str(sc.out_channels - sc.in_channels)))
    parts: list[str | Call | Repeat] = []
    for op in sc.ops:
        call = layer_call(op, block_code=False)
        if call is None:
            raise AssertionError(f"shortcut layer `{op.name}` has no module")
        if op.kind == "avgpool":  # ResNet-D: average only over the pixels inside the map
            call = Call(call.func, (*call.args, "count_include_pad=False"))
        parts.append(call)
    return Call("nn.Sequential", tuple(parts))


# --- forward code ------------------------------------------------------------------------------

# Layers whose output the next layer may overwrite in place: fresh tensors that their own backward
# does not read (relu's backward reads its output; after `branch` the shortcut reads it too).
_INPLACE_SAFE = frozenset({"conv", "batchnorm", "linear", "maxpool", "avgpool", "globalpool", "residual"})
# Layers that may return their input or a view of it: the tensor after them is the one before.
_TRANSPARENT = frozenset({"flatten", "dropout", "identity"})


@dataclass
class Flow:
    """The tensor a straight-line ``forward`` is at, and whether it may be overwritten in place."""

    var: str  # the variable every statement assigns: "out" in a block, "x" in the network
    indent: int
    src: str = "x"
    fresh: bool = False  # the input belongs to the caller: never in place
    lines: list[str] = field(default_factory=list)
    modules: list[str] = field(default_factory=list)
    uses_torch: bool = False
    auto: dict[str, int] = field(default_factory=dict)

    def layer(self, op: Op, block_code: bool, comment: str = "") -> None:
        """Apply one layer: its module (if it is one) and the statement calling it."""
        inplace = self.fresh
        call = layer_call(op, block_code, inplace)
        attr = _attr(op.local) if op.local else ""
        if call is None and block_code and any(v.free for v in op.attrs.values()):
            # Its arguments come from the block's parameters, which only __init__ sees: a module
            # under a name no spec name maps to (py_attr gives `x_` only for reserved names).
            n = self.auto[op.kind] = self.auto.get(op.kind, 0) + 1
            attr = f"{op.kind}_{n}_"
            call = layer_call(replace(op, local=attr), block_code, inplace)
        expr: str | Call | None
        if call is not None:
            self.modules.append(render(call, 2, prefix=f"self.{attr} = "))
            expr = f"self.{attr}({self.src})"
        else:
            expr = functional(op, self.src, block_code, inplace)
            self.uses_torch |= expr is not None and expr.func.startswith("torch.")
        if expr is None:
            return
        self.lines.append(statement(expr, self.indent, f"{self.var} = ", comment))
        self.src = self.var
        if op.kind not in _TRANSPARENT:
            self.fresh = op.kind in _INPLACE_SAFE

    def add(self, shortcut: str) -> None:
        """The residual join: ``out += shortcut`` where ``out`` may be overwritten in place."""
        if self.fresh and self.src == self.var:
            self.lines.append(statement(f"{self.var} += {shortcut}", self.indent))
        else:
            self.lines.append(statement(f"{self.var} = {self.src} + {shortcut}", self.indent))
        self.src, self.fresh = self.var, True


# --- view model ----------------------------------------------------------------------------


@dataclass
class BlockClass:
    name: str
    block: str
    doc: str
    init: str  # the rendered `def __init__(...)` line(s)
    lets: list[str]
    modules: list[str]
    forward: list[str]
    params: list[str]  # block parameters the constructor takes, in order
    has_downsample: bool
    zero_init_bn: str | None  # the last BN of the residual branch, zeroed by zero_init_residual
    out_fresh: bool  # whether its output may be overwritten in place by the next layer
    uses_torch: bool
    key: tuple[Any, ...] = ()
    defaults: dict[str, object] = field(default_factory=dict)


@dataclass
class NetworkView:
    header: list[str]
    doc: list[str]
    imports: list[str]
    all_names: str
    pad_shortcut: bool
    blocks: list[BlockClass]
    name: str
    init: str
    modules: list[str]
    forward: list[str]
    zero_init: list[tuple[str, str]]


def _join_kind(block: Block) -> str:
    if block.join is None:
        return "none"
    if block.shortcut is None:
        return "plain"  # the policy removed the join
    return "branch" if block.shortcut.from_branch and not block.shortcut.is_identity else "add"


def _block_key(block: Block) -> tuple[Any, ...]:
    ops = tuple(
        (
            op.kind,
            op.local,
            tuple(sorted((k, v.code) for k, v in op.attrs.items())),
            op.channels.code if op.channels is not None else op.in_shape,
        )
        for op in block.ops
    )
    lets = tuple((n, v.code) for n, v in block.lets)
    return (block.block, _join_kind(block), ops, lets)


def _free_params(block: Block) -> list[str]:
    """The block parameters the class body reads, in the block's parameter order."""
    let_free = {name: val.free for name, val in block.lets}
    used: set[str] = set()
    for op in block.ops:
        for val in [*op.attrs.values(), *([op.channels] if op.channels is not None else [])]:
            used |= val.free
    for name, val in reversed(block.lets):
        if name in used:
            used |= val.free
    used -= set(let_free)
    used.discard("in_channels")
    return [p for p in block.args if p in used] + (["classes"] if "classes" in used else [])


def _py_type(value: object) -> str:
    if isinstance(value, Size):
        return "tuple[" + ", ".join("int" for _ in value) + "]"
    return {"int": "int", "float": "float", "bool": "bool"}.get(type_name(value), "str")


def _block_class(block: Block, name: str, defaults: dict[str, object]) -> BlockClass:
    params = _free_params(block)
    join = _join_kind(block)
    sig: list[str] = ["self", "in_channels: int"]
    for p in params:
        arg = "num_classes" if p == "classes" else py_ident(p)
        value = block.args[p].value if p != "classes" else 0
        if p in defaults:
            sig.append(f"{arg}: {_py_type(value)} = {py_literal(defaults[p])}")
        else:
            sig.append(f"{arg}: {_py_type(value)}")
    has_downsample = join in ("add", "branch")
    if has_downsample:
        sig.append("downsample: nn.Module | None = None")
    init = render(Call("__init__", tuple(sig)), 1, prefix="def ", suffix=" -> None:")
    used_lets = {n for op in block.ops for v in op.attrs.values() for n in v.free}
    used_lets |= {n for op in block.ops if op.channels is not None for n in op.channels.free}
    lets: list[str] = []
    for let_name, val in reversed(block.lets):
        if let_name in used_lets:
            used_lets |= val.free
            lets.insert(0, assign(py_ident(let_name), val.code, 2))
    flow = Flow("out", 2)
    zero_bn = None
    last_bn = None
    for op in block.ops:
        if op.kind == "branch":
            if join == "branch":
                flow.lines.append(statement(f"shortcut = self.downsample({flow.src})", 2))
                flow.fresh = False  # the shortcut's conv keeps it for its backward
                last_bn = None  # a BN before `branch` feeds the shortcut too
            continue
        if op.kind == "residual":
            if join in ("add", "branch"):
                flow.add("self.downsample(x)" if join == "add" else "shortcut")
                zero_bn = last_bn
            continue
        if op.kind == "batchnorm":
            last_bn = _attr(op.local)
        flow.layer(op, block_code=True)
    if has_downsample:
        flow.modules.append(
            statement("downsample if downsample is not None else nn.Identity()", 2, "self.downsample = ")
        )
    flow.lines.append(statement(f"return {flow.src}", 2))
    what = {
        "add": "a residual block",
        "branch": "a pre-activation residual block with a projection shortcut",
        "plain": "the block without its shortcut (a plain network)",
        "none": "a block without a residual join",
    }[join]
    return BlockClass(
        name=name,
        block=block.block,
        doc=f"`{block.block}` from the spec: {what}.",
        init=init,
        lets=lets,
        modules=flow.modules,
        forward=flow.lines,
        params=params,
        has_downsample=has_downsample,
        zero_init_bn=zero_bn,
        out_fresh=flow.fresh and flow.src == "out",
        uses_torch=flow.uses_torch,
        key=_block_key(block),
        defaults=defaults,
    )


def _instance_call(cls: BlockClass, block: Block) -> Call:
    assert block.in_shape is not None
    args: list[str | Call | Repeat] = [str(block.in_shape[0])]
    for p in cls.params:
        value = block.args[p].value if p != "classes" else None
        arg = "num_classes" if p == "classes" else py_ident(p)
        if p == "classes":
            args.append("num_classes=num_classes")
        elif p in cls.defaults:
            if value != cls.defaults[p]:
                args.append(f"{arg}={py_literal(value)}")
        else:
            args.append(py_literal(value))
    if block.shortcut is not None:
        sc = shortcut_call(block.shortcut)
        if sc is not None:
            args.append(kw("downsample", sc))
    return Call(cls.name, tuple(args))


def _stage_expr(calls: list[Call]) -> Call:
    """``nn.Sequential(...)``, runs of three or more identical blocks as a generator."""
    parts: list[str | Call | Repeat] = []
    i = 0
    while i < len(calls):
        j = i
        while j < len(calls) and calls[j] == calls[i]:
            j += 1
        if j - i >= 3:
            parts.append(Repeat(calls[i], j - i))
        else:
            parts.extend(calls[i:j])
        i = j
    return Call("nn.Sequential", tuple(parts))


def _shape_comment(shape: tuple[int, ...] | None) -> str:
    return "(N, " + ", ".join(str(d) for d in (shape or ())) + ")"


def _block_classes(network: Network) -> tuple[list[BlockClass], dict[str, BlockClass]]:
    """One class per distinct block kind, in first-use order; and each block instance's class."""
    classes: dict[tuple[Any, ...], BlockClass] = {}
    used_names: set[str] = {class_name(network.name), "ZeroPadShortcut"}
    block_class: dict[str, BlockClass] = {}
    for block in network.blocks():
        key = _block_key(block)
        cls = classes.get(key)
        if cls is None:
            base = class_name(block.block)
            join = _join_kind(block)
            if join == "plain":
                base = "Plain" + base
            elif join == "branch":
                base += "Projection"
            name, n = base, 2
            while name in used_names:
                name, n = f"{base}{n}", n + 1
            used_names.add(name)
            cls = _block_class(block, name, block.defaults)
            classes[key] = cls
        block_class[block.name] = cls
    return list(classes.values()), block_class


def build_view(network: Network, options: EmitOptions) -> NetworkView:
    classes, block_class = _block_classes(network)
    flow = Flow("x", 2)
    for item in network.items:
        if isinstance(item, Stage):
            calls = [_instance_call(block_class[b.name], b) for b in item.blocks]
            flow.modules.append(render(_stage_expr(calls), 2, prefix=f"self.{_attr(item.name)} = "))
            out = item.blocks[-1].out_shape if item.blocks else None
            comment = f"{item.span.path}:{item.span.line} -> {_shape_comment(out)}"
            flow.lines.append(statement(f"self.{_attr(item.name)}({flow.src})", 2, "x = ", comment))
            flow.src = "x"
            flow.fresh = bool(item.blocks) and block_class[item.blocks[-1].name].out_fresh
            continue
        shown = item.kind in ("maxpool", "avgpool", "globalpool", "flatten", "linear")
        flow.layer(item, block_code=False, comment=f"-> {_shape_comment(item.out_shape)}" if shown else "")
    flow.lines.append(statement(f"return {flow.src}", 2))

    zero_init = [(c.name, c.zero_init_bn) for c in classes if c.zero_init_bn]
    init = render(
        Call(
            "__init__", ("self", f"num_classes: int = {network.classes}", "zero_init_residual: bool = False")
        ),
        1,
        prefix="def ",
        suffix=" -> None:",
    )
    residual = any(b.shortcut is not None for b in network.blocks())
    kind = "a residual network" if residual else "a plain network (no shortcuts)"
    policies = sorted({str(b.shortcut.policy) for b in network.blocks() if b.shortcut is not None})
    params = ", ".join(f"{k}={v}" for k, v in network.params.items())
    spec = PurePath(options.spec_path).as_posix() if options.spec_path else network.source_path
    where = f" (layers from {network.source_path})" if network.source_path != spec else ""
    header = [
        f"# Generated by resdsl {__version__} from {spec}; do not edit.",
        f"# Network `{network.name}`" + (f" with {params}" if params else "") + f"{where}.",
    ]
    doc = [
        f"`{network.name}`: {kind}, compiled from {spec}.",
        "",
        f"Input {_shape_comment(network.input_shape)}, output {_shape_comment(network.output_shape)}; "
        f"{network.total_params:,} parameters, {network.total_macs / 1e9:.3f} GMACs.",
    ]
    if residual:
        doc += [
            'Residual learning as in He et al. 2015, "Deep Residual Learning for Image',
            f'Recognition"; shortcut option{"s" if len(policies) > 1 else ""} {", ".join(policies)}.',
        ]
    name = class_name(network.name)
    pad = any(b.shortcut is not None and b.shortcut.kind == "pad" for b in network.blocks())
    uses_torch = flow.uses_torch or any(c.uses_torch for c in classes)
    all_names = sorted([name, *(c.name for c in classes), *(["ZeroPadShortcut"] if pad else [])])
    return NetworkView(
        header=header,
        doc=doc,
        imports=[*(["import torch"] if uses_torch else []), "from torch import Tensor, nn"],
        all_names=render(Call("", tuple(f'"{n}"' for n in all_names), "[", "]"), 0, prefix="__all__ = "),
        pad_shortcut=pad,
        blocks=classes,
        name=name,
        init=init,
        modules=flow.modules,
        forward=flow.lines,
        zero_init=zero_init,  # type: ignore[arg-type]
    )


def emit(network: Network, options: EmitOptions) -> str:
    view = build_view(network, options)
    return jinja_env("torch").get_template("module.py.j2").render(v=view)


# --- the Python API ---------------------------------------------------------------------------


def _define(name: str, value: Any) -> str:
    if isinstance(value, bool):
        return f"{name}={'true' if value else 'false'}"
    return f"{name}={value}"


def compile_source(
    spec_path: str,
    *,
    input: str | None = None,
    network: str | None = None,
    params: dict[str, Any] | None = None,
) -> tuple[str, Network]:
    from pathlib import Path

    from ..diagnostics import ResdslError
    from ..pipeline import analyze

    result = analyze(
        Path(spec_path),
        network=network,
        defines=[_define(k, v) for k, v in (params or {}).items()],
        input=input,
    )
    if not result.ok or not result.networks:
        raise ResdslError([d for d in result.diagnostics if d.is_error])
    net = result.network
    return emit(net, EmitOptions(spec_path=str(spec_path))), net


def import_source(code: str, filename: str) -> types.ModuleType:
    """Import generated code as a module (registered, with its source for tracebacks)."""
    digest = hashlib.sha256(code.encode()).hexdigest()[:16]
    mod_name = f"resdsl_generated_{digest}"
    if mod_name in sys.modules:
        return sys.modules[mod_name]
    module = types.ModuleType(mod_name)
    module.__file__ = filename
    linecache.cache[filename] = (len(code), None, code.splitlines(True), filename)
    exec(compile(code, filename, "exec"), module.__dict__)
    sys.modules[mod_name] = module
    return module


def load_module(
    spec_path: str,
    *,
    input: str | None = None,
    network: str | None = None,
    params: dict[str, Any] | None = None,
    **kwargs: Any,
) -> Any:
    code, net = compile_source(spec_path, input=input, network=network, params=params)
    module = import_source(code, f"<resdsl {net.name}>")
    return getattr(module, class_name(net.name))(**kwargs)
