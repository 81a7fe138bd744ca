"""Refusal candidates scored as `refusal.score_candidates` scores them, with the prompts' shared chat prefix run once
per candidate and batch (`engine.prefix_scoring`): the same scores up to float rounding (tested), in about half the
time on chat models, whose system block is half of every validation prompt.

04 scores every post-instruction position x layer of four models (Arditi's and COSMIC's grid) with this. It lives
apart from `lib/refusal.py` only so that the notebooks already run against that module keep their input hashes;
at the next full rerun `refusal.score_candidates` becomes this function and the module goes.
"""
from __future__ import annotations

import sys

import pandas as pd
import torch
from tqdm.auto import tqdm

from . import activations, engine, unitcache
from .engine import backends, generation, prefix_scoring, recipe, sites
from .errors import WorkbookError
from .refusal import block_input_index, cosmic_direction, cosmic_similarity, kl_divergence, refusal_score, refusal_token_ids

_CODE = unitcache.code_version(sys.modules[__name__], prefix_scoring, generation, backends, recipe, sites, activations)


def score_candidates(
    lm,
    candidates: dict[tuple[int, int], torch.Tensor],
    harmful: list[str],
    harmless: list[str],
    low_layers: list[int],
    batch_size: int = 16,
    progress: bool = True,
) -> pd.DataFrame:
    """One row per candidate (layer, position) with every score both selection rules need (`refusal.score_candidates`'
    columns and baseline attributes)."""
    if not candidates:
        raise WorkbookError("No refusal candidates to score: pass at least one (layer, position) vector from 01.")
    if not harmful or not harmless:
        raise WorkbookError("Candidate scoring needs validation prompts on both sides: check the refusal filter's counts.")
    forward = prefix_scoring.forward_last_shared
    openers = refusal_token_ids(lm)
    base_harmful, harmful_states = forward(lm, harmful, None, low_layers, batch_size)
    base_harmless, harmless_states = forward(lm, harmless, None, low_layers, batch_size)
    to_harmless, to_harmful = cosmic_direction(harmless_states), cosmic_direction(harmful_states)

    def score(layer: int, position: int, r: torch.Tensor) -> dict:
        ablate, add = engine.ablate(r), engine.add(r, layer)
        lp_abl, st_abl = forward(lm, harmful, ablate, low_layers, batch_size)
        lp_add, st_add = forward(lm, harmless, add, low_layers, batch_size)
        lp_kl, _ = forward(lm, harmless, ablate, (), batch_size)
        return {
            "layer": layer, "position": position, "block_input": block_input_index(layer), "norm": float(r.norm()),
            "ablation_refusal": float(refusal_score(lp_abl, openers).mean()),
            "addition_refusal": float(refusal_score(lp_add, openers).mean()),
            "kl_harmless": float(kl_divergence(base_harmless, lp_kl).mean()),
            "cosmic_ablation": cosmic_similarity(st_abl, to_harmless),
            "cosmic_addition": cosmic_similarity(st_add, to_harmful),
        }

    # one cached unit per candidate: a killed selection resumes at the first candidate it had not scored
    inputs = [unitcache.model_identity(lm), harmful, harmless, list(low_layers), batch_size, _CODE]
    rows = [unitcache.cached("refusal_candidate_shared", [*inputs, layer, position, r], lambda: score(layer, position, r))
            for (layer, position), r in tqdm(candidates.items(), desc=f"candidates {lm.key}", leave=False, disable=not progress)]
    table = pd.DataFrame(rows)
    table["cosmic_score"] = table["cosmic_ablation"] + table["cosmic_addition"]
    table.attrs["baseline_refusal"] = {
        "harmful": float(refusal_score(base_harmful, openers).mean()),
        "harmless": float(refusal_score(base_harmless, openers).mean()),
    }
    return table
