"""Refusal directions: scores under intervention, and the two published selection rules.

Candidates are difference-in-means vectors r[layer, position] from 01. Each candidate is scored
from three batched forward passes on validation prompts (no generation):

- ablation on harmful prompts (r̂ projected out wherever the residual stream is written): Arditi's refusal score, and COSMIC's
  cosine of the last-token states at the L_low layers to the mean harmless state;
- addition on harmless prompts (r added at its layer, every position): Arditi's induced refusal
  score, and COSMIC's cosine to the mean harmful state;
- ablation on harmless prompts: KL divergence of the next-token distribution to the unsteered one.

`select_arditi` and `select_cosmic` then apply each paper's filters and choice. The refusal score
is the log-odds of the first answer token being a refusal opener ("I", "As", "Sorry", ...).
"""
from __future__ import annotations

import pandas as pd
import torch
from tqdm.auto import tqdm

from . import engine
from .errors import WorkbookError

REFUSAL_OPENERS = ("I", "As", "Sorry", "Unfortunately")  # Arditi et al. use the first token of such openers
KL_MAX = 0.1
LAYER_MAX_FRACTION = 0.8  # Arditi: candidates from the last 20 % of layers are discarded
COSMIC_LOW_FRACTION = 0.1  # COSMIC: L_low is the 10 % of layers with the lowest harmful/harmless cosine


def refusal_token_ids(lm) -> list[int]:
    """First token of each refusal opener, with and without a leading space (chat and Q/A formats)."""
    ids = set()
    for word in REFUSAL_OPENERS:
        for text in (word, " " + word):
            ids.add(lm.tokenizer(text, add_special_tokens=False).input_ids[0])
    return sorted(ids)


def refusal_score(logprobs: torch.Tensor, token_ids: list[int]) -> torch.Tensor:
    """log p(refusal opener) - log p(anything else), per row of next-token log-probs [n, vocab]."""
    log_p = torch.logsumexp(logprobs[:, token_ids], dim=-1)
    return log_p - torch.log1p(-log_p.exp().clamp(max=1 - 1e-7))


def kl_divergence(base_logprobs: torch.Tensor, new_logprobs: torch.Tensor) -> torch.Tensor:
    """KL(base || new) per row, in nats."""
    return (base_logprobs.exp() * (base_logprobs - new_logprobs)).sum(-1)


def cosmic_low_layers(mean_harmful: torch.Tensor, mean_harmless: torch.Tensor) -> list[int]:
    """COSMIC's L_low: the ceil(10 %) of layers where mean harmful and harmless last-token states differ most."""
    cos = torch.nn.functional.cosine_similarity(mean_harmful.float(), mean_harmless.float(), dim=-1)
    k = max(1, int(round(COSMIC_LOW_FRACTION * len(cos) + 0.499)))
    return sorted(torch.argsort(cos)[:k].tolist())


def _mean_cosine(states: torch.Tensor, reference: torch.Tensor) -> float:
    """Cosine of the prompt-mean state to the reference at each L_low layer, averaged over layers."""
    return float(torch.nn.functional.cosine_similarity(states.mean(0), reference, dim=-1).mean())


def score_candidates(
    lm,
    candidates: dict[tuple[int, int], torch.Tensor],
    harmful: list[str],
    harmless: list[str],
    low_layers: list[int],
    batch_size: int = 16,
) -> pd.DataFrame:
    """One row per candidate (layer, position) with every score both selection rules need."""
    if not candidates:
        raise WorkbookError("No refusal candidates to score: pass at least one (layer, position) vector from 01.")
    openers = refusal_token_ids(lm)
    base_harmful, harmful_states = engine.forward_last(lm, harmful, None, low_layers, batch_size, progress=False)
    base_harmless, harmless_states = engine.forward_last(lm, harmless, None, low_layers, batch_size, progress=False)
    mu_harmful, mu_harmless = harmful_states.mean(0), harmless_states.mean(0)
    rows = []
    for (layer, position), r in tqdm(candidates.items(), desc=f"candidates {lm.key}", leave=False):
        ablate, add = engine.ablate(r), engine.add(r, layer)
        lp_abl, st_abl = engine.forward_last(lm, harmful, ablate, low_layers, batch_size, progress=False)
        lp_add, st_add = engine.forward_last(lm, harmless, add, low_layers, batch_size, progress=False)
        lp_kl, _ = engine.forward_last(lm, harmless, ablate, (), batch_size, progress=False)
        rows.append({
            "layer": layer, "position": position, "norm": float(r.norm()),
            "ablation_refusal": float(refusal_score(lp_abl, openers).mean()),
            "addition_refusal": float(refusal_score(lp_add, openers).mean()),
            "kl_harmless": float(kl_divergence(base_harmless, lp_kl).mean()),
            "cosmic_ablation": _mean_cosine(st_abl, mu_harmless),
            "cosmic_addition": _mean_cosine(st_add, mu_harmful),
        })
    table = pd.DataFrame(rows)
    table["cosmic_score"] = table["cosmic_ablation"] + table["cosmic_addition"]
    table.attrs["baseline_refusal"] = {
        "harmful": float(refusal_score(base_harmful, openers).mean()),
        "harmless": float(refusal_score(base_harmless, openers).mean()),
    }
    return table


def _early(table: pd.DataFrame, n_layers: int) -> pd.Series:
    return table["layer"] < LAYER_MAX_FRACTION * n_layers


def select_arditi(table: pd.DataFrame, n_layers: int) -> tuple[pd.Series, bool]:
    """Lowest refusal score under ablation among candidates with KL < 0.1, induced refusal > 0 and
    layer < 0.8 L. Returns (row, filters_met); when no candidate passes, the best unfiltered row."""
    ok = _early(table, n_layers) & (table["kl_harmless"] < KL_MAX) & (table["addition_refusal"] > 0)
    pool = table[ok] if ok.any() else table
    return pool.loc[pool["ablation_refusal"].idxmin()], bool(ok.any())


def select_cosmic(table: pd.DataFrame, n_layers: int) -> tuple[pd.Series, bool]:
    """Highest COSMIC score (ablation cosine to harmless + addition cosine to harmful) among candidates
    with KL <= 0.1 outside the last 20 % of layers. No output tokens are read."""
    ok = _early(table, n_layers) & (table["kl_harmless"] <= KL_MAX)
    pool = table[ok] if ok.any() else table
    return pool.loc[pool["cosmic_score"].idxmax()], bool(ok.any())
