"""Interventions for generation and scoring: one recipe per prompt, applied by hooks or by nnsight.

An `Intervention` says what one prompt's forward passes get: vectors added at layers (at every
position, or at the last prompt token only) and/or a direction projected out everywhere. Rows of
one batch may carry different interventions (zeros are an exact no-op), so a sweep over many
conditions runs as a few large batches. `generate` runs through plain forward hooks or through an
nnsight generation trace; a test checks that both give identical tokens (seed 003's tooling gap).

>>> gen = generate(lm, prompts, 64, [NO_INTERVENTION, add_from(range(9, 30), 12 * d)])
>>> logprobs, states = forward_last(lm, prompts, Intervention(ablate=d), read_layers=[3, 4])
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import torch
from tqdm.auto import tqdm

from .activations import encode, needs_special_tokens
from .errors import WorkbookError
from .steering import check_vector


@dataclass(frozen=True)
class Intervention:
    """What one prompt's forward passes get.

    `add`: {layer: vector [d]} added to that layer's output, at every position of every step
    (position="all", activation addition) or at the last prompt token of the prompt pass only
    (position="last", a function vector). `ablate`: a unit direction projected out of the
    embedding output and of every layer's output at every position (Arditi et al.'s directional
    ablation, x <- x - r r^T x). Ablation is applied before addition at the same layer.
    """

    add: dict = field(default_factory=dict)
    ablate: torch.Tensor | None = None
    position: str = "all"

    def __post_init__(self):
        if self.position not in ("all", "last"):
            raise WorkbookError(f"Unknown steering position {self.position!r}: use 'all' or 'last'.")


NO_INTERVENTION = Intervention()


def add_from(layers, vector: torch.Tensor, position: str = "all") -> Intervention:
    """The same vector added at each of `layers` (the seed's "every layer from l to the end" is range(l, L))."""
    layers = [layers] if isinstance(layers, int) else list(layers)
    return Intervention(add={layer: vector for layer in layers}, position=position)


@dataclass
class _RowTensors:
    """Per-row intervention tensors for one batch (zeros where a row has nothing: an exact no-op)."""

    add_all: dict  # layer -> [B, d]
    add_last: dict  # layer -> [B, d]
    ablate: torch.Tensor | None  # [B, d] unit rows, or None when no row ablates


def _row_tensors(lm, rows: list[Intervention]) -> _RowTensors:
    zeros = lambda: torch.zeros(len(rows), lm.d_model, device=lm.hf.device, dtype=lm.hf.dtype)
    add_all, add_last, ablate = {}, {}, None
    for i, row in enumerate(rows):
        target = add_all if row.position == "all" else add_last
        for layer, vector in row.add.items():
            (layer,) = lm.check_layers([layer])
            target.setdefault(layer, zeros())[i] = check_vector(lm, vector)
        if row.ablate is not None:
            ablate = zeros() if ablate is None else ablate
            direction = check_vector(lm, row.ablate)
            ablate[i] = direction / direction.norm()
    return _RowTensors(add_all, add_last, ablate)


def _project_out(hidden: torch.Tensor, directions: torch.Tensor) -> torch.Tensor:
    return hidden - (hidden * directions[:, None]).sum(-1, keepdim=True) * directions[:, None]


class hooked:
    """Context manager: register forward hooks applying one Intervention per batch row.

    The prompt pass is the first call of each hook (generation then feeds one token per step),
    which is where position="last" additions go.
    """

    def __init__(self, lm, rows: list[Intervention]):
        self.lm, self.tensors, self.handles = lm, _row_tensors(lm, rows), []

    def _edit(self, layer):
        t, state = self.tensors, {"calls": 0}

        def hook(module, args, output):
            hidden = output[0] if isinstance(output, tuple) else output
            if t.ablate is not None:
                hidden = _project_out(hidden, t.ablate)
            if layer in t.add_all:
                hidden = hidden + t.add_all[layer][:, None]
            if layer in t.add_last and state["calls"] == 0:
                hidden = hidden.clone()
                hidden[:, -1] += t.add_last[layer]
            state["calls"] += 1
            return (hidden, *output[1:]) if isinstance(output, tuple) else hidden

        return hook

    def __enter__(self):
        self.lm.require_local("An intervention through forward hooks")
        t = self.tensors
        if t.ablate is not None:
            embed = self.lm.hf.get_input_embeddings()
            self.handles.append(embed.register_forward_hook(lambda m, a, out: _project_out(out, t.ablate)))
        for layer in sorted(set(t.add_all) | set(t.add_last) | (set(range(self.lm.n_layers)) if t.ablate is not None else set())):
            self.handles.append(self.lm.layers[layer].register_forward_hook(self._edit(layer)))
        return self

    def __exit__(self, *exc):
        for handle in self.handles:  # always removed, even when the forward pass fails
            handle.remove()
        self.handles.clear()


def _nnsight_edit(lm, t: _RowTensors, first_pass: bool) -> None:
    """The same edits as `hooked`, written as an nnsight intervention (module order = execution order)."""
    if t.ablate is not None:
        embed = lm.nn.model.embed_tokens.output
        embed[:] = _project_out(embed, t.ablate)
    for layer in range(lm.n_layers):
        touched = t.ablate is not None or layer in t.add_all or (first_pass and layer in t.add_last)
        if not touched:
            continue
        hidden = lm.nn_layers[layer].output
        if t.ablate is not None:
            hidden[:] = _project_out(hidden, t.ablate)
        if layer in t.add_all:
            hidden[:] += t.add_all[layer][:, None]
        if first_pass and layer in t.add_last:
            hidden[:, -1, :] += t.add_last[layer]


def _rows_for(interventions, n: int) -> list[Intervention]:
    if interventions is None:
        return [NO_INTERVENTION] * n
    if isinstance(interventions, Intervention):
        return [interventions] * n
    if len(interventions) != n:
        raise WorkbookError(f"Got {len(interventions)} interventions for {n} prompts: pass one per prompt, or a single one for all.")
    return list(interventions)


@dataclass
class Generation:
    texts: list[str]  # new text only, special tokens removed
    token_ids: list[list[int]]  # new token ids up to (not including) the end-of-sequence token
    first_logprobs: torch.Tensor | None = None  # [n, vocab] log-probs of the first new token


@torch.no_grad()
def generate(
    lm,
    prompts: list[str],
    max_new_tokens: int,
    interventions: Intervention | list[Intervention] | None = None,
    backend: str = "hooks",
    stop_at_eos: bool = True,
    batch_size: int = 16,
    progress: bool = True,
    share_prefix: bool = True,
) -> Generation:
    """Greedy continuations, each prompt with its own Intervention (rows of one batch may differ).

    backend="hooks" uses plain forward hooks around `generate`; backend="nnsight" writes the same
    edits in an nnsight generation trace. A test checks that both give identical tokens.
    `stop_at_eos=False` always produces max_new_tokens tokens. `share_prefix` (hooks backend): the
    tokens every prompt of a batch starts with (a chat template's system prompt) run once per distinct
    edit of them instead of once per row; prefill is about half the work of a 32-token answer.
    """
    if backend not in ("hooks", "nnsight"):
        raise WorkbookError(f"Unknown generation backend {backend!r}: use 'hooks' or 'nnsight'.")
    if lm.remote:  # the same edits as an nnsight trace, which NDIF can run; hooks only run in this process
        backend = "nnsight"
    rows = _rows_for(interventions, len(prompts))
    kwargs = dict(max_new_tokens=max_new_tokens, do_sample=False, pad_token_id=lm.tokenizer.pad_token_id)
    if not stop_at_eos:
        kwargs["min_new_tokens"] = max_new_tokens
    texts, token_ids, first = [], [], []
    # Batches of similar length (less padding to compute), returned in the caller's order.
    order = sorted(range(len(prompts)), key=lambda i: len(lm.tokenizer(prompts[i]).input_ids))
    for start in tqdm(range(0, len(prompts), batch_size), desc=f"generate {lm.key} ({backend})", disable=not progress, leave=False):
        index = order[start : start + batch_size]
        inputs = encode(lm, [prompts[i] for i in index])
        batch_rows = [rows[i] for i in index]
        if backend == "hooks":
            cache = None
            if share_prefix:
                inputs, cache = _shared_prefix(lm, inputs, batch_rows)
            # Only the prompt pass's logits are kept: `output_logits=True` would hold every step's
            # full-vocabulary logits (Qwen: 64 steps x 64 rows x 152k floats = 2.5 GB per batch).
            with hooked(lm, batch_rows), _FirstLogits(lm.hf) as prompt_pass:
                result = lm.hf.generate(**inputs, past_key_values=cache, **kwargs)
            first.append(prompt_pass.logprobs)
        else:
            result, logprobs = _nnsight_generate(lm, inputs, batch_rows, kwargs)
            first.append(logprobs)
        new = result[:, inputs["input_ids"].shape[1] :].cpu()
        texts += lm.tokenizer.batch_decode(new, skip_special_tokens=True)
        token_ids += [until_eos(lm, row.tolist()) for row in new]
    restore = sorted(range(len(order)), key=order.__getitem__)
    return Generation([texts[i] for i in restore], [token_ids[i] for i in restore], torch.cat(first)[restore] if first else None)


MIN_SHARED_PREFIX = 4  # tokens; below this a separate prefix pass saves less than it costs


def _prefix_key(row: Intervention):
    """Rows with equal keys compute the same prefix states: only edits at every position touch the prefix."""
    touches_prefix = row.ablate is not None or (row.position == "all" and row.add)
    return id(row) if touches_prefix else None


def _shared_prefix(lm, inputs: dict, rows: list[Intervention]) -> tuple[dict, object]:
    """Run the batch's common prompt prefix once per distinct prefix edit; return the inputs laid out
    as [prefix | padding | rest] and the prefix's KV cache expanded to every row.

    Each row keeps at least its last prompt token outside the prefix, so the first pass of `generate`
    still ends on it (where position="last" edits and the first-token log-probs are read). Position
    ids follow the attention mask, so the rest of each prompt continues at the prefix's length.
    """
    ids, mask = inputs["input_ids"], inputs["attention_mask"]
    width, lengths = ids.shape[1], mask.sum(1).tolist()
    shortest = min(lengths)
    starts = width - torch.tensor(lengths, device=ids.device)
    heads = ids.gather(1, starts[:, None] + torch.arange(shortest, device=ids.device))  # each row's first real tokens
    same = (heads == heads[0]).all(0).tolist() + [False]
    size = min(same.index(False), shortest - 1)
    keys = [_prefix_key(row) for row in rows]
    distinct = list(dict.fromkeys(keys))
    if size < MIN_SHARED_PREFIX or len(distinct) == len(rows):
        return inputs, None
    first_of = {key: rows[keys.index(key)] for key in distinct}
    editors = [Intervention(add=r.add if r.position == "all" else {}, ablate=r.ablate) for r in first_of.values()]
    prefix = heads[:1, :size].expand(len(distinct), size)
    with torch.no_grad(), hooked(lm, editors):
        cache = lm.hf(input_ids=prefix, attention_mask=torch.ones_like(prefix),
                      position_ids=torch.arange(size, device=ids.device).expand(len(distinct), size),
                      use_cache=True, logits_to_keep=1).past_key_values
    cache.batch_select_indices(torch.tensor([distinct.index(k) for k in keys], device=ids.device))
    new_ids, new_mask = torch.empty_like(ids), torch.empty_like(mask)
    for r, length in enumerate(lengths):
        pad = width - length
        new_ids[r] = torch.cat([heads[r, :size], ids[r, :pad], ids[r, pad + size :]])
        new_mask[r] = torch.cat([mask.new_ones(size), mask.new_zeros(pad), mask.new_ones(length - size)])
    position_ids = (new_mask.cumsum(-1) - 1).clamp(min=0)
    return {"input_ids": new_ids, "attention_mask": new_mask, "position_ids": position_ids}, cache


class _FirstLogits:
    """Forward hook on the model that keeps the log-probs of its first call (the prompt pass) at the last position."""

    def __init__(self, model: torch.nn.Module):
        self.model, self.logprobs = model, None

    def _hook(self, module, args, output):
        if self.logprobs is None:  # raw logits, before any logits processor of `generate`
            self.logprobs = output.logits[:, -1].float().log_softmax(-1).cpu()

    def __enter__(self):
        self.handle = self.model.register_forward_hook(self._hook)
        return self

    def __exit__(self, *exc):
        self.handle.remove()


def _nnsight_generate(lm, inputs, rows: list[Intervention], kwargs) -> tuple[torch.Tensor, torch.Tensor]:
    """Generated ids and the prompt pass's last-position log-probs, from one nnsight generation trace."""
    tensors = _row_tensors(lm, rows)
    edits = tensors.ablate is not None or tensors.add_all or tensors.add_last
    with warnings.catch_warnings(), lm.nn.generate(**kwargs, remote=lm.remote) as tracer:
        warnings.filterwarnings("ignore", message=".*was never reached.*")  # how an open loop ends, by design
        with tracer.invoke(dict(inputs)):
            if not edits:  # an open loop whose body touches no module never ends, so no loop here
                first = lm.nn.lm_head.output[:, -1].save()  # the head's first call: the prompt pass
            for step in tracer.iter[:] if edits else ():  # open loop: ends with the generation, whatever its length
                _nnsight_edit(lm, tensors, first_pass=step == 0)
                if step == 0:  # after the edits: modules are reached in execution order
                    first = lm.nn.lm_head.output[:, -1].save()
        with tracer.invoke():  # statements after an open loop never run inside the same invoke
            result = tracer.result.save()
    return result, first.float().log_softmax(-1).cpu()


def until_eos(lm, ids: list[int]) -> list[int]:
    """`ids` up to (not including) the first end-of-sequence or padding token of this model."""
    stops = {lm.tokenizer.eos_token_id, lm.tokenizer.pad_token_id} | set(_generation_eos_ids(lm))
    for i, token in enumerate(ids):
        if token in stops:
            return ids[:i]
    return ids


def _generation_eos_ids(lm) -> list[int]:
    eos = getattr(lm.hf.generation_config, "eos_token_id", None)
    return [] if eos is None else ([eos] if isinstance(eos, int) else list(eos))


@torch.no_grad()
def forward_last(
    lm,
    prompts: list[str],
    interventions: Intervention | list[Intervention] | None = None,
    read_layers: list[int] = (),
    batch_size: int = 16,
    progress: bool = True,
) -> tuple[torch.Tensor, torch.Tensor]:
    """One forward pass per prompt under its Intervention: last-token log-probs [n, vocab] and the
    last-token residual after the intervention at `read_layers` [n, len(read_layers), d]."""
    rows = _rows_for(interventions, len(prompts))
    read_layers = lm.check_layers(read_layers)
    logprobs, states = [], []
    for start in tqdm(range(0, len(prompts), batch_size), desc=f"score {lm.key}", disable=not progress, leave=False):
        inputs = encode(lm, prompts[start : start + batch_size])
        read, handles = {}, []
        with hooked(lm, rows[start : start + batch_size]):
            try:  # registered after the edits, so these hooks see the edited outputs
                for layer in read_layers:
                    handles.append(lm.layers[layer].register_forward_hook(
                        lambda m, a, out, layer=layer: read.__setitem__(layer, (out[0] if isinstance(out, tuple) else out)[:, -1].float().cpu())))
                logits = lm.hf(**inputs, use_cache=False, logits_to_keep=1).logits[:, -1].float()
            finally:
                for handle in handles:
                    handle.remove()
        logprobs.append(logits.log_softmax(-1).cpu())
        if read_layers:
            states.append(torch.stack([read[layer] for layer in read_layers], 1))
    hidden = torch.cat(states) if states else torch.empty(len(prompts), 0, lm.d_model)
    return torch.cat(logprobs), hidden


@torch.no_grad()
def continuation_nll(lm, prompts: list[str], continuations: list[list[int]], batch_size: int = 8, progress: bool = True) -> torch.Tensor:
    """Mean per-token negative log-likelihood [n] of each continuation (token ids) after its prompt,
    under the model with no intervention: the coherence measure for steered text. NaN where empty.

    Notebooks score many continuations of the same prompt (one per condition), so each batch runs its
    distinct prompts once and scores the continuations against their KV cache: the prompt tokens,
    most of the work, are not recomputed per condition."""
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


def _chunk_nll(lm, prompts: list[str], continuations: list[list[int]], add_special: bool) -> torch.Tensor:
    """continuation_nll of one batch (under its caller's no_grad): its distinct prompts in one left-padded pass, then
    every continuation (right-padded, so padding follows the tokens it could disturb) on the expanded cache."""
    tok, device = lm.tokenizer, lm.hf.device
    distinct = list(dict.fromkeys(prompts))
    enc = tok(distinct, return_tensors="pt", padding=True, padding_side="left", add_special_tokens=add_special).to(device)
    prompt_mask = enc.attention_mask
    out = lm.hf(input_ids=enc.input_ids, attention_mask=prompt_mask, position_ids=(prompt_mask.cumsum(-1) - 1).clamp(min=0),
                use_cache=True, logits_to_keep=1)
    which = torch.tensor([distinct.index(p) for p in prompts], device=device)
    cache = out.past_key_values
    cache.batch_select_indices(which)
    width = max(map(len, continuations))
    ids = torch.full((len(prompts), width), tok.pad_token_id, device=device)
    cont_mask = torch.zeros(len(prompts), width, dtype=torch.long, device=device)
    for r, c in enumerate(continuations):
        ids[r, : len(c)], cont_mask[r, : len(c)] = torch.tensor(c), 1
    positions = prompt_mask.sum(1)[which, None] + torch.arange(width, device=device)
    logits = lm.hf(input_ids=ids, attention_mask=torch.cat([prompt_mask[which], cont_mask], 1), position_ids=positions,
                   past_key_values=cache, use_cache=True).logits
    # token t of a continuation is predicted at the prompt's last position (t = 0) or at its token t - 1
    logits = torch.cat([out.logits[which, -1:], logits[:, :-1]], 1).float()
    token_logprobs = logits.log_softmax(-1).gather(-1, ids[..., None])[..., 0].cpu()
    mask = cont_mask.cpu()
    return -(token_logprobs * mask).sum(1) / mask.sum(1)
