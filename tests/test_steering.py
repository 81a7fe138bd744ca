"""Steering: the cached sweep equals the plain nnsight intervention; generation adds where it says."""
from __future__ import annotations

import pytest
import torch

from lib import steering
from lib.errors import WorkbookError

PROMPTS = ["The opposite of hot is", "The capital of France is the city of", "cold ↔"]


@pytest.fixture(scope="module")
def vector(smol):
    return torch.randn(smol.d_model, generator=torch.Generator().manual_seed(0)) * 4


def test_sweep_matches_nnsight_on_the_full_prompt(smol, vector):
    conditions = [(0, torch.zeros(smol.d_model)), (3, vector), (12, 2 * vector), (3, -vector), (27, vector)]
    targets = [1, 2, 3]
    sweep = steering.next_token_sweep(smol, PROMPTS, conditions, targets=targets, batch_size=2, max_rows=4, progress=False)
    for c, (layer, v) in enumerate(conditions):
        full = steering.steered_logits(smol, PROMPTS, layer, v).log_softmax(-1)
        assert torch.equal(sweep.top_ids[c], full.argmax(-1))
        assert torch.allclose(sweep.target_logprob[c], full[torch.arange(3), torch.tensor(targets)], atol=1e-3)
    assert not torch.equal(sweep.top_ids[0], sweep.top_ids[2])  # the vector does something


def test_per_prompt_vectors_equal_one_sweep_per_prompt(smol, vector):
    per_prompt = torch.stack([vector, -vector, 3 * vector])  # one row per prompt
    conditions = [(0, torch.zeros(smol.d_model)), (3, per_prompt), (12, 2 * per_prompt)]
    together = steering.next_token_sweep(smol, PROMPTS, conditions, batch_size=2, progress=False)
    for i, prompt in enumerate(PROMPTS):
        alone = steering.next_token_sweep(smol, [prompt], [(layer, v if v.dim() == 1 else v[i]) for layer, v in conditions],
                                          progress=False)
        assert torch.equal(together.top_ids[:, i], alone.top_ids[:, 0])
    assert not torch.equal(together.top_ids[1], together.top_ids[0])  # the rows were steered
    with pytest.raises(WorkbookError, match="one row per prompt"):
        steering.next_token_sweep(smol, PROMPTS, [(3, per_prompt[:2])], progress=False)


def test_zero_vector_is_the_unsteered_model(smol):
    base = steering.steered_logits(smol, PROMPTS, 5, torch.zeros(smol.d_model))
    with torch.no_grad():
        from lib.activations import encode

        plain = smol.hf(**encode(smol, PROMPTS)).logits[:, -1].float()
    assert torch.allclose(base, plain, atol=1e-4)


def test_generation_steers_only_where_asked(smol, vector):
    plain = steering.generate(smol, PROMPTS, 6, progress=False)
    assert plain == steering.generate(smol, PROMPTS, 6, layer=3, vector=torch.zeros(smol.d_model), progress=False)
    last = steering.generate(smol, PROMPTS, 6, layer=3, vector=8 * vector, position="last", progress=False)
    every = steering.generate(smol, PROMPTS, 6, layer=3, vector=8 * vector, position="all", progress=False)
    assert last != plain and every != last
    # "last" changes the first forward pass only: the first new token matches the steered sweep.
    first = steering.steered_logits(smol, PROMPTS, 3, 8 * vector).argmax(-1)
    assert [smol.tokenizer.decode(t) for t in first] == [smol.tokenizer.decode(
        smol.tokenizer(text, add_special_tokens=False).input_ids[0]) for text in last]


def test_wrong_vector_size_is_a_clear_error(smol):
    with pytest.raises(WorkbookError, match="d_model 576"):
        steering.steered_logits(smol, PROMPTS, 3, torch.ones(10))
