"""07's test split shared by its two notebooks: 07_style_test's answers read back unchanged (empty answers included),
every condition paired with the unsteered answer to the same question, measures signed toward the style, and the
cut-answer precondition of a length claim."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from lib import artifacts, style_effects
from lib.paths import results_dir


def answers(words_by_condition: dict[str, list[float]], model: str = "m") -> pd.DataFrame:
    """Question rows of a `style_runs.run_conditions` table: one condition per key, item j = its j-th number."""
    rows = []
    for condition, values in words_by_condition.items():
        axis, kind = condition.split("|") if "|" in condition else ("none", condition)
        for item, words in enumerate(values):
            rows.append({"model": model, "condition": condition, "axis": axis, "kind": kind, "item": item, "item_kind": "question",
                         "words": words, "n_tokens": 2 * words, "nll": 1.0, "garbled": item == 0 and kind == "seed_raw3",
                         "hit_cap": words >= 100, "ended_in_loop": False, "lens_total": 0.0,
                         **{f"m_{a}": 0.0 for a in ("terse", "formal", "socratic", "dry-wit")}, "m_terse": words})
    return pd.DataFrame(rows)


def test_each_condition_is_paired_with_the_unsteered_answer_to_the_same_question():
    frame = answers({"unsteered": [50, 60, 70, 80], "terse|seed_raw2": [10, 20, 30, 40], "terse|seed_raw3": [50, 60, 70, 80]})
    comparisons, garbling = style_effects.compare_to_unsteered(frame, ["m"], ["terse|seed_raw2", "terse|seed_raw3"], 200, 0)
    words = comparisons[comparisons["measure"] == "words"].set_index("condition")
    assert words.loc["terse|seed_raw2", "difference"] == -40 and words.loc["terse|seed_raw2", "high"] == -40
    assert words.loc["terse|seed_raw3", "difference"] == 0 and set(comparisons["measure"]) == set(style_effects.MEASURES)
    raw3 = garbling.set_index("condition").loc["terse|seed_raw3"]
    assert raw3["garbled_k"] == 1 and raw3["n"] == 4 and raw3["rate_ci_low"] < 0.25 < raw3["rate_ci_high"]


def test_the_own_axis_measure_is_signed_so_that_positive_means_more_of_the_style():
    frame = answers({"unsteered": [50, 60, 70, 80], "terse|chosen": [10, 20, 30, 41]})
    comparisons, _ = style_effects.compare_to_unsteered(frame, ["m"], ["terse|chosen"], 200, 0)
    own = style_effects.own_axis(comparisons).iloc[0]  # terse: fewer words is more of the style
    assert own["measure"] == "m_terse" and own["directed_difference"] == pytest.approx(39.75)
    assert 0 < own["directed_low"] <= own["directed_difference"] <= own["directed_high"]


def test_a_length_claim_needs_both_sides_under_the_cut_share():
    frame = answers({"unsteered": [50, 100, 70, 80], "terse|prompted": [10, 20, 30, 40]})
    capped = style_effects.ending_share(style_effects.endings(frame, ["unsteered", "terse|prompted"]), "hit_cap")
    held, text = style_effects.uncapped(capped, "m", ["unsteered", "terse|prompted"], 0.10, 384)
    assert not held and text == "answers cut by the 384-token limit: unsteered 25%, terse|prompted 0%"
    assert style_effects.uncapped(capped, "m", ["terse|prompted"], 0.10, 384)[0]


def test_07_style_tests_answers_read_back_unchanged_and_an_empty_answer_stays_empty(output_root):
    frame = answers({"unsteered": [5, 6], "terse|prompted": [1, 2]}).assign(
        text=["a\nb, \"quoted\"", "", "short", "x"], question="q", system=["", "", "Be terse.", "Be terse."], layers="",
        layer=np.nan, depth=np.nan, alpha_fraction=np.nan)
    artifacts.write_csv(results_dir(style_effects.TEST) / "test_outputs.csv", pd.concat([frame, frame.assign(model="other")]))
    style_effects.save_test_setup(results_dir(style_effects.TEST), {"model_keys": ["m", "other"], "axes": ["terse"], "n_test": 2,
                                                                     "n_comparison": 2, "gen_tokens": 16, "n_probes": 0})
    back = style_effects.load_test_answers(["m"])
    assert back["text"].tolist() == frame["text"].tolist() and back["garbled"].dtype == bool
    assert back["words"].tolist() == frame["words"].tolist() and set(back["model"]) == {"m"}
    assert style_effects.load_test_setup(["m"], ["terse"])["gen_tokens"] == 16
    with pytest.raises(ValueError, match="did not run"):
        style_effects.load_test_setup(["m"], ["formal"])
