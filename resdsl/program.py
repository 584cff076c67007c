"""Reading a spec and everything it imports into one program.

``import std`` reads ``std.res`` from the shipped spec library; ``import "path.res"`` reads a
file relative to the importing one. Every definition of every file loaded lands in one
namespace; a name defined twice is an error, and so is an import cycle.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from . import ast
from .diagnostics import Collector, Diagnostic, ResdslError
from .parser import parse
from .resources import stdlib_dir
from .source import SourceFile, Span, display_path

MAX_FILE_BYTES = 1 << 20  # 1 MiB: a spec is a page; this bounds parse time


@dataclass
class Program:
    main: ast.Module
    modules: dict[str, ast.Module] = field(default_factory=dict)
    sources: dict[str, SourceFile] = field(default_factory=dict)
    definitions: dict[str, ast.Definition] = field(default_factory=dict)


def read_source(
    path: Path, shown: str, at: Span | None = None, sources: dict[str, SourceFile] | None = None
) -> SourceFile:
    """Read a spec file; raises ResdslError located at ``at`` (the import) or the file itself.

    A file that is not UTF-8 is still added to ``sources`` (decoded with replacement
    characters), so that its diagnostic can show the offending line.
    """
    where = at or Span.point(shown)
    try:
        if path.is_dir():
            raise ResdslError(
                [
                    Diagnostic(
                        "E105",
                        f"`{shown}` is a directory, not a spec file",
                        where,
                        help=(
                            "`resdsl check` takes folders; the other commands take one .res file"
                            if at is None
                            else 'an import names a .res file, as in `import "family.res"`'
                        ),
                    )
                ]
            )
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise ResdslError(
                [Diagnostic("E105", f"`{shown}` is {size} bytes; specs are limited to 1 MiB", where)]
            )
        data = path.read_bytes()
    except OSError as err:
        reason = err.strerror or type(err).__name__
        raise ResdslError([Diagnostic("E105", f"cannot read `{shown}`: {reason.lower()}", where)]) from None
    if data.startswith(b"\xef\xbb\xbf"):  # a UTF-8 byte order mark, as some editors write
        data = data[3:]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        line_start = data.rfind(b"\n", 0, err.start) + 1
        line = data.count(b"\n", 0, err.start) + 1
        col = len(data[line_start : err.start].decode("utf-8")) + 1  # characters, not bytes
        if sources is not None:
            sources[shown] = SourceFile(shown, data.decode("utf-8", errors="replace"))
        raise ResdslError(
            [
                Diagnostic(
                    "E104",
                    f"`{shown}` is not UTF-8 text (byte 0x{data[err.start]:02x})",
                    Span(shown, line, col, line, col + 1),
                    help="resdsl specs are UTF-8 text files",
                )
            ]
        ) from None
    if "\x00" in text:
        offset = text.index("\x00")
        line = text.count("\n", 0, offset) + 1
        col = offset - (text.rfind("\n", 0, offset) + 1) + 1
        raise ResdslError(
            [
                Diagnostic(
                    "E104",
                    f"`{shown}` is a binary file (a NUL byte)",
                    Span(shown, line, col, line, col + 1),
                    help="resdsl specs are UTF-8 text files",
                )
            ]
        )
    return SourceFile(shown, text)


def load_program(
    path: Path, text: str | None = None, sources: dict[str, SourceFile] | None = None
) -> Program:
    """Load ``path`` and its imports. ``text`` replaces the file's contents (for tests).

    Every file read is added to ``sources`` as soon as it is read, so that a syntax error in
    it can be shown with its line.
    """
    diags = Collector()
    shown = display_path(path)
    sources = sources if sources is not None else {}
    src = SourceFile(shown, text) if text is not None else read_source(path, shown, sources=sources)
    sources[shown] = src
    main = parse(src)
    program = Program(main, sources=sources)
    program.modules[str(path.resolve())] = main
    order: list[ast.Module] = []
    _load_imports(program, main, path.resolve(), [str(path.resolve())], diags, order)
    order.append(main)
    _collect_definitions(program, order, diags)
    if diags.has_errors:
        raise ResdslError(diags.items)
    return program


def _resolve(imp: ast.Import, importer: Path) -> Path:
    if imp.is_path:
        return (importer.parent / imp.target).resolve()
    return (stdlib_dir() / f"{imp.target}.res").resolve()


def _load_imports(
    program: Program,
    module: ast.Module,
    path: Path,
    stack: list[str],
    diags: Collector,
    order: list[ast.Module],
) -> None:
    """Load ``module``'s imports, depth first; ``order`` gets each module after its imports."""
    for imp in module.imports:
        target = _resolve(imp, path)
        key = str(target)
        if key in stack:
            chain = " -> ".join(display_path(Path(p)) for p in stack[stack.index(key) :])
            diags.error(
                "E209",
                f"import cycle: {chain} -> {display_path(target)}",
                imp.span,
                help="move the shared definitions into a file that both import",
            )
            continue
        if key in program.modules:
            continue
        if not target.exists():
            diags.error(
                "E208",
                f"cannot find {_import_what(imp)}",
                imp.span,
                notes=(f"looked for {display_path(target)}",),
                help=_import_help(imp, target),
            )
            continue
        shown = display_path(target)
        try:
            src = read_source(target, shown, imp.span, program.sources)
            program.sources[shown] = src
            child = parse(src)
        except ResdslError as err:
            for d in err.diagnostics:
                diags.add(d)
            continue
        program.modules[key] = child
        _load_imports(program, child, target, [*stack, key], diags, order)
        order.append(child)


def _import_what(imp: ast.Import) -> str:
    return f'"{imp.target}"' if imp.is_path else f"standard library module `{imp.target}`"


def _import_help(imp: ast.Import, target: Path) -> str:
    from .passes import did_you_mean

    if imp.is_path:
        near = [p.name for p in target.parent.glob("*.res")] if target.parent.is_dir() else []
        return did_you_mean(target.name, near) or "a quoted import is a path relative to the importing file"
    shipped = sorted(p.stem for p in stdlib_dir().glob("*.res"))
    return did_you_mean(imp.target, shipped) or (f"bare names import the shipped specs: {', '.join(shipped)}")


def _collect_definitions(program: Program, order: list[ast.Module], diags: Collector) -> None:
    """Enter every definition into one namespace, imported modules before their importers,
    so that a clash is reported in the file that brought the second definition in."""
    from .primitives import lookup

    for module in order:
        for definition in module.definitions:
            name = definition.name.name
            if lookup(name) is not None:
                diags.error(
                    "E203",
                    f"`{name}` is a primitive layer and cannot be redefined",
                    definition.name.span,
                    help="choose another name",
                )
                continue
            first = program.definitions.get(name)
            if first is not None:
                diags.error(
                    "E203",
                    f"`{name}` is defined twice",
                    definition.name.span,
                    notes=(f"first defined at {first.name.span}",),
                )
                continue
            program.definitions[name] = definition
