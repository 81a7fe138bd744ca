"""The runner: profiles, content hashes, manifests, no-op reruns and interrupted runs, on a tiny real notebook; and the
macro phrases notebooks write for the paper."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from lib import artifacts
from lib import paths
from lib.workbook import execute, inputs, install, profiles, status
from lib.paths import PROFILE_DIR, REPO_ROOT

TINY_NOTEBOOK = '''# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# A tiny notebook for the runner's tests.
# depends_on:

# %% tags=["parameters"]
profile = "smoke"
value = 1.0
fail = False

# %%
from lib import artifacts
from lib.paths import results_dir
if fail:
    raise RuntimeError("asked to fail")
artifacts.write_json(results_dir("01_tiny") / "value.json", {"value": value})
'''


def test_every_profile_names_only_existing_notebooks_and_known_models():
    notebooks = set(profiles.discover_notebooks())
    assert sorted(p.stem for p in PROFILE_DIR.glob("*.toml")) == ["default", "gpu", "smoke"]
    for profile in ("smoke", "default"):
        sections = profiles.load_profile(profile)
        assert set(sections) - {"all"} <= notebooks
        assert install.models_for_profile(profile)


def test_every_notebook_runs_after_the_notebooks_it_reads():
    """The runner runs notebooks in name order: an upstream named after its reader would be read before it is written."""
    order = profiles.discover_notebooks()
    for notebook in order:
        assert all(order.index(up) < order.index(notebook) for up in profiles.dependencies(notebook)), notebook


def test_status_needs_only_the_standard_library():
    # -S: no site-packages at all, as with a bare system Python.
    done = subprocess.run([sys.executable, "-S", "-m", "lib.workbook", "status", "--profile", "default"],
                          cwd=REPO_ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert all(name in done.stdout for name in profiles.discover_notebooks())


@pytest.fixture()
def tiny_project(tmp_path, monkeypatch, output_root):
    notebooks, profiles = tmp_path / "notebooks", tmp_path / "profiles"
    notebooks.mkdir()
    profiles.mkdir()
    (notebooks / "01_tiny.py").write_text(TINY_NOTEBOOK)
    (profiles / "smoke.toml").write_text("[01_tiny]\nvalue = 2.5\n")
    monkeypatch.setattr(paths, "NOTEBOOK_DIR", notebooks)
    monkeypatch.setattr(paths, "PROFILE_DIR", profiles)
    return profiles


def test_run_writes_outputs_and_manifest_then_a_rerun_is_a_no_op(tiny_project, output_root):
    assert status.notebook_status("01_tiny", "smoke")[0] == "missing"
    assert execute.run_all("smoke") == ["01_tiny"]
    results = output_root / "results" / "01_tiny"
    assert json.loads((results / "value.json").read_text()) == {"value": 2.5}
    manifest = json.loads((results / "manifest.json").read_text())
    assert set(manifest["outputs"]) == {"results/01_tiny/value.json", "results/01_tiny/01_tiny.ipynb",
                                        "results/01_tiny/01_tiny.html"}
    assert manifest["wall_time_s"] > 0 and "notebooks/01_tiny.py" in manifest["inputs"]
    assert manifest["environment"]["matmul_gflops"] > 0  # the machine's speed, to compare wall times across machines
    assert status.notebook_status("01_tiny", "smoke")[0] == "current"
    assert execute.run_all("smoke") == []  # nothing changed, nothing runs

    (tiny_project / "smoke.toml").write_text("[01_tiny]\nvalue = 3.5\n")
    state, reason = status.notebook_status("01_tiny", "smoke")
    assert state == "stale" and "parameters" in reason
    assert execute.run_all("smoke") == ["01_tiny"]
    assert json.loads((results / "value.json").read_text()) == {"value": 3.5}

    (results / "value.json").write_text('{"value": 99}')  # an output edited by hand
    assert status.notebook_status("01_tiny", "smoke")[0] == "stale"


def test_an_upstream_output_changed_outside_the_runner_marks_its_readers_stale(tiny_project, output_root):
    reader = TINY_NOTEBOOK.replace("# depends_on:", "# depends_on: 01_tiny").replace('results_dir("01_tiny")', 'results_dir("02_reader")')
    (paths.NOTEBOOK_DIR / "02_reader.py").write_text(reader)
    assert execute.run_all("smoke") == ["01_tiny", "02_reader"]
    assert status.notebook_status("02_reader", "smoke")[0] == "current"
    (output_root / "results" / "01_tiny" / "value.json").write_text('{"value": 99}')  # e.g. a papermill rerun of 01
    state, reason = status.notebook_status("02_reader", "smoke")
    assert state == "stale" and "upstream:01_tiny" in reason


def test_a_failed_run_never_looks_complete(tiny_project, output_root):
    execute.run_all("smoke")
    (tiny_project / "smoke.toml").write_text("[01_tiny]\nvalue = 4.0\nfail = true\n")
    with pytest.raises(Exception, match="asked to fail"):
        execute.run_all("smoke")
    assert status.notebook_status("01_tiny", "smoke")[0] == "missing"
    (tiny_project / "smoke.toml").write_text("[01_tiny]\nvalue = 4.0\n")
    assert execute.run_all("smoke") == ["01_tiny"]  # the next run resumes


def test_input_hash_covers_library_code_and_weights():
    hashes = inputs.input_hashes("01_extraction", "default")
    assert "lib/activations.py" in hashes and "lib/data/prompts/harmful.json" in hashes
    assert "requirements.lock" in hashes and "parameters" in hashes
    # the zoo's weight hashes live in the registry, which every notebook imports, so a default run (whose profile
    # names no model) still changes hash with its weights; a profile that names a model records its weights too
    assert "lib/registry.py" in hashes
    assert "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53" in (paths.LIB_DIR / "registry.py").read_text()
    smoke = inputs.input_hashes("01_extraction", "smoke")
    assert smoke["weights:smollm2-135m"] == "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"


def test_input_hash_covers_only_the_lib_modules_a_notebook_imports():
    hashes = inputs.input_hashes("01_extraction", "smoke")
    assert "lib/activations.py" in hashes and "lib/workbook/execute.py" not in hashes


def test_lib_dependencies_follow_imports_transitively_with_the_data_folders_they_name():
    data = lambda folder: {p for p in (REPO_ROOT / "lib" / "data" / folder).rglob("*") if p.is_file()}
    found = set(inputs.lib_dependencies("01_extraction"))
    lib = REPO_ROOT / "lib"
    assert {lib / "activations.py", lib / "models.py", lib / "registry.py"} <= found  # registry only via models
    assert lib / "workbook" / "execute.py" not in found
    assert data("prompts") | data("style") | data("tasks") <= found  # via lib.prompts, the notebook, lib.tasks
    scaling = set(inputs.lib_dependencies("04_scaling"))
    assert data("prompts") <= scaling and not data("tasks") & scaling  # 04 reads no task data


def test_lib_dependencies_of_a_notebook_importing_one_module(tmp_path, monkeypatch):
    (tmp_path / "99_tmp.py").write_text("# %%\nfrom lib import stats\n")
    monkeypatch.setattr(paths, "NOTEBOOK_DIR", tmp_path)
    assert set(inputs.lib_dependencies("99_tmp")) == {REPO_ROOT / "lib" / "__init__.py", REPO_ROOT / "lib" / "stats.py"}


def test_lib_dependencies_resolve_relative_imports_subpackages_and_imports_in_functions(tmp_path, monkeypatch):
    # The real lib has no subpackage or two-level relative import, so a made-up one checks them.
    lib = tmp_path / "lib"
    sources = {
        "__init__.py": "", "b.py": "", "d.py": "", "e.py": "", "unused.py": "", "sub/__init__.py": "",
        "a.py": "from . import b\ndef f():\n    from .sub.c import x as y\n",
        "sub/c.py": "from .. import d\nfrom lib.e import w\nx = 1\nITEMS = DATA_DIR / 'items'\n",
        "data/items/a.json": "[]", "data/other/b.json": "[]",
    }
    for name, text in sources.items():
        (lib / name).parent.mkdir(parents=True, exist_ok=True)
        (lib / name).write_text(text)
    (tmp_path / "99_tmp.py").write_text("import lib.a\n")
    for name, value in {"NOTEBOOK_DIR": tmp_path, "LIB_DIR": lib, "DATA_DIR": lib / "data"}.items():
        monkeypatch.setattr(paths, name, value)
    expected = sorted(lib / name for name in sources if name not in ("unused.py", "data/other/b.json"))
    assert inputs.lib_dependencies("99_tmp") == expected  # data/other is named nowhere


def test_counted_list_reads_right_for_one_and_for_many():
    assert artifacts.counted_list(["qwen2.5-0.5b"]) == "1 model (qwen2.5-0.5b)"
    assert artifacts.counted_list(("a", "b"), noun="task") == "2 tasks (a, b)"


def test_a_relative_output_dir_is_read_from_the_repository_root(monkeypatch, tmp_path):
    from lib import paths

    monkeypatch.chdir(tmp_path)  # a kernel runs in notebooks/, the runner in the repository root: both must agree
    monkeypatch.setenv("WORKBOOK_OUTPUT_DIR", "scratch/smoke")
    assert paths.output_root() == paths.REPO_ROOT / "scratch" / "smoke"


def test_every_parameter_line_parses_for_papermill(caplog):
    """Papermill reads a parameters cell line by line and silently drops a line it cannot parse (an '=' in the comment
    is enough), so that parameter is then 'unknown' when a profile passes it."""
    import jupytext
    from papermill.translators import PythonTranslator

    for source in sorted(paths.NOTEBOOK_DIR.glob("[0-9][0-9]_*.py")):
        cell = next(c for c in jupytext.read(source).cells if "parameters" in c.metadata.get("tags", []))
        caplog.clear()
        names = {p.name for p in PythonTranslator.inspect({"source": cell.source})}
        assigned = {line.split("=", 1)[0].strip() for line in cell.source.splitlines() if line and not line[0].isspace()
                    and "=" in line and not line.startswith(("#", "}", "]", ")"))}
        assert not caplog.records and assigned <= names, f"{source.name}: {sorted(assigned - names)} not parsed"


def test_a_notebooks_defaults_are_its_parameters_cell_and_name_the_default_models():
    defaults = profiles.notebook_defaults("04_scaling")
    assert defaults["n_test"] >= 64 and "qwen2.5-1.5b" in defaults["model_keys"]  # the paper-grade sizes live there
    assert "qwen2.5-1.5b" in install.models_for_profile("default")  # so `make models` installs them for the default profile
