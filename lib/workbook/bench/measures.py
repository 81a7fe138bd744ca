"""The benchmark's measures: each times two code paths side by side in one process (their repetitions interleaved)."""
from __future__ import annotations

import statistics
import subprocess
import sys

import torch

from ... import activations as act
from ... import engine, handoffs, prompts
from ...errors import WorkbookError
from ...models import dequantized_dir, gguf_file, load_model
from ...paths import REPO_ROOT
from ...registry import resolve
from ...timing import interleaved_times, matmul
from .report import PROFILED_OPS, judged_interval, paired_ratio, ratio


PEER_PACKAGES = REPO_ROOT / ".cache" / "bench-packages"  # steering-vectors, installed --no-deps by `make bench`


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
    """04's test mix on this model: harmless and harmful prompts unsteered, harmless prompts with 04's dev-swept
    DIM addition (induced refusals) and harmful prompts with that direction ablated; None before 01 and 04 have run.
    (The dev-swept setting exists for every model; Arditi's pick does not for a model that never refuses.)"""
    try:
        saved, _ = handoffs.load_refusal_candidates(lm.key)
        chosen = handoffs.load_chosen_settings()
    except WorkbookError:
        return None
    if not ((chosen["model"] == lm.key) & (chosen["method"] == "dim_sweep")).any():
        return None
    add = chosen[chosen["model"] == lm.key].set_index("method").loc["dim_sweep"]
    r = saved["candidates"][int(add["layer"]), int(add["position"])]  # the seed's unfiltered candidates
    split = handoffs.load_splits()
    harmless, harmful = (split[side]["test"][:n_per_condition] for side in ("harmless", "harmful"))
    items = harmless + harmful + harmless + harmful
    rows = ([engine.NO_EDIT] * (2 * n_per_condition) + [engine.add(float(add["alpha"]) * r / r.norm(), int(add["layer"]))] * n_per_condition
            + [engine.ablate(r)] * n_per_condition)
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
        from ...engine.backends import EditSession, hooked
        from ...engine.sites import PassLayout, compile_rows

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
