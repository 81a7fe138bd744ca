"""Relational geometry of word pairs: do the offsets b - a of one relation (hot -> cold, cat -> cats) point the same way?

A relation is linearly encoded at a layer when its pair offsets agree in direction more than offsets of mismatched pairs
do. The consistency of a set of offsets is the mean cosine between the offsets of distinct pairs. The control pairs
each `a` with the `b` of another pair (a shuffle), which keeps whatever separates the two word classes as a whole and
removes what is specific to each pair; the excess over it is the relational structure.

>>> import numpy as np
>>> same = np.ones((5, 1, 3))  # five identical offsets at one layer
>>> round(float(offset_consistency(same)[0]), 6)
1.0
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import norm


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def offset_consistency(offsets: np.ndarray) -> np.ndarray:
    """Mean cosine between the offsets of distinct pairs, per layer: [pairs, layers, d] -> [layers].

    With unit offsets u_i, the sum over ordered pairs i != j of u_i . u_j is |sum u|^2 - n.
    """
    u = _unit(np.asarray(offsets, dtype=np.float64))
    n = u.shape[0]
    return ((u.sum(axis=0) ** 2).sum(axis=-1) - n) / (n * (n - 1))


def shuffled_consistency(a: np.ndarray, b: np.ndarray, n_shuffles: int, rng: np.random.Generator) -> np.ndarray:
    """Consistency of mismatched offsets b[perm] - a, one row per shuffle: [n_shuffles, layers]."""
    return np.stack([offset_consistency(b[rng.permutation(len(b))] - a) for _ in range(n_shuffles)])


def bootstrap_consistency(offsets: np.ndarray, n_resamples: int, rng: np.random.Generator) -> np.ndarray:
    """Consistency over pairs resampled with replacement: [n_resamples, layers]. A pair drawn twice is not compared
    with itself (its cosine of 1 would inflate the mean)."""
    u = _unit(np.asarray(offsets, dtype=np.float64))
    gram = np.einsum("ild,jld->lij", u, u)  # every pair's cosine, per layer
    n = len(u)
    draws = []
    for _ in range(n_resamples):
        idx = rng.integers(0, n, n)
        distinct = idx[:, None] != idx[None, :]
        draws.append((gram[:, idx][:, :, idx] * distinct).sum(axis=(1, 2)) / distinct.sum())
    return np.stack(draws)


def relation_table(a: np.ndarray, b: np.ndarray, n_shuffles: int = 200, n_resamples: int = 1000, n_tests: int = 1,
                   seed: int = 0, alpha: float = 0.05) -> pd.DataFrame:
    """Per layer: the consistency of the offsets b - a, the shuffled control's mean and 95th percentile, and the excess
    over the control's mean with a normal interval from the pair bootstrap's standard error, Bonferroni-adjusted over
    `n_tests` (every layer and relation a claim looks at). a, b: [pairs, layers, d] states of each pair's two words.

    The control's mean is held fixed (its spread over shuffles is the band, not an uncertainty of the mean), so the
    interval is that of the real consistency shifted by it.
    """
    rng = np.random.default_rng(seed)
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    offsets = b - a
    real = offset_consistency(offsets)
    control = shuffled_consistency(a, b, n_shuffles, rng)
    se = bootstrap_consistency(offsets, n_resamples, rng).std(axis=0, ddof=1)
    z = norm.ppf(1 - alpha / (2 * n_tests))
    excess = real - control.mean(axis=0)
    return pd.DataFrame({"layer": np.arange(len(real)), "n_pairs": len(offsets), "consistency": real,
                         "control_mean": control.mean(axis=0), "control_q95": np.quantile(control, 0.95, axis=0),
                         "excess": excess, "excess_low": excess - z * se, "excess_high": excess + z * se})
