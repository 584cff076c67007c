"""Matching a call's arguments to the parameters of a block, network or primitive.

Used twice with the same rules: by the arguments pass (to report every mismatch before
lowering) and by lowering (to know which expression feeds which parameter).
"""

from __future__ import annotations

from dataclasses import dataclass

from . import ast
from .diagnostics import Collector
from .passes import did_you_mean
from .primitives import Primitive
from .source import Span


@dataclass(frozen=True)
class Formal:
    name: str
    required: bool


def block_formals(definition: ast.BlockDef | ast.NetworkDef) -> list[Formal]:
    return [Formal(p.name.name, p.default is None) for p in definition.params]


def primitive_formals(prim: Primitive) -> list[Formal]:
    return [Formal(a.name, a.required) for a in prim.attrs]


def primitive_positionals(prim: Primitive, stmt: ast.Layer) -> tuple[list[ast.Expr], list[ast.Arg]]:
    """A primitive's positional arguments in parameter order: the head, then the arrow."""
    if stmt.call_syntax:
        return [a.value for a in stmt.args if a.keyword is None], [
            a for a in stmt.args if a.keyword is not None
        ]
    return [], list(stmt.args)


def primitive_order(prim: Primitive) -> list[str]:
    return [a.name for a in (prim.role("head"), prim.role("arrow")) if a is not None]


def bind(
    what: str,
    formals: list[Formal],
    positional: list[ast.Expr],
    keywords: list[ast.Arg],
    span: Span,
    diags: Collector,
    supplied: frozenset[str] = frozenset(),
    order: list[str] | None = None,
) -> dict[str, ast.Expr]:
    """Bind arguments; report too many, unknown, repeated and missing ones.

    ``supplied`` names parameters given by context (a stage's ``stride``); ``order`` is the
    order positional arguments fill (all parameters, by default).
    """
    names = [f.name for f in formals]
    slots = order if order is not None else names
    bound: dict[str, ast.Expr] = {}
    if len(positional) > len(slots):
        extra = positional[len(slots)]
        diags.error(
            "E205",
            f"{what} takes {len(slots)} positional argument{'s' if len(slots) != 1 else ''}, "
            f"got {len(positional)}",
            extra.span,
        )
    for name, expr in zip(slots, positional, strict=False):
        bound[name] = expr
    for arg in keywords:
        assert arg.keyword is not None
        key = arg.keyword.name
        if key not in names:
            diags.error(
                "E205",
                f"{what} has no parameter `{key}`",
                arg.keyword.span,
                help=did_you_mean(key, names),
            )
            continue
        if key in bound or key in supplied:
            diags.error("E205", f"{what} got `{key}` twice", arg.keyword.span)
            continue
        bound[key] = arg.value
    for formal in formals:
        if formal.required and formal.name not in bound and formal.name not in supplied:
            diags.error("E205", f"{what} needs a value for `{formal.name}`", span)
    return bound
