"""What a notebook's results depend on, each with its content hash.

A notebook's input hash covers its source, the lib modules it imports (transitively), the lib/data files those
sources name, the lock file, its parameters in the chosen profile, the hashes of the model weights those parameters
name, and the files it reads from the notebooks it depends on (`# depends_on:` in its header). An edit to a lib
module a notebook never imports leaves it current.
"""
from __future__ import annotations

import ast
import hashlib
import json
import re
from pathlib import Path

from .. import paths, registry
from ..paths import output_root
from ..errors import WorkbookError
from ..hashing import file_sha256
from .outputs import output_files
from .profiles import dependencies, notebook_parameters

# Lock files of optional runtimes, kept out of requirements.lock: an input only of the notebooks whose code imports them.
RUNTIME_LOCKS = {"lib/llamacpp.py": "requirements-llamacpp.lock"}


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
        target = paths.LIB_DIR.joinpath(*parts[1:depth])
        candidates = [target / "__init__.py"] + ([target.with_suffix(".py")] if depth > 1 else [])
        files += [path for path in candidates if path.is_file()][:1]
    return files


def _package_of(path: Path) -> str:
    # lib/a/b.py and lib/a/__init__.py both resolve `from . import x` against package lib.a
    return ".".join(("lib",) + path.parent.relative_to(paths.LIB_DIR).parts)


def lib_dependencies(notebook: str) -> list[Path]:
    """The lib files a notebook's results depend on: lib/__init__.py, the lib modules the notebook
    imports, transitively, and every file of the lib/data folders that those sources name."""
    notebook_source = paths.NOTEBOOK_DIR / f"{notebook}.py"
    found = {paths.LIB_DIR / "__init__.py"}
    pending = [(notebook_source, None), (paths.LIB_DIR / "__init__.py", "lib")]
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

    Data is addressed as paths.DATA_DIR / "<folder>" / ..., so a quoted folder name is how a notebook or
    a module reads it; naming it in a comment or docstring only over-counts, which is safe.
    """
    if not paths.DATA_DIR.is_dir():
        return []
    text = "\n".join(path.read_text() for path in sources)
    folders = [d for d in paths.DATA_DIR.iterdir() if d.is_dir() and d.name != "__pycache__"]
    named = [d for d in folders if re.search(rf"[\"']{re.escape(d.name)}[\"'/]", text)]
    return [p for d in named for p in d.rglob("*") if p.is_file() and "__pycache__" not in p.parts]


def weights_named(params: dict) -> dict[str, str]:
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
    inputs = {f"notebooks/{notebook}.py": file_sha256(paths.NOTEBOOK_DIR / f"{notebook}.py")}
    inputs.update({str(p.relative_to(paths.REPO_ROOT)): file_sha256(p) for p in lib_dependencies(notebook)})
    for name in ["requirements.lock"] + [lock for module, lock in RUNTIME_LOCKS.items() if module in inputs]:
        if (paths.REPO_ROOT / name).exists():
            inputs[name] = file_sha256(paths.REPO_ROOT / name)
    inputs["parameters"] = hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()
    inputs.update({f"weights:{key}": weight for key, weight in weights_named(params).items()})
    for upstream in dependencies(notebook):  # the files it reads as they are now, not as the upstream manifest recorded them
        files = {str(p.relative_to(output_root())): file_sha256(p) for p in output_files(upstream)}
        inputs[f"upstream:{upstream}"] = combined_hash(files) if files else "missing"
    return inputs


def combined_hash(hashes: dict[str, str]) -> str:
    return hashlib.sha256(json.dumps(hashes, sort_keys=True).encode()).hexdigest()
