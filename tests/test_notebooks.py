"""Every notebook end to end through papermill on the smoke profile, then the paper build on its outputs."""
from __future__ import annotations

import json
import math
import re
import shutil
import time

import pandas as pd
import pytest

from lib import artifacts, paths
from lib.workbook import execute, paper, profiles, status
from lib.artifacts import VERDICTS
from lib.verdicts import Rule
from lib.paths import NOTEBOOK_DIR, PAPER_DIR

pytestmark = pytest.mark.notebook
NOTEBOOKS = profiles.discover_notebooks()


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("smoke")
    patch = pytest.MonkeyPatch()
    patch.setenv("WORKBOOK_OUTPUT_DIR", str(root))
    ran = execute.run_all("smoke", force=True)
    yield root, ran
    patch.undo()


def defined_macros(root) -> dict[str, str]:
    text = "".join(p.read_text() for p in (root / "paper" / "generated").glob("*.tex"))
    return dict(re.findall(r"\\newcommand\{\\([A-Za-z]+)\}\{([^}]*)\}", text))


@pytest.mark.parametrize("notebook", NOTEBOOKS)
def test_notebook_outputs_exist_and_are_finite(smoke_run, notebook):
    root, ran = smoke_run
    assert notebook in ran
    manifest = json.loads((root / "results" / notebook / "manifest.json").read_text())
    assert manifest["profile"] == "smoke" and manifest["wall_time_s"] > 0
    for rel in manifest["outputs"]:
        assert (root / rel).stat().st_size > 0, rel
    assert any(rel.endswith(".pdf") for rel in manifest["outputs"]) and any(rel.endswith(".png") for rel in manifest["outputs"])
    for csv in (root / "results" / notebook).glob("*.csv"):
        numbers = pd.read_csv(csv).select_dtypes("number").to_numpy().ravel()
        # NaN marks an undefined statistic (a rate with no cases); infinities are always bugs.
        assert numbers.size and not any(math.isinf(x) for x in numbers), csv.name
        assert sum(math.isfinite(x) for x in numbers) > 0, csv.name
    claims_path = root / "results" / notebook / "claims.json"
    if claims_path.exists():
        for claim in json.loads(claims_path.read_text()):
            assert claim["verdict"] in VERDICTS
            if claim["value_here"] is None:  # Claim.not_testable: no value, no n, and the reason in the note
                assert claim["verdict"] == "not testable here" and claim["n"] == 0 and claim["note"], claim["id"]
                continue
            assert claim["n"] > 0 and claim["precondition_held"]
            assert claim["ci_low"] <= claim["value_here"] + 1e-9 and claim["value_here"] <= claim["ci_high"] + 1e-9
            # the verdict is the one the stored rule gives on the stored interval, and the rule is in words beside it
            rule = Rule(**claim["rule"])
            assert claim["verdict"] == rule.verdict(claim["ci_low"], claim["ci_high"]) and claim["rule_text"] == rule.text()


@pytest.mark.parametrize("notebook", NOTEBOOKS)
def test_every_macro_the_paper_uses_is_written_by_a_notebook(smoke_run, notebook):
    root, _ = smoke_run
    macros = defined_macros(root)
    own = re.findall(r"\\newcommand\{\\([A-Z][a-z]+)", (root / "paper" / "generated" / f"{notebook}.tex").read_text())
    prefix = own[0]  # every macro a notebook writes starts with its prefix (Ext, Iid, Xfer, ...)
    # a notebook split in two (04, 07) shares its pair's section, the file named after the first of the pair
    own_section = PAPER_DIR / "sections" / f"{notebook}.tex"
    section = (own_section if own_section.exists() else next((PAPER_DIR / "sections").glob(f"{notebook[:3]}*.tex"))).read_text()
    used = set(re.findall(rf"\\({prefix}[A-Za-z]+)", section))
    assert used and used <= set(macros), sorted(used - set(macros))
    for value in macros.values():
        assert "nan" not in value.lower() and "inf" not in value.lower()


def test_the_primary_refusal_judge_is_the_most_accurate_on_dev_and_labels_04_and_05(smoke_run):
    from lib import judges

    root, _ = smoke_run
    choice = json.loads((root / "results" / "04_scaling" / "refusal_judge.json").read_text())
    accuracy = {row["metric"]: row["rate"] for row in choice["dev_accuracy"]}
    assert set(accuracy) == set(judges.JUDGES) and accuracy[choice["judge"]] == max(accuracy.values())
    for notebook, rates in (("04_scaling", "test_rates.csv"), ("05_quantization", "rates.csv")):
        assert "refusal" in set(pd.read_csv(root / "results" / notebook / rates)["metric"]), notebook
    outputs = pd.read_csv(root / "results" / "04_scaling" / "test_outputs.csv")
    assert not (outputs["refusal"] & (outputs["seed_label"] == "garbled")).any()


def test_every_ledger_claim_is_in_the_inventory_and_every_tested_one_is_in_the_ledger(smoke_run):
    from lib import inventory

    root, _ = smoke_run
    records = [r for path in sorted((root / "results").glob("*/claims.json")) for r in json.loads(path.read_text())]
    assert records and inventory.unmatched(records) == []
    tested = [c for c in inventory.load()["claim"] if c["status"] == inventory.TESTED]
    without = [c["id"] for c in tested if not any(inventory.inventory_id(r["id"], [c]) for r in records)]
    assert without == [], "marked tested in the inventory, but no notebook wrote a ledger record"
    table = paper.collect_inventory().read_text()  # the paper's inventory table, from the smoke ledger
    assert all(artifacts.tex_escape(c["id"]) in table for c in inventory.load()["claim"])


def test_second_run_executes_nothing(smoke_run):
    root, _ = smoke_run
    assert execute.run_all("smoke") == []
    assert all(status.notebook_status(nb, "smoke")[0] == "current" for nb in NOTEBOOKS)


def test_papermill_reruns_a_notebook_with_other_parameters(smoke_run, tmp_path, monkeypatch):
    import papermill

    monkeypatch.setenv("WORKBOOK_OUTPUT_DIR", str(tmp_path))
    source = execute.paired_notebook("01_extraction")
    papermill.execute_notebook(str(source), str(tmp_path / "out.ipynb"), cwd=str(NOTEBOOK_DIR), progress_bar=False,
                               parameters={"model_keys": ["smollm2-135m"], "n_train": 4, "n_parity": 4,
                                           "fv_model_keys": ["smollm2-135m"], "fv_task_names": ["antonym"],
                                           "fv_n_prompts": 3, "fv_n_shots": 2, "padding_demo_items": 4,
                                           "padding_demo_layer_stride": 10, "todd_model_keys": []})
    assert json.loads((tmp_path / "results" / "01_extraction" / "splits.json").read_text())
    assert "4" == re.search(r"\\newcommand\{\\ExtNTrain\}\{(\d+)\}",
                            (tmp_path / "paper" / "generated" / "01_extraction.tex").read_text()).group(1)


@pytest.mark.skipif(shutil.which("latexmk") is None, reason="latexmk is not installed: `make tex` installs it")
def test_paper_builds_from_the_smoke_outputs(smoke_run, monkeypatch):
    root, _ = smoke_run
    monkeypatch.setenv("WORKBOOK_OUTPUT_DIR", str(root))
    pdf = paper.build_paper()
    assert pdf.stat().st_size > 10_000
    claims = (root / "paper" / "generated" / "claims.tex").read_text()
    defects = (root / "paper" / "generated" / "defects.tex").read_text()
    assert "S000-perturbation" in claims and "D003-tooling-gap-directions" in defects and "D001-right-padding" in defects
    assert "D003-tooling-gap-directions" not in claims  # a defect of the seed's code, not one of its claims
    # a build from scratch a second later gives the same bytes (dates and ID come from the results, not the clock)
    first = pdf.read_bytes()
    for by_product in (root / "paper").glob("main.*"):
        if by_product.suffix != ".tex":
            by_product.unlink()
    time.sleep(1.1)
    assert paper.build_paper().read_bytes() == first


def test_a_notebook_from_the_template_runs_with_no_copied_preamble(smoke_run, tmp_path, monkeypatch):
    import jupytext
    import papermill

    root, _ = smoke_run
    shutil.copytree(root / "results" / "01_extraction", tmp_path / "results" / "01_extraction")  # what the template reads
    monkeypatch.setenv("WORKBOOK_OUTPUT_DIR", str(tmp_path))
    source = NOTEBOOK_DIR / "templates" / "notebook.py"
    assert not re.search(r"manual_seed|use_deterministic_algorithms|plotting\.setup|gc\.collect|del lm", source.read_text())
    jupytext.write(jupytext.read(source), tmp_path / "template.ipynb")
    papermill.execute_notebook(str(tmp_path / "template.ipynb"), str(tmp_path / "out.ipynb"), cwd=str(NOTEBOOK_DIR),
                               parameters={"n_prompts": 4}, progress_bar=False)
    rates = pd.read_csv(tmp_path / "results" / "NN_template" / "rates.csv")
    assert list(rates["condition"]) == ["unsteered", "refusal added"] and (rates["n"] == 4).all()
    assert r"\newcommand{\TemplateSmollmTwoOneThreeFiveMUnsteeredRate}" in (tmp_path / "paper" / "generated" / "NN_template.tex").read_text()
