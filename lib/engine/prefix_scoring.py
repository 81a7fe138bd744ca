"""`forward_last` with the batch's shared chat prefix run once per distinct edit of it.

Scoring hundreds of refusal candidates on the same 32 prompts (04) spends most of its time on the chat template's
system block, which every prompt repeats: Qwen's and SmolLM2's are 20-30 of a prompt's 40-50 tokens. Here that
prefix runs once per batch (once per distinct edit that reaches it, as in generation's prompt pass), its KV cache
is expanded to every row, and only the rest of each prompt runs per row. Log-probs and states equal
`forward_last`'s up to float rounding (tested).

An edit that starts at layer l leaves every block below l as it was: `record` keeps each batch's block outputs of an
unedited pass, and `replay=(recorded, l)` has the blocks below l return them instead of running (the rest of the
prompt only; its prefix pass is one row and runs whole). The outputs are those the blocks would compute (same inputs,
deterministic kernels), so the scores stay the same, for a fraction l / L less of the pass (tested).

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


_ABSENT = object()


@torch.no_grad()
def forward_last_shared(
    lm: LoadedModel,
    prompts: list[str],
    interventions: Intervention | list[Intervention] | None = None,
    read_layers=(),
    batch_size: int = 16,
    record: list | None = None,
    replay: tuple[list, int] | None = None,
) -> tuple[Float[Tensor, "n vocab"], Float[Tensor, "n n_read d_model"]]:
    """Last-token log-probs and the last-token block outputs at `read_layers`, after the edits (hooks backend).

    `record`: a list that receives, per batch, every block's output of this pass (pass no edit). `replay`: (such a list
    from the same prompts and batch size, l): the blocks below l return the recorded outputs; only for edits that
    change nothing below block l's output."""
    rows = rows_for(interventions, len(prompts))
    read_layers = lm.check_layers(read_layers)
    if record is not None and any(row.edits for row in rows):
        raise ValueError("record keeps the outputs of an unedited pass: pass interventions=None.")
    logprobs, states = [], []
    for index, start in enumerate(range(0, len(prompts), batch_size)):
        batch_replay = None if replay is None else (replay[0][index], replay[1])  # this batch's recorded outputs
        logits, read = _batch(lm, encode(lm, prompts[start : start + batch_size]), rows[start : start + batch_size], read_layers,
                              record, batch_replay)
        logprobs.append(logits.float().log_softmax(-1).cpu())
        if read_layers:
            states.append(torch.stack([read[layer][:, -1].float().cpu() for layer in read_layers], 1))
    hidden = torch.cat(states) if states else torch.empty(len(prompts), 0, lm.d_model)
    return torch.cat(logprobs), hidden


def _batch(lm: LoadedModel, inputs: dict, rows: list[Intervention], read_layers: list[int], record: list | None = None,
           replay: tuple[list, int] | None = None) -> tuple[Float[Tensor, "batch vocab"], dict]:
    plan = compile_rows(lm, rows)
    session = EditSession(plan, PassLayout.left_padded(inputs["attention_mask"]))
    read, handles, shadowed = {}, [], {}
    with hooked(lm, session):
        split = _shared_prefix(lm, inputs, rows, session)  # runs the prefix pass(es) under their own plan and layout
        ids, mask, positions, cache, layout = split or (inputs["input_ids"], inputs["attention_mask"], inputs["position_ids"], None,
                                                        PassLayout.left_padded(inputs["attention_mask"]))
        session.plan, session.layout = plan, layout
        try:  # registered after the prefix pass and after the edits: these hooks see the rest's edited outputs
            for layer in read_layers:
                handles.append(lm.layers[layer].register_forward_hook(
                    lambda m, a, out, layer=layer: read.__setitem__(layer, output_tensor(out))))
            if record is not None:
                outputs = [None] * lm.n_layers
                record.append(outputs)
                handles += [block.register_forward_hook(lambda m, a, out, i=i: outputs.__setitem__(i, out)) for i, block in enumerate(lm.layers)]
            if replay is not None:  # instance attributes shadow the class's forward; hooks still run around them
                recorded, first = replay
                for i in range(first):  # nnsight may keep a wrapper there: put back whatever was there
                    shadowed[i] = lm.layers[i].__dict__.get("forward", _ABSENT)
                    lm.layers[i].forward = lambda *args, _out=recorded[i], **kwargs: _out
            out = lm.hf(input_ids=ids, attention_mask=mask, position_ids=positions, past_key_values=cache,
                        use_cache=cache is not None, logits_to_keep=1)
        finally:
            for handle in handles:
                handle.remove()
            for i, before in shadowed.items():
                if before is _ABSENT:
                    del lm.layers[i].forward
                else:
                    lm.layers[i].forward = before
    return out.logits[:, -1], read
