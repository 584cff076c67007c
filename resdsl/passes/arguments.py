"""Pass 2, arguments: every call gives each parameter exactly one value, and no unknown ones."""

from __future__ import annotations

from .. import ast
from ..binding import (
    bind,
    block_formals,
    primitive_formals,
    primitive_order,
    primitive_positionals,
)
from ..diagnostics import Collector
from ..primitives import lookup
from ..program import Program


def arguments(program: Program, diags: Collector) -> None:
    for definition in program.definitions.values():
        if isinstance(definition, ast.NetworkAlias):
            target = program.definitions.get(definition.target.name)
            if isinstance(target, ast.NetworkDef):
                _call(program, definition.target, definition.args, definition.span, diags, network=True)
            continue
        for stmt in definition.body:
            if isinstance(stmt, ast.Layer):
                _layer(program, stmt, diags)
            elif isinstance(stmt, (ast.Stem, ast.Head)):
                _call(program, stmt.call.name, stmt.call.args, stmt.call.span, diags)
            elif isinstance(stmt, ast.Stage):
                _stage(program, stmt, diags)


def _layer(program: Program, stmt: ast.Layer, diags: Collector) -> None:
    prim = lookup(stmt.op.name)
    if prim is None:
        if stmt.head is not None or stmt.arrow is not None:
            diags.error(
                "E205",
                f"block `{stmt.op.name}` takes its arguments in parentheses",
                stmt.span,
                help=f"write `{stmt.op.name}(...)`",
            )
            return
        _call(program, stmt.op, stmt.args, stmt.span, diags)
        return
    what = f"`{stmt.op.name}`"
    positional, keywords = primitive_positionals(prim, stmt)
    head_attr, arrow_attr = prim.role("head"), prim.role("arrow")
    if stmt.head is not None:
        if head_attr is None:
            diags.error("E205", f"{what} takes no size or value before `->`", stmt.head.span)
        else:
            positional = [stmt.head]
    if stmt.arrow is not None:
        if arrow_attr is None:
            diags.error("E205", f"{what} has no output size (`->`)", stmt.arrow.span)
        elif stmt.head is None and head_attr is not None and head_attr.required:
            diags.error("E205", f"{what} needs its {head_attr.name} before `->`", stmt.op.span)
            return
        else:
            positional = [*positional, stmt.arrow]
    if not stmt.call_syntax and arrow_attr is not None and stmt.arrow is None and head_attr is None:
        diags.error("E205", f"{what} needs `-> size`", stmt.span, help=f"e.g. `{stmt.op.name} -> 10`")
        return
    if not stmt.call_syntax and head_attr is not None and head_attr.required and stmt.head is None:
        example = {"conv": "conv 3x3 -> 64", "maxpool": "maxpool 3x3, stride = 2"}.get(prim.name, "")
        diags.error(
            "E205",
            f"{what} needs a {head_attr.name}",
            stmt.span,
            help=f"e.g. `{example}`" if example else None,
        )
        return
    if not stmt.call_syntax and arrow_attr is not None and arrow_attr.required and stmt.arrow is None:
        diags.error("E205", f"{what} needs its output size after `->`", stmt.span)
        return
    bind(what, primitive_formals(prim), positional, keywords, stmt.span, diags, order=primitive_order(prim))


def _call(
    program: Program,
    name: ast.Ident,
    args: tuple[ast.Arg, ...],
    span: object,
    diags: Collector,
    supplied: frozenset[str] = frozenset(),
    network: bool = False,
) -> None:
    definition = program.definitions.get(name.name)
    if not isinstance(definition, (ast.BlockDef, ast.NetworkDef)):
        return  # reported by the names pass
    kind = "network" if network else "block"
    positional = [a.value for a in args if a.keyword is None]
    keywords = [a for a in args if a.keyword is not None]
    bind(f"{kind} `{name.name}`", block_formals(definition), positional, keywords, span, diags, supplied)  # type: ignore[arg-type]


def _stage(program: Program, stmt: ast.Stage, diags: Collector) -> None:
    definition = program.definitions.get(stmt.call.name.name)
    supplied: frozenset[str] = frozenset()
    if isinstance(definition, ast.BlockDef) and stmt.stride is not None:
        if "stride" not in {p.name.name for p in definition.params}:
            diags.error(
                "E205",
                f"block `{definition.name.name}` has no `stride` parameter for the stage stride",
                stmt.stride.span,
                help="add `stride = 1` to the block's parameters and use it in a conv",
            )
        supplied = frozenset({"stride"})
    _call(program, stmt.call.name, stmt.call.args, stmt.call.span, diags, supplied)
