"""The twelve lens vocabularies: every pattern matches its example, no span counts twice, and the
seed's never-matching and double-counting patterns would be caught."""
from __future__ import annotations

import re

import pytest

from lib import lenses

LENSES = lenses.load_lenses()
CASES = [(name, entry) for name, data in LENSES.items() for entry in data["patterns"]]


def test_the_seeds_twelve_lenses_are_there():
    assert set(LENSES) == {"makefile", "guile", "orgmode", "monetization", "sports", "religion", "politics", "ai_hype",
                           "conspiracy", "scarcity_mindset", "therapy_speak", "cult_of_jason"}


@pytest.mark.parametrize("lens, entry", CASES, ids=[f"{n}:{e['pattern']}" for n, e in CASES])
def test_every_pattern_matches_its_example(lens, entry):
    assert re.search(entry["pattern"], entry["example"], re.IGNORECASE), "a pattern that never matches (the seed's \\benabl\\b)"


@pytest.mark.parametrize("lens", sorted(LENSES))
def test_no_two_patterns_of_a_lens_match_the_same_text(lens):
    patterns = [p["pattern"] for p in LENSES[lens]["patterns"]]
    assert len(patterns) == len(set(patterns)), "duplicate patterns"
    for entry in LENSES[lens]["patterns"]:
        spans = [(q, m.span()) for q in patterns for m in re.finditer(q, entry["example"], re.IGNORECASE)]
        for i, (q1, (a1, b1)) in enumerate(spans):
            for q2, (a2, b2) in spans[i + 1 :]:
                assert q1 == q2 or b1 <= a2 or b2 <= a1, f"{q1!r} and {q2!r} both match inside {entry['example']!r}"


def test_the_seeds_double_counting_is_gone():
    # the seed's never-matching patterns are caught by test_every_pattern_matches_its_example; here each span counts once
    assert lenses.lens_hits("This enables that; it enabled more.", "ai_hype") == 2


def test_scores_are_hits_per_word_and_bands_follow_the_seed():
    scores = lenses.lens_scores("Set boundaries and practice self-care.")
    assert scores["therapy_speak"] == pytest.approx(2 / 6) and scores["sports"] == 0  # two hits in six words (self, care)
    assert lenses.lens_scores("") == {name: 0.0 for name in LENSES}
    assert [lenses.band(x) for x in (0.0, 0.02, 0.04, 0.2)] == ["clean", "ambient", "captured", "full"]


def test_unknown_lens_names_the_choices():
    from lib.errors import WorkbookError

    with pytest.raises(WorkbookError, match="Unknown lens 'cooking'.*therapy_speak"):
        lenses.lens_hits("text", "cooking")
