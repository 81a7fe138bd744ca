"""Greedy generation under per-row interventions: the workbook's one generation entry point.

backend="hooks" (the default) runs the workbook's own greedy loop in this process:
- prompts are batched by length; the tokens every prompt of a batch starts with (a chat template's
  system prompt) run once per distinct edit of them, as a KV cache expanded to every row;
- rows that have finished (end-of-sequence) leave the batch, their KV-cache rows dropped, so a batch
  costs what its live rows cost; outputs are token-identical to `transformers`' `generate` (tested).
backend="nnsight" writes the same edits into an nnsight generation trace (also what runs on NDIF);
every row then computes until the whole batch ends.
"""
from __future__ import annotations

import sys
import warnings
from dataclasses import dataclass

import torch
from jaxtyping import Float, Int
from torch import Tensor
from tqdm.auto import tqdm

from .. import activations, unitcache
from ..activations import encode
from ..errors import WorkbookError
from ..models import LoadedModel
from . import backends, recipe, sites
from .backends import EditSession, edit_trace, hooked
from .recipe import NO_EDIT, Intervention
from .sites import PassLayout, compile_rows

MIN_SHARED_PREFIX = 4  # tokens; below this a separate prefix pass saves less than it costs
BACKENDS = ("hooks", "nnsight")
_CODE = unitcache.code_version(sys.modules[__name__], backends, recipe, sites, activations)  # a cached batch's code


@dataclass
class Generation:
    texts: list[str]  # new text only, special tokens removed
    token_ids: list[list[int]]  # new token ids up to (not including) the end-of-sequence token
    first_logprobs: Float[Tensor, "n vocab"] | None = None  # log-probs of the first new token (the prompt pass)
    entropies: list[list[float]] | None = None  # per row, the next-token entropy (nats) at each new token (record_entropy)


def rows_for(interventions, n: int) -> list[Intervention]:
    """One Intervention per prompt from None (unsteered), one Intervention for all, or a list of n."""
    if interventions is None:
        return [NO_EDIT] * n
    if isinstance(interventions, Intervention):
        return [interventions] * n
    if len(interventions) != n:
        raise WorkbookError(f"Got {len(interventions)} interventions for {n} prompts: pass one per prompt, or a single one for all.")
    return list(interventions)


def length_order(lm: LoadedModel, prompts: list[str]) -> list[int]:
    """Prompt indices sorted by token length: batches of similar length compute little padding."""
    return sorted(range(len(prompts)), key=lambda i: len(lm.tokenizer(prompts[i]).input_ids))


@torch.no_grad()
def generate(
    lm: LoadedModel,
    prompts: list[str],
    max_new_tokens: int,
    interventions: Intervention | list[Intervention] | None = None,
    backend: str = "hooks",
    stop_at_eos: bool = True,
    batch_size: int = 16,
    progress: bool = True,
    share_prefix: bool = True,
    record_entropy: bool = False,
) -> Generation:
    """Greedy continuations, each prompt with its own Intervention (rows of one batch may differ).

    `stop_at_eos=False` always produces max_new_tokens tokens (end-of-sequence tokens are never chosen,
    as `generate(min_new_tokens=...)` does). `record_entropy` (hooks backend) keeps the entropy of each
    step's next-token distribution. Results come back in the caller's order.
    """
    if backend not in BACKENDS:
        raise WorkbookError(f"Unknown generation backend {backend!r}: use 'hooks' or 'nnsight'.")
    if lm.remote:  # NDIF runs nnsight traces; hooks only run in this process
        backend = "nnsight"
    if record_entropy and backend != "hooks":
        raise WorkbookError("record_entropy needs the hooks backend (the workbook's own decoding loop): leave backend='hooks'.")
    rows = rows_for(interventions, len(prompts))
    order = length_order(lm, prompts)
    new_ids: list[list[int]] = []
    entropies: list[list[float]] = []
    first = []
    for start in tqdm(range(0, len(prompts), batch_size), desc=f"generate {lm.key} ({backend})", disable=not progress, leave=False):
        index = order[start : start + batch_size]
        batch_prompts, batch_rows = [prompts[i] for i in index], [rows[i] for i in index]
        settings = {"backend": backend, "max_new_tokens": max_new_tokens, "stop_at_eos": stop_at_eos,
                    "share_prefix": share_prefix, "record_entropy": record_entropy, "code": _CODE}
        ids, logprobs, batch_entropies = unitcache.cached(  # one finished batch survives a killed run
            "generate", [unitcache.model_identity(lm), batch_prompts, [r.key() for r in batch_rows], settings],
            lambda: _generate_batch(lm, batch_prompts, batch_rows, backend, max_new_tokens, stop_at_eos, share_prefix, record_entropy))
        entropies += batch_entropies
        new_ids += ids
        first.append(logprobs)
    restore = sorted(range(len(order)), key=order.__getitem__)
    token_ids = [until_eos(lm, new_ids[i]) for i in restore]
    texts = lm.tokenizer.batch_decode(token_ids, skip_special_tokens=True)
    return Generation(texts, token_ids, torch.cat(first)[restore], [entropies[i] for i in restore] if record_entropy else None)


def _generate_batch(lm: LoadedModel, prompts: list[str], rows: list[Intervention], backend: str, max_new_tokens: int,
                    stop_at_eos: bool, share_prefix: bool, record_entropy: bool) -> tuple[list[list[int]], Tensor, list]:
    inputs = encode(lm, prompts)
    if backend == "hooks":
        return _greedy(lm, inputs, rows, max_new_tokens, stop_at_eos, share_prefix, record_entropy)
    return (*_nnsight_generate(lm, inputs, rows, max_new_tokens, stop_at_eos), [])


def stop_ids(lm: LoadedModel) -> list[int]:
    """The tokens that end a row: the generation config's end-of-sequence ids (the tokenizer's when it has none)."""
    eos = getattr(lm.hf.generation_config, "eos_token_id", None)
    if eos is None:
        eos = lm.tokenizer.eos_token_id
    return [] if eos is None else ([eos] if isinstance(eos, int) else list(eos))


def until_eos(lm: LoadedModel, ids: list[int]) -> list[int]:
    """`ids` up to (not including) the first end-of-sequence or padding token of this model."""
    stops = {lm.tokenizer.eos_token_id, lm.tokenizer.pad_token_id} | set(stop_ids(lm))
    for i, token in enumerate(ids):
        if token in stops:
            return ids[:i]
    return ids


def _greedy(lm: LoadedModel, inputs: dict, rows: list[Intervention], max_new_tokens: int, stop_at_eos: bool,
            share_prefix: bool, record_entropy: bool = False) -> tuple[list[list[int]], Float[Tensor, "batch vocab"], list[list[float]]]:
    """One batch: new token ids per row (up to and including its end token), the prompt pass's log-probs and,
    when asked, each step's next-token entropy per row."""
    plan = compile_rows(lm, rows)
    session = EditSession(plan, PassLayout.left_padded(inputs["attention_mask"]))
    with hooked(lm, session):
        logits, cache, mask, position = _prompt_pass(lm, inputs, rows, plan, session, share_prefix)
        first = logits.log_softmax(-1).cpu()
        session.plan, session.layout = {p: pp for p, pp in plan.items() if pp.every_pass}, PassLayout.decode()
        tokens, entropy = _decode(lm, session, logits, cache, mask, position, max_new_tokens, stop_at_eos, record_entropy)
    return tokens, first, entropy


def _prompt_pass(lm: LoadedModel, inputs: dict, rows: list[Intervention], plan, session: EditSession, share_prefix: bool):
    """The prompt's forward pass (after a shared prefix's, when there is one to share): the last position's logits,
    the KV cache, the attention mask and each row's last position id."""
    split = _shared_prefix(lm, inputs, rows, session) if share_prefix else None
    ids, mask, positions, cache, layout = split or (inputs["input_ids"], inputs["attention_mask"], inputs["position_ids"],
                                                    None, PassLayout.left_padded(inputs["attention_mask"]))
    session.plan, session.layout = plan, layout
    out = lm.hf(input_ids=ids, attention_mask=mask, position_ids=positions, past_key_values=cache, use_cache=True, logits_to_keep=1)
    logits: Float[Tensor, "batch vocab"] = out.logits[:, -1].float()
    return logits, out.past_key_values, mask, positions[:, -1]


def _decode(lm: LoadedModel, session: EditSession, logits: Float[Tensor, "batch vocab"], cache, mask: Int[Tensor, "batch width"],
            position: Int[Tensor, "batch"], max_new_tokens: int, stop_at_eos: bool, record_entropy: bool):
    """Greedy steps from the prompt pass's logits. A row that emits an end token leaves the batch: its cache rows and
    its edits go, so each step costs what the live rows cost. Returns new ids (and entropies) per batch row."""
    stops = torch.tensor(stop_ids(lm), device=logits.device)
    alive = torch.arange(len(logits))  # [live]: the batch row each live row is
    tokens: list[list[int]] = [[] for _ in alive]
    entropy: list[list[float]] = [[] for _ in alive]
    for step in range(max_new_tokens):
        if not stop_at_eos and len(stops):
            logits[:, stops] = -float("inf")  # as generate(min_new_tokens=...) does
        chosen: Int[Tensor, "live"] = logits.argmax(-1)
        for row, token in zip(alive.tolist(), chosen.tolist()):
            tokens[row].append(token)
        if record_entropy:
            for row, value in zip(alive.tolist(), _entropy(logits).tolist()):
                entropy[row].append(value)
        done = torch.isin(chosen, stops) if stop_at_eos else torch.zeros_like(chosen, dtype=torch.bool)
        if step == max_new_tokens - 1 or done.all():
            break
        if done.any():
            keep = (~done).nonzero()[:, 0]
            alive, chosen, mask, position = alive[keep.cpu()], chosen[keep], mask[keep], position[keep]
            cache.batch_select_indices(keep)
            session.plan = {p: pp.keep_rows(keep) for p, pp in session.plan.items()}
        mask = torch.cat([mask, mask.new_ones(len(mask), 1)], 1)
        position = position + 1
        out = lm.hf(input_ids=chosen[:, None], attention_mask=mask, position_ids=position[:, None], past_key_values=cache, use_cache=True)
        logits = out.logits[:, -1].float()
    return tokens, entropy


def _entropy(logits: Float[Tensor, "live vocab"]) -> Float[Tensor, "live"]:
    logprobs = logits.log_softmax(-1)
    return -(logprobs.exp() * logprobs).sum(-1).cpu()


def _shared_prefix(lm: LoadedModel, inputs: dict, rows: list[Intervention], session: EditSession):
    """Run the batch's common prompt prefix once per distinct edit of it; return the rest of the prompts
    (ids, full attention mask, position ids), the prefix's KV cache expanded to every row and the rest's
    column layout, or None when there is too little to share.

    The full layout is [prefix | padding | rest]: each row keeps at least its last prompt token outside the
    prefix, so the prompt pass still ends on it (where last-token edits and first-token log-probs are read).
    Position ids follow the attention mask, so each row's rest continues at the prefix's length.
    """
    ids: Int[Tensor, "batch width"] = inputs["input_ids"]
    mask: Int[Tensor, "batch width"] = inputs["attention_mask"]
    width, lengths = ids.shape[1], mask.sum(1)
    shortest = int(lengths.min())
    starts = width - lengths  # each row's first real column
    heads: Int[Tensor, "batch shortest"] = ids.gather(1, starts[:, None] + torch.arange(shortest, device=ids.device))
    same = (heads == heads[0]).all(0).tolist() + [False]
    size = min(same.index(False), shortest - 1)
    if size < MIN_SHARED_PREFIX:
        return None
    keys = [id(row) if row.touches_prefix(size, int(length)) else None for row, length in zip(rows, lengths)]
    distinct = list(dict.fromkeys(keys))
    if len(distinct) == len(rows):
        return None
    leaders = [keys.index(key) for key in distinct]  # the first row of each distinct prefix edit
    prefix: Int[Tensor, "distinct size"] = heads[:1, :size].expand(len(distinct), size)
    leader_lengths = lengths[leaders]
    session.plan = compile_rows(lm, [rows[i] for i in leaders])
    session.layout = PassLayout(True, torch.zeros_like(leader_lengths), torch.zeros_like(leader_lengths),
                                torch.full_like(leader_lengths, size), leader_lengths)
    cache = lm.hf(input_ids=prefix, attention_mask=torch.ones_like(prefix), position_ids=torch.arange(size, device=ids.device).expand_as(prefix),
                  use_cache=True, logits_to_keep=1).past_key_values
    cache.batch_select_indices(torch.tensor([distinct.index(k) for k in keys], device=ids.device))
    pads = width - lengths
    rest_ids, rest_mask = torch.empty_like(ids[:, size:]), torch.empty_like(mask[:, size:])  # [batch, width - size]
    for r, (pad, length) in enumerate(zip(pads.tolist(), lengths.tolist())):
        rest_ids[r] = torch.cat([ids[r, :pad], ids[r, pad + size :]])  # padding, then the prompt after the prefix
        rest_mask[r] = torch.cat([mask.new_zeros(pad), mask.new_ones(length - size)])
    full_mask = torch.cat([mask.new_ones(len(rows), size), rest_mask], 1)
    positions = (full_mask.cumsum(-1) - 1).clamp(min=0)[:, size:]
    layout = PassLayout(True, pads, torch.full_like(lengths, size), lengths - size, lengths)
    return rest_ids, full_mask, positions, cache, layout


def _nnsight_generate(lm: LoadedModel, inputs: dict, rows: list[Intervention], max_new_tokens: int,
                      stop_at_eos: bool) -> tuple[list[list[int]], Float[Tensor, "batch vocab"]]:
    """New ids per row and the prompt pass's last-position log-probs, from one nnsight generation trace."""
    plan = compile_rows(lm, rows)
    prompt_layout = PassLayout.left_padded(inputs["attention_mask"])
    every_pass = {p: pp for p, pp in plan.items() if pp.every_pass}
    kwargs = dict(max_new_tokens=max_new_tokens, do_sample=False, pad_token_id=lm.tokenizer.pad_token_id)
    if not stop_at_eos:
        kwargs["min_new_tokens"] = max_new_tokens
    with warnings.catch_warnings(), lm.nn.generate(**kwargs, remote=lm.remote) as tracer:
        warnings.filterwarnings("ignore", message=".*was never reached.*")  # how an open loop ends, by design
        with tracer.invoke(dict(inputs)):
            if not plan:  # an open loop whose body touches no module never ends, so no loop here
                first = lm.nn.lm_head.output[:, -1].save()  # the head's first call: the prompt pass
            for step in tracer.iter[:] if plan else ():  # open loop: ends with the generation, whatever its length
                if step == 0:
                    edit_trace(lm, plan, prompt_layout)
                    first = lm.nn.lm_head.output[:, -1].save()  # after the edits: modules are reached in execution order
                elif every_pass:
                    edit_trace(lm, every_pass, PassLayout.decode())
                else:  # a step whose body reaches no module would never end: read the head's output
                    lm.nn.lm_head.output
        with tracer.invoke():  # statements after an open loop never run inside the same invoke
            result = tracer.result.save()
    new = result[:, inputs["input_ids"].shape[1] :].cpu().tolist()
    return new, first.float().log_softmax(-1).cpu()
