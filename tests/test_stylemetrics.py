"""Style-axis measures on hand-written answers whose values can be counted by eye."""
from __future__ import annotations

import pytest

from lib import stylemetrics as sm


def test_terse_counts_words():
    assert sm.axis_metrics("Bread rises because yeast makes gas.")["terse"] == 6


def test_formal_counts_contractions_and_personal_pronouns_once_each():
    casual = "I'd say you can't go wrong with my recipe."  # I'd, can't, you, my: 4 markers in 9 words
    assert sm.informal_markers(casual) == pytest.approx(100 * 4 / 9)
    assert sm.informal_markers("The dough is proofed for two hours.") == 0


def test_socratic_is_the_share_of_question_sentences():
    assert sm.question_share("What do you mean by stale? Is it dry? It may be.") == pytest.approx(2 / 3)
    assert sm.question_share("") == 0


def test_dry_wit_counts_exclamations_and_enthusiasm():
    assert sm.enthusiasm("Great question! I love bread!") == pytest.approx(100 * 4 / 5)
    assert sm.enthusiasm("Bread is flour, water and patience.") == 0


def test_every_axis_has_a_measure_and_a_direction():
    assert set(sm.axis_metrics("x")) == set(sm.AXES) == set(sm.DIRECTION)


def test_words_split_on_hyphens_so_degenerate_chains_count_in_full():
    assert sm.word_count("110-131-101-101-24") == 5
    assert sm.word_count("I don't know, self-care?") == 5  # I, don't, know, self, care
    assert sm.axis_metrics("10-10-10-10-10-10")["terse"] == 6


def test_token_loop_flags_a_repeating_pattern_and_not_ordinary_text():
    assert sm.token_loop([5, 9, 7, 7, 7, 7])  # one token four times
    assert sm.token_loop([1, 2, 3, 4, 3, 4, 3, 4, 3, 4])  # a two-token pattern four times
    assert not sm.token_loop([1, 2, 3, 4, 5, 6, 7, 1, 2, 3, 4])
    assert not sm.token_loop([3, 3, 3])  # three in a row is not yet a loop


def test_an_answer_is_on_topic_when_it_shares_a_content_word_with_its_question():
    assert sm.on_topic("Ice is less dense than liquid water.", "Why does ice float on water?")
    assert not sm.on_topic("The the and of which would.", "Why does ice float on water?")  # function words only
    assert not sm.on_topic("10-10-10-10", "How do bees make honey?")
