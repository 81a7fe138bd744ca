"""Function-vector tasks: shipped data, templates with one slot, splits and in-context prompts."""
from __future__ import annotations

import json

import pytest

from lib import tasks
from lib.errors import WorkbookError


@pytest.mark.parametrize("name", tasks.task_names())
def test_task_data_is_large_unique_and_templated(name):
    task = tasks.load_task(name)
    inputs = [x for x, _ in task.items]
    assert len(inputs) >= 60 and len(set(inputs)) == len(inputs)
    assert all(y.strip() for _, y in task.items)
    assert tuple(task.templates) == tasks.STYLES and task.source.strip()
    for style in tasks.STYLES:
        assert task.zero_shot(style, inputs[0]).count(inputs[0]) >= 1


def test_the_seed_tasks_and_small_model_tasks_are_there():
    assert {"antonym", "capitalize", "sentiment_flip"} <= set(tasks.task_names())
    assert len(tasks.task_names()) >= 8


def test_antonym_gold_answers_are_not_ambiguous():
    items = dict(tasks.load_task("antonym").items)
    assert "old" not in items and "young" not in items and "new" not in items


def test_splits_are_disjoint_and_seeded():
    task = tasks.load_task("antonym")
    a, b = task.splits({"dev": 0.5, "test": 0.5}, seed=0), task.splits({"dev": 0.5, "test": 0.5}, seed=0)
    assert a == b and not set(a["dev"]) & set(a["test"])


def test_icl_prompts_end_with_the_zero_shot_query_and_never_show_the_answer():
    task = tasks.load_task("country_capital")
    pool = task.splits({"dev": 0.5, "test": 0.5})["dev"]
    for few, zero, gold in tasks.icl_prompt_sets(task, "qa", pool, n_prompts=10, n_shots=5, seed=0):
        assert few.endswith(zero) and few.count("Q:") == 6
        assert gold not in few.split(task.templates["qa"]["joiner"])[-1]


def test_a_template_without_its_slot_is_rejected(tmp_path, monkeypatch):
    data = json.loads((tasks.DATA_DIR / "tasks" / "antonym.json").read_text())
    data["templates"][2]["query"] = "antonym() ="
    (tmp_path / "tasks").mkdir()
    (tmp_path / "tasks" / "broken.json").write_text(json.dumps(data))
    monkeypatch.setattr(tasks, "DATA_DIR", tmp_path)
    with pytest.raises(WorkbookError, match="exactly one"):
        tasks.load_task("broken")


def test_too_few_items_for_the_shots():
    task = tasks.load_task("antonym")
    with pytest.raises(WorkbookError, match="lower n_shots"):
        tasks.icl_prompt_sets(task, "natural", list(task.items[:3]), n_prompts=2, n_shots=5, seed=0)


def test_zero_shot_all_styles_is_style_major_with_style_indices():
    task = tasks.load_task("antonym")
    items = [("hot", "cold"), ("up", "down")]
    prompts, style_of = tasks.zero_shot_all_styles(task, items)
    assert len(prompts) == len(style_of) == len(tasks.STYLES) * len(items)
    for i, prompt in enumerate(prompts):
        assert prompt == task.zero_shot(tasks.STYLES[style_of[i]], items[i % len(items)][0])


def test_shuffled_labels_keep_the_demonstrations_and_query_and_permute_only_the_outputs():
    task = tasks.load_task("antonym")
    pool = task.splits({"dev": 0.5, "test": 0.5})["dev"]
    clean = tasks.icl_prompt_sets(task, "qa", pool, n_prompts=6, n_shots=5, seed=0)
    shuffled = tasks.icl_prompt_sets(task, "qa", pool, n_prompts=6, n_shots=5, seed=0, shuffle_labels=True)
    joiner = task.templates["qa"]["joiner"]
    moved = 0
    for (few, zero, gold), (few_s, zero_s, gold_s) in zip(clean, shuffled):
        assert (zero, gold) == (zero_s, gold_s) and few_s.endswith(zero)
        demos, demos_s = few.split(joiner)[:-1], few_s.split(joiner)[:-1]
        inputs = lambda ds: [d.rsplit("A:", 1)[0] for d in ds]
        outputs = lambda ds: sorted(d.rsplit("A:", 1)[1] for d in ds)
        assert inputs(demos) == inputs(demos_s) and outputs(demos) == outputs(demos_s)
        moved += demos != demos_s
    assert moved >= 5  # a permutation of five labels leaves them all in place 1 time in 120
