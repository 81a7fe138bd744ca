"""`forward_last` with the batch's shared chat prefix run once per distinct edit of it.

Scoring hundreds of refusal candidates on the same 32 prompts (04) spends most of its time on the chat template's
system block, which every prompt repeats: Qwen's and SmolLM2's are 20-30 of a prompt's 40-50 tokens. Here that
prefix runs once per batch (once per distinct edit that reaches it, as in generation's prompt pass), its KV cache
is expanded to every row, and only the rest of each prompt runs per row. Log-probs and states equal
`forward_last`'s up to float rounding (tested).

Kept beside `scoring.forward_last` rather than inside it, so that the notebooks already run against the engine keep
their input hashes; fold it into `forward_last(share_prefix=True)` at the next full rerun.
"""
from __future__ import annotations

import torch
from jaxtyping import Float
from torch import Tensor

from ..activations import encode
from ..models import LoadedModel
from .backends import EditSession, hooked, output_tensor
from .generation import _shared_prefix, rows_for
from .recipe import Intervention
from .sites import PassLayout, compile_rows


@torch.no_grad()
def forward_last_shared(
    lm: LoadedModel,
    prompts: list[str],
    interventions: Intervention | list[Intervention] | None = None,
    read_layers=(),
    batch_size: int = 16,
) -> tuple[Float[Tensor, "n vocab"], Float[Tensor, "n n_read d_model"]]:
    """Last-token log-probs and the last-token block outputs at `read_layers`, after the edits (hooks backend)."""
    rows = rows_for(interventions, len(prompts))
    read_layers = lm.check_layers(read_layers)
    logprobs, states = [], []
    for start in range(0, len(prompts), batch_size):
        logits, read = _batch(lm, encode(lm, prompts[start : start + batch_size]), rows[start : start + batch_size], read_layers)
        logprobs.append(logits.float().log_softmax(-1).cpu())
        if read_layers:
            states.append(torch.stack([read[layer][:, -1].float().cpu() for layer in read_layers], 1))
    hidden = torch.cat(states) if states else torch.empty(len(prompts), 0, lm.d_model)
    return torch.cat(logprobs), hidden


def _batch(lm: LoadedModel, inputs: dict, rows: list[Intervention], read_layers: list[int]) -> tuple[Float[Tensor, "batch vocab"], dict]:
    plan = compile_rows(lm, rows)
    session = EditSession(plan, PassLayout.left_padded(inputs["attention_mask"]))
    read, handles = {}, []
    with hooked(lm, session):
        split = _shared_prefix(lm, inputs, rows, session)  # runs the prefix pass(es) under their own plan and layout
        ids, mask, positions, cache, layout = split or (inputs["input_ids"], inputs["attention_mask"], inputs["position_ids"], None,
                                                        PassLayout.left_padded(inputs["attention_mask"]))
        session.plan, session.layout = plan, layout
        try:  # registered after the prefix pass and after the edits: these hooks see the rest's edited outputs
            for layer in read_layers:
                handles.append(lm.layers[layer].register_forward_hook(
                    lambda m, a, out, layer=layer: read.__setitem__(layer, output_tensor(out))))
            out = lm.hf(input_ids=ids, attention_mask=mask, position_ids=positions, past_key_values=cache,
                        use_cache=cache is not None, logits_to_keep=1)
        finally:
            for handle in handles:
                handle.remove()
    return out.logits[:, -1], read
