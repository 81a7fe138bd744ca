"""Timing shared by the runner's manifests and `make bench` (standard library at import; torch on use)."""
from __future__ import annotations

import statistics
import time


def interleaved_times(fns: dict, reps: int, warmup: int = 1) -> tuple[dict[str, float], dict[str, list[float]]]:
    """Median seconds of each function, its repetitions interleaved (A B C, B C A, ...), so that a
    machine whose speed drifts during the run slows every side of a ratio alike."""
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    names, times = list(fns), {name: [] for name in fns}
    for rep in range(reps):
        for name in names[rep % len(names) :] + names[: rep % len(names)]:  # rotate who goes first
            start = time.perf_counter()
            fns[name]()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}, times


def matmul(size: int = 2048):
    """A large fp32 matrix product to time, and its FLOPs: the machine's speed at the work notebooks do."""
    import torch

    a, b = torch.randn(size, size), torch.randn(size, size)
    return (lambda: a @ b), 2 * size**3


def matmul_gflops(size: int = 2048, reps: int = 5) -> float:
    """The machine's fp32 matrix-product speed now (median of `reps`): what makes wall times from two
    machines comparable, since the notebooks' work is mostly matrix products."""
    fn, flops = matmul(size)
    medians, _ = interleaved_times({"matmul": fn}, reps)
    return round(flops / medians["matmul"] / 1e9, 1)


class ColdClock:
    """Seconds since it started as a cold run would spend them: wall time, with each unit loaded from the unit cache
    counted at the seconds it took when it was computed instead of the seconds its load took. A run resumed from the
    cache so reports the cost of the work, not of the resumption (what 04_scaling's per-model seconds compare)."""

    def __init__(self, already_s: float = 0.0):
        from . import unitcache  # torch on use, not at import (the runner imports this module)

        self._tally = unitcache.tally
        self.started, self.at_start = time.time() - already_s, unitcache.tally()

    def seconds(self) -> float:
        now = self._tally()
        swapped = (now["saved_s"] - self.at_start["saved_s"]) - (now["loaded_s"] - self.at_start["loaded_s"])
        return round(time.time() - self.started + swapped, 1)
