"""Capture the residual stream (decoder-layer outputs, or inputs) for batches of prompts.

Two implementations of one contract, so each checks the other:
- `backend="nnsight"` traces the nnsight-wrapped model;
- `backend="hooks"` registers plain PyTorch forward hooks on the same modules.
Both feed identical inputs: left padding (position -1 is the last real token of every prompt)
and explicit position ids counted from the first real token, as `generate` and nnsight do.
`backend="hooks_tuple_bug"` reproduces code written for transformers 4, where a decoder layer
returned a tuple: `output[0]` on the transformers-5 tensor silently selects batch item 0.

A reducer turns one batch of hidden states into per-prompt features before they are stored:

    feats = capture(lm, prompts, layers=[3, 5], reduce=last_tokens(1))   # [n_prompts, 2, 1, d_model]
"""
from __future__ import annotations

from typing import Callable

import torch
from tqdm.auto import tqdm

from .errors import WorkbookError
from .prompts import require_prompts

Reducer = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # (hidden [B,T,d], mask [B,T]) -> [B, ...]
BACKENDS = ("nnsight", "hooks", "hooks_tuple_bug")


def needs_special_tokens(tokenizer, prompts: list[str]) -> bool:
    """False when every prompt already begins with the BOS token (chat templates may add it): no second BOS."""
    return not (tokenizer.bos_token and all(p.startswith(tokenizer.bos_token) for p in prompts))


def encode(lm, prompts: list[str], padding_side: str = "left") -> dict[str, torch.Tensor]:
    """Tokenize with left padding; position ids start at 0 on each prompt's first real token.

    `padding_side="right"` exists only to reproduce code that read position -1 of right-padded
    batches (a pad token for every prompt shorter than the longest).
    """
    prompts = require_prompts(prompts)
    tok = lm.tokenizer
    add_special = needs_special_tokens(tok, prompts)
    default_side, tok.padding_side = tok.padding_side, padding_side
    try:
        batch = tok(prompts, return_tensors="pt", padding=True, add_special_tokens=add_special)
    finally:
        tok.padding_side = default_side
    mask = batch["attention_mask"]
    position_ids = (mask.cumsum(-1) - 1).clamp(min=0)
    device = lm.hf.device
    return {
        "input_ids": batch["input_ids"].to(device),
        "attention_mask": mask.to(device),
        "position_ids": position_ids.to(device),
    }


# Reducers: [B, T, d] hidden states and [B, T] mask -> per-prompt features.


def last_tokens(k: int = 1) -> Reducer:
    """The last k real tokens of each prompt (valid because of left padding): [B, k, d]."""
    return lambda hidden, mask: hidden[:, -k:, :]


def mean_tokens(skip_first: bool = False) -> Reducer:
    """Mean over each prompt's real tokens, optionally without the first (attention-sink) token: [B, d]."""

    def reduce(hidden, mask):
        weights = mask.to(hidden.dtype).clone()
        if skip_first:
            weights[torch.arange(len(mask)), first_real_index(mask)] = 0.0
        return (hidden * weights[..., None]).sum(1) / weights.sum(1, keepdim=True).clamp(min=1.0)

    return reduce


def token_norm_summary(hidden, mask) -> torch.Tensor:
    """Per prompt: [first real token's norm, mean norm of the other real tokens, mean over all real tokens]."""
    norms = hidden.norm(dim=-1)
    rows = torch.arange(len(mask))
    first = norms[rows, first_real_index(mask)]
    real = mask.to(norms.dtype)
    total = (norms * real).sum(1)
    count = real.sum(1)
    rest = (total - first) / (count - 1).clamp(min=1.0)
    return torch.stack([first, rest, total / count], dim=-1)


def first_real_index(mask: torch.Tensor) -> torch.Tensor:
    """Index of the first non-pad token in each left-padded row."""
    return (mask.shape[1] - mask.sum(1)).long()


def _layer_tensor(output, tuple_bug: bool, batch_size: int) -> torch.Tensor:
    if tuple_bug:
        hidden = output[0]  # written for transformers 4's `(hidden_states,)`; on a tensor: batch item 0
        return hidden.unsqueeze(0).expand(batch_size, *hidden.shape) if hidden.dim() == 2 else hidden
    return output[0] if isinstance(output, tuple) else output


def _forward_hooks(lm, inputs, layers, site, tuple_bug) -> dict[int, torch.Tensor]:
    lm.require_local("Capture with the hooks backend")
    captured: dict[int, torch.Tensor] = {}
    batch_size = inputs["input_ids"].shape[0]
    handles = []
    try:
        for layer in layers:
            module = lm.layers[layer]
            if site == "output":

                def hook(mod, args, output, layer=layer):
                    captured[layer] = _layer_tensor(output, tuple_bug, batch_size).detach()

                handles.append(module.register_forward_hook(hook))
            else:

                def pre_hook(mod, args, kwargs, layer=layer):
                    hidden = args[0] if args else kwargs["hidden_states"]
                    captured[layer] = _layer_tensor(hidden, tuple_bug, batch_size).detach()

                handles.append(module.register_forward_pre_hook(pre_hook, with_kwargs=True))
        lm.hf(**inputs, use_cache=False, logits_to_keep=1)
    finally:
        for handle in handles:  # always remove, even when the forward pass fails
            handle.remove()
    return captured


def _forward_nnsight(lm, inputs, layers, site) -> dict[int, torch.Tensor]:
    saved = {}
    with lm.nn.trace(dict(inputs), use_cache=False, logits_to_keep=1, remote=lm.remote):
        for layer in layers:  # nnsight requires access in execution order
            envoy = lm.nn_layers[layer]
            saved[layer] = (envoy.output if site == "output" else envoy.input).save()
    return {layer: value.detach() for layer, value in saved.items()}


@torch.no_grad()
def capture(
    lm,
    prompts: list[str],
    layers,
    reduce: Reducer | dict[str, Reducer],
    site: str = "output",
    backend: str = "nnsight",
    batch_size: int = 16,
    progress: bool = True,
    padding_side: str = "left",
) -> torch.Tensor:
    """Reduced residual-stream features for every prompt and layer: [n_prompts, n_layers, *reduced].

    Pass a dict of reducers to get a dict of such tensors from one set of forward passes.
    """
    prompts = require_prompts(prompts)
    layers = sorted(lm.check_layers(layers))
    if site not in ("output", "input"):
        raise WorkbookError(f"Unknown capture site {site!r}: use 'output' (layer output) or 'input' (layer input).")
    if backend not in BACKENDS:
        raise WorkbookError(f"Unknown capture backend {backend!r}: use one of {', '.join(BACKENDS)}.")
    reducers = reduce if isinstance(reduce, dict) else {"features": reduce}
    chunks: dict[str, list[torch.Tensor]] = {name: [] for name in reducers}
    # Batch prompts of similar length together (less padding), then restore the caller's order.
    order = sorted(range(len(prompts)), key=lambda i: len(lm.tokenizer(prompts[i]).input_ids))
    starts = range(0, len(prompts), batch_size)
    for start in tqdm(starts, desc=f"capture {lm.key} ({backend})", disable=not progress, leave=False):
        inputs = encode(lm, [prompts[i] for i in order[start : start + batch_size]], padding_side=padding_side)
        if backend == "nnsight":
            hidden = _forward_nnsight(lm, inputs, layers, site)
        else:
            hidden = _forward_hooks(lm, inputs, layers, site, tuple_bug=backend == "hooks_tuple_bug")
        mask = inputs["attention_mask"]
        for name, reducer in reducers.items():
            chunks[name].append(torch.stack([reducer(hidden[layer].float(), mask) for layer in layers], dim=1).cpu())
    restore = torch.argsort(torch.tensor(order))
    features = {name: torch.cat(parts)[restore] for name, parts in chunks.items()}
    for name, tensor in features.items():
        assert not tensor.isnan().any(), f"NaN in captured activations ({name})"
    return features if isinstance(reduce, dict) else features["features"]
