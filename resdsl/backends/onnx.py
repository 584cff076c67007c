"""ONNX backend: a checked ``.onnx`` model, written first as ONNX's textual syntax.

The view model below walks the IR once and decides every node, tensor name, attribute and
shape; ``templates/onnx/model.onnxtxt.j2`` lays it out in the syntax of ``onnx.parser``. The
weights are declared in that text as graph inputs (the text stays small and reviewable) and
moved into the graph's initializers after parsing, filled from a PyTorch ``state_dict``
(``--weights``) or from a seeded He initialisation made with numpy.

Names follow the torch backend (torchvision's ``state_dict`` keys): ``layer1.0.conv1.weight``,
``layer1.0.bn1.running_mean``. With ``fold_bn`` each BatchNormalization that directly follows
a conv is folded into it, which then has ``<conv>.weight`` and ``<conv>.bias``. The graph
reads ``input`` (N, C, H, W) and writes ``logits``; each node's output tensor carries the
node's name and a shape declared from resdsl's own shape inference, so that ONNX's strict
shape inference re-checks every one of them.

Nothing here imports torch, except to read a ``--weights`` checkpoint.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from .. import __version__
from ..diagnostics import Diagnostic, ResdslError
from ..ir import Block, Network, Op, Shortcut, Stage
from ..pipeline import UsageError
from ..primitives import _pair
from ..source import Span
from ..values import py_attr
from . import EmitOptions, jinja_env

try:
    import numpy as np
    import onnx.checker
    import onnx.helper
    import onnx.numpy_helper
    import onnx.parser
except ImportError as err:  # an installation without the `onnx` extra
    raise UsageError(
        f"--target onnx needs {(err.name or 'onnx').split('.')[0]}: pip install 'resdsl[onnx]'"
    ) from None

INPUT = "input"
OUTPUT = "logits"
BN_EPS = 1e-5  # torch.nn.BatchNorm2d's default, which the torch backend uses
MAX_WEIGHT_ERRORS = 10  # E401 diagnostics shown before "and N more"

Shape = tuple[int, ...]


# --- the weights a network needs ----------------------------------------------------------


@dataclass(frozen=True)
class Weight:
    """One entry of the network's ``state_dict``, as the torch backend names it."""

    key: str
    shape: Shape
    op: Op


def weight_shapes(op: Op) -> list[tuple[str, Shape]]:
    """The ``state_dict`` entries of one layer: ``(suffix, shape)``; none for param-free layers."""
    assert op.in_shape is not None
    if op.kind == "conv":
        out, groups = int(op.value("out")), int(op.value("groups"))  # type: ignore[call-overload]
        kh, kw = _pair(op.value("kernel"))
        entries = [("weight", (out, op.in_shape[0] // groups, kh, kw))]
        return entries + ([("bias", (out,))] if op.value("bias") else [])
    if op.kind == "batchnorm":
        c = op.in_shape[0]
        return [("weight", (c,)), ("bias", (c,)), ("running_mean", (c,)), ("running_var", (c,))]
    if op.kind == "linear":
        out = int(op.value("out"))  # type: ignore[call-overload]
        entries = [("weight", (out, op.in_shape[0]))]
        return entries + ([("bias", (out,))] if op.value("bias") else [])
    return []


def state_key(name: str) -> str:
    """The ``state_dict`` prefix of a layer, as the torch backend names its modules.

    ``layer1.0.conv1`` stays; a name that is a Python keyword or an ``nn.Module`` attribute gets
    a ``_`` there (``eval`` -> ``eval_``), so the prefix follows ``values.py_attr`` part by part.
    """
    return ".".join(part if part.isdigit() else py_attr(part) for part in name.split("."))


def expected_weights(network: Network) -> list[Weight]:
    """Every weight of the network, in forward order (shortcut layers after their block)."""
    return [
        Weight(f"{state_key(op.name)}.{suffix}", shape, op)
        for op in network.ops()
        for suffix, shape in weight_shapes(op)
    ]


def init_weights(network: Network, seed: int) -> dict[str, np.ndarray]:
    """Seeded initial weights, the scheme of the torch backend's generated ``__init__``.

    Convs: Kaiming normal, fan_out, gain sqrt(2); their bias and linear layers: PyTorch's
    default uniform(-1/sqrt(fan_in), 1/sqrt(fan_in)); BatchNorm: weight 1, bias 0, mean 0, var 1.
    """
    rng = np.random.default_rng(seed)
    state: dict[str, np.ndarray] = {}
    for w in expected_weights(network):
        suffix = w.key.rsplit(".", 1)[1]
        if w.op.kind == "batchnorm":
            one = suffix in ("weight", "running_var")
            state[w.key] = np.ones(w.shape, np.float32) if one else np.zeros(w.shape, np.float32)
            continue
        fan_in = int(np.prod(dict(weight_shapes(w.op))["weight"][1:]))
        if w.op.kind == "conv" and suffix == "weight":
            fan_out = w.shape[0] * int(np.prod(w.shape[2:]))
            state[w.key] = rng.normal(0.0, np.sqrt(2.0 / fan_out), w.shape).astype(np.float32)
        else:
            bound = 1.0 / np.sqrt(fan_in)
            state[w.key] = rng.uniform(-bound, bound, w.shape).astype(np.float32)
    return state


def _unwrap(obj: object) -> Mapping[str, Any] | None:
    """The state_dict inside a checkpoint: the object itself, or its ``state_dict``/``model``."""
    if isinstance(obj, Mapping):
        for key in ("state_dict", "model"):
            inner = obj.get(key)
            if isinstance(inner, Mapping):
                return inner
        return obj
    return None


def read_checkpoint(path: str) -> Mapping[str, Any]:
    """Load a PyTorch ``state_dict`` file (tensors only: ``weights_only=True``)."""
    try:
        import torch
    except ImportError:
        raise UsageError(
            "--weights reads a PyTorch checkpoint, which needs torch: pip install 'resdsl[torch]'"
        ) from None
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise UsageError(f"--weights: cannot read {path} as a PyTorch state_dict: {first}") from None
    state = _unwrap(obj)
    if state is None:
        raise UsageError(f"--weights: {path} holds a {type(obj).__name__}, not a state_dict")
    return state


def _op_notes(op: Op) -> tuple[str, ...]:
    return tuple(f"in {o.what}, expanded from {o.span}" for o in op.origins)


def _dims(shape: Iterable[int]) -> str:
    return "[" + ", ".join(str(d) for d in shape) + "]"


def check_weights(network: Network, state: Mapping[str, Any], path: str) -> dict[str, np.ndarray]:
    """The checkpoint's tensors as float32 arrays, or E401 for each key or shape that does not fit."""
    name = Path(path).name
    problems: list[Diagnostic] = []
    arrays: dict[str, np.ndarray] = {}
    expected = expected_weights(network)
    known = {w.key for w in expected}
    bn_keys = {state_key(op.name) for op in network.ops() if op.kind == "batchnorm"}
    for w in expected:
        if w.key not in state:
            problems.append(
                Diagnostic(
                    "E401",
                    f"`{w.key}` is missing from `{name}`",
                    w.op.span,
                    label=f"`{w.op.name}` needs {w.key.rsplit('.', 1)[1]} {_dims(w.shape)}",
                    notes=_op_notes(w.op),
                    help="the checkpoint must come from this network, with the same -D values and --input",
                )
            )
            continue
        value = state[w.key]
        shape = tuple(getattr(value, "shape", ()))
        floating = bool(getattr(value, "is_floating_point", lambda: False)())
        if not floating:
            problems.append(
                Diagnostic(
                    "E401",
                    f"`{w.key}` in `{name}` is a {type(value).__name__} "
                    f"{getattr(value, 'dtype', '')}, not a floating-point tensor".replace(" ,", ","),
                    w.op.span,
                    label=f"`{w.op.name}`",
                    notes=_op_notes(w.op),
                )
            )
        elif shape != w.shape:
            problems.append(
                Diagnostic(
                    "E401",
                    f"`{w.key}` in `{name}` has shape {_dims(shape)}, the spec needs {_dims(w.shape)}",
                    w.op.span,
                    label=f"`{w.op.name}` needs {_dims(w.shape)}",
                    notes=_op_notes(w.op),
                    help="the checkpoint must come from this network, with the same -D values and --input",
                )
            )
        else:
            arrays[w.key] = value.detach().to("cpu").float().numpy()
    for key in state:
        if key in known:
            continue
        owner, _, suffix = str(key).rpartition(".")
        if suffix == "num_batches_tracked" and owner in bn_keys:
            continue
        problems.append(
            Diagnostic(
                "E401",
                f"unexpected key `{key}` in `{name}`: the spec has no such weight",
                network.span,
                label=f"`{network.name}`",
                help="the checkpoint must come from this network, with the same -D values and --input",
            )
        )
    if problems:
        if len(problems) > MAX_WEIGHT_ERRORS:
            rest = len(problems) - MAX_WEIGHT_ERRORS
            last = problems[MAX_WEIGHT_ERRORS - 1]
            more = (*last.notes, f"and {rest} more problems with `{name}` not shown")
            problems = [*problems[: MAX_WEIGHT_ERRORS - 1], replace(last, notes=more)]
        raise ResdslError(problems)
    return arrays


# --- the view model -------------------------------------------------------------------------


@dataclass
class TensorView:
    """``float[N, 64, 56, 56] "layer1.0.conv1"``: a typed name, with values for a constant."""

    name: str
    dtype: str
    dims: list[str]
    values: list[str] | None = None


@dataclass
class NodeView:
    name: str
    op_type: str
    inputs: list[str]
    output: str
    attrs: list[str]


@dataclass
class GroupView:
    """The nodes of one block, or of a run of the network's own layers, under one comment."""

    comment: str
    nodes: list[NodeView] = field(default_factory=list)


@dataclass
class Param:
    """A weight of the graph and where its value comes from."""

    name: str
    shape: Shape
    key: str  # the state_dict entry it is, or (folded) the conv it starts from
    fold_bn: str | None = None  # the BatchNorm folded into it
    part: str = "weight"  # of a folded conv: "weight" or "bias"


@dataclass
class ModelView:
    ir_version: int
    opset: int
    producer_version: str
    doc: str
    metadata: list[tuple[str, str]]
    header: list[str]
    graph_name: str
    inputs: list[TensorView]
    outputs: list[TensorView]
    values: list[TensorView]
    constants: list[TensorView]
    groups: list[GroupView]
    params: list[Param]


def _literal(text: str) -> str:
    """A string literal of the ONNX text syntax."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _ints(values: Iterable[int]) -> str:
    return "[" + ", ".join(str(int(v)) for v in values) + "]"


class _Builder:
    """Walks the IR in forward order and collects nodes, weights, constants and shapes."""

    def __init__(self, network: Network, options: EmitOptions) -> None:
        self.fold = options.fold_bn
        self.batch = "N" if options.batch == "dynamic" else str(int(options.batch))
        self.taken: set[str] = {INPUT, OUTPUT}
        for w in expected_weights(network):
            self.taken |= {w.key, w.op.name}
        self.taken |= {op.name for op in network.ops() if op.name}
        self.groups: list[GroupView] = []
        self.params: list[Param] = []
        self.values: list[TensorView] = []
        self.constants: dict[tuple[str, tuple[int, ...]], TensorView] = {}

    # names ---------------------------------------------------------------------------------

    def fresh(self, base: str) -> str:
        """An unused name: ``base``, else ``base_1``, ``base_2``, ..."""
        name, n = base, 1
        while name in self.taken:
            name, n = f"{base}_{n}", n + 1
        self.taken.add(name)
        return name

    def node_name(self, op: Op, scope: str) -> str:
        if op.name and op.name not in (INPUT, OUTPUT):  # a layer named `logits` is not the output
            return op.name
        if op.name:
            return self.fresh(op.name)
        return self.fresh(f"{scope}.{op.kind}" if scope else op.kind)

    def constant(self, base: str, values: tuple[int, ...]) -> str:
        """An int64 initializer written with its values; equal constants are shared."""
        key = (base, values)
        if key not in self.constants:
            name = self.fresh(f"const.{base}")
            self.constants[key] = TensorView(name, "int64", [str(len(values))], [str(v) for v in values])
        return self.constants[key].name

    # nodes ----------------------------------------------------------------------------------

    def node(
        self, name: str, op_type: str, inputs: list[str], shape: Shape | None, attrs: list[str] | None = None
    ) -> str:
        assert shape is not None
        self.groups[-1].nodes.append(NodeView(name, op_type, inputs, name, attrs or []))
        self.values.append(TensorView(name, "float", [self.batch, *(str(d) for d in shape)]))
        return name

    def param(self, key: str, shape: Shape, fold_bn: str | None = None, part: str = "weight") -> str:
        """A graph weight: the state_dict entry ``key``; or, with ``fold_bn`` (a BN's key), the
        ``part`` ("weight" or "bias") of conv ``key`` with that BN folded in."""
        name = f"{key}.{part}" if fold_bn is not None else key
        self.params.append(Param(name, shape, key, fold_bn, part))
        return name

    def layer(self, op: Op, src: str, scope: str, bn: Op | None = None) -> str:
        """One layer applied to ``src`` (with ``bn`` folded into it, for a conv); returns its output."""
        name = self.node_name(op, scope)
        key = state_key(op.name) if op.name else ""
        a = op.attrs
        if op.kind == "conv":
            shapes = dict(weight_shapes(op))
            kh, kw = _pair(a["kernel"].value)
            sh, sw = _pair(a["stride"].value)
            ph, pw = _pair(a["padding"].value)
            dh, dw = _pair(a["dilation"].value)
            groups = int(a["groups"].value)  # type: ignore[call-overload]
            attrs = [f"kernel_shape = {_ints((kh, kw))}", f"strides = {_ints((sh, sw))}"]
            attrs.append(f"pads = {_ints((ph, pw, ph, pw))}")
            if (dh, dw) != (1, 1):
                attrs.append(f"dilations = {_ints((dh, dw))}")
            if groups != 1:
                attrs.append(f"group = {groups}")
            if bn is not None:
                inputs = [
                    src,
                    self.param(key, shapes["weight"], state_key(bn.name), "weight"),
                    self.param(key, (shapes["weight"][0],), state_key(bn.name), "bias"),
                ]
                return self.node(name, "Conv", inputs, bn.out_shape, attrs)
            inputs = [src, self.param(f"{key}.weight", shapes["weight"])]
            if "bias" in shapes:
                inputs.append(self.param(f"{key}.bias", shapes["bias"]))
            return self.node(name, "Conv", inputs, op.out_shape, attrs)
        if op.kind == "batchnorm":
            inputs = [src] + [self.param(f"{key}.{s}", shape) for s, shape in weight_shapes(op)]
            return self.node(name, "BatchNormalization", inputs, op.out_shape, [f"epsilon = {BN_EPS!r}"])
        if op.kind == "linear":
            inputs = [src] + [self.param(f"{key}.{s}", shape) for s, shape in weight_shapes(op)]
            return self.node(name, "Gemm", inputs, op.out_shape, ["transB = 1"])
        if op.kind == "relu":
            return self.node(name, "Relu", [src], op.out_shape)
        if op.kind in ("maxpool", "avgpool"):
            kh, kw = _pair(a["kernel"].value)
            sh, sw = _pair(a["stride"].value)
            ph, pw = _pair(a["padding"].value)
            attrs = [
                f"kernel_shape = {_ints((kh, kw))}",
                f"strides = {_ints((sh, sw))}",
                f"pads = {_ints((ph, pw, ph, pw))}",
            ]
            if a["ceil"].value:
                attrs.append("ceil_mode = 1")
            if op.kind == "avgpool" and (ph, pw) != (0, 0):
                attrs.append("count_include_pad = 1")  # nn.AvgPool2d's default
            op_type = "MaxPool" if op.kind == "maxpool" else "AveragePool"
            return self.node(name, op_type, [src], op.out_shape, attrs)
        if op.kind == "globalpool":
            return self.node(name, "GlobalAveragePool", [src], op.out_shape)
        if op.kind == "flatten":
            return self.node(name, "Flatten", [src], op.out_shape, ["axis = 1"])
        if op.kind in ("dropout", "identity", "branch"):
            return src  # dropout is the identity at inference
        raise AssertionError(f"no ONNX for layer kind {op.kind!r}")

    def run(self, ops: list[Op], src: str, scope: str, block: Block | None = None) -> str:
        """A sequence of layers; in a block, ``residual`` adds the block's shortcut."""
        block_in = branch_point = src
        i = 0
        while i < len(ops):
            op = ops[i]
            nxt = ops[i + 1] if i + 1 < len(ops) else None
            if op.kind == "residual":
                if block is not None and block.shortcut is not None:
                    sc = block.shortcut
                    reads = branch_point if sc.from_branch and not sc.is_identity else block_in
                    other = self.shortcut(block, sc, reads)
                    src = self.node(self.fresh(f"{scope}.add"), "Add", [src, other], op.out_shape)
            elif op.kind == "branch":
                branch_point = src
            elif self.fold and op.kind == "conv" and nxt is not None and nxt.kind == "batchnorm":
                src = self.layer(op, src, scope, bn=nxt)
                i += 1
            else:
                src = self.layer(op, src, scope)
            i += 1
        return src

    def shortcut(self, block: Block, sc: Shortcut, src: str) -> str:
        if sc.kind == "identity":
            return src
        if sc.kind == "pad":
            assert block.in_shape is not None and block.join is not None and block.join.in_shape
            (c, h, w), (c_out, h_out, w_out) = block.in_shape, block.join.in_shape
            steps = (-(-h // h_out), -(-w // w_out))
            if steps != (1, 1):
                inputs = [
                    src,
                    self.constant("slice_starts", (0, 0)),
                    self.constant(f"slice_ends_{h}x{w}", (h, w)),
                    self.constant("slice_axes", (2, 3)),
                    self.constant(f"slice_steps_{steps[0]}x{steps[1]}", steps),
                ]
                src = self.node(
                    self.fresh(f"{block.name}.shortcut.slice"), "Slice", inputs, (c, h_out, w_out)
                )
            if c_out != c:
                pads = self.constant(f"pad_channels_{c_out - c}", (0, 0, 0, 0, 0, c_out - c, 0, 0))
                src = self.node(
                    self.fresh(f"{block.name}.shortcut.pad"), "Pad", [src, pads], block.join.in_shape
                )
            return src
        return self.run(sc.ops, src, f"{block.name}.downsample")


def _where(span: Span) -> str:
    return f"{span.path}:{span.line}"


def _shape_text(batch: str, shape: Shape | None) -> str:
    return "[" + ", ".join([batch, *(str(d) for d in shape or ())]) + "]"


def _shortcut_text(block: Block) -> str:
    sc = block.shortcut
    if block.join is None:
        return "no residual join"
    if sc is None:
        return "no shortcut (policy none)"
    what = {
        "identity": "identity shortcut",
        "pad": "zero-padded strided identity (option A)",
        "projection": "projection shortcut",
        "pool_projection": "average pool + projection shortcut",
    }[sc.kind]
    if sc.from_branch and not sc.is_identity:
        what += " from the pre-activated input"
    return f"{what}, policy {sc.policy.value}"


def build_view(network: Network, options: EmitOptions) -> ModelView:
    b = _Builder(network, options)
    src = INPUT
    pending: list[Op] = []

    def flush() -> None:
        nonlocal src
        if not pending:
            return
        first = pending[0]
        where = (
            f"{first.origins[0].what} ({_where(first.origins[0].span)})"
            if first.origins
            else f"layers ({_where(first.span)})"
        )
        b.groups.append(GroupView(f"{where} -> {_shape_text(b.batch, pending[-1].out_shape)}"))
        src = b.run(pending, src, "")
        pending.clear()

    for item in network.items:
        if isinstance(item, Op):
            if pending and pending[-1].origins[:1] != item.origins[:1]:
                flush()
            pending.append(item)
            continue
        flush()
        assert isinstance(item, Stage)
        for block in item.blocks:
            b.groups.append(
                GroupView(
                    f"`{block.name}`: {block.block}, {_shortcut_text(block)} ({_where(block.span)})"
                    f" -> {_shape_text(b.batch, block.out_shape)}"
                )
            )
            src = b.run(block.ops, src, block.name, block)
    flush()

    # The last tensor becomes the graph output `logits`. The head pass proved the output is
    # [classes] and the input is [C, H, W], so some node (a flatten at least) produced it.
    assert src != INPUT
    for group in b.groups:
        for node in group.nodes:
            node.inputs = [OUTPUT if x == src else x for x in node.inputs]
            if node.output == src:
                node.output = OUTPUT
    b.values = [v for v in b.values if v.name != src]

    params = ", ".join(f"{k}={v}" for k, v in network.params.items())
    spec = options.spec_path or network.source_path
    weights = (
        f"state_dict {Path(options.weights).name}"
        if options.weights
        else f"seeded He init, seed {options.seed}"
    )
    out_shape = network.output_shape or ()
    opset = onnx.helper.make_opsetid("", options.opset)
    return ModelView(
        ir_version=onnx.helper.find_min_ir_version_for([opset]),
        opset=options.opset,
        producer_version=__version__,
        doc=_literal(f"`{network.name}` compiled by resdsl {__version__} from {spec}"),
        metadata=[
            (_literal(k), _literal(v))
            for k, v in [
                ("spec", spec),
                ("network", network.name),
                ("params", params),
                ("weights", weights),
                ("fold_bn", "true" if options.fold_bn else "false"),
            ]
        ],
        header=[
            f"Generated by resdsl {__version__} from {spec}; do not edit.",
            f"Network `{network.name}`" + (f" with {params}" if params else "") + f"; weights: {weights}.",
            f"Input `{INPUT}` {_shape_text(b.batch, network.input_shape)}, "
            f"output `{OUTPUT}` {_shape_text(b.batch, out_shape)}"
            + ("; BatchNorm folded into the convs." if options.fold_bn else "."),
        ],
        graph_name=_literal(network.name),
        inputs=[
            TensorView(INPUT, "float", [b.batch, *(str(d) for d in network.input_shape)]),
            *(TensorView(p.name, "float", [str(d) for d in p.shape]) for p in b.params),
        ],
        outputs=[TensorView(OUTPUT, "float", [b.batch, *(str(d) for d in out_shape)])],
        values=b.values,
        constants=list(b.constants.values()),
        groups=b.groups,
        params=b.params,
    )


def render_text(view: ModelView) -> str:
    return jinja_env("onnx").get_template("model.onnxtxt.j2").render(m=view)


def emit_text(network: Network, options: EmitOptions) -> str:
    """The model in ONNX's textual syntax, weights declared as inputs (what the golden test reads)."""
    return render_text(build_view(network, options))


# --- weights into the model ------------------------------------------------------------------


def _value(param: Param, state: Mapping[str, np.ndarray]) -> np.ndarray:
    if param.fold_bn is None:
        return state[param.key]
    bn = param.fold_bn
    gamma = state[f"{bn}.weight"].astype(np.float64)
    var = state[f"{bn}.running_var"].astype(np.float64)
    scale = gamma / np.sqrt(var + BN_EPS)
    if param.part == "weight":
        weight = state[f"{param.key}.weight"].astype(np.float64)
        return (weight * scale.reshape(-1, *[1] * (weight.ndim - 1))).astype(np.float32)
    bias = state.get(f"{param.key}.bias")
    conv_bias = bias.astype(np.float64) if bias is not None else 0.0
    mean = state[f"{bn}.running_mean"].astype(np.float64)
    beta = state[f"{bn}.bias"].astype(np.float64)
    return (beta + (conv_bias - mean) * scale).astype(np.float32)


def build_model(network: Network, options: EmitOptions) -> Any:
    """The checked ``onnx.ModelProto``."""
    view = build_view(network, options)
    if options.weights:
        state = check_weights(network, read_checkpoint(options.weights), options.weights)
    else:
        state = init_weights(network, options.seed)
    model = onnx.parser.parse_model(render_text(view))
    graph = model.graph
    weights = {p.name for p in view.params}
    keep = [x for x in graph.input if x.name not in weights]
    del graph.input[:]
    graph.input.extend(keep)
    graph.initializer.extend(
        onnx.numpy_helper.from_array(np.ascontiguousarray(_value(p, state), np.float32), p.name)
        for p in view.params
    )
    onnx.checker.check_model(model, full_check=True)
    return model


def emit(network: Network, options: EmitOptions) -> bytes:
    model = build_model(network, options)
    return model.SerializeToString(deterministic=True)
