"""The shipped data: sizes, uniqueness, splits, and the seed's exact instruction pairs."""
from __future__ import annotations

import json

from lib import prompts
from lib.paths import DATA_DIR


def test_prompt_sets_are_large_unique_disjoint_and_sourced():
    harmful, harmless = prompts.load_prompt_set("harmful"), prompts.load_prompt_set("harmless")
    for data in (harmful, harmless):
        assert len(data["items"]) >= 64 and len(set(data["items"])) == len(data["items"])
        assert data["source"].strip() and "\n" not in data["source"]
    assert not set(harmful["items"]) & set(harmless["items"])


def test_splits_are_seeded_disjoint_and_exhaustive():
    items = prompts.load_prompt_set("harmful")["items"]
    fractions = {"train": 0.4, "val": 0.2, "test": 0.4}
    first, second = prompts.split_items(items, fractions, seed=0), prompts.split_items(items, fractions, seed=0)
    assert first == second
    assert sorted(sum(first.values(), [])) == sorted(items)
    assert len(first["test"]) >= 64


def test_style_pairs_are_seed_000_verbatim():
    axes = json.loads((DATA_DIR / "style" / "axes.json").read_text())["axes"]
    assert list(axes) == ["terse", "formal", "socratic", "dry-wit"]
    assert axes["terse"]["positive"] == "Be extremely concise and technical. No filler words. Dense signal."
    assert axes["dry-wit"]["negative"] == "Be enthusiastic, warm, and encouraging in your response."
