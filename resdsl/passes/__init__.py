"""The checker's passes, in the order they run.

Two run on the syntax tree (names, arguments); lowering then builds the IR, and three run on it
(shapes, residuals, head). Each collects every diagnostic it finds; the pipeline stops after a
pass that reported an error, so later passes never see garbage.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Iterator

from .. import ast

BUILTIN_NAMES = {"A", "B", "C", "D", "none", "identity", "classes"}


def did_you_mean(name: str, candidates: Iterable[str]) -> str | None:
    close = difflib.get_close_matches(name, sorted(set(candidates)), n=1, cutoff=0.6)
    return f"did you mean `{close[0]}`?" if close else None


def expr_names(expr: ast.Expr | None) -> Iterator[ast.Name]:
    """Every name an expression reads, in source order (iterative: no recursion limit)."""
    stack = [expr] if expr is not None else []
    while stack:
        e = stack.pop()
        if isinstance(e, ast.Name):
            yield e
        elif isinstance(e, ast.Unary):
            stack.append(e.operand)
        elif isinstance(e, ast.Binary):
            stack += [e.right, e.left]
        elif isinstance(e, ast.Cond):
            stack += [e.orelse, e.test, e.then]
        elif isinstance(e, ast.SizeExpr):
            stack += reversed(e.parts)


def stmt_exprs(stmt: ast.Stmt) -> Iterator[ast.Expr]:
    """The expressions a statement evaluates in its own scope."""
    if isinstance(stmt, ast.Let):
        yield stmt.value
    elif isinstance(stmt, ast.Layer):
        for e in (stmt.head, stmt.arrow):
            if e is not None:
                yield e
        for arg in stmt.args:
            yield arg.value
    elif isinstance(stmt, (ast.Input,)):
        yield stmt.dims
    elif isinstance(stmt, ast.Classes):
        yield stmt.value
    elif isinstance(stmt, ast.Shortcut):
        yield stmt.policy
    elif isinstance(stmt, (ast.Stem, ast.Head)):
        for arg in stmt.call.args:
            yield arg.value
    elif isinstance(stmt, ast.Stage):
        yield stmt.count
        for arg in stmt.call.args:
            yield arg.value
        for e in (stmt.stride, stmt.shortcut):
            if e is not None:
                yield e
