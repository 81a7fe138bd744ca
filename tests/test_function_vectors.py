"""Todd et al.'s function vectors on the real SmolLM2-135M: the head readout, the head patch and the vector."""
from __future__ import annotations

import pytest
import torch

from lib import engine
from lib import function_vectors as fv
from lib.activations import encode
from lib.errors import WorkbookError

PROMPTS = ["The opposite of hot is cold\nThe opposite of up is", "Q: big\nA: small\n\nQ: fast\nA:"]


def _attn_outputs(lm, prompts, layer):
    """The o_proj output at the last token of `layer`, straight from the module."""
    read = {}
    handle = lm.layers[layer].self_attn.o_proj.register_forward_hook(lambda m, a, out: read.__setitem__("out", out[:, -1]))
    try:
        lm.hf(**encode(lm, prompts), use_cache=False)
    finally:
        handle.remove()
    return read["out"].float()


def test_the_head_outputs_through_their_slices_of_o_proj_sum_to_the_attention_output(smol):
    z, top = fv.last_token_head_outputs(smol, PROMPTS)
    n_heads, head_dim = fv.head_shape(smol)
    assert z.shape == (len(PROMPTS), smol.n_layers, n_heads, head_dim) and top.shape == (len(PROMPTS),)
    for layer in (0, 7, smol.n_layers - 1):
        summed = fv.head_contributions(smol, layer, z[:, layer]).sum(1)
        torch.testing.assert_close(summed, _attn_outputs(smol, PROMPTS, layer), atol=1e-4, rtol=1e-4)


def _replaced_logprobs(lm, prompts, layer, head, value):
    """Their implementation of the patch: head `head`'s slice of o_proj's input set to `value` at the last token."""
    n_heads, head_dim = fv.head_shape(lm)

    def pre_hook(module, args):
        x = args[0].clone().view(*args[0].shape[:-1], n_heads, head_dim)
        x[:, -1, head] = value
        return (x.view(args[0].shape),)

    handle = lm.layers[layer].self_attn.o_proj.register_forward_pre_hook(pre_hook)
    try:
        return lm.hf(**encode(lm, prompts), use_cache=False).logits[:, -1].float().log_softmax(-1)
    finally:
        handle.remove()


def test_the_indirect_effect_equals_replacing_the_head_in_o_proj_input(smol):
    """The engine's attn_out addition W_O[:, h] (m - z_h) gives what replacing z_h by m in o_proj's input gives."""
    n_heads, head_dim = fv.head_shape(smol)
    mean = torch.randn(smol.n_layers, n_heads, head_dim, generator=torch.Generator().manual_seed(0))
    targets = [smol.tokenizer(" down", add_special_tokens=False).input_ids[0], smol.tokenizer(" slow", add_special_tokens=False).input_ids[0]]
    cie = fv.indirect_effects(smol, PROMPTS, targets, mean)
    assert cie.shape == (len(PROMPTS), smol.n_layers, n_heads)
    clean = engine.forward_last(smol, PROMPTS, progress=False)[0]
    for layer, head in ((3, 2), (11, 0), (smol.n_layers - 1, n_heads - 1)):
        for i, prompt in enumerate(PROMPTS):
            patched = _replaced_logprobs(smol, [prompt], layer, head, mean[layer, head])[0]
            expected = patched[targets[i]].exp() - clean[i, targets[i]].exp()
            torch.testing.assert_close(cie[i, layer, head], expected, atol=2e-5, rtol=1e-3)
    assert cie.abs().max() > 1e-4  # random means move some head's answer probability


def test_one_mean_per_prompt_patches_each_prompt_with_its_own(smol):
    """Prompts of several templates share one sweep, each patched with its own template's mean: the same effects as
    patching each prompt alone with its mean; a count that does not match the prompts is refused."""
    n_heads, head_dim = fv.head_shape(smol)
    means = torch.randn(len(PROMPTS), smol.n_layers, n_heads, head_dim, generator=torch.Generator().manual_seed(2))
    targets = [smol.tokenizer(" down", add_special_tokens=False).input_ids[0], smol.tokenizer(" slow", add_special_tokens=False).input_ids[0]]
    together = fv.indirect_effects(smol, PROMPTS, targets, means)
    for i, prompt in enumerate(PROMPTS):
        alone = fv.indirect_effects(smol, [prompt], [targets[i]], means[i])
        torch.testing.assert_close(together[i], alone[0], atol=2e-5, rtol=1e-3)
    with pytest.raises(WorkbookError, match="one per prompt"):
        fv.indirect_effects(smol, PROMPTS, targets, means[:1])


def test_the_function_vector_sums_the_top_heads_mean_outputs_through_o_proj(smol):
    n_heads, head_dim = fv.head_shape(smol)
    mean = torch.randn(smol.n_layers, n_heads, head_dim, generator=torch.Generator().manual_seed(1))
    cie = torch.zeros(3, smol.n_layers, n_heads)
    cie[:, 4, 1], cie[:, 9, 3], cie[:, 2, 0] = 0.3, 0.2, 0.1
    heads = fv.top_heads(cie, k=3)
    assert [(l, h) for l, h, _ in heads] == [(4, 1), (9, 3), (2, 0)] and abs(heads[0][2] - 0.3) < 1e-6
    vector = fv.function_vector(smol, mean, heads)
    expected = torch.zeros(smol.d_model)
    for layer, head, _ in heads:  # their compute_function_vector: o_proj of the head's mean, other heads zero
        x = torch.zeros(n_heads * head_dim)
        x[head * head_dim : (head + 1) * head_dim] = mean[layer, head]
        expected += smol.layers[layer].self_attn.o_proj(x).detach().float()
    torch.testing.assert_close(vector, expected, atol=1e-4, rtol=1e-4)
    assert fv.edit_layer(smol) == 10  # round(30 / 3)


def test_a_layout_that_norms_the_attention_output_is_refused_with_the_fix():
    """Gemma 2/3 norm o_proj's output before the residual add: a head's patch is no longer an addition there."""
    from types import SimpleNamespace

    import pytest

    from lib.errors import WorkbookError

    gemma_block = SimpleNamespace(post_feedforward_layernorm=None, self_attn=SimpleNamespace(o_proj=None))
    lm = SimpleNamespace(key="gemma3-270m", layers=[gemma_block])
    with pytest.raises(WorkbookError, match="Llama- or Qwen-layout model"):
        fv.out_projection(lm, 0)
