"""Profiles (TOML, read by the standard library's tomllib) and the notebooks they parameterize.

A profile is notebooks/profiles/<name>.toml: one table per notebook, and a table "all" that applies to every one.
"""
from __future__ import annotations

from .. import paths
from ..errors import WorkbookError


def load_profile(profile: str) -> dict[str, dict]:
    """{notebook: {parameter: value}} from notebooks/profiles/<profile>.toml (a table "all" applies to every notebook)."""
    import tomllib

    path = paths.PROFILE_DIR / f"{profile}.toml"
    if not path.exists():
        known = ", ".join(sorted(p.stem for p in paths.PROFILE_DIR.glob("*.toml")))
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


def notebook_defaults(notebook: str) -> dict:
    """The literal values of a notebook's parameters cell (`# %% tags=["parameters"]` in its py:percent source): what
    a run uses for every parameter its profile does not set. Values that are not literals are left out."""
    import ast

    lines = (paths.NOTEBOOK_DIR / f"{notebook}.py").read_text().splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith("# %%") and "parameters" in line), None)
    if start is None:
        return {}
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("# %%")), len(lines))
    values = {}
    for node in ast.parse("\n".join(lines[start + 1:end])).body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            try:
                values[node.targets[0].id] = ast.literal_eval(node.value)
            except ValueError:
                continue
    return values


def discover_notebooks() -> list[str]:
    return sorted(p.stem for p in paths.NOTEBOOK_DIR.glob("[0-9][0-9]_*.py"))


def dependencies(notebook: str) -> list[str]:
    """Upstream notebooks named on a `# depends_on: a, b` line of the source header."""
    for line in (paths.NOTEBOOK_DIR / f"{notebook}.py").read_text().splitlines()[:40]:
        if line.startswith("# depends_on:"):
            return [name.strip() for name in line.split(":", 1)[1].split(",") if name.strip()]
    return []
