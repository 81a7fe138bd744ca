"""`make bench`: the workbook's speed as ratios measured side by side in one run.

Each ratio divides two timings taken in the same process (median of `--reps` runs after a warm-up,
the repetitions of the compared functions interleaved so that drift in the machine's speed hits both),
through the code paths the notebooks use (`lib.models`, `lib.activations`, `lib.engine`),
on SmolLM2-135M and Qwen2.5-0.5B:

1. load_cached_vs_gguf         cached load / first load (de-quantizing the GGUF file)   <= 0.1, cached < 2 s
2. capture_overhead            capture every layer's last token / plain forward, batch 32  <= 1.15
3. steered_generate_overhead   steered greedy generation / unsteered, batch 16 x 64 tokens <= 1.15
4. vs_steering_vectors         ours / the steering-vectors library, identical tokens        <= 1.0
                               (median of per-round ratios, bootstrap 95% interval, profiled op by op)
5. batch_speedup               tokens/s at batch 16 / tokens/s at batch 1                   >= 4
6. prefill_utilization         batched forward GFLOP/s / large fp32 matmul GFLOP/s          >= 0.5
7. row_retirement_speedup      plain `generate` / ours on 04's test mix (refusals and long   >= 1.3
                               answers), batch 64 x 64 tokens, identical tokens
8. decode_efficiency           decode tokens/s x matmul FLOPs per token / fp32 matmul       >= 0.5
                               GFLOP/s, batch 64
9. peak_rss_gb                 peak resident memory loading and steering Qwen2.5-1.5B fp32   <= 10

It also records every notebook's default-profile wall time from its manifest and their total
(target 45 min cold), and the wall time of a no-op `make paper` (target 30 s); after notebooks rerun,
`--refresh-notebooks` updates those two without timing the ratios again.
Writes results/bench/bench.json and paper/generated/bench_table.tex.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

from . import activations as act
from . import artifacts, engine, handoffs, prompts
from .errors import WorkbookError
from .models import dequantized_dir, gguf_file, load_model
from .paths import REPO_ROOT, generated_dir, results_dir
from .registry import resolve
from .timing import interleaved_times, matmul

MODELS = ("smollm2-135m", "qwen2.5-0.5b")
TARGETS = {  # (comparison, target): met when value <op> target
    "load_cached_vs_gguf": ("<=", 0.1), "capture_overhead": ("<=", 1.15), "steered_generate_overhead": ("<=", 1.15),
    "vs_steering_vectors": ("<=", 1.0), "batch_speedup": (">=", 4.0), "prefill_utilization": (">=", 0.5),
    "row_retirement_speedup": (">=", 1.3), "decode_efficiency": (">=", 0.5),
    "peak_rss_gb": ("<=", 10.0), "notebooks_total_min": ("<=", 45.0), "noop_make_paper_s": ("<=", 30.0),
}
PEER_PACKAGES = REPO_ROOT / ".cache" / "bench-packages"  # steering-vectors, installed --no-deps by `make bench`


def judged(name: str, value: float) -> dict:
    """A measure's value beside its target and whether it meets it."""
    op, target = TARGETS[name]
    met = value <= target if op == "<=" else value >= target
    return {"value": value, "target": f"{op} {target}", "met": bool(met)}


def judged_interval(name: str, paired: dict) -> dict:
    """`judged` on a paired median, met only when its whole 95% interval meets the target: a median of 0.96 whose
    interval reaches 1.005 does not show that ours is faster."""
    verdict = judged(name, paired["median_paired_ratio"])
    op, target = TARGETS[name]
    bound = paired["ci_high"] if op == "<=" else paired["ci_low"]
    verdict["met"] = verdict["met"] and bool(bound <= target if op == "<=" else bound >= target)
    return verdict


def ratio(name: str, model: str, numerator: float, denominator: float, **extra) -> dict:
    return {"name": name, "model": model, **judged(name, numerator / denominator), "numerator": numerator,
            "denominator": denominator, **extra}


def bench_load(key: str, reps: int) -> dict:
    from transformers import AutoModelForCausalLM

    spec = resolve(key)
    load_model(key)  # makes sure the cache exists
    gguf = gguf_file(spec)
    t, _ = interleaved_times({"first": lambda: AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32),
                              "cached": lambda: load_model(key)}, reps, warmup=0)
    first, cached = t["first"], t["cached"]
    return ratio("load_cached_vs_gguf", key, cached, first, cached_s=cached, gguf_s=first, cache=str(dequantized_dir(spec)))


def bench_capture(lm, items: list[str], reps: int) -> dict:
    inputs = act.encode(lm, items)
    layers = list(range(lm.n_layers))

    def plain():  # the same work as the capture path: no KV cache, logits at the last position only
        with torch.no_grad():
            lm.hf(**inputs, use_cache=False, logits_to_keep=1)

    t, _ = interleaved_times({"plain": plain, "captured": lambda: act.capture(lm, items, layers, act.last_tokens(1), batch_size=len(items),
                                                                              progress=False)}, reps)
    return ratio("capture_overhead", lm.key, t["captured"], t["plain"], batch=len(items), tokens=int(inputs["attention_mask"].sum()))


def _plain_generate(lm, inputs, tokens: int):
    with torch.no_grad():
        return lm.hf.generate(**inputs, max_new_tokens=tokens, min_new_tokens=tokens, do_sample=False, pad_token_id=lm.tokenizer.pad_token_id)


def bench_generation(lm, items: list[str], layer: int, vector: torch.Tensor, tokens: int, reps: int, peer_reps: int) -> list[dict]:
    inputs = act.encode(lm, items)
    steer = engine.add(vector, layer)
    ours = lambda share=True: engine.generate(lm, items, tokens, steer, stop_at_eos=False, batch_size=len(items), progress=False, share_prefix=share)
    one = items[:1]
    fns = {"unsteered": lambda: _plain_generate(lm, inputs, tokens),
           # the hooks' overhead on the same work: plain `generate` recomputes the shared chat prefix per row too
           "steered_full": lambda: ours(share=False),
           "steered": ours,  # the notebooks' path: the shared prefix runs once
           "single": lambda: engine.generate(lm, one, tokens, steer, stop_at_eos=False, batch_size=1, progress=False)}
    peer = _steering_vectors_generate(lm, inputs, layer, vector, tokens)
    if peer is not None:
        fns["theirs"] = peer[0]
    t, times = interleaved_times(fns, reps)
    rows = [ratio("steered_generate_overhead", lm.key, t["steered_full"], t["unsteered"], batch=len(items), new_tokens=tokens)]
    if peer is not None:
        rows.append(_vs_peer(lm, inputs, ours, peer, times, peer_reps))
    # Batching alone: the batch does the same per-row work as batch 1 (no shared prefix).
    rows.append(ratio("batch_speedup", lm.key, (len(items) * tokens) / t["steered_full"], tokens / t["single"],
                      tokens_per_s_batch=(len(items) * tokens) / t["steered_full"], tokens_per_s_single=tokens / t["single"],
                      tokens_per_s_batch_shared_prefix=(len(items) * tokens) / t["steered"]))
    return rows


def _vs_peer(lm, inputs, ours, peer, times: dict, peer_reps: int) -> dict:
    """Ours over steering-vectors as the median of per-round ratios: the two differ by a few percent while
    one 25-second generation varies by up to 10 % from round to round, so each round's pair (timed
    minutes apart at most) is compared with itself, over `peer_reps` more rounds than the other ratios get."""
    theirs, their_ids = peer
    _, extra = interleaved_times({"steered": ours, "theirs": theirs}, peer_reps, warmup=0)
    mine, peers = times["steered"] + extra["steered"], times["theirs"] + extra["theirs"]
    paired = paired_ratio(mine, peers)
    ours_ids = ours().token_ids
    identical = [list(map(int, row[inputs["input_ids"].shape[1]:])) == ids for row, ids in zip(their_ids, ours_ids)]
    # judged on the paired median, not on the ratio of the two medians (kept as numerator / denominator)
    return {"name": "vs_steering_vectors", "model": lm.key, **judged_interval("vs_steering_vectors", paired),
            "numerator": statistics.median(mine), "denominator": statistics.median(peers), "identical_outputs": all(identical),
            "n_identical": sum(identical), "n": len(identical), "ours_s": mine, "theirs_s": peers, **paired,
            "ours_without_shared_prefix_s": statistics.median(times["steered_full"]),
            "unsteered_generate_s": statistics.median(times["unsteered"]), "profile": profile_ops({"ours": ours, "theirs": theirs})}


def paired_ratio(numerators: list[float], denominators: list[float]) -> dict:
    """Median of the per-round ratios and its percentile-bootstrap 95% interval (scipy)."""
    from scipy.stats import bootstrap

    ratios = np.asarray(numerators) / np.asarray(denominators)
    interval = bootstrap((ratios,), np.median, confidence_level=0.95, method="percentile", n_resamples=9999,
                         rng=np.random.default_rng(0)).confidence_interval
    return {"median_paired_ratio": float(np.median(ratios)), "ci_low": float(interval.low), "ci_high": float(interval.high),
            "n_pairs": len(ratios), "paired_ratios": ratios.round(4).tolist()}


PROFILED_OPS = {"matrix products": ("aten::mm", "aten::addmm", "aten::bmm"),
                "attention": ("aten::_scaled_dot_product_flash_attention_for_cpu",), "selections (aten::where)": ("aten::where",)}
PROFILE_ROWS = (*PROFILED_OPS, "other", "total")  # the table's order; bench.json stores the kinds sorted


def profile_ops(fns: dict, runs: int = 2) -> dict:
    """Self CPU seconds per kind of operation in a run of each function (torch.profiler): where the time goes.
    Runs alternate between the functions; each keeps its least disturbed run (smallest total), since the
    allocator's copies and concatenations vary by a second or more from one run to the next."""
    from torch.profiler import ProfilerActivity, profile

    best = {}
    for _ in range(runs):
        for name, fn in fns.items():
            with profile(activities=[ProfilerActivity.CPU]) as prof:
                fn()
            seconds = {event.key: event.self_cpu_time_total / 1e6 for event in prof.key_averages()}
            kinds = {kind: sum(seconds.get(op, 0.0) for op in ops) for kind, ops in PROFILED_OPS.items()}
            total = sum(seconds.values())
            if name not in best or total < best[name]["total"]:
                best[name] = {**kinds, "other": total - sum(kinds.values()), "total": total}
    return best


def _steering_vectors_generate(lm, inputs, layer: int, vector: torch.Tensor, tokens: int):
    """(timed call, generated ids) through steering-vectors 0.12, or None when it is not installed."""
    if str(PEER_PACKAGES) not in sys.path and PEER_PACKAGES.is_dir():
        sys.path.append(str(PEER_PACKAGES))
    try:
        from steering_vectors import SteeringVector
    except ImportError:
        return None
    sv = SteeringVector({layer: vector.to(lm.hf.dtype)}, layer_type="decoder_block")

    def run():
        with sv.apply(lm.hf):
            return _plain_generate(lm, inputs, tokens)

    ids = run().tolist()
    return run, ids


def bench_prefill(lm, items: list[str], reps: int, size: int = 2048) -> dict:
    product, flops = matmul(size)
    inputs = act.encode(lm, items)
    tokens = int(inputs["attention_mask"].sum())
    params = non_embedding_params(lm.hf)

    def forward():  # logits at the last position only, so the output head adds 2 x head x batch FLOPs
        with torch.no_grad():
            lm.hf(**inputs, use_cache=False, logits_to_keep=1)

    t, _ = interleaved_times({"matmul": product, "forward": forward}, reps)
    peak = flops / t["matmul"] / 1e9
    head = lm.hf.get_output_embeddings().weight.numel()
    achieved = (2 * params * tokens + 2 * head * len(items)) / t["forward"] / 1e9
    return ratio("prefill_utilization", lm.key, achieved, peak, achieved_gflops=achieved, matmul_gflops=peak, tokens=tokens,
                 non_embedding_params=params)


def refusal_workload(lm, n_per_condition: int = 16) -> tuple[list[str], list] | None:
    """04's test mix on this model: harmless and harmful prompts unsteered, harmless prompts with 04's chosen
    DIM addition (induced refusals) and harmful prompts with DIM ablated; None before 01 and 04 have run."""
    try:
        saved, _ = handoffs.load_refusal_candidates(lm.key)
        chosen = handoffs.load_chosen_settings()
    except WorkbookError:
        return None
    if not (chosen["model"] == lm.key).any():
        return None
    picks = chosen[chosen["model"] == lm.key].set_index("method")
    candidates = saved["candidates"]  # [layers, positions, d]
    add = picks.loc["dim_sweep"]
    r = candidates[int(add["layer"]), int(add["position"])]
    ablated = candidates[int(picks.loc["dim", "layer"]), int(picks.loc["dim", "position"])]
    split = handoffs.load_splits()
    harmless, harmful = (split[side]["test"][:n_per_condition] for side in ("harmless", "harmful"))
    items = harmless + harmful + harmless + harmful
    rows = ([engine.NO_EDIT] * (2 * n_per_condition) + [engine.add(float(add["alpha"]) * r / r.norm(), int(add["layer"]))] * n_per_condition
            + [engine.ablate(ablated)] * n_per_condition)
    return [prompts.format_instruction(lm, x) for x in items], rows


def bench_row_retirement(lm, tokens: int, reps: int) -> dict | None:
    """Ours (finished rows leave the batch, shared prefix) against `generate` computing every row to the end, on
    the same batch with the same edits (the engine's hooks around `generate`); both must give the same tokens."""
    workload = refusal_workload(lm)
    if workload is None:
        return None
    items, rows = workload
    order = engine.generation.length_order(lm, items)  # generate's own batch order, so both sides run the same batch
    inputs = act.encode(lm, [items[i] for i in order])
    ordered_rows = [rows[i] for i in order]

    def plain():
        from .engine.backends import EditSession, hooked
        from .engine.sites import PassLayout, compile_rows

        with torch.no_grad(), hooked(lm, EditSession(compile_rows(lm, ordered_rows), PassLayout.decode())):
            return lm.hf.generate(**inputs, max_new_tokens=tokens, do_sample=False, pad_token_id=lm.tokenizer.pad_token_id)

    ours = lambda share=True: engine.generate(lm, items, tokens, rows, batch_size=len(items), progress=False, share_prefix=share)
    t, _ = interleaved_times({"plain": plain, "ours": ours, "ours_full_prompts": lambda: ours(False)}, reps)
    theirs = [engine.until_eos(lm, row[inputs["input_ids"].shape[1]:].tolist()) for row in plain()]
    mine = ours().token_ids
    mine = [mine[i] for i in order]
    ended = sum(len(ids) < tokens for ids in mine)
    return ratio("row_retirement_speedup", lm.key, t["plain"], t["ours"], batch=len(items), new_tokens=tokens,
                 identical_outputs=mine == theirs, n_identical=sum(a == b for a, b in zip(mine, theirs)), n=len(mine),
                 rows_ended_early=ended, mean_new_tokens=sum(map(len, mine)) / len(mine),
                 speedup_without_shared_prefix=t["plain"] / t["ours_full_prompts"])


def bench_decode(lm, items: list[str], tokens: int, reps: int, size: int = 2048) -> dict:
    """Decode speed against the machine's matrix-product speed, measured interleaved: the time of `tokens` decode
    steps is a generation of tokens + 1 new tokens minus one of 1 (the prompt pass), at batch len(items)."""
    product, flops = matmul(size)
    run = lambda n: engine.generate(lm, items, n, stop_at_eos=False, batch_size=len(items), progress=False)
    t, _ = interleaved_times({"matmul": product, "prompt": lambda: run(1), "decode": lambda: run(tokens + 1)}, reps)
    peak = flops / t["matmul"] / 1e9
    head = lm.hf.get_output_embeddings().weight.numel()
    per_token = 2 * (non_embedding_params(lm.hf) + head)  # the matrix products of one token; attention scores excluded
    tokens_per_s = len(items) * tokens / (t["decode"] - t["prompt"])
    achieved = tokens_per_s * per_token / 1e9
    return ratio("decode_efficiency", lm.key, achieved, peak, achieved_gflops=achieved, matmul_gflops=peak, batch=len(items),
                 decode_tokens_per_s=tokens_per_s, flops_per_token=per_token,
                 profile=matmul_split(lambda: run(tokens + 1), lm.hf.get_output_embeddings().weight.shape[0]))


def matmul_split(fn, vocab: int) -> dict:
    """Self CPU seconds of one run of `fn` (torch.profiler, input shapes recorded): the output head's matrix
    products (those with a vocabulary-sized operand), the blocks' matrix products, attention and the rest, and the
    GFLOP/s each kind of matrix product reached."""
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU], record_shapes=True) as prof:
        fn()
    split = {"head matmul": 0.0, "block matmuls": 0.0, "attention": 0.0, "other": 0.0}
    flops = {"head matmul": 0.0, "block matmuls": 0.0}
    for event in prof.key_averages(group_by_input_shape=True):
        seconds = event.self_cpu_time_total / 1e6
        shapes = [shape for shape in event.input_shapes if shape]
        if event.key in PROFILED_OPS["matrix products"] and len(shapes) >= 2:
            kind = "head matmul" if vocab in shapes[-1] or vocab in shapes[-2] else "block matmuls"
            (m, k), n = shapes[-2][-2:], shapes[-1][-1]  # mm(a [m, k], b [k, n]); addmm's bias comes first
            split[kind] += seconds
            flops[kind] += 2 * m * k * n * event.count
        elif event.key in PROFILED_OPS["attention"]:
            split["attention"] += seconds
        else:
            split["other"] += seconds
    split["total"] = sum(split.values())
    split.update({f"{kind} GFLOP/s": flops[kind] / split[kind] / 1e9 if split[kind] else float("nan") for kind in flops})
    return split


def non_embedding_params(model: torch.nn.Module) -> int:
    """Parameters other than the input embedding and the output head (tied or not): the per-token matmul work."""
    skip = {id(model.get_input_embeddings().weight), id(model.get_output_embeddings().weight)}
    return sum(p.numel() for p in model.parameters() if id(p) not in skip)


def bench_peak_memory(key: str = "qwen2.5-1.5b") -> dict | None:
    """Peak RSS of a fresh process that loads `key` in fp32 and runs one steered generation."""
    if not dequantized_dir(resolve(key)).exists():
        return None
    code = (
        "import resource, torch\n"
        "from lib.models import load_model\nfrom lib import engine, prompts\n"
        f"lm = load_model({key!r})\n"
        "items = [prompts.format_instruction(lm, 'Explain how tides work.')] * 4\n"
        "engine.generate(lm, items, 16, engine.add(torch.ones(lm.d_model), lm.n_layers // 2), progress=False)\n"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO_ROOT)
    kilobytes = int(result.stdout.strip().splitlines()[-1])
    return ratio("peak_rss_gb", key, kilobytes / 1024**2, 1.0)


def notebook_wall_times(profile: str = "default") -> dict:
    from .pipeline import discover_notebooks, read_manifest

    times, speeds = {}, {}
    for notebook in discover_notebooks():
        manifest = read_manifest(notebook)
        if manifest and manifest.get("profile") == profile:
            times[notebook] = manifest["wall_time_s"]
            speeds[notebook] = manifest["environment"].get("matmul_gflops")  # absent in manifests older than the field
    return {"per_notebook_s": times, "total_min": sum(times.values()) / 60, "target_total_min": 45,
            "matmul_gflops_at_start": speeds}


def noop_paper(profile: str = "default") -> dict:
    """Wall time of `make paper` when every notebook is current: hashing, the claims ledger and latexmk."""
    from .pipeline import discover_notebooks, notebook_status

    stale = [nb for nb in discover_notebooks() if notebook_status(nb, profile)[0] != "current"]
    if stale:  # a rerun would be timed instead of a no-op
        return {"seconds": None, "skipped": f"not current: {', '.join(stale)}", "target_s": 30}
    start = time.perf_counter()
    subprocess.run(["make", "paper", f"PROFILE={profile}"], cwd=REPO_ROOT, check=True, capture_output=True)
    return {"seconds": time.perf_counter() - start, "target_s": 30}


def save_report(report: dict) -> None:
    """Add the notebooks' wall times (from their manifests) and a timed no-op rebuild to `report`, then
    write results/bench/bench.json and the paper's table."""
    report.update(notebooks=notebook_wall_times(), noop_make_paper=noop_paper())
    artifacts.write_json(results_dir("bench") / "bench.json", report)
    write_table(report)


def refresh_notebooks() -> int:
    """Rewrite bench.json's notebook wall times and no-op rebuild from the current manifests; the ratios,
    which time lib's code paths and not the notebooks, stay as measured."""
    path = results_dir("bench") / "bench.json"
    if not path.exists():
        raise WorkbookError(f"No {path} to refresh: run `make bench` first.")
    report = json.loads(path.read_text())
    save_report(report)
    print(json.dumps({"notebooks_total_min": round(report["notebooks"]["total_min"], 2),
                      "noop_make_paper_s": report["noop_make_paper"]["seconds"]}))
    return 0


def write_table(report: dict) -> Path:
    """The paper's benchmark table: every ratio (with its interval where it has one), the notebooks' total wall
    time and the no-op rebuild; and the profile of steered generation, ours beside steering-vectors."""
    import pandas as pd

    totals = [ratio("notebooks_total_min", "all", report["notebooks"]["total_min"], 1.0)]
    if report["noop_make_paper"]["seconds"] is not None:
        totals.append(ratio("noop_make_paper_s", "all", report["noop_make_paper"]["seconds"], 1.0))
    rows = [{"measure": r["name"].replace("_", " "), "model": r["model"], "value": _value_text(r),
             "target": r["target"], "met": "yes" if r["met"] else "no"} for r in report["ratios"] + totals]
    path = artifacts.write_latex_table(generated_dir() / "bench_table.tex", pd.DataFrame(rows),
                                       caption="Benchmark (make bench): each ratio is a median of repeated runs after a warm-up, "
                                               "both sides measured in one process with their repetitions interleaved; "
                                               "vs steering vectors is the median of per-round ratios with its bootstrap 95\\% "
                                               "interval; notebook times from their manifests.",
                                       label="tab:bench")
    profiles = [(r["model"], r["profile"]) for r in report["ratios"] if r["name"] == "vs_steering_vectors" and "profile" in r]
    if profiles:
        frame = pd.DataFrame([{"model": model, "operation": kind, "ours (s)": by["ours"][kind], "theirs (s)": by["theirs"][kind]}
                              for model, by in profiles for kind in PROFILE_ROWS])
        artifacts.write_latex_table(generated_dir() / "bench_profile.tex", frame, float_format="{:.2f}",
                                    caption="Where steered generation spends its time (torch.profiler, self CPU seconds of the "
                                            "less disturbed of two runs of batch 16 x 64 tokens): the workbook's decoding loop and steering-vectors' hooks around "
                                            "\\texttt{generate}; the matrix products differ by the shared chat prefix, "
                                            "which ours runs once.",
                                    label="tab:bench-profile")
    decode = [(r["model"], r["profile"]) for r in report["ratios"] if r["name"] == "decode_efficiency" and "profile" in r]
    if decode:
        frame = pd.DataFrame([{"model": model, **{kind: by[kind] for kind in DECODE_ROWS}} for model, by in decode])
        artifacts.write_latex_table(generated_dir() / "bench_decode.tex", frame, float_format="{:.3g}",
                                    caption="Where greedy decoding at batch 64 spends its time (torch.profiler, self CPU seconds of "
                                            "one 65-token generation through the workbook's loop), and the GFLOP/s the output head's "
                                            "and the blocks' matrix products reach.",
                                    label="tab:bench-decode")
    return path


DECODE_ROWS = ("head matmul", "block matmuls", "attention", "other", "total", "head matmul GFLOP/s", "block matmuls GFLOP/s")


def _value_text(row: dict) -> str:
    value = f"{row['value']:.3g}"
    return f"{value} [{row['ci_low']:.3g}, {row['ci_high']:.3g}]" if "ci_low" in row else value


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lib.bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--models", nargs="*", default=list(MODELS))
    parser.add_argument("--tokens", type=int, default=64)
    parser.add_argument("--peer-reps", type=int, default=6, help="rounds of the steering-vectors comparison beyond --reps")
    parser.add_argument("--refresh-notebooks", action="store_true",
                        help="after notebooks rerun: re-read their wall times and time a no-op make paper, keeping the ratios")
    args = parser.parse_args(argv)
    os.environ.setdefault("WORKBOOK_OUTPUT_DIR", str(REPO_ROOT))  # bench.json is committed, and read beside the committed results
    if args.refresh_notebooks:
        return refresh_notebooks()
    torch.manual_seed(0)
    rows = []
    for key in args.models:
        rows.append(bench_load(key, args.reps))
        lm = load_model(key)
        items = [prompts.format_instruction(lm, x) for x in prompts.load_prompt_set("harmless")["items"][:32]]
        vector = 4.0 * torch.randn(lm.d_model)
        rows.append(bench_capture(lm, items, args.reps))
        rows += bench_generation(lm, items[:16], lm.n_layers // 2, vector, args.tokens, args.reps, args.peer_reps)
        rows.append(bench_prefill(lm, items, args.reps))
        decode_items = [prompts.format_instruction(lm, x) for x in prompts.load_prompt_set("harmless")["items"][:64]]
        reps = min(args.reps, 3)  # a minute a repetition on Qwen: the spread across rounds is a few percent
        new = [bench_decode(lm, decode_items, args.tokens, reps), bench_row_retirement(lm, args.tokens, reps)]
        rows += [row for row in new if row is not None]
        for row in rows[-7:]:
            print(f"{row['name']:28s} {row['model']:14s} {row['value']:8.3f}  target {row['target']:8s} {'met' if row['met'] else 'MISSED'}", flush=True)
        del lm
    peak = bench_peak_memory()
    if peak:
        rows.append(peak)
    report = {"machine": {"cpu_count": os.cpu_count(), "platform": platform.platform(), "torch": torch.__version__,
                          "threads": torch.get_num_threads()},
              "reps": args.reps, "peer_reps": args.peer_reps, "ratios": rows}
    save_report(report)
    print(json.dumps({r["name"] + ":" + r["model"]: round(r["value"], 3) for r in rows}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
