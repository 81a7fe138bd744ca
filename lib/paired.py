"""Paired comparisons on the same prompts: a steered outcome against the unsteered one, prompt by prompt.

Every effect in the workbook is measured on the same prompts with and without an intervention, so
the natural tests are paired: the mean difference with a percentile-bootstrap interval over
prompts, plus an exact test of the pairs (Wilcoxon signed-rank for measures, McNemar for yes/no
outcomes, a sign test for "shorter on k of n"). Pairs with a missing value on either side are dropped.

>>> paired_continuous([3, 4, 5, 6], [5, 6, 7, 8])["difference"]
-2.0
"""
from __future__ import annotations

import numpy as np
from scipy.stats import binomtest, wilcoxon
from statsmodels.stats.contingency_tables import mcnemar

from . import stats
from .errors import WorkbookError


def _pairs(a, b) -> tuple[np.ndarray, np.ndarray]:
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.shape != b.shape or a.ndim != 1:
        raise WorkbookError(f"Paired outcomes need two flat arrays of one length, got shapes {a.shape} and {b.shape}: align them by prompt first.")
    keep = np.isfinite(a) & np.isfinite(b)
    return a[keep], b[keep]


def mean_ci(values, n_resamples: int = 2000, seed: int = 0) -> dict:
    """Mean with a percentile-bootstrap interval; a constant sample has a zero-width interval."""
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    if len(values) == 0:
        return {"mean": float("nan"), "low": float("nan"), "high": float("nan"), "n": 0}
    if len(values) < 2 or np.all(values == values[0]):
        mean = float(values.mean())
        return {"mean": mean, "low": mean, "high": mean, "n": len(values)}
    mean, low, high = stats.bootstrap_ci(values, n_resamples=n_resamples, seed=seed)
    return {"mean": mean, "low": low, "high": high, "n": len(values)}


def paired_continuous(here, reference, n_resamples: int = 2000, seed: int = 0) -> dict:
    """here - reference on the same prompts: means, mean difference with its interval, Wilcoxon p."""
    a, b = _pairs(here, reference)
    diff = a - b
    ci = mean_ci(diff, n_resamples, seed)
    p = float(wilcoxon(diff).pvalue) if np.any(diff != 0) else 1.0
    return {"mean": float(a.mean()) if len(a) else float("nan"), "reference_mean": float(b.mean()) if len(b) else float("nan"),
            "difference": ci["mean"], "low": ci["low"], "high": ci["high"], "p_wilcoxon": p, "n": len(diff)}


def paired_binary(here, reference, n_resamples: int = 2000, seed: int = 0, clusters=None) -> dict:
    """Yes/no outcomes on the same prompts: rates, difference with its interval, exact McNemar p.

    With `clusters` (one label per prompt: the item several templates ask about), the difference's interval is
    cluster-robust (`stats.clustered_mean`) instead of a bootstrap over prompts; McNemar's p still treats prompts as
    independent, so read the interval.

    >>> r = paired_binary([False] * 20, [False] * 20)  # 0 of 20 against 0 of 20: no difference seen, none excluded
    >>> r["difference"], round(r["low"], 3), round(r["high"], 3)
    (0.0, -0.161, 0.161)
    """
    a, b = (np.asarray(x).astype(bool) for x in (here, reference))
    if a.shape != b.shape:
        raise WorkbookError(f"Paired outcomes need one value per prompt on both sides, got {a.shape} and {b.shape}.")
    table = [[int((a & b).sum()), int((a & ~b).sum())], [int((~a & b).sum()), int((~a & ~b).sum())]]
    if clusters is None:
        ci = mean_ci(a.astype(float) - b.astype(float), n_resamples, seed)
        n_units = len(a)
    else:
        ci = stats.clustered_mean(a.astype(float) - b.astype(float), clusters)
        n_units = ci["n_clusters"]
    if len(a) and table[0][1] + table[1][0] == 0:
        # No discordant pair: the bootstrap collapses to [0, 0], a certainty the data do not carry. The difference is
        # at most the share of discordant pairs, so ± its Wilson upper bound is a valid (conservative) interval.
        bound = stats.wilson(0, n_units)[2]
        ci = {**ci, "low": -bound, "high": bound}
    return {"rate": float(a.mean()), "reference_rate": float(b.mean()), "difference": ci["mean"], "low": ci["low"],
            "high": ci["high"], "only_here": table[0][1], "only_reference": table[1][0],
            "p_mcnemar": float(mcnemar(table, exact=True).pvalue), "n": len(a)}


def sign_test(here, reference) -> dict:
    """How often here < reference, > reference, or tied, with the two-sided sign test on the untied pairs."""
    a, b = _pairs(here, reference)
    lower, higher = int((a < b).sum()), int((a > b).sum())
    p = float(binomtest(lower, lower + higher).pvalue) if lower + higher else 1.0
    return {"lower": lower, "higher": higher, "ties": len(a) - lower - higher, "p_sign": p, "n": len(a)}
