"""The conditions runner: named conditions -> one batched generation -> one row per answer.

A condition is a name, the instructions it runs on and one `engine.Intervention` for all of them. Every
condition's rows go into one `engine.generate` call (rows may differ in intervention), and conditions that
would compute the same thing (the same instructions under an equal recipe, e.g. COSMIC picking DIM's
candidate) are generated once and share their rows: conditions are told apart by name and by their
recipe's content (`Intervention.key`), never by sums of tensors. Notebooks then label the rows their way.
"""
from __future__ import annotations

import pandas as pd
import torch
from jaxtyping import Float
from torch import Tensor

from . import engine, prompts
from .models import LoadedModel


def generate(lm: LoadedModel, conditions: dict[str, tuple[list[str], engine.Intervention]], max_new_tokens: int,
             batch_size: int = 16, progress: bool = True, first_logprobs: bool = True,
             system: dict[str, str] | None = None) -> tuple[pd.DataFrame, Float[Tensor, "rows vocab"] | None]:
    """One row per (condition, instruction) in the conditions' order: condition, shared_with (the condition whose
    generation it shares), prompt_index, instruction, prompt (chat-formatted), text, token_ids, n_tokens; and, unless
    `first_logprobs=False`, the first new token's log-probs of every row (the prompt pass, e.g. for refusal scores).

    `system` gives some conditions a system message (prompt-level control, e.g. the style instruction itself as the
    baseline of a steering vector); the others keep the template's default."""
    system = system or {}
    first_of: dict[tuple, str] = {}
    shared_with = {name: first_of.setdefault((tuple(items), recipe.key(), system.get(name)), name)
                   for name, (items, recipe) in conditions.items()}
    run = [name for name in conditions if shared_with[name] == name]
    formatted = {name: [prompts.format_instruction(lm, x, system.get(name)) for x in conditions[name][0]] for name in run}
    gen = engine.generate(lm, [p for name in run for p in formatted[name]], max_new_tokens,
                          [conditions[name][1] for name in run for _ in formatted[name]], batch_size=batch_size, progress=progress)
    start, offsets = 0, {}
    for name in run:
        offsets[name] = start
        start += len(formatted[name])
    rows, index = [], []
    for name, (items, _) in conditions.items():
        source = shared_with[name]
        for j, item in enumerate(items):
            i = offsets[source] + j
            rows.append({"condition": name, "shared_with": source, "prompt_index": j, "instruction": item,
                         "prompt": formatted[source][j], "text": gen.texts[i], "token_ids": gen.token_ids[i],
                         "n_tokens": len(gen.token_ids[i])})
            index.append(i)
    return pd.DataFrame(rows), gen.first_logprobs[torch.tensor(index, dtype=torch.long)] if first_logprobs else None
