"""Refusal directions: Arditi et al.'s prompt filter, candidate scores under intervention, and the two published
selection rules, as their official code has them (andyrdt/refusal_direction, wang-research-lab/COSMIC).

Candidates are difference-in-means vectors r[layer, position] from 01, one per post-instruction position and
layer. The workbook indexes a candidate by the block whose *output* it was read at; both official codes index it
by the block whose *input* it was read at, so their layer ℓ is the workbook's ℓ - 1 (`block_input_index`). Adding
r at the output of block ℓ is adding it at the input of block ℓ + 1, as they do.

Each candidate is scored from three batched forward passes on validation prompts (no generation):

- ablation on harmful prompts (r̂ projected out wherever the residual stream is written): Arditi's refusal score,
  and COSMIC's cosine of the harmful prompts' mean last-token state (over prompts and the L_low layers) to the
  harmless prompts' unsteered one;
- addition on harmless prompts (the raw r at its layer, every position, coefficient 1): Arditi's induced refusal
  score, and COSMIC's cosine to the harmful prompts' unsteered mean state;
- ablation on harmless prompts: KL divergence of the next-token distribution to the unsteered one.

`select_arditi` and `select_cosmic` apply each paper's filters and choice, and return None when no candidate
passes (both official codes stop there: `assert len(filtered_scores) > 0`). COSMIC is implemented in its linear
variant (LCE: ablation and addition of r as above), not the affine one (ACE, the paper's default), which
ablates and adds relative to the harmless mean at one layer only.
"""
from __future__ import annotations

import sys

import pandas as pd
import torch
from tqdm.auto import tqdm

from . import activations, directions, engine, unitcache
from .engine import backends, recipe, scoring, sites
from .errors import WorkbookError

# Arditi et al.'s refusal tokens per model family (pipeline/model_utils/*_model.py): Qwen ['I', 'As'] (ids 40, 2121);
# Llama-2, Llama-3, Gemma and Yi ['I']. A family their code does not cover gets ['I'], what all but Qwen use.
REFUSAL_OPENERS = {"qwen": ("I", "As"), "llama": ("I",), "gemma": ("I",)}
DEFAULT_OPENERS = ("I",)
_CODE = unitcache.code_version(sys.modules[__name__], scoring, backends, recipe, sites, activations)  # a cached score's code
KL_MAX = 0.1  # both: candidates whose ablation moves harmless next-token distributions by more are discarded
PRUNE_LAYER_FRACTION = 0.2  # both: discard candidates read at block inputs >= int(0.8 L)
COSMIC_LOW_FRACTION = 0.1  # COSMIC: L_low is the int(0.1 L) layers with the lowest harmful/harmless cosine
REFUSAL_EPS, KL_EPS = 1e-8, 1e-6  # the epsilons of their refusal_score and kl_div_fn


def refusal_openers(lm) -> tuple[str, ...]:
    """The refusal openers Arditi's code uses for this model's family (its config's model_type)."""
    model_type = str(getattr(lm.hf.config, "model_type", ""))
    for prefix, words in REFUSAL_OPENERS.items():
        if model_type.startswith(prefix):
            return words
    return DEFAULT_OPENERS


def refusal_token_ids(lm) -> list[int]:
    """The first token of each opener as the answer's first token (no leading space: the chat templates end the
    assistant header with a newline), as their hard-coded ids are."""
    return sorted({lm.tokenizer(word, add_special_tokens=False).input_ids[0] for word in refusal_openers(lm)})


def refusal_score(logprobs: torch.Tensor, token_ids: list[int]) -> torch.Tensor:
    """Their refusal score per row of next-token log-probs [n, vocab]: log(p + ε) - log(1 - p + ε), with p the
    probability of the refusal tokens, in float64."""
    p = logprobs.double().exp()[:, token_ids].sum(-1)
    return (torch.log(p + REFUSAL_EPS) - torch.log(1 - p + REFUSAL_EPS)).float()


def kl_divergence(base_logprobs: torch.Tensor, new_logprobs: torch.Tensor) -> torch.Tensor:
    """KL(base || new) per row, in nats, as their kl_div_fn computes it (float64, ε inside the logs)."""
    p, q = base_logprobs.double().exp(), new_logprobs.double().exp()
    return (p * (torch.log(p + KL_EPS) - torch.log(q + KL_EPS))).sum(-1).float()


def prompt_refusal_scores(lm, prompts: list[str], batch_size: int = 16) -> torch.Tensor:
    """The unsteered refusal score of each (chat-formatted) prompt."""
    logprobs, _ = engine.forward_last(lm, prompts, None, (), batch_size, progress=False)
    return refusal_score(logprobs, refusal_token_ids(lm))


def refusal_filter(harmful_scores: torch.Tensor, harmless_scores: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Arditi's filter_data: keep the harmful prompts the model refuses (score > 0) and the harmless prompts it
    does not (score < 0). Returns the two boolean masks.

    >>> [m.tolist() for m in refusal_filter(torch.tensor([1.0, -2.0]), torch.tensor([-1.0, 0.5]))]
    [[True, False], [True, False]]
    """
    return harmful_scores > 0, harmless_scores < 0


def block_input_index(layer: int) -> int:
    """The official codes' index of a candidate the workbook reads at the output of block `layer`."""
    return layer + 1


def layer_admitted(layer: int, n_layers: int) -> bool:
    """Their layer cutoff: a candidate read at block input ℓ is discarded when ℓ >= int(0.8 L)."""
    return block_input_index(layer) < int(n_layers * (1.0 - PRUNE_LAYER_FRACTION))


def cosmic_low_layers(mean_harmful: torch.Tensor, mean_harmless: torch.Tensor) -> list[int]:
    """COSMIC's L_low: the int(0.1 L) layer outputs where the mean harmful and harmless last-token states are least
    similar (cosine), from [layers, d] means."""
    cos = torch.nn.functional.cosine_similarity(mean_harmful.double(), mean_harmless.double(), dim=-1)
    k = int(COSMIC_LOW_FRACTION * len(cos))
    if k == 0:
        raise WorkbookError(f"COSMIC needs at least 10 layers to pick int(0.1 L) of them, and this model has {len(cos)}: "
                            f"leave COSMIC out for it.")
    return sorted(torch.argsort(cos)[:k].tolist())


def cosmic_direction(states: torch.Tensor) -> torch.Tensor:
    """The unit mean of last-token states [prompts, L_low layers, d] over prompts and layers together."""
    mean = states.double().mean(dim=(0, 1))
    return mean / (mean.norm() + 1e-8)


def cosmic_similarity(states: torch.Tensor, reference: torch.Tensor) -> float:
    """COSMIC's score of steered states: one cosine between their prompt-and-layer mean and the reference."""
    return float(cosmic_direction(states) @ reference)


def score_candidates(
    lm,
    candidates: dict[tuple[int, int], torch.Tensor],
    harmful: list[str],
    harmless: list[str],
    low_layers: list[int],
    batch_size: int = 16,
    progress: bool = True,
) -> pd.DataFrame:
    """One row per candidate (layer, position) with every score both selection rules need."""
    if not candidates:
        raise WorkbookError("No refusal candidates to score: pass at least one (layer, position) vector from 01.")
    if not harmful or not harmless:
        raise WorkbookError("Candidate scoring needs validation prompts on both sides: check the refusal filter's counts.")
    openers = refusal_token_ids(lm)
    base_harmful, harmful_states = engine.forward_last(lm, harmful, None, low_layers, batch_size, progress=False)
    base_harmless, harmless_states = engine.forward_last(lm, harmless, None, low_layers, batch_size, progress=False)
    to_harmless, to_harmful = cosmic_direction(harmless_states), cosmic_direction(harmful_states)
    def score(layer: int, position: int, r: torch.Tensor) -> dict:
        ablate, add = engine.ablate(r), engine.add(r, layer)
        lp_abl, st_abl = engine.forward_last(lm, harmful, ablate, low_layers, batch_size, progress=False)
        lp_add, st_add = engine.forward_last(lm, harmless, add, low_layers, batch_size, progress=False)
        lp_kl, _ = engine.forward_last(lm, harmless, ablate, (), batch_size, progress=False)
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
    rows = [unitcache.cached("refusal_candidate", [*inputs, layer, position, r], lambda: score(layer, position, r))
            for (layer, position), r in tqdm(candidates.items(), desc=f"candidates {lm.key}", leave=False, disable=not progress)]
    table = pd.DataFrame(rows)
    table["cosmic_score"] = table["cosmic_ablation"] + table["cosmic_addition"]
    table.attrs["baseline_refusal"] = {
        "harmful": float(refusal_score(base_harmful, openers).mean()),
        "harmless": float(refusal_score(base_harmless, openers).mean()),
    }
    return table


def _scored_and_admitted(table: pd.DataFrame, n_layers: int, columns: list[str]) -> pd.Series:
    scored = table[columns].notna().all(axis=1)  # theirs discards a candidate with any NaN score
    return scored & table["layer"].map(lambda layer: layer_admitted(int(layer), n_layers)) & (table["kl_harmless"] <= KL_MAX)


def arditi_valid(table: pd.DataFrame, n_layers: int) -> pd.Series:
    """Their filter_fn: scores not NaN, the layer cutoff, KL <= 0.1, and an induced refusal score >= 0."""
    columns = ["ablation_refusal", "addition_refusal", "kl_harmless"]
    return _scored_and_admitted(table, n_layers, columns) & (table["addition_refusal"] >= 0)


def cosmic_valid(table: pd.DataFrame, n_layers: int) -> pd.Series:
    """Their filter_fn (no induced-refusal threshold), and for position -1 the median-peak rule: when the other
    positions' scores peak (median over positions of the best layer) before a layer under both ablation and
    addition, position -1 at that layer is discarded."""
    valid = _scored_and_admitted(table, n_layers, ["cosmic_ablation", "cosmic_addition", "kl_harmless"])
    others = table[table["position"] != -1]
    if others.empty:  # only position -1 scored: their medians are NaN and nothing is discarded
        return valid
    limit_ablation = _lower_median(others, "cosmic_ablation")
    limit_addition = _lower_median(others, "cosmic_addition")
    beyond = (table["position"] == -1) & (table["layer"] > limit_ablation) & (table["layer"] > limit_addition)
    return valid & ~beyond


def _lower_median(table: pd.DataFrame, score: str) -> int:
    """The lower median over positions of the layer where `score` peaks (torch.nanmedian's choice)."""
    peaks = sorted(int(group.loc[group[score].idxmax(), "layer"]) for _, group in table.groupby("position"))
    return peaks[(len(peaks) - 1) // 2]


def select_arditi(table: pd.DataFrame, n_layers: int) -> pd.Series | None:
    """The valid candidate with the lowest refusal score under ablation; None when no candidate is valid."""
    pool = table[arditi_valid(table, n_layers)]
    return None if pool.empty else pool.loc[pool["ablation_refusal"].idxmin()]


def select_cosmic(table: pd.DataFrame, n_layers: int) -> pd.Series | None:
    """The valid candidate with the highest COSMIC score (ablation cosine + addition cosine); None when none is
    valid. No output token is read."""
    pool = table[cosmic_valid(table, n_layers)]
    return None if pool.empty else pool.loc[pool["cosmic_score"].idxmax()]


def addition(direction: torch.Tensor, alpha: float, layer: int, n_layers: int, from_layer_on: bool = False) -> engine.Intervention:
    """alpha times the unit direction added at every position of `layer`, or of every layer from it to the last (the
    seed's fixed-alpha setting): the steering condition 04 tests and 05 repeats at every precision."""
    return engine.add(alpha * directions.unit(direction), range(layer, n_layers) if from_layer_on else [layer])
