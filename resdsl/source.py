"""Source files and spans: where every piece of a spec came from.

A :class:`Span` is 1-based (line, column) to (end_line, end_column), with the end column
exclusive, as editors and GitHub annotations count them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Span:
    path: str
    line: int
    column: int
    end_line: int
    end_column: int

    @staticmethod
    def point(path: str, line: int = 1, column: int = 1) -> Span:
        return Span(path, line, column, line, column + 1)

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.column}"


@dataclass(frozen=True)
class SourceFile:
    path: str
    text: str

    @property
    def lines(self) -> list[str]:
        """The text's lines, split at ``\\n`` only, as the parser counts them.

        (``str.splitlines`` also splits at form feeds, vertical tabs and other separators,
        which would shift every line number after one.)
        """
        lines = self.text.split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        return [line[:-1] if line.endswith("\r") else line for line in lines]

    def line(self, number: int) -> str:
        lines = self.lines
        return lines[number - 1] if 1 <= number <= len(lines) else ""

    def end_span(self) -> Span:
        lines = self.lines or [""]
        return Span.point(self.path, len(lines), len(lines[-1]) + 1)


def display_path(path: Path) -> str:
    """A path as the user should read it: relative to the working directory when inside it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)
