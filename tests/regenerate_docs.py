"""Regenerate the primitives table of docs/language.md from resdsl.primitives.PRIMITIVES.

    python tests/regenerate_docs.py

The table sits between ``<!-- primitives:begin -->`` and ``<!-- primitives:end -->``;
tests/test_docs.py fails when it differs from what this script would write.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "language.md"
BEGIN, END = "<!-- primitives:begin -->", "<!-- primitives:end -->"


def _default(attr: object) -> str:
    from resdsl.primitives import Attr
    from resdsl.values import Val

    assert isinstance(attr, Attr)
    if attr.default is None:
        return "the block's `shortcut` policy" if attr.kind == "policy" else "required"
    if isinstance(attr.default, Val):
        return f"`{attr.default.code.lower()}`"
    return {
        "_default_padding": "`dilation * (kernel - 1) / 2`",
        "_default_stride": "the kernel",
    }[attr.default.__name__]  # type: ignore[attr-defined]


def _range(attr: object) -> str:
    from resdsl.values import MAX_INT

    if attr.kind in ("bool", "policy"):  # type: ignore[attr-defined]
        return ""
    lo, hi = attr.lo, attr.hi  # type: ignore[attr-defined]
    shown_hi = "" if hi >= MAX_INT else f"{hi:,}" if isinstance(hi, int) else "< 1" if hi < 1 else str(hi)
    return f"{lo}..{shown_hi}"


_WHERE = {"head": "after the name", "arrow": "after `->`", "kw": "`name = value`"}


def primitives_table() -> str:
    from resdsl.primitives import ALIASES, PRIMITIVES

    aliases: dict[str, list[str]] = {}
    for alias, target in ALIASES.items():
        aliases.setdefault(target, []).append(alias)
    lines = [
        "| primitive | what it does | argument | type | written | default | range |",
        "|---|---|---|---|---|---|---|",
    ]
    for prim in PRIMITIVES.values():
        name = f"`{prim.name}`" + "".join(f" (`{a}`)" for a in sorted(aliases.get(prim.name, [])))
        if not prim.attrs:
            lines.append(f"| {name} | {prim.summary} | | | | | |")
            continue
        for i, attr in enumerate(prim.attrs):
            lead = f"| {name} | {prim.summary} " if i == 0 else "| | "
            lines.append(
                f"{lead}| `{attr.name}` | {attr.kind} | {_WHERE[attr.role]} | {_default(attr)} | {_range(attr)} |"
            )
    return "\n".join(lines) + "\n"


def render(doc: str) -> str:
    before, rest = doc.split(BEGIN, 1)
    _, after = rest.split(END, 1)
    return f"{before}{BEGIN}\n{primitives_table()}{END}{after}"


def main() -> int:
    sys.path.insert(0, str(ROOT))
    text = DOC.read_text(encoding="utf-8")
    new = render(text)
    if new != text:
        DOC.write_text(new, encoding="utf-8")
        print(f"wrote {DOC.relative_to(ROOT)}")
    else:
        print("docs/language.md is up to date")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
