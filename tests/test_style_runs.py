"""07's style runs: conditions named by axis and kind, answers paired by question, and the dev choice handed from
07_style_steering to 07_style_test and 08 without losing a digit."""
from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from lib import engine, steering_settings, style_runs


def test_a_steered_condition_records_its_layers_and_total_added_norm():
    meta, recipe = style_runs.steered("terse", "multi_layer", {3: torch.full((4,), 0.5), 4: torch.full((4,), 1.0)}, layer=3)
    assert meta["layers"] == "3,4" and meta["added_norm"] == 1.0 + 2.0 and meta["layer"] == 3
    assert recipe.key() == engine.add_layers({3: torch.full((4,), 0.5), 4: torch.full((4,), 1.0)}).key()
    assert style_runs.unsteered()[0]["kind"] == style_runs.UNSTEERED
    assert style_runs.prompted("formal", "Be formal.")[0]["system"] == "Be formal."


def test_scaled_gives_the_direction_at_the_fraction_of_the_norm():
    v = style_runs.scaled(torch.tensor([3.0, 4.0]), 0.5, 20.0)
    assert torch.allclose(v, torch.tensor([6.0, 8.0]))


def test_answers_are_paired_on_the_items_both_conditions_answered_in_item_order():
    frame = pd.DataFrame({"model": "m", "condition": ["a", "a", "a", "b", "b"], "item": [2, 0, 1, 1, 0],
                          "words": [20.0, 0.0, 10.0, 11.0, 1.0]})
    here, there = style_runs.paired_by_item(frame, "m", "a", "b", "words")
    assert here.tolist() == [0.0, 10.0] and there.tolist() == [1.0, 11.0]  # item 2 has no partner under b
    assert style_runs.one_row(frame, condition="b", item=0)["words"] == 1.0


def test_verdict_phrase_names_the_models_only_where_the_verdicts_differ():
    claim = lambda id_, verdict: type("Claim", (), {"id": id_, "verdict": verdict})()
    same = [claim("S-x-a", "reproduced"), claim("S-x-b", "reproduced"), claim("S-y-a", "inconclusive")]
    assert style_runs.verdict_phrase("S-x", same) == "reproduced on every model"
    mixed = same + [claim("S-y-b", "not reproduced")]
    assert style_runs.verdict_phrase("S-y", mixed) == "inconclusive on a; not reproduced on b"


def test_the_dev_choice_round_trips_the_residual_norms_bit_for_bit(output_root):
    norms = pd.DataFrame({"layer": [0, 1], "rest": np.array([51.40923, 75.601234], dtype=np.float32), "model": "m"})
    chosen = pd.DataFrame({"model": ["m"], "axis": ["terse"], "layer": [1], "alpha_fraction": [0.15]})
    steering_settings.save_style_choice(chosen, norms, {"dev": ["q1"], "test": ["q2", "q3"], "probes": []})
    back_chosen, back_norms, splits = steering_settings.load_style_choice()
    assert [float(x) for x in back_norms["rest"]] == [float(x) for x in norms["rest"]]  # the vectors 07_style_test scales
    assert back_chosen.equals(chosen) and splits["test"] == ["q2", "q3"] == steering_settings.style_test_questions()


def test_a_loop_ends_its_answer_where_it_became_one_and_only_unfinished_answers_count_as_cut():
    decode = lambda ids, skip_special_tokens: " ".join(map(str, ids))
    lm = type("LM", (), {"tokenizer": type("Tok", (), {"decode": staticmethod(decode)})()})()
    sentence = list(range(100, 120))  # a 20-token sentence copied back to back: a loop once 64 tokens repeat
    answers = pd.DataFrame({"token_ids": [[1, 2, 3], list(range(8)), [5, 6] + sentence * 5], "text": ["1 2 3", "long", "loop"]})
    ended = style_runs.end_loops(lm, answers, max_tokens=8)
    assert ended["end"].tolist() == ["eos", "limit", "loop"]
    assert ended["token_ids"][2] == ([5, 6] + sentence * 5)[:84] and ended["n_tokens"].tolist() == [3, 8, 84]
    assert ended["text"].tolist()[:2] == ["1 2 3", "long"] and ended["text"][2] == decode(ended["token_ids"][2], True)


def test_a_loop_with_a_counter_in_it_ends_and_a_varied_answer_does_not():
    counted = [t for year in range(60) for t in (7, 8, 9, year)]  # "... in the 2040s. ... in the 2050s." with 4-token items
    assert style_runs.loop_end(counted) is None  # the counter differs in every period-4 item: 16 of 64 tokens
    listed = [t for item in range(8) for t in [item] + list(range(100, 131))]  # a list of 32-token items, numbered
    assert style_runs.loop_end(listed) == 32 + 64  # period 32: only the number differs, 2 of 64 tokens
    assert style_runs.loop_end(list(range(1000))) is None and style_runs.loop_end([9] * 64) is None
    assert style_runs.loop_end([9] * 65) == 65
