"""Pass 0, identifiers: every name a spec defines can safely become a Python or ONNX name.

The grammar already limits identifiers to ASCII letters, digits and `_`. This pass adds what a
grammar cannot say well: no name is absurdly long, none starts with `__` (Python mangles such
attributes inside classes), and `downsample` is left to the shortcut of residual blocks.
"""

from __future__ import annotations

from collections.abc import Iterator

from .. import ast
from ..diagnostics import Collector
from ..program import Program

MAX_NAME = 64


def defined_names(definition: ast.Definition) -> Iterator[ast.Ident]:
    """Every identifier a definition introduces: its name, parameters, lets and layer names."""
    yield definition.name
    if isinstance(definition, ast.NetworkAlias):
        return
    for param in definition.params:
        yield param.name
    for stmt in definition.body:
        if isinstance(stmt, ast.Let):
            yield stmt.name
        elif isinstance(stmt, ast.Layer) and stmt.label is not None:
            yield stmt.label
        elif isinstance(stmt, ast.Stage):
            yield stmt.name


def identifiers(program: Program, diags: Collector) -> None:
    for definition in program.definitions.values():
        has_join = isinstance(definition, ast.BlockDef) and any(
            isinstance(s, ast.Layer) and s.op.name == "residual" for s in definition.body
        )
        for ident in defined_names(definition):
            name = ident.name
            if len(name) > MAX_NAME:
                diags.error(
                    "E207", f"name is {len(name)} characters long; the limit is {MAX_NAME}", ident.span
                )
            elif name.startswith("__"):
                diags.error(
                    "E207",
                    f"`{name}`: names starting with `__` are reserved",
                    ident.span,
                    help="Python would mangle such a name inside a generated class",
                )
            elif has_join and name == "downsample":
                diags.error(
                    "E204",
                    "`downsample` is the name of the shortcut in a residual block",
                    ident.span,
                    help="rename this layer; projection shortcuts are named downsample.0, downsample.1",
                )
