"""Pass 1, names: every name used is defined, and none is defined twice."""

from __future__ import annotations

from .. import ast
from ..diagnostics import Collector
from ..primitives import PRIMITIVES, lookup
from ..program import Program
from . import BUILTIN_NAMES, did_you_mean, expr_names, stmt_exprs

NETWORK_ONLY = (ast.Input, ast.Classes, ast.Shortcut, ast.Stem, ast.Head, ast.Stage)
_STATEMENT_WORD = {
    ast.Input: "input",
    ast.Classes: "classes",
    ast.Shortcut: "shortcut",
    ast.Stem: "stem",
    ast.Head: "head",
    ast.Stage: "stage",
}


def names(program: Program, diags: Collector) -> None:
    blocks = {n for n, d in program.definitions.items() if isinstance(d, ast.BlockDef)}
    for definition in program.definitions.values():
        if isinstance(definition, ast.NetworkAlias):
            _check_alias(program, definition, diags)
        else:
            _check_body(program, definition, blocks, diags)


def _check_alias(program: Program, alias: ast.NetworkAlias, diags: Collector) -> None:
    seen = {alias.name.name}
    target: ast.Definition | None = alias
    while isinstance(target, ast.NetworkAlias):
        name = target.target
        nxt = program.definitions.get(name.name)
        if nxt is None:
            networks = [n for n, d in program.definitions.items() if not isinstance(d, ast.BlockDef)]
            diags.error(
                "E202",
                f"unknown network `{name.name}`",
                name.span,
                help=did_you_mean(name.name, networks),
            )
            return
        if isinstance(nxt, ast.BlockDef):
            diags.error("E202", f"`{name.name}` is a block, not a network", name.span)
            return
        if nxt.name.name in seen:
            diags.error("E214", f"network `{alias.name.name}` is defined in terms of itself", name.span)
            return
        seen.add(nxt.name.name)
        target = nxt


def _check_body(
    program: Program, definition: ast.BlockDef | ast.NetworkDef, blocks: set[str], diags: Collector
) -> None:
    is_network = isinstance(definition, ast.NetworkDef)
    first_new = len(diags.items)
    scope: dict[str, ast.Ident] = {}
    for param in definition.params:
        _bind(scope, param.name, diags)
        for name in expr_names(param.default):
            if name.name in BUILTIN_NAMES and name.name != "classes":
                continue
            diags.error(
                "E201",
                f"a default value cannot read `{name.name}`",
                name.span,
                help="defaults are constants; compute derived values with `let` in the body",
            )
    labels: dict[str, ast.Ident] = {}
    known_calls = sorted(set(PRIMITIVES) | blocks)

    def check_call(ident: ast.Ident, as_layer: bool) -> None:
        name = ident.name
        if as_layer and lookup(name) is not None:
            return
        definition_ = program.definitions.get(name)
        if isinstance(definition_, ast.BlockDef):
            return
        if definition_ is not None:
            diags.error("E202", f"`{name}` is a network, not a block", ident.span)
            return
        what = "layer or block" if as_layer else "block"
        diags.error(
            "E202",
            f"unknown {what} `{name}`",
            ident.span,
            help=did_you_mean(name, known_calls if as_layer else blocks),
        )

    for stmt in definition.body:
        if not is_network and isinstance(stmt, NETWORK_ONLY):
            word = _STATEMENT_WORD[type(stmt)]
            diags.error(
                "E211",
                f"`{word}` belongs in a network, not in block `{definition.name.name}`",
                stmt.span,
            )
            continue
        for expr in stmt_exprs(stmt):
            for name in expr_names(expr):
                if name.name not in scope and name.name not in BUILTIN_NAMES:
                    diags.error(
                        "E201",
                        f"unknown name `{name.name}`",
                        name.span,
                        help=did_you_mean(name.name, [*scope, *BUILTIN_NAMES]),
                    )
        if isinstance(stmt, ast.Let):
            _bind(scope, stmt.name, diags)
        elif isinstance(stmt, ast.Layer):
            check_call(stmt.op, as_layer=True)
            if stmt.label is not None:
                _label(labels, stmt.label, diags)
        elif isinstance(stmt, (ast.Stem, ast.Head)):
            check_call(stmt.call.name, as_layer=False)
        elif isinstance(stmt, ast.Stage):
            check_call(stmt.call.name, as_layer=False)
            _label(labels, stmt.name, diags)
    unknown = any(d.code == "E201" for d in diags.items[first_new:])
    if definition.span.path == program.main.path and not unknown:
        _unused_params(definition, diags)  # after a misspelt name, "unused" is only noise
    if is_network:
        for kind, word in ((ast.Input, "input"), (ast.Classes, "classes")):
            found = [s for s in definition.body if isinstance(s, kind)]
            if not found:
                example = "input 3 x 224 x 224" if word == "input" else "classes 1000"
                diags.error(
                    "E212",
                    f"network `{definition.name.name}` has no `{word}` statement",
                    definition.name.span,
                    help=f"add a line such as `{example}`",
                )
            for extra in found[1:]:
                diags.error("E203", f"`{word}` is given twice", extra.span)


def _bind(scope: dict[str, ast.Ident], ident: ast.Ident, diags: Collector) -> None:
    if ident.name in BUILTIN_NAMES:
        diags.error("E203", f"`{ident.name}` is a built-in name and cannot be redefined", ident.span)
        return
    first = scope.get(ident.name)
    if first is not None:
        diags.error(
            "E203",
            f"`{ident.name}` is defined twice",
            ident.span,
            notes=(f"first defined at {first.span}",),
        )
        return
    scope[ident.name] = ident


def _label(labels: dict[str, ast.Ident], ident: ast.Ident, diags: Collector) -> None:
    first = labels.get(ident.name)
    if first is not None:
        diags.error(
            "E204",
            f"two layers are named `{ident.name}`",
            ident.span,
            notes=(f"first named at {first.span}",),
            help="layer names become module names and must be unique within their block",
        )
        return
    labels[ident.name] = ident


def _unused_params(definition: ast.BlockDef | ast.NetworkDef, diags: Collector) -> None:
    """W201 for a parameter the body never reads (names starting with `_` are exempt).

    Only the main file's definitions are checked, so that a library's warnings are reported
    once, when the library itself is checked, and not in every file that imports it.
    """
    used = {name.name for stmt in definition.body for e in stmt_exprs(stmt) for name in expr_names(e)}
    kind = "network" if isinstance(definition, ast.NetworkDef) else "block"
    for param in definition.params:
        name = param.name.name
        if name in used or name.startswith("_"):
            continue
        diags.warning(
            "W201",
            f"parameter `{name}` of {kind} `{definition.name.name}` is never used",
            param.name.span,
            help=f"remove it, or use it in the body (a name starting with `_`, like `_{name}`, is exempt)",
        )
