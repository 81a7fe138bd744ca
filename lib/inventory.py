"""The inventory of every claim the four seeds make (`lib/data/claims_inventory.toml`), and how each one stands here.

Each inventory claim is tested by a notebook (its ledger ids start with the inventory id, one per model or method),
testable on this zoo but not yet tested, or not testable here with the reason. `standing` joins the inventory with
the ledger records, so the paper lists every claim, and a test checks that the two agree: no ledger claim outside the
inventory, no inventory claim marked tested without a ledger record. Standard library only (the paper build reads it).

>>> claims = load()["claim"]
>>> len({c["seed"] for c in claims}), all(c["status"] in STATUSES for c in claims)
(4, True)
"""
from __future__ import annotations

import tomllib
from collections import Counter

from .errors import WorkbookError
from .paths import DATA_DIR

INVENTORY = DATA_DIR / "claims_inventory.toml"
TESTED, TESTABLE, NOT_TESTABLE = "tested", "testable", "not testable here"
STATUSES = (TESTED, TESTABLE, NOT_TESTABLE)
_NEEDS = {TESTED: ("notebook",), TESTABLE: ("notebook", "how"), NOT_TESTABLE: ("reason",)}


def load() -> dict:
    """The inventory, checked: known statuses, the fields each status needs, unique ids."""
    inventory = tomllib.loads(INVENTORY.read_text())
    claims = inventory.get("claim", [])
    for claim in claims:
        status = claim.get("status")
        if status not in STATUSES:
            raise WorkbookError(f"Inventory claim {claim.get('id')!r} has status {status!r}: use one of {', '.join(STATUSES)}.")
        missing = [f for f in ("seed", "id", "claim", "seed_value", *_NEEDS[status]) if not claim.get(f)]
        if missing:
            raise WorkbookError(f"Inventory claim {claim['id']!r} ({status}) lacks {', '.join(missing)}: add it to {INVENTORY.name}.")
    repeated = [i for i, count in Counter(c["id"] for c in claims).items() if count > 1]
    if repeated:
        raise WorkbookError(f"Inventory ids {', '.join(repeated)} appear twice in {INVENTORY.name}: give each claim its own id.")
    return inventory


def inventory_id(ledger_id: str, claims: list[dict]) -> str | None:
    """The inventory claim a ledger id belongs to: the longest inventory id it equals or starts with (plus '-')."""
    matches = [c["id"] for c in claims if ledger_id == c["id"] or ledger_id.startswith(c["id"] + "-")]
    return max(matches, key=len) if matches else None


def standing(records: list[dict]) -> list[dict]:
    """One row per inventory claim: its id, seed, claim, status, and what stands here: the verdicts of its ledger
    records (tested), the notebook that could test it (testable), or the reason (not testable here)."""
    claims = load()["claim"]
    verdicts: dict[str, Counter] = {c["id"]: Counter() for c in claims}
    for record in records:
        owner = inventory_id(record["id"], claims)
        if owner is not None:
            verdicts[owner][record["verdict"]] += 1
    rows = []
    for claim in claims:
        if claim["status"] == TESTED:
            counts = verdicts[claim["id"]]
            here = ", ".join(f"{n} {verdict}" for verdict, n in sorted(counts.items())) or "no ledger record in this run"
            here = f"{claim['notebook']}: {here}"
        elif claim["status"] == TESTABLE:
            here = f"not yet tested ({claim['notebook']})"
        else:
            here = f"not testable here: {claim['reason']}"
        rows.append({"id": claim["id"], "seed": claim["seed"], "claim": claim["claim"], "status": claim["status"], "here": here})
    return rows


def unmatched(records: list[dict]) -> list[str]:
    """Ledger ids that belong to no inventory claim (each must have one)."""
    claims = load()["claim"]
    return [r["id"] for r in records if inventory_id(r["id"], claims) is None]
