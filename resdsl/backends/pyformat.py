"""Laying out generated Python as ``ruff format`` would (default settings), so its check changes nothing.

A call that fits its line stays on one line; one that does not is exploded one argument per
line with a magic trailing comma (which ruff format keeps as it is), recursively. The same holds
for a repeated call written as a starred generator, ``*(Block(...) for _ in range(n))``, for an
assignment whose right-hand side is too long (wrapped in parentheses), and for a trailing comment
that would push its line past the limit (moved onto its own line above, where ruff leaves it).
"""

from __future__ import annotations

from dataclasses import dataclass

LINE_LENGTH = 88  # ruff's default
INDENT = "    "


@dataclass(frozen=True)
class Call:
    """``func(args)``; with ``open``/``close`` set to brackets, a list display ``[args]``."""

    func: str
    args: tuple[str | Call | Repeat, ...]
    open: str = "("
    close: str = ")"

    def flat(self) -> str:
        inner = ", ".join(a if isinstance(a, str) else a.flat() for a in self.args)
        return f"{self.func}{self.open}{inner}{self.close}"

    def render(self, indent: int, prefix: str = "", suffix: str = "") -> list[str]:
        """Lines (without trailing newlines) for ``prefix + call + suffix`` at ``indent`` levels."""
        pad = INDENT * indent
        one = f"{pad}{prefix}{self.flat()}{suffix}"
        if len(one) <= LINE_LENGTH or not self.args:
            return [one]
        lines = [f"{pad}{prefix}{self.func}{self.open}"]
        for arg in self.args:
            if isinstance(arg, str):
                lines.append(f"{INDENT * (indent + 1)}{arg},")
            else:
                lines += arg.render(indent + 1, suffix=",")
        lines.append(f"{pad}{self.close}{suffix}")
        return lines


@dataclass(frozen=True)
class Repeat:
    """``*(item for _ in range(count))``: ``count`` fresh instances of one call."""

    item: Call
    count: int

    def flat(self) -> str:
        return f"*({self.item.flat()} for _ in range({self.count}))"

    def render(self, indent: int, prefix: str = "", suffix: str = "") -> list[str]:
        pad = INDENT * indent
        one = f"{pad}{prefix}{self.flat()}{suffix}"
        if len(one) <= LINE_LENGTH:
            return [one]
        return [
            f"{pad}{prefix}*(",
            *self.item.render(indent + 1),
            f"{pad}{INDENT}for _ in range({self.count})",
            f"{pad}){suffix}",
        ]


def kw(name: str, value: str | Call) -> str | Call:
    """A keyword argument; a call as its value still splits like a call."""
    if isinstance(value, Call):
        return Call(f"{name}={value.func}", value.args, value.open, value.close)
    return f"{name}={value}"


def render(call: Call, indent: int, prefix: str = "", suffix: str = "") -> str:
    return "\n".join(call.render(indent, prefix, suffix))


def statement(code: str | Call, indent: int, prefix: str = "", comment: str = "") -> str:
    """One statement at ``indent`` levels: ``prefix + code``, with an optional trailing comment.

    ruff counts a trailing comment in the line's width and would split the code to make room,
    so a comment that does not fit goes on its own line above the statement instead.
    """
    pad = INDENT * indent
    lines = code.render(indent, prefix) if isinstance(code, Call) else [f"{pad}{prefix}{code}"]
    if not comment:
        return "\n".join(lines)
    if len(lines) == 1 and len(f"{lines[0]}  # {comment}") <= LINE_LENGTH:
        return f"{lines[0]}  # {comment}"
    return "\n".join([f"{pad}# {comment}", *lines])


def assign(target: str, expr: str, indent: int) -> str:
    """``target = expr``; an expression too long for the line is wrapped in parentheses."""
    pad = INDENT * indent
    one = f"{pad}{target} = {expr}"
    if len(one) <= LINE_LENGTH:
        return one
    return f"{pad}{target} = (\n{pad}{INDENT}{expr}\n{pad})"
