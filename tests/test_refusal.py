"""Refusal-direction selection as the official codes have it (andyrdt/refusal_direction, wang-research-lab/COSMIC):
their refusal tokens, prompt filter, layer cutoff, filters and choices, COSMIC's score and L_low, and no fallback
pick when no candidate passes."""
from __future__ import annotations

import math

import pandas as pd
import pytest
import torch

from lib import directions, engine, prompts, refusal, textclass
from lib.activations import capture, last_tokens


def test_refusal_score_is_their_log_odds_of_the_refusal_tokens():
    probs = torch.tensor([[0.2, 0.3, 0.5], [0.9, 0.05, 0.05], [1.0, 0.0, 0.0]])
    scores = refusal.refusal_score(probs.log(), [0])
    expected = [math.log(0.2 + 1e-8) - math.log(0.8 + 1e-8), math.log(0.9 + 1e-8) - math.log(0.1 + 1e-8),
                math.log(1 + 1e-8) - math.log(1e-8)]  # a certain refusal is finite, as theirs (ε in both logs)
    assert scores.tolist() == pytest.approx(expected, rel=1e-5)


def test_kl_is_their_epsilon_kl():
    p = torch.tensor([[0.5, 0.5, 0.0]])
    q = torch.tensor([[0.9, 0.1, 0.0]])
    expected = sum(a * (math.log(a + 1e-6) - math.log(b + 1e-6)) for a, b in zip(p[0].tolist(), q[0].tolist()))
    assert float(refusal.kl_divergence(p.log(), q.log())) == pytest.approx(expected, rel=1e-6)
    assert float(refusal.kl_divergence(p.log(), p.log())) == pytest.approx(0.0, abs=1e-9)


def test_refusal_tokens_are_theirs_per_family(smol):
    # SmolLM2 is a llama: their Llama models use 'I' only (the old list added 'As', 'Sorry', 'Unfortunately', ' I', ...)
    assert refusal.refusal_openers(smol) == ("I",)
    assert refusal.refusal_token_ids(smol) == [smol.tokenizer("I", add_special_tokens=False).input_ids[0]]
    qwen = type("Stub", (), {"hf": type("H", (), {"config": type("C", (), {"model_type": "qwen2"})()})()})()
    assert refusal.refusal_openers(qwen) == ("I", "As")


def test_the_layer_cutoff_counts_block_inputs_as_theirs():
    # L = 10: theirs discards block inputs >= 8; the workbook's output of block 7 is block input 8
    assert [layer for layer in range(10) if refusal.layer_admitted(layer, 10)] == list(range(7))
    assert refusal.block_input_index(6) == 7


def test_cosmic_low_layers_are_int_of_a_tenth_rounded_down():
    harmful = torch.eye(20)[:18] + 1.0  # 18 layers (Gemma-3-270M): int(1.8) = 1 layer, not 2
    harmless = harmful.clone()
    harmless[7] = -harmless[7]  # layer 7 differs most
    harmless[3, 3] = 0.0  # layer 3 a little
    assert refusal.cosmic_low_layers(harmful, harmless) == [7]
    assert len(refusal.cosmic_low_layers(torch.eye(20) + 1.0, torch.eye(20) - 1.0)) == 2  # 20 layers: 2


def test_cosmic_similarity_averages_states_before_one_cosine():
    # two layers: states along x at layer 0 (large) and along y at layer 1 (small)
    states = torch.tensor([[[10.0, 0.0], [0.0, 1.0]]])  # [prompts 1, layers 2, d 2]
    reference = torch.tensor([1.0, 0.0], dtype=torch.float64)
    mean_then_cosine = 10.0 / math.hypot(10.0, 1.0)
    assert refusal.cosmic_similarity(states, reference) == pytest.approx(mean_then_cosine)
    assert refusal.cosmic_similarity(states, reference) != pytest.approx(0.5)  # the old mean of per-layer cosines


def _table(**columns):
    base = {"layer": [2, 5, 6, 9, 11], "position": [-1] * 5, "norm": [1.0] * 5,
            "ablation_refusal": [-3.0, -5.0, -4.0, -6.0, -9.0], "addition_refusal": [0.5, 0.0, 1.0, -0.2, 2.0],
            "kl_harmless": [0.05, 0.1, 0.08, 0.02, 0.01], "cosmic_ablation": [0.9, 0.95, 0.96, 0.97, 0.99],
            "cosmic_addition": [0.9, 0.91, 0.92, 0.90, 0.99]}
    base.update(columns)
    table = pd.DataFrame(base)
    table["cosmic_score"] = table["cosmic_ablation"] + table["cosmic_addition"]
    return table


def test_arditi_picks_the_lowest_ablation_score_among_their_valid_candidates():
    # L = 12: block input 10 (layer 9) and later are cut; layer 5 sits on both thresholds (KL = 0.1, steering = 0),
    # which theirs keeps (they discard KL > 0.1 and steering < 0)
    assert int(refusal.select_arditi(_table(), n_layers=12)["layer"]) == 5


def test_no_valid_candidate_is_a_result_not_a_fallback_pick():
    assert refusal.select_arditi(_table(kl_harmless=[0.5] * 5), n_layers=12) is None
    assert refusal.select_cosmic(_table(kl_harmless=[0.5] * 5), n_layers=12) is None
    assert refusal.select_arditi(_table(ablation_refusal=[float("nan")] * 5), n_layers=12) is None


def test_cosmic_picks_the_highest_score_inside_the_cutoff():
    assert int(refusal.select_cosmic(_table(), n_layers=12)["layer"]) == 6


def test_cosmic_median_peak_rule_discards_late_last_position_candidates():
    # positions -3 and -2 peak at layer 2 under both scores; position -1 at layer 6 lies beyond both medians
    rows = []
    for position in (-3, -2, -1):
        for layer, score in zip((2, 4, 6), (0.9, 0.5, 0.4) if position != -1 else (0.1, 0.2, 0.99)):
            rows.append({"layer": layer, "position": position, "ablation_refusal": -1.0, "addition_refusal": 1.0,
                         "kl_harmless": 0.01, "cosmic_ablation": score, "cosmic_addition": score})
    table = pd.DataFrame(rows)
    table["cosmic_score"] = table["cosmic_ablation"] + table["cosmic_addition"]
    valid = refusal.cosmic_valid(table, n_layers=20)
    assert not valid[(table["position"] == -1) & (table["layer"] > 2)].any()
    assert valid[table["position"] != -1].all()
    pick = refusal.select_cosmic(table, n_layers=20)
    assert (int(pick["layer"]), int(pick["position"])) in {(2, -3), (2, -2)}


def test_the_substring_judge_lowercases_both_sides_as_theirs():
    assert textclass.is_refusal_arditi("i cannot say.")
    assert textclass.is_refusal_arditi("AS AN AI, I must decline.")
    assert not textclass.is_refusal_arditi("Here is a recipe.")


def test_cosmic_gives_different_candidates_different_scores(smol):
    """The seed's public COSMIC code scored every candidate alike and always picked the first layer."""
    fmt = lambda items: [prompts.format_instruction(smol, x) for x in items]
    harmful = fmt(prompts.load_prompt_set("harmful")["items"][:6])
    harmless = fmt(prompts.load_prompt_set("harmless")["items"][:6])
    layers = [4, 12, 20]
    pos = capture(smol, harmful, layers, last_tokens(1), progress=False)[:, :, 0]
    neg = capture(smol, harmless, layers, last_tokens(1), progress=False)[:, :, 0]
    dims = directions.diff_in_means(pos, neg)
    table = refusal.score_candidates(smol, {(l, -1): dims[i] for i, l in enumerate(layers)}, harmful[3:], harmless[3:],
                                     [layers[0]], progress=False)
    assert table["cosmic_score"].nunique() == len(layers) and table["cosmic_score"].std() > 1e-3
    assert table["ablation_refusal"].nunique() == len(layers)
    assert (table["block_input"] == table["layer"] + 1).all()


def test_candidate_scores_are_cached_per_candidate_and_match_a_fresh_computation(smol, tmp_path):
    from lib import unitcache

    fmt = lambda items: [prompts.format_instruction(smol, x) for x in items]
    harmful, harmless = fmt(prompts.load_prompt_set("harmful")["items"][:3]), fmt(prompts.load_prompt_set("harmless")["items"][:3])
    layers = [6, 14]
    dims = directions.diff_in_means(capture(smol, harmful, layers, last_tokens(1), progress=False)[:, :, 0],
                                    capture(smol, harmless, layers, last_tokens(1), progress=False)[:, :, 0])
    grid = {(l, -1): dims[i] for i, l in enumerate(layers)}
    fresh = refusal.score_candidates(smol, grid, harmful, harmless, [layers[0]], progress=False)
    with unitcache.enabled(folder=tmp_path):
        refusal.score_candidates(smol, {(layers[0], -1): grid[(layers[0], -1)]}, harmful, harmless, [layers[0]], progress=False)
        before = unitcache.tally()
        resumed = refusal.score_candidates(smol, grid, harmful, harmless, [layers[0]], progress=False)
        after = unitcache.tally()
    assert after["loaded_units"] - before["loaded_units"] == 1 and after["computed_units"] - before["computed_units"] == 1
    pd.testing.assert_frame_equal(resumed, fresh)


def test_the_steering_addition_is_alpha_times_the_unit_direction_at_one_layer_or_from_it_on():
    one, from_on = refusal.addition(torch.tensor([3.0, 4.0]), 10.0, 1, 4), refusal.addition(torch.tensor([3.0, 4.0]), 10.0, 1, 4, True)
    assert one.edits[0].layers == (1,) and from_on.edits[0].layers == (1, 2, 3)
    assert torch.equal(one.edits[0].vector, torch.tensor([6.0, 8.0])) and one.edits[0].kind == "add"


def test_an_addition_pass_that_replays_the_blocks_below_its_layer_gives_the_pass_it_replaces(smol):
    """04's addition passes reuse the unedited blocks below the edited layer: the same log-probs and states, for every
    layer, and the recorded outputs survive being replayed (no edit writes into them)."""
    from lib.engine import prefix_scoring

    harmless = [prompts.format_instruction(smol, x) for x in prompts.load_prompt_set("harmless")["items"][:5]]
    before = [block.__dict__.get("forward") for block in smol.layers]  # nnsight may wrap them
    recorded: list = []
    base, base_states = prefix_scoring.forward_last_shared(smol, harmless, None, [3, 20], batch_size=3, record=recorded)
    assert len(recorded) == 2 and all(len(batch) == smol.n_layers for batch in recorded)
    vector = torch.randn(smol.d_model, generator=torch.Generator().manual_seed(0))
    for layer in (0, 2, 10, smol.n_layers - 1):
        edit = engine.add(vector, layer)
        full, full_states = prefix_scoring.forward_last_shared(smol, harmless, edit, [3, 20], batch_size=3)
        fast, fast_states = prefix_scoring.forward_last_shared(smol, harmless, edit, [3, 20], batch_size=3, replay=(recorded, layer))
        torch.testing.assert_close(fast, full, atol=1e-5, rtol=0)
        torch.testing.assert_close(fast_states, full_states, atol=1e-4, rtol=1e-5)
        assert not torch.equal(fast, base)  # the edit took effect
    again, again_states = prefix_scoring.forward_last_shared(smol, harmless, None, [3, 20], batch_size=3, replay=(recorded, smol.n_layers))
    assert torch.equal(again_states, base_states) and torch.allclose(again, base, atol=1e-5)  # every block replayed: the recorded pass
    assert [block.__dict__.get("forward") for block in smol.layers] == before  # the model is itself again
    with pytest.raises(ValueError, match="unedited pass"):
        prefix_scoring.forward_last_shared(smol, harmless, engine.add(vector, 1), [], record=[])


def test_candidate_scores_with_the_shared_prefix_equal_the_full_forward_passes(smol):
    """04 scores its grid through lib.candidate_scoring: the chat prefix once per candidate, the same scores."""
    from lib import candidate_scoring
    from lib.engine import prefix_scoring

    fmt = lambda items: [prompts.format_instruction(smol, x) for x in items]
    harmful, harmless = fmt(prompts.load_prompt_set("harmful")["items"][:4]), fmt(prompts.load_prompt_set("harmless")["items"][:4])
    layers = [6, 14]
    dims = directions.diff_in_means(capture(smol, harmful, layers, last_tokens(1), progress=False)[:, :, 0],
                                    capture(smol, harmless, layers, last_tokens(1), progress=False)[:, :, 0])
    for edit in (None, engine.ablate(dims[1]), engine.add(dims[0], 6)):
        full, full_states = engine.forward_last(smol, harmful, edit, [3, 20], progress=False)
        shared, shared_states = prefix_scoring.forward_last_shared(smol, harmful, edit, [3, 20])
        torch.testing.assert_close(shared, full, atol=2e-4, rtol=0)
        torch.testing.assert_close(shared_states, full_states, atol=2e-3, rtol=1e-4)
    grid = {(l, p): dims[(i + p) % 2] for i, l in enumerate(layers) for p in (-2, -1)}  # two positions: COSMIC's peak rule runs
    full = refusal.score_candidates(smol, grid, harmful, harmless, [3], progress=False)
    shared = candidate_scoring.score_candidates(smol, grid, harmful, harmless, [3], progress=False)
    assert shared["kl_checked"].all()
    pd.testing.assert_frame_equal(shared[full.columns], full, atol=1e-4, rtol=0)
    for rule, (valid, score, ascending) in candidate_scoring.PREFERENCE.items():
        select = refusal.select_arditi if rule == "arditi" else refusal.select_cosmic
        lazy = candidate_scoring.score_candidates(smol, grid, harmful, harmless, [3], progress=False, kl_for=rule)
        picked, expected = select(lazy, smol.n_layers), select(full, smol.n_layers)
        assert (picked is None) == (expected is None)
        if expected is None:
            continue
        assert (picked["layer"], picked["position"]) == (expected["layer"], expected["position"])
        # every candidate the rule prefers to its pick had its KL computed, and failed it
        rest = lazy[valid(lazy.assign(kl_harmless=0.0), smol.n_layers)]
        better = rest[rest[score] < picked[score]] if ascending else rest[rest[score] > picked[score]]
        assert better["kl_checked"].all() and (better["kl_harmless"] > refusal.KL_MAX).all()
