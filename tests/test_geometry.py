"""Offset consistency of word pairs (lib/geometry.py): exact on constructed offsets, and the shuffled control and
bootstrap behave as a test of pair-specific structure needs."""
import numpy as np

from lib import geometry


def test_consistency_is_the_mean_cosine_over_distinct_pairs():
    rng = np.random.default_rng(0)
    offsets = rng.normal(size=(7, 2, 5))
    u = offsets / np.linalg.norm(offsets, axis=-1, keepdims=True)
    for layer in range(2):
        cosines = [u[i, layer] @ u[j, layer] for i in range(7) for j in range(7) if i != j]
        assert np.isclose(geometry.offset_consistency(offsets)[layer], np.mean(cosines))


def test_a_shared_relation_direction_shows_as_excess_and_random_pairs_do_not():
    rng = np.random.default_rng(1)
    n, d = 60, 64
    a = rng.normal(size=(n, 2, d))
    relation = np.zeros(d)
    relation[0] = 3.0
    b = a.copy()
    b[:, 0] += relation + rng.normal(scale=0.5, size=(n, d))  # layer 0: every pair moves the same way
    b[:, 1] = rng.normal(size=(n, d))  # layer 1: b unrelated to its a
    table = geometry.relation_table(a, b, n_shuffles=50, n_resamples=200, n_tests=2, seed=0)
    assert table.loc[0, "excess_low"] > 0.15
    assert table.loc[1, "excess_low"] < 0 < table.loc[1, "excess_high"]


def test_the_bootstrap_never_compares_a_pair_with_its_own_copy():
    offsets = np.random.default_rng(2).normal(size=(4, 1, 50))
    draws = geometry.bootstrap_consistency(offsets, n_resamples=300, rng=np.random.default_rng(0))
    assert np.nanmax(draws) < 0.9  # a copy compared with itself would give cosine 1 and pull resamples towards it
