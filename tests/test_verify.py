"""`make verify`: the comparison of a fresh run with a reference, and a cold smoke re-execution against the committed
smoke reference (tests/reference/smoke, written by `make reference PROFILE=smoke`)."""
from __future__ import annotations

import json
import shutil

import pytest

from lib import paths
from lib.workbook import verify


def write_root(root, macros: dict, claims: list, table: str):
    (root / "results" / "nb").mkdir(parents=True)
    (root / "paper" / "generated").mkdir(parents=True)
    (root / "paper" / "generated" / "nb.tex").write_text("".join(f"\\newcommand{{\\{k}}}{{{v}}}\n" for k, v in macros.items()))
    (root / "results" / "nb" / "claims.json").write_text(json.dumps(claims))
    (root / "results" / "nb" / "table.csv").write_text(table)


CLAIM = {"id": "S1-x", "verdict": "reproduced", "n": 40, "precondition_held": True, "value_here": 0.40, "ci_low": 0.30,
         "ci_high": 0.50, "note": "value = refusal rate"}
TABLE = "model,rate,words,wall_time_s,text\nm,0.50,120.0,31.0,hello\nm,0.25,80.0,12.0,bye\n"


@pytest.fixture()
def roots(tmp_path):
    ref, new = tmp_path / "ref", tmp_path / "new"
    write_root(ref, {"XferPooledR": "-0.31", "StyleWallMinutes": "12", "StyleModels": "smollm2"}, [CLAIM], TABLE)
    return ref, new


def statuses(items) -> dict:
    return {(i["source"], i["name"]): i["status"] for i in items}


def test_an_identical_run_is_identical_everywhere_and_timings_are_not_compared(roots):
    ref, new = roots
    write_root(new, {"XferPooledR": "-0.31", "StyleWallMinutes": "55", "StyleModels": "smollm2"}, [CLAIM],
               TABLE.replace("31.0", "99.0"))
    found = statuses(verify.compare("nb", ref, new))
    assert found[("macros", "StyleWallMinutes")] == verify.EXCLUDED and found[("table.csv", "wall_time_s")] == verify.EXCLUDED
    assert set(found.values()) == {verify.IDENTICAL, verify.EXCLUDED}


def test_each_kind_has_its_tolerance_and_a_change_beyond_it_is_different(roots):
    ref, new = roots
    claim = {**CLAIM, "value_here": 0.41, "ci_high": 0.60}
    write_root(new, {"XferPooledR": "-0.34", "StyleWallMinutes": "12", "StyleModels": "qwen"}, [claim],
               TABLE.replace("0.50,120.0", "0.52,126.0"))
    found = statuses(verify.compare("nb", ref, new))
    assert found[("macros", "XferPooledR")] == verify.WITHIN  # a correlation: 0.03 off, tolerance 0.05
    assert found[("macros", "StyleModels")] == verify.DIFFERENT  # text: exact
    assert found[("claims", "S1-x.value_here")] == verify.WITHIN and found[("claims", "S1-x.ci_high")] == verify.DIFFERENT
    assert found[("table.csv", "rate")] == verify.WITHIN and found[("table.csv", "words")] == verify.DIFFERENT  # 5 % > 2 %


def test_a_changed_verdict_a_missing_claim_and_a_reshaped_table_are_reported(roots):
    ref, new = roots
    write_root(new, {"XferPooledR": "-0.31", "StyleWallMinutes": "12"}, [{**CLAIM, "verdict": "inconclusive"}, {**CLAIM, "id": "S1-y"}],
               TABLE + "m,0.1,1.0,1.0,extra\n")
    found = statuses(verify.compare("nb", ref, new))
    assert found[("claims", "S1-x.verdict")] == verify.DIFFERENT and found[("claims", "S1-y")] == verify.MISSING
    assert found[("macros", "StyleModels")] == verify.MISSING and found[("table.csv", "(shape)")] == verify.DIFFERENT


def test_a_notebook_without_reference_results_is_refused_with_the_fix(tmp_path):
    with pytest.raises(Exception, match="make reference"):
        verify.compare("nb", tmp_path / "nowhere", tmp_path)


@pytest.mark.notebook
def test_a_cold_smoke_reexecution_of_01_reproduces_the_committed_smoke_reference():
    """What `make verify NB=01_extraction PROFILE=smoke` runs: 01 cold in scratch/, compared with tests/reference/smoke."""
    report = verify.verify("01_extraction", "smoke")
    print(verify.format_report(report))
    assert report["counts"][verify.IDENTICAL] > 100 and report["passed"], verify.format_report(report)
    assert verify.report_path("01_extraction", "smoke").exists()
    shutil.rmtree(paths.SCRATCH_DIR / "verify" / "smoke", ignore_errors=True)
