"""Refusal-direction selection: the two published rules, and COSMIC scores that tell candidates apart."""
from __future__ import annotations

import math

import pandas as pd
import pytest
import torch

from lib import directions, prompts, refusal
from lib.activations import capture, last_tokens


def test_refusal_score_is_the_log_odds_of_the_opener_tokens():
    probs = torch.tensor([[0.2, 0.3, 0.5], [0.9, 0.05, 0.05]])
    scores = refusal.refusal_score(probs.log(), [0])
    assert scores.tolist() == pytest.approx([math.log(0.2 / 0.8), math.log(0.9 / 0.1)], abs=1e-5)


def test_kl_is_zero_for_identical_distributions_and_positive_otherwise():
    p = torch.tensor([[0.5, 0.5]]).log()
    assert float(refusal.kl_divergence(p, p)) == pytest.approx(0.0)
    assert float(refusal.kl_divergence(p, torch.tensor([[0.9, 0.1]]).log())) > 0.1


def test_cosmic_low_layers_are_the_least_similar_tenth():
    harmful = torch.eye(20)[:, :20] + 1.0
    harmless = harmful.clone()
    harmless[7] = -harmless[7]  # layer 7 differs most
    harmless[3, 3] = 0.0  # layer 3 a little
    assert refusal.cosmic_low_layers(harmful, harmless) == [3, 7]


def _table(**columns):
    base = {"layer": [2, 5, 9, 11], "position": [-1] * 4, "norm": [1.0] * 4,
            "ablation_refusal": [-3.0, -5.0, -6.0, -9.0], "addition_refusal": [0.5, 1.0, -0.2, 2.0],
            "kl_harmless": [0.05, 0.08, 0.02, 0.01], "cosmic_ablation": [0.9, 0.95, 0.97, 0.99],
            "cosmic_addition": [0.9, 0.91, 0.90, 0.99]}
    base.update(columns)
    table = pd.DataFrame(base)
    table["cosmic_score"] = table["cosmic_ablation"] + table["cosmic_addition"]
    return table


def test_arditi_picks_the_lowest_ablation_score_that_passes_every_filter():
    # layer 11 is >= 0.8 L (L = 12) and layer 9 induces no refusal: layer 5 wins
    row, ok = refusal.select_arditi(_table(), n_layers=12)
    assert (int(row["layer"]), ok) == (5, True)
    row, ok = refusal.select_arditi(_table(kl_harmless=[0.5] * 4), n_layers=12)
    assert ok is False  # no candidate passes: the best unfiltered one, flagged


def test_cosmic_picks_the_highest_cosine_score_outside_the_last_fifth():
    row, ok = refusal.select_cosmic(_table(), n_layers=12)
    assert (int(row["layer"]), ok) == (9, True)


def test_cosmic_gives_different_candidates_different_scores(smol):
    """The seed's public COSMIC code scored every candidate alike and always picked the first layer."""
    fmt = lambda items: [prompts.format_instruction(smol, x) for x in items]
    harmful = fmt(prompts.load_prompt_set("harmful")["items"][:6])
    harmless = fmt(prompts.load_prompt_set("harmless")["items"][:6])
    layers = [4, 12, 20]
    pos = capture(smol, harmful, layers, last_tokens(1), progress=False)[:, :, 0]
    neg = capture(smol, harmless, layers, last_tokens(1), progress=False)[:, :, 0]
    dims = directions.diff_in_means(pos, neg)
    low = refusal.cosmic_low_layers(pos.mean(0), neg.mean(0))
    table = refusal.score_candidates(smol, {(l, -1): dims[i] for i, l in enumerate(layers)}, harmful[3:], harmless[3:], low)
    assert table["cosmic_score"].nunique() == len(layers)
    assert table["cosmic_score"].std() > 1e-3
    assert table["ablation_refusal"].nunique() == len(layers)
    row, _ = refusal.select_cosmic(table, smol.n_layers)
    assert int(row["layer"]) == int(table.loc[table["cosmic_score"].idxmax(), "layer"])
