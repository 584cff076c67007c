"""The front end from file to checked IR: load, the AST passes, lowering, the IR passes.

    text --parse--> AST --identifiers--> --names--> --arguments--> --lower--> IR --shapes--> --residuals--> --head--> IR

Each pass collects diagnostics; the pipeline stops after the first pass that reported an error.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from . import ast
from .diagnostics import Collector, Diagnostic, ResdslError
from .ir import Network
from .lower import lower
from .parser import parse_expression
from .passes.arguments import arguments
from .passes.head import head
from .passes.identifiers import identifiers
from .passes.names import names
from .passes.residuals import residuals
from .passes.shapes import shapes
from .program import Program, load_program
from .source import SourceFile, Span

AST_PASSES: tuple[Callable[[Program, Collector], None], ...] = (identifiers, names, arguments)
IR_PASSES: tuple[Callable[[Network, Collector], None], ...] = (shapes, residuals, head)

_INPUT_RE = re.compile(r"^\s*(\d{1,7})\s*[xX]\s*(\d{1,7})\s*[xX]\s*(\d{1,7})\s*$")


class UsageError(Exception):
    """A bad command-line value (exit code 2)."""


@dataclass
class Analysis:
    program: Program | None = None
    networks: list[Network] = field(default_factory=list)
    diagnostics: list[Diagnostic] = field(default_factory=list)
    sources: dict[str, SourceFile] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not any(d.is_error for d in self.diagnostics)

    @property
    def network(self) -> Network:
        return self.networks[0]


def parse_input(text: str) -> tuple[int, int, int]:
    match = _INPUT_RE.match(text)
    if not match:
        raise UsageError(f"--input must look like 3x224x224, got {text!r}")
    return tuple(int(g) for g in match.groups())  # type: ignore[return-value]


def parse_defines(defines: Sequence[str], sources: dict[str, SourceFile]) -> dict[str, tuple[ast.Expr, Span]]:
    result: dict[str, tuple[ast.Expr, Span]] = {}
    for item in defines:
        name, sep, value = item.partition("=")
        name = name.strip()
        if not sep or not name.isidentifier():
            raise UsageError(f"-D takes name=value, got {item!r}")
        path = f"<-D {name}>"
        sources[path] = SourceFile(path, value)
        expr = parse_expression(value, path)
        result[name] = (expr, Span(path, 1, 1, 1, max(2, len(value) + 1)))
    return result


def own_networks(program: Program) -> list[str]:
    """The networks defined in the main file itself, in source order."""
    return [d.name.name for d in program.main.definitions if not isinstance(d, ast.BlockDef)]


def _untainted_networks(program: Program, diagnostics: list[Diagnostic]) -> set[str]:
    """The networks that neither contain an error nor use, directly or not, a block or network
    that does: these are lowered and checked even when other definitions have errors, so that
    one run reports a file's independent mistakes together."""
    errors = [d.span for d in diagnostics if d.is_error]

    def has_error(definition: ast.Definition) -> bool:
        span = definition.span
        return any(e.path == span.path and span.line <= e.line <= span.end_line for e in errors)

    def uses(definition: ast.Definition) -> list[str]:
        if isinstance(definition, ast.NetworkAlias):
            return [definition.target.name]
        names = []
        for stmt in definition.body:
            if isinstance(stmt, ast.Layer):
                names.append(stmt.op.name)
            elif isinstance(stmt, (ast.Stem, ast.Head, ast.Stage)):
                names.append(stmt.call.name.name)
        return names

    from .primitives import lookup

    tainted: dict[str, bool] = {}

    def is_tainted(name: str, seen: frozenset[str]) -> bool:
        if name in tainted:
            return tainted[name]
        definition = program.definitions.get(name)
        if definition is None or name in seen:
            return True  # unknown (reported) or recursive (reported when lowered)
        bad = has_error(definition) or any(
            is_tainted(used, seen | {name}) for used in uses(definition) if lookup(used) is None
        )
        tainted[name] = bad
        return bad

    if not errors:
        return {n for n, d in program.definitions.items() if not isinstance(d, ast.BlockDef)}
    return {
        n
        for n, d in program.definitions.items()
        if not isinstance(d, ast.BlockDef) and not is_tainted(n, frozenset())
    }


def analyze(
    path: Path,
    *,
    text: str | None = None,
    network: str | None = None,
    defines: Sequence[str] = (),
    input: str | None = None,
    all_networks: bool = False,
    require_network: bool = True,
) -> Analysis:
    """Check one spec; build the chosen network (or, with ``all_networks``, each of its own)."""
    result = Analysis()
    diags = Collector()
    input_override = None
    if input is not None:
        input_override = (parse_input(input), Span("<--input>", 1, 1, 1, len(input) + 1))
        result.sources["<--input>"] = SourceFile("<--input>", input)
    try:
        overrides = parse_defines(defines, result.sources)
        program = load_program(path, text, result.sources)
    except ResdslError as err:
        result.diagnostics = err.diagnostics
        return result
    result.program = program
    result.sources.update(program.sources)
    for ast_pass in AST_PASSES:
        ast_pass(program, diags)  # each tolerates the others' errors: report them all
    buildable = _untainted_networks(program, diags.items)
    if diags.has_errors and not buildable:
        result.diagnostics = sorted(diags.items, key=Diagnostic.sort_key)
        return result
    candidates = own_networks(program)
    if network is not None:
        definition = program.definitions.get(network)
        if definition is None or isinstance(definition, ast.BlockDef):
            raise UsageError(
                f"no network `{network}` in {path}"
                + (f"; it defines {', '.join(candidates)}" if candidates else "")
            )
        chosen = [network]
    elif all_networks or len(candidates) == 1:
        chosen = candidates
    else:
        where = Span.point(program.main.path)
        if not candidates:
            if require_network:
                diags.error(
                    "E210",
                    f"`{program.main.path}` defines no network",
                    where,
                    help="a network is declared with `network name { ... }`",
                )
        else:
            first, second = (program.definitions[n].name.span for n in candidates[:2])
            diags.error(
                "E210",
                f"`{program.main.path}` defines {len(candidates)} networks: {', '.join(candidates)}",
                second,
                label="a second network",
                notes=(f"the first is `{candidates[0]}`, at {first}",),
                help="choose one with `--network NAME`",
            )
        chosen = []
    for name in chosen:
        if name not in buildable:
            continue  # its definition, or a block it uses, has errors reported above
        net_diags = Collector()
        net = lower(program, name, net_diags, overrides, input_override)
        if net is not None and not net_diags.has_errors:
            for ir_pass in IR_PASSES:
                ir_pass(net, net_diags)
                if net_diags.has_errors:
                    break
            if not net_diags.has_errors:
                result.networks.append(net)
        for d in net_diags.items:
            diags.add(d)
    result.diagnostics = sorted(diags.items, key=Diagnostic.sort_key)
    return result
