"""Residual-stream capture: nnsight and raw hooks agree bit for bit; padding never leaks into features."""
from __future__ import annotations

import pytest
import torch

from lib import activations as act
from lib import directions, prompts

PROMPTS = ["Hi.", "Explain how tides work, in two sentences please.", "Name a prime number larger than ten."]


@pytest.mark.parametrize("site", ["output", "input"])
def test_nnsight_and_hooks_give_identical_tensors(smol, site):
    layers = [0, 7, 29]
    via_nnsight = act.capture(smol, PROMPTS, layers, act.last_tokens(4), site=site, backend="nnsight", progress=False)
    via_hooks = act.capture(smol, PROMPTS, layers, act.last_tokens(4), site=site, backend="hooks", progress=False)
    assert via_nnsight.shape == (3, 3, 4, 576)
    assert torch.equal(via_nnsight, via_hooks)


def test_last_token_is_the_last_real_token_under_left_padding(smol):
    batched = act.capture(smol, PROMPTS, [5, 20], act.last_tokens(1), batch_size=3, progress=False)
    alone = torch.cat([act.capture(smol, [p], [5, 20], act.last_tokens(1), progress=False) for p in PROMPTS])
    assert torch.allclose(batched, alone, atol=1e-3, rtol=1e-4)
    assert (smol.tokenizer(PROMPTS, padding=True, return_tensors="pt").attention_mask[:, -1] == 1).all()


def test_mean_over_tokens_ignores_padding(smol):
    batched = act.capture(smol, PROMPTS, [10], act.mean_tokens(skip_first=True), batch_size=3, progress=False)
    alone = torch.cat([act.capture(smol, [p], [10], act.mean_tokens(skip_first=True), progress=False) for p in PROMPTS])
    assert torch.allclose(batched, alone, atol=1e-3, rtol=1e-4)


def test_transformers4_tuple_indexing_reads_batch_item_zero(smol):
    correct = act.capture(smol, PROMPTS, [12], act.last_tokens(1), batch_size=3, backend="hooks", progress=False)
    buggy = act.capture(smol, PROMPTS, [12], act.last_tokens(1), batch_size=3, backend="hooks_tuple_bug", progress=False)
    assert torch.equal(buggy[1], correct[0]) and torch.equal(buggy[2], correct[0])
    assert not torch.allclose(buggy[1], correct[1])


def test_reducers_on_known_values():
    hidden = torch.tensor([[[0.0, 0.0], [3.0, 4.0], [6.0, 8.0]], [[30.0, 40.0], [0.0, 1.0], [0.0, 3.0]]])
    mask = torch.tensor([[0, 1, 1], [1, 1, 1]])  # row 0 is left-padded by one token
    assert act.first_real_index(mask).tolist() == [1, 0]
    assert torch.allclose(act.mean_tokens()(hidden, mask), torch.tensor([[4.5, 6.0], [10.0, 44 / 3]]))
    assert torch.allclose(act.mean_tokens(skip_first=True)(hidden, mask), torch.tensor([[6.0, 8.0], [0.0, 2.0]]))
    norms = act.token_norm_summary(hidden, mask)  # first, rest, all
    assert torch.allclose(norms, torch.tensor([[5.0, 10.0, 7.5], [50.0, 2.0, 18.0]]))


def test_chat_template_suffix_and_post_instruction_positions(smol):
    assert prompts.post_instruction_suffix(smol) == "<|im_end|>\n<|im_start|>assistant\n"
    assert prompts.n_post_instruction_tokens(smol) == 6


def test_directions_round_trip_with_sidecar(tmp_path):
    vectors = {"candidates": torch.randn(4, 2, 8), "terse/mean_all": torch.randn(4, 8)}
    stem = tmp_path / "qwen2.5-0.5b_refusal"  # dots in the stem must survive
    directions.save_directions(stem, vectors, {"model": "m", "method": "diff_in_means"})
    assert (tmp_path / "qwen2.5-0.5b_refusal.safetensors").exists()
    loaded, meta = directions.load_directions(stem)
    assert all(torch.equal(loaded[k], v) for k, v in vectors.items())
    assert meta["method"] == "diff_in_means"
    assert meta["tensors"]["terse/mean_all"]["raw_norm"] == pytest.approx(vectors["terse/mean_all"].norm(dim=-1).tolist())


def test_difference_in_means_and_cosine():
    positive, negative = torch.tensor([[1.0, 2.0], [3.0, 2.0]]), torch.tensor([[0.0, 1.0]])
    assert torch.equal(directions.diff_in_means(positive, negative), torch.tensor([2.0, 1.0]))
    assert directions.cosine(torch.tensor([1.0, 0.0]), torch.tensor([0.0, 2.0])).item() == 0.0
    assert torch.allclose(directions.unit(torch.tensor([3.0, 4.0])), torch.tensor([0.6, 0.8]))


def test_right_padding_reads_pad_tokens_as_the_seed_did(smol):
    right = act.capture(smol, PROMPTS, [10], act.last_tokens(1), batch_size=3, padding_side="right", progress=False)
    left = act.capture(smol, PROMPTS, [10], act.last_tokens(1), batch_size=3, progress=False)
    longest = max(range(3), key=lambda i: len(smol.tokenizer(PROMPTS[i]).input_ids))
    assert torch.allclose(right[longest], left[longest], atol=1e-3)  # no padding: same token
    others = [i for i in range(3) if i != longest]
    assert not any(torch.allclose(right[i], left[i], atol=1e-2) for i in others)
    assert smol.tokenizer.padding_side == "left"  # restored
