"""Where things live. Standard library only.

Outputs (results/, figures/, paper/generated/) go under the output root, which is the
repository itself unless WORKBOOK_OUTPUT_DIR points elsewhere (the tests use a temporary
directory so a smoke run never touches committed results). Large regenerable artefacts
(de-quantized weights, activation tensors) go to the git-ignored cache.
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


def output_root() -> Path:
    """Root under which results/, figures/ and paper/generated/ are written."""
    return Path(os.environ.get("WORKBOOK_OUTPUT_DIR", REPO_ROOT)).resolve()


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
