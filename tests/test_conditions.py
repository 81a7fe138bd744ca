"""The conditions runner: named conditions in one batched generation, equal recipes generated once."""
from __future__ import annotations

import torch

from lib import conditions, engine, prompts


def test_conditions_are_told_apart_by_name_and_equal_recipes_share_one_generation(smol, monkeypatch):
    items = prompts.load_prompt_set("harmless")["items"][:3]
    v = torch.randn(smol.d_model, generator=torch.Generator().manual_seed(0))
    # two recipes of equal content built separately, one with the same sum and norm but another direction
    named = {"none": (items, engine.NO_EDIT), "dim": (items, engine.add(30 * v, 10)), "cosmic": (items, engine.add(30 * v.clone(), 10)),
             "permuted": (items, engine.add(30 * v.flip(0), 10)), "short": (items[:2], engine.add(30 * v, 10))}
    generated = []
    real = engine.generate
    monkeypatch.setattr(engine, "generate", lambda lm, p, *a, **k: generated.append(len(p)) or real(lm, p, *a, **k))
    frame, first = conditions.generate(smol, named, 6, progress=False)
    assert generated == [3 + 3 + 3 + 2]  # one call; "cosmic" reuses "dim"'s rows
    assert list(frame["condition"].unique()) == list(named) and len(frame) == len(first) == 14
    shared = frame.set_index(["condition", "prompt_index"])["shared_with"]
    assert shared[("cosmic", 0)] == "dim" and shared[("permuted", 0)] == "permuted" and shared[("short", 0)] == "short"
    alone = engine.generate(smol, [prompts.format_instruction(smol, x) for x in items], 6, engine.add(30 * v, 10), progress=False)
    dim = frame[frame["condition"] == "cosmic"]
    assert dim["token_ids"].tolist() == alone.token_ids and dim["text"].tolist() == alone.texts
    torch.testing.assert_close(first[torch.as_tensor((frame["condition"] == "cosmic").to_numpy())], alone.first_logprobs, atol=1e-4, rtol=1e-5)


def test_a_system_message_is_part_of_a_condition_and_reaches_the_prompt(smol):
    items = prompts.load_prompt_set("harmless")["items"][:2]
    named = {"plain": (items, engine.NO_EDIT), "prompted": (items, engine.NO_EDIT)}
    frame, _ = conditions.generate(smol, named, 4, progress=False, first_logprobs=False,
                                   system={"prompted": "Answer in as few words as possible."})
    prompted = frame[frame["condition"] == "prompted"]
    assert (prompted["shared_with"] == "prompted").all()  # the same items and recipe, but not the same prompt
    assert prompted["prompt"].tolist() == [prompts.format_instruction(smol, x, "Answer in as few words as possible.") for x in items]
    assert all("few words" in p for p in prompted["prompt"]) and not any("few words" in p for p in frame[frame["condition"] == "plain"]["prompt"])
