"""Diagnostics: one record per problem, a registry of codes, and four renderings.

Codes are grouped by phase, as mypy and rustc do:

* E1xx syntax and reading files
* E2xx names, arguments and values
* E3xx shapes and dimensions
* E4xx backends
* Wxxx warnings

Every code has a one-line title here and a paragraph in ``docs/errors.md``; a test keeps the
three (registry, docs, snapshot cases) in step.
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from enum import Enum

from .source import SourceFile, Span

CODES: dict[str, str] = {
    # E1xx: syntax and reading files
    "E101": "unexpected token",
    "E102": "unexpected character",
    "E103": "unexpected end of file",
    "E104": "file is not UTF-8 text",
    "E105": "file cannot be read",
    "E106": "nesting too deep",
    # E2xx: names, arguments and values
    "E201": "unknown name",
    "E202": "unknown layer or block",
    "E203": "duplicate definition",
    "E204": "duplicate layer name",
    "E205": "wrong arguments",
    "E206": "wrong type",
    "E207": "value out of range",
    "E208": "import not found",
    "E209": "import cycle",
    "E210": "no network to build",
    "E211": "statement not allowed here",
    "E212": "missing statement",
    "E213": "misplaced residual join",
    "E214": "recursive block",
    "E215": "division by zero",
    "E216": "network too large",
    # E3xx: shapes
    "E302": "identity shortcut does not match the residual branch",
    "E303": "residual join of unequal shapes",
    "E304": "kernel larger than its padded input",
    "E305": "groups do not divide the channels",
    "E306": "option A shortcut cannot match the residual branch",
    "E307": "layer needs another input rank",
    "E308": "network output does not match the classes",
    # E4xx: backends
    "E401": "weights do not match the spec",
    "E402": "cannot write the output",
    # Warnings
    "W301": "deep plain network",
    "W302": "very large network",
    "W201": "unused parameter",
}


class Severity(str, Enum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True)
class Diagnostic:
    code: str
    message: str
    span: Span
    label: str = ""
    notes: tuple[str, ...] = ()
    help: str | None = None

    def __post_init__(self) -> None:
        if self.code not in CODES:
            raise ValueError(f"unregistered diagnostic code {self.code}")

    @property
    def severity(self) -> Severity:
        return Severity.WARNING if self.code.startswith("W") else Severity.ERROR

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR

    def sort_key(self) -> tuple[str, int, int, str]:
        return (self.span.path, self.span.line, self.span.column, self.code)


@dataclass
class Collector:
    """Collects diagnostics for one pass; passes never raise on a user's mistake.

    The same error at the same place, found again in another expansion of a block (every
    `layer2.i` of a stage), is reported once, with a note counting the other expansions.
    """

    items: list[Diagnostic] = field(default_factory=list)
    _seen: dict[tuple[str, str, Span, str], tuple[int, Diagnostic, int]] = field(
        default_factory=dict, repr=False
    )

    def add(self, diagnostic: Diagnostic) -> None:
        if diagnostic in self.items:
            return
        key = (diagnostic.code, diagnostic.message, diagnostic.span, diagnostic.label)
        seen = self._seen.get(key)
        if seen is None:
            self._seen[key] = (len(self.items), diagnostic, 0)
            self.items.append(diagnostic)
            return
        index, first, more = seen
        more += 1
        self._seen[key] = (index, first, more)
        note = f"the same error occurs in {more} more expansion{'s' if more != 1 else ''} of this code"
        self.items[index] = replace(first, notes=(*first.notes, note))

    def error(self, code: str, message: str, span: Span, **extra: object) -> None:
        self.add(Diagnostic(code, message, span, **extra))  # type: ignore[arg-type]

    warning = error

    @property
    def has_errors(self) -> bool:
        return any(d.is_error for d in self.items)


class ResdslError(Exception):
    """Raised to stop the pipeline; carries every diagnostic found so far."""

    def __init__(self, diagnostics: Iterable[Diagnostic]) -> None:
        self.diagnostics = sorted(diagnostics, key=Diagnostic.sort_key)
        super().__init__("; ".join(f"{d.span}: {d.message} [{d.code}]" for d in self.diagnostics))


# --- rendering ---------------------------------------------------------------------------


class Style:
    """ANSI styling, used only when writing to a terminal."""

    def __init__(self, color: bool) -> None:
        self.color = color

    def _wrap(self, code: str, text: str) -> str:
        return f"\x1b[{code}m{text}\x1b[0m" if self.color else text

    def bold(self, text: str) -> str:
        return self._wrap("1", text)

    def blue(self, text: str) -> str:
        return self._wrap("1;34", text)

    def severity(self, severity: Severity, text: str) -> str:
        return self._wrap("1;31" if severity is Severity.ERROR else "1;33", text)


def _printable(line: str) -> str:
    """A source line safe to print: tabs as one space, control and format characters as `�`.

    One character stays one character, so columns still line up with the caret; a spec cannot
    send escape sequences to the user's terminal or hide text with bidirectional controls.
    """
    return "".join(
        " " if c == "\t" else "\ufffd" if unicodedata.category(c) in ("Cc", "Cf") else c for c in line
    )


SHOWN_WIDTH = 120  # longer source lines are shown as a window around the span


def _clip(text: str, column: int, end: int) -> tuple[str, int, int]:
    """Cut a long line to SHOWN_WIDTH characters around ``column`` (marking cuts with `...`);
    return it with the span's columns moved to match."""
    if len(text) <= SHOWN_WIDTH:
        return text, column, end
    lo = max(0, min(column - 1 - SHOWN_WIDTH // 4, len(text) - SHOWN_WIDTH))
    hi = lo + SHOWN_WIDTH
    prefix = "..." if lo > 0 else ""
    suffix = "..." if hi < len(text) else ""
    shift = len(prefix) - lo
    return prefix + text[lo:hi] + suffix, column + shift, min(end, hi + 1) + shift


def _underline(line: str, span: Span, column: int, end: int) -> str:
    width = max(1, end - column)
    return " " * (column - 1) + "^" * width


def render_human(d: Diagnostic, sources: Mapping[str, SourceFile], color: bool = False) -> str:
    s = Style(color)
    head = s.severity(d.severity, f"{d.severity.value}[{d.code}]") + s.bold(f": {d.message}")
    src = sources.get(d.span.path)
    gutter_width = len(str(d.span.line))
    pad = " " * gutter_width
    out = [head, f"{pad}{s.blue('-->')} {d.span}"]
    if src is not None and d.span.line >= 1:
        text = _printable(src.line(d.span.line))
        end = d.span.end_column if d.span.end_line == d.span.line else len(text) + 1
        end = max(end, d.span.column + 1)
        text, column, end = _clip(text, d.span.column, end)
        caret = _underline(text, d.span, column, end)
        label = f" {d.label}" if d.label else ""
        out += [
            f"{pad} {s.blue('|')}",
            f"{s.blue(str(d.span.line).rjust(gutter_width))} {s.blue('|')} {text}",
            f"{pad} {s.blue('|')} {s.severity(d.severity, caret + label)}",
        ]
        out.append(f"{pad} {s.blue('|')}")
    for note in d.notes:
        out.append(f"{pad} {s.blue('=')} {s.bold('note')}: {note}")
    if d.help:
        out.append(f"{pad} {s.blue('=')} {s.bold('help')}: {d.help}")
    return "\n".join(out) + "\n"


def render_concise(d: Diagnostic) -> str:
    return f"{d.span}: {d.severity.value}: {d.message} [{d.code}]\n"


def to_json(d: Diagnostic) -> dict[str, object]:
    data: dict[str, object] = {
        "file": d.span.path,
        "line": d.span.line,
        "column": d.span.column,
        "end_line": d.span.end_line,
        "end_column": d.span.end_column,
        "severity": d.severity.value,
        "code": d.code,
        "message": d.message,
    }
    if d.help:
        data["help"] = d.help
    if d.notes:
        data["notes"] = list(d.notes)
    return data


def _gh_escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _gh_escape_property(text: str) -> str:
    return _gh_escape_data(text).replace(":", "%3A").replace(",", "%2C")


def render_github(d: Diagnostic) -> str:
    kind = "error" if d.is_error else "warning"
    props = ",".join(
        [
            f"file={_gh_escape_property(d.span.path)}",
            f"line={d.span.line}",
            f"col={d.span.column}",
            f"endLine={d.span.end_line}",
            f"endColumn={d.span.end_column}",
            f"title={_gh_escape_property(f'resdsl {d.code}')}",
        ]
    )
    message = d.message + (f"\n\nhelp: {d.help}" if d.help else "")
    return f"::{kind} {props}::{_gh_escape_data(message)}\n"


class Format(str, Enum):
    human = "human"
    concise = "concise"
    json = "json"
    github = "github"


def render_all(
    diagnostics: Iterable[Diagnostic],
    fmt: Format,
    sources: Mapping[str, SourceFile],
    color: bool = False,
) -> str:
    items = sorted(diagnostics, key=Diagnostic.sort_key)
    if fmt is Format.json:
        return json.dumps([to_json(d) for d in items], indent=2) + "\n"
    if fmt is Format.concise:
        return "".join(render_concise(d) for d in items)
    if fmt is Format.github:
        return "".join(render_github(d) for d in items)
    parts = [render_human(d, sources, color) for d in items]
    return "\n".join(parts)


def summary_line(diagnostics: Iterable[Diagnostic]) -> str:
    items = list(diagnostics)
    errors = sum(d.is_error for d in items)
    warnings = len(items) - errors
    words = []
    if errors:
        words.append(f"{errors} error{'s' if errors != 1 else ''}")
    if warnings:
        words.append(f"{warnings} warning{'s' if warnings != 1 else ''}")
    return "found " + " and ".join(words) if words else "no problems found"
