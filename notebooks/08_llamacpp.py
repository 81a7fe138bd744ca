# ---
# jupyter:
#   jupytext:
#     formats: py:percent,ipynb
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---
# depends_on: 01_extraction, 04_scaling, 07_style_steering

# %% [markdown]
# # 08 · The workbook's vectors in llama.cpp
#
# A practitioner deploys a steering vector in the runtime they serve with, often llama.cpp or ollama, through
# a control-vector file (`--control-vector-scaled FILE SCALE`). This notebook exports the settings the
# workbook chose as such files (`lib/export.py`), loads the zoo's own GGUF files in llama.cpp
# (llama-cpp-python, `lib/llamacpp.py`), applies the files with llama.cpp's control-vector API, and asks
# whether they do there what they did in PyTorch:
#
# 1. **Export.** 07's chosen terse vector (its layer and α) for each style model and 04's refusal direction
#    (05's `dim_sweep` row: the dev-swept layer and α) as control-vector GGUF files, read back bit for bit.
# 2. **Layer convention.** The next-token log-prob change the file causes in llama.cpp, against the change
#    the same vector causes in PyTorch added after block k-1, k and k+1: the export is right when block k
#    matches best and closely. The unsteered log-probs of the two runtimes set the noise floor (PyTorch runs
#    the de-quantized weights in fp32; llama.cpp multiplies the quantized weights directly).
# 3. **The same effect.** Greedy answers to the same prompts, token ids from the same tokenizer, in both
#    runtimes, unsteered and steered: words per answer for the terse vector (07's test questions and token
#    limit) and the refusal rate on harmless prompts for the refusal direction (04's test prompts, token
#    limit and primary judge), each with its interval, the paired steered − unsteered effect per runtime,
#    and the difference of the two effects with a paired interval.

# %% tags=["parameters"]
profile = "default"
style_model_keys = ["qwen2.5-0.5b", "smollm2-135m"]  # 07's models; each gets 07's chosen terse vector
style_axis = "terse"
refusal_model_keys = ["qwen2.5-0.5b"]  # 04's models that refuse; each gets 04's refusal direction
refusal_method = "dim_sweep"  # 04's chosen.csv row (the one 05 steers with)
n_style = 64  # 07's test questions (07_style_test's n_test)
style_tokens = 256  # 07's test token limit (07_style_test's gen_tokens)
n_refusal = 64  # 04's harmless test prompts (its n_test)
refusal_tokens = 100  # 04's token limit (its gen_tokens)
gguf_files = {}  # a GGUF file per hub model (the zoo's models bring their own); llama.cpp reads no safetensors
n_convention = 8  # prompts of the layer-convention check
batch_size = 64  # PyTorch generation batch
seed = 0

# %%
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch

from lib import artifacts, engine, export, handoffs, judges, llamacpp, notebook, paired, plotting, prompts, refusal, stats, timing
from lib import conditions as conditions_runner
from lib import steering_settings, stylemetrics
from lib.activations import encode
from lib.errors import WorkbookError
from lib.paths import generated_dir

NOTEBOOK = "08_llamacpp"
nb = notebook.start(NOTEBOOK, prefix="Cpp", seed=seed)  # seeds, determinism, plotting, results folder, macros
out, macros = nb.out, nb.macros
if not llamacpp.available():
    raise WorkbookError(f"This notebook runs llama.cpp, and llama-cpp-python is not installed: {llamacpp.INSTALL_HINT}.")
questions = steering_settings.style_test_questions()[:n_style]
harmless = handoffs.load_splits()["harmless"]["test"][:n_refusal]
judge = handoffs.load_refusal_judge()  # 04's primary refusal judge
if len(questions) < n_style or len(harmless) < n_refusal:
    raise ValueError(f"07 holds {len(questions)} test questions and 01's split {len(harmless)} harmless test prompts, fewer than "
                     f"n_style = {n_style} / n_refusal = {n_refusal}: lower them.")
timings = {}
GAP = "llama.cpp minus PyTorch"  # the row of the difference between the two runtimes' effects

# %% [markdown]
# ## 1 · The chosen settings, and their control-vector files
# One file per (model, setting), written in the model loop below; llama.cpp adds `direction.<k>` to the
# output of block k. Each file is read back and compared with the float32 tensors PyTorch adds: both runtimes
# steer with the same bytes, the ones read back from the file.

# %%
def chosen_settings(key: str) -> list[steering_settings.Setting]:
    found = [steering_settings.style_setting(key, style_axis)] if key in style_model_keys else []
    return found + ([steering_settings.refusal_setting(key, refusal_method)] if key in refusal_model_keys else [])


def export_setting(setting: steering_settings.Setting, hint: str):
    """The control-vector file of a setting, and its vectors as read back (what both runtimes add)."""
    path = out / "control_vectors" / f"{setting.model}_{setting.name.replace(' ', '_')}.gguf"
    export.write_control_vector(path, setting.vectors, hint)
    read, meta = export.read_control_vector(path)
    same = sorted(read) == sorted(setting.vectors) and all(np.array_equal(read[l], setting.vectors[l].float().numpy()) for l in read)
    return path, {l: torch.from_numpy(v) for l, v in read.items()}, meta, same


model_keys = list(dict.fromkeys(style_model_keys + refusal_model_keys))
settings = {key: chosen_settings(key) for key in model_keys}  # read before any model loads: a missing hand-off fails fast
pd.DataFrame([{"model": s.model, "setting": s.name, "layers": ",".join(map(str, s.vectors)), "alpha": s.alpha,
               "alpha_fraction": s.alpha_fraction, "source": s.source} for found in settings.values() for s in found])

# %% [markdown]
# ## 2 · The layer convention, checked numerically
# For each file: the last-token log-prob change it causes in llama.cpp (steered − unsteered), and the change
# the same vectors cause in PyTorch when added after block k − 1, k or k + 1 (every position, as llama.cpp
# does). Cosine and relative error between the two changes, per prompt; the unsteered log-probs of the two
# runtimes give the floor a perfect match can reach.

# %%
def logprob_change_cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b) + 1e-12))


def convention_rows(key, lm, llm, setting, path, vectors, prompt_ids, formatted) -> list[dict]:
    base_llama = np.stack([llamacpp.prompt_logprobs(llm, ids) for ids in prompt_ids])
    llamacpp.apply_control_vector(llm, path)
    steered_llama = np.stack([llamacpp.prompt_logprobs(llm, ids) for ids in prompt_ids])
    llamacpp.clear_control_vector(llm)
    vocab = min(base_llama.shape[1], lm.hf.config.vocab_size)
    base_torch, _ = engine.forward_last(lm, formatted, engine.NO_EDIT, batch_size=len(formatted), progress=False)
    change_llama = (steered_llama - base_llama)[:, :vocab]
    rows = []
    for shift in (-1, 0, 1):
        shifted = {l + shift: v for l, v in vectors.items() if 0 <= l + shift < lm.n_layers}
        steered_torch, _ = engine.forward_last(lm, formatted, engine.add_layers(shifted), batch_size=len(formatted), progress=False)
        change_torch = (steered_torch - base_torch).numpy()[:, :vocab]
        for i in range(len(prompt_ids)):
            rows.append({"model": key, "setting": setting.name, "shift": shift, "prompt": i,
                         "cosine": logprob_change_cosine(change_llama[i], change_torch[i]),
                         "relative_error": float(np.linalg.norm(change_llama[i] - change_torch[i]) / np.linalg.norm(change_torch[i])),
                         "change_norm_llama": float(np.linalg.norm(change_llama[i])), "change_norm_torch": float(np.linalg.norm(change_torch[i])),
                         "unsteered_max_abs_diff": float(np.abs(base_llama[i, :vocab] - base_torch[i, :vocab].numpy()).max())})
    return rows


def stop_set(lm) -> set[int]:
    """The workbook's stop tokens (lib.engine.until_eos): end of sequence, padding and the generation config's."""
    return {t for t in {lm.tokenizer.eos_token_id, lm.tokenizer.pad_token_id, *engine.stop_ids(lm)} if t is not None}


def token_ids(lm, formatted: list[str]) -> list[list[int]]:
    """The ids the workbook's tokenizer gives each chat-formatted prompt alone (no padding): llama.cpp's input."""
    return [encode(lm, [p])["input_ids"][0].tolist() for p in formatted]


# %% [markdown]
# ## 3 · The same prompts through both runtimes, unsteered and steered
# PyTorch: the workbook's batched greedy generation (`lib.conditions`). llama.cpp: greedy, token by token,
# from the same ids, under the control-vector file. Long loops cache their finished chunks. The loop below
# exports each setting, checks its layer convention and generates, one model at a time.

# %%
def torch_answers(lm, items, vectors, max_tokens, first_logprobs: bool) -> pd.DataFrame:
    runs = {"unsteered": (items, engine.NO_EDIT), "steered": (items, engine.add_layers(vectors))}
    answers, first = conditions_runner.generate(lm, runs, max_tokens, batch_size=batch_size, first_logprobs=first_logprobs)
    return answers.assign(runtime="PyTorch", first_logprobs=list(first.numpy()) if first_logprobs else None)


def llama_answers(lm, llm, items, path, max_tokens) -> pd.DataFrame:
    formatted = [prompts.format_instruction(lm, x) for x in items]
    ids, stops, rows = token_ids(lm, formatted), stop_set(lm), []
    for condition, control in (("unsteered", None), ("steered", path)):
        new, first = llamacpp.generate(llm, ids, max_tokens, stops, control_vector=control)  # first: [n, vocab] log-probs
        texts = lm.tokenizer.batch_decode(new, skip_special_tokens=True)
        rows += [{"condition": condition, "prompt_index": j, "instruction": x, "prompt": p, "text": t, "token_ids": n,
                  "n_tokens": len(n), "first_logprobs": f} for j, (x, p, t, n, f) in enumerate(zip(items, formatted, texts, new, first))]
    return pd.DataFrame(rows).assign(runtime="llama.cpp")


def measure(frame: pd.DataFrame, lm, kind: str, max_tokens: int) -> pd.DataFrame:
    """Words per answer and the token-cap share (style), or 04's refusal labels with its primary judge (refusal)."""
    frame = frame.assign(hit_cap=frame["n_tokens"] >= max_tokens, words=frame["text"].map(stylemetrics.word_count))
    if kind == "refusal":
        vocab = min(min(map(len, frame["first_logprobs"])), lm.hf.config.vocab_size)  # the runtimes may pad the vocabulary apart
        first = torch.tensor(np.stack([f[:vocab] for f in frame["first_logprobs"]]))
        frame = judges.label_answers(frame, refusal.refusal_score(first, refusal.refusal_token_ids(lm)).numpy())
        frame["refusal"] = judges.refused(frame, judge)
    return frame.drop(columns=["first_logprobs", "token_ids"])


export_rows, convention, answers = [], [], []
for key, lm in nb.models(model_keys):
    clock = timing.ColdClock(already_s=nb.load_seconds[key])  # includes the load; cache-loaded units count at their cold cost
    llm = llamacpp.load(key, gguf_files.get(key), n_ctx=1024)
    for setting in settings[key]:
        path, vectors, meta, same = export_setting(setting, export.model_hint(lm))
        export_rows.append({"model": key, "setting": setting.name, "layers": ",".join(map(str, sorted(vectors))),
                            "alpha": setting.alpha, "alpha_fraction": setting.alpha_fraction, "added_norm": setting.added_norm,
                            "file": path.name, "bytes": path.stat().st_size, "model_hint": meta["controlvector.model_hint"],
                            "read_back_identical": same, "source": setting.source})
        kind, items, max_tokens = (("style", questions, style_tokens) if setting.name.startswith(style_axis)
                                   else ("refusal", harmless, refusal_tokens))
        formatted = [prompts.format_instruction(lm, x) for x in items[:n_convention]]
        convention += convention_rows(key, lm, llm, setting, path, vectors, token_ids(lm, formatted), formatted)
        both = pd.concat([torch_answers(lm, items, vectors, max_tokens, first_logprobs=kind == "refusal"),
                          llama_answers(lm, llm, items, path, max_tokens)], ignore_index=True)
        answers.append(measure(both, lm, kind, max_tokens).assign(model=key, setting=setting.name, kind=kind, max_tokens=max_tokens))
    del llm
    timings[key] = clock.seconds()
exports, convention, answers = pd.DataFrame(export_rows), pd.DataFrame(convention), pd.concat(answers, ignore_index=True)
artifacts.write_csv(out / "exports.csv", exports)
artifacts.write_csv(out / "layer_convention.csv", convention)
artifacts.write_csv(out / "answers.csv", answers)
convention.groupby(["model", "setting", "shift"])[["cosine", "relative_error", "unsteered_max_abs_diff"]].mean()

# %% [markdown]
# ## 4 · Side by side: the effect in each runtime, and the difference between them
# Per runtime and condition: mean words (bootstrap interval over questions) or refusal rate (Wilson), the
# share of answers the token limit cut, and the paired steered − unsteered effect. Last, the effect in
# llama.cpp minus the effect in PyTorch, paired by prompt: an interval around zero says the runtimes agree.

# %%
def effect_rows(g: pd.DataFrame) -> list[dict]:
    """One row per runtime (its two conditions and its effect) and one for the difference of the effects."""
    kind, outcome = g["kind"].iloc[0], ("words" if g["kind"].iloc[0] == "style" else "refusal")
    wide = {(r, c): part.sort_values("prompt_index")[outcome].to_numpy(dtype=float) for (r, c), part in g.groupby(["runtime", "condition"])}
    rows = []
    for runtime in ("PyTorch", "llama.cpp"):
        base, steered = wide[(runtime, "unsteered")], wide[(runtime, "steered")]
        summary = ({c: paired.mean_ci(v) for c, v in (("unsteered", base), ("steered", steered))} if kind == "style" else
                   {c: dict(zip(("mean", "low", "high"), stats.wilson(int(v.sum()), len(v)))) for c, v in (("unsteered", base), ("steered", steered))})
        effect = paired.paired_continuous(steered, base) if kind == "style" else paired.paired_binary(steered.astype(bool), base.astype(bool))
        capped = g[g["runtime"] == runtime].groupby("condition")["hit_cap"].mean()
        rows.append({"runtime": runtime, "n": len(base), **{f"{c}_{k}": summary[c][k] for c in summary for k in ("mean", "low", "high")},
                     "effect": effect["difference"], "effect_low": effect["low"], "effect_high": effect["high"],
                     "capped_unsteered": capped["unsteered"], "capped_steered": capped["steered"]})
    per_prompt = {r: wide[(r, "steered")] - wide[(r, "unsteered")] for r in ("PyTorch", "llama.cpp")}
    gap = paired.paired_continuous(per_prompt["llama.cpp"], per_prompt["PyTorch"])
    if kind == "refusal" and np.all(per_prompt["llama.cpp"] == per_prompt["PyTorch"]):
        # no prompt whose effect differs: the bootstrap collapses to [0, 0]; bound it as paired_binary does
        bound = stats.wilson(0, gap["n"])[2]
        gap = {**gap, "low": -bound, "high": bound}
    same_text = g.pivot_table(index=["condition", "prompt_index"], columns="runtime", values="text", aggfunc="first")
    rows.append({"runtime": GAP, "n": gap["n"], "effect": gap["difference"], "effect_low": gap["low"],
                 "effect_high": gap["high"], "identical_text": float((same_text["PyTorch"] == same_text["llama.cpp"]).mean())})
    return rows


side_by_side = pd.DataFrame([{"model": model, "setting": name, "kind": g["kind"].iloc[0], "outcome": "words" if g["kind"].iloc[0] == "style" else "refusal rate", **row}
                             for (model, name), g in answers.groupby(["model", "setting"], sort=False) for row in effect_rows(g)])
artifacts.write_csv(out / "side_by_side.csv", side_by_side)
side_by_side

# %%
settings_shown = list(side_by_side[["model", "setting"]].drop_duplicates().itertuples(index=False))
fig, axes = plt.subplots(1, len(settings_shown), figsize=(3.6 * len(settings_shown), 3.4), squeeze=False)
for ax, (model, name) in zip(axes.flat, settings_shown):
    part = side_by_side[(side_by_side["model"] == model) & (side_by_side["setting"] == name) & side_by_side["runtime"].isin(["PyTorch", "llama.cpp"])]
    for j, condition in enumerate(("unsteered", "steered")):
        means = part[f"{condition}_mean"].to_numpy()
        ax.bar(np.arange(len(part)) + (j - 0.5) * 0.38, means, width=0.36, color=f"C{j}", label=condition,
               yerr=plotting.error_bars(means, part[f"{condition}_low"].to_numpy(), part[f"{condition}_high"].to_numpy()), capsize=3)
    ax.set_xticks(range(len(part)), part["runtime"])
    ax.set_title(f"{model}\n{name}", fontsize=9)
    ax.set_ylabel(part["outcome"].iloc[0])
    if part["kind"].iloc[0] == "refusal":
        ax.set_ylim(0, 1)
    ax.legend(fontsize=7)
fig.suptitle("The same control vector in PyTorch and in llama.cpp (95 % intervals)", y=1.0)
fig.tight_layout()
plotting.save_figure(fig, NOTEBOOK, "side_by_side")
plt.show()

# %% [markdown]
# ## Numbers and the table for the paper

# %%
best = convention.groupby(["model", "setting", "shift"], as_index=False)["cosine"].mean()
matched = best.loc[best.groupby(["model", "setting"])["cosine"].idxmax()]
at_k = best[best["shift"] == 0]
macros.add("StyleModels", ", ".join(style_model_keys))
macros.add("RefusalModels", ", ".join(refusal_model_keys))
macros.add("StyleTokens", style_tokens, "{:d}")
macros.add("RefusalTokens", refusal_tokens, "{:d}")
macros.add("NStyle", n_style, "{:d}")
macros.add("NRefusal", n_refusal, "{:d}")
macros.add("NConvention", n_convention, "{:d}")
macros.add("RefusalMethod", refusal_method)
macros.add("NFiles", len(exports), "{:d}")
macros.add("MatchedShiftZero", int((matched["shift"] == 0).sum()), "{:d}")
neighbour = best[best["shift"] != 0].groupby(["model", "setting"], as_index=False)["cosine"].max()  # the closer of k-1, k+1
per_file = at_k.merge(neighbour, on=["model", "setting"], suffixes=("_k", "_neighbour"))
macros.add("ConventionSummary", "; ".join(f"{f.model}, {f.setting}: {f.cosine_k:.3f} against {f.cosine_neighbour:.3f}"
                                          for f in per_file.itertuples()))
macros.add("CosineMargin", (per_file["cosine_k"] - per_file["cosine_neighbour"]).min(), "{:.3f}")
macros.add("LlamaCppVersion", llamacpp.package_version())
macros.add("Minutes", sum(timings.values()) / 60, "{:.0f}")
gaps = side_by_side[side_by_side["runtime"] == GAP]
unit = {"style": "words", "refusal": "in refusal rate"}
macros.add("GapSummary", "; ".join(
    f"{g.model}, {g.setting}: {g.effect:+.2f} {unit[g.kind]} [{g.effect_low:+.2f}, {g.effect_high:+.2f}]" for g in gaps.itertuples()))
macros.add("IdenticalSummary", "; ".join(f"{g.model}, {g.setting}: {100 * g.identical_text:.0f} %" for g in gaps.itertuples()))
macros.add("GapsCoverZero", int(((gaps["effect_low"] <= 0) & (gaps["effect_high"] >= 0)).sum()), "{:d}")
macros.add("NSettings", len(gaps), "{:d}")


def interval(low, high, fmt) -> str:
    return "" if pd.isna(low) else f"[{fmt.format(low)}, {fmt.format(high)}]"


table_rows = []
for row in side_by_side.itertuples():
    fmt = "{:.1f}" if row.kind == "style" else "{:.2f}"
    table_rows.append({"model": row.model, "setting": row.setting, "runtime": row.runtime,
                       "unsteered": "" if pd.isna(row.unsteered_mean) else f"{fmt.format(row.unsteered_mean)} {interval(row.unsteered_low, row.unsteered_high, fmt)}",
                       "steered": "" if pd.isna(row.steered_mean) else f"{fmt.format(row.steered_mean)} {interval(row.steered_low, row.steered_high, fmt)}",
                       "effect": f"{fmt.format(row.effect)} {interval(row.effect_low, row.effect_high, fmt)}",
                       "n": int(row.n)})
artifacts.write_latex_table(generated_dir() / NOTEBOOK / "side_by_side_table.tex", pd.DataFrame(table_rows),
                            caption="The workbook's control vectors in PyTorch and in llama.cpp, on the same prompts: words "
                                    "per answer (terse vector) or refusal rate on harmless prompts (refusal direction), unsteered "
                                    "and steered, with 95\\% intervals; the effect is steered minus unsteered, paired by prompt, "
                                    "and the last row of each setting is the llama.cpp effect minus the PyTorch effect.",
                            label="tab:llamacpp", size="footnotesize")
nb.finish()  # a check of the workbook's export, not of a seed: macros only
artifacts.write_json(out / "run.json", {"timings_s": timings})

# %% [markdown]
# ## Checks

# %%
assert exports["read_back_identical"].all(), "a control-vector file does not hold the vectors PyTorch adds"
assert set(side_by_side["runtime"]) == {"PyTorch", "llama.cpp", GAP}
assert len(answers) == 4 * sum(n_style if k == "style" else n_refusal for k in side_by_side.drop_duplicates(["model", "setting"])["kind"])
assert convention["cosine"].between(-1.000001, 1.000001).all()
print("checks passed")
