"""Pass 3, shapes: every layer's input and output shape, parameters and multiply-adds."""

from __future__ import annotations

from ..diagnostics import Collector
from ..ir import Network, Op, Stage
from ..primitives import PRIMITIVES, ShapeProblem

Shape = tuple[int, ...]


def infer_op(op: Op, shape: Shape) -> Shape:
    """Fill in one op's shapes and counts; raises ShapeProblem."""
    prim = PRIMITIVES[op.kind]
    values = {k: v.value for k, v in op.attrs.items()}
    result = prim.infer(values, shape)
    op.in_shape, op.out_shape = shape, result.shape
    op.params, op.macs = result.params, result.macs
    return result.shape


def shapes(network: Network, diags: Collector) -> None:
    shape: Shape = network.input_shape
    for item in network.items:
        if isinstance(item, Op):
            next_shape = _apply(item, shape, diags)
        else:
            next_shape = _stage(item, shape, diags)
        if next_shape is None:
            return  # later shapes are unknown; the first failure is the one to fix
        shape = next_shape
    network.output_shape = shape


def _stage(stage: Stage, shape: Shape, diags: Collector) -> Shape | None:
    for block in stage.blocks:
        block.in_shape = shape
        for op in block.ops:
            got = _apply(op, shape, diags)
            if got is None:
                return None
            shape = got
        block.out_shape = shape
    return shape


def _apply(op: Op, shape: Shape, diags: Collector) -> Shape | None:
    try:
        return infer_op(op, shape)
    except ShapeProblem as problem:
        notes = [f"in {o.what}, expanded from {o.span}" for o in op.origins]
        notes.insert(0, f"its input is {list(shape)}")
        diags.error(
            problem.code,
            problem.message,
            op.span,
            label=f"`{op.name or op.kind}`",
            notes=tuple(notes),
            help=problem.help,
        )
        return None
