"""Intervals (stats), figures (plotting) and the claims ledger (artifacts.write_claims, workbook.paper.collect_claims)."""
from __future__ import annotations

import json
import math

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from lib import artifacts, plotting, stats  # noqa: E402
from lib.workbook import paper  # noqa: E402
from lib.paths import figures_dir, results_dir  # noqa: E402


def test_wilson_interval_has_the_textbook_values_and_stays_inside_zero_one():
    rate, low, high = stats.wilson(0, 10)
    assert rate == 0 and low == pytest.approx(0.0, abs=1e-12) and high == pytest.approx(0.2775, abs=1e-4)  # 1.96^2 / (10 + 1.96^2)
    rate, low, high = stats.wilson(5, 10)
    assert (low, high) == pytest.approx((0.2366, 0.7634), abs=1e-4)
    assert stats.wilson(10, 10)[2] == pytest.approx(1.0) and stats.wilson(10, 10)[1] < 1
    assert all(math.isnan(x) for x in stats.wilson(0, 0))  # no cases: no rate, not a rate of zero


def test_bootstrap_interval_is_reproducible_and_collapses_on_constant_data():
    values = np.random.default_rng(1).normal(size=50)
    first, again = stats.bootstrap_ci(values, seed=3), stats.bootstrap_ci(values, seed=3)
    assert first == again and first[1] < values.mean() < first[2]
    assert stats.bootstrap_ci(np.full(20, 2.0))[1:] == pytest.approx((2.0, 2.0))


def test_clustered_intervals_widen_with_agreement_inside_clusters_and_reduce_to_the_plain_ones_without_it():
    rng = np.random.default_rng(0)
    item_effect = rng.normal(size=40)
    # 40 items under 8 templates each; a template changes little, so an item's 8 prompts mostly agree.
    hits = (item_effect[:, None] + 0.2 * rng.normal(size=(40, 8)) > 0).ravel()
    items = np.repeat(np.arange(40), 8)
    naive = stats.wilson(int(hits.sum()), len(hits))
    clustered = stats.clustered_rate(hits, items)
    assert clustered["rate"] == naive[0] and clustered["n_clusters"] == 40
    assert clustered["design_effect"] > 4  # near-total agreement within an item: about 8 prompts count as one
    assert clustered["high"] - clustered["low"] > 1.8 * (naive[2] - naive[1])
    independent = stats.clustered_rate(hits, np.arange(len(hits)))
    assert np.allclose([independent["low"], independent["high"]], naive[1:])
    # No spread to estimate the design effect from: every cluster counts once.
    assert np.isclose(stats.clustered_rate([True] * 320, items)["low"], stats.wilson(40, 40)[1])
    # A mean of paired differences and a rate table with a cluster column use the same interval.
    table = stats.rate_table(__import__("pandas").DataFrame({"g": "a", "hit": hits, "item": items}), ["g"], "hit", cluster="item")
    assert np.isclose(table["low"].iloc[0], clustered["low"]) and table["n_clusters"].iloc[0] == 40
    mean = stats.clustered_mean(hits.astype(float), items)
    assert mean["low"] < mean["mean"] < mean["high"] and mean["n_clusters"] == 40


def test_the_cluster_bootstrap_resamples_whole_clusters():
    # Two clusters of opposite values: resampling rows would give a narrow interval around 0; resampling the
    # clusters gives the extremes, all of one or all of the other.
    values = np.array([1.0] * 10 + [-1.0] * 10)
    value, low, high = stats.cluster_bootstrap_ci(lambda rows: values[rows].mean(), [0] * 10 + [1] * 10, n_resamples=500)
    assert value == 0.0 and np.isclose(low, -1.0) and np.isclose(high, 1.0)
    rerun = stats.cluster_bootstrap_ci(lambda rows: values[rows].mean(), [0] * 10 + [1] * 10, n_resamples=500)
    assert rerun == (value, low, high)


def test_error_bars_are_distances_clipped_at_zero():
    yerr = plotting.error_bars([0.0, 0.5], [1e-17, 0.25], [0.2, 0.9])  # a bound past its rate by rounding
    np.testing.assert_allclose(yerr, [[0.0, 0.25], [0.2, 0.4]])
    assert (yerr >= 0).all()


def test_figures_are_written_as_pdf_and_png_with_no_temporary_file_and_no_date(output_root):
    plotting.setup()
    fig, ax = plt.subplots()
    ax.plot([0, 1], [1, 0])
    paths = plotting.save_figure(fig, "99_test", "line")
    plt.close(fig)
    assert [p.suffix for p in paths] == [".pdf", ".png"] and all(p.stat().st_size > 1000 for p in paths)
    assert sorted(p.name for p in figures_dir("99_test").iterdir()) == ["line.pdf", "line.png"]
    assert b"/CreationDate" not in paths[0].read_bytes()  # the same figure gives the same bytes


def test_the_ledger_round_trips_every_field_into_the_paper_table(output_root):
    claims = [artifacts.Claim.tested("S000-x", "000", "Steering shortens answers", "50.6 vs 124.3 words", 0.25, 64, 0.1, 0.4,
                                     artifacts.Rule.above(0.0), precondition="answers not capped", note="paired")]
    artifacts.write_claims("99_test", claims)
    stored = json.loads((results_dir("99_test") / "claims.json").read_text())
    assert stored == [{**claims[0].__dict__, "rule": vars(claims[0].rule)}]
    assert stored[0]["verdict"] == "reproduced" and stored[0]["rule_text"].startswith("reproduced if the 95 % CI lies > 0")
    table = paper.collect_claims().read_text()
    assert "S000-x" in table and "[0.1, 0.4]" in table and "& 64 &" in table and "reproduced" in table
    assert r"\href{../results/site/index.html\#S000-x}{S000-x}" in table  # the claim's row on the claims site
    assert paper._linked("S003-inverse-scaling-DIMAtTheDev", "u") == r"\href{u}{S003-inverse-scaling-DIMAt\allowbreak{}The\allowbreak{}Dev}"
    forged = artifacts.Claim.tested("S000-y", "000", "c", "1", 0.05, 3, -0.1, 0.2, artifacts.Rule.above(0.0))
    forged.verdict = "reproduced"  # an interval that includes the null cannot carry "reproduced"
    with pytest.raises(artifacts.WorkbookError, match="its rule .* gives 'inconclusive'"):
        artifacts.write_claims("99_test", [forged])
    assert json.loads((results_dir("99_test") / "claims.json").read_text()) == stored  # the old ledger survives


def test_an_untestable_claim_has_no_value_in_the_ledger_or_the_table(output_root):
    claim = artifacts.Claim.not_testable("S003-z", "003", "DIM matches COSMIC", "60 % vs 10 %", "refuses no harmful prompt")
    artifacts.write_claims("99_test", [claim])
    stored = json.loads((results_dir("99_test") / "claims.json").read_text())[0]
    assert stored["value_here"] is None and stored["ci_low"] is None and stored["n"] == 0
    row = next(line for line in paper.collect_claims().read_text().splitlines() if "{S003-z}" in line)
    assert "&  &  &  & not testable here" in row  # value, interval and n left empty


def test_a_generated_table_wraps_to_the_line_and_leaves_missing_numbers_empty(output_root):
    import pandas as pd

    frame = pd.DataFrame({("rate", "dim"): [0.5, float("nan")], ("rate", "cosmic"): ["0.10 [0.02, 0.30]", "n_a"]})
    path = artifacts.write_latex_table(output_root / "t.tex", frame, caption="c", label="tab:t")
    text = path.read_text()
    assert r"\begin{tabularx}{\linewidth}{r>{\raggedright\arraybackslash}X}" in text  # numbers r, text wraps
    assert "rate / dim & rate / cosmic" in text and r"0.5 & 0.10 [0.02, 0.30] \\" in text and r" & n\_a \\" in text


def test_the_build_names_a_generated_table_that_runs_off_the_page():
    log = "\n".join([
        "(./sections/scaling.tex (./generated/04_scaling/rates_table.tex",
        "Overfull \\hbox (75.3pt too wide) in paragraph at lines 3--11",
        "[]\\T1/ptm/m/n/10 (Wilson 95",  # the box's printout: unbalanced parentheses are skipped
        "",
        ") Overfull \\hbox (2.0pt too wide) in paragraph at lines 40--41",
        ")",
        "Overfull \\hbox (3.0pt too wide) in paragraph at lines 7--8",
    ])
    assert paper.overfull_in_generated(log) == ["generated/04_scaling/rates_table.tex: 75.3pt too wide"]


def test_the_model_loop_frees_each_model_and_counts_its_size_in_the_progress_bar(output_root, capsys):
    import torch

    from lib import notebook, unitcache

    try:
        nb = notebook.start("99_test", prefix="T")
    finally:  # start switches on what a notebook process wants; give the test process its defaults back
        unitcache.enable(False)
        torch.use_deterministic_algorithms(False)
    loaded, released = [], []

    class Fake:
        hf = nn = "weights"

    def load(key):
        loaded.append(key)
        return Fake()

    for key, lm in nb.models(["smollm2-135m", "fp32"], load=load):
        assert lm.hf == "weights"
        released.append(lm)
    assert loaded == ["smollm2-135m", "fp32"] and all(lm.hf is None for lm in released)  # released after each body
    bar = capsys.readouterr().err
    assert "99_test: models" in bar and "135M" in bar  # the zoo model by its parameter count
