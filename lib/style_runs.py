"""Style-steering runs (07): ActAdd edits named by axis and kind, all conditions x questions in one batched
generation, and every measure of every answer.

Both halves of seed 000's protocol stand on this: `07_style_steering` sweeps axis x layer x α on the dev questions and
chooses a setting per axis; `07_style_test` runs the chosen settings and the seed's own on the test questions. A
condition is `(meta, intervention)`: `meta` names its axis and kind (and, for prompt-level control, a `system`
message), the intervention adds each vector at its layer (site block_out, every position).

    >>> layer_at(0.5, 24), layer_at(0.99, 24), layer_at(0.0, 24)
    (12, 23, 0)

Greedy answers of small models often fall into a loop that would run to any token limit. An answer ends at the first
of its end-of-sequence token, the token limit, or the point where it has become a loop (`loop_end`): its last
LOOP_WINDOW tokens repeat the ones a period before them. Every measure reads the answer up to that point (the
repeats included, so a "10-10-10" chain stays garbled); `end` records which of the three ended it, so "cut by the
limit" counts only answers that were still going somewhere.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from . import activations, conditions, directions, engine, lenses, stylemetrics, textclass
from .models import LoadedModel

UNSTEERED = "unsteered"
LOOP_WINDOW = 64  # tokens that must repeat, one period earlier, for an answer to have become a loop
LOOP_MISMATCHES = 2  # of them, how many may differ (a counter in a looping list)
LOOP_MAX_PERIOD = 128  # the longest repeated block looked for (a paragraph)


def layer_at(depth: float, n_layers: int) -> int:
    """The layer at `depth` (layer / n_layers), clipped to the model."""
    return min(n_layers - 1, max(0, round(depth * n_layers)))


def scaled(vector: torch.Tensor, fraction: float, norm: float) -> torch.Tensor:
    """`vector`'s direction with norm `fraction` x `norm` (α as a fraction of the residual norm)."""
    return fraction * norm * directions.unit(vector)


def unsteered() -> tuple[dict, engine.Intervention]:
    """The reference condition every steered one is paired with."""
    return {"axis": "none", "kind": UNSTEERED, "layers": "", "added_norm": 0.0}, engine.NO_EDIT


def prompted(axis: str, instruction: str) -> tuple[dict, engine.Intervention]:
    """Prompt-level control: the style instruction itself as the system message, no edit."""
    return {"axis": axis, "kind": "prompted", "layers": "", "added_norm": 0.0, "system": instruction}, engine.NO_EDIT


def steered(axis: str, kind: str, layers_vectors: dict[int, torch.Tensor], **meta) -> tuple[dict, engine.Intervention]:
    """Metadata (with the total added norm) and the intervention adding each vector at its layer."""
    total = sum(float(v.norm()) for v in layers_vectors.values())
    return ({"axis": axis, "kind": kind, "layers": ",".join(map(str, layers_vectors)), "added_norm": total, **meta},
            engine.add_layers(layers_vectors))


def residual_norms(lm: LoadedModel, formatted: list[str], batch_size: int) -> pd.DataFrame:
    """Per layer: mean norm of the first token, of the other tokens, and of all tokens (the seed's statistic)."""
    summary = activations.capture(lm, formatted, range(lm.n_layers), activations.token_norm_summary, batch_size=batch_size,
                                  progress=False)
    mean = summary.mean(0)  # [layers, 3]
    return pd.DataFrame({"layer": range(lm.n_layers), "first": mean[:, 0], "rest": mean[:, 1], "all": mean[:, 2]})


def loop_end(ids: list[int], window: int = LOOP_WINDOW, max_period: int = LOOP_MAX_PERIOD,
             mismatches: int = LOOP_MISMATCHES) -> int | None:
    """The length of the shortest prefix of `ids` whose last `window` tokens repeat the `window` tokens one period
    p <= max_period before them in all but at most `mismatches` positions; None when there is none.

    The mismatches let a loop with a counter in it ("in the 2040s ... in the 2060s ...", "9. X ... 10. X ...") end
    too. An answer can still escape such a state, rarely, so a few answers end here that would have ended later.

    >>> loop_end([1, 2] + [7] * 80), loop_end(list(range(50)) * 3), loop_end(list(range(300)))
    (65, 114, None)
    """
    tokens = np.asarray(ids)
    ends = []
    for period in range(1, min(max_period, len(tokens) - window) + 1):
        differs = (tokens[period:] != tokens[:-period]).astype(int)  # differs[i]: token i + period differs from token i
        per_window = np.convolve(differs, np.ones(window, dtype=int), "valid")  # [j]: over tokens j + period .. + window
        hits = np.flatnonzero(per_window <= mismatches)
        if hits.size:
            ends.append(int(hits[0]) + period + window)
    return min(ends, default=None)


def end_loops(lm: LoadedModel, answers: pd.DataFrame, max_tokens: int) -> pd.DataFrame:
    """`answers` (rows of `lib.conditions.generate`) with each loop cut where it became one (`loop_end`) and the
    reason each answer ended: "eos", "loop" or "limit" (still going when the token limit cut it)."""
    ends = [loop_end(ids) for ids in answers["token_ids"]]
    ids = [list(row[:end]) if end else list(row) for row, end in zip(answers["token_ids"], ends)]
    reason = ["loop" if end else "limit" if len(row) >= max_tokens else "eos" for row, end in zip(ids, ends)]
    texts = [lm.tokenizer.decode(row, skip_special_tokens=True) if end else text
             for row, end, text in zip(ids, ends, answers["text"])]
    return answers.assign(token_ids=ids, text=texts, n_tokens=[len(row) for row in ids], end=reason)


def measure_answers(lm: LoadedModel, answers: pd.DataFrame) -> pd.DataFrame:
    """Every measure of every answer (rows of `end_loops`): length, the four axis measures, garble, lens scores,
    coherence (the unsteered model's cross-entropy on the answer), how it ended and whether the token limit cut it.

    Garbled = seed 003's classifier or a token loop: steered small models emit "10-10-10-..." chains that the
    classifier's text rules miss and that a word count would score as terse."""
    rows = []
    for text, ids, end in zip(answers["text"], answers["token_ids"], answers["end"]):
        lens = lenses.lens_scores(text)
        seed003, loop = bool(textclass.garbled_reasons(text)), stylemetrics.token_loop(ids)
        rows.append({"words": stylemetrics.word_count(text), **{f"m_{a}": v for a, v in stylemetrics.axis_metrics(text).items()},
                     "garbled": seed003 or loop, "garbled_seed003": seed003, "token_loop": loop,
                     "n_tokens": len(ids), "end": end, "hit_cap": end == "limit", "ended_in_loop": end == "loop",
                     **{f"lens_{k}": 100 * v for k, v in lens.items()}, "lens_total": 100 * sum(lens.values()), "text": text})
    frame = pd.DataFrame(rows)
    frame["nll"] = engine.continuation_nll(lm, answers["prompt"].tolist(), answers["token_ids"].tolist(), batch_size=16,
                                           progress=False).numpy()
    return frame


def run_conditions(lm: LoadedModel, named: dict[str, tuple[dict, engine.Intervention]], items: list[tuple[str, str]],
                   max_tokens: int, batch_size: int, asks=None) -> pd.DataFrame:
    """All conditions x items (`(item kind, text)`) in one batched greedy generation, measured; one row per answer.

    `asks(name, meta, j, item_kind)` says whether condition `name` answers item j (default: every item). A condition
    whose metadata carries a `system` text runs with it as the system message."""
    asks = asks or (lambda name, meta, j, kind: True)
    kept = {name: [j for j, (kind, _) in enumerate(items) if asks(name, meta, j, kind)] for name, (meta, _) in named.items()}
    runs = {name: ([items[j][1] for j in kept[name]], recipe) for name, (_, recipe) in named.items()}
    system = {name: meta["system"] for name, (meta, _) in named.items() if meta.get("system")}
    answers, _ = conditions.generate(lm, runs, max_tokens, batch_size=batch_size, first_logprobs=False, system=system)
    answers = end_loops(lm, answers, max_tokens)
    item = [kept[name][j] for name, j in zip(answers["condition"], answers["prompt_index"])]
    keys = pd.DataFrame([{"condition": name, **named[name][0], "item": i, "item_kind": items[i][0], "question": items[i][1]}
                         for name, i in zip(answers["condition"], item)])
    return pd.concat([keys, measure_answers(lm, answers)], axis=1)


def one_row(frame: pd.DataFrame, **where) -> pd.Series:
    """The first row of `frame` matching every column = value given."""
    mask = pd.Series(True, index=frame.index)
    for column, value in where.items():
        mask &= frame[column] == value
    return frame[mask].iloc[0]


def paired_by_item(frame: pd.DataFrame, key: str, name: str, reference: str, column: str, dtype=float):
    """`column` under condition `name` and under `reference` on model `key`, on the items both answered, in item
    order (the seed's comparison answers more questions than the other conditions)."""
    pick = lambda c: frame[(frame["model"] == key) & (frame["condition"] == c)].set_index("item")[column]
    here, there = pick(name), pick(reference)
    common = here.index.intersection(there.index).sort_values()
    return here.loc[common].to_numpy(dtype=dtype), there.loc[common].to_numpy(dtype=dtype)


def verdict_phrase(prefix: str, claims) -> str:
    """A claim's verdicts over the models, from the ledger: one verdict on every model, or each verdict with its
    models, for the paper's prose ("reproduced on every model"; "inconclusive on a; not reproduced on b")."""
    mine = {c.id.removeprefix(prefix + "-"): c.verdict for c in claims if c.id.startswith(prefix + "-")}
    found = list(dict.fromkeys(mine.values()))
    if len(found) == 1:
        return f"{found[0]} on every model"
    return "; ".join(f"{v} on {' and '.join(m for m, w in mine.items() if w == v)}" for v in found)
