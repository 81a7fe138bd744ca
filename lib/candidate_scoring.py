"""Refusal candidates scored as `refusal.score_candidates` scores them, with two savings that leave every pick as it is:

- the prompts' shared chat prefix runs once per candidate and batch (`engine.prefix_scoring`): the same scores up to
  float rounding (tested), a third less time on chat models, whose system block is half of every validation prompt;
- the addition pass at layer l reuses the unedited pass's outputs of the blocks below l (`replay`), which the
  addition cannot change: the same scores (tested), for about a quarter less time over the grid;
- `kl_for="arditi"` or `"cosmic"`: the KL pass (ablation on harmless prompts) runs only down that rule's order of
  preference, among the candidates that pass its other filters, until one passes KL <= 0.1. Both rules pick the best
  valid candidate, so the pick is the one all KLs would give (tested); the KL of a candidate never reached stays NaN
  (`kl_checked` False). A third of the passes of a full grid.

04 scores every post-instruction position x layer of four models (Arditi's and COSMIC's grid) with this. It lives
apart from `lib/refusal.py` only so that the notebooks already run against that module keep their input hashes;
at the next full rerun `refusal.score_candidates` becomes this function and the module goes.
"""
from __future__ import annotations

import sys

import pandas as pd
import torch
from tqdm.auto import tqdm

from . import activations, engine, refusal, unitcache
from .engine import backends, generation, prefix_scoring, recipe, sites
from .errors import WorkbookError
from .refusal import KL_MAX, block_input_index, cosmic_direction, cosmic_similarity, kl_divergence, refusal_score, refusal_token_ids

_CODE = unitcache.code_version(sys.modules[__name__], prefix_scoring, generation, backends, recipe, sites, activations)


# per rule: its validity filter and the score it prefers (ascending or not), for the lazy KL walk
PREFERENCE = {"arditi": (refusal.arditi_valid, "ablation_refusal", True), "cosmic": (refusal.cosmic_valid, "cosmic_score", False)}


def score_candidates(
    lm,
    candidates: dict[tuple[int, int], torch.Tensor],
    harmful: list[str],
    harmless: list[str],
    low_layers: list[int],
    batch_size: int = 16,
    progress: bool = True,
    kl_for: str | None = None,
) -> pd.DataFrame:
    """One row per candidate (layer, position) with every score both selection rules need (`refusal.score_candidates`'
    columns and baseline attributes, plus `kl_checked`); `kl_for` names the rule whose pick the KL is computed for."""
    if not candidates:
        raise WorkbookError("No refusal candidates to score: pass at least one (layer, position) vector from 01.")
    if not harmful or not harmless:
        raise WorkbookError("Candidate scoring needs validation prompts on both sides: check the refusal filter's counts.")
    if kl_for not in (None, *PREFERENCE):
        raise WorkbookError(f"Unknown selection rule {kl_for!r} for the KL walk: use None, 'arditi' or 'cosmic'.")
    forward = prefix_scoring.forward_last_shared
    openers = refusal_token_ids(lm)
    base_harmful, harmful_states = forward(lm, harmful, None, low_layers, batch_size)
    unedited: list = []  # the blocks' outputs on the harmless prompts: an addition at layer l changes none below l
    base_harmless, harmless_states = forward(lm, harmless, None, low_layers, batch_size, record=unedited)
    to_harmless, to_harmful = cosmic_direction(harmless_states), cosmic_direction(harmful_states)

    def steering_scores(layer: int, position: int, r: torch.Tensor) -> dict:
        lp_abl, st_abl = forward(lm, harmful, engine.ablate(r), low_layers, batch_size)
        lp_add, st_add = forward(lm, harmless, engine.add(r, layer), low_layers, batch_size, replay=(unedited, layer))
        return {"layer": layer, "position": position, "block_input": block_input_index(layer), "norm": float(r.norm()),
                "ablation_refusal": float(refusal_score(lp_abl, openers).mean()),
                "addition_refusal": float(refusal_score(lp_add, openers).mean()),
                "cosmic_ablation": cosmic_similarity(st_abl, to_harmless), "cosmic_addition": cosmic_similarity(st_add, to_harmful)}

    def kl(r: torch.Tensor) -> float:
        lp_kl, _ = forward(lm, harmless, engine.ablate(r), (), batch_size)
        return float(kl_divergence(base_harmless, lp_kl).mean())

    # one cached unit per candidate and pass kind: a killed selection resumes at the first candidate it had not scored
    inputs = [unitcache.model_identity(lm), harmful, harmless, list(low_layers), batch_size, _CODE]
    rows = [unitcache.cached("refusal_candidate_steering", [*inputs, layer, position, r], lambda: steering_scores(layer, position, r))
            for (layer, position), r in tqdm(candidates.items(), desc=f"candidates {lm.key}", leave=False, disable=not progress)]
    table = pd.DataFrame(rows)
    table["cosmic_score"] = table["cosmic_ablation"] + table["cosmic_addition"]
    table["kl_harmless"] = float("nan")
    key_of = lambda i: (int(table.at[i, "layer"]), int(table.at[i, "position"]))
    cached_kl = lambda i: unitcache.cached("refusal_candidate_kl", [*inputs, *key_of(i), candidates[key_of(i)]],
                                           lambda: kl(candidates[key_of(i)]))
    for i in _kl_order(table, lm.n_layers, kl_for):
        table.at[i, "kl_harmless"] = cached_kl(i)
        if kl_for is not None and table.at[i, "kl_harmless"] <= KL_MAX:
            break  # the rule's pick: every candidate it prefers has failed the KL filter
    table["kl_checked"] = table["kl_harmless"].notna()
    table.attrs["baseline_refusal"] = {
        "harmful": float(refusal_score(base_harmful, openers).mean()),
        "harmless": float(refusal_score(base_harmless, openers).mean()),
    }
    return table


def _kl_order(table: pd.DataFrame, n_layers: int, kl_for: str | None) -> list[int]:
    """Rows whose KL to compute, in order: all of them, or the rule's candidates that pass its other filters, best first."""
    if kl_for is None:
        return list(table.index)
    valid, score, ascending = PREFERENCE[kl_for]
    passes_the_rest = valid(table.assign(kl_harmless=0.0), n_layers)
    return list(table[passes_the_rest].sort_values(score, ascending=ascending, kind="stable").index)
