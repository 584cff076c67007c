"""Lowering: syntax tree -> IR. Blocks are instantiated, repeats unrolled, names qualified.

Every expression is evaluated to a :class:`~resdsl.values.Val`: its value and the Python code
that computes it from the enclosing block's parameters. A block instantiated by a stage is
evaluated *symbolically* (its parameters read as code, e.g. ``width * 4``) so that the torch
backend can write the block once as a class; a block called inline (stem, head, or from inside
another block) has its parameters replaced by the caller's values.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from . import ast
from .binding import (
    bind,
    block_formals,
    primitive_formals,
    primitive_order,
    primitive_positionals,
)
from .diagnostics import Collector
from .ir import Block, Network, Op, Origin, Stage
from .primitives import MAX_CHANNELS, MAX_SPATIAL, Attr, Primitive, lookup
from .program import Program
from .source import Span
from .values import MAX_INT, PREC, Policy, Size, Val, py_ident, show, type_name

MAX_REPEAT = 10_000
MAX_OPS = 200_000
MAX_CALL_DEPTH = 32

_BUILTINS: dict[str, Val] = {p.value: Val.const(p) for p in Policy}


class _Abort(Exception):
    """Stops evaluating one statement after its error was reported."""


@dataclass
class Scope:
    vars: dict[str, Val]
    symbolic: bool  # parameters and lets read as code (a stage block's class body)
    lets: list[tuple[str, Val]] = field(default_factory=list)


@dataclass
class Context:
    """Where the statements being lowered end up, and how they got there."""

    prefix: str  # qualified-name prefix, "" at top level, "layer2.0." in a stage block
    origins: tuple[Origin, ...]
    in_stage_block: bool
    nested: bool  # inside an inline call
    ops: list[Op]
    labels: dict[str, Span]
    calls: tuple[str, ...]  # the block-call stack, for recursion
    channels: Val | None = None  # code of the current channel count (stage blocks only)
    auto: dict[str, int] = field(default_factory=dict)


class Lowerer:
    def __init__(self, program: Program, diags: Collector) -> None:
        self.program = program
        self.diags = diags
        self.classes: Val = Val.const(0)
        self.op_count = 0

    # --- expressions ------------------------------------------------------------------------

    def error(self, code: str, message: str, span: Span, ctx: Context | None = None, **kw: object) -> None:
        notes = tuple(kw.pop("notes", ()))  # type: ignore[arg-type]
        if ctx is not None:
            notes += tuple(f"in {o.what}, expanded from {o.span}" for o in ctx.origins)
        self.diags.error(code, message, span, notes=notes, **kw)

    def eval(self, expr: ast.Expr, scope: Scope, ctx: Context | None = None) -> Val:
        try:
            return self._eval(expr, scope, ctx)
        except RecursionError:
            self.error("E106", "expression nested too deeply", expr.span, ctx)
            raise _Abort from None

    def _check_int(self, value: object, span: Span, ctx: Context | None) -> None:
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_INT:
            self.error("E207", f"value {value} is out of range", span, ctx)
            raise _Abort

    def _eval(self, e: ast.Expr, scope: Scope, ctx: Context | None) -> Val:
        if isinstance(e, (ast.Int, ast.Float, ast.Bool, ast.Str)):
            self._check_int(e.value, e.span, ctx)
            if isinstance(e.value, float) and not math.isfinite(e.value):
                self.error("E207", "number is too large", e.span, ctx)
                raise _Abort
            return Val.const(e.value)
        if isinstance(e, ast.SizeLit):
            for part in e.parts:
                self._check_int(part, e.span, ctx)
            return Val.const(Size(e.parts))
        if isinstance(e, ast.Name):
            if e.name == "classes":
                return self.classes
            if e.name in scope.vars:
                return scope.vars[e.name]
            if e.name in _BUILTINS:
                return _BUILTINS[e.name]
            self.error("E201", f"unknown name `{e.name}`", e.span, ctx)
            raise _Abort
        if isinstance(e, ast.SizeExpr):
            parts = [self._eval(p, scope, ctx) for p in e.parts]
            for p, part in zip(parts, e.parts, strict=True):
                if type_name(p.value) != "int":
                    self.error(
                        "E206", f"a size is made of integers, not {type_name(p.value)}", part.span, ctx
                    )
                    raise _Abort
            return Val(
                Size(int(p.value) for p in parts),  # type: ignore[call-overload]
                "(" + ", ".join(p.code for p in parts) + ")",
                frozenset().union(*(p.free for p in parts)),
            )
        if isinstance(e, ast.Unary):
            v = self._eval(e.operand, scope, ctx)
            if e.op == "-":
                if type_name(v.value) not in ("int", "float"):
                    self._type_error(e, f"cannot negate {type_name(v.value)}", ctx)
                return Val(-v.value, f"-{v.wrapped(PREC['neg'])}", v.free, PREC["neg"])  # type: ignore[operator]
            if type_name(v.value) != "bool":
                self._type_error(e, f"`not` needs a bool, got {type_name(v.value)}", ctx)
            return Val(not v.value, f"not {v.wrapped(PREC['not'])}", v.free, PREC["not"])
        if isinstance(e, ast.Cond):
            test = self._eval(e.test, scope, ctx)
            if type_name(test.value) != "bool":
                self._type_error(e.test, f"a condition must be a bool, got {type_name(test.value)}", ctx)
            then = self._eval(e.then, scope, ctx)
            orelse = self._eval(e.orelse, scope, ctx)
            p = PREC["if"]
            code = f"{then.wrapped(p + 1)} if {test.wrapped(p + 1)} else {orelse.wrapped(p)}"
            return Val(
                then.value if test.value else orelse.value, code, then.free | test.free | orelse.free, p
            )
        if isinstance(e, ast.Binary):
            return self._binary(e, self._eval(e.left, scope, ctx), self._eval(e.right, scope, ctx), ctx)
        raise AssertionError(f"unknown expression {e!r}")

    def _type_error(self, e: ast.Expr, message: str, ctx: Context | None) -> None:
        self.error("E206", message, e.span, ctx)
        raise _Abort

    def _binary(self, e: ast.Binary, a: Val, b: Val, ctx: Context | None) -> Val:
        ta, tb = type_name(a.value), type_name(b.value)
        free = a.free | b.free
        op = e.op
        numeric = ("int", "float")
        if op in ("and", "or"):
            if ta != "bool" or tb != "bool":
                self._type_error(e, f"`{op}` needs bools, got {ta} and {tb}", ctx)
            p = PREC[op]
            value = (a.value and b.value) if op == "and" else (a.value or b.value)
            return Val(value, f"{a.wrapped(p)} {op} {b.wrapped(p + 1)}", free, p)
        if op in ("==", "!=", "<", ">", "<=", ">="):
            p = PREC["cmp"]
            code = f"{a.wrapped(p + 1)} {op} {b.wrapped(p + 1)}"
            if op in ("==", "!="):
                if ta != tb and not (ta in numeric and tb in numeric):
                    self._type_error(
                        e, f"cannot compare {ta} `{show(a.value)}` with {tb} `{show(b.value)}`", ctx
                    )
                same = a.value == b.value
                return Val(same if op == "==" else not same, code, free, p)
            if ta not in numeric or tb not in numeric:
                self._type_error(e, f"`{op}` compares numbers, got {ta} and {tb}", ctx)
            x, y = a.value, b.value
            result = {"<": x < y, ">": x > y, "<=": x <= y, ">=": x >= y}[op]  # type: ignore[operator]
            return Val(result, code, free, p)
        if ta not in numeric or tb not in numeric:
            self._type_error(e, f"`{op}` needs numbers, got {ta} and {tb}", ctx)
        x, y = a.value, b.value
        both_int = ta == "int" and tb == "int"
        p = PREC["+"] if op in "+-" else PREC["*"]
        pyop = op
        if op in ("/", "%") and y == 0:
            self.error("E215", "division by zero", e.span, ctx)
            raise _Abort
        if op == "+":
            value = x + y  # type: ignore[operator]
        elif op == "-":
            value = x - y  # type: ignore[operator]
        elif op == "*":
            value = x * y  # type: ignore[operator]
        elif op == "/":
            value = x // y if both_int else x / y  # type: ignore[operator]
            pyop = "//" if both_int else "/"
        else:
            if not both_int:
                self._type_error(e, "`%` needs integers", ctx)
            value = x % y  # type: ignore[operator]
        self._check_int(value, e.span, ctx)
        if isinstance(value, float) and not math.isfinite(value):
            self.error("E207", "number is too large", e.span, ctx)
            raise _Abort
        return Val(value, f"{a.wrapped(p)} {pyop} {b.wrapped(p + 1)}", free, p)

    # --- coercion to an attribute's type ----------------------------------------------------

    def coerce(self, val: Val, attr: Attr, what: str, span: Span, ctx: Context | None) -> Val:
        v = val.value
        t = type_name(v)
        ok = {
            "int": t == "int",
            "float": t in ("int", "float"),
            "bool": t == "bool",
            "policy": t == "shortcut policy",
            "size": t == "int" or (t == "size" and len(v) == 2),  # type: ignore[arg-type]
        }[attr.kind]
        if not ok:
            wanted = {
                "size": "a size such as `3x3` or an integer",
                "policy": "a shortcut policy (A, B, C, D, none or identity)",
            }.get(attr.kind, f"{'an' if attr.kind == 'int' else 'a'} {attr.kind}")
            self.error("E206", f"{what}: `{attr.name}` must be {wanted}, got {t} `{show(v)}`", span, ctx)
            raise _Abort
        if attr.kind == "float":
            val = Val(float(v), val.code, val.free, val.prec)  # type: ignore[arg-type]
        parts = list(v) if t == "size" else [v]  # type: ignore[arg-type]
        if attr.kind in ("int", "size", "float"):
            for part in parts:
                if not attr.lo <= part <= attr.hi:  # type: ignore[operator]
                    self.error(
                        "E207",
                        f"{what}: `{attr.name}` is {show(v)}, outside {show(attr.lo)}..{show(attr.hi)}",
                        span,
                        ctx,
                    )
                    raise _Abort
        return val

    # --- the network ------------------------------------------------------------------------

    def network(
        self,
        name: str,
        overrides: dict[str, tuple[ast.Expr, Span]],
        input_override: tuple[tuple[int, int, int], Span] | None,
    ) -> Network | None:
        definition = self.program.definitions[name]
        alias_args: list[tuple[ast.Arg, ...]] = []
        shown_name = name
        name_span = definition.name.span
        while isinstance(definition, ast.NetworkAlias):
            alias_args.append(definition.args)
            definition = self.program.definitions[definition.target.name]
        assert isinstance(definition, ast.NetworkDef)
        empty = Scope({}, symbolic=False)
        values: dict[str, Val] = {}
        # Later sources win: defaults, then the innermost alias's arguments outwards, then -D.
        for param in definition.params:
            if param.default is not None:
                values[param.name.name] = self._safe_eval(param.default, empty)
        for args in reversed(alias_args):
            positional = [a.value for a in args if a.keyword is None]
            keywords = [a for a in args if a.keyword is not None]
            bound = bind(
                f"network `{definition.name.name}`",
                block_formals(definition),
                positional,
                keywords,
                definition.span,
                Collector(),
            )
            for key, expr in bound.items():
                values[key] = self._safe_eval(expr, empty)
        formals = {p.name.name for p in definition.params}
        for key, (expr, span) in overrides.items():
            if key not in formals:
                from .passes import did_you_mean

                self.diags.error(
                    "E205",
                    f"network `{shown_name}` has no parameter `{key}`",
                    span,
                    help=did_you_mean(key, formals)
                    or (f"its parameters: {', '.join(sorted(formals))}" if formals else "it takes none"),
                )
                continue
            values[key] = self._safe_eval(expr, empty)
        for param in definition.params:
            if param.name.name not in values:
                self.diags.error(
                    "E205",
                    f"network `{shown_name}` needs a value for `{param.name.name}`",
                    param.span,
                    help=f"give one with `-D {param.name.name}=...`",
                )
        if self.diags.has_errors or any(v is None for v in values.values()):
            return None
        scope = Scope({k: Val.const(v.value) for k, v in values.items()}, symbolic=False)  # type: ignore[union-attr]

        body = definition.body
        input_stmt = next(s for s in body if isinstance(s, ast.Input))
        classes_stmt = next(s for s in body if isinstance(s, ast.Classes))
        shortcut_stmt = next((s for s in body if isinstance(s, ast.Shortcut)), None)
        try:
            classes = self.coerce(
                self.eval(classes_stmt.value, scope),
                Attr("classes", "int", lo=1, hi=MAX_CHANNELS),
                "`classes`",
                classes_stmt.value.span,
                None,
            )
            self.classes = Val(classes.value, "num_classes", frozenset({"classes"}))
        except _Abort:
            return None
        input_shape = self._input(input_stmt, scope, input_override)
        policy = Policy.B
        if shortcut_stmt is not None:
            got = self._safe_eval(shortcut_stmt.policy, scope)
            if got is None:
                return None
            try:
                policy = self.coerce(
                    got, Attr("policy", "policy"), "`shortcut`", shortcut_stmt.policy.span, None
                ).value  # type: ignore[assignment]
            except _Abort:
                return None
        if input_shape is None:
            return None

        items: list[Op | Stage] = []
        top = Context("", (), False, False, [], {}, ())
        for stmt in body:
            try:
                if isinstance(stmt, ast.Let):
                    scope.vars[stmt.name.name] = Val.const(self.eval(stmt.value, scope).value)
                elif isinstance(stmt, ast.Layer):
                    self._layer(stmt, scope, top)
                elif isinstance(stmt, (ast.Stem, ast.Head)):
                    call = stmt.call
                    word = "stem" if isinstance(stmt, ast.Stem) else "head"
                    self._inline(call.name, call.args, stmt.span, scope, top, f"{word} `{call.name.name}`")
                elif isinstance(stmt, ast.Stage):
                    first = top.labels.get(stmt.name.name)
                    if first is not None:  # e.g. a stage named like the stem's `relu`
                        self.error(
                            "E204",
                            f"stage `{stmt.name.name}` has the name of another layer of the network",
                            stmt.name.span,
                            notes=(f"first named at {first}",),
                            help="stage names become module names and must be unique in the network",
                        )
                        raise _Abort
                    top.labels[stmt.name.name] = stmt.name.span
                    items.extend(top.ops)
                    top.ops = []
                    stage = self._stage(stmt, scope, policy, top)
                    if stage is not None:
                        items.append(stage)
            except _Abort:
                continue
        items.extend(top.ops)
        if self.op_count > MAX_OPS:
            return None  # reported where the limit was crossed
        src = self.program.sources[definition.span.path]
        return Network(
            name=shown_name,
            span=name_span,
            params={k: v.value for k, v in scope.vars.items() if k in formals},
            input_shape=input_shape,
            input_span=input_override[1] if input_override else input_stmt.span,
            classes=int(classes.value),  # type: ignore[call-overload]
            classes_span=classes_stmt.span,
            policy=policy,
            policy_span=shortcut_stmt.span if shortcut_stmt and not alias_args else None,
            items=items,
            source_path=src.path,
            source_text=src.text,
        )

    def _safe_eval(self, expr: ast.Expr, scope: Scope) -> Val | None:
        try:
            return self.eval(expr, scope)
        except _Abort:
            return None

    def _input(
        self,
        stmt: ast.Input,
        scope: Scope,
        override: tuple[tuple[int, int, int], Span] | None,
    ) -> tuple[int, int, int] | None:
        if override is not None:
            dims, span = override
        else:
            got = self._safe_eval(stmt.dims, scope)
            if got is None:
                return None
            span = stmt.dims.span
            value = got.value
            if type_name(value) != "size" or len(value) != 3:  # type: ignore[arg-type]
                self.diags.error(
                    "E206",
                    f"`input` is channels x height x width, got {show(value)}",
                    span,
                    help="e.g. `input 3 x 224 x 224`",
                )
                return None
            dims = tuple(int(v) for v in value)  # type: ignore[assignment, union-attr]
        limits = (MAX_CHANNELS, MAX_SPATIAL, MAX_SPATIAL)
        for what, v, hi in zip(("channels", "height", "width"), dims, limits, strict=True):
            if not 1 <= v <= hi:
                self.diags.error("E207", f"input {what} is {v}, outside 1..{hi}", span)
                return None
        return dims  # type: ignore[return-value]

    # --- statements ---------------------------------------------------------------------------

    def _stage(self, stmt: ast.Stage, scope: Scope, policy: Policy, top: Context) -> Stage | None:
        count = self.coerce(
            self.eval(stmt.count, scope),
            Attr("count", "int", lo=1, hi=MAX_REPEAT),
            f"stage `{stmt.name.name}`",
            stmt.count.span,
            None,
        )
        stride = None
        if stmt.stride is not None:
            stride = self.coerce(
                self.eval(stmt.stride, scope),
                Attr("stride", "size", lo=1, hi=1024),
                "stage stride",
                stmt.stride.span,
                None,
            )
        if stmt.shortcut is not None:
            policy = self.coerce(
                self.eval(stmt.shortcut, scope),
                Attr("shortcut", "policy"),
                "stage shortcut",
                stmt.shortcut.span,
                None,
            ).value  # type: ignore[assignment]
        definition = self.program.definitions[stmt.call.name.name]
        assert isinstance(definition, ast.BlockDef)
        args = self._bind_args(
            definition, stmt.call.args, stmt.call.span, scope, None, supplied=stride is not None
        )
        empty = Scope({}, symbolic=False)
        defaults = {
            p.name.name: self.eval(p.default, empty).value for p in definition.params if p.default is not None
        }
        blocks = []
        for index in range(int(count.value)):  # type: ignore[call-overload]
            qual = f"{stmt.name.name}.{index}"
            bound = dict(args)
            if stride is not None:
                bound["stride"] = stride if index == 0 else Val.const(1)
            origin = Origin(stmt.span, f"block `{qual}`")
            ctx = Context(
                prefix=qual + ".",
                origins=(origin,),
                in_stage_block=True,
                nested=False,
                ops=[],
                labels={},
                calls=(definition.name.name,),
                channels=Val(0, "in_channels", frozenset({"in_channels"})),
            )
            bound = self._defaults(definition, bound, ctx)
            inner = Scope(
                {k: Val(v.value, py_ident(k), frozenset({k})) for k, v in bound.items()},
                symbolic=True,
            )
            try:
                self._body(definition, inner, ctx)
            except _Abort:
                if self.op_count > MAX_OPS:
                    raise
                continue
            blocks.append(
                Block(
                    name=qual,
                    block=definition.name.name,
                    args=bound,
                    lets=inner.lets,
                    ops=ctx.ops,
                    policy=policy,
                    span=stmt.span,
                    defaults=defaults,
                )
            )
        return Stage(stmt.name.name, stmt.span, blocks)

    def _bind_args(
        self,
        definition: ast.BlockDef,
        args: tuple[ast.Arg, ...],
        span: Span,
        scope: Scope,
        ctx: Context | None,
        supplied: bool = False,
    ) -> dict[str, Val]:
        positional = [a.value for a in args if a.keyword is None]
        keywords = [a for a in args if a.keyword is not None]
        exprs = bind(
            f"block `{definition.name.name}`",
            block_formals(definition),
            positional,
            keywords,
            span,
            self.diags if ctx is not None else Collector(),
            frozenset({"stride"}) if supplied else frozenset(),
        )
        return {k: self.eval(e, scope, ctx) for k, e in exprs.items()}

    def _defaults(self, definition: ast.BlockDef, bound: dict[str, Val], ctx: Context) -> dict[str, Val]:
        result: dict[str, Val] = {}
        empty = Scope({}, symbolic=False)
        for param in definition.params:
            name = param.name.name
            if name in bound:
                result[name] = bound[name]
            elif param.default is not None:
                result[name] = self.eval(param.default, empty, ctx)
            else:
                self.error(
                    "E205", f"block `{definition.name.name}` needs a value for `{name}`", param.span, ctx
                )
                raise _Abort
        return result

    def _body(self, definition: ast.BlockDef, scope: Scope, ctx: Context) -> None:
        failed = False
        for stmt in definition.body:
            try:
                if isinstance(stmt, ast.Let):
                    val = self.eval(stmt.value, scope, ctx)
                    if scope.symbolic:
                        name = stmt.name.name
                        scope.lets.append((name, val))
                        scope.vars[name] = Val(val.value, py_ident(name), frozenset({name}))
                    else:
                        scope.vars[stmt.name.name] = val
                elif isinstance(stmt, ast.Layer):
                    self._layer(stmt, scope, ctx)
            except _Abort:
                failed = True
        if failed:
            raise _Abort

    def _inline(
        self,
        name: ast.Ident,
        args: tuple[ast.Arg, ...],
        span: Span,
        scope: Scope,
        ctx: Context,
        what: str,
    ) -> None:
        definition = self.program.definitions[name.name]
        assert isinstance(definition, ast.BlockDef)
        if self.op_count > MAX_OPS:
            raise _Abort
        if name.name in ctx.calls:
            chain = " -> ".join([*ctx.calls, name.name])
            self.error("E214", f"block `{name.name}` calls itself: {chain}", span, ctx)
            raise _Abort
        if len(ctx.calls) >= MAX_CALL_DEPTH:
            self.error("E106", f"block calls nested more than {MAX_CALL_DEPTH} deep", span, ctx)
            raise _Abort
        bound = self._bind_args(definition, args, span, scope, ctx)
        inner_ctx = Context(
            prefix=ctx.prefix,
            origins=(*ctx.origins, Origin(span, what)),
            in_stage_block=ctx.in_stage_block,
            nested=True,
            ops=ctx.ops,
            labels=ctx.labels,
            calls=(*ctx.calls, name.name),
            channels=ctx.channels,
            auto=ctx.auto,
        )
        bound = self._defaults(definition, bound, inner_ctx)
        self._body(definition, Scope(dict(bound), symbolic=False), inner_ctx)
        ctx.channels = inner_ctx.channels

    def _layer(self, stmt: ast.Layer, scope: Scope, ctx: Context) -> None:
        prim = lookup(stmt.op.name)
        if prim is None:
            if stmt.label is not None:
                self.error(
                    "E211",
                    f"a block call takes no name: the layers of `{stmt.op.name}` keep their own",
                    stmt.label.span,
                    ctx,
                    help="to give a block its own module name, make it a stage: `stage name: 1 x block(...)`",
                )
                raise _Abort
            self._inline(stmt.op, stmt.args, stmt.span, scope, ctx, f"call of `{stmt.op.name}`")
            return
        attrs = self._primitive_attrs(prim, stmt, scope, ctx)
        if prim.name in ("residual", "branch"):
            self._check_join(prim, stmt, ctx)
        local = stmt.label.name if stmt.label is not None else ""
        if not local and prim.has_weights:
            n = ctx.auto.get(prim.name, 0) + 1
            ctx.auto[prim.name] = n
            local = f"{prim.name}_{n}"
        if local:
            first = ctx.labels.get(local)
            if first is not None:
                self.error(
                    "E204",
                    f"two layers are named `{local}` in `{ctx.prefix.rstrip('.') or 'the network'}`",
                    (stmt.label or stmt.op).span,
                    ctx,
                    notes=(f"first named at {first}",),
                    help="layer names become module names and must be unique within their block",
                )
                raise _Abort
            ctx.labels[local] = (stmt.label or stmt.op).span
        op = Op(
            kind=prim.name,
            local=local,
            name=ctx.prefix + local if local else "",
            attrs=attrs,
            span=stmt.span,
            origins=ctx.origins,
            channels=ctx.channels,
        )
        if prim.name in ("conv", "linear"):
            ctx.channels = attrs["out"]
        elif prim.name == "flatten":
            ctx.channels = None
        self._count(stmt, ctx)
        ctx.ops.append(op)

    def _count(self, stmt: ast.Layer, ctx: Context) -> None:
        """Count every layer made (inline calls multiply them); stop past MAX_OPS."""
        self.op_count += 1
        if self.op_count > MAX_OPS:
            if self.op_count == MAX_OPS + 1:
                where = ctx.origins[0].span if ctx.origins else stmt.span
                self.diags.error("E216", f"network has more than {MAX_OPS:,} layers", where)
            raise _Abort

    def _check_join(self, prim: Primitive, stmt: ast.Layer, ctx: Context) -> None:
        if not ctx.in_stage_block or ctx.nested:
            where = "a block called inline" if ctx.nested else "a network's own layers"
            self.error(
                "E213",
                f"`{prim.name}` belongs in a block used by a stage, not in {where}",
                stmt.span,
                ctx,
                help="a residual join adds the input of the stage block it is written in",
            )
            raise _Abort
        if any(op.kind == "residual" for op in ctx.ops):
            self.error(
                "E213", f"a block has at most one `residual`; found another `{prim.name}`", stmt.span, ctx
            )
            raise _Abort
        if prim.name == "branch" and any(op.kind == "branch" for op in ctx.ops):
            self.error("E213", "a block has at most one `branch`", stmt.span, ctx)
            raise _Abort

    def _primitive_attrs(
        self, prim: Primitive, stmt: ast.Layer, scope: Scope, ctx: Context
    ) -> dict[str, Val]:
        positional, keywords = primitive_positionals(prim, stmt)
        if not stmt.call_syntax:
            positional = [e for e in (stmt.head, stmt.arrow) if e is not None]
        exprs = bind(
            f"`{stmt.op.name}`",
            primitive_formals(prim),
            positional,
            keywords,
            stmt.span,
            Collector(),  # arity was reported by the arguments pass
            order=primitive_order(prim),
        )
        attrs: dict[str, Val] = {}
        what = f"`{stmt.op.name}`"
        for attr in prim.attrs:
            expr = exprs.get(attr.name)
            if expr is not None:
                attrs[attr.name] = self.coerce(self.eval(expr, scope, ctx), attr, what, expr.span, ctx)
        for attr in prim.attrs:
            if attr.name in attrs:
                continue
            if callable(attr.default):
                attrs[attr.name] = attr.default(attrs)
            elif attr.default is not None:
                attrs[attr.name] = attr.default  # type: ignore[assignment]
        return attrs


def lower(
    program: Program,
    network: str,
    diags: Collector,
    overrides: dict[str, tuple[ast.Expr, Span]] | None = None,
    input_override: tuple[tuple[int, int, int], Span] | None = None,
) -> Network | None:
    return Lowerer(program, diags).network(network, overrides or {}, input_override)
