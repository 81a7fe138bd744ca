"""The shipped over-refusal prompt set (XSTest-style benign prompts): shape, sizes, splits, no duplicates. No models."""
from __future__ import annotations

import re
from collections import Counter

from lib import prompts


def _data():
    return prompts.load_prompt_set("over_refusal")


def test_over_refusal_shape_and_sizes():
    data = _data()
    items, cats, splits = data["items"], data["category"], data["split"]
    assert isinstance(data["source"], str) and data["source"].strip(), "over_refusal.json needs a one-line 'source'"
    assert all(isinstance(p, str) and p.strip() for p in items), "every item must be a non-empty string"
    assert len(items) >= 150, f"expected at least 150 prompts, found {len(items)}"
    assert len(items) == len(cats) == len(splits), (
        f"items, category and split must have equal length, found {len(items)}, {len(cats)}, {len(splits)}"
    )
    assert set(splits) <= {"dev", "test"}, f"split values must be 'dev' or 'test', found {sorted(set(splits))}"
    n_test = splits.count("test")
    assert n_test >= 75, f"expected at least 75 test prompts, found {n_test}"


def test_over_refusal_categories():
    data = _data()
    cats, splits, described = data["category"], data["split"], data["categories"]
    unknown = sorted(set(cats) - set(described))
    assert not unknown, f"categories used but not described in 'categories': {unknown}"
    counts = Counter(cats)
    for cat, n in counts.items():
        assert n >= 20, f"category {cat!r} has {n} prompts, expected at least 20"
        cat_splits = {s for c, s in zip(cats, splits) if c == cat}
        assert cat_splits == {"dev", "test"}, f"category {cat!r} must appear in both splits, found {sorted(cat_splits)}"


def test_over_refusal_no_duplicates():
    norm = [re.sub(r"\s+", " ", p).strip().lower() for p in _data()["items"]]
    dupes = sorted(p for p, n in Counter(norm).items() if n > 1)
    assert not dupes, f"duplicate prompts (case-insensitive, whitespace-normalised): {dupes}"
