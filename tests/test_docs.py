"""docs/errors.md and docs/language.md stay in step with the code."""

from __future__ import annotations

import re
from pathlib import Path

from regenerate_docs import BEGIN, END, primitives_table

from resdsl.diagnostics import CODES
from resdsl.primitives import ALIASES, PRIMITIVES

ROOT = Path(__file__).resolve().parent.parent
ERRORS = (ROOT / "docs" / "errors.md").read_text(encoding="utf-8")
LANGUAGE = (ROOT / "docs" / "language.md").read_text(encoding="utf-8")


def test_every_code_has_a_section_and_every_section_a_code() -> None:
    sections = re.findall(r"^## ([EW]\d{3})\s*$", ERRORS, flags=re.MULTILINE)
    assert len(sections) == len(set(sections)), "a code has two sections"
    assert sorted(sections) == sorted(CODES)


def test_every_section_has_a_fix() -> None:
    for block in re.split(r"^## ", ERRORS, flags=re.MULTILINE)[1:]:
        code = block.split()[0]
        assert "Fix:" in block, f"{code} says no fix"


def test_the_primitives_table_is_generated_from_the_registry() -> None:
    table = LANGUAGE.split(BEGIN, 1)[1].split(END, 1)[0].strip("\n") + "\n"
    assert table == primitives_table(), "run python tests/regenerate_docs.py"


def test_the_language_doc_lists_every_primitive_and_attribute() -> None:
    rows: dict[str, list[str]] = {}
    current = ""
    table = LANGUAGE.split(BEGIN, 1)[1].split(END, 1)[0]
    for line in [row for row in table.splitlines() if row.startswith("|")][2:]:
        cells = [c.strip() for c in line.strip("|").split("|")]
        if cells[0]:
            current = cells[0].split()[0].strip("`")
        if len(cells) > 2 and cells[2]:
            rows.setdefault(current, []).append(cells[2].strip("`"))
        else:
            rows.setdefault(current, [])
    assert set(rows) == set(PRIMITIVES)
    for name, prim in PRIMITIVES.items():
        assert rows[name] == [a.name for a in prim.attrs], name
    for alias in ALIASES:
        assert f"(`{alias}`)" in LANGUAGE


def test_the_language_doc_covers_its_topics() -> None:
    for heading in [
        "## Lexical structure",
        "## Types and values",
        "## Expressions and operators",
        "## Statements",
        "## Blocks",
        "## Networks",
        "### Aliases",
        "## Imports and the spec library",
        "## Stages and stride",
        "## Shortcut policies",
        "### `branch`",
        "## Primitives",
        "## Naming",
        "## Limits",
    ]:
        assert f"\n{heading}\n" in LANGUAGE, heading
    for policy in ("A", "B", "C", "D", "none", "identity"):
        assert f"| `{policy}` |" in LANGUAGE, policy
