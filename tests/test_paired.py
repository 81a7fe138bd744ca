"""Paired comparisons: values checked by hand, and the tests' own p-values against their definitions."""
from __future__ import annotations

import numpy as np
import pytest

from lib import paired
from lib.errors import WorkbookError


def test_continuous_difference_interval_and_wilcoxon():
    here, reference = [10, 12, 9, 15, 11, 13, 8, 14], [12, 15, 10, 18, 12, 17, 10, 15]
    result = paired.paired_continuous(here, reference, n_resamples=500)
    assert result["difference"] == pytest.approx(-2.125)
    assert result["low"] < -2.125 < result["high"] < 0
    assert result["p_wilcoxon"] == pytest.approx(2 / 2**8)  # all eight pairs lower: the exact two-sided minimum
    assert result["n"] == 8


def test_identical_outcomes_have_no_effect_and_p_one():
    result = paired.paired_continuous([1.0, 2.0, 3.0], [1.0, 2.0, 3.0])
    assert (result["difference"], result["low"], result["high"], result["p_wilcoxon"]) == (0.0, 0.0, 0.0, 1.0)


def test_missing_values_drop_their_pair():
    result = paired.paired_continuous([1.0, np.nan, 3.0], [0.0, 5.0, 1.0])
    assert result["n"] == 2 and result["difference"] == pytest.approx(1.5)


def test_binary_rates_discordant_pairs_and_mcnemar():
    here = [1, 1, 1, 1, 1, 0, 0, 0]
    reference = [1, 0, 0, 0, 0, 0, 0, 0]
    result = paired.paired_binary(here, reference, n_resamples=500)
    assert (result["rate"], result["reference_rate"], result["only_here"], result["only_reference"]) == (5 / 8, 1 / 8, 4, 0)
    assert result["p_mcnemar"] == pytest.approx(2 * 0.5**4)  # exact binomial on 4 discordant pairs, all one way


def test_sign_test_counts_lower_higher_and_ties():
    result = paired.sign_test([1, 2, 3, 4, 5], [2, 3, 4, 4, 1])
    assert (result["lower"], result["higher"], result["ties"]) == (3, 1, 1)
    assert result["p_sign"] == pytest.approx(0.625)


def test_misaligned_pairs_are_refused():
    with pytest.raises(WorkbookError, match="align them by prompt"):
        paired.paired_continuous([1, 2, 3], [1, 2])


def test_a_clustered_paired_difference_counts_items_not_prompts():
    import numpy as np

    rng = np.random.default_rng(1)
    items = np.repeat(np.arange(20), 8)
    gain = np.repeat(rng.random(20) < 0.5, 8)  # the vector fixes an item under every template or under none
    here, reference = gain, np.zeros(160, dtype=bool)
    plain = paired.paired_binary(here, reference)
    clustered = paired.paired_binary(here, reference, clusters=items)
    assert clustered["difference"] == plain["difference"]
    assert clustered["high"] - clustered["low"] > 2 * (plain["high"] - plain["low"])
    # No discordant pair: the bound is the Wilson bound over 20 items, not over 160 prompts.
    none = paired.paired_binary(reference, reference, clusters=items)
    assert np.isclose(none["high"], paired.stats.wilson(0, 20)[2])
