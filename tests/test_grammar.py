"""The grammar itself: LALR(1) without conflicts, and terminals that cannot collide."""

from __future__ import annotations

import pytest
from lark import Lark

from resdsl.resources import grammar_path


def test_grammar_is_conflict_free_lalr():
    pytest.importorskip("interegular")  # lark's strict mode uses it to prove terminals disjoint
    # strict=True turns every shift/reduce conflict and every regex collision into an error.
    Lark(grammar_path().read_text(), parser="lalr", start=["start", "expr"], strict=True)


@pytest.mark.parametrize(
    ("text", "ok"),
    [
        ("network n {\n}\n", True),
        ("block b(w, s = 1) {\n    c: conv 3x3 -> w * 2, stride = s if s > 1 else 1\n}\n", True),
        ("network n {\n    input 3x224x224\n    input 3 x 224 x 224\n}\n", True),
        ("network a = b(n = 3)\n", True),
        ('import "x/y-z.res"\nimport std\n', True),
        ("block b() {\n    conv 3x3 64\n}\n", False),
        ("block b() { relu }\n", False),
    ],
)
def test_what_the_grammar_accepts(text, ok):
    from lark.exceptions import UnexpectedInput

    parser = Lark(grammar_path().read_text(), parser="lalr", start=["start", "expr"])
    try:
        parser.parse(text, start="start")
        accepted = True
    except UnexpectedInput:
        accepted = False
    assert accepted is ok
