"""Interval estimates, from statsmodels and scipy rather than hand-rolled formulas.

>>> wilson(8, 10)
(0.8, 0.49..., 0.94...)
"""
from __future__ import annotations

import numpy as np


def wilson(successes: int, n: int, alpha: float = 0.05) -> tuple[float, float, float]:
    """Rate with its Wilson score interval: (rate, low, high)."""
    from statsmodels.stats.proportion import proportion_confint

    if n == 0:
        return float("nan"), float("nan"), float("nan")
    low, high = proportion_confint(successes, n, alpha=alpha, method="wilson")
    return successes / n, float(low), float(high)


def bootstrap_ci(values, statistic=np.mean, n_resamples: int = 2000, seed: int = 0, alpha: float = 0.05):
    """Point estimate and percentile-bootstrap interval of `statistic` over the first axis: (value, low, high)."""
    from scipy.stats import bootstrap

    values = np.asarray(values, dtype=float)
    result = bootstrap(
        (values,), statistic, n_resamples=n_resamples, confidence_level=1 - alpha,
        method="percentile", random_state=np.random.default_rng(seed), vectorized=False,
    )
    return float(statistic(values)), float(result.confidence_interval.low), float(result.confidence_interval.high)

