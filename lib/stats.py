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


def _cluster_codes(clusters) -> np.ndarray:
    import pandas as pd

    return pd.factorize(pd.Series(list(clusters)))[0]


def clustered_mean(values, clusters, alpha: float = 0.05) -> dict:
    """Mean with a cluster-robust interval (statsmodels OLS on an intercept, CR1 variance, t with G - 1 df).

    Observations of one cluster (the same item under eight templates, one template pair at several layers) are not
    independent; this interval widens by as much as they agree. Returns mean, low, high, n and n_clusters; a sample
    with no spread has a zero-width interval (callers with yes/no data bound it instead, see `clustered_rate`).

    >>> r = clustered_mean([1.0, 1.0, 0.0, 0.0, 1.0, 0.0], ["a", "a", "b", "b", "c", "c"])
    >>> round(r["mean"], 2), r["n_clusters"], r["low"] < 0.0 < 1.0 < r["high"]
    (0.5, 3, True)
    """
    import statsmodels.api as sm

    values = np.asarray(values, dtype=float)
    codes = _cluster_codes(clusters)
    if len(values) != len(codes):
        raise ValueError(f"clustered_mean needs one cluster label per value, got {len(values)} values and {len(codes)} labels.")
    n, n_clusters = len(values), len(np.unique(codes))
    if n == 0:
        return {"mean": float("nan"), "low": float("nan"), "high": float("nan"), "n": 0, "n_clusters": 0}
    mean = float(values.mean())
    if n_clusters < 2 or np.all(values == values[0]):
        return {"mean": mean, "low": mean, "high": mean, "n": n, "n_clusters": n_clusters}
    fit = sm.OLS(values, np.ones(n)).fit(cov_type="cluster", cov_kwds={"groups": codes}, use_t=True)
    low, high = fit.conf_int(alpha)[0]
    return {"mean": mean, "low": float(low), "high": float(high), "n": n, "n_clusters": n_clusters}


def clustered_rate(hits, clusters, alpha: float = 0.05) -> dict:
    """A rate with a Wilson interval on the effective sample size n / design effect (Kish), for clustered yes/no data.

    The design effect is the cluster-robust variance of the rate (`clustered_mean`) over the binomial one, at least 1.
    At a rate of 0 or 1 the data cannot estimate it, so every cluster counts as one observation (the conservative
    bound). With one observation per cluster this is the plain Wilson interval.

    >>> same = clustered_rate([True] * 8 + [False] * 8, list(range(16)))
    >>> [round(x, 3) for x in (same["low"], same["high"])] == [round(x, 3) for x in wilson(8, 16)[1:]]
    True
    >>> wide = clustered_rate([True] * 8 + [False] * 8, [0] * 8 + [1] * 8)  # two items, each all right or all wrong
    >>> wide["low"] < same["low"], round(wide["design_effect"], 1)
    (True, 8.0)
    """
    from statsmodels.stats.proportion import proportion_confint

    hits = np.asarray(hits, dtype=float)
    codes = _cluster_codes(clusters)
    n, n_clusters = len(hits), len(np.unique(codes))
    if n == 0:
        return {"rate": float("nan"), "low": float("nan"), "high": float("nan"), "n": 0, "n_clusters": 0, "design_effect": float("nan")}
    rate = float(hits.mean())
    if 0.0 < rate < 1.0 and n_clusters > 1:
        import statsmodels.api as sm

        # The sandwich variance of the mean without small-sample factors: with one observation per cluster it is
        # exactly the binomial p(1 - p) / n, so the design effect is 1 and the interval is Wilson's.
        fit = sm.OLS(hits, np.ones(n)).fit(cov_type="cluster", cov_kwds={"groups": codes, "use_correction": False})
        design_effect = max(1.0, float(fit.bse[0]) ** 2 / (rate * (1 - rate) / n))
    else:
        design_effect = n / n_clusters
    n_effective = n / design_effect
    low, high = proportion_confint(rate * n_effective, n_effective, alpha=alpha, method="wilson")
    return {"rate": rate, "low": float(low), "high": float(high), "n": n, "n_clusters": n_clusters, "design_effect": float(design_effect)}


def cluster_bootstrap_ci(statistic, clusters, n_resamples: int = 2000, seed: int = 0, alpha: float = 0.05) -> tuple[float, float, float]:
    """Percentile interval of `statistic(row_indices)` when whole clusters are resampled (scipy's bootstrap over them).

    For statistics over rows that share a cluster (a correlation over template pairs observed at several layers and
    tasks): each resample draws clusters with replacement and passes all their rows. Resamples where the statistic is
    undefined (NaN) are dropped. Returns (value on all rows, low, high).

    >>> import numpy as np
    >>> x = np.arange(12.0)
    >>> value, low, high = cluster_bootstrap_ci(lambda rows: x[rows].mean(), np.repeat([0, 1, 2, 3], 3))
    >>> value, low < value < high
    (5.5, True)
    """
    from scipy.stats import bootstrap

    codes = _cluster_codes(clusters)
    members = [np.flatnonzero(codes == c) for c in range(codes.max() + 1)]

    def on_clusters(chosen):
        return statistic(np.concatenate([members[int(c)] for c in chosen]))

    value = float(statistic(np.arange(len(codes))))
    if len(members) < 2:
        return value, value, value
    result = bootstrap((np.arange(len(members)),), lambda chosen: on_clusters(chosen), n_resamples=n_resamples,
                       confidence_level=1 - alpha, method="percentile", random_state=np.random.default_rng(seed),
                       vectorized=False)
    low, high = result.confidence_interval.low, result.confidence_interval.high
    if not (np.isfinite(low) and np.isfinite(high)):  # scipy gives NaN if any resample was undefined: drop those
        draws = np.asarray(result.bootstrap_distribution, dtype=float)
        draws = draws[np.isfinite(draws)]
        low, high = np.percentile(draws, [100 * alpha / 2, 100 * (1 - alpha / 2)]) if len(draws) else (np.nan, np.nan)
    return value, float(low), float(high)


def rate_table(frame, by: list[str], hits, cluster: str | None = None) -> "pd.DataFrame":
    """Rates per group with n and a Wilson interval: one row per group (and per metric when `hits` names several).

    `hits` is a boolean column's name, a list of them, or {metric: function of a group returning a boolean Series}.
    Missing values are not scored: a metric scored on part of a group has that part as its n. With `cluster` (a
    column: the item a prompt asks about), the interval is `clustered_rate`'s and the rows gain n_clusters.

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
            extra = {}
            if cluster is None:
                rate, low, high = wilson(k, n)
            else:
                clustered = clustered_rate(scored.to_numpy(), group.loc[scored.index, cluster].to_numpy())
                rate, low, high = clustered["rate"], clustered["low"], clustered["high"]
                extra = {"n_clusters": clustered["n_clusters"]}
            rows.append({**dict(zip(by, keys)), **({} if metric is None else {"metric": metric}),
                         "k": k, "n": n, "rate": rate, "low": low, "high": high, **extra})
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
