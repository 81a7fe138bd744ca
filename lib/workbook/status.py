"""Whether a notebook's results are current: its inputs hash as its manifest recorded, and its outputs are untouched."""
from __future__ import annotations

from ..paths import output_root
from ..hashing import file_sha256
from .inputs import combined_hash, input_hashes
from .outputs import cold_seconds, read_manifest


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
    why = f"ran {manifest['finished_at']} in {manifest['wall_time_s']:.0f} s"
    loaded = (manifest.get("unit_cache") or {}).get("loaded_units", 0)
    return "current", why + (f" ({cold_seconds(manifest):.0f} s cold; {loaded} units from the cache)" if loaded else "")
