"""`make bench`: `python -m lib.workbook.bench [--reps N] [--models ...] [--refresh-notebooks]`."""
from __future__ import annotations

import argparse
import json
import os
import platform

import torch

from ... import prompts
from ...models import load_model
from ...paths import REPO_ROOT
from . import __doc__ as BENCH_DOC
from .measures import bench_capture, bench_decode, bench_generation, bench_load, bench_peak_memory, bench_prefill, bench_row_retirement
from .report import refresh_notebooks, save_report


MODELS = ("smollm2-135m", "qwen2.5-0.5b")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lib.workbook.bench", description=BENCH_DOC.split("\n\n")[0])
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
