"""`make verify`: re-execute a notebook cold in a scratch folder and compare every number it writes with a reference.

The reference is the committed results (the `default` profile) or, for any other profile, a committed reference run of
it (`tests/reference/<profile>/`, written by `make reference PROFILE=smoke`). The notebook runs with the unit cache
off (a cold reproduction) under `scratch/verify/<profile>/`, reading its upstream notebooks' results copied from the
reference, so a notebook is verified on its own. Compared: every macro the paper reads (`paper/generated/<nb>.tex`),
the claims ledger's numbers, n, verdict and precondition per claim, and every cell of the notebook's CSV tables. Each
quantity is identical, within the tolerance of its kind, or different; timings are excluded.

>>> tolerance_of("pooled_r"), tolerance_of("rate"), tolerance_of("wall_time_s")
(('correlation', 0.05), ('rate', 0.03), ('timing', None))
>>> judge(0.5, 0.52, "rate"), judge(0.5, 0.6, "rate"), judge(3.0, 3.0, "number")
('within tolerance', 'different', 'identical')
"""
from __future__ import annotations

import csv
import json
import math
import os
import platform
import re
import shutil
from datetime import datetime, timezone
from pathlib import Path

from .. import artifacts, paths
from ..errors import WorkbookError
from .profiles import dependencies, discover_notebooks

IDENTICAL, WITHIN, DIFFERENT, MISSING, EXCLUDED = "identical", "within tolerance", "different", "missing", "excluded"
# Tolerance per kind of quantity, read off a column, macro or field name (first match wins). Rates, shares and
# p-values are absolute on [0, 1]; correlations, cosines and AUROC absolute; every other number relative.
KINDS = [
    ("timing", re.compile(r"(^|_)(s|sec|seconds|minutes|wall|time|timing|gflops|started|finished|speed)($|_)|wall|minutes|seconds", re.I), None),
    ("correlation", re.compile(r"(^|_)(r|rho|cos|cosine|auroc|corr|correlation)($|_)|cos|auroc|rho", re.I), 0.05),
    ("rate", re.compile(r"rate|share|accuracy|acc|recovery|^p_|(^|_)p($|_)|power|fraction|prob|hits|reproduced", re.I), 0.03),
]
RELATIVE = 0.02  # every other number: within 2 % of the reference (or 1e-6 absolute, for zeros)
NUMBER = re.compile(r"^[+-−]?\d[\d,]*\.?\d*(e[+-]?\d+)?\s*%?$|^[+-−]?\.\d+$", re.I)


def tolerance_of(name: str) -> tuple[str, float | None]:
    """(kind, tolerance) of a quantity by its name; timings have none (they are not compared)."""
    for kind, pattern, tolerance in KINDS:
        if pattern.search(name):
            return kind, tolerance
    return "number", RELATIVE


def _number(text) -> float | None:
    """A value as a float, or None when it is not one (text, an empty cell)."""
    if isinstance(text, bool) or text is None:
        return None
    if isinstance(text, (int, float)):
        return float(text)
    cleaned = str(text).strip().replace("−", "-").replace(",", "").rstrip("%").strip()
    if not NUMBER.match(str(text).strip().replace("−", "-")) and cleaned.lower() not in ("nan", "inf", "-inf"):
        return None
    try:
        return float(cleaned)
    except ValueError:
        return None


def judge(reference, fresh, kind: str) -> str:
    """identical / within tolerance / different for one pair of values of one kind."""
    if kind == "timing":
        return EXCLUDED
    a, b = _number(reference), _number(fresh)
    if a is None or b is None:
        return IDENTICAL if str(reference) == str(fresh) else DIFFERENT
    if a == b or (math.isnan(a) and math.isnan(b)):
        return IDENTICAL
    if math.isnan(a) or math.isnan(b):
        return DIFFERENT
    tolerance = dict((k, t) for k, _, t in KINDS).get(kind, RELATIVE)
    close = abs(a - b) <= tolerance if kind in ("rate", "correlation") else abs(a - b) <= max(RELATIVE * abs(a), 1e-6)
    return WITHIN if close else DIFFERENT


def _item(source: str, name: str, kind: str, status: str, reference="", fresh="", cells: int = 1, off: int = 0) -> dict:
    return {"source": source, "name": name, "kind": kind, "status": status, "reference": str(reference)[:60],
            "fresh": str(fresh)[:60], "cells": cells, "cells_off": off}


def read_macros(path: Path) -> dict[str, str]:
    """{macro: value} of a generated macro file (`\\newcommand{\\Name}{value}` lines)."""
    if not path.exists():
        return {}
    found = re.findall(r"\\newcommand\{\\([A-Za-z]+)\}\{(.*)\}\s*$", path.read_text(), flags=re.M)
    return dict(found)


def compare_macros(reference: Path, fresh: Path) -> list[dict]:
    ref, new = read_macros(reference), read_macros(fresh)
    items = []
    for name in sorted(set(ref) | set(new)):
        kind, _ = tolerance_of(re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower())  # XferPooledRLow -> xfer_pooled_r_low
        if name not in ref or name not in new:
            items.append(_item("macros", name, kind, MISSING, ref.get(name, "(absent)"), new.get(name, "(absent)")))
        else:
            items.append(_item("macros", name, kind, judge(ref[name], new[name], kind), ref[name], new[name]))
    return items


CLAIM_FIELDS = ("verdict", "n", "precondition_held", "value_here", "ci_low", "ci_high")


def compare_claims(reference: Path, fresh: Path) -> list[dict]:
    """Each claim's verdict, n and precondition exactly; its value and interval within the tolerance its id implies."""
    load = lambda p: {c["id"]: c for c in json.loads(p.read_text())} if p.exists() else {}
    ref, new = load(reference), load(fresh)
    items = []
    for claim_id in sorted(set(ref) | set(new)):
        if claim_id not in ref or claim_id not in new:
            items.append(_item("claims", claim_id, "claim", MISSING, "present" if claim_id in ref else "(absent)",
                               "present" if claim_id in new else "(absent)"))
            continue
        kind, _ = tolerance_of(ref[claim_id].get("note", "").split(";")[0].replace("value =", ""))
        kind = "number" if kind == "timing" else kind
        for field in CLAIM_FIELDS:
            a, b = ref[claim_id].get(field), new[claim_id].get(field)
            exact = field in ("verdict", "n", "precondition_held")
            status = (IDENTICAL if a == b else DIFFERENT) if exact else judge("nan" if a is None else a, "nan" if b is None else b, kind)
            items.append(_item("claims", f"{claim_id}.{field}", "exact" if exact else kind, status, a, b))
    return items


def _rows(path: Path) -> tuple[list[str], list[list[str]]]:
    with path.open(newline="") as handle:
        table = list(csv.reader(handle))
    return (table[0], table[1:]) if table else ([], [])


def compare_table(reference: Path, fresh: Path, source: str) -> list[dict]:
    """Cell by cell, one item per column: its kind, the worst cell's status and how many cells are off."""
    if not fresh.exists():
        return [_item(source, "(file)", "table", MISSING, "present", "(absent)")]
    ref_head, ref_rows = _rows(reference)
    new_head, new_rows = _rows(fresh)
    if ref_head != new_head or len(ref_rows) != len(new_rows):
        return [_item(source, "(shape)", "table", DIFFERENT, f"{len(ref_rows)} rows x {len(ref_head)}", f"{len(new_rows)} rows x {len(new_head)}")]
    items = []
    for j, column in enumerate(ref_head):
        kind, _ = tolerance_of(column)
        statuses = [judge(a[j], b[j], kind) for a, b in zip(ref_rows, new_rows)]
        worst = max(statuses, key=[EXCLUDED, IDENTICAL, WITHIN, DIFFERENT].index, default=IDENTICAL)
        first = next((i for i, s in enumerate(statuses) if s == worst), 0)
        example = (ref_rows[first][j], new_rows[first][j]) if ref_rows else ("", "")
        items.append(_item(source, column, kind, worst, *example, cells=len(statuses), off=sum(s == DIFFERENT for s in statuses)))
    return items


def compare(notebook: str, reference_root: Path, fresh_root: Path) -> list[dict]:
    """Every compared quantity of `notebook` between two output roots."""
    ref_results, new_results = reference_root / "results" / notebook, fresh_root / "results" / notebook
    if not ref_results.is_dir():
        raise WorkbookError(f"No reference results for {notebook} under {reference_root}: run it there first "
                            f"(`make paper`, or `make reference PROFILE=...`).")
    items = compare_macros(reference_root / "paper" / "generated" / f"{notebook}.tex", fresh_root / "paper" / "generated" / f"{notebook}.tex")
    items += compare_claims(ref_results / "claims.json", new_results / "claims.json")
    for table in sorted(ref_results.rglob("*.csv")):
        relative = table.relative_to(ref_results)
        items += compare_table(table, new_results / relative, str(relative))
    return items


def reference_root(profile: str) -> Path:
    """The committed results for the committed profile; tests/reference/<profile> for any other."""
    return paths.REPO_ROOT if profile == paths.COMMITTED_PROFILE else paths.REPO_ROOT / "tests" / "reference" / profile


def upstream(notebook: str) -> list[str]:
    """Every notebook whose results `notebook` reads, directly or through another."""
    found, todo = [], list(dependencies(notebook))
    while todo:
        name = todo.pop()
        if name not in found:
            found.append(name)
            todo += dependencies(name)
    return found


def reexecute(notebook: str, profile: str, reference: Path) -> tuple[Path, dict]:
    """Run `notebook` cold under scratch/verify/<profile>, its upstream results copied from `reference`."""
    from .execute import run_notebook

    fresh = paths.SCRATCH_DIR / "verify" / profile
    shutil.rmtree(fresh, ignore_errors=True)
    for name in upstream(notebook):
        if not (reference / "results" / name).is_dir():
            raise WorkbookError(f"{notebook} reads {name}'s results, which {reference} lacks: make the reference first.")
        shutil.copytree(reference / "results" / name, fresh / "results" / name)
    saved = {k: os.environ.get(k) for k in ("WORKBOOK_OUTPUT_DIR", "WORKBOOK_UNIT_CACHE")}
    os.environ.update(WORKBOOK_OUTPUT_DIR=str(fresh), WORKBOOK_UNIT_CACHE="off")  # a cold reproduction
    try:
        manifest = run_notebook(notebook, profile)
    finally:
        for key, value in saved.items():
            os.environ.pop(key) if value is None else os.environ.__setitem__(key, value)
    return fresh, manifest


def report_path(notebook: str, profile: str) -> Path:
    """results/verify/<nb>.json for the committed profile (the paper cites it); beside the fresh run for others."""
    if profile == paths.COMMITTED_PROFILE:
        return paths.REPO_ROOT / "results" / "verify" / f"{notebook}.json"
    return paths.SCRATCH_DIR / "verify-reports" / profile / f"{notebook}.json"


def verify(notebook: str, profile: str, execute: bool = True) -> dict:
    """Re-execute (unless `execute` is False: compare what scratch/verify already holds) and compare; the report."""
    if notebook not in discover_notebooks():
        raise WorkbookError(f"No notebook named {notebook!r}: use one of {', '.join(discover_notebooks())}.")
    reference = reference_root(profile)
    manifest = {}
    if execute:
        fresh, manifest = reexecute(notebook, profile, reference)
    else:
        fresh = paths.SCRATCH_DIR / "verify" / profile
    items = compare(notebook, reference, fresh)
    counts = {status: sum(i["status"] == status for i in items) for status in (IDENTICAL, WITHIN, DIFFERENT, MISSING, EXCLUDED)}
    report = {"notebook": notebook, "profile": profile, "reference": str(reference.relative_to(paths.REPO_ROOT)) or ".",
              "executed_at": datetime.now(timezone.utc).isoformat(timespec="seconds"), "wall_time_s": manifest.get("wall_time_s"),
              "machine": {"machine": platform.machine(), "cpu_count": os.cpu_count(),
                          "matmul_gflops": manifest.get("environment", {}).get("matmul_gflops")},
              "tolerances": {"rate": 0.03, "correlation": 0.05, "number": f"{RELATIVE:.0%} relative", "timing": "not compared"},
              "counts": counts, "passed": counts[DIFFERENT] == 0 and counts[MISSING] == 0, "items": items}
    path = report_path(notebook, profile)
    path.parent.mkdir(parents=True, exist_ok=True)
    artifacts.atomic_write_text(path, json.dumps(report, indent=1) + "\n")
    return report


def format_report(report: dict, limit: int = 40) -> str:
    """The printed table: every quantity that is not identical (up to `limit`), then the counts."""
    lines = [f"{'source':28s} {'quantity':42s} {'kind':11s} {'status':16s} reference -> fresh"]
    shown = [i for i in report["items"] if i["status"] not in (IDENTICAL, EXCLUDED)]
    for item in shown[:limit]:
        off = f" ({item['cells_off']} of {item['cells']} cells)" if item["cells"] > 1 and item["cells_off"] else ""
        lines.append(f"{item['source'][:28]:28s} {item['name'][:42]:42s} {item['kind']:11s} {item['status']:16s} "
                     f"{item['reference']} -> {item['fresh']}{off}")
    if len(shown) > limit:
        lines.append(f"... {len(shown) - limit} more in {report_path(report['notebook'], report['profile'])}")
    counts = ", ".join(f"{n} {status}" for status, n in report["counts"].items())
    lines.append(f"{report['notebook']} ({report['profile']}) against {report['reference']}: {counts}: "
                 + ("REPRODUCED" if report["passed"] else "DIFFERENT"))
    return "\n".join(lines)


PRUNED_SUFFIXES = (".ipynb", ".html")  # executed notebooks: large, and nothing compares or reads them


def write_reference(profile: str) -> Path:
    """Run every notebook of `profile` cold into tests/reference/<profile> (emptied first) and keep what `verify`
    compares and what downstream notebooks read: the results (without executed notebooks and manifests, whose bytes
    change with every run) and the generated macros and tables; no figures."""
    if profile == paths.COMMITTED_PROFILE:
        raise WorkbookError(f"The {profile} profile's reference is the committed results: run `make paper` instead.")
    from .execute import run_all

    target = reference_root(profile)
    shutil.rmtree(target, ignore_errors=True)
    saved = {k: os.environ.get(k) for k in ("WORKBOOK_OUTPUT_DIR", "WORKBOOK_UNIT_CACHE")}
    os.environ.update(WORKBOOK_OUTPUT_DIR=str(target), WORKBOOK_UNIT_CACHE="off")
    try:
        run_all(profile, force=True)
    finally:
        for key, value in saved.items():
            os.environ.pop(key) if value is None else os.environ.__setitem__(key, value)
    shutil.rmtree(target / "figures", ignore_errors=True)
    for path in list(target.rglob("*")):
        if path.is_file() and (path.suffix in PRUNED_SUFFIXES or path.name == "manifest.json"):
            path.unlink()
    return target
