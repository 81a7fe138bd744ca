"""Finished units of work, cached so that a long run killed at any point resumes without recomputing them.

A unit (one generation batch, one batch of scored candidates) is stored under `.cache/units/<kind>/` in a file named
by the hash of everything that determines it: the model's weights (the zoo's file hash, or the hub id and revision),
its precision and device, the inputs (prompts, the edits' tensors by content, decode settings) and the source of the
code that computes it. Change any of them and the unit is computed again; nothing is ever invalidated by hand.

Notebooks switch the cache on (`notebook.start`); library calls outside a notebook, and so the tests of the engine,
compute every unit unless `enabled()` is set (or `WORKBOOK_UNIT_CACHE=on`). `WORKBOOK_UNIT_CACHE=off` switches it off everywhere: a cold run is
one with it off or with an empty `.cache/units`. Each process tallies what it loaded and what it computed, with
the seconds each took to compute, and the runner records the tally in the notebook's manifest.

>>> import tempfile
>>> loaded = tally()["loaded_units"]
>>> with enabled(folder=tempfile.mkdtemp()):
...     first = cached("demo", ("a", 1), lambda: [1, 2, 3])
...     again = cached("demo", ("a", 1), lambda: 1 / 0)  # loaded: the function is not called
>>> first == again == [1, 2, 3], tally()["loaded_units"] - loaded
(True, 1)
"""
from __future__ import annotations

import hashlib
import inspect
import json
import os
import time
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

import torch

from .artifacts import atomic_path
from .paths import cache_dir

T = TypeVar("T")
SWITCH = "WORKBOOK_UNIT_CACHE"  # "on": every process caches; "off": none does (a cold run); unset: notebooks do
FOLDER = "WORKBOOK_UNIT_CACHE_DIR"  # where units live (default: .cache/units beside the model cache)
_state = {"enabled": False, "folder": None}
_tally = {"loaded_units": 0, "computed_units": 0, "loaded_s": 0.0, "saved_s": 0.0, "computed_s": 0.0}


def units_dir() -> Path:
    if _state["folder"] is not None:
        return Path(_state["folder"])
    return Path(os.environ[FOLDER]).resolve() if os.environ.get(FOLDER) else cache_dir() / "units"


def is_enabled() -> bool:
    switch = os.environ.get(SWITCH, "").lower()
    return switch != "off" and (switch == "on" or _state["enabled"])


def enable(on: bool = True) -> None:
    _state["enabled"] = on


@contextmanager
def enabled(folder: str | Path | None = None):
    """The cache on inside the block (in `folder` instead of the default, when given)."""
    previous = dict(_state)
    _state.update(enabled=True, folder=folder if folder is not None else previous["folder"])
    try:
        yield
    finally:
        _state.update(previous)


def tally() -> dict:
    """Units loaded and computed in this process, with their compute seconds (for a loaded unit: the seconds it took
    when it was computed, i.e. what the cache saved) and the seconds spent loading."""
    return dict(_tally)


def _canonical(part) -> object:
    """A JSON-able stand-in for one key part; tensors by dtype, shape and content."""
    if isinstance(part, torch.Tensor):
        t = part.detach().cpu().contiguous()
        return {"tensor": str(t.dtype), "shape": list(t.shape), "sha1": hashlib.sha1(t.view(torch.uint8).numpy().tobytes()
                                                                                   if t.numel() else b"").hexdigest()}
    if isinstance(part, dict):
        return {str(k): _canonical(v) for k, v in sorted(part.items(), key=lambda kv: str(kv[0]))}
    if isinstance(part, (list, tuple)):
        return [_canonical(p) for p in part]
    if isinstance(part, (str, int, float, bool)) or part is None:
        return part
    raise TypeError(f"Cannot key a cache unit on a {type(part).__name__}: pass its content (str, number, tensor, list).")


def fingerprint(kind: str, key) -> str:
    return hashlib.sha256(json.dumps([kind, _canonical(key)], sort_keys=True).encode()).hexdigest()


def code_version(*code) -> dict:
    """What a unit depends on besides its inputs: the hash of the source files of `code` (modules or functions) and
    the versions of the libraries that run it. Editing that code, or upgrading them, recomputes the unit."""
    import transformers

    digest = hashlib.sha256()
    for name in sorted({inspect.getsourcefile(c) for c in code}):
        digest.update(Path(name).read_bytes())
    return {"source": digest.hexdigest()[:16], "torch": torch.__version__, "transformers": transformers.__version__}


def model_identity(lm) -> dict:
    """What fixes a loaded model's weights: the zoo's file hash (or the hub id and revision), precision and device."""
    return {"key": lm.spec.key, "weights": lm.spec.weight_id, "precision": lm.precision,
            "device": str(next(lm.hf.parameters()).device)}


def cached(kind: str, key, compute: Callable[[], T]) -> T:
    """`compute()`, or the value a previous call with the same `kind` and `key` stored (when the cache is enabled)."""
    if not is_enabled():
        return _timed(compute)[0]
    path = units_dir() / kind / f"{fingerprint(kind, key)}.pt"
    if path.exists():
        started = time.perf_counter()
        stored = torch.load(path, weights_only=False)
        _tally["loaded_units"] += 1
        _tally["loaded_s"] += time.perf_counter() - started
        _tally["saved_s"] += stored["seconds"]
        return stored["value"]
    value, seconds = _timed(compute)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:  # a kill mid-write leaves no unit that looks finished
        torch.save({"value": value, "seconds": seconds}, tmp)
    return value


def _timed(compute: Callable[[], T]) -> tuple[T, float]:
    started = time.perf_counter()
    value = compute()
    seconds = time.perf_counter() - started
    _tally["computed_units"] += 1
    _tally["computed_s"] += seconds
    return value, seconds
