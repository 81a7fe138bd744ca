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
# depends_on: 01_extraction, 07_style_steering

# %% [markdown]
# # 07 · Style steering on the test split: the chosen settings, the seed's own, prompting, and lens bleed
#
# The test half of seed 000's protocol. `07_style_steering` split the questions, measured the residual
# norms α is a fraction of, and chose a layer and α per axis on the dev questions; here they run on the
# held-out questions beside the seed's own settings, each paired with the unsteered answer to the same question:
#
# 1. **Conditions.** Per axis: the chosen setting, the last-token recipe at the same norm, the same total norm
#    spread over `n_multi` layers, the seed's raw α = 2 at its relative depth, and the style instruction itself
#    as the system prompt (prompt-level control, the baseline steering is compared with). For terse also raw
#    α = 3, the unit vector at α = 0.2, the layer where the vector is largest, raw α = 2 at 12/28, and the seed's
#    100-question comparison. (The terse vector added and subtracted, for the two poles' asymmetry, needs answers
#    twice as long and runs in `07_style_two_poles`.)
# 2. **Effects.** Length, the four axis measures and cross-entropy against unsteered (bootstrap interval,
#    Wilcoxon p); garbled rates with Wilson intervals and McNemar; the share of answers the token limit cut.
# 3. **Lens bleed.** The twelve lens vocabularies scored on steered and unsteered answers to the
#    held-out questions and the seed's ten neutral probes.
# 4. **The seed's claims** decided on the test split, with verdicts.

# %% tags=["parameters"]
profile = "default"
remote = False  # True: run hub models on NDIF through nnsight (README, "Scale-out"); needs NDIF_API_KEY
model_keys = ["smollm2-135m", "qwen2.5-0.5b"]  # each must have a dev choice in 07_style_steering
device = "cpu"
axes = ["terse", "formal", "socratic", "dry-wit"]
seed_layer_fraction = 15 / 28  # seed 000 steers layer 15 of Qwen3-0.6B's 28
seed_best_layer_fraction = 12 / 28  # its layer sweep found L12 best; C-9 compares the raw vector there with prompting
seed_raw_alpha = 2.0  # the seed's default: 2 x the raw (un-normalized) vector
seed_collapse_alpha = 3.0  # the seed: alpha of 3 and more collapses coherence
seed_unit_alpha = 0.2  # the seed: a unit vector at alpha 0.2 does nothing
n_multi = 4  # layers of the multi-layer spread, starting at the chosen layer
n_test = 64  # test questions per condition (the ten probes come on top)
n_comparison = 100  # questions of seed 000's comparison, answered unsteered and under the raw terse vector at α 2
gen_tokens = 384  # test answers: above the seed's 200-256, so that fewer than max_capped_share of unsteered answers are cut
degraded_garbled = 0.25  # a style claim is testable only where the steered answers are garbled at most this often
collapse_garbled = 0.5  # the raw vector at α 3 collapses coherence where the garbled rate's interval lies above this
no_effect_margin = 0.10  # "no effect": the paired change in words lies within ± this share of the unsteered mean
max_capped_share = 0.10  # a length claim is testable only where fewer unsteered answers than this hit the token cap
on_topic_margin = 0.10  # "content preserved": the steered on-topic share is at most this far below the unsteered one
n_bootstrap = 2000
batch_size = 128  # generation throughput on this CPU still grows past batch 64
seed = 0

# %%
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from scipy import stats as scipy_stats
from statsmodels.stats.multitest import multipletests

from lib import artifacts, directions, handoffs, lenses, notebook, paired, plotting, stats, steering_settings, style_runs, stylemetrics, timing
from lib.paths import generated_dir
from lib.style_runs import one_row as row, paired_by_item as aligned, steered

NOTEBOOK = "07_style_test"
nb = notebook.start(NOTEBOOK, prefix="StyleTest", seed=seed)  # seeds, determinism, plotting, results folder
out = nb.out
macros = nb.macros

unknown = sorted(set(axes) - set(stylemetrics.AXES))
if unknown:
    raise ValueError(f"Unknown style axes {unknown}: use some of {', '.join(stylemetrics.AXES)}.")
if "terse" not in axes:
    raise ValueError("axes must include 'terse': seed 000's table is about the terse vector.")
chosen_all, norm_profile, splits = steering_settings.load_style_choice()  # 07_style_steering's dev choice
chosen = chosen_all[chosen_all["model"].isin(model_keys) & chosen_all["axis"].isin(axes)].reset_index(drop=True)
unchosen = sorted({(k, a) for k in model_keys for a in axes} - set(zip(chosen["model"], chosen["axis"])))
if unchosen:
    raise ValueError(f"07_style_steering chose no setting for {unchosen}: add those models or axes there and rerun it first.")
n_asked = max(n_test, n_comparison)  # test questions any condition answers
if len(splits["test"]) < n_asked:
    raise ValueError(f"The test split holds {len(splits['test'])} questions, fewer than max(n_test, n_comparison) = {n_asked}: "
                     "lower them, or lower dev_share in 07_style_steering and rerun it.")
test_questions, probes = splits["test"][:n_asked], splits["probes"]
test_items = [("question", q) for q in test_questions] + [("probe", q) for q in probes]
COMPARISON = ("unsteered", "terse|seed_raw2")  # the conditions of the seed's 100-question comparison
LENS_KINDS = ("unsteered", "chosen", "seed_raw2")  # the conditions whose answers to the probes the lens eval reads
print({"test": len(test_questions), "probes": len(probes), "axes": axes})
chosen

# %% [markdown]
# ## Per model: the test conditions
# Each model is loaded once. Every condition runs as one batched greedy generation (rows carry their
# own intervention), then every answer is measured and scored for coherence (`lib/style_runs.py`).


# %%
def asks(name: str, meta: dict, j: int, kind: str) -> bool:
    """Whether condition `name` answers item j: the first n_test questions (all n_comparison for the seed's
    comparison), and the probes only under LENS_KINDS, the only analysis that reads them."""
    if kind == "probe":
        return meta["kind"] in LENS_KINDS
    return j < (n_comparison if name in COMPARISON else n_test)


def norm_peak_layer(style, norms) -> int:
    """The layer where the raw terse vector is largest relative to the non-first-token residual norm (the seed's
    perturbation share at a fixed raw α)."""
    return int(np.argmax([float(style["terse/mean_all"][layer].norm()) / float(norms.loc[layer, "rest"]) for layer in norms.index]))


def raw_condition(axis: str, kind: str, vector, layer: int, alpha: float, norms) -> tuple:
    """The seed's raw (un-normalized) vector times α at `layer`, with its size as a fraction of the residual norm."""
    return steered(axis, kind, {layer: alpha * vector}, layer=layer, alpha_fraction=alpha * float(vector.norm()) / float(norms.loc[layer, "rest"]))


def test_conditions(lm, style, norms, picks: pd.DataFrame, instructions: dict) -> dict:
    conditions = {style_runs.UNSTEERED: style_runs.unsteered()}
    seed_layer = style_runs.layer_at(seed_layer_fraction, lm.n_layers)
    for axis in axes:  # the style instruction itself as the system message: the prompt-level control steering is compared with
        conditions[f"{axis}|prompted"] = style_runs.prompted(axis, instructions[axis]["positive"])
    for axis in axes:
        pick = picks.set_index("axis").loc[axis]
        layer, f = int(pick["layer"]), float(pick["alpha_fraction"])
        size = float(norms.loc[layer, "rest"])
        multi = [l for l in range(layer, layer + n_multi) if l < lm.n_layers]
        common = {"alpha_fraction": f}
        conditions[f"{axis}|chosen"] = steered(axis, "chosen", {layer: style_runs.scaled(style[f"{axis}/mean_all"][layer], f, size)}, layer=layer, **common)
        conditions[f"{axis}|last_token"] = steered(axis, "last_token", {layer: style_runs.scaled(style[f"{axis}/last"][layer], f, size)}, layer=layer, **common)
        conditions[f"{axis}|multi_layer"] = steered(  # the same total added norm, spread over n_multi layers
            axis, "multi_layer", {l: style_runs.scaled(style[f"{axis}/mean_all"][l], f / len(multi), size) for l in multi}, layer=layer, **common)
        raw = style[f"{axis}/mean_all"][seed_layer]
        conditions[f"{axis}|seed_raw2"] = raw_condition(axis, "seed_raw2", raw, seed_layer, seed_raw_alpha, norms)
        if axis == "terse":
            conditions["terse|seed_raw3"] = raw_condition(axis, "seed_raw3", raw, seed_layer, seed_collapse_alpha, norms)
            conditions["terse|seed_unit"] = steered(axis, "seed_unit", {seed_layer: seed_unit_alpha * directions.unit(raw)}, layer=seed_layer,
                                                    alpha_fraction=seed_unit_alpha / float(norms.loc[seed_layer, "rest"]))
            peak = norm_peak_layer(style, norms)  # C-7: the layer where the terse vector is largest, at the chosen α
            conditions["terse|norm_peak"] = steered(axis, "norm_peak", {peak: style_runs.scaled(
                style[f"{axis}/mean_all"][peak], f, float(norms.loc[peak, "rest"]))}, layer=peak, **common)
            best = style_runs.layer_at(seed_best_layer_fraction, lm.n_layers)  # C-9 compares raw α = 2 at L12 of 28 with prompting
            conditions["terse|seed_raw2_l12"] = raw_condition(axis, "seed_raw2_l12", style[f"{axis}/mean_all"][best], best, seed_raw_alpha, norms)
    for meta, _ in conditions.values():
        meta["depth"] = meta["layer"] / lm.n_layers if "layer" in meta else np.nan
    return conditions


# %%
test_tables, timings, n_layers_of = [], {}, {}
for key, lm in nb.models(model_keys, device=device, remote=remote):
    clock = timing.ColdClock(already_s=nb.load_seconds[key])  # includes the load; cache-loaded units count at their cold cost
    n_layers_of[key] = lm.n_layers
    style, style_meta = handoffs.load_style_vectors(key)
    norms = norm_profile[norm_profile["model"] == key].set_index("layer")
    picks = chosen[chosen["model"] == key]
    test = style_runs.run_conditions(lm, test_conditions(lm, style, norms, picks, style_meta["pairs"]), test_items, gen_tokens, batch_size, asks)
    test_tables.append(test.assign(model=key))
    timings[key] = {"total_s": clock.seconds()}
    print(key, timings[key])

test = pd.concat(test_tables, ignore_index=True)
artifacts.write_csv(out / "test_outputs.csv", test)
test.groupby(["model", "condition"]).size().unstack(0)

# %% [markdown]
# ## 1 · Test split: every condition against the unsteered answers
# On the `n_test` held-out questions (the probes are kept for the lens eval): for each condition, the
# mean difference to the unsteered answer to the same question with a bootstrap interval and a
# Wilcoxon p, for length, the four axis measures and cross-entropy; garbled rates with McNemar.

# %%
MEASURES = ["words", "n_tokens"] + [f"m_{a}" for a in stylemetrics.AXES] + ["nll"]
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
# how answers ended, per condition: cut by the gen_tokens limit (a length measured on a cut answer is a lower bound)
# or in a loop (ended where it became one, lib/style_runs); the rest ended with the end-of-sequence token
endings = stats.rate_table(questions_only, ["model", "condition"], ["hit_cap", "ended_in_loop"])
artifacts.write_csv(out / "test_endings.csv", endings)
capped_table = endings[endings["metric"] == "hit_cap"]
capped_share = capped_table.set_index(["model", "condition"])["rate"]
loop_share = endings[endings["metric"] == "ended_in_loop"].set_index(["model", "condition"])["rate"]

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
# ## 2 · Lens bleed on steered text
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
# ## 3 · Seed 000's claims decided on the test split, with verdicts
# Rules, fixed before the numbers (`lib/verdicts.py`), on the test split at the seed's relative depth
# (layer 15 of 28); each verdict is reproduced, not reproduced or inconclusive by its interval (the claims the
# dev sweep decides, the best layer and the layer roles, are in `07_style_steering`):
# - *unit α = 0.2 has no effect*: reproduced when the paired interval of the change in words lies
#   within ± `no_effect_margin` of the unsteered mean (an equivalence test), not where it excludes 0;
# - *raw α = 2 makes answers terse*: reproduced when the interval of the change in words lies below 0;
#   testable only where fewer than `max_capped_share` of unsteered answers hit the `gen_tokens` cap
#   (a capped answer's length is unknown); the sign test is beside it;
# - *α ≥ 3 collapses coherence*: reproduced when raw α = 3's garbled rate lies above `collapse_garbled`
#   (the cross-entropy change beside it);
# - *single-layer beats multi-layer*: reproduced when the terse move of the chosen single layer
#   exceeds that of the same total norm spread over `n_multi` layers (paired interval above 0);
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
# - *norm is not steerability* (C-7): on the test split, words under the terse vector at the layer where it is largest
#   relative to the residual norm minus words at the dev-chosen layer, same α fraction, same questions; reproduced above
#   0 (the chosen layer steers further); testable where some terse cell is effective on dev.
#
# *α parity is asymmetric* (C-14) is decided in `07_style_two_poles`.

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


for key in model_keys:
    claims += [mean_words_claim(key), overshoot_claim(key), content_claim(key), norm_steerability_claim(key)]
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
macros.add("NTest", n_test, "{:d}")
macros.add("NProbes", len(probes), "{:d}")
macros.add("GenTokens", gen_tokens, "{:d}")
macros.add("NMulti", n_multi, "{:d}")
for axis in axes:
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
unsteered_large = questions_only[(questions_only["model"] == large) & (questions_only["condition"] == "unsteered")]
floored = [a for a in axes if stylemetrics.DIRECTION[a] < 0 and (unsteered_large[f"m_{a}"] == 0).all()]
macros.add("Floor axes", ", ".join(floored) or "none")
for name, prefix in (("Verdict unit", "S000-unit-no-effect"), ("Verdict raw two", "S000-raw2-terse"), ("Verdict raw three", "S000-raw3-collapse"),
                     ("Verdict multi", "S000-single-beats-multi"), ("Verdict bleed", "S000-lens-bleed"),
                     ("Verdict mean words", "S000-raw2-mean-words"), ("Verdict overshoot", "S000-overshoots-prompt"),
                     ("Verdict content", "S000-content-preserved"), ("Verdict norm peak", "S000-norm-not-steerability")):
    macros.add(name, style_runs.verdict_phrase(prefix, claims))
verdicts = pd.Series([c.verdict for c in claims])
macros.add("Claims reproduced", int((verdicts == "reproduced").sum()), "{:d}")
macros.add("Claims total", len(claims), "{:d}")
macros.add("Capped unsteered", "; ".join(f"{key}: {capped_share[(key, 'unsteered')]:.0%}" for key in model_keys))
macros.add("Loop window", style_runs.LOOP_WINDOW, "{:d}")
macros.add("Loop mismatches", style_runs.LOOP_MISMATCHES, "{:d}")
macros.add("Loop max period", style_runs.LOOP_MAX_PERIOD, "{:d}")
macros.add("Looped unsteered", "; ".join(f"{key}: {loop_share[(key, 'unsteered')]:.0%}" for key in model_keys))
macros.add("Capped max", 100 * capped_table["rate"].max(), "{:.0f}")
macros.add("Capped max condition", capped_table.loc[capped_table["rate"].idxmax(), "condition"].replace("|", ", "))
macros.add("NComparison", n_comparison, "{:d}")
macros.add("Max capped", 100 * max_capped_share, "{:.0f}")
macros.add("On topic margin", 100 * on_topic_margin, "{:.0f}")
macros.add("Wall minutes", sum(t["total_s"] for t in timings.values()) / 60, "{:.0f}")
nb.finish(claims)  # the claims ledger and the paper's macros
artifacts.write_json(out / "run.json", {"timings": timings})
