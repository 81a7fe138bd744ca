"""The benchmark's FLOP count (the work per token excludes the embedding and the output head, tied or not), its interleaved
timing, the paired ratio and profile of the steering-vectors comparison, and the refresh of the notebooks' wall times."""
from __future__ import annotations

import json

import pytest
import torch

from lib.workbook.bench.measures import matmul_split, non_embedding_params, profile_ops
from lib.workbook.bench.report import judged_interval, paired_ratio, refresh_notebooks
from lib.workbook.outputs import cold_seconds
from lib.errors import WorkbookError
from lib.paths import generated_dir, results_dir
from lib.timing import interleaved_times


def test_non_embedding_params_count_the_decoder_only(smol):
    decoder = sum(p.numel() for p in smol.hf.model.layers.parameters()) + sum(p.numel() for p in smol.hf.model.norm.parameters())
    assert non_embedding_params(smol.hf) == decoder
    # SmolLM2 ties its head to the embedding; the count must not subtract the shared matrix twice
    assert smol.hf.get_output_embeddings().weight is smol.hf.get_input_embeddings().weight


def test_interleaved_times_alternates_the_compared_functions():
    calls = []
    fns = {name: (lambda name=name: calls.append(name)) for name in "abc"}
    medians, times = interleaved_times(fns, reps=3, warmup=1)
    assert calls[:3] == ["a", "b", "c"]  # the warm-up
    assert calls[3:] == ["a", "b", "c", "b", "c", "a", "c", "a", "b"]  # each round starts one later
    assert set(medians) == set("abc") and all(len(t) == 3 for t in times.values())


def test_refresh_notebooks_rereads_the_manifests_and_keeps_the_ratios(tmp_path, monkeypatch):
    monkeypatch.setenv("WORKBOOK_OUTPUT_DIR", str(tmp_path))
    with pytest.raises(WorkbookError, match="make bench"):
        refresh_notebooks()
    ratios = [{"name": "capture_overhead", "model": "smollm2-135m", "value": 1.01, "target": "<= 1.15", "met": True}]
    path = results_dir("bench") / "bench.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"ratios": ratios, "notebooks": {"total_min": 99.0}, "noop_make_paper": {"seconds": 9.0}}))
    assert refresh_notebooks() == 0
    report = json.loads(path.read_text())
    assert report["ratios"] == ratios
    # no manifests in this output folder: no wall times, and no no-op rebuild to time
    assert report["notebooks"]["per_notebook_s"] == {} and report["notebooks"]["total_min"] == 0
    assert report["noop_make_paper"]["seconds"] is None
    assert "capture overhead" in (generated_dir() / "bench_table.tex").read_text()


def test_a_run_resumed_from_the_unit_cache_reports_its_cold_time():
    cold = {"wall_time_s": 3600.0, "unit_cache": {"loaded_s": 0.0, "saved_s": 0.0, "loaded_units": 0}}
    warm = {"wall_time_s": 900.0, "unit_cache": {"loaded_s": 10.0, "saved_s": 3000.0, "loaded_units": 87}}
    assert cold_seconds(cold) == 3600.0
    assert cold_seconds(warm) == 900.0 - 10.0 + 3000.0  # the loads replaced by what the units cost when computed
    assert cold_seconds({"wall_time_s": 5.0}) == 5.0  # a manifest older than the unit cache


def test_paired_ratio_is_the_median_of_per_round_ratios_with_an_interval_around_it():
    # the machine runs at half speed in rounds 2 and 4, and one round's denominator is disturbed
    paired = paired_ratio([9.0, 18.0, 9.0, 18.0, 9.5], [10.0, 20.0, 10.0, 20.0, 7.0])
    assert paired["median_paired_ratio"] == pytest.approx(0.9) and paired["n_pairs"] == 5  # the ratio of medians is 0.95
    assert paired["ci_low"] <= 0.9 <= paired["ci_high"] <= 9.5 / 7.0
    constant = paired_ratio([2.0] * 4, [4.0] * 4)
    assert constant["ci_low"] == constant["ci_high"] == constant["median_paired_ratio"] == 0.5


def test_profile_ops_attributes_time_to_the_kinds_of_operation():
    a = torch.randn(256, 256)
    by = profile_ops({"product": lambda: [a @ a for _ in range(20)]}, runs=1)["product"]
    assert by["matrix products"] > 0.5 * by["total"] and by["attention"] == 0  # a run of products is mostly products


def test_an_interval_reaching_past_the_target_does_not_meet_it():
    inside = {"median_paired_ratio": 0.96, "ci_low": 0.94, "ci_high": 0.99}
    reaching = {"median_paired_ratio": 0.958, "ci_low": 0.945, "ci_high": 1.005}  # SmolLM2's interval of the last stop
    assert judged_interval("vs_steering_vectors", inside)["met"]
    assert not judged_interval("vs_steering_vectors", reaching)["met"]
    assert judged_interval("vs_steering_vectors", reaching)["value"] == 0.958


def test_matmul_split_tells_the_head_from_the_blocks_and_counts_their_flops():
    x, block, head = torch.randn(8, 64), torch.randn(64, 64), torch.randn(1000, 64)  # a 1000-token "vocabulary"
    split = matmul_split(lambda: [torch.nn.functional.linear(x @ block, head) for _ in range(5)], vocab=1000)
    assert split["head matmul"] > 0 and split["block matmuls"] > 0 and split["attention"] == 0
    # 5 head products of 2 x 8 x 64 x 1000 FLOPs over their measured seconds
    assert split["head matmul GFLOP/s"] == pytest.approx(5 * 2 * 8 * 64 * 1000 / split["head matmul"] / 1e9)
