"""Where things live. Standard library only.

Outputs (results/, figures/, paper/generated/) go under the output root: WORKBOOK_OUTPUT_DIR when it
is set, else the git-ignored scratch/ folder, so an exploratory run (a papermill rerun, a notebook in
JupyterLab) never overwrites the committed results. Only the runner sets it to the repository itself,
for the committed profile (`make paper`, `make status`, `make bench`); the tests use temporary
directories. Readers of upstream results fall back to the committed ones (lib.handoffs). Large
regenerable artefacts (de-quantized weights, activation tensors) go to the git-ignored cache.
"""
from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
LIB_DIR = REPO_ROOT / "lib"
DATA_DIR = LIB_DIR / "data"
NOTEBOOK_DIR = REPO_ROOT / "notebooks"
PROFILE_DIR = NOTEBOOK_DIR / "profiles"
PAPER_DIR = REPO_ROOT / "paper"
SCRATCH_DIR = REPO_ROOT / "scratch"
COMMITTED_PROFILE = "default"  # the profile whose results are committed and which the paper reports


UNIT_CACHE_TALLY = ".unit_cache.json"  # a notebook's cache tally (lib.unitcache), which the runner moves into its manifest


def output_root() -> Path:
    """Root under which results/, figures/ and paper/generated/ are written. A relative WORKBOOK_OUTPUT_DIR is read
    from the repository root, so the runner and the notebook kernels it starts (in notebooks/) agree on it."""
    return (REPO_ROOT / os.environ.get("WORKBOOK_OUTPUT_DIR", SCRATCH_DIR)).resolve()


def root_for_profile(profile: str) -> Path:
    """Where the runner writes a profile's results: the repository for the committed profile, scratch/<profile> else."""
    return REPO_ROOT if profile == COMMITTED_PROFILE else SCRATCH_DIR / profile


def committed_results_dir(notebook: str) -> Path:
    return REPO_ROOT / "results" / notebook


def cache_dir() -> Path:
    """Git-ignored cache for de-quantized models and large tensors (WORKBOOK_CACHE_DIR overrides)."""
    path = Path(os.environ.get("WORKBOOK_CACHE_DIR", REPO_ROOT / ".cache")).resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path


def results_dir(notebook: str) -> Path:
    return output_root() / "results" / notebook


def figures_dir(notebook: str) -> Path:
    return output_root() / "figures" / notebook


def generated_dir() -> Path:
    return output_root() / "paper" / "generated"
