"""A notebook's outputs and its manifest (what it ran on, what it wrote, with their hashes).

A run deletes the old manifest first and writes the new one last, so an interrupted run shows as missing.
"""
from __future__ import annotations

import json
from pathlib import Path

from ..paths import output_root


MANIFEST = "manifest.json"


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


def cold_seconds(manifest: dict) -> float:
    """A run's cold wall time: its wall time, with the units it loaded from the cache counted at what they cost
    when computed (a cold run loads none, so this is its wall time)."""
    cache = manifest.get("unit_cache") or {}
    return manifest["wall_time_s"] - cache.get("loaded_s", 0.0) + cache.get("saved_s", 0.0)
