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
# # 07 · Style steering: four axes, the α phase diagram, and lens bleed measured on steered text
#
# Seed 000 steers Qwen3-0.6B toward four styles (terse, formal, socratic, dry-wit) with ActAdd
# vectors: the mean over all positions of a chat-templated positive instruction minus the same for a
# negative one, added at every position during generation. Its headline table: a unit vector at
# α = 0.2 does nothing, the raw vector at α = 2 (~8 % of the residual norm) makes answers terse, and
# α ≥ 3 collapses coherence. Its "lens" eval counts topic vocabulary in answers to neutral probes, but
# scored text from a server that could not apply steering. Here, on the embedded instruct models:
#
# 1. **Vectors.** 01's style vectors in the seed's recipe (mean over all positions) and a last-token
#    recipe, compared by cosine. α is expressed as a fraction of the residual norm of the non-first
#    tokens (the first token's massive activation is excluded from the statistic) on these questions.
# 2. **Phase diagram (dev split).** Every axis × layer × normalized α: answer length, the axis's own
#    measure, coherence (the unsteered model's cross-entropy on the steered text) and the garbled
#    rate, each paired with the unsteered answer to the same question; each cell is labelled dead,
#    effective, degraded, collapse (rules below). The layer and α per axis are chosen here.
# 3. **Test split.** The chosen setting, the last-token recipe and a multi-layer spread at matched
#    total perturbation, and the seed's own settings (raw α = 2 and 3, unit α = 0.2), each paired
#    against the unsteered answers, with intervals.
# 4. **Lens bleed.** The twelve lens vocabularies scored on steered and unsteered answers to the
#    held-out questions and the seed's ten neutral probes (answered under the conditions this eval reads).

# %% tags=["parameters"]
profile = "default"
remote = False  # True: run hub models on NDIF through nnsight (README, "Scale-out"); needs NDIF_API_KEY
model_keys = ["smollm2-135m", "qwen2.5-0.5b"]
device = "cpu"
axes = ["terse", "formal", "socratic", "dry-wit"]
sweep_depths = [0.1, 0.25, 0.4, 0.55, 0.7, 0.85]  # layer / n_layers of the swept layers (early, middle and late)
alpha_fractions = [0.05, 0.15, 0.4, 1.0]  # added norm as a fraction of the non-first-token residual norm
seed_layer_fraction = 15 / 28  # seed 000 steers layer 15 of Qwen3-0.6B's 28
seed_best_layer_fraction = 12 / 28  # its layer sweep found L12 best
seed_raw_alpha = 2.0  # the seed's default: 2 x the raw (un-normalized) vector
seed_collapse_alpha = 3.0  # the seed: alpha of 3 and more collapses coherence
seed_unit_alpha = 0.2  # the seed: a unit vector at alpha 0.2 does nothing
n_multi = 4  # layers of the multi-layer spread, starting at the chosen layer
dev_share = 0.2  # of the held-out questions; the rest is the test split
n_dev = 24  # dev questions per sweep cell
n_test = 64  # test questions per condition (the ten probes come on top)
n_comparison = 100  # questions of seed 000's comparison, answered unsteered and under the raw terse vector at α 2
dev_tokens = 96  # dev answers: long enough to see length move, short enough for the sweep's cells
gen_tokens = 256  # test answers: the seed's 200-256, so that unsteered answers end before the cap
p_effect = 0.05  # a cell is effective when its paired Wilcoxon p is below this, in the named direction
degraded_garbled = 0.25  # garbled rate above which a cell is degraded
collapse_garbled = 0.5  # garbled rate at or above which a cell has collapsed ...
collapse_nll = 2.0  # ... or when its mean cross-entropy rises by this many nats per token
best_layer_tolerance = 0.15  # "best layer L12 of 28" holds if the chosen depth is within this of 12/28
no_effect_margin = 0.10  # "no effect": the paired change in words lies within ± this share of the unsteered mean
max_capped_share = 0.10  # a length claim is testable only where fewer unsteered answers than this hit the token cap
n_bootstrap = 2000
early_depth = 0.26  # seed 000's early layers, L0-7 of 28
middle_depths = (0.39, 0.62)  # its middle band, L11-17 of 28, where steering works
formatting_depths = (0.64, 0.79)  # its "formatting" band, L18-22 of 28
late_depths = (0.82, 1.0)  # its "distortion" band, L23-27 of 28
asymmetry_tokens = 512  # the ± terse pair (C-14): long enough that the verbose pole's answers end before the cap
asymmetry_margin = 0.1  # C-14 "symmetric": the two poles' |log length ratio| differ by less than this (about 10 % of length)
on_topic_margin = 0.10  # "content preserved": the steered on-topic share is at most this far below the unsteered one
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
from statsmodels.stats.multitest import multipletests

from lib import activations as act
from lib import artifacts, directions, engine, handoffs, lenses, notebook, paired, plotting, prompts, stats, stylemetrics, textclass
from lib import conditions as conditions_runner
from lib.paths import DATA_DIR, generated_dir

NOTEBOOK = "07_style_steering"
nb = notebook.start(NOTEBOOK, prefix="Style", seed=seed)  # seeds, determinism, plotting, results folder
out = nb.out
macros = nb.macros

unknown = sorted(set(axes) - set(stylemetrics.AXES))
if unknown:
    raise ValueError(f"Unknown style axes {unknown}: use some of {', '.join(stylemetrics.AXES)}.")
if "terse" not in axes:
    raise ValueError("axes must include 'terse': seed 000's table is about the terse vector.")
question_data = json.loads((DATA_DIR / "questions" / "neutral.json").read_text())
split = prompts.split_items(question_data["questions"], {"dev": dev_share, "test": 1 - dev_share}, seed=seed)
n_asked = max(n_test, n_comparison)  # test questions any condition answers
if len(split["dev"]) < n_dev or len(split["test"]) < n_asked:
    raise ValueError(f"The splits hold {len(split['dev'])} dev and {len(split['test'])} test questions, fewer than "
                     f"n_dev = {n_dev} / max(n_test, n_comparison) = {n_asked}: lower them or change dev_share.")
dev_questions, test_questions, probes = split["dev"][:n_dev], split["test"][:n_asked], question_data["probes"]
test_items = [("question", q) for q in test_questions] + [("probe", q) for q in probes]
COMPARISON = ("unsteered", "terse|seed_raw2")  # the conditions of the seed's 100-question comparison
LENS_KINDS = ("unsteered", "chosen", "seed_raw2")  # the conditions whose answers to the probes the lens eval reads
artifacts.write_json(out / "splits.json", {"dev": dev_questions, "test": test_questions, "probes": probes})
print({"dev": len(dev_questions), "test": len(test_questions), "probes": len(probes), "axes": axes})

# %% [markdown]
# ## Per model: norms, recipes, the dev sweep, the chosen settings on the test split
# Each model is loaded once. Every condition of a split runs as one batched greedy generation
# (rows carry their own intervention), then every answer is measured and scored for coherence.


# %%
def residual_norms(lm, formatted: list[str]) -> pd.DataFrame:
    """Per layer: mean norm of the first token, of the other tokens, and of all tokens (the seed's statistic)."""
    summary = act.capture(lm, formatted, range(lm.n_layers), act.token_norm_summary, batch_size=batch_size, progress=False)
    mean = summary.mean(0)  # [layers, 3]
    return pd.DataFrame({"layer": range(lm.n_layers), "first": mean[:, 0], "rest": mean[:, 1], "all": mean[:, 2]})


def layer_at(depth: float, n_layers: int) -> int:
    return min(n_layers - 1, max(0, round(depth * n_layers)))


def condition(axis, kind, layers_vectors: dict, **meta) -> tuple[dict, engine.Intervention]:
    """Metadata (with the total added norm) and the intervention adding each vector at its layer."""
    total = sum(float(v.norm()) for v in layers_vectors.values())
    return {"axis": axis, "kind": kind, "layers": ",".join(map(str, layers_vectors)), "added_norm": total, **meta}, engine.add_layers(layers_vectors)


def measure_answers(lm, answers: pd.DataFrame, max_tokens: int) -> pd.DataFrame:
    """Every measure of every answer (rows of lib.conditions.generate): length, the four axis measures, garble, lens
    scores, coherence.

    Garbled = seed 003's classifier or a token loop: steered small models emit "10-10-10-..." chains
    that the classifier's text rules miss and that a word count would score as terse."""
    rows = []
    for text, ids in zip(answers["text"], answers["token_ids"]):
        lens = lenses.lens_scores(text)
        seed003, loop = bool(textclass.garbled_reasons(text)), stylemetrics.token_loop(ids)
        rows.append({"words": stylemetrics.word_count(text), **{f"m_{a}": v for a, v in stylemetrics.axis_metrics(text).items()},
                     "garbled": seed003 or loop, "garbled_seed003": seed003, "token_loop": loop,
                     "n_tokens": len(ids), "hit_cap": len(ids) >= max_tokens,
                     **{f"lens_{k}": 100 * v for k, v in lens.items()}, "lens_total": 100 * sum(lens.values()), "text": text})
    frame = pd.DataFrame(rows)
    frame["nll"] = engine.continuation_nll(lm, answers["prompt"].tolist(), answers["token_ids"].tolist(), batch_size=16, progress=False).numpy()
    return frame


def asks(name: str, meta: dict, j: int, kind: str) -> bool:
    """Whether condition `name` answers item j: the first n_test questions (all n_comparison for the seed's
    comparison), and the probes only under LENS_KINDS, the only analysis that reads them."""
    if kind == "probe":
        return meta["kind"] in LENS_KINDS
    return j < (n_comparison if name in COMPARISON else n_test)


def run_conditions(lm, conditions: dict, items: list[tuple[str, str]], max_tokens: int) -> pd.DataFrame:
    """All conditions x items in one batched generation (lib.conditions), measured; one row per answer. A condition
    whose metadata carries a `system` text runs with it as the system message (prompt-level control)."""
    kept = {name: [j for j, (kind, _) in enumerate(items) if asks(name, meta, j, kind)] for name, (meta, _) in conditions.items()}
    runs = {name: ([items[j][1] for j in kept[name]], recipe) for name, (_, recipe) in conditions.items()}
    system = {name: meta["system"] for name, (meta, _) in conditions.items() if meta.get("system")}
    answers, _ = conditions_runner.generate(lm, runs, max_tokens, batch_size=batch_size, first_logprobs=False, system=system)
    item = [kept[name][j] for name, j in zip(answers["condition"], answers["prompt_index"])]
    keys = pd.DataFrame([{"condition": name, **conditions[name][0], "item": i, "item_kind": items[i][0], "question": items[i][1]}
                         for name, i in zip(answers["condition"], item)])
    return pd.concat([keys, measure_answers(lm, answers, max_tokens)], axis=1)


def sweep_conditions(lm, style, norms) -> dict:
    conditions = {"unsteered": ({"axis": "none", "kind": "unsteered", "layers": "", "added_norm": 0.0}, engine.NO_EDIT)}
    for axis in axes:
        for depth in sweep_depths:
            layer = layer_at(depth, lm.n_layers)
            for f in alpha_fractions:
                vector = f * float(norms.loc[layer, "rest"]) * directions.unit(style[f"{axis}/mean_all"][layer])
                conditions[f"{axis}|L{layer}|f{f}"] = condition(axis, "sweep", {layer: vector}, layer=layer, depth=layer / lm.n_layers, alpha_fraction=f)
    return conditions


def norm_peak_layer(style, norms) -> int:
    """The layer where the raw terse vector is largest relative to the non-first-token residual norm (the seed's
    perturbation share at a fixed raw α)."""
    return int(np.argmax([float(style["terse/mean_all"][layer].norm()) / float(norms.loc[layer, "rest"]) for layer in norms.index]))


def asymmetry_conditions(style, norms, pick: dict) -> dict:
    """C-14: the terse vector at its dev-chosen layer and α, added (the terse pole) and subtracted (the verbose pole)."""
    layer, f = pick["layer"], pick["alpha_fraction"]
    vector = f * float(norms.loc[layer, "rest"]) * directions.unit(style["terse/mean_all"][layer])
    conditions = {"unsteered": ({"axis": "none", "kind": "unsteered", "layers": "", "added_norm": 0.0}, engine.NO_EDIT)}
    for sign, pole in ((1, "plus"), (-1, "minus")):
        conditions[f"terse|{pole}"] = condition("terse", pole, {layer: sign * vector}, layer=layer, alpha_fraction=sign * f)
    return conditions


def question_contrasts(lm, questions: list[str], pair: dict, layers: list[int]) -> np.ndarray:
    """C-8's noise: per dev question, the terse contrast in the seed's recipe (mean over all positions, positive minus
    negative instruction) with the instruction as the system message and the question as the user's: [questions,
    layers, d]. Their mean is the signal; their spread around it, the noise."""
    texts = [prompts.format_instruction(lm, q, system=pair[side]) for side in ("positive", "negative") for q in questions]
    features = act.capture(lm, texts, layers, act.mean_tokens(), batch_size=batch_size, progress=False).numpy()
    return features[: len(questions)] - features[len(questions):]


def test_conditions(lm, style, norms, chosen: dict, instructions: dict) -> dict:
    conditions = {"unsteered": ({"axis": "none", "kind": "unsteered", "layers": "", "added_norm": 0.0}, engine.NO_EDIT)}
    seed_layer = layer_at(seed_layer_fraction, lm.n_layers)
    for axis in axes:  # the style instruction itself as the system message: the prompt-level control steering is compared with
        conditions[f"{axis}|prompted"] = ({"axis": axis, "kind": "prompted", "layers": "", "added_norm": 0.0,
                                           "system": instructions[axis]["positive"]}, engine.NO_EDIT)
    for axis in axes:
        layer, f = chosen[axis]["layer"], chosen[axis]["alpha_fraction"]
        size = f * float(norms.loc[layer, "rest"])
        multi = [l for l in range(layer, layer + n_multi) if l < lm.n_layers]
        common = {"alpha_fraction": f}
        conditions[f"{axis}|chosen"] = condition(axis, "chosen", {layer: size * directions.unit(style[f"{axis}/mean_all"][layer])}, layer=layer, **common)
        conditions[f"{axis}|last_token"] = condition(axis, "last_token", {layer: size * directions.unit(style[f"{axis}/last"][layer])}, layer=layer, **common)
        conditions[f"{axis}|multi_layer"] = condition(  # the same total added norm, spread over n_multi layers
            axis, "multi_layer", {l: size / len(multi) * directions.unit(style[f"{axis}/mean_all"][l]) for l in multi}, layer=layer, **common)
        raw = style[f"{axis}/mean_all"][seed_layer]
        conditions[f"{axis}|seed_raw2"] = condition(axis, "seed_raw2", {seed_layer: seed_raw_alpha * raw}, layer=seed_layer,
                                                    alpha_fraction=seed_raw_alpha * float(raw.norm()) / float(norms.loc[seed_layer, "rest"]))
        if axis == "terse":
            conditions["terse|seed_raw3"] = condition(axis, "seed_raw3", {seed_layer: seed_collapse_alpha * raw}, layer=seed_layer,
                                                      alpha_fraction=seed_collapse_alpha * float(raw.norm()) / float(norms.loc[seed_layer, "rest"]))
            conditions["terse|seed_unit"] = condition(axis, "seed_unit", {seed_layer: seed_unit_alpha * directions.unit(raw)}, layer=seed_layer,
                                                      alpha_fraction=seed_unit_alpha / float(norms.loc[seed_layer, "rest"]))
            peak = norm_peak_layer(style, norms)  # C-7: the layer where the terse vector is largest, at the chosen α
            conditions["terse|norm_peak"] = condition(axis, "norm_peak", {peak: f * float(norms.loc[peak, "rest"]) * directions.unit(
                style[f"{axis}/mean_all"][peak])}, layer=peak, **common)
            best = layer_at(seed_best_layer_fraction, lm.n_layers)  # C-9 compares raw α = 2 at L12 of 28 with prompting
            raw12 = style[f"{axis}/mean_all"][best]
            conditions["terse|seed_raw2_l12"] = condition(axis, "seed_raw2_l12", {best: seed_raw_alpha * raw12}, layer=best,
                                                          alpha_fraction=seed_raw_alpha * float(raw12.norm()) / float(norms.loc[best, "rest"]))
    for meta, _ in conditions.values():
        meta["depth"] = meta["layer"] / lm.n_layers if "layer" in meta else np.nan
    return conditions


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
sweep_tables, label_tables, test_tables, norm_tables, recipe_rows, chosen_rows, timings = [], [], [], [], [], [], {}
asymmetry_tables, contrasts, n_layers_of = [], {}, {}
for key, lm in nb.models(model_keys, device=device, remote=remote):
    t0 = time.time() - nb.load_seconds[key]  # the sweep time includes the load, as before
    n_layers_of[key] = lm.n_layers
    style, style_meta = handoffs.load_style_vectors(key)
    missing = [f"{a}/{r}" for a in axes for r in ("mean_all", "last") if f"{a}/{r}" not in style]
    if missing:
        raise ValueError(f"01_extraction saved no style vectors {missing} for {key}: rerun 01 with this model.")
    norms = residual_norms(lm, [prompts.format_instruction(lm, q) for q in dev_questions]).set_index("layer")
    norm_tables.append(norms.reset_index().assign(model=key))
    for axis in axes:
        for layer in range(lm.n_layers):
            v = {r: style[f"{axis}/{r}"][layer] for r in ("mean_all", "mean_skip_first", "last")}
            recipe_rows.append({"model": key, "axis": axis, "layer": layer, "depth": layer / lm.n_layers,
                                "cos_mean_all_vs_last": float(directions.cosine(v["mean_all"], v["last"])),
                                "cos_mean_all_vs_skip_first": float(directions.cosine(v["mean_all"], v["mean_skip_first"])),
                                "raw_norm_over_rest": float(v["mean_all"].norm()) / float(norms.loc[layer, "rest"]),
                                "raw_norm_over_all": float(v["mean_all"].norm()) / float(norms.loc[layer, "all"])})
    sweep = run_conditions(lm, sweep_conditions(lm, style, norms), [("question", q) for q in dev_questions], dev_tokens)
    sweep_tables.append(sweep.assign(model=key))
    labels = label_sweep(sweep).assign(model=key)
    label_tables.append(labels)
    chosen = choose(labels)
    chosen_rows += [{"model": key, "axis": a, **c} for a, c in chosen.items()]
    contrasts[key] = question_contrasts(lm, dev_questions, style_meta["pairs"]["terse"], sorted(int(l) for l in labels["layer"].unique()))
    t_sweep = time.time() - t0
    test = run_conditions(lm, test_conditions(lm, style, norms, chosen, style_meta["pairs"]), test_items, gen_tokens)
    test_tables.append(test.assign(model=key))
    asymmetry = run_conditions(lm, asymmetry_conditions(style, norms, chosen["terse"]), [("question", q) for q in test_questions[:n_test]],
                               asymmetry_tokens)
    asymmetry_tables.append(asymmetry.assign(model=key))
    timings[key] = {"sweep_s": round(t_sweep, 1), "test_s": round(time.time() - t0 - t_sweep, 1), "total_s": round(time.time() - t0, 1)}
    print(key, timings[key], {a: (c["layer"], c["alpha_fraction"], c["effective_on_dev"]) for a, c in chosen.items()})

sweep = pd.concat(sweep_tables, ignore_index=True)
labels = pd.concat(label_tables, ignore_index=True)
test = pd.concat(test_tables, ignore_index=True)
asymmetry = pd.concat(asymmetry_tables, ignore_index=True)
norm_profile = pd.concat(norm_tables, ignore_index=True)
recipes = pd.DataFrame(recipe_rows)
chosen = pd.DataFrame(chosen_rows)
for name, frame in (("sweep_outputs", sweep), ("phases", labels), ("test_outputs", test), ("asymmetry_outputs", asymmetry), ("norm_profile", norm_profile),
                    ("recipes", recipes), ("chosen", chosen)):
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
# ## 4 · Test split: every condition against the unsteered answers
# On the `n_test` held-out questions (the probes are kept for the lens eval): for each condition, the
# mean difference to the unsteered answer to the same question with a bootstrap interval and a
# Wilcoxon p, for length, the four axis measures and cross-entropy; garbled rates with McNemar.

# %%
MEASURES = ["words", "n_tokens"] + [f"m_{a}" for a in stylemetrics.AXES] + ["nll"]


def aligned(frame, key, name, reference, column, dtype=float) -> tuple[np.ndarray, np.ndarray]:
    """`column` under condition `name` and under `reference`, on the items both answered, in item order (the
    seed's comparison answers more questions than the other conditions)."""
    pick = lambda c: frame[(frame["model"] == key) & (frame["condition"] == c)].set_index("item")[column]
    here, there = pick(name), pick(reference)
    common = here.index.intersection(there.index).sort_values()
    return here.loc[common].to_numpy(dtype=dtype), there.loc[common].to_numpy(dtype=dtype)


def row(frame, **where) -> pd.Series:
    """The one row of `frame` matching every column = value given."""
    mask = np.ones(len(frame), dtype=bool)
    for column, value in where.items():
        mask &= frame[column].to_numpy() == value
    return frame[mask].iloc[0]


questions_only = test[test["item_kind"] == "question"]
comparison_rows, garble_rows = [], []
for key in model_keys:
    for name in questions_only.loc[questions_only["model"] == key, "condition"].unique():
        if name == "unsteered":
            continue
        meta = questions_only[(questions_only["model"] == key) & (questions_only["condition"] == name)].iloc[0]
        for measure in MEASURES:
            result = paired.paired_continuous(*aligned(questions_only, key, name, "unsteered", measure), n_resamples=n_bootstrap, seed=seed)
            comparison_rows.append({"model": key, "condition": name, "axis": meta["axis"], "kind": meta["kind"], "measure": measure, **result})
        result = paired.paired_binary(*aligned(questions_only, key, name, "unsteered", "garbled", bool), n_resamples=n_bootstrap, seed=seed)
        k = int(round(result["rate"] * result["n"]))
        garble_rows.append({"model": key, "condition": name, "axis": meta["axis"], "kind": meta["kind"], "garbled_k": k,
                            **result, **dict(zip(["rate_ci_low", "rate_ci_high"], stats.wilson(k, result["n"])[1:]))})
comparisons = pd.DataFrame(comparison_rows)
garbling = pd.DataFrame(garble_rows)
artifacts.write_csv(out / "test_comparisons.csv", comparisons)
artifacts.write_csv(out / "test_garbled.csv", garbling)
# the share of answers the gen_tokens limit cut, per condition: a length measured on a cut answer is a lower bound
capped_table = stats.rate_table(questions_only, ["model", "condition"], "hit_cap")
artifacts.write_csv(out / "test_capped.csv", capped_table)
capped_share = capped_table.set_index(["model", "condition"])["rate"]

own = comparisons[comparisons["measure"] == "m_" + comparisons["axis"]].copy()
own["sign"] = own["axis"].map(stylemetrics.DIRECTION)
for column in ("difference", "low", "high"):
    own[f"directed_{column}"] = own[column] * own["sign"] + 0.0  # + 0.0 turns -0.0 into 0.0
own[["directed_low", "directed_high"]] = np.sort(own[["directed_low", "directed_high"]].to_numpy(), axis=1)
artifacts.write_csv(out / "test_own_axis.csv", own)
KINDS = ["prompted", "chosen", "last_token", "multi_layer", "seed_raw2"]  # the instruction as a system prompt first: the baseline
shown = own[own["kind"].isin(KINDS)]
fig, grid = plt.subplots(len(model_keys), len(axes), figsize=(2.9 * len(axes), 2.6 * len(model_keys)), squeeze=False, sharex=True)
for r, key in enumerate(model_keys):
    for c, axis in enumerate(axes):
        ax, part = grid[r, c], shown[(shown["model"] == key) & (shown["axis"] == axis)].set_index("kind").reindex(KINDS)
        ax.errorbar(range(len(KINDS)), part["directed_difference"], fmt="o", capsize=3,
                    yerr=plotting.error_bars(part["directed_difference"], part["directed_low"], part["directed_high"]))
        ax.axhline(0, color="grey", lw=1)
        ax.set_xticks(range(len(KINDS)), KINDS, rotation=40, ha="right", fontsize=7)
        ax.set_title(f"{key} · {axis}", fontsize=8)
    grid[r, 0].set_ylabel("move toward the style\n(paired mean, 95 % CI)")
fig.suptitle(f"Test split: each axis's own measure, steered minus unsteered (n = {n_test} questions)", y=1.01)
fig.tight_layout()
plotting.save_figure(fig, NOTEBOOK, "test_effects")
plt.show()
own[["model", "axis", "kind", "mean", "reference_mean", "directed_difference", "directed_low", "directed_high", "p_wilcoxon", "n"]].round(3)

# %%
fmt_move = lambda r: f"{r['directed_difference']:+.2f} [{r['directed_low']:+.2f}, {r['directed_high']:+.2f}]"
table_rows = []
for (key, axis), part in shown.groupby(["model", "axis"], sort=False):
    pick, by_kind = row(chosen, model=key, axis=axis), part.set_index("kind")
    table_rows.append({"model": key, "axis": axis, "L, α/norm": f"{int(pick['layer'])}, {pick['alpha_fraction']:g}",
                       **{kind.replace("_", " "): fmt_move(by_kind.loc[kind]) for kind in KINDS}})
artifacts.write_latex_table(
    generated_dir() / NOTEBOOK / "effects_table.tex", pd.DataFrame(table_rows),
    caption=f"Test split ($n$ = {n_test} questions per cell): each axis's own measure moved toward the style, steered minus "
            "unsteered on the same question, mean with 95\\,\\% bootstrap interval (words for terse; informal markers per 100 words "
            "for formal; question share for socratic; enthusiasm per 100 words for dry-wit; signs flipped so that positive = more of "
            "the style). Layer and $\\alpha$ (fraction of the non-first-token residual norm) were chosen on the dev split.",
    label="tab:style-effects", float_format="{:.2f}", size="footnotesize")
pd.DataFrame(table_rows)

# %% [markdown]
# Garbled rates on the test split (Wilson intervals; McNemar against the unsteered answers):

# %%
garbling[["model", "condition", "garbled_k", "n", "rate", "rate_ci_low", "rate_ci_high", "reference_rate", "p_mcnemar"]].round(3)

# %% [markdown]
# ## 5 · Lens bleed on steered text
# The twelve lens vocabularies (hits per 100 words) on the answers to the test questions and the ten
# neutral probes, for the unsteered model and for each axis at its chosen setting and at the seed's
# raw α = 2. Bleed = steered minus unsteered total lens score on the same prompt (bootstrap interval,
# Wilcoxon p, Holm-adjusted across the conditions of a model); pooled over questions and probes, and
# per group.

# %%
LENSES = list(lenses.load_lenses())
bleed_rows = []
for key in model_keys:
    for group, frame in (("pooled", test), ("questions", test[test["item_kind"] == "question"]), ("probes", test[test["item_kind"] == "probe"])):
        part = frame[frame["model"] == key]
        for name, cond in part[part["kind"].isin(["chosen", "seed_raw2"])].groupby("condition", sort=False):
            result = paired.paired_continuous(*aligned(part, key, name, "unsteered", "lens_total"), n_resamples=n_bootstrap, seed=seed)
            bleed_rows.append({"model": key, "group": group, "condition": name, "axis": cond["axis"].iloc[0], "kind": cond["kind"].iloc[0], **result})
bleed = pd.DataFrame(bleed_rows)
bleed["p_holm"] = np.nan
for (key, group), part in bleed.groupby(["model", "group"]):
    bleed.loc[part.index, "p_holm"] = multipletests(part["p_wilcoxon"], method="holm")[1]
artifacts.write_csv(out / "lens_bleed.csv", bleed)

common = test[(test["item_kind"] == "probe") | (test["item"] < n_test)]  # the items every lens condition answered
heat = common[common["kind"].isin(LENS_KINDS)].groupby(["model", "condition"])[[f"lens_{l}" for l in LENSES]].mean()
heat.columns = LENSES
artifacts.write_csv(out / "lens_means.csv", heat.reset_index())
fig, grid = plt.subplots(1, len(model_keys), figsize=(6.5 * len(model_keys), 4.2), squeeze=False)
for ax, key in zip(grid[0], model_keys):
    sns.heatmap(heat.loc[key], ax=ax, cmap="rocket_r", annot=True, fmt=".1f", annot_kws={"fontsize": 6}, cbar_kws={"label": "hits / 100 words"})
    ax.set_title(f"{key}: lens scores (test questions + probes, n = {n_test + len(probes)})", fontsize=9)
    ax.set_xlabel("")
    ax.set_ylabel("")
fig.tight_layout()
plotting.save_figure(fig, NOTEBOOK, "lens_heatmap")
plt.show()
bands = common.assign(top_lens=common[[f"lens_{l}" for l in LENSES]].max(axis=1) / 100)
bands["band"] = bands["top_lens"].map(lenses.band)
band_table = bands[bands["kind"].isin(LENS_KINDS)].groupby(["model", "condition"])["band"].value_counts().unstack(fill_value=0)
artifacts.write_csv(out / "lens_bands.csv", band_table.reset_index())
bleed[bleed["group"] == "pooled"].round(3)

# %% [markdown]
# ## 6 · Seed 000's claims, with verdicts
# Rules, fixed before the numbers (`lib/verdicts.py`), on the test split at the seed's relative depth
# (layer 15 of 28); each verdict is reproduced, not reproduced or inconclusive by its interval:
# - *unit α = 0.2 has no effect*: reproduced when the paired interval of the change in words lies
#   within ± `no_effect_margin` of the unsteered mean (an equivalence test), not where it excludes 0;
# - *raw α = 2 makes answers terse*: reproduced when the interval of the change in words lies below 0;
#   testable only where fewer than `max_capped_share` of unsteered answers hit the `gen_tokens` cap
#   (a capped answer's length is unknown); the sign test is beside it;
# - *α ≥ 3 collapses coherence*: reproduced when raw α = 3's garbled rate lies above `collapse_garbled`
#   (the cross-entropy change beside it);
# - *single-layer beats multi-layer*: reproduced when the terse move of the chosen single layer
#   exceeds that of the same total norm spread over `n_multi` layers (paired interval above 0);
# - *best layer L12/28*: reproduced when the effective depths on dev lie within
#   `best_layer_tolerance` of 12/28; testable only where some terse cell is effective;
# - *steering bleeds into topic lenses* (the question the seed's lens eval asked but never measured on
#   steered text): reproduced when the largest pooled change's interval lies above 0 (Holm p beside it);
# - *raw α = 2 gives 50.6 against 124.3 words on 100 questions*: the ratio of mean words, terse|seed_raw2 over
#   unsteered on `n_comparison` questions (paired bootstrap); reproduced below 1, not reproduced where the
#   interval excludes 0.41; testable only where fewer than `max_capped_share` of either side's answers hit the cap;
# - *α = 2 at L12 overshoots prompt-level control* (C-9): words under raw α = 2 at 12/28 depth minus words
#   with the terse instruction as the system prompt, same questions; reproduced below 0; the same cap rule;
# - *four styles steer*: per axis, its own measure at the dev-chosen setting moves the named way (interval
#   above 0); testable where the steered answers are garbled at most `degraded_garbled` of the time; the
#   instruction given as a system prompt stands beside it (`{axis}|prompted`);
# - *content is preserved*: the share of answers on topic (not garbled, sharing a content word with the
#   question, `stylemetrics.on_topic`) under the chosen terse setting minus the unsteered share; reproduced
#   where the interval lies at or above −`on_topic_margin`;
# - *early layers collapse*: of the dev cells shallower than `early_depth` at an α where some cell of the
#   same axis within `middle_depths` is effective, the share labelled degraded or collapsed; reproduced where
#   its Wilson interval lies above 0.5, not reproduced where it lies below.
# - *layer roles* (C-1..4), on the dev sweep, each paired over the axis × α combinations: the *sweet spot*, the share
#   of effective cells within `middle_depths` minus the share at the other swept depths (reproduced above 0); the
#   *formatting* band, the change in the share of answers with markdown (absolute, against unsteered) within
#   `formatting_depths` minus within `middle_depths` (above 0); the *late distortion*, the early-collapse rule applied to
#   the cells within `late_depths` (Wilson interval above 0.5);
# - *norm is not steerability* (C-7): on the test split, words under the terse vector at the layer where it is largest
#   relative to the residual norm minus words at the dev-chosen layer, same α fraction, same questions; reproduced above
#   0 (the chosen layer steers further); testable where some terse cell is effective on dev;
# - *SNR predicts steerability, norm does not* (C-8): across the swept layers, Spearman's ρ of the contrast's SNR (the
#   norm of the mean per-question terse contrast over the RMS spread of the per-question contrasts around it) with the
#   terse move at the chosen α, minus ρ of the vector's relative norm with it; reproduced where the interval (dev
#   questions resampled) lies above 0. At a fixed α fraction the vector's norm does not set the perturbation, so both
#   properties compete as predictors of how well its *direction* steers;
# - *α parity is asymmetric* (C-14, open in the seed): the terse vector added (+α) and subtracted (−α) at the chosen
#   setting, `asymmetry_tokens` new tokens; per question, |log length ratio| to unsteered of the terse pole minus that
#   of the verbose pole; the paired interval folded to the magnitude: reproduced where it excludes 0, not reproduced
#   (symmetric) where it lies below `asymmetry_margin`; testable where neither pole's answers are cut by the cap or
#   garbled more than the limits above.

# %%
def alpha_fraction_of(key, name, test) -> float:
    return float(test[(test["model"] == key) & (test["condition"] == name)]["alpha_fraction"].iloc[0])


claims = []
for key in model_keys:
    capped = float(capped_share[(key, "unsteered")])
    unit_c = row(comparisons, model=key, condition="terse|seed_unit", measure="words")
    identical = float(np.mean(np.equal(*aligned(questions_only, key, "terse|seed_unit", "unsteered", "text", object))))
    margin = no_effect_margin * unit_c["reference_mean"]
    claims.append(artifacts.Claim.tested(
        f"S000-unit-no-effect-{key}", "000", f"A unit terse vector at alpha = 0.2 has no effect ({key})", "zero effect (0.04 % of the norm)",
        unit_c["difference"], int(unit_c["n"]), unit_c["low"], unit_c["high"], artifacts.Rule.within(margin),
        note=f"value = change in words (margin ±{margin:.1f} words, {no_effect_margin:.0%} of the unsteered mean); "
             f"{identical:.0%} of answers token-identical to unsteered"))
    raw2 = row(comparisons, model=key, condition="terse|seed_raw2", measure="words")
    signs = paired.sign_test(*aligned(questions_only, key, "terse|seed_raw2", "unsteered", "words"))
    shorter = signs["lower"] / signs["n"]
    claim_id, text = f"S000-raw2-terse-{key}", f"The raw terse vector at alpha = 2 makes answers shorter ({key})"
    precondition = f"fewer than {max_capped_share:.0%} of unsteered answers hit the {gen_tokens}-token cap"
    details = (f"{raw2['mean']:.1f} vs {raw2['reference_mean']:.1f} words unsteered; shorter on {signs['lower']}/{signs['n']} "
               f"({shorter:.0%}), longer on {signs['higher']}, sign test p = {signs['p_sign']:.3g}; {capped:.0%} of unsteered answers hit the "
               f"{gen_tokens}-token cap; alpha x raw norm = {alpha_fraction_of(key, 'terse|seed_raw2', test):.2f} of the residual norm")
    if capped >= max_capped_share:
        claims.append(artifacts.Claim.not_testable(claim_id, "000", text, "149 -> 16-35 words; shorter on 99/100",
                                                   f"the token cap cuts the unsteered answers, so their length is unknown ({details})", precondition))
    else:
        claims.append(artifacts.Claim.tested(claim_id, "000", text, "149 -> 16-35 words; shorter on 99/100", raw2["difference"],
                                             int(raw2["n"]), raw2["low"], raw2["high"], artifacts.Rule.below(0.0), precondition,
                                             f"value = change in words; {details}"))
    g3 = row(garbling, model=key, condition="terse|seed_raw3")
    nll3 = row(comparisons, model=key, condition="terse|seed_raw3", measure="nll")
    claims.append(artifacts.Claim.tested(
        f"S000-raw3-collapse-{key}", "000", f"The raw terse vector at alpha = 3 collapses coherence ({key})", "coherence collapse",
        g3["rate"], int(g3["n"]), g3["rate_ci_low"], g3["rate_ci_high"], artifacts.Rule.above(collapse_garbled),
        note=f"value = garbled rate (unsteered {g3['reference_rate']:.2f}); cross-entropy change {nll3['difference']:+.2f} "
             f"[{nll3['low']:+.2f}, {nll3['high']:+.2f}] nats/token"))
    single, multi = aligned(questions_only, key, "terse|chosen", "terse|multi_layer", "m_terse")
    diff = paired.paired_continuous(-single, -multi, n_resamples=n_bootstrap, seed=seed)  # terse: fewer words is more of the style
    claims.append(artifacts.Claim.tested(
        f"S000-single-beats-multi-{key}", "000", f"Single-layer steering beats multi-layer at matched total perturbation ({key}, terse)",
        "single layer better", diff["difference"], int(diff["n"]), diff["low"], diff["high"], artifacts.Rule.above(0.0),
        note=f"value = words saved by one layer minus words saved by {n_multi} layers (same total added norm); Wilcoxon p = {diff['p_wilcoxon']:.3g}"))
    pick = row(chosen, model=key, axis="terse")
    effective = labels[(labels["model"] == key) & (labels["axis"] == "terse") & (labels["phase"] == "effective")]["depth"]
    claim_id, text = f"S000-best-layer-{key}", f"The best terse layer is at 12/28 of the depth ({key})"
    if not pick["effective_on_dev"] or effective.empty:
        claims.append(artifacts.Claim.not_testable(claim_id, "000", text, f"{seed_best_layer_fraction:.2f}",
                                                   "no terse cell of the dev sweep is effective, so no layer is best",
                                                   "an effective terse cell on dev"))
    else:
        claims.append(artifacts.Claim.tested(
            claim_id, "000", text, f"{seed_best_layer_fraction:.2f}", pick["depth"], n_dev,
            min(effective.min(), pick["depth"]), max(effective.max(), pick["depth"]),
            artifacts.Rule.between(seed_best_layer_fraction - best_layer_tolerance, seed_best_layer_fraction + best_layer_tolerance),
            "an effective terse cell on dev",
            f"value = depth chosen on dev (layer {int(pick['layer'])} of {n_layers_of[key]}); interval = range of depths with an effective cell"))
    pooled = bleed[(bleed["model"] == key) & (bleed["group"] == "pooled")]
    top = pooled.sort_values("difference", ascending=False).iloc[0]
    claims.append(artifacts.Claim.tested(
        f"S000-lens-bleed-{key}", "000", f"Style steering bleeds into topic lenses on neutral prompts ({key})", "the lens eval's premise (never measured on steered text)",
        top["difference"], int(top["n"]), top["low"], top["high"], artifacts.Rule.above(0.0),
        note=f"value = largest change in total lens hits per 100 words ({top['condition']}, Holm p = {top['p_holm']:.3g} over "
             f"{len(pooled)} conditions); unsteered total {top['reference_mean']:.2f}"))


def uncapped(key: str, *conditions: str) -> tuple[bool, str]:
    """The precondition of a length claim: fewer than max_capped_share of each condition's answers hit the cap."""
    shares = {c: float(capped_share[(key, c)]) for c in conditions}
    text = ", ".join(f"{c} {v:.0%}" for c, v in shares.items())
    return all(v < max_capped_share for v in shares.values()), f"answers cut by the {gen_tokens}-token cap: {text}"


def mean_words_claim(key: str) -> artifacts.Claim:
    """Seed 000's 100-question comparison: mean words under raw α = 2 over mean words unsteered (50.6 / 124.3)."""
    claim_id, text = f"S000-raw2-mean-words-{key}", f"Raw α = 2 cuts mean answer length to about 0.41 of unsteered ({key}, terse)"
    seed_value = "50.6 vs 124.3 words, n = 100 (Qwen3-0.6B)"
    precondition = f"fewer than {max_capped_share:.0%} of either condition's answers hit the cap"
    held, cap_text = uncapped(key, *COMPARISON)
    steered, base = aligned(questions_only, key, "terse|seed_raw2", "unsteered", "words")
    if not held:
        return artifacts.Claim.not_testable(claim_id, "000", text, seed_value, cap_text, precondition)
    ratio = scipy_stats.bootstrap((steered, base), lambda a, b: a.mean() / b.mean(), paired=True, vectorized=False,
                                  n_resamples=n_bootstrap, method="percentile", random_state=np.random.default_rng(seed))
    signs = paired.sign_test(steered, base)
    return artifacts.Claim.tested(
        claim_id, "000", text, seed_value, float(steered.mean() / base.mean()), len(steered), float(ratio.confidence_interval.low),
        float(ratio.confidence_interval.high), artifacts.Rule.below(1.0, seed_effect=50.6 / 124.3), precondition,
        f"{steered.mean():.1f} vs {base.mean():.1f} words; shorter on {signs['lower']} of {signs['n']}; {cap_text}; "
        "interval: paired bootstrap of the ratio of means")


def overshoot_claim(key: str) -> artifacts.Claim:
    """C-9: raw α = 2 at 12/28 depth makes answers shorter than the terse instruction given as the system prompt."""
    claim_id, text = f"S000-overshoots-prompt-{key}", f"Raw α = 2 at 12/28 depth overshoots prompt-level control ({key}, terse)"
    seed_value = "C-9 refuted: alpha = 2.0 at L12 overshoots prompt control (Qwen3-0.6B)"
    precondition = f"fewer than {max_capped_share:.0%} of either condition's answers hit the cap"
    held, cap_text = uncapped(key, "terse|seed_raw2_l12", "terse|prompted")
    if not held:
        return artifacts.Claim.not_testable(claim_id, "000", text, seed_value, cap_text, precondition)
    result = paired.paired_continuous(*aligned(questions_only, key, "terse|seed_raw2_l12", "terse|prompted", "words"),
                                      n_resamples=n_bootstrap, seed=seed)
    return artifacts.Claim.tested(
        claim_id, "000", text, seed_value, result["difference"], result["n"], result["low"], result["high"], artifacts.Rule.below(0.0),
        precondition, f"value = steered minus prompted words ({result['mean']:.1f} vs {result['reference_mean']:.1f}); Wilcoxon p = "
                      f"{result['p_wilcoxon']:.3g}; {cap_text}")


def style_claim(key: str, axis: str) -> artifacts.Claim:
    """Seed 000 steered four styles: each axis's own measure moves the named way at its dev-chosen setting, not garbled."""
    claim_id, text = f"S000-four-styles-{key}-{axis}", f"The {axis} vector steers its style ({key}, dev-chosen setting)"
    precondition = f"the steered answers are garbled at most {degraded_garbled:.0%} of the time"
    o, g = row(own, model=key, condition=f"{axis}|chosen"), row(garbling, model=key, condition=f"{axis}|chosen")
    prompted = row(own, model=key, condition=f"{axis}|prompted")
    if g["rate"] > degraded_garbled:
        return artifacts.Claim.not_testable(claim_id, "000", text, "terse, formal, socratic, dry-wit steered at L12/28",
                                            f"garbled {g['rate']:.0%} of the time", precondition)
    return artifacts.Claim.tested(
        claim_id, "000", text, "terse, formal, socratic, dry-wit steered at L12/28", o["directed_difference"], int(o["n"]),
        o["directed_low"], o["directed_high"], artifacts.Rule.above(0.0), precondition,
        f"value = move of the axis measure toward the style (Wilcoxon p = {o['p_wilcoxon']:.3g}); garbled {g['rate']:.0%}; "
        f"the instruction as a system prompt moves it {prompted['directed_difference']:+.2f} [{prompted['directed_low']:+.2f}, "
        f"{prompted['directed_high']:+.2f}]")


def content_claim(key: str) -> artifacts.Claim:
    """Seed 000: style shifts, content is preserved. Per question, an answer is on topic when it is not garbled and
    shares a content word with its question; the steered share minus the unsteered one at the chosen terse setting."""
    part = questions_only[questions_only["model"] == key].copy()
    part["on_topic"] = [(not garbled) and stylemetrics.on_topic(text, question)
                        for garbled, text, question in zip(part["garbled"], part["text"], part["question"])]
    steered, base = aligned(part, key, "terse|chosen", "unsteered", "on_topic", bool)
    result = paired.paired_binary(steered, base, n_resamples=n_bootstrap, seed=seed)
    return artifacts.Claim.tested(
        f"S000-content-preserved-{key}", "000", f"Steering shifts style and preserves content ({key}, terse, chosen setting)",
        "style shifts, content preserved (qualitative; Qwen3-0.6B)", result["difference"], result["n"], result["low"], result["high"],
        artifacts.Rule.at_least(-on_topic_margin), note=f"value = steered minus unsteered share of answers on topic (not garbled, "
        f"sharing a content word with the question): {result['rate']:.2f} vs {result['reference_rate']:.2f}")


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
    return bool(row(chosen, model=key, axis="terse")["effective_on_dev"])


def norm_steerability_claim(key: str) -> artifacts.Claim:
    """C-7: norm is not steerability. On the test split, the dev-chosen terse layer against the layer where the terse
    vector is largest relative to the residual norm, both at the chosen α: words saved at the chosen layer minus words
    saved at the norm peak, paired by question. Zero when the norm peak is the chosen layer."""
    claim_id, text = f"S000-norm-not-steerability-{key}", f"The layer where the terse vector is largest is not where it steers best ({key})"
    seed_value, precondition = "C-7 refuted: verbosity does not peak in L12-17 although L12 steers best (Qwen3-0.6B)", "an effective terse cell on dev"
    if not terse_effective(key):
        return artifacts.Claim.not_testable(claim_id, "000", text, seed_value, "no terse cell of the dev sweep is effective", precondition)
    at_peak, at_chosen = aligned(questions_only, key, "terse|norm_peak", "terse|chosen", "words")
    result = paired.paired_continuous(at_peak, at_chosen, n_resamples=n_bootstrap, seed=seed)  # fewer words at the chosen layer: > 0
    layers = (int(row(chosen, model=key, axis="terse")["layer"]), int(row(questions_only, model=key, condition="terse|norm_peak")["layer"]))
    return artifacts.Claim.tested(
        claim_id, "000", text, seed_value, result["difference"], result["n"], result["low"], result["high"], artifacts.Rule.above(0.0),
        precondition, f"value = words at the norm-peak layer {layers[1]} minus words at the dev-chosen layer {layers[0]} "
                      f"({result['mean']:.1f} vs {result['reference_mean']:.1f}), same α fraction; Wilcoxon p = {result['p_wilcoxon']:.3g}")


def layer_profiles(key: str, rows: np.ndarray) -> dict[str, np.ndarray]:
    """Per swept layer, on dev questions `rows`: the terse move (words saved at the chosen α), the contrast's SNR
    (norm of the mean per-question contrast over the RMS spread around it), its split-half stability (cosine of the
    two halves' means) and the relative norm of 01's terse vector."""
    part = sweep[sweep["model"] == key]
    alpha = row(chosen, model=key, axis="terse")["alpha_fraction"]
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


def folded(value: float, low: float, high: float) -> tuple[float, float, float]:
    """|x| with an interval from x's: the ends' magnitudes when the interval excludes 0, else [0, the larger one]."""
    ends = sorted((abs(low), abs(high)))
    return abs(value), (ends[0] if low > 0 or high < 0 else 0.0), ends[1]


def asymmetry_claim(key: str) -> artifacts.Claim:
    """C-14 (open in the seed): the terse (+α) and verbose (-α) poles move length by different magnitudes. Per test
    question, |log((words+ + 1) / (unsteered + 1))| minus the same for the verbose pole, all at `asymmetry_tokens`;
    the paired mean's interval folded to the magnitude. Reproduced where it excludes 0; not reproduced (symmetric)
    where it lies below `asymmetry_margin`."""
    claim_id, text = f"S000-alpha-asymmetry-{key}", f"The terse and verbose poles of the terse vector move length by different amounts ({key})"
    seed_value = "C-14 open (undecided in the seed)"
    precondition = f"fewer than {max_capped_share:.0%} of answers cut by the {asymmetry_tokens}-token cap and at most {degraded_garbled:.0%} garbled, per pole"
    part = asymmetry[asymmetry["model"] == key]
    capped = part.groupby("condition")["hit_cap"].mean()
    garbled = part.groupby("condition")["garbled"].mean()
    state = "; ".join(f"{c}: {capped[c]:.0%} cut, {garbled[c]:.0%} garbled" for c in capped.index)
    if (capped >= max_capped_share).any() or (garbled > degraded_garbled).any():
        return artifacts.Claim.not_testable(claim_id, "000", text, seed_value, state, precondition)
    def log_ratio(pole: str) -> np.ndarray:  # |log length ratio| to the unsteered answer, per question (item order)
        steered, base = aligned(asymmetry, key, f"terse|{pole}", "unsteered", "words")
        return np.abs(np.log1p(steered) - np.log1p(base))
    result = paired.paired_continuous(log_ratio("plus"), log_ratio("minus"), n_resamples=n_bootstrap, seed=seed)
    value, low, high = folded(result["difference"], result["low"], result["high"])
    return artifacts.Claim.tested(
        claim_id, "000", text, seed_value, value, result["n"], low, high, artifacts.Rule.above(0.0, seed_effect=asymmetry_margin), precondition,
        f"value = |mean over questions of |log length ratio| terse pole minus verbose pole| (signed {result['difference']:+.2f} "
        f"[{result['low']:+.2f}, {result['high']:+.2f}]; mean |log ratio| {result['mean']:.2f} vs {result['reference_mean']:.2f}); "
        f"seed effect = the margin {asymmetry_margin:g} below which the poles count as symmetric; {state}")


for key in model_keys:
    claims += [mean_words_claim(key), overshoot_claim(key), content_claim(key), early_collapse_claim(key), late_distortion_claim(key),
               sweet_spot_claim(key), formatting_claim(key), norm_steerability_claim(key), snr_claim(key), asymmetry_claim(key)]
    claims += [style_claim(key, axis) for axis in axes]
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
macros.add("NTest", n_test, "{:d}")
macros.add("NProbes", len(probes), "{:d}")
macros.add("GenTokens", gen_tokens, "{:d}")
macros.add("DevTokens", dev_tokens, "{:d}")
macros.add("NCells", int((labels["model"] == large).sum()), "{:d}")
for phase in PHASES:
    macros.add(f"Cells {phase}", int(((labels["model"] == large) & (labels["phase"] == phase)).sum()), "{:d}")
for axis in axes:
    pick = row(chosen, model=large, axis=axis)
    macros.add(f"{axis} layer", int(pick["layer"]), "{:d}")
    macros.add(f"{axis} alpha", pick["alpha_fraction"], "{:g}")
    o = row(own, model=large, condition=f"{axis}|chosen")
    macros.add(f"{axis} chosen move", o["directed_difference"])
    macros.add(f"{axis} chosen low", o["directed_low"])
    macros.add(f"{axis} chosen high", o["directed_high"])
raw2 = row(comparisons, model=large, condition="terse|seed_raw2", measure="words")
macros.add("Raw two words", raw2["mean"], "{:.1f}")
macros.add("Base words", raw2["reference_mean"], "{:.1f}")
macros.add("Raw two diff", raw2["difference"], "{:+.1f}")
macros.add("Raw two low", raw2["low"], "{:+.1f}")
macros.add("Raw two high", raw2["high"], "{:+.1f}")
macros.add("Raw two fraction", alpha_fraction_of(large, "terse|seed_raw2", test))
signs = paired.sign_test(*aligned(questions_only, large, "terse|seed_raw2", "unsteered", "words"))
macros.add("Raw two shorter", signs["lower"], "{:d}")
unit_c = row(comparisons, model=large, condition="terse|seed_unit", measure="words")
macros.add("Unit diff", unit_c["difference"], "{:+.1f}")
macros.add("Unit low", unit_c["low"], "{:+.1f}")
macros.add("Unit high", unit_c["high"], "{:+.1f}")
g3 = row(garbling, model=large, condition="terse|seed_raw3")
macros.add("Raw three garbled", g3["rate"])
macros.add("Raw three fraction", alpha_fraction_of(large, "terse|seed_raw3", test))
macros.add("Raw three nll", row(comparisons, model=large, condition="terse|seed_raw3", measure="nll")["difference"], "{:+.2f}")
top = bleed[(bleed["model"] == large) & (bleed["group"] == "pooled")].sort_values("difference", ascending=False).iloc[0]
macros.add("Bleed top condition", top["condition"].replace("|", ", "))
macros.add("Bleed top", top["difference"], "{:+.2f}")
macros.add("Bleed top low", top["low"], "{:+.2f}")
macros.add("Bleed top high", top["high"], "{:+.2f}")
macros.add("Bleed base", top["reference_mean"])
for axis in axes:  # the other recipe at the same norm, for the prose beside the chosen one
    o = row(own, model=large, condition=f"{axis}|last_token")
    macros.add(f"{axis} last move", o["directed_difference"])
    macros.add(f"{axis} last low", o["directed_low"])
    macros.add(f"{axis} last high", o["directed_high"])
effective_axes = {key: [a for a in axes if ((labels["model"] == key) & (labels["axis"] == a) & (labels["phase"] == "effective")).any()]
                  for key in model_keys}
macros.add("Effective axes", "; ".join(f"{key}: {', '.join(found) or 'none'}" for key, found in effective_axes.items()))
collapsing = [key for key in model_keys if ((labels["model"] == key) & (labels["phase"] == "collapse")).any()]
macros.add("Collapse models", ", ".join(collapsing) or "neither model")
unsteered_large = questions_only[(questions_only["model"] == large) & (questions_only["condition"] == "unsteered")]
floored = [a for a in axes if stylemetrics.DIRECTION[a] < 0 and (unsteered_large[f"m_{a}"] == 0).all()]
macros.add("Floor axes", ", ".join(floored) or "none")


def verdict_phrase(prefix: str, claims) -> str:
    """A claim's verdicts over the models, from the ledger: one verdict on every model, or each verdict with its models."""
    mine = {c.id.removeprefix(prefix + "-"): c.verdict for c in claims if c.id.startswith(prefix + "-")}
    found = list(dict.fromkeys(mine.values()))
    if len(found) == 1:
        return f"{found[0]} on every model"
    return "; ".join(f"{v} on {' and '.join(m for m, w in mine.items() if w == v)}" for v in found)


for name, prefix in (("Verdict unit", "S000-unit-no-effect"), ("Verdict raw two", "S000-raw2-terse"), ("Verdict raw three", "S000-raw3-collapse"),
                     ("Verdict multi", "S000-single-beats-multi"), ("Verdict layer", "S000-best-layer"), ("Verdict bleed", "S000-lens-bleed")):
    macros.add(name, verdict_phrase(prefix, claims))
verdicts = pd.Series([c.verdict for c in claims])
macros.add("Claims reproduced", int((verdicts == "reproduced").sum()), "{:d}")
macros.add("Claims total", len(claims), "{:d}")
macros.add("Capped unsteered", "; ".join(f"{key}: {capped_share[(key, 'unsteered')]:.0%}" for key in model_keys))
macros.add("Capped max", 100 * capped_table["rate"].max(), "{:.0f}")
macros.add("Capped max condition", capped_table.loc[capped_table["rate"].idxmax(), "condition"].replace("|", ", "))
macros.add("NComparison", n_comparison, "{:d}")
macros.add("Max capped", 100 * max_capped_share, "{:.0f}")
macros.add("On topic margin", 100 * on_topic_margin, "{:.0f}")
for name, prefix in (("Verdict mean words", "S000-raw2-mean-words"), ("Verdict overshoot", "S000-overshoots-prompt"),
                     ("Verdict content", "S000-content-preserved"), ("Verdict sweet spot", "S000-layer-roles-sweet-spot"),
                     ("Verdict formatting", "S000-layer-roles-formatting"), ("Verdict late", "S000-layer-roles-late-distortion"),
                     ("Verdict early", "S000-early-layer-collapse"), ("Verdict norm peak", "S000-norm-not-steerability"),
                     ("Verdict snr", "S000-snr-predicts"), ("Verdict asymmetry", "S000-alpha-asymmetry")):
    macros.add(name, verdict_phrase(prefix, claims))
macros.add("Asymmetry tokens", asymmetry_tokens, "{:d}")
macros.add("Asymmetry margin", asymmetry_margin, "{:g}")
macros.add("Middle band", f"{middle_depths[0]:g}--{middle_depths[1]:g}")
macros.add("Formatting band", f"{formatting_depths[0]:g}--{formatting_depths[1]:g}")
macros.add("Late band", f"{late_depths[0]:g}")
macros.add("Wall minutes", sum(t["total_s"] for t in timings.values()) / 60, "{:.0f}")
nb.finish(claims)  # the claims ledger and the paper's macros
artifacts.write_json(out / "run.json", {"timings": timings, "chosen": chosen.to_dict(orient="records")})
