"""A small seeded sample of the fuzz campaign (`make fuzz` runs 100,000 cases)."""

from __future__ import annotations

import random

import pytest

from fuzz.mutate import mutate, tokens
from fuzz.run import _case_text, _worker

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def test_sample_of_the_campaign_is_clean(tmp_path):
    result = _worker((0, 1, 240, 7, str(tmp_path / "crashes")))
    counts = result["counts"]
    assert result["failures"] == [], result["failures"]
    assert counts["mutation"] == counts["generated"] == 120
    # Both kinds of case reach both outcomes, and accepted specs were really built and run.
    assert counts["accepted"] > 50 and counts["rejected"] > 50
    assert counts["generated_accepted"] > 30 and counts.get("mutation_accepted", 0) > 0
    assert counts["sound_torch"] > 30
    assert counts["cli_checked"] == 12


def test_cases_are_a_pure_function_of_index_and_seed():
    assert _case_text(11, 3) == _case_text(11, 3)
    assert _case_text(10, 3) == _case_text(10, 3)
    assert _case_text(11, 3) != _case_text(13, 3)


def test_mutation_changes_text_and_tokens_round_trip():
    text = "network n {\n    conv1: conv 3x3 -> 64, stride = 2  # c\n}\n"
    assert "".join(tokens(text)) == text
    rng = random.Random(0)
    assert any(mutate(text, rng) != text for _ in range(10))
