"""Scoring without generation: the engine's one scoring entry point and its two fast special cases.

- `forward_last`: one forward pass per prompt under its Intervention; last-token log-probs and the
  post-edit residual at chosen block outputs (hooks or nnsight, same edits).
- `next_token_sweep`: the next token under many last-token conditions at once: each prompt's prefix
  runs once with a KV cache, then only the last token runs again, one row per (prompt, condition).
- `continuation_nll`: unsteered cross-entropy of a continuation (the coherence measure of steered text).
"""
from __future__ import annotations

import copy
import sys
from dataclasses import dataclass

import torch
from jaxtyping import Float, Int
from torch import Tensor
from tqdm.auto import tqdm

from .. import activations, unitcache
from ..activations import encode, needs_special_tokens
from ..errors import WorkbookError
from ..models import LoadedModel
from . import backends, recipe, sites
from .backends import EditSession, edit_trace, hooked, output_tensor
from .generation import length_order, rows_for
from .recipe import Intervention
from .sites import PassLayout, compile_rows

_CODE = unitcache.code_version(sys.modules[__name__], backends, recipe, sites, activations)  # a cached sweep batch's code


@torch.no_grad()
def forward_last(
    lm: LoadedModel,
    prompts: list[str],
    interventions: Intervention | list[Intervention] | None = None,
    read_layers=(),
    batch_size: int = 16,
    backend: str = "hooks",
    progress: bool = True,
) -> tuple[Float[Tensor, "n vocab"], Float[Tensor, "n n_read d_model"]]:
    """Last-token log-probs and the last-token block outputs at `read_layers`, after the edits."""
    rows = rows_for(interventions, len(prompts))
    read_layers = lm.check_layers(read_layers)
    if backend not in ("hooks", "nnsight"):
        raise WorkbookError(f"Unknown scoring backend {backend!r}: use 'hooks' or 'nnsight'.")
    logprobs, states = [], []
    for start in tqdm(range(0, len(prompts), batch_size), desc=f"score {lm.key}", disable=not progress, leave=False):
        inputs = encode(lm, prompts[start : start + batch_size])
        plan = compile_rows(lm, rows[start : start + batch_size])
        run = _forward_hooks if backend == "hooks" and not lm.remote else _forward_nnsight
        logits, read = run(lm, inputs, plan, read_layers)
        logprobs.append(logits.float().log_softmax(-1).cpu())
        if read_layers:
            states.append(torch.stack([read[layer][:, -1].float().cpu() for layer in read_layers], 1))
    hidden = torch.cat(states) if states else torch.empty(len(prompts), 0, lm.d_model)
    return torch.cat(logprobs), hidden


def _forward_hooks(lm: LoadedModel, inputs: dict, plan: dict, read_layers: list[int]) -> tuple[Float[Tensor, "batch vocab"], dict]:
    session = EditSession(plan, PassLayout.left_padded(inputs["attention_mask"]))
    read, handles = {}, []
    with hooked(lm, session):
        try:  # registered after the edits, so these hooks see the edited outputs
            for layer in read_layers:
                handles.append(lm.layers[layer].register_forward_hook(
                    lambda m, a, out, layer=layer: read.__setitem__(layer, output_tensor(out))))
            logits = lm.hf(**inputs, use_cache=False, logits_to_keep=1).logits[:, -1]
        finally:
            for handle in handles:
                handle.remove()
    return logits, read


def _forward_nnsight(lm: LoadedModel, inputs: dict, plan: dict, read_layers: list[int]) -> tuple[Float[Tensor, "batch vocab"], dict]:
    saved = {}  # filled inside the trace: nnsight hands back only saved values and objects made outside it
    with lm.nn.trace(dict(inputs), use_cache=False, logits_to_keep=1, remote=lm.remote):
        saved.update(edit_trace(lm, plan, PassLayout.left_padded(inputs["attention_mask"]), read_layers))
        logits = lm.nn.lm_head.output[:, -1].save()
    return logits, saved


@dataclass
class SweepResult:
    top_ids: Int[Tensor, "n_conditions n_prompts"]  # argmax next-token ids
    target_logprob: Float[Tensor, "n_conditions n_prompts"] | None  # log p(target token), when targets are given


def _last_token_only(condition) -> None:
    edits = [e for row in ([condition] if isinstance(condition, Intervention) else condition) for e in row.edits]
    if any(e.at != (-1,) for e in edits):
        raise WorkbookError("next_token_sweep caches every prompt token but the last: give it edits at='last' only, "
                            "or score other edits with forward_last.")


@torch.no_grad()
def next_token_sweep(
    lm: LoadedModel,
    prompts: list[str],
    conditions: list[Intervention | list[Intervention]],
    targets: list[int] | None = None,
    batch_size: int = 16,
    max_rows: int = 1024,
    progress: bool = True,
) -> SweepResult:
    """Argmax next token (and log p of `targets`) for every prompt under every condition.

    A condition is one Intervention for every prompt or a list with one per prompt (prompts of different
    templates, each with its own vector, share a pass); its edits act at the last prompt token. NO_EDIT is the
    unsteered baseline. Prompts run in batches of similar length; conditions in chunks so that
    batch x chunk <= max_rows rows run in one single-token pass.
    """
    lm.require_local("next_token_sweep (a KV-cache reuse with forward hooks)")
    per_prompt = []
    for condition in conditions:
        _last_token_only(condition)
        per_prompt.append(rows_for(condition, len(prompts)))
    n_cond = len(conditions)
    top = torch.empty(n_cond, len(prompts), dtype=torch.long)
    logp = torch.empty(n_cond, len(prompts)) if targets is not None else None
    order = length_order(lm, prompts)
    for start in tqdm(range(0, len(prompts), batch_size), desc=f"sweep {lm.key}", disable=not progress, leave=False):
        index = order[start : start + batch_size]
        key = [unitcache.model_identity(lm), [prompts[i] for i in index], [[per_prompt[c][i].key() for i in index] for c in range(n_cond)],
               None if targets is None else [targets[i] for i in index], max_rows, _CODE]
        batch_top, batch_logp = unitcache.cached(  # one finished batch survives a killed run
            "next_token_sweep", key, lambda: _sweep_batch(lm, prompts, index, per_prompt, targets, max_rows))
        top[:, index] = batch_top
        if targets is not None:
            logp[:, index] = batch_logp
    return SweepResult(top, logp)


def _sweep_batch(lm: LoadedModel, prompts: list[str], index: list[int], per_prompt: list[list[Intervention]],
                 targets: list[int] | None, max_rows: int) -> tuple[Int[Tensor, "cond batch"], Float[Tensor, "cond batch"] | None]:
    """One batch of prompts under every condition: its prefix once, then the last token per (prompt, condition)."""
    n_cond = len(per_prompt)
    top = torch.empty(n_cond, len(index), dtype=torch.long)
    logp = torch.empty(n_cond, len(index)) if targets is not None else None
    batch = encode(lm, [prompts[i] for i in index])
    prefix = lm.hf(input_ids=batch["input_ids"][:, :-1], attention_mask=batch["attention_mask"][:, :-1],
                   position_ids=batch["position_ids"][:, :-1], use_cache=True, logits_to_keep=1).past_key_values
    chunk = max(1, max_rows // len(index))
    for c0 in range(0, n_cond, chunk):
        conds = range(c0, min(n_cond, c0 + chunk))
        rows = [per_prompt[c][i] for i in index for c in conds]  # prompt-major: row r * C + c
        logits = _last_token_pass(lm, batch, prefix, rows, len(conds)).view(len(index), len(conds), -1).transpose(0, 1)
        top[conds.start : conds.stop] = logits.argmax(-1).cpu()
        if targets is not None:
            gold = torch.as_tensor([targets[i] for i in index], device=logits.device)
            logits = logits.float()  # log p(target) = its logit - logsumexp: no full log_softmax over the vocabulary
            lp = logits.gather(-1, gold.expand(len(conds), -1)[..., None])[..., 0] - logits.logsumexp(-1)
            logp[conds.start : conds.stop] = lp.cpu()
    return top, logp


def _last_token_pass(lm: LoadedModel, batch: dict, prefix_cache, rows: list[Intervention], n_cond: int) -> Float[Tensor, "rows vocab"]:
    """Logits of each prompt's last token under each of `n_cond` conditions (rows prompt-major), on a copy of the
    cached prefix."""
    cache = copy.deepcopy(prefix_cache)
    cache.batch_repeat_interleave(n_cond)
    lengths: Int[Tensor, "rows"] = batch["attention_mask"].sum(1).repeat_interleave(n_cond)
    layout = PassLayout(True, torch.zeros_like(lengths), lengths - 1, torch.ones_like(lengths), lengths)
    with hooked(lm, EditSession(compile_rows(lm, rows), layout)):
        out = lm.hf(input_ids=batch["input_ids"][:, -1:].repeat_interleave(n_cond, 0),
                    attention_mask=batch["attention_mask"].repeat_interleave(n_cond, 0),
                    position_ids=batch["position_ids"][:, -1:].repeat_interleave(n_cond, 0), past_key_values=cache, use_cache=True)
    return out.logits[:, -1, :]


@torch.no_grad()
def continuation_nll(lm: LoadedModel, prompts: list[str], continuations: list[list[int]], batch_size: int = 8,
                     progress: bool = True) -> Float[Tensor, "n"]:
    """Mean per-token negative log-likelihood of each continuation (token ids) after its prompt, under the model
    with no intervention. NaN where a continuation is empty.

    Notebooks score many continuations of the same prompt (one per condition), so each batch runs its distinct
    prompts once and scores the continuations against their KV cache."""
    if len(prompts) != len(continuations):
        raise WorkbookError(f"Got {len(prompts)} prompts and {len(continuations)} continuations: pass one continuation per prompt.")
    lm.require_local("continuation_nll")
    add_special = needs_special_tokens(lm.tokenizer, prompts)
    result = torch.full((len(prompts),), float("nan"))
    # same prompts together, and within a prompt similar lengths, so a batch runs few prompts and little padding
    scored = sorted((i for i in range(len(prompts)) if continuations[i]), key=lambda i: (prompts[i], len(continuations[i])))
    chunks = [scored[s : s + batch_size] for s in range(0, len(scored), batch_size)]
    for chunk in tqdm(chunks, desc=f"nll {lm.key}", disable=not progress, leave=False):
        result[chunk] = _chunk_nll(lm, [prompts[i] for i in chunk], [continuations[i] for i in chunk], add_special)
    return result


def _chunk_nll(lm: LoadedModel, prompts: list[str], continuations: list[list[int]], add_special: bool) -> Float[Tensor, "chunk"]:
    """continuation_nll of one batch: its distinct prompts in one left-padded pass, then every continuation
    (right-padded, so padding follows the tokens it could disturb) on the expanded cache."""
    tok, device = lm.tokenizer, lm.hf.device
    distinct = list(dict.fromkeys(prompts))
    enc = tok(distinct, return_tensors="pt", padding=True, padding_side="left", add_special_tokens=add_special).to(device)
    prompt_mask: Int[Tensor, "distinct prompt_width"] = enc.attention_mask
    out = lm.hf(input_ids=enc.input_ids, attention_mask=prompt_mask, position_ids=(prompt_mask.cumsum(-1) - 1).clamp(min=0),
                use_cache=True, logits_to_keep=1)
    which: Int[Tensor, "chunk"] = torch.tensor([distinct.index(p) for p in prompts], device=device)  # each row's prompt
    cache = out.past_key_values
    cache.batch_select_indices(which)
    width = max(map(len, continuations))
    ids: Int[Tensor, "chunk width"] = torch.full((len(prompts), width), tok.pad_token_id, device=device)
    cont_mask = torch.zeros(len(prompts), width, dtype=torch.long, device=device)
    for r, c in enumerate(continuations):
        ids[r, : len(c)], cont_mask[r, : len(c)] = torch.tensor(c), 1
    positions = prompt_mask.sum(1)[which, None] + torch.arange(width, device=device)
    logits = lm.hf(input_ids=ids, attention_mask=torch.cat([prompt_mask[which], cont_mask], 1), position_ids=positions,
                   past_key_values=cache, use_cache=True).logits
    # token t of a continuation is predicted at the prompt's last position (t = 0) or at its token t - 1
    logits: Float[Tensor, "chunk width vocab"] = torch.cat([out.logits[which, -1:], logits[:, :-1]], 1).float()
    token_logprobs = logits.log_softmax(-1).gather(-1, ids[..., None])[..., 0].cpu()
    mask = cont_mask.cpu()
    return -(token_logprobs * mask).sum(1) / mask.sum(1)
