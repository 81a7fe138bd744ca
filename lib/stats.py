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



def rate_table(frame, by: list[str], hits) -> "pd.DataFrame":
    """Rates per group with n and a Wilson interval: one row per group (and per metric when `hits` is a dict).

    `hits` is a boolean column's name, or {metric: function of a group returning a boolean Series}.

    >>> import pandas as pd
    >>> table = rate_table(pd.DataFrame({"model": ["a", "a", "b"], "ok": [True, False, True]}), ["model"], "ok")
    >>> table[["model", "k", "n", "rate"]].values.tolist()
    [['a', 1, 2, 0.5], ['b', 1, 1, 1.0]]
    """
    import pandas as pd

    metrics = {None: lambda g: g[hits]} if isinstance(hits, str) else hits
    rows = []
    for keys, group in frame.groupby(by, sort=False):
        keys = keys if isinstance(keys, tuple) else (keys,)
        for metric, select in metrics.items():
            k, n = int(select(group).sum()), len(group)
            rate, low, high = wilson(k, n)
            rows.append({**dict(zip(by, keys)), **({} if metric is None else {"metric": metric}),
                         "k": k, "n": n, "rate": rate, "low": low, "high": high})
    return pd.DataFrame(rows)
