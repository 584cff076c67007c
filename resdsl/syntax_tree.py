"""Lark's parse tree -> resdsl's typed syntax tree (``ast.py``), with a span on every node.

Imported only when a file must really be parsed: a file whose syntax tree is in the on-disk
cache (cache.py) needs neither this module nor lark.
"""

from __future__ import annotations

from lark import Token, Transformer, v_args

from . import ast
from .source import Span


def token_span(path: str, tok: Token) -> Span:
    line = tok.line or 1
    col = tok.column or 1
    end_line = tok.end_line or line
    end_col = tok.end_column or col + 1
    if end_line != line or end_col <= col:  # newline tokens: point at the line end
        end_line, end_col = line, col + 1
    return Span(path, line, col, end_line, end_col)


def _span(path: str, meta: object) -> Span:
    return Span(
        path,
        getattr(meta, "line", 1),
        getattr(meta, "column", 1),
        getattr(meta, "end_line", 1),
        getattr(meta, "end_column", 2),
    )


@v_args(meta=True, inline=True)
class Builder(Transformer):
    """Lark tree -> typed AST. Every grammar rule has a method here; a missing one is a bug."""

    def __init__(self, path: str) -> None:
        super().__init__()
        self.path = path

    def __default__(self, data, children, meta):  # type: ignore[no-untyped-def]
        raise NotImplementedError(f"no AST builder for grammar rule {data!r}")

    def _s(self, meta: object) -> Span:
        return _span(self.path, meta)

    def _ident(self, tok: Token) -> ast.Ident:
        return ast.Ident(str(tok), token_span(self.path, tok))

    # expressions
    def int(self, meta, tok):  # type: ignore[no-untyped-def]
        return ast.Int(self._s(meta), int(tok))

    def float(self, meta, tok):  # type: ignore[no-untyped-def]
        return ast.Float(self._s(meta), float(tok))

    def size(self, meta, tok):  # type: ignore[no-untyped-def]
        return ast.SizeLit(self._s(meta), tuple(int(p) for p in str(tok).split("x")))

    def string(self, meta, tok):  # type: ignore[no-untyped-def]
        return ast.Str(self._s(meta), str(tok)[1:-1])

    def name(self, meta, tok):  # type: ignore[no-untyped-def]
        return ast.Name(self._s(meta), str(tok))

    def true(self, meta):  # type: ignore[no-untyped-def]
        return ast.Bool(self._s(meta), True)

    def false(self, meta):  # type: ignore[no-untyped-def]
        return ast.Bool(self._s(meta), False)

    def neg(self, meta, operand):  # type: ignore[no-untyped-def]
        return ast.Unary(self._s(meta), "-", operand)

    def not_(self, meta, operand):  # type: ignore[no-untyped-def]
        return ast.Unary(self._s(meta), "not", operand)

    def binary(self, meta, left, op, right):  # type: ignore[no-untyped-def]
        return ast.Binary(self._s(meta), str(op), left, right)

    compare = binary

    def and_(self, meta, left, right):  # type: ignore[no-untyped-def]
        return ast.Binary(self._s(meta), "and", left, right)

    def or_(self, meta, left, right):  # type: ignore[no-untyped-def]
        return ast.Binary(self._s(meta), "or", left, right)

    def cond(self, meta, then, test, orelse):  # type: ignore[no-untyped-def]
        return ast.Cond(self._s(meta), then, test, orelse)

    def dims(self, meta, *parts):  # type: ignore[no-untyped-def]
        return parts[0] if len(parts) == 1 else ast.SizeExpr(self._s(meta), tuple(parts))

    head_arg = dims

    # arguments and parameters
    def kwarg(self, meta, name, value):  # type: ignore[no-untyped-def]
        return ast.Arg(self._ident(name), value, self._s(meta))

    def arg_list(self, meta, *items):  # type: ignore[no-untyped-def]
        args = []
        for item in items:
            if item is None:
                continue
            if isinstance(item, ast.Arg):
                args.append(item)
            else:
                args.append(ast.Arg(None, item, item.span))
        return tuple(args)

    def param(self, meta, name, default):  # type: ignore[no-untyped-def]
        return ast.Param(self._ident(name), default, self._s(meta))

    def param_list(self, meta, *params):  # type: ignore[no-untyped-def]
        return tuple(p for p in params if p is not None)

    def call(self, meta, name, args):  # type: ignore[no-untyped-def]
        return ast.Call(self._ident(name), args or (), self._s(meta))

    # statements
    def input_stmt(self, meta, dims):  # type: ignore[no-untyped-def]
        return ast.Input(self._s(meta), dims)

    def classes_stmt(self, meta, value):  # type: ignore[no-untyped-def]
        return ast.Classes(self._s(meta), value)

    def shortcut_stmt(self, meta, value):  # type: ignore[no-untyped-def]
        return ast.Shortcut(self._s(meta), value)

    def stem_stmt(self, meta, call):  # type: ignore[no-untyped-def]
        return ast.Stem(self._s(meta), call)

    def head_stmt(self, meta, call):  # type: ignore[no-untyped-def]
        return ast.Head(self._s(meta), call)

    def stage_stride(self, meta, value):  # type: ignore[no-untyped-def]
        return ("stride", value)

    def stage_shortcut(self, meta, value):  # type: ignore[no-untyped-def]
        return ("shortcut", value)

    def stage_stmt(self, meta, name, count, call, *opts):  # type: ignore[no-untyped-def]
        options = dict(opts)
        return ast.Stage(
            self._s(meta),
            self._ident(name),
            count,
            call,
            options.get("stride"),
            options.get("shortcut"),
        )

    def let_stmt(self, meta, name, value):  # type: ignore[no-untyped-def]
        return ast.Let(self._s(meta), self._ident(name), value)

    def layer_stmt(self, meta, label, op, head, arrow, *kwargs):  # type: ignore[no-untyped-def]
        return ast.Layer(
            self._s(meta),
            self._ident(label) if label is not None else None,
            self._ident(op),
            head,
            arrow,
            tuple(kwargs),
        )

    def call_stmt(self, meta, label, op, args):  # type: ignore[no-untyped-def]
        return ast.Layer(
            self._s(meta),
            self._ident(label) if label is not None else None,
            self._ident(op),
            None,
            None,
            args or (),
            call_syntax=True,
        )

    def body(self, meta, *stmts):  # type: ignore[no-untyped-def]
        return tuple(stmts)

    # definitions
    def import_stmt(self, meta, target):  # type: ignore[no-untyped-def]
        text = str(target)
        is_path = target.type == "STRING"
        return ast.Import(text[1:-1] if is_path else text, is_path, self._s(meta))

    def block_def(self, meta, name, params, body):  # type: ignore[no-untyped-def]
        return ast.BlockDef(self._ident(name), params or (), body, self._s(meta))

    def network_def(self, meta, name, params, body):  # type: ignore[no-untyped-def]
        return ast.NetworkDef(self._ident(name), params or (), body, self._s(meta))

    def network_alias(self, meta, name, target, args):  # type: ignore[no-untyped-def]
        return ast.NetworkAlias(self._ident(name), self._ident(target), args or (), self._s(meta))

    def start(self, meta, *items):  # type: ignore[no-untyped-def]
        imports = tuple(i for i in items if isinstance(i, ast.Import))
        defs = tuple(i for i in items if not isinstance(i, ast.Import))
        return ast.Module(self.path, imports, defs)
