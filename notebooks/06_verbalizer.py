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
# depends_on: 01_extraction

# %% [markdown]
# # 06 · Reading activations back: the NLA injection protocol, Patchscopes, and the workbook's vectors
#
# Seed 002 is a LoRA adapter that makes Qwen2.5-7B describe an activation injected at a placeholder
# token. Its model card insists on one detail: the activation is *normalized to* L2 norm 150, not
# *multiplied by* 150, which "produces garbage". The injection protocol is `lib/verbalizer.py`; here,
# on the embedded models (no adapter is trained for them, so this measures what the protocol does
# on its own):
#
# 1. **Normalize versus multiply.** The same activations injected normalized to a sweep of target
#    norms and multiplied by the same targets: garbled rate, token entropy, and the unsteered
#    model's cross-entropy on what it writes.
# 2. **Patchscopes identity decoding.** For ≥ 200 single-token words, the word's state at source
#    layer l replaces the last position of `cat -> cat\n1135 -> 1135\nhello -> hello\n?` at layer
#    l; accuracy versus l says how long a token's identity stays readable.
# 3. **The workbook's own vectors** (refusal direction, style vectors, function vectors) through the
#    NLA prompt, scored by an expected vocabulary against shuffled-coordinate controls.
# 4. **An adapter**, when one is given (`adapter`), through the same path; the seed's own adapter
#    needs Qwen2.5-7B and a hub (the `gpu` profile).

# %% tags=["parameters"]
profile = "default"
remote = False  # True: run hub models on NDIF through nnsight (README, "Scale-out"); needs NDIF_API_KEY
device = "cpu"  # "auto" picks CUDA when present
sweep_model_keys = ["smollm2-135m", "qwen2.5-0.5b", "qwen2.5-1.5b"]  # instruction-tuned models
patchscope_model_keys = ["smollm2-135m", "gemma3-270m", "qwen2.5-0.5b"]
verbalize_model_keys = ["qwen2.5-0.5b", "qwen2.5-1.5b"]  # each reads its own workbook vectors
source_depth = 0.71  # the seed's layer 20 of 28
n_sources = 32  # prompts whose source activations are injected in each norm-sweep cell (model x mode x target)
target_multiples = [0.5, 1.0, 4.0]  # target norms as multiples of the mean input-embedding norm
max_new_tokens = 120  # the seed card's limit; each output records whether it ended before </explanation>
n_words = 200  # single-token words per model (at least 200)
n_patch_layers = 8  # source layers of the identity decoding, evenly spaced over the depth
patch_tokens = 4
precision_layers = "all"  # Patchscopes' Precision@1 readout: "all" layers, or a number evenly spaced over the depth
n_precision_sources = 200  # varied source texts (shipped prompt sets), one random position each
n_shuffles = 4  # shuffled-coordinate controls per real vector
adapter = ""  # a PEFT LoRA adapter (path or hub id) for the last of verbalize_model_keys
adapter_target_norm = 150.0  # the seed's injection norm for its adapter (Qwen2.5-7B, layer 20)
batch_size = 16
generation_batch_size = 128  # rows per verbalization batch: every (mode, target) cell of a model in one generation
check_model_key = "qwen2.5-0.5b"  # the seed's tokenizer family: the attention-mask and first-pass checks of its card
check_new_tokens = 16  # greedy tokens per prompt in those two checks (k > 1 forward passes of generate())
seed = 0

# %%
import json
import re

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
import torch
from scipy.stats import fisher_exact

from lib import artifacts, engine, handoffs, models, notebook, paired, plotting, prompts, registry, stats, textclass, timing
from lib import verbalizer as vb
from lib.engine.backends import output_tensor
from lib.errors import WorkbookError
from lib.paths import DATA_DIR

NOTEBOOK = "06_verbalizer"
nb = notebook.start(NOTEBOOK, prefix="Verb", seed=seed)  # seeds, determinism, plotting, results folder
out = nb.out
macros = nb.macros
splits = handoffs.load_splits()
words_all = json.loads((DATA_DIR / "words" / "common.json").read_text())["words"]
vocabulary = json.loads((DATA_DIR / "verbalizer" / "expected_vocabulary.json").read_text())["vocabulary"]
source_items = splits["harmless"]["test"][:n_sources]
timings = {}


def source_layer(n_layers: int) -> int:
    return min(n_layers - 1, round(source_depth * n_layers))


def rate_by_depth(ax, table: pd.DataFrame, label: str = "{model}", **style) -> None:
    """One line per model of a rate table against depth, with Wilson error bars."""
    for i, (key, g) in enumerate(table.groupby("model", sort=False)):
        ax.errorbar(g["depth"], g["rate"], yerr=plotting.error_bars(g["rate"], g["low"], g["high"]), capsize=2,
                    color=f"C{i}", label=label.format(model=key), **style)


def label_depth_axes(ax, ylabel: str, title: str, legend_size: int = 7) -> None:
    """The axes of a rate against source depth, patched into the same layer."""
    ax.set(xlabel="source layer / L (patched into the same layer)", ylabel=ylabel, ylim=(-0.02, 1.02), title=title)
    ax.legend(fontsize=legend_size)


def cut_before_end(text: str, token_ids) -> bool:
    """An output the token limit stopped before it closed its explanation (the card decodes up to </explanation>)."""
    return vb.END_OF_EXPLANATION not in text and len(token_ids) >= max_new_tokens


def span(values) -> str:
    """'16' when every value is 16, else '15-16'."""
    low, high = int(min(values)), int(max(values))
    return f"{low}" if low == high else f"{low}-{high}"


def source_states(lm, layer: int, source_items) -> torch.Tensor:
    """The layer's output at the last token of each held-out harmless prompt (first forward pass): [n_sources, d]."""
    return vb.source_activations(lm, [prompts.format_instruction(lm, x) for x in source_items], layer)


def mean_embedding_norm(lm) -> float:
    """Mean norm of the NLA prompt's input embeddings, in the units the first layer receives (Gemma's scaled)."""
    ids, _ = vb.nla_prompt_ids(lm, 0, lm.n_layers)
    with torch.no_grad():
        return float(lm.hf.get_input_embeddings()(torch.tensor([ids[1:]], device=lm.hf.device)).norm(dim=-1).mean())


# %% [markdown]
# ## 1 · Normalize versus multiply
# Source activations: the output of layer L (71 % depth) at the last token of held-out harmless
# prompts, from one forward pass. Each is injected normalized to, or multiplied by, the targets:
# multiples of the mean input-embedding norm, and the mean norm of the source activations themselves.

# %%
sweep_rows = []
for key, lm in nb.models(sweep_model_keys, device=device, remote=remote):
    clock = timing.ColdClock(already_s=nb.load_seconds[key])  # timings include the load
    layer = source_layer(lm.n_layers)
    sources = source_states(lm, layer, source_items)
    embed_norm = mean_embedding_norm(lm)
    targets = {f"{m:g}x embedding": m * embed_norm for m in target_multiples}
    targets["source norm"] = float(sources.norm(dim=-1).mean())
    context_ids, _ = vb.nla_prompt_ids(lm, layer, lm.n_layers)
    context = lm.tokenizer.decode(context_ids, skip_special_tokens=False)
    cells = [(mode, label, target) for mode in vb.MODES for label, target in targets.items()]
    injected = torch.cat([vb.rescale(sources, target, mode) for mode, _, target in cells])  # every cell in one generation
    result = vb.verbalize_injected(lm, injected, layer, max_new_tokens=max_new_tokens, batch_size=generation_batch_size, progress=False)
    nll = engine.continuation_nll(lm, [context] * len(injected), result.token_ids, batch_size=batch_size, progress=False)
    for row, text in enumerate(result.texts):
        (mode, label, target), i = cells[row // len(sources)], row % len(sources)
        sweep_rows.append({"model": key, "layer": layer, "mode": mode, "target": label, "target_norm": target,
                           "injected_norm": result.injected_norms[row], "embedding_norm": embed_norm, "source": i, "text": text,
                           "garbled": textclass.classify_seed003(text) == textclass.GARBLED,
                           "empty": not text.strip(),  # the model ended at once: garbled to the seed's classifier (too short)
                           "cut": cut_before_end(text, result.token_ids[row]),
                           "entropy": result.mean_entropy[row], "nll": float(nll[row])})
    timings[f"sweep:{key}"] = clock.seconds()
sweep = pd.DataFrame(sweep_rows)
artifacts.write_csv(out / "norm_sweep.csv", sweep)
summary = sweep.groupby(["model", "mode", "target"], sort=False).agg(
    injected_norm=("injected_norm", "median"), garbled=("garbled", "mean"), empty=("empty", "mean"), cut=("cut", "mean"), entropy=("entropy", "mean"),
    nll=("nll", "mean"), n=("garbled", "size")).reset_index()
summary

# %%
def cell_intervals(sweep) -> pd.DataFrame:
    """One row per (model, mode, target) cell: its median injected norm, the garbled rate with its Wilson interval and
    the mean entropy and cross-entropy with percentile-bootstrap intervals over the cell's sources."""
    cells = ["model", "mode", "target"]
    garbled = stats.rate_table(sweep, cells, "garbled").rename(columns={"rate": "garbled", "low": "garbled_low", "high": "garbled_high"})
    rows = []
    for keys, group in sweep.groupby(cells, sort=False):
        row = dict(zip(cells, keys), injected_norm=float(group["injected_norm"].median()))
        for metric in ("entropy", "nll"):
            row[metric], row[f"{metric}_low"], row[f"{metric}_high"] = stats.bootstrap_ci(group[metric].to_numpy())
        rows.append(row)
    return pd.DataFrame(rows).merge(garbled[cells + ["garbled", "garbled_low", "garbled_high", "n"]], on=cells)


sweep_cells = cell_intervals(sweep)
colours = dict(zip(sweep_model_keys, sns.color_palette("colorblind", len(sweep_model_keys))))
mode_styles = {"normalize": ("o", "-"), "multiply": ("X", "--")}
fig, axes = plt.subplots(1, 3, figsize=(12, 3.6))
for ax, metric, label in zip(axes, ("garbled", "entropy", "nll"), ("garbled rate (seed 003 classifier)", "mean token entropy (nats)",
                                                                      "unsteered cross-entropy (nats/token)")):
    for (key, mode), cell in sweep_cells.groupby(["model", "mode"], sort=False):  # one line per model and mode, its targets by norm
        cell = cell.sort_values("injected_norm")
        marker, line = mode_styles[mode]
        ax.errorbar(cell["injected_norm"], cell[metric], yerr=plotting.error_bars(cell[metric], cell[f"{metric}_low"], cell[f"{metric}_high"]),
                    color=colours[key], marker=marker, linestyle=line, capsize=2, markersize=5, label=f"{key}, {mode}")
    ax.set_xscale("log")
    ax.set_xlabel("injected norm (median of the cell)")
    ax.set_ylabel(label)
handles, labels = axes[0].get_legend_handles_labels()
fig.legend(handles, labels, loc="lower center", ncol=3, bbox_to_anchor=(0.5, -0.16), frameon=False)
fig.suptitle(f"Injecting normalized versus multiplied activations ({n_sources} sources per point, 95 % intervals)", y=1.02)
plotting.save_figure(fig, NOTEBOOK, "norm_sweep")
plt.show()

# %% [markdown]
# ## 2 · Patchscopes identity decoding
# Single-token words (each tokenizer keeps the words of `lib/data/words/common.json` that are one
# token at the end of the source prompt; "cat" and "hello" are left out because the identity prompt
# contains them). The word is read at the end of `vb.SOURCE_CONTEXT` ("Here is a word:\n"), not as
# the prompt's first token: a first draft read the word alone, where it is the attention sink, and
# no word survived past the first layers.

# %%
patch_rows = []
for key, lm in nb.models(patchscope_model_keys, device=device, remote=remote):
    clock = timing.ColdClock(already_s=nb.load_seconds[key])  # timings include the load
    words = vb.single_token_words(lm.tokenizer, words_all)[:n_words]
    if len(words) < n_words:
        raise ValueError(f"{key} has only {len(words)} single-token words in lib/data/words/common.json, fewer than n_words = {n_words}: lower n_words.")
    layers = sorted({int(x) for x in np.linspace(0, lm.n_layers - 1, n_patch_layers).round()})
    records = vb.patchscope_identity(lm, words, layers, max_new_tokens=patch_tokens, batch_size=4 * batch_size)
    patch_rows += [{"model": key, "n_layers": lm.n_layers, **r} for r in records]
    timings[f"patchscope:{key}"] = clock.seconds()
patches = pd.DataFrame(patch_rows)
patches["depth"] = patches["source_layer"] / patches["n_layers"]
artifacts.write_csv(out / "patchscope.csv", patches)
accuracy = stats.rate_table(patches.sort_values(["model", "source_layer"]), ["model", "source_layer", "depth"], "correct").rename(
    columns={"rate": "accuracy"})
artifacts.write_csv(out / "patchscope_accuracy.csv", accuracy)
fig, ax = plt.subplots(figsize=(6, 3.4))
rate_by_depth(ax, accuracy.rename(columns={"accuracy": "rate"}), marker="o")
label_depth_axes(ax, f"identity decoded (Wilson 95 % CI, n = {n_words})", "Patchscopes: how long a word's identity stays readable")
plotting.save_figure(fig, NOTEBOOK, "patchscope_accuracy")
plt.show()
accuracy.pivot_table(index="source_layer", columns="model", values="accuracy").round(2)

# %% [markdown]
# ## 2b · Patchscopes' own readout: next-token Precision@1
# The official next-token experiment (PAIR-code/interpretability): a source state at a random
# position of a varied text replaces the state at "?" of the identity prompt at the same layer, and
# Precision@1 is the share of sources where the patched prompt's top-1 next token equals the source
# model's own top-1 next token at the source position. Two controls on the same sources: the
# unpatched identity prompt (what a readout ignoring the source scores) and the identity prompt's
# own state patched into itself (must change nothing: a check of the patch, and of any cliff with
# depth). The sources are the shipped prompt sets, raw text without a chat template (theirs: the Pile).

# %%
precision_texts = (prompts.load_prompt_set("harmless")["items"] + prompts.load_prompt_set("over_refusal")["items"])[:n_precision_sources]
precision_rows = []
for key, lm in nb.models(patchscope_model_keys, device=device, remote=remote):
    clock = timing.ColdClock(already_s=nb.load_seconds[key])
    layers = list(range(lm.n_layers)) if precision_layers == "all" else sorted(
        {int(x) for x in np.linspace(0, lm.n_layers - 1, int(precision_layers)).round()})
    records = vb.patchscope_precision_at_1(lm, precision_texts, layers, seed=seed, batch_size=4 * batch_size, progress=False)
    precision_rows += [{"model": key, "n_layers": lm.n_layers, **r} for r in records]
    timings[f"precision_at_1:{key}"] = clock.seconds()
precision = pd.DataFrame(precision_rows)
precision["depth"] = precision["source_layer"] / precision["n_layers"]
artifacts.write_csv(out / "patchscope_precision.csv", precision)
precision_at_1 = stats.rate_table(precision.sort_values(["model", "source_layer"]), ["model", "source_layer", "depth"],
                                  ["hit", "unpatched_hit", "self_patch_same"])
artifacts.write_csv(out / "patchscope_precision_at_1.csv", precision_at_1)
fig, ax = plt.subplots(figsize=(6, 3.4))
rate_by_depth(ax, precision_at_1[precision_at_1["metric"] == "hit"], "{model}: patched", marker="o", ms=3)
rate_by_depth(ax, precision_at_1[precision_at_1["metric"] == "unpatched_hit"], "{model}: unpatched prompt", ls=":")
label_depth_axes(ax, f"Precision@1 (Wilson 95 % CI, n = {len(precision_texts)})", "Patchscopes' next-token readout", legend_size=6)
plotting.save_figure(fig, NOTEBOOK, "patchscope_precision_at_1")
plt.show()
precision_at_1.pivot_table(index=["model", "source_layer"], columns="metric", values="rate").round(2)

# %% [markdown]
# ## 3 · Verbalizing the workbook's own vectors
# Each model reads its own vectors from 01 at the source layer: the refusal direction, the four style
# vectors (mean over positions without the first token) and, where 01 made them, the function
# vectors (mean over the eight template styles). Each is injected normalized to the mean source norm
# (measured on the verbalizing model as in section 1) and to the mean embedding norm; a control is the same vector with its coordinates
# shuffled (same norm, no structure). A hit is any word of the vector's expected vocabulary.


# %%
def workbook_vectors(key: str, layer: int) -> dict[str, torch.Tensor]:
    refusal, _ = handoffs.load_refusal_candidates(key)
    style, _ = handoffs.load_style_vectors(key)
    found = {"refusal": refusal["candidates"][layer, -1]}
    found.update({f"style/{name.split('/')[0]}": v[layer] for name, v in style.items() if name.endswith("/mean_skip_first")})
    if handoffs.has_task_vectors(key):
        fvs, _ = handoffs.load_task_vectors(key)
        found.update({f"fv/{task}": v[:, layer].mean(0) for task, v in fvs.items()})
    return found


def hits(name: str, text: str, vocabulary) -> bool:
    return any(re.search(rf"\b(?:{pattern})\b", text, re.IGNORECASE) for pattern in vocabulary[name])


generator = torch.Generator().manual_seed(seed)
verbal_rows = []
for key, lm in nb.models(verbalize_model_keys, device=device, remote=remote):
    clock = timing.ColdClock(already_s=nb.load_seconds[key])  # timings include the load
    layer = source_layer(lm.n_layers)
    vectors = workbook_vectors(key, layer)
    # Measured on this model, as in section 1: the sweep need not include the verbalizing model.
    sources = source_states(lm, layer, source_items)
    target_set = {"source norm": float(sources.norm(dim=-1).mean()), "embedding norm": mean_embedding_norm(lm)}
    names, rows, kinds = [], [], []
    for name, v in vectors.items():
        names.append(name); rows.append(v); kinds.append("real")
        for _ in range(n_shuffles):
            names.append(name); rows.append(v[torch.randperm(len(v), generator=generator)]); kinds.append("shuffled")
    stacked = torch.stack(rows)
    labels = [label for label in target_set for _ in rows]  # every target in one generation
    injected = torch.cat([vb.rescale(stacked, target) for target in target_set.values()])
    result = vb.verbalize_injected(lm, injected, layer, max_new_tokens=max_new_tokens, batch_size=generation_batch_size, progress=False)
    verbal_rows += [{"model": key, "vector": n, "kind": k, "target": label, "injected_norm": norm, "new_tokens": len(ids),
                     "text": t, "hit": hits(n, t, vocabulary), "garbled": textclass.classify_seed003(t) == textclass.GARBLED,
                     "cut": cut_before_end(t, ids)}
                    for n, k, label, t, ids, norm in zip(names * len(target_set), kinds * len(target_set), labels, result.texts,
                                                         result.token_ids, result.injected_norms)]
    timings[f"verbalize:{key}"] = clock.seconds()
verbal = pd.DataFrame(verbal_rows)
artifacts.write_csv(out / "workbook_vectors.csv", verbal)
hit_rates = stats.rate_table(verbal.sort_values(["model", "kind"]), ["model", "kind"], "hit").rename(columns={"rate": "hit_rate"})
tests = []
for key, g in verbal.groupby("model"):
    table = [[int(g[g["kind"] == k]["hit"].sum()), int((~g[g["kind"] == k]["hit"]).sum())] for k in ("real", "shuffled")]
    odds, p = fisher_exact(table, alternative="greater")
    tests.append({"model": key, "real_hits": table[0][0], "real_n": sum(table[0]), "shuffled_hits": table[1][0],
                  "shuffled_n": sum(table[1]), "odds_ratio": odds, "p_fisher_greater": p})
tests = pd.DataFrame(tests)
artifacts.write_csv(out / "workbook_vector_hits.csv", hit_rates)
artifacts.write_csv(out / "workbook_vector_tests.csv", tests)
verbal[verbal["kind"] == "real"][["model", "vector", "target", "hit", "text"]].head(12)

# %%
tests

# %% [markdown]
# ## 4 · An adapter as the verbalizer
# When `adapter` names a PEFT LoRA adapter, the source activations are read with the adapter
# disabled and verbalized with it enabled. The seed's card reads them with the adapter loaded (on);
# the workbook reads the base model's own states, which are what the vectors of 01-05 come from. The default profile has no adapter
# for the embedded models; the test suite exercises this path with a small adapter it creates.

# %%
adapter_rows = []
for key, lm in nb.models(verbalize_model_keys[-1:] if adapter else [], device=device, remote=remote):
    vb.attach_adapter(lm, adapter)
    layer = source_layer(lm.n_layers)
    sources = source_states(lm, layer, source_items)
    result = vb.verbalize(lm, sources, layer, adapter_target_norm, max_new_tokens=max_new_tokens, batch_size=batch_size, progress=False)
    adapter_rows = [{"model": key, "adapter": adapter, "source": x, "injected_norm": norm, "new_tokens": len(ids), "text": t}
                    for x, t, ids, norm in zip(source_items, result.texts, result.token_ids, result.injected_norms)]
    artifacts.write_csv(out / "adapter_outputs.csv", pd.DataFrame(adapter_rows))  # written only when there is one
print("adapter:", adapter or "none (default profile)")
pd.DataFrame(adapter_rows).head()

# %% [markdown]
# ## 5 · Claims of seed 002, with verdicts
# "Multiplying by the target norm produces garbage": paired on the same source activations at the
# same target, the garbled rate of multiplied minus normalized injections (paired bootstrap interval,
# exact McNemar beside it). It is reproduced on a model when the interval lies above 0.

# %%
claims = []
for key in sweep_model_keys:
    part = sweep[sweep["model"] == key]
    norm = part[part["mode"] == "normalize"].sort_values(["target", "source"])["garbled"].to_numpy()
    mult = part[part["mode"] == "multiply"].sort_values(["target", "source"])["garbled"].to_numpy()
    test = paired.paired_binary(mult, norm, n_resamples=1000, seed=seed)  # same sources and targets: exact McNemar
    diff, p = test["difference"], test["p_mcnemar"]
    claims.append(artifacts.Claim.tested(
        f"S002-multiply-garbage-{key}", "002", f"Multiplying the activation by the target norm, instead of normalizing to it, produces garbage ({key})",
        "multiplying by 150 gives vectors 100x too large: garbage", diff, len(norm), min(test["low"], diff), max(test["high"], diff),
        artifacts.Rule.above(0.0),
        note=f"value = garbled rate multiplied minus normalized, same sources and targets; multiplied {mult.mean():.2f}, "
        f"normalized {norm.mean():.2f} (empty answers, which the classifier counts as garbled: multiplied "
        f"{part[part['mode'] == 'multiply']['empty'].mean():.2f}, normalized {part[part['mode'] == 'normalize']['empty'].mean():.2f}); "
        f"exact McNemar p = {p:.3g}"))
claims.append(artifacts.Claim.not_testable(
    "S002-adapter-verbalizes", "002", "The trained adapter describes an injected activation's content",
    "GRPO-trained LoRA on Qwen2.5-7B, layer 20",
    "the adapter needs Qwen2.5-7B-Instruct and a model hub; the gpu profile passes it as `adapter`", "the seed's adapter is loaded"))

# %% [markdown]
# ### The placeholder is one token
# The card: U+320E is token 149705 and "must be single token". For every tokenizer this notebook
# uses (tokenizers only), U+320E is encoded without special tokens. On a Qwen2.5 tokenizer (the
# seed's vocabulary, shared by all Qwen2.5 sizes) the value is 1 when it is exactly one token with id
# 149705, else 0; an encoding has no sampling error, so n = 1 and the interval is the value itself:
# reproduced at 1, not reproduced at 0. On any other tokenizer the seed's id means nothing: the claim
# is not testable there, and the note records how U+320E splits and which placeholder the workbook
# picks instead (`lib/verbalizer.PLACEHOLDER_CANDIDATES`).

# %%
SEED_PLACEHOLDER, SEED_PLACEHOLDER_ID = "\u320e", 149705


def seed_vocabulary(key: str) -> bool:
    """Whether a model has the seed's (Qwen2.5) vocabulary, from its key alone, before any tokenizer is read."""
    return registry.resolve(key, remote=remote).family == "qwen2" or "qwen2.5" in key.lower()


def placeholder_row(key: str) -> dict:
    tokenizer = models.load_tokenizer(registry.resolve(key, remote=remote))
    ids = tokenizer.encode(SEED_PLACEHOLDER, add_special_tokens=False)
    try:
        char, token_id = vb.placeholder_token(tokenizer)
        workbook = f"U+{ord(char):04X} (id {token_id})"
    except WorkbookError:
        workbook = "none of the candidates"
    return {"model": key, "seed_vocabulary": seed_vocabulary(key), "n_tokens": len(ids), "ids": " ".join(map(str, ids)),
            "seed_id": ids == [SEED_PLACEHOLDER_ID], "workbook_placeholder": workbook}


tokenizer_keys = list(dict.fromkeys([*sweep_model_keys, *patchscope_model_keys, *verbalize_model_keys, check_model_key]))
placeholders = pd.DataFrame([placeholder_row(key) for key in tokenizer_keys])
artifacts.write_csv(out / "placeholder_tokens.csv", placeholders)
for row in placeholders.itertuples():
    text = f"The placeholder U+320E is a single token, id 149705, in the model's tokenizer ({row.model})"
    seed_value = "U+320E -> token_id 149705; must encode to exactly one token (Qwen2.5-7B tokenizer)"
    found = f"U+320E encodes to {artifacts.counted(row.n_tokens, 'token')} (id{'s' * (row.n_tokens != 1)} {row.ids})"
    if not row.seed_vocabulary:
        claims.append(artifacts.Claim.not_testable(
            f"S002-placeholder-single-token-{row.model}", "002", text, seed_value,
            f"not the seed's (Qwen2.5) tokenizer: {found}; the workbook's placeholder here is {row.workbook_placeholder}",
            "a tokenizer with the Qwen2.5 vocabulary"))
        continue
    match = float(row.seed_id)  # deterministic: the interval is the value
    claims.append(artifacts.Claim.tested(
        f"S002-placeholder-single-token-{row.model}", "002", text, seed_value, match, 1, match, match,
        artifacts.Rule.above(0.5, seed_effect=1.0), precondition="a tokenizer with the Qwen2.5 vocabulary",
        note=f"value = 1 if exactly one token with id 149705, else 0 (an encoding is exact: no interval); {found}"))
placeholders

# %% [markdown]
# ### The attention mask when the pad token is EOS
# The card: "when pad_token == eos_token, pass attention_mask explicitly or unexpected behavior occurs".
# On `check_model_key` with the pad token set to EOS, four verbalizer-like prompts (the researcher
# instruction with concepts of different lengths in place of the placeholder, nothing injected) are
# generated greedily (`check_new_tokens`) through transformers' `generate` as one left-padded batch,
# once without an `attention_mask` (the card's failure mode: transformers cannot tell the padding from
# EOS) and once with it, and each output is compared token for token (up to EOS) with that prompt
# run alone. The value is the share of prompts whose unmasked batch output differs, with its Wilson
# interval. Precondition: the masked batch matches every prompt run alone (else padding itself changes
# the output here and the mask's effect cannot be isolated: not testable). Reproduced if the interval
# lies above 0, i.e. some prompt differs; four prompts that all match leave it inconclusive, since
# four cannot show that the mask never matters.
#
# ### The hook fires on every forward pass
# The card: "during generate(), the hook fires on every token", so the source activation must be
# captured on the first (prompt) pass only. A forward hook on the source layer (71 % depth) of the
# same model records the last-position state on every pass of one greedy `generate` call of
# k = `check_new_tokens` new tokens (`min_new_tokens` = k, so none stops early), for each of four
# held-out harmless prompts in the chat template. A prompt bears the claim out when the hook fired k
# times and every later pass's state has cosine < 0.99 with the first pass's (an unguarded hook keeps
# a state that is not the source activation). The value is the share of prompts that bear it out
# (Wilson interval); the seed's effect is all of them. Reproduced if the interval lies above 0; not
# reproduced if it excludes 1. The note also gives the cosine between the first pass's state and
# `lib/verbalizer.source_activations` (the workbook's own capture, which must be the first pass).

# %%
CHECK_CONCEPTS = ("cat", "a recipe for sourdough bread", "the causes of the French Revolution and how historians weigh them",
                  "a Python function")
N_CHECK = len(CHECK_CONCEPTS)


def up_to_eos(ids: list[int], eos: int) -> list[int]:
    """New token ids up to and including the first EOS (a finished row of a batch is padded with EOS after it)."""
    return ids[: ids.index(eos) + 1] if eos in ids else ids


@torch.no_grad()
def greedy_batch(lm, texts: list[str], masked: bool) -> list[list[int]]:
    """Greedy new tokens of `texts` generated as one left-padded batch by transformers, with or without the mask."""
    batch = lm.tokenizer(texts, return_tensors="pt", padding=True).to(lm.hf.device)
    mask = {"attention_mask": batch.attention_mask} if masked else {}
    output = lm.hf.generate(input_ids=batch.input_ids, **mask, max_new_tokens=check_new_tokens, do_sample=False,
                            pad_token_id=lm.tokenizer.eos_token_id)
    return [up_to_eos(row[batch.input_ids.shape[1]:].tolist(), lm.tokenizer.eos_token_id) for row in output]


@torch.no_grad()
def hooked_passes(lm, text: str, layer: int) -> torch.Tensor:
    """The layer output's last-position state on every forward pass of one greedy generate() call: [passes, d]."""
    states = []
    hook = lm.layers[layer].register_forward_hook(
        lambda module, inputs, output: states.append(output_tensor(output)[0, -1].float().cpu()))  # the seed's hook, unguarded
    try:
        lm.hf.generate(**lm.tokenizer(text, return_tensors="pt").to(lm.hf.device), max_new_tokens=check_new_tokens,
                       min_new_tokens=check_new_tokens, do_sample=False, pad_token_id=lm.tokenizer.eos_token_id)
    finally:
        hook.remove()
    return torch.stack(states)


mask_rows, hook_rows = [], []
for key, lm in nb.models([check_model_key], device=device, remote=remote):
    clock = timing.ColdClock(already_s=nb.load_seconds[key])
    lm.require_local("the attention-mask and hook checks (transformers' generate)")
    layer = source_layer(lm.n_layers)
    lm.tokenizer.pad_token = lm.tokenizer.eos_token  # the card's setting (this model's copy is released after the loop)
    texts = [vb.NLA_INSTRUCTION.format(depth=vb.depth_percent(layer, lm.n_layers), placeholder=c) for c in CHECK_CONCEPTS]
    lengths = [len(lm.tokenizer(t).input_ids) for t in texts]
    alone = [greedy_batch(lm, [t], masked=True)[0] for t in texts]  # one prompt: no padding, the mask all ones
    unmasked, masked = greedy_batch(lm, texts, masked=False), greedy_batch(lm, texts, masked=True)
    mask_rows = [{"model": key, "concept": c, "prompt_tokens": n, "padding": max(lengths) - n, "alone": lm.tokenizer.decode(a),
                  "unmasked": lm.tokenizer.decode(u), "unmasked_differs": u != a, "masked_differs": m != a}
                 for c, n, a, u, m in zip(CHECK_CONCEPTS, lengths, alone, unmasked, masked)]
    for item in splits["harmless"]["test"][:N_CHECK]:
        prompt = prompts.format_instruction(lm, item)
        states = hooked_passes(lm, prompt, layer)
        later = torch.nn.functional.cosine_similarity(states[1:], states[:1]) if len(states) > 1 else torch.ones(1)
        workbook = float(torch.nn.functional.cosine_similarity(states[:1], vb.source_activations(lm, [prompt], layer).float().cpu()))
        hook_rows.append({"model": key, "layer": layer, "prompt": item, "fires": len(states), "k": check_new_tokens,
                          "max_later_cosine": float(later.max()), "workbook_capture_cosine": workbook,
                          "bears_out": len(states) == check_new_tokens and float(later.max()) < 0.99})
    timings[f"code_rules:{key}"] = clock.seconds()
mask_check, hook_check = pd.DataFrame(mask_rows), pd.DataFrame(hook_rows)
artifacts.write_csv(out / "attention_mask_check.csv", mask_check)
artifacts.write_csv(out / "hook_passes_check.csv", hook_check)
mask_check[["concept", "prompt_tokens", "padding", "unmasked_differs", "masked_differs"]]

# %%
hook_check[["prompt", "fires", "k", "max_later_cosine", "workbook_capture_cosine", "bears_out"]]

# %%
mask_text = (f"When pad_token equals eos_token the attention mask must be passed explicitly, or generation misbehaves "
             f"({check_model_key}, left-padded batch)")
mask_seed = "pass attention_mask explicitly when pad == eos"
mask_precondition = "the masked batch matches every prompt run alone token for token"
n_differ, n_masked_differ = int(mask_check["unmasked_differs"].sum()), int(mask_check["masked_differs"].sum())
mask_found = (f"unmasked batch differs from the single runs on {n_differ} of {N_CHECK} prompts, the masked batch on "
              f"{n_masked_differ}; {artifacts.counted(int((mask_check['padding'] > 0).sum()), 'prompt')} padded; {check_new_tokens} greedy tokens")
if n_masked_differ:
    claims.append(artifacts.Claim.not_testable("S002-attention-mask", "002", mask_text, mask_seed,
                                               f"{mask_precondition} failed: {mask_found}", mask_precondition))
else:
    rate, low, high = stats.wilson(n_differ, N_CHECK)
    claims.append(artifacts.Claim.tested(
        "S002-attention-mask", "002", mask_text, mask_seed, rate, N_CHECK, low, high, artifacts.Rule.above(0.0),
        precondition=mask_precondition, note=f"value = share of prompts whose unmasked batch output differs; {mask_found}"))
n_bear = int(hook_check["bears_out"].sum())
rate, low, high = stats.wilson(n_bear, N_CHECK)
claims.append(artifacts.Claim.tested(
    "S002-first-pass-only", "002",
    f"During generate() a layer hook fires on every generated token, so the source activation must be captured on the "
    f"first pass only ({check_model_key})", "hook fires on every token; guard to capture the first pass only",
    rate, N_CHECK, low, high, artifacts.Rule.above(0.0, seed_effect=1.0),
    note=f"value = share of prompts on which the hook fired k = {check_new_tokens} times and every later pass's last-position "
    f"state has cosine < 0.99 with the first pass's; fires {span(hook_check['fires'])} times, largest "
    f"later cosine {hook_check['max_later_cosine'].max():.3f}; the workbook's capture vs the first pass: cosine "
    f">= {hook_check['workbook_capture_cosine'].min():.4f}"))
pd.DataFrame([vars(c) for c in claims])[["id", "value_here", "ci_low", "ci_high", "verdict"]]

# %% [markdown]
# ## Numbers for the paper

# %%
macros.add("NSources", n_sources, "{:d}")
macros.add("NWords", n_words, "{:d}")
macros.add("SourceDepth", 100 * source_depth, "{:.0f}")
norm_g = sweep[sweep["mode"] == "normalize"]["garbled"].mean()
mult_g = sweep[sweep["mode"] == "multiply"]["garbled"].mean()
macros.add("NormalizeGarbled", 100 * norm_g, "{:.0f}")
macros.add("MultiplyGarbled", 100 * mult_g, "{:.0f}")
garbled_rows = sweep[sweep["garbled"]]
macros.add("GarbledEmpty", 100 * garbled_rows["empty"].mean() if len(garbled_rows) else 0.0, "{:.0f}")  # of the garbled outputs, the share that are empty
emptiest = sweep.groupby("model", sort=False)["empty"].mean().sort_values()
macros.add("EmptiestModel", emptiest.index[-1])
macros.add("EmptiestModelEmpty", 100 * emptiest.iloc[-1], "{:.0f}")
emptiest_garbled = garbled_rows[garbled_rows["model"] == emptiest.index[-1]]
macros.add("EmptiestGarbledEmpty", 100 * emptiest_garbled["empty"].mean() if len(emptiest_garbled) else 0.0, "{:.0f}")
macros.add("OtherModelsEmptyMax", 100 * emptiest.iloc[:-1].max() if len(emptiest) > 1 else 0.0, "{:.0f}")
best = accuracy.sort_values("accuracy").iloc[-1]
macros.add("PatchBestAccuracy", 100 * best["accuracy"], "{:.0f}")
macros.add("PatchBestModel", best["model"])
macros.add("PatchBestLayer", int(best["source_layer"]), "{:d}")
last = accuracy[accuracy["depth"] >= 0.5]
macros.add("PatchDeepAccuracy", 100 * last["accuracy"].mean() if len(last) else 0.0, "{:.0f}")
hit_p1 = precision_at_1[precision_at_1["metric"] == "hit"]
best_p1 = hit_p1.sort_values("rate").iloc[-1]
macros.add("PrecisionBest", 100 * best_p1["rate"], "{:.0f}")
macros.add("PrecisionBestModel", best_p1["model"])
macros.add("PrecisionBestLayer", int(best_p1["source_layer"]), "{:d}")
deep_p1 = hit_p1[hit_p1["depth"] >= source_depth]
macros.add("PrecisionDeep", 100 * deep_p1["rate"].mean(), "{:.0f}", missing="n/a")  # mean over layers at >= the seed's depth
macros.add("PrecisionUnpatched", 100 * precision["unpatched_hit"].mean(), "{:.0f}")
macros.add("SelfPatchSame", 100 * precision["self_patch_same"].mean(), "{:.0f}")  # share of all (source, layer) patches
macros.add("SelfPatchSameMin", 100 * precision_at_1.loc[precision_at_1["metric"] == "self_patch_same", "rate"].min(), "{:.0f}")  # worst layer
macros.add("NPrecisionSources", len(precision_texts), "{:d}")
macros.add("CutShare", 100 * pd.concat([sweep["cut"], verbal["cut"]]).mean(), "{:.0f}")
macros.add("MaxNewTokens", max_new_tokens, "{:d}")
for row in stats.rate_table(verbal, ["kind"], "hit").itertuples():  # real and shuffled sources
    macros.add(f"Hit{row.kind.capitalize()}", 100 * row.rate, "{:.0f}")
    macros.add(f"Hit{row.kind.capitalize()}CI", f"[{100 * row.low:.0f}, {100 * row.high:.0f}]")
    macros.add(f"Hit{row.kind.capitalize()}N", row.n, "{:d}")
verdict_of = {c.id: c.verdict for c in claims}
macros.add("CheckModel", check_model_key)
macros.add("SeedPlaceholderId", SEED_PLACEHOLDER_ID, "{:d}")
macros.add("CheckNewTokens", check_new_tokens, "{:d}")
macros.add("PlaceholderSummary", "; ".join(f"{artifacts.counted(r.n_tokens, 'token')} ({r.ids}) for {r.model}" for r in placeholders.itertuples()))
macros.add("MaskPrompts", artifacts.counted(N_CHECK, "prompt"))
macros.add("MaskPadded", int((mask_check["padding"] > 0).sum()), "{:d}")
macros.add("MaskDiffer", n_differ, "{:d}")
macros.add("MaskedDiffer", n_masked_differ, "{:d}")
macros.add("MaskVerdict", verdict_of["S002-attention-mask"])
macros.add("HookFires", span(hook_check["fires"]))
macros.add("HookMaxCosine", hook_check["max_later_cosine"].max(), "{:.2f}")
macros.add("HookVerdict", verdict_of["S002-first-pass-only"])
macros.add("Minutes", sum(timings.values()) / 60, "{:.0f}")
nb.finish(claims)  # the claims ledger and the paper's macros
artifacts.write_json(out / "run.json", {"timings_s": timings})
timings
