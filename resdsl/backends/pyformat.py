"""Laying out generated Python calls as ``ruff format`` would, so its check changes nothing.

A call that fits its line stays on one line; one that does not is exploded one argument per
line with a magic trailing comma (which ruff format keeps as it is), recursively.
"""

from __future__ import annotations

from dataclasses import dataclass

LINE_LENGTH = 88
INDENT = "    "


@dataclass(frozen=True)
class Call:
    func: str
    args: tuple[str | Call, ...]

    def flat(self) -> str:
        return f"{self.func}(" + ", ".join(a if isinstance(a, str) else a.flat() for a in self.args) + ")"

    def render(self, indent: int, prefix: str = "", suffix: str = "") -> list[str]:
        """Lines (without trailing newlines) for ``prefix + call + suffix`` at ``indent`` levels."""
        pad = INDENT * indent
        one = f"{pad}{prefix}{self.flat()}{suffix}"
        if len(one) <= LINE_LENGTH or not self.args:
            return [one]
        lines = [f"{pad}{prefix}{self.func}("]
        for arg in self.args:
            if isinstance(arg, Call):
                lines += arg.render(indent + 1, suffix=",")
            else:
                lines += _render_text(arg, indent + 1)
        lines.append(f"{pad}){suffix}")
        return lines


def _render_text(arg: str, indent: int) -> list[str]:
    """A plain argument; ``name=Call`` keyword arguments are split like calls."""
    return [f"{INDENT * indent}{arg},"]


def kw(name: str, value: str | Call) -> str | Call:
    if isinstance(value, Call):
        return Call(f"{name}={value.func}", value.args)
    return f"{name}={value}"


def render(call: Call, indent: int, prefix: str = "", suffix: str = "") -> str:
    return "\n".join(call.render(indent, prefix, suffix))
