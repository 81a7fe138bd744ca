"""The intervention engine: one recipe type for edits of the forward pass, one generation entry point,
one scoring entry point; raw hooks and nnsight apply the same edit function.

    recipe.py      Edit / Intervention and their constructors (add, ablate, ablate_at, replace)
    sites.py       where each site is in llama, qwen2 and gemma3 blocks; per-row plans; `apply`
    backends.py    forward hooks and nnsight traces, both calling `sites.apply`
    generation.py  greedy generation: shared chat prefix, finished rows leave the batch
    scoring.py     forward_last, the cached next-token sweep, continuation cross-entropy

A row of a batch carries its own Intervention, so a sweep over many conditions runs as a few large batches::

    gen = engine.generate(lm, prompts, 64, [engine.NO_EDIT, engine.add(12 * d, range(9, 30))])
    logprobs, states = engine.forward_last(lm, prompts, engine.ablate(d), read_layers=[3, 4])
"""
from .generation import Generation, generate, stop_ids, until_eos
from .recipe import ALL_LAYERS, NO_EDIT, SITES, Edit, Intervention, ablate, ablate_at, add, add_layers, add_rows, replace
from .scoring import SweepResult, continuation_nll, forward_last, next_token_sweep
from .sites import check_vector

__all__ = ["ALL_LAYERS", "NO_EDIT", "SITES", "Edit", "Generation", "Intervention", "SweepResult", "ablate", "ablate_at", "add", "add_layers", "add_rows",
           "check_vector", "continuation_nll", "forward_last", "generate", "next_token_sweep", "replace", "stop_ids", "until_eos"]
