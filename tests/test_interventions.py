"""Per-row interventions: hooks and nnsight agree token for token, and each edit does what it says."""
from __future__ import annotations

import pytest
import torch

from lib import interventions as iv
from lib import prompts
from lib.errors import WorkbookError


@pytest.fixture(scope="module")
def chat(smol):
    items = prompts.load_prompt_set("harmless")["items"][:4]
    return [prompts.format_instruction(smol, x) for x in items]


@pytest.fixture(scope="module")
def direction(smol):
    torch.manual_seed(0)
    v = torch.randn(smol.d_model)
    return v / v.norm()


def test_hooks_and_nnsight_generate_identical_tokens_with_mixed_rows(smol, chat, direction):
    rows = [iv.NO_INTERVENTION, iv.add_from(range(10, 30), 40 * direction),
            iv.Intervention(add={5: 8 * direction}, position="last"), iv.Intervention(ablate=direction, add={3: 30 * direction})]
    hooks = iv.generate(smol, chat, 12, rows, backend="hooks", progress=False)
    nnsight = iv.generate(smol, chat, 12, rows, backend="nnsight", progress=False)
    assert hooks.token_ids == nnsight.token_ids
    assert torch.allclose(hooks.first_logprobs, nnsight.first_logprobs, atol=1e-4)  # the prompt pass, read both ways
    plain = iv.generate(smol, chat, 12, progress=False)
    assert hooks.token_ids[0] == plain.token_ids[0]  # a zero row is an exact no-op
    assert hooks.token_ids[1] != plain.token_ids[1]  # a large addition changes the text


def test_shared_prefix_generation_equals_full_prompts(smol, chat, direction, monkeypatch):
    kinds = [iv.NO_INTERVENTION, iv.add_from(range(10, 30), 40 * direction),
             iv.Intervention(add={5: 8 * direction}, position="last"), iv.Intervention(ablate=direction, add={3: 30 * direction})]
    rows = [kind for kind in kinds for _ in chat]  # every edit on every prompt: each edit's prefix runs once
    shared_sizes = []
    original = iv._shared_prefix

    def spy(lm, inputs, batch_rows):
        new_inputs, cache = original(lm, inputs, batch_rows)
        shared_sizes.append(0 if cache is None else cache.get_seq_length())
        return new_inputs, cache

    monkeypatch.setattr(iv, "_shared_prefix", spy)
    shared = iv.generate(smol, chat * len(kinds), 12, rows, progress=False)
    full = iv.generate(smol, chat * len(kinds), 12, rows, share_prefix=False, progress=False)
    assert shared_sizes and shared_sizes[0] >= iv.MIN_SHARED_PREFIX  # SmolLM2's system prompt was shared
    assert shared.token_ids == full.token_ids
    assert torch.allclose(shared.first_logprobs, full.first_logprobs, atol=1e-4)


def test_ablation_leaves_no_component_along_the_direction(smol, chat, direction):
    _, states = iv.forward_last(smol, chat, iv.Intervention(ablate=direction), read_layers=[0, 7, 20], progress=False)
    _, plain = iv.forward_last(smol, chat, None, read_layers=[0, 7, 20], progress=False)
    assert (states @ direction).abs().max() < 1e-3 * plain.norm(dim=-1).max()
    assert (plain @ direction).abs().max() > 1e-2  # there was something to remove


def test_addition_moves_the_read_state_by_the_vector(smol, chat, direction):
    _, plain = iv.forward_last(smol, chat, None, read_layers=[6], progress=False)
    _, moved = iv.forward_last(smol, chat, iv.Intervention(add={6: 5 * direction}), read_layers=[6], progress=False)
    torch.testing.assert_close(moved - plain, (5 * direction).expand_as(plain), atol=1e-4, rtol=0)


def test_last_position_addition_acts_on_the_prompt_pass_only(smol, chat, direction):
    last = iv.Intervention(add={8: 60 * direction}, position="last")
    logprobs, _ = iv.forward_last(smol, chat[:1], last, progress=False)
    plain, _ = iv.forward_last(smol, chat[:1], None, progress=False)
    assert not torch.allclose(logprobs, plain)
    gen = iv.generate(smol, chat[:1], 6, last, progress=False)
    assert gen.first_logprobs is not None and torch.allclose(gen.first_logprobs, logprobs, atol=1e-4)


def _unbatched_nll(lm, prompt: str, continuation: list[int]) -> float:
    ids = lm.tokenizer(prompt, return_tensors="pt").input_ids
    full = torch.cat([ids, torch.tensor([continuation])], 1)
    with torch.no_grad():
        logprobs = lm.hf(full).logits[0, :-1].log_softmax(-1)
    return float(-logprobs[ids.shape[1] - 1 :].gather(-1, full[0, ids.shape[1] :, None]).mean())


def test_continuation_nll_matches_an_unbatched_forward_pass(smol, chat):
    gen = iv.generate(smol, chat, 8, progress=False)
    # repeated prompts share one prompt pass; continuations of different lengths share a batch
    prompts = [chat[0], chat[1], chat[0], chat[1], chat[0]]
    continuations = [gen.token_ids[0], gen.token_ids[1], gen.token_ids[1][:3], gen.token_ids[0][:5], gen.token_ids[2]]
    nll = iv.continuation_nll(smol, prompts, continuations, batch_size=4, progress=False)
    for r, (prompt, continuation) in enumerate(zip(prompts, continuations)):
        assert float(nll[r]) == pytest.approx(_unbatched_nll(smol, prompt, continuation), abs=1e-4)
    assert torch.isnan(iv.continuation_nll(smol, chat[:1], [[]], progress=False)).all()  # nothing to score


def test_bad_interventions_are_refused_with_a_fix(smol, chat, direction):
    with pytest.raises(WorkbookError, match="one per prompt"):
        iv.generate(smol, chat, 2, [iv.NO_INTERVENTION], progress=False)
    with pytest.raises(WorkbookError, match="'all' or 'last'"):
        iv.Intervention(position="first")
    with pytest.raises(WorkbookError, match="d_model"):
        iv.forward_last(smol, chat, iv.Intervention(add={3: torch.ones(7)}), progress=False)
    with pytest.raises(WorkbookError, match="out of range"):
        iv.forward_last(smol, chat, iv.Intervention(add={99: direction}), progress=False)
    with pytest.raises(WorkbookError, match="backend"):
        iv.generate(smol, chat, 2, backend="pyvene", progress=False)
