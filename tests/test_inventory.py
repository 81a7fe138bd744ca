"""lib.inventory: the shipped inventory is well formed, ledger ids find their claim, and malformed entries are refused."""
from __future__ import annotations

import pytest

from lib import inventory
from lib.errors import WorkbookError


def test_the_shipped_inventory_covers_every_seed_and_each_status_has_its_fields():
    claims = inventory.load()["claim"]
    assert {c["seed"] for c in claims} == {"000", "001", "002", "003"}
    assert all(c["reason"] for c in claims if c["status"] == inventory.NOT_TESTABLE)
    assert all(c["how"] and c["notebook"] for c in claims if c["status"] == inventory.TESTABLE)


def test_a_ledger_id_belongs_to_its_longest_inventory_prefix():
    claims = [{"id": "S003-nf4"}, {"id": "S003-nf4-size"}, {"id": "S003-cosine"}]
    assert inventory.inventory_id("S003-nf4-size", claims) == "S003-nf4-size"
    assert inventory.inventory_id("S003-nf4-qwen2.5-0.5b", claims) == "S003-nf4"
    assert inventory.inventory_id("S003-cosines-x", claims) is None  # a prefix must end at a dash


def test_standing_reports_verdict_counts_and_the_reason_of_an_untestable_claim():
    rows = {r["id"]: r for r in inventory.standing([
        {"id": "S003-cosine-a", "verdict": "reproduced"}, {"id": "S003-cosine-b", "verdict": "inconclusive"}])}
    assert rows["S003-cosine"]["here"] == "05_quantization: 1 inconclusive, 1 reproduced"
    untestable = next(r for r in rows.values() if r["status"] == inventory.NOT_TESTABLE)
    assert untestable["here"].startswith("not testable here: ")


@pytest.mark.parametrize("entry, message", [
    ('status = "maybe"', "has status 'maybe'"),
    ('status = "not testable here"', "lacks reason"),
    ('status = "testable"\nnotebook = "07_style_steering"', "lacks how"),
])
def test_malformed_entries_are_refused_with_the_fix(tmp_path, monkeypatch, entry, message):
    path = tmp_path / "claims_inventory.toml"
    path.write_text(f'[[claim]]\nseed = "000"\nid = "S000-x"\nclaim = "c"\nseed_value = "1"\n{entry}\n')
    monkeypatch.setattr(inventory, "INVENTORY", path)
    with pytest.raises(WorkbookError, match=message):
        inventory.load()


def test_a_repeated_id_is_refused(tmp_path, monkeypatch):
    entry = '[[claim]]\nseed = "000"\nid = "S000-x"\nclaim = "c"\nseed_value = "1"\nstatus = "not testable here"\nreason = "r"\n'
    path = tmp_path / "claims_inventory.toml"
    path.write_text(entry + entry)
    monkeypatch.setattr(inventory, "INVENTORY", path)
    with pytest.raises(WorkbookError, match="appear twice"):
        inventory.load()
