"""Add vectors to the residual stream: nnsight interventions, and a cached fast path for sweeps.

Where a vector is read and where it is applied are always explicit: `layer` is a decoder layer
whose *output* is modified, `position` is "last" (the last prompt token, first forward pass only)
or "all" (every position, including every generated token).

`next_token_sweep` answers "what is the next token under each of many (layer, vector) conditions"
for a sweep: the prompt prefix runs once with a KV cache, then only the last token runs again for
all conditions at once, each row of the batch steered at its own layer. A test checks it against
the plain nnsight intervention on the full prompt.

>>> ids = next_token_sweep(lm, prompts, [(5, v), (9, 2 * v)])     # [2 conditions, n_prompts] token ids
"""
from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
from tqdm.auto import tqdm

from .activations import encode
from .errors import WorkbookError


@dataclass
class SweepResult:
    top_ids: torch.Tensor  # [n_conditions, n_prompts] argmax next-token ids
    target_logprob: torch.Tensor | None  # [n_conditions, n_prompts] log p(target token), when targets given


def check_vector(lm, vector: torch.Tensor) -> torch.Tensor:
    """The vector on the model's device and dtype; a clear error when its size is not d_model."""
    if vector.shape[-1] != lm.d_model:
        raise WorkbookError(
            f"Steering vector has size {vector.shape[-1]} but {lm.key} has d_model {lm.d_model}: "
            f"use a vector extracted from this model."
        )
    return vector.to(lm.hf.device, lm.hf.dtype)


@torch.no_grad()
def steered_logits(lm, prompts: list[str], layer: int, vector: torch.Tensor, position: str = "last") -> torch.Tensor:
    """Next-token logits [n_prompts, vocab] with `vector` ([d] or [n_prompts, d]) added through nnsight."""
    (layer,) = lm.check_layers([layer])
    vector = check_vector(lm, vector)
    inputs = encode(lm, prompts)
    with lm.nn.trace(dict(inputs), use_cache=False, logits_to_keep=1, remote=lm.remote):
        hidden = lm.nn_layers[layer].output
        if position == "last":
            hidden[:, -1, :] += vector
        else:
            hidden[:] += vector if vector.dim() == 1 else vector[:, None, :]
        logits = lm.nn.lm_head.output[:, -1, :].save()
    return logits.float()


@torch.no_grad()
def next_token_sweep(
    lm,
    prompts: list[str],
    conditions: list[tuple[int, torch.Tensor]],
    targets: list[int] | None = None,
    batch_size: int = 16,
    max_rows: int = 1024,
    progress: bool = True,
) -> SweepResult:
    """Argmax next token (and log p of `targets`) for every prompt under every (layer, vector) condition.

    The vector ([d], or [n_prompts, d] for one vector per prompt) is added to the layer output at
    the last prompt token. A condition with a zero vector is the unsteered baseline. Per-prompt
    vectors let prompts that need different vectors (one per template) share one batched pass.
    Prompts run in batches of similar length; conditions in chunks so that batch x chunk <= max_rows
    rows run in one single-token forward pass.
    """
    lm.require_local("next_token_sweep (a KV-cache reuse with forward hooks)")
    layers = lm.check_layers([layer for layer, _ in conditions])
    vectors = torch.stack([_per_prompt(check_vector(lm, v), len(prompts)) for _, v in conditions])  # [C, n_prompts, d]
    n_cond = len(conditions)
    top = torch.empty(n_cond, len(prompts), dtype=torch.long)
    logp = torch.empty(n_cond, len(prompts)) if targets is not None else None
    # Batches of similar length (less padding: templates of one task differ a lot); results in the caller's order.
    order = torch.tensor(sorted(range(len(prompts)), key=lambda i: len(lm.tokenizer(prompts[i]).input_ids)))
    for start in tqdm(range(0, len(prompts), batch_size), desc=f"sweep {lm.key}", disable=not progress, leave=False):
        index = order[start : start + batch_size]
        batch = encode(lm, [prompts[i] for i in index])
        n = len(index)
        prefix = lm.hf(
            input_ids=batch["input_ids"][:, :-1], attention_mask=batch["attention_mask"][:, :-1],
            position_ids=batch["position_ids"][:, :-1], use_cache=True, logits_to_keep=1,  # only the cache is needed
        ).past_key_values
        chunk = max(1, max_rows // n)
        for c0 in range(0, n_cond, chunk):
            rows = slice(c0, min(n_cond, c0 + chunk))
            logits = _last_token_pass(lm, batch, prefix, layers[rows], vectors[rows][:, index])
            logits = logits.view(rows.stop - rows.start, n, -1)
            top[rows, index] = logits.argmax(-1).cpu()
            if targets is not None:
                gold = torch.as_tensor([targets[i] for i in index], device=logits.device)
                log_probs = logits.float().log_softmax(-1)
                logp[rows, index] = log_probs.gather(-1, gold.expand(logits.shape[0], n)[..., None])[..., 0].cpu()
    return SweepResult(top, logp)


def _per_prompt(vector: torch.Tensor, n_prompts: int) -> torch.Tensor:
    """A condition's vector as [n_prompts, d]: a [d] vector is the same for every prompt."""
    if vector.dim() == 1:
        return vector.expand(n_prompts, -1)
    if vector.shape[0] != n_prompts:
        raise WorkbookError(f"A per-prompt steering vector has {vector.shape[0]} rows for {n_prompts} prompts: pass one row per prompt, or a single [d] vector.")
    return vector


def _last_token_pass(lm, batch, prefix_cache, layers: list[int], vectors: torch.Tensor) -> torch.Tensor:
    """Logits of the last token for C conditions x n prompts (`vectors` [C, n, d]), rows ordered condition-major."""
    n, n_cond = batch["input_ids"].shape[0], len(layers)
    cache = copy.deepcopy(prefix_cache)
    cache.batch_repeat_interleave(n_cond)  # row r*n_cond + c: prompt r, condition c
    additions = {}  # layer -> [n, C, d]: what each row gets added at that layer (zero elsewhere)
    for c, layer in enumerate(layers):
        add = additions.setdefault(layer, torch.zeros(n, n_cond, lm.d_model, device=vectors.device, dtype=vectors.dtype))
        add[:, c] = vectors[c]  # [n, d]: each prompt its own row
    handles = []
    try:
        for layer, add in additions.items():
            flat = add.reshape(n * n_cond, 1, lm.d_model)

            def hook(module, args, output, flat=flat):
                hidden = output[0] if isinstance(output, tuple) else output
                hidden = hidden + flat
                return (hidden, *output[1:]) if isinstance(output, tuple) else hidden

            handles.append(lm.layers[layer].register_forward_hook(hook))
        out = lm.hf(
            input_ids=batch["input_ids"][:, -1:].repeat_interleave(n_cond, 0),
            attention_mask=batch["attention_mask"].repeat_interleave(n_cond, 0),
            position_ids=batch["position_ids"][:, -1:].repeat_interleave(n_cond, 0),
            past_key_values=cache, use_cache=True,
        )
    finally:
        for handle in handles:
            handle.remove()
    logits = out.logits[:, -1, :]  # [n * n_cond, vocab], prompt-major
    return logits.view(n, n_cond, -1).transpose(0, 1).reshape(n_cond * n, -1)


@torch.no_grad()
def generate(
    lm,
    prompts: list[str],
    max_new_tokens: int,
    layer: int | None = None,
    vector: torch.Tensor | None = None,
    position: str = "last",
    batch_size: int = 16,
    progress: bool = True,
) -> list[str]:
    """Greedy continuations (new text only) with an optional nnsight intervention.

    position="last": `vector` is added at the last prompt token in the first forward pass only
    (a function vector). position="all": added at every position of every step (style steering).
    """
    outputs = []
    if vector is not None:
        (layer,) = lm.check_layers([layer])
        vector = check_vector(lm, vector)
    for start in tqdm(range(0, len(prompts), batch_size), desc=f"generate {lm.key}", disable=not progress, leave=False):
        inputs = encode(lm, prompts[start : start + batch_size])
        kwargs = dict(max_new_tokens=max_new_tokens, min_new_tokens=max_new_tokens, do_sample=False,
                      pad_token_id=lm.tokenizer.pad_token_id)
        with lm.nn.generate(dict(inputs), **kwargs, remote=lm.remote) as tracer:
            if vector is not None:
                if position == "last":
                    for _ in tracer.iter[:1]:  # the prompt's forward pass only
                        lm.nn_layers[layer].output[:, -1, :] += vector
                else:
                    for _ in tracer.iter[:max_new_tokens]:
                        lm.nn_layers[layer].output[:] += vector
            result = tracer.result.save()
        new = result[:, inputs["input_ids"].shape[1] :]
        outputs += lm.tokenizer.batch_decode(new, skip_special_tokens=True)
    return outputs
