"""Execute notebooks headlessly with papermill: the HTML export, the manifest, and running what is out of date."""
from __future__ import annotations

import json
import os
import platform
import time
from datetime import datetime, timezone
from pathlib import Path

from .. import artifacts, paths, timing
from ..errors import WorkbookError
from ..paths import output_root
from ..hashing import file_sha256
from .inputs import combined_hash, input_hashes
from .outputs import manifest_path, output_files
from .status import notebook_status
from .profiles import discover_notebooks, notebook_parameters


def _package_versions() -> dict[str, str]:
    from importlib import metadata

    names = ["torch", "transformers", "nnsight", "papermill", "numpy", "statsmodels", "scipy", "seaborn", "gguf", "llama-cpp-python"]
    versions = {}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return versions


def paired_notebook(notebook: str) -> Path:
    """Write notebooks/<nb>.ipynb from the jupytext source (the .py is the source of truth)."""
    import jupytext

    target = paths.NOTEBOOK_DIR / f"{notebook}.ipynb"
    jupytext.write(jupytext.read(paths.NOTEBOOK_DIR / f"{notebook}.py"), target)
    return target


def run_notebook(notebook: str, profile: str) -> dict:
    """Execute one notebook with papermill, export HTML, and write its manifest last."""
    import nbformat
    import papermill
    from nbconvert import HTMLExporter

    params = notebook_parameters(profile, notebook)
    inputs = input_hashes(notebook, profile)
    results = output_root() / "results" / notebook
    results.mkdir(parents=True, exist_ok=True)
    manifest_path(notebook).unlink(missing_ok=True)  # from here until the end the run counts as missing
    gflops = timing.matmul_gflops()  # the machine's speed, so wall times compare across machines
    started, t0 = datetime.now(timezone.utc), time.time()
    executed = results / f".{notebook}.tmp.ipynb"
    papermill.execute_notebook(
        str(paired_notebook(notebook)), str(executed), parameters=params, cwd=str(paths.NOTEBOOK_DIR),
        kernel_name="python3", progress_bar=False, request_save_on_cell_execute=False,
    )
    os.replace(executed, results / f"{notebook}.ipynb")
    html, _ = HTMLExporter().from_notebook_node(nbformat.read(results / f"{notebook}.ipynb", as_version=4))
    artifacts.atomic_write_text(results / f"{notebook}.html", html)
    wall = time.time() - t0
    unit_cache = _read_unit_cache_tally(results)
    for stale in [p for p in output_files(notebook) if p.stat().st_mtime < t0 - 1]:
        stale.unlink()  # left over from an earlier run that wrote files this run no longer writes
    root = output_root()
    outputs = {str(p.relative_to(root)): file_sha256(p) for p in output_files(notebook)}
    manifest = {
        "notebook": notebook, "profile": profile, "parameters": params,
        "input_hash": combined_hash(inputs), "inputs": inputs,
        "outputs": outputs, "output_hash": combined_hash(outputs),
        "started_at": started.isoformat(timespec="seconds"),
        "finished_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "wall_time_s": round(wall, 1),
        "unit_cache": unit_cache,  # units loaded from the cache (and the compute seconds they saved) vs computed
        "environment": {"python": platform.python_version(), "machine": platform.machine(),
                        "cpu_count": os.cpu_count(), "matmul_gflops": gflops, "packages": _package_versions()},
    }
    artifacts.atomic_write_text(manifest_path(notebook), json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return manifest


def _read_unit_cache_tally(results: Path) -> dict:
    """The notebook's tally of cached vs computed units (lib.unitcache), taken out of its results folder."""
    path = results / paths.UNIT_CACHE_TALLY
    if not path.exists():  # a notebook that never called nb.finish
        return {}
    tally = {k: round(v, 1) if isinstance(v, float) else v for k, v in json.loads(path.read_text()).items()}
    path.unlink()
    return tally


def run_all(profile: str, selected: list[str] | None = None, force: bool = False) -> list[str]:
    """Run, in order, every selected notebook that is not current; return the names that ran."""
    known = discover_notebooks()
    for name in selected or []:
        if name not in known:
            raise WorkbookError(f"No notebook named {name!r}: use one of {', '.join(known)}.")
    ran = []
    for notebook in known:
        if selected and notebook not in selected:
            continue
        state, reason = notebook_status(notebook, profile)
        if state == "current" and not force:
            print(f"[skip] {notebook}: current ({reason})")
            continue
        print(f"[run ] {notebook} (profile {profile}): {state}, {reason}", flush=True)
        manifest = run_notebook(notebook, profile)
        print(f"[done] {notebook} in {manifest['wall_time_s']:.0f} s", flush=True)
        ran.append(notebook)
    return ran
