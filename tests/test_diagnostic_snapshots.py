"""One snapshot per diagnostic code: tests/cases/<CODE>_<slug>.res and its .expected rendering.

Each .expected file was read and judged by hand (line, column, caret, words); regenerate with
``python tests/regenerate_snapshots.py`` and read the diff before committing it.
"""

from __future__ import annotations

import re

import pytest
from snapshots import CASES, Case, cases

from resdsl.diagnostics import CODES

ALL = cases()


def _param(case: Case) -> object:
    marks = [pytest.mark.xfail(reason=case.xfail, strict=False)] if case.xfail else []
    if case.name.startswith("E216"):
        marks.append(pytest.mark.slow)
    return pytest.param(case, id=case.name, marks=marks)


@pytest.mark.parametrize("case", [_param(c) for c in ALL])
def test_snapshot(case: Case) -> None:
    assert case.expected_path.exists(), f"no {case.expected_path.name}; run tests/regenerate_snapshots.py"
    expected = case.expected_path.read_text(encoding="utf-8")
    assert case.run() == expected


@pytest.mark.parametrize("case", [_param(c) for c in ALL if not c.xfail])
def test_case_triggers_its_own_code(case: Case) -> None:
    """The recording reports the case's code, and no other code."""
    text = case.expected_path.read_text(encoding="utf-8")
    codes = set(re.findall(r"(?:error|warning)\[([EW]\d{3})\]", text))
    assert codes == {case.code}


def test_every_code_has_a_case() -> None:
    covered = {c.code for c in ALL}
    missing = sorted(set(CODES) - covered)
    assert not missing, f"codes without a case in {CASES}: {missing}"


def test_every_case_names_a_registered_code() -> None:
    assert all(c.code in CODES for c in ALL), [c.name for c in ALL if c.code not in CODES]


def test_every_case_has_its_expected_file_and_no_strays() -> None:
    expected = {p.stem for p in CASES.glob("*.expected")}
    names = {c.name for c in ALL}
    assert expected - names == set(), "stray .expected files"
    assert {c.name for c in ALL if not c.xfail} <= expected
