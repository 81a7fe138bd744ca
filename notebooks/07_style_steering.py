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
# # 07 · Style steering on the dev split: four axes, the α phase diagram, and a setting per axis
#
# Seed 000 steers Qwen3-0.6B toward four styles (terse, formal, socratic, dry-wit) with ActAdd
# vectors: the mean over all positions of a chat-templated positive instruction minus the same for a
# negative one, added at every position during generation. Its headline table: a unit vector at
# α = 0.2 does nothing, the raw vector at α = 2 (~8 % of the residual norm) makes answers terse, and
# α ≥ 3 collapses coherence; its layer sweep assigns roles to depth bands. This notebook is the dev half
# of that protocol on the embedded instruct models; `07_style_test` runs the settings chosen here, and the
# seed's own, on the held-out questions.
#
# 1. **Splits.** The workbook's neutral questions split into dev and test once, here, for both notebooks.
# 2. **Vectors.** 01's style vectors in the seed's recipe (mean over all positions) and a last-token
#    recipe, compared by cosine. α is expressed as a fraction of the residual norm of the non-first
#    tokens (the first token's massive activation is excluded from the statistic) on these questions.
# 3. **Phase diagram.** Every axis × layer × normalized α: answer length, the axis's own measure,
#    coherence (the unsteered model's cross-entropy on the steered text) and the garbled rate, each
#    paired with the unsteered answer to the same question; each cell is labelled dead, effective,
#    opposite, degraded or collapse (rules below), and the layer and α per axis are chosen.
# 4. **The seed's layer claims** that the sweep decides: the best layer, the depth bands' roles, and
#    the contrast's signal-to-noise ratio against the vector's norm as a predictor of steerability.

# %% tags=["parameters"]
profile = "default"
remote = False  # True: run hub models on NDIF through nnsight (README, "Scale-out"); needs NDIF_API_KEY
model_keys = ["smollm2-135m", "qwen2.5-0.5b"]
device = "cpu"
axes = ["terse", "formal", "socratic", "dry-wit"]
sweep_depths = [0.1, 0.25, 0.4, 0.55, 0.7, 0.85]  # layer / n_layers of the swept layers (early, middle and late)
alpha_fractions = [0.05, 0.15, 0.4, 1.0]  # added norm as a fraction of the non-first-token residual norm
seed_best_layer_fraction = 12 / 28  # seed 000's layer sweep found L12 of Qwen3-0.6B's 28 best
dev_share = 0.2  # of the held-out questions; the rest is the test split (07_style_test)
n_dev = 24  # dev questions per sweep cell
dev_tokens = 96  # dev answers: long enough to see length move, short enough for the sweep's cells
p_effect = 0.05  # a cell is effective when its paired Wilcoxon p is below this, in the named direction
degraded_garbled = 0.25  # garbled rate above which a cell is degraded
collapse_garbled = 0.5  # garbled rate at or above which a cell has collapsed ...
collapse_nll = 2.0  # ... or when its mean cross-entropy rises by this many nats per token
best_layer_tolerance = 0.15  # "best layer L12 of 28" holds if the chosen depth is within this of 12/28
n_bootstrap = 2000
early_depth = 0.26  # seed 000's early layers, L0-7 of 28
middle_depths = (0.39, 0.62)  # its middle band, L11-17 of 28, where steering works
formatting_depths = (0.64, 0.79)  # its "formatting" band, L18-22 of 28
late_depths = (0.82, 1.0)  # its "distortion" band, L23-27 of 28
batch_size = 128  # generation throughput on this CPU still grows past batch 64
seed = 0

# %%
import json
import re
import time

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.colors import ListedColormap
from scipy import stats as scipy_stats

from lib import activations as act
from lib import artifacts, directions, handoffs, notebook, paired, plotting, prompts, stats, steering_settings, style_runs, stylemetrics
from lib.paths import DATA_DIR
from lib.style_runs import one_row, steered

NOTEBOOK = "07_style_steering"
nb = notebook.start(NOTEBOOK, prefix="Style", seed=seed)  # seeds, determinism, plotting, results folder
out = nb.out
macros = nb.macros

unknown = sorted(set(axes) - set(stylemetrics.AXES))
if unknown:
    raise ValueError(f"Unknown style axes {unknown}: use some of {', '.join(stylemetrics.AXES)}.")
if "terse" not in axes:
    raise ValueError("axes must include 'terse': seed 000's claims are about the terse vector.")
question_data = json.loads((DATA_DIR / "questions" / "neutral.json").read_text())
split = prompts.split_items(question_data["questions"], {"dev": dev_share, "test": 1 - dev_share}, seed=seed)
if len(split["dev"]) < n_dev:
    raise ValueError(f"The dev split holds {len(split['dev'])} questions, fewer than n_dev = {n_dev}: lower it or raise dev_share.")
dev_questions = split["dev"][:n_dev]
splits = {"dev": dev_questions, "test": split["test"], "probes": question_data["probes"]}
print({"dev": len(dev_questions), "test": len(split["test"]), "probes": len(question_data["probes"]), "axes": axes})

# %% [markdown]
# ## Per model: norms, recipes, the dev sweep, the chosen settings
# Each model is loaded once. Every condition of the sweep runs as one batched greedy generation
# (rows carry their own intervention), then every answer is measured and scored for coherence
# (`lib/style_runs.py`).


# %%
def sweep_conditions(lm, style, norms) -> dict:
    conditions = {style_runs.UNSTEERED: style_runs.unsteered()}
    for axis in axes:
        for depth in sweep_depths:
            layer = style_runs.layer_at(depth, lm.n_layers)
            for f in alpha_fractions:
                vector = style_runs.scaled(style[f"{axis}/mean_all"][layer], f, float(norms.loc[layer, "rest"]))
                conditions[f"{axis}|L{layer}|f{f}"] = steered(axis, "sweep", {layer: vector}, layer=layer, depth=layer / lm.n_layers, alpha_fraction=f)
    return conditions


def question_contrasts(lm, questions: list[str], pair: dict, layers: list[int]) -> np.ndarray:
    """C-8's noise: per dev question, the terse contrast in the seed's recipe (mean over all positions, positive minus
    negative instruction) with the instruction as the system message and the question as the user's: [questions,
    layers, d]. Their mean is the signal; their spread around it, the noise."""
    texts = [prompts.format_instruction(lm, q, system=pair[side]) for side in ("positive", "negative") for q in questions]
    features = act.capture(lm, texts, layers, act.mean_tokens(), batch_size=batch_size, progress=False).numpy()
    return features[: len(questions)] - features[len(questions):]


# %% [markdown]
# ### Labelling a cell of the sweep
# Rules fixed before the numbers. An answer is garbled when seed 003's classifier flags it or when a
# pattern of at most four tokens repeats four times in a row (a token loop). Against the unsteered
# answers to the same dev questions: a cell has **collapsed** when its garbled rate is ≥ `collapse_garbled` or its mean cross-entropy rises by ≥
# `collapse_nll` nats per token; it is **degraded** when its garbled rate exceeds `degraded_garbled`;
# it is **effective** when the axis's own measure moves the way the axis is named (paired Wilcoxon
# p < `p_effect`); **opposite** when it moves significantly the other way; otherwise **dead**.
# The chosen setting per axis is the effective cell with the largest mean move (ties: smaller α).

# %%
PHASES = ["dead", "effective", "opposite", "degraded", "collapse"]
PHASE_COLORS = ["#d9d9d9", "#1b9e77", "#7570b3", "#e6ab02", "#d95f02"]


def directed(frame: pd.DataFrame, axis: str) -> np.ndarray:
    """The axis measure per item, signed so that larger = more of the named style."""
    return stylemetrics.DIRECTION[axis] * frame.sort_values("item")[f"m_{axis}"].to_numpy(dtype=float)


def label_cell(cell: pd.DataFrame, base: pd.DataFrame, axis: str) -> dict:
    move = paired.paired_continuous(directed(cell, axis), directed(base, axis), n_resamples=200, seed=seed)
    nll = paired.paired_continuous(cell.sort_values("item")["nll"], base.sort_values("item")["nll"], n_resamples=200, seed=seed)
    garbled = float(cell["garbled"].mean())
    if garbled >= collapse_garbled or nll["difference"] >= collapse_nll:
        phase = "collapse"
    elif garbled > degraded_garbled:
        phase = "degraded"
    elif move["p_wilcoxon"] < p_effect:
        phase = "effective" if move["difference"] > 0 else "opposite"
    else:
        phase = "dead"
    return {"phase": phase, "move": move["difference"], "move_low": move["low"], "move_high": move["high"], "p_move": move["p_wilcoxon"],
            "garbled": garbled, "delta_nll": nll["difference"], "words": float(cell["words"].mean()), "n": move["n"]}


def label_sweep(frame: pd.DataFrame) -> pd.DataFrame:
    base = frame[frame["condition"] == "unsteered"]
    rows = []
    for name, cell in frame[frame["kind"] == "sweep"].groupby("condition", sort=False):
        first = cell.iloc[0]
        rows.append({"condition": name, "axis": first["axis"], "layer": int(first["layer"]), "depth": first["depth"],
                     "alpha_fraction": first["alpha_fraction"], "added_norm": first["added_norm"], **label_cell(cell, base, first["axis"])})
    return pd.DataFrame(rows)


def choose(labels: pd.DataFrame) -> dict:
    chosen = {}
    for axis, part in labels.groupby("axis"):
        pool = part[part["phase"] == "effective"]
        effective = len(pool) > 0
        if not effective:  # nothing works: take the largest move that is at least not degraded or collapsed
            pool = part[part["phase"].isin(["dead", "opposite"])]
            pool = pool if len(pool) else part
        best = pool.sort_values(["move", "alpha_fraction"], ascending=[False, True]).iloc[0]
        chosen[axis] = {"layer": int(best["layer"]), "depth": float(best["depth"]), "alpha_fraction": float(best["alpha_fraction"]),
                        "effective_on_dev": effective, "dev_move": float(best["move"])}
    return chosen


# %%
sweep_tables, label_tables, norm_tables, recipe_rows, chosen_rows, timings = [], [], [], [], [], {}
contrasts, n_layers_of = {}, {}
for key, lm in nb.models(model_keys, device=device, remote=remote):
    t0 = time.time() - nb.load_seconds[key]  # the sweep time includes the load, as before
    n_layers_of[key] = lm.n_layers
    style, style_meta = handoffs.load_style_vectors(key)
    missing = [f"{a}/{r}" for a in axes for r in ("mean_all", "last") if f"{a}/{r}" not in style]
    if missing:
        raise ValueError(f"01_extraction saved no style vectors {missing} for {key}: rerun 01 with this model.")
    norms = style_runs.residual_norms(lm, [prompts.format_instruction(lm, q) for q in dev_questions], batch_size).set_index("layer")
    norm_tables.append(norms.reset_index().assign(model=key))
    for axis in axes:
        for layer in range(lm.n_layers):
            v = {r: style[f"{axis}/{r}"][layer] for r in ("mean_all", "mean_skip_first", "last")}
            recipe_rows.append({"model": key, "axis": axis, "layer": layer, "depth": layer / lm.n_layers,
                                "cos_mean_all_vs_last": float(directions.cosine(v["mean_all"], v["last"])),
                                "cos_mean_all_vs_skip_first": float(directions.cosine(v["mean_all"], v["mean_skip_first"])),
                                "raw_norm_over_rest": float(v["mean_all"].norm()) / float(norms.loc[layer, "rest"]),
                                "raw_norm_over_all": float(v["mean_all"].norm()) / float(norms.loc[layer, "all"])})
    sweep = style_runs.run_conditions(lm, sweep_conditions(lm, style, norms), [("question", q) for q in dev_questions], dev_tokens, batch_size)
    sweep_tables.append(sweep.assign(model=key))
    labels = label_sweep(sweep).assign(model=key)
    label_tables.append(labels)
    chosen = choose(labels)
    chosen_rows += [{"model": key, "axis": a, **c} for a, c in chosen.items()]
    contrasts[key] = question_contrasts(lm, dev_questions, style_meta["pairs"]["terse"], sorted(int(l) for l in labels["layer"].unique()))
    timings[key] = {"sweep_s": round(time.time() - t0, 1)}
    print(key, timings[key], {a: (c["layer"], c["alpha_fraction"], c["effective_on_dev"]) for a, c in chosen.items()})

sweep = pd.concat(sweep_tables, ignore_index=True)
labels = pd.concat(label_tables, ignore_index=True)
norm_profile = pd.concat(norm_tables, ignore_index=True)
recipes = pd.DataFrame(recipe_rows)
chosen = pd.DataFrame(chosen_rows)
steering_settings.save_style_choice(chosen, norm_profile, splits)  # what 07_style_test and 08 steer with
for name, frame in (("sweep_outputs", sweep), ("phases", labels), ("recipes", recipes)):
    artifacts.write_csv(out / f"{name}.csv", frame)
chosen


# %% [markdown]
# ## 1 · Recipes: the seed's all-position mean versus the last token
# Cosine between the two recipes of each axis at every layer, and the raw vector's norm as a fraction
# of the residual norm: against the non-first tokens (what steering perturbs) and against the mean
# over all positions (the seed's denominator, inflated by the first token).

# %%
fig, axs = plt.subplots(1, 2, figsize=(10, 3.4))
sns.lineplot(data=recipes, x="depth", y="cos_mean_all_vs_last", hue="axis", style="model", ax=axs[0])
axs[0].set(xlabel="layer / L", ylabel="cosine", title="mean over positions vs last token")
long = recipes.melt(id_vars=["model", "axis", "depth"], value_vars=["raw_norm_over_rest", "raw_norm_over_all"], var_name="denominator", value_name="ratio")
long = long[long["axis"] == "terse"]
long["denominator"] = long["denominator"].map({"raw_norm_over_rest": "non-first tokens", "raw_norm_over_all": "all positions (seed)"})
sns.lineplot(data=long, x="depth", y="ratio", hue="model", style="denominator", ax=axs[1])
axs[1].set(xlabel="layer / L", ylabel="‖v‖ / residual norm", title="raw terse vector, relative size", yscale="log")
plotting.save_figure(fig, NOTEBOOK, "recipes")
plt.show()
recipes.groupby(["model", "axis"])[["cos_mean_all_vs_last", "cos_mean_all_vs_skip_first"]].median().round(3)

# %% [markdown]
# ## 2 · The α phase diagram (dev split)
# Each cell: one axis, one layer, one α (fraction of the non-first-token residual norm), labelled by
# the rules above on `n_dev` dev questions; the number is the mean move of the axis measure in the
# named direction (words for terse, markers per 100 words for formal, question share for socratic,
# enthusiasm per 100 words for dry-wit). The outlined cell is the one chosen for the test split.

# %%
cmap = ListedColormap(PHASE_COLORS)
fig, grid = plt.subplots(len(model_keys), len(axes), figsize=(3.0 * len(axes), 2.4 * len(model_keys) + 0.6), squeeze=False)
for r, key in enumerate(model_keys):
    for c, axis in enumerate(axes):
        ax = grid[r, c]
        part = labels[(labels["model"] == key) & (labels["axis"] == axis)]
        codes = part.pivot(index="depth", columns="alpha_fraction", values="phase").map(PHASES.index)
        moves = part.pivot(index="depth", columns="alpha_fraction", values="move")
        ax.imshow(codes.to_numpy(), cmap=cmap, vmin=-0.5, vmax=len(PHASES) - 0.5, aspect="auto", origin="lower")
        for (i, j), value in np.ndenumerate(moves.to_numpy()):
            ax.text(j, i, f"{value:.2g}", ha="center", va="center", fontsize=6)
        pick = chosen[(chosen["model"] == key) & (chosen["axis"] == axis)].iloc[0]
        i, j = list(codes.index).index(pick["depth"]), list(codes.columns).index(pick["alpha_fraction"])
        ax.add_patch(plt.Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, lw=2, ec="black"))
        ax.set_xticks(range(len(codes.columns)), [f"{x:g}" for x in codes.columns], fontsize=7)
        ax.set_yticks(range(len(codes.index)), [f"{x:.2f}" for x in codes.index], fontsize=7)
        ax.set_title(f"{key} · {axis}", fontsize=8)
        ax.grid(False)
        if c == 0:
            ax.set_ylabel("layer / L")
        if r == len(model_keys) - 1:
            ax.set_xlabel("α / residual norm")
handles = [plt.Rectangle((0, 0), 1, 1, color=col) for col in PHASE_COLORS]
fig.legend(handles, PHASES, loc="upper center", ncol=len(PHASES), bbox_to_anchor=(0.5, 1.04), fontsize=8)
fig.tight_layout()
plotting.save_figure(fig, NOTEBOOK, "phase_diagram")
plt.show()


# %%
def boundaries(part: pd.DataFrame) -> dict:
    """Where the phases begin along α at one layer: first effective α and first collapsed α (NaN if none)."""
    part = part.sort_values("alpha_fraction")
    first = lambda phases: float(part[part["phase"].isin(phases)]["alpha_fraction"].min()) if part["phase"].isin(phases).any() else np.nan
    return {"effective_from": first(["effective"]), "degraded_from": first(["degraded", "collapse"]), "collapse_from": first(["collapse"])}


boundary_rows = []
for (key, axis, layer), part in labels.groupby(["model", "axis", "layer"]):
    boundary_rows.append({"model": key, "axis": axis, "layer": layer, "depth": float(part["depth"].iloc[0]), **boundaries(part)})
phase_bounds = pd.DataFrame(boundary_rows)
artifacts.write_csv(out / "phase_boundaries.csv", phase_bounds)
phase_bounds.round(3)

# %% [markdown]
# ## 3 · Length versus layer
# Mean answer length (words, within `dev_tokens` new tokens) under the terse vector at each swept
# layer and α; the dashed line is the unsteered mean.

# %%
terse_sweep = labels[labels["axis"] == "terse"]
g = sns.relplot(data=terse_sweep, x="depth", y="words", hue="alpha_fraction", col="model", kind="line", marker="o",
                palette="viridis", height=3, aspect=1.2, facet_kws={"sharey": False})
for ax, key in zip(g.axes.flat, model_keys):
    base = sweep[(sweep["model"] == key) & (sweep["condition"] == "unsteered")]["words"].mean()
    ax.axhline(base, color="grey", ls="--", lw=1)
g.set_axis_labels("layer / L", f"words (≤ {dev_tokens} tokens)")
g.legend.set_title("α / norm")
plotting.save_figure(g.figure, NOTEBOOK, "length_vs_layer")
plt.show()


# %% [markdown]
# ## 4 · Seed 000's layer claims, with verdicts
# Rules, fixed before the numbers (`lib/verdicts.py`), on the dev sweep; each verdict is reproduced, not
# reproduced or inconclusive by its interval (the test-split claims are in `07_style_test`):
# - *best layer L12/28*: reproduced when the effective depths on dev lie within
#   `best_layer_tolerance` of 12/28; testable only where some terse cell is effective;
# - *early layers collapse*: of the dev cells shallower than `early_depth` at an α where some cell of the
#   same axis within `middle_depths` is effective, the share labelled degraded or collapsed; reproduced where
#   its Wilson interval lies above 0.5, not reproduced where it lies below.
# - *layer roles* (C-1..4), each paired over the axis × α combinations: the *sweet spot*, the share
#   of effective cells within `middle_depths` minus the share at the other swept depths (reproduced above 0); the
#   *formatting* band, the change in the share of answers with markdown (absolute, against unsteered) within
#   `formatting_depths` minus within `middle_depths` (above 0); the *late distortion*, the early-collapse rule applied to
#   the cells within `late_depths` (Wilson interval above 0.5);
# - *SNR predicts steerability, norm does not* (C-8): across the swept layers, Spearman's ρ of the contrast's SNR (the
#   norm of the mean per-question terse contrast over the RMS spread of the per-question contrasts around it) with the
#   terse move at the chosen α, minus ρ of the vector's relative norm with it; reproduced where the interval (dev
#   questions resampled) lies above 0. At a fixed α fraction the vector's norm does not set the perturbation, so both
#   properties compete as predictors of how well its *direction* steers.

# %%
def best_layer_claim(key: str) -> artifacts.Claim:
    """Seed 000's layer sweep found L12 of 28 best: the dev-chosen terse depth within tolerance of 12/28."""
    pick = one_row(chosen, model=key, axis="terse")
    effective = labels[(labels["model"] == key) & (labels["axis"] == "terse") & (labels["phase"] == "effective")]["depth"]
    claim_id, text = f"S000-best-layer-{key}", f"The best terse layer is at 12/28 of the depth ({key})"
    if not pick["effective_on_dev"] or effective.empty:
        return artifacts.Claim.not_testable(claim_id, "000", text, f"{seed_best_layer_fraction:.2f}",
                                            "no terse cell of the dev sweep is effective, so no layer is best",
                                            "an effective terse cell on dev")
    return artifacts.Claim.tested(
        claim_id, "000", text, f"{seed_best_layer_fraction:.2f}", pick["depth"], n_dev,
        min(effective.min(), pick["depth"]), max(effective.max(), pick["depth"]),
        artifacts.Rule.between(seed_best_layer_fraction - best_layer_tolerance, seed_best_layer_fraction + best_layer_tolerance),
        "an effective terse cell on dev",
        f"value = depth chosen on dev (layer {int(pick['layer'])} of {n_layers_of[key]}); interval = range of depths with an effective cell")

def in_band(depths: pd.Series, band: tuple[float, float]) -> np.ndarray:
    """Depths in [low, high): half-open, so that adjacent bands share no layer."""
    return ((depths >= band[0]) & (depths < band[1])).to_numpy()


def band_collapse_claim(key: str, claim_id: str, text: str, seed_value: str, band: tuple[float, float]) -> artifacts.Claim:
    """Seed 000: steering outside its middle band drifts or collapses. Of the dev cells in `band` at an α where some
    cell of the same axis within `middle_depths` is effective, the share labelled degraded or collapsed (Wilson
    interval over those cells)."""
    precondition = f"some cell at depth {middle_depths[0]:g}-{middle_depths[1]:g} is effective on dev"
    part = labels[labels["model"] == key]
    middle = part[part["depth"].between(*middle_depths) & (part["phase"] == "effective")]
    working = set(zip(middle["axis"], middle["alpha_fraction"]))
    at_working_alpha = np.array([(a, f) in working for a, f in zip(part["axis"], part["alpha_fraction"])], dtype=bool)
    cells = part[in_band(part["depth"], band) & at_working_alpha]
    if cells.empty:
        return artifacts.Claim.not_testable(claim_id, "000", text, seed_value,
                                            f"no effective middle cell{'' if middle.empty else ' with a cell of this band at its α'}", precondition)
    k = int(cells["phase"].isin(["degraded", "collapse"]).sum())
    rate, low, high = stats.wilson(k, len(cells))
    return artifacts.Claim.tested(
        claim_id, "000", text, seed_value, rate, len(cells), low, high, artifacts.Rule.above(0.5), precondition,
        f"value = share of cells at depth {band[0]:g}-{band[1]:g} degraded or collapsed: {k} of {len(cells)}; their phases: "
        + ", ".join(f"{p} {n}" for p, n in cells["phase"].value_counts().items()))


def early_collapse_claim(key: str) -> artifacts.Claim:
    return band_collapse_claim(key, f"S000-early-layer-collapse-{key}", f"Early-layer steering collapses where middle layers steer ({key})",
                               "L0-7 drift (C-1, confirmed); repository sweep: L2-6 collapse (Qwen3-0.6B, 28 layers)", (0.0, early_depth))


def late_distortion_claim(key: str) -> artifacts.Claim:
    return band_collapse_claim(key, f"S000-layer-roles-late-distortion-{key}", f"Late-layer steering distorts where middle layers steer ({key})",
                               "L23-27 distortion (C-4, confirmed; Qwen3-0.6B, 28 layers)", late_depths)


def per_combination(part: pd.DataFrame, value: str, band: tuple[float, float], outside: bool = False) -> pd.Series:
    """Mean of `value` over the dev cells in `band` (or outside it), per axis x α: the unit the layer-role claims pair on."""
    inside = in_band(part["depth"], band)
    return part[~inside if outside else inside].groupby(["axis", "alpha_fraction"])[value].mean()


def sweet_spot_claim(key: str) -> artifacts.Claim:
    """C-2: the middle band is the sweet spot. Per axis x α, the share of effective cells in `middle_depths` minus the
    share at the other swept depths, paired over the axis x α combinations."""
    claim_id, text = f"S000-layer-roles-sweet-spot-{key}", f"Style steering works best in the middle layers ({key})"
    seed_value, precondition = "L12-17 sweet spot (C-2, confirmed; Qwen3-0.6B)", "an effective dev cell, and swept depths inside and outside the band"
    part = labels[labels["model"] == key].assign(effective=lambda f: (f["phase"] == "effective").astype(float))
    both = pd.concat({"middle": per_combination(part, "effective", middle_depths),
                      "other": per_combination(part, "effective", middle_depths, outside=True)}, axis=1).dropna()
    if both.empty or not part["effective"].any():
        return artifacts.Claim.not_testable(claim_id, "000", text, seed_value, "no effective dev cell, or no swept depth on one side of the band", precondition)
    result = paired.paired_continuous(both["middle"], both["other"], n_resamples=n_bootstrap, seed=seed)
    return artifacts.Claim.tested(
        claim_id, "000", text, seed_value, result["difference"], result["n"], result["low"], result["high"], artifacts.Rule.above(0.0),
        precondition, f"value = share of effective cells at depth {middle_depths[0]:g}-{middle_depths[1]:g} minus elsewhere "
                      f"({result['mean']:.2f} vs {result['reference_mean']:.2f}), paired over {result['n']} axis x α combinations")


# Markdown a chat model writes: headers, list items, bold, code fences. Seed 000's "formatting" layers change these.
MARKDOWN = re.compile(r"^\s*(?:#{1,6}\s|[-*+]\s|\d+[.)]\s)|\*\*|```", re.MULTILINE)


def formatting_claim(key: str) -> artifacts.Claim:
    """C-3: the formatting band changes formatting. Per dev cell, |share of answers with markdown - the unsteered share|;
    per axis x α, its mean in `formatting_depths` minus its mean in `middle_depths`, paired over the combinations."""
    claim_id, text = f"S000-layer-roles-formatting-{key}", f"Steering in the formatting layers changes formatting more than in the middle ({key})"
    seed_value, precondition = "L18-22 formatting (C-3, confirmed; Qwen3-0.6B)", "swept depths in both bands, and markdown in some dev answer"
    answers = sweep[sweep["model"] == key].assign(markdown=lambda f: f["text"].map(lambda t: bool(MARKDOWN.search(t))).astype(float))
    if not answers["markdown"].any():  # a floor: no answer formats, so no change of formatting could be seen
        return artifacts.Claim.not_testable(claim_id, "000", text, seed_value, f"no dev answer has markdown (within {dev_tokens} tokens)", precondition)
    base = float(answers.loc[answers["condition"] == "unsteered", "markdown"].mean())
    shift = (answers[answers["kind"] == "sweep"].groupby("condition")["markdown"].mean() - base).abs().rename("markdown_shift")
    part = labels[labels["model"] == key].join(shift, on="condition")
    both = pd.concat({"formatting": per_combination(part, "markdown_shift", formatting_depths),
                      "middle": per_combination(part, "markdown_shift", middle_depths)}, axis=1).dropna()
    if both.empty:
        return artifacts.Claim.not_testable(claim_id, "000", text, seed_value, "the depth grid has no layer in one of the two bands", precondition)
    result = paired.paired_continuous(both["formatting"], both["middle"], n_resamples=n_bootstrap, seed=seed)
    return artifacts.Claim.tested(
        claim_id, "000", text, seed_value, result["difference"], result["n"], result["low"], result["high"], artifacts.Rule.above(0.0),
        precondition, f"value = change in the share of answers with markdown (absolute, against unsteered {base:.2f}) at depth "
                      f"{formatting_depths[0]:g}-{formatting_depths[1]:g} minus at {middle_depths[0]:g}-{middle_depths[1]:g}, "
                      f"paired over {result['n']} axis x α combinations")


def terse_effective(key: str) -> bool:
    return bool(one_row(chosen, model=key, axis="terse")["effective_on_dev"])


def layer_profiles(key: str, rows: np.ndarray) -> dict[str, np.ndarray]:
    """Per swept layer, on dev questions `rows`: the terse move (words saved at the chosen α), the contrast's SNR
    (norm of the mean per-question contrast over the RMS spread around it), its split-half stability (cosine of the
    two halves' means) and the relative norm of 01's terse vector."""
    part = sweep[sweep["model"] == key]
    alpha = one_row(chosen, model=key, axis="terse")["alpha_fraction"]
    layers = sorted(int(l) for l in labels.loc[labels["model"] == key, "layer"].unique())
    base = directed(part[part["condition"] == "unsteered"], "terse")
    move = np.array([(directed(part[part["condition"] == f"terse|L{l}|f{alpha}"], "terse") - base)[rows].mean() for l in layers])
    d = contrasts[key][rows]  # [questions, layers, d_model]
    signal = d.mean(0)
    snr = np.linalg.norm(signal, axis=-1) / np.sqrt((np.linalg.norm(d - signal, axis=-1) ** 2).mean(0))
    first, second = d[: len(rows) // 2].mean(0), d[len(rows) // 2 :].mean(0)
    stability = (first * second).sum(-1) / (np.linalg.norm(first, axis=-1) * np.linalg.norm(second, axis=-1))
    norm = recipes[(recipes["model"] == key) & (recipes["axis"] == "terse")].set_index("layer").loc[layers, "raw_norm_over_rest"].to_numpy()
    return {"move": move, "snr": snr, "stability": stability, "norm": norm}


def snr_claim(key: str) -> artifacts.Claim:
    """C-8: steerability follows the contrast's SNR, not its norm. Across the swept layers, Spearman's rho of SNR with
    the terse move minus rho of the vector's relative norm with it; interval: dev questions resampled (the moves and
    the SNR recomputed on each resample)."""
    claim_id, text = f"S000-snr-predicts-{key}", f"How well a layer steers follows the contrast's SNR better than its norm ({key}, terse)"
    seed_value, precondition = "C-8 confirmed: steerability = stability + SNR, not norm (Qwen3-0.6B)", "an effective terse cell on dev"
    if not terse_effective(key):
        return artifacts.Claim.not_testable(claim_id, "000", text, seed_value, "no terse cell of the dev sweep is effective", precondition)
    rho = lambda x, y: scipy_stats.spearmanr(x, y).statistic
    def advantage(rows):
        p = layer_profiles(key, rows)
        return rho(p["snr"], p["move"]) - rho(p["norm"], p["move"])
    value, low, high = stats.cluster_bootstrap_ci(advantage, np.arange(len(contrasts[key])), n_resamples=n_bootstrap, seed=seed)
    p = layer_profiles(key, np.arange(len(contrasts[key])))
    return artifacts.Claim.tested(
        claim_id, "000", text, seed_value, value, len(contrasts[key]), min(low, value), max(high, value), artifacts.Rule.above(0.0),
        precondition, f"value = rho(SNR, move) {rho(p['snr'], p['move']):+.2f} minus rho(norm, move) {rho(p['norm'], p['move']):+.2f} "
                      f"over {len(p['move'])} swept layers; rho(stability, move) {rho(p['stability'], p['move']):+.2f}; interval: "
                      f"{n_bootstrap} resamples of the dev questions (widened to the estimate where a rank statistic's percentiles miss it)")


claims = []
for key in model_keys:
    claims += [best_layer_claim(key), early_collapse_claim(key), late_distortion_claim(key), sweet_spot_claim(key), formatting_claim(key),
               snr_claim(key)]
pd.DataFrame([vars(c) for c in claims])[["id", "value_here", "ci_low", "ci_high", "verdict"]]

# %% [markdown]
# ## Wall time per model

# %%
pd.DataFrame(timings).T

# %% [markdown]
# ## Numbers for the paper
# Headline numbers are given for the largest model run; every model's are in the CSV files.

# %%
sizes = {key: int(handoffs.load_model_facts()[key]["n_params"]) for key in model_keys}
large = max(model_keys, key=sizes.get)
macros.add("Models", ", ".join(model_keys))
macros.add("LargeModel", large)
macros.add("NDev", n_dev, "{:d}")
macros.add("DevTokens", dev_tokens, "{:d}")
macros.add("NCells", int((labels["model"] == large).sum()), "{:d}")
for phase in PHASES:
    macros.add(f"Cells {phase}", int(((labels["model"] == large) & (labels["phase"] == phase)).sum()), "{:d}")
for axis in axes:
    pick = one_row(chosen, model=large, axis=axis)
    macros.add(f"{axis} layer", int(pick["layer"]), "{:d}")
    macros.add(f"{axis} alpha", pick["alpha_fraction"], "{:g}")
effective_axes = {key: [a for a in axes if ((labels["model"] == key) & (labels["axis"] == a) & (labels["phase"] == "effective")).any()]
                  for key in model_keys}
macros.add("Effective axes", "; ".join(f"{key}: {', '.join(found) or 'none'}" for key, found in effective_axes.items()))
collapsing = [key for key in model_keys if ((labels["model"] == key) & (labels["phase"] == "collapse")).any()]
macros.add("Collapse models", ", ".join(collapsing) or "neither model")
for name, prefix in (("Verdict layer", "S000-best-layer"), ("Verdict sweet spot", "S000-layer-roles-sweet-spot"),
                     ("Verdict formatting", "S000-layer-roles-formatting"), ("Verdict late", "S000-layer-roles-late-distortion"),
                     ("Verdict early", "S000-early-layer-collapse"), ("Verdict snr", "S000-snr-predicts")):
    macros.add(name, style_runs.verdict_phrase(prefix, claims))
verdicts = pd.Series([c.verdict for c in claims])
macros.add("Claims reproduced", int((verdicts == "reproduced").sum()), "{:d}")
macros.add("Claims total", len(claims), "{:d}")
macros.add("Middle band", f"{middle_depths[0]:g}--{middle_depths[1]:g}")
macros.add("Formatting band", f"{formatting_depths[0]:g}--{formatting_depths[1]:g}")
macros.add("Late band", f"{late_depths[0]:g}")
macros.add("Early depth", early_depth, "{:g}")
macros.add("Wall minutes", sum(t["sweep_s"] for t in timings.values()) / 60, "{:.0f}")
nb.finish(claims)  # the claims ledger and the paper's macros
artifacts.write_json(out / "run.json", {"timings": timings, "chosen": chosen.to_dict(orient="records")})
