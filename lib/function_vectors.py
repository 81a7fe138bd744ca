"""Todd et al. (2024) function vectors: the summed mean outputs of the attention heads that carry a task.

As their code has it (ericwtodd/function_vectors, `extract_utils.get_mean_head_activations`,
`compute_indirect_effect`, `compute_function_vector`, `intervention_utils.add_function_vector`):

1. **Mean head outputs.** Each head's output at the last prompt token (its slice of the input of the
   attention output projection o_proj), averaged over in-context prompts the model answers correctly.
2. **Causal indirect effect (CIE).** On prompts whose demonstration labels are shuffled, one head's output
   at the last token is replaced by its mean; the CIE is p(correct first token) patched minus unpatched,
   averaged over a task's prompts (their `compute_indirect_effect`: 25 per task).
3. **Function vector.** The task's ten heads with the largest mean CIE: their mean outputs, each through its
   slice of o_proj, summed into one residual-stream vector.
4. **Use.** Added once (strength 1) to the output of layer round(L/3) at the last prompt token.

Replacing head h's slice z_h of the o_proj input by m_h changes o_proj's output by W_O[:, h] (m_h - z_h),
because o_proj is linear and (in the Llama and Qwen layouts) has no bias; their code recomputes the product
with the edited input, which is the same number. The patch is therefore the engine's addition at `attn_out`
of that layer, and every head of every layer runs as one condition of one `next_token_sweep` (the prompt's
prefix once). The same identity does not hold where a norm follows o_proj (Gemma 2/3), so those models raise.
"""
from __future__ import annotations

import torch
from jaxtyping import Float, Int
from torch import Tensor
from tqdm.auto import tqdm

from . import engine
from .activations import encode
from .engine.sites import write_paths
from .errors import WorkbookError
from .models import LoadedModel

N_TOP_HEADS = 10  # their default


def head_shape(lm: LoadedModel) -> tuple[int, int]:
    """(heads per layer, width of one head's output)."""
    config = lm.hf.config
    n_heads = config.num_attention_heads
    return n_heads, getattr(config, "head_dim", None) or config.hidden_size // n_heads


def out_projection(lm: LoadedModel, layer: int) -> Float[Tensor, "d_model heads_x_head_dim"]:
    """o_proj's weight at `layer`; a clear error for a layout where the head patch is not an addition."""
    block = lm.layers[layer]
    if write_paths(block)["attn"] != "self_attn.o_proj":
        raise WorkbookError(f"{lm.key} normalises the attention output after o_proj, so a head's patch is not an addition "
                            f"to the residual stream: compute Todd function vectors on a Llama- or Qwen-layout model.")
    o_proj = block.self_attn.o_proj
    if o_proj.bias is not None:
        raise WorkbookError(f"{lm.key}'s o_proj has a bias, which a head's contribution does not carry: "
                            f"compute Todd function vectors on a model without an o_proj bias (Llama, Qwen).")
    return o_proj.weight


def head_contributions(lm: LoadedModel, layer: int, z: Float[Tensor, "*batch heads head_dim"]) -> Float[Tensor, "*batch heads d_model"]:
    """What each head's output `z` writes into the residual stream through its slice of o_proj."""
    n_heads, head_dim = head_shape(lm)
    weight = out_projection(lm, layer).float().view(-1, n_heads, head_dim)  # [d_model, heads, head_dim]
    return torch.einsum("...hk,dhk->...hd", z.float().to(weight.device), weight).cpu()


@torch.no_grad()
def last_token_head_outputs(lm: LoadedModel, prompts: list[str], batch_size: int = 16, progress: bool = False
                            ) -> tuple[Float[Tensor, "n layers heads head_dim"], Int[Tensor, "n"]]:
    """Every head's output at the last prompt token of every layer, and the argmax next token, unsteered."""
    lm.require_local("Reading attention-head outputs (forward pre-hooks on o_proj)")
    n_heads, head_dim = head_shape(lm)
    outputs, top = [], []
    for start in tqdm(range(0, len(prompts), batch_size), desc=f"heads {lm.key}", disable=not progress, leave=False):
        inputs = encode(lm, prompts[start : start + batch_size])  # left padding: -1 is every prompt's last token
        read: dict[int, Tensor] = {}
        handles = [lm.layers[layer].self_attn.o_proj.register_forward_pre_hook(
            lambda module, args, layer=layer: read.__setitem__(layer, args[0][:, -1].float().cpu()))
            for layer in range(lm.n_layers)]
        try:
            logits = lm.hf(**inputs, use_cache=False, logits_to_keep=1).logits[:, -1]
        finally:
            for handle in handles:
                handle.remove()
        outputs.append(torch.stack([read[layer] for layer in range(lm.n_layers)], 1).view(len(logits), lm.n_layers, n_heads, head_dim))
        top.append(logits.argmax(-1).cpu())
    return torch.cat(outputs), torch.cat(top)


@torch.no_grad()
def indirect_effects(lm: LoadedModel, prompts: list[str], targets: list[int],
                     mean_heads: Float[Tensor, "layers heads head_dim"] | Float[Tensor, "n layers heads head_dim"],
                     batch_size: int = 16, progress: bool = False) -> Float[Tensor, "n layers heads"]:
    """CIE of every head on every prompt: p(target) with the head patched to its mean minus p(target) unpatched.
    `mean_heads` is one mean for every prompt, or one per prompt (prompts of several templates, each patched with
    its own template's mean)."""
    n_heads, _ = head_shape(lm)
    own, _ = last_token_head_outputs(lm, prompts, batch_size)
    means = mean_heads.expand(len(prompts), *mean_heads.shape) if mean_heads.dim() == 3 else mean_heads
    if len(means) != len(prompts):
        raise WorkbookError(f"Got {len(means)} mean head outputs for {len(prompts)} prompts: pass one, or one per prompt.")
    # The replacement z_h -> m_h as the addition W_O[:, h] (m_h - z_h) at attn_out: [n, layers, heads, d_model]
    patch = torch.stack([head_contributions(lm, layer, means[:, layer] - own[:, layer]) for layer in range(lm.n_layers)], 1)
    heads = [(layer, head) for layer in range(lm.n_layers) for head in range(n_heads)]
    conditions = [engine.NO_EDIT] + [[engine.add(patch[i, layer, head], layer, site="attn_out", at="last") for i in range(len(prompts))]
                                     for layer, head in heads]
    sweep = engine.next_token_sweep(lm, prompts, conditions, targets=targets, batch_size=batch_size, progress=progress)
    p = sweep.target_logprob.exp()  # [1 + heads, n]
    return (p[1:] - p[0]).T.reshape(len(prompts), lm.n_layers, n_heads)


def top_heads(cie: Float[Tensor, "n layers heads"], k: int = N_TOP_HEADS) -> list[tuple[int, int, float]]:
    """The k (layer, head, mean CIE) with the largest CIE averaged over prompts, largest first."""
    mean = cie.mean(0)
    values, flat = mean.flatten().topk(k)
    return [(int(i) // mean.shape[1], int(i) % mean.shape[1], float(v)) for v, i in zip(values, flat)]


def function_vector(lm: LoadedModel, mean_heads: Float[Tensor, "layers heads head_dim"], heads: list[tuple[int, int, float]]
                    ) -> Float[Tensor, "d_model"]:
    """The sum of the chosen heads' mean outputs, each through its slice of o_proj."""
    return sum(head_contributions(lm, layer, mean_heads[layer])[head] for layer, head, _ in heads)


def edit_layer(lm: LoadedModel) -> int:
    """The layer whose output gets the vector: L/3, rounded (their GPT-J layer 9 of 28, Llama-2-7B layer 11 of 32)."""
    return round(lm.n_layers / 3)
