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

It also records every notebook's default-profile wall time from its manifest, the slowest (target 100 min
cold on the 2-core CPU) and their total, and the wall time of a no-op `make paper` (target 30 s); after notebooks rerun,
`python -m lib.workbook.bench --refresh-notebooks` updates those two without timing the ratios again.
Writes results/bench/bench.json and paper/generated/bench_table.tex.

`measures` times each ratio, `report` judges them against their targets and writes the report; `__main__` is the
command `make bench` runs.
"""
