"""lib.unitcache: a unit is computed once per key, a changed input or code recomputes it, a killed run resumes."""
from __future__ import annotations

import pytest
import torch

from lib import engine, unitcache


def test_the_key_covers_tensor_content_not_identity():
    v = torch.arange(4.0)
    assert unitcache.fingerprint("k", [v, "p"]) == unitcache.fingerprint("k", [v.clone(), "p"])
    assert unitcache.fingerprint("k", [v, "p"]) != unitcache.fingerprint("k", [v + 1e-6, "p"])
    assert unitcache.fingerprint("k", [v]) != unitcache.fingerprint("k", [v.double()])  # dtype counts
    assert unitcache.fingerprint("a", [1]) != unitcache.fingerprint("b", [1])
    with pytest.raises(TypeError, match="Cannot key a cache unit on a object"):
        unitcache.fingerprint("k", [object()])


def test_a_killed_run_resumes_from_its_finished_units(tmp_path):
    calls = []

    def unit(i, fail_at=None):
        def compute():
            if i == fail_at:
                raise KeyboardInterrupt  # the run is killed while computing unit `fail_at`
            calls.append(i)
            return {"unit": i, "tensor": torch.full((2,), float(i))}
        return compute

    with unitcache.enabled(folder=tmp_path):
        with pytest.raises(KeyboardInterrupt):
            for i in range(4):
                unitcache.cached("demo", [i], unit(i, fail_at=2))
        assert calls == [0, 1] and not list(tmp_path.rglob(".*"))  # no half-written unit left behind
        before = unitcache.tally()
        values = [unitcache.cached("demo", [i], unit(i)) for i in range(4)]
    assert calls == [0, 1, 2, 3]  # the rerun computed only the units the killed run had not finished
    assert [v["unit"] for v in values] == [0, 1, 2, 3] and torch.equal(values[1]["tensor"], torch.ones(2))
    after = unitcache.tally()
    assert after["loaded_units"] - before["loaded_units"] == 2 and after["computed_units"] - before["computed_units"] == 2


def test_a_cold_clock_counts_a_loaded_unit_at_the_seconds_it_took_to_compute(tmp_path):
    """What 04's and 07's per-model seconds report: a run resumed from the cache costs what a cold run costs."""
    import time

    from lib import timing

    def slow():
        time.sleep(0.3)
        return 1

    with unitcache.enabled(folder=tmp_path):
        computing = timing.ColdClock()
        unitcache.cached("clock", [0], slow)
        cold = computing.seconds()
        resuming = timing.ColdClock(already_s=2.0)  # e.g. a model load before the clock started
        started = time.time()
        unitcache.cached("clock", [0], slow)  # loaded, not slept
        loaded_wall = time.time() - started
    assert cold >= 0.3 and loaded_wall < 0.3
    assert resuming.seconds() >= 2.0 + 0.3 and abs(resuming.seconds() - cold - 2.0) < 0.2


def test_the_cache_is_off_outside_notebooks_and_when_switched_off(tmp_path, monkeypatch):
    counter = iter(range(10))
    assert unitcache.cached("demo", [0], lambda: next(counter)) == 0
    assert unitcache.cached("demo", [0], lambda: next(counter)) == 1  # off by default: computed every time
    monkeypatch.setenv(unitcache.SWITCH, "off")
    with unitcache.enabled(folder=tmp_path):  # a cold run: off even where a notebook switched it on
        assert unitcache.cached("demo", [0], lambda: next(counter)) == 2
        assert unitcache.cached("demo", [0], lambda: next(counter)) == 3
    assert not list(tmp_path.iterdir())


def test_generation_batches_are_cached_by_model_prompts_edits_and_settings(smol, tmp_path):
    prompts = ["The capital of France is", "Two plus two equals"]
    vector = torch.randn(smol.d_model if hasattr(smol, "d_model") else smol.hf.config.hidden_size, generator=torch.Generator().manual_seed(0))
    steer = engine.add(vector, [3])
    with unitcache.enabled(folder=tmp_path):
        start = unitcache.tally()
        cold = engine.generate(smol, prompts, 6, steer, batch_size=1, progress=False)
        warm = engine.generate(smol, prompts, 6, steer, batch_size=1, progress=False)
        mid = unitcache.tally()
        other = engine.generate(smol, prompts, 6, engine.add(2 * vector, [3]), batch_size=1, progress=False)
        longer = engine.generate(smol, prompts, 7, steer, batch_size=1, progress=False)
        end = unitcache.tally()
    uncached = engine.generate(smol, prompts, 6, steer, batch_size=1, progress=False)
    assert warm.token_ids == cold.token_ids == uncached.token_ids and torch.equal(warm.first_logprobs, uncached.first_logprobs)
    assert mid["computed_units"] - start["computed_units"] == 2 and mid["loaded_units"] - start["loaded_units"] == 2
    assert end["computed_units"] - mid["computed_units"] == 4  # another vector, another length: computed again
    assert other.token_ids != cold.token_ids or not torch.equal(other.first_logprobs, cold.first_logprobs)
    assert len(longer.token_ids[0]) >= len(cold.token_ids[0])


def test_next_token_sweep_batches_are_cached_and_a_resumed_sweep_equals_a_fresh_one(smol, tmp_path):
    prompts = ["The capital of France is", "Two plus two equals", "The opposite of hot is"]
    vector = torch.randn(smol.d_model, generator=torch.Generator().manual_seed(1))
    conditions = [engine.NO_EDIT, engine.add(4 * vector, 3, at="last")]
    targets = [smol.tokenizer(" Paris").input_ids[0]] * 3
    fresh = engine.next_token_sweep(smol, prompts, conditions, targets=targets, batch_size=2, progress=False)
    with unitcache.enabled(folder=tmp_path):
        start = unitcache.tally()
        cold = engine.next_token_sweep(smol, prompts, conditions, targets=targets, batch_size=2, progress=False)
        # A killed sweep: one of its two batches is gone; the rerun computes only that one.
        next(iter(sorted((tmp_path / "next_token_sweep").glob("*.pt")))).unlink()
        resumed = engine.next_token_sweep(smol, prompts, conditions, targets=targets, batch_size=2, progress=False)
        end = unitcache.tally()
        other = engine.next_token_sweep(smol, prompts, [engine.NO_EDIT, engine.add(-4 * vector, 3, at="last")], targets=targets,
                                        batch_size=2, progress=False)
    assert torch.equal(cold.top_ids, fresh.top_ids) and torch.equal(resumed.top_ids, fresh.top_ids)
    assert torch.equal(resumed.target_logprob, fresh.target_logprob)
    assert end["computed_units"] - start["computed_units"] == 3 and end["loaded_units"] - start["loaded_units"] == 1
    assert not torch.equal(other.target_logprob[1], fresh.target_logprob[1])  # another edit is not served from the cache
