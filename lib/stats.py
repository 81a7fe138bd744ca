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
    """Rates per group with n and a Wilson interval: one row per group (and per metric when `hits` names several).

    `hits` is a boolean column's name, a list of them, or {metric: function of a group returning a boolean Series}.
    Missing values are not scored: a metric scored on part of a group has that part as its n.

    >>> import pandas as pd
    >>> frame = pd.DataFrame({"model": ["a", "a", "b"], "ok": [True, False, True], "exact": [True, None, None]})
    >>> rate_table(frame, ["model"], "ok")[["model", "k", "n", "rate"]].values.tolist()
    [['a', 1, 2, 0.5], ['b', 1, 1, 1.0]]
    >>> rate_table(frame, ["model"], ["exact"])[["model", "metric", "k", "n"]].values.tolist()
    [['a', 'exact', 1, 1], ['b', 'exact', 0, 0]]
    """
    import pandas as pd

    if isinstance(hits, str):
        metrics = {None: lambda g: g[hits]}
    elif isinstance(hits, dict):
        metrics = hits
    else:
        metrics = {column: (lambda g, column=column: g[column]) for column in hits}
    rows = []
    for keys, group in frame.groupby(by, sort=False):
        keys = keys if isinstance(keys, tuple) else (keys,)
        for metric, select in metrics.items():
            scored = select(group).dropna().astype(bool)
            k, n = int(scored.sum()), len(scored)
            rate, low, high = wilson(k, n)
            rows.append({**dict(zip(by, keys)), **({} if metric is None else {"metric": metric}),
                         "k": k, "n": n, "rate": rate, "low": low, "high": high})
    return pd.DataFrame(rows)


def wide_rates(table, by: list[str]) -> "pd.DataFrame":
    """`rate_table`'s long rows as one row per group: columns <metric>, <metric>_low, <metric>_high, <metric>_n.

    >>> import pandas as pd
    >>> long = rate_table(pd.DataFrame({"g": ["a", "a"], "x": [True, False], "y": [True, True]}), ["g"], ["x", "y"])
    >>> row = wide_rates(long, ["g"]).iloc[0]
    >>> float(row["x"]), int(row["x_n"]), float(row["y"])
    (0.5, 2, 1.0)
    """
    columns = {"rate": "", "low": "_low", "high": "_high", "n": "_n"}
    wide = table.pivot(index=by, columns="metric", values=list(columns))
    wide.columns = [f"{metric}{columns[value]}" for value, metric in wide.columns]
    metrics = list(dict.fromkeys(table["metric"]))
    wide = wide[[f"{metric}{suffix}" for metric in metrics for suffix in columns.values()]]
    return wide.astype({f"{metric}_n": int for metric in metrics}).reset_index()
