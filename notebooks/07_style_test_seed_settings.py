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
# depends_on: 01_extraction, 07_style_steering, 07_style_test

# %% [markdown]
# # 07 · Style steering on the test split under the seed's own settings: dose and placement
#
# The second half of seed 000's test protocol. `07_style_test` answered the held-out questions unsteered, under the
# dev-chosen settings and with the style instruction as the system prompt; here the same questions are answered
# under the settings the seed itself reports, and each answer is paired with `07_style_test`'s unsteered (or
# prompted) answer to the same question, read from its results, under the same token limit:
#
# 1. **Conditions.** Per axis, the seed's raw (un-normalized) vector at α = 2 at its relative depth (15/28; for terse
#    on all `n_comparison` questions, the seed's 100-question comparison), and the dev-chosen total norm spread over
#    `n_multi` consecutive layers. For terse also raw α = 3, the unit vector at α = 0.2 and raw α = 2 at 12/28 depth
#    (the seed's best layer, where it compared steering with prompting).
# 2. **Effects.** Length, the four axis measures and cross-entropy against unsteered (bootstrap interval,
#    Wilcoxon p); garbled rates; how every answer ended. The effects table and figure put every condition of both
#    notebooks side by side.
# 3. **Lens bleed** under raw α = 2, on the test questions and the seed's ten neutral probes.
# 4. **The seed's claims** about its own settings, decided on the test split with verdicts.

# %% tags=["parameters"]
profile = "default"
remote = False  # True: run hub models on NDIF through nnsight (README, "Scale-out"); needs NDIF_API_KEY
model_keys = ["smollm2-135m", "qwen2.5-0.5b"]  # each must be among 07_style_test's (its answers are the reference)
device = "cpu"
axes = ["terse", "formal", "socratic", "dry-wit"]  # among 07_style_test's axes
seed_layer_fraction = 15 / 28  # seed 000 steers layer 15 of Qwen3-0.6B's 28
seed_best_layer_fraction = 12 / 28  # its layer sweep found L12 best; C-9 compares the raw vector there with prompting
seed_raw_alpha = 2.0  # the seed's default: 2 x the raw (un-normalized) vector
seed_collapse_alpha = 3.0  # the seed: alpha of 3 and more collapses coherence
seed_unit_alpha = 0.2  # the seed: a unit vector at alpha 0.2 does nothing
n_multi = 4  # layers of the multi-layer spread, starting at the chosen layer
collapse_garbled = 0.5  # the raw vector at α 3 collapses coherence where the garbled rate's interval lies above this
no_effect_margin = 0.10  # "no effect": the paired change in words lies within ± this share of the unsteered mean
max_capped_share = 0.10  # a length claim is testable only where fewer answers than this are cut by the token limit
n_bootstrap = 2000
batch_size = 128  # generation throughput on this CPU still grows past batch 64
seed = 0

# %%
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from scipy import stats as scipy_stats

from lib import artifacts, directions, handoffs, lenses, notebook, paired, plotting, style_effects, style_runs, timing
from lib.paths import generated_dir
from lib.style_runs import one_row as row, paired_by_item as aligned, steered

NOTEBOOK = "07_style_test_seed_settings"
nb = notebook.start(NOTEBOOK, prefix="StyleSeed", seed=seed)  # seeds, determinism, plotting, results folder
out = nb.out
macros = nb.macros

chosen, norm_profile, splits = style_effects.checked_choice(model_keys, axes)  # 07_style_steering's dev choice
setup = style_effects.load_test_setup(model_keys, axes)  # what 07_style_test asked: its answers are the reference here
n_test, n_comparison, gen_tokens = setup["n_test"], setup["n_comparison"], setup["gen_tokens"]
reference = style_effects.load_test_answers(model_keys)
test_questions, probes = splits["test"][:max(n_test, n_comparison)], splits["probes"]
test_items = [("question", q) for q in test_questions] + [("probe", q) for q in probes]
COMPARISON = ("unsteered", "terse|seed_raw2")  # the conditions of the seed's 100-question comparison
LENS_KINDS = ("unsteered", "seed_raw2")  # the conditions whose answers to the probes the lens eval reads
print({"test": n_test, "comparison": n_comparison, "probes": len(probes), "gen_tokens": gen_tokens, "axes": axes})
chosen

# %% [markdown]
# ## Per model: the seed's settings
# Each model is loaded once. Every condition runs as one batched greedy generation (rows carry their
# own intervention), then every answer is measured and scored for coherence (`lib/style_runs.py`).


# %%
def asks(name: str, meta: dict, j: int, kind: str) -> bool:
    """Whether condition `name` answers item j: the first n_test questions (all n_comparison for the seed's
    comparison), and the probes only under LENS_KINDS, the only analysis that reads them."""
    if kind == "probe":
        return meta["kind"] in LENS_KINDS
    return j < (n_comparison if name in COMPARISON else n_test)


def raw_condition(axis: str, kind: str, vector, layer: int, alpha: float, norms) -> tuple:
    """The seed's raw (un-normalized) vector times α at `layer`, with its size as a fraction of the residual norm."""
    return steered(axis, kind, {layer: alpha * vector}, layer=layer, alpha_fraction=alpha * float(vector.norm()) / float(norms.loc[layer, "rest"]))


def seed_conditions(lm, style, norms, picks: pd.DataFrame) -> dict:
    conditions = {}
    seed_layer = style_runs.layer_at(seed_layer_fraction, lm.n_layers)
    for axis in axes:
        pick = picks.set_index("axis").loc[axis]
        layer, f = int(pick["layer"]), float(pick["alpha_fraction"])
        size = float(norms.loc[layer, "rest"])
        multi = [l for l in range(layer, layer + n_multi) if l < lm.n_layers]
        conditions[f"{axis}|multi_layer"] = steered(  # the chosen setting's total added norm, spread over n_multi layers
            axis, "multi_layer", {l: style_runs.scaled(style[f"{axis}/mean_all"][l], f / len(multi), size) for l in multi},
            layer=layer, alpha_fraction=f)
        raw = style[f"{axis}/mean_all"][seed_layer]
        conditions[f"{axis}|seed_raw2"] = raw_condition(axis, "seed_raw2", raw, seed_layer, seed_raw_alpha, norms)
        if axis == "terse":
            conditions["terse|seed_raw3"] = raw_condition(axis, "seed_raw3", raw, seed_layer, seed_collapse_alpha, norms)
            conditions["terse|seed_unit"] = steered(axis, "seed_unit", {seed_layer: seed_unit_alpha * directions.unit(raw)}, layer=seed_layer,
                                                    alpha_fraction=seed_unit_alpha / float(norms.loc[seed_layer, "rest"]))
            best = style_runs.layer_at(seed_best_layer_fraction, lm.n_layers)  # C-9 compares raw α = 2 at L12 of 28 with prompting
            conditions["terse|seed_raw2_l12"] = raw_condition(axis, "seed_raw2_l12", style[f"{axis}/mean_all"][best], best, seed_raw_alpha, norms)
    for meta, _ in conditions.values():
        meta["depth"] = meta["layer"] / lm.n_layers
    return conditions


# %%
tables, timings = [], {}
for key, lm in nb.models(model_keys, device=device, remote=remote):
    clock = timing.ColdClock(already_s=nb.load_seconds[key])  # includes the load; cache-loaded units count at their cold cost
    style, _ = handoffs.load_style_vectors(key)
    norms = norm_profile[norm_profile["model"] == key].set_index("layer")
    answers = style_runs.run_conditions(lm, seed_conditions(lm, style, norms, chosen[chosen["model"] == key]), test_items, gen_tokens,
                                        batch_size, asks)
    tables.append(answers.assign(model=key))
    timings[key] = {"total_s": clock.seconds()}
    print(key, timings[key])

seeded = pd.concat(tables, ignore_index=True)
artifacts.write_csv(out / "seed_outputs.csv", seeded)
test = pd.concat([reference, seeded], ignore_index=True)  # 07_style_test's answers beside these: the pairs of every comparison
test.groupby(["model", "condition"]).size().unstack(0)

# %% [markdown]
# ## 1 · Test split: every condition against the unsteered answers
# On the held-out questions (the probes are kept for the lens eval): for each of this notebook's conditions, the
# mean difference to the unsteered answer to the same question with a bootstrap interval and a Wilcoxon p, for
# length, the four axis measures and cross-entropy; garbled rates with McNemar; how the answers ended.

# %%
questions_only = test[test["item_kind"] == "question"]
names = list(seeded["condition"].unique())
comparisons, garbling = style_effects.compare_to_unsteered(questions_only, model_keys, names, n_bootstrap, seed)
artifacts.write_csv(out / "seed_comparisons.csv", comparisons)
artifacts.write_csv(out / "seed_garbled.csv", garbling)
endings = style_effects.endings(questions_only, names)
artifacts.write_csv(out / "seed_endings.csv", endings)
reference_endings = style_effects.endings(questions_only, ["unsteered", "terse|prompted"])  # the sides read from 07_style_test
capped_share = pd.concat([style_effects.ending_share(endings, "hit_cap"), style_effects.ending_share(reference_endings, "hit_cap")])
own = style_effects.own_axis(comparisons)
artifacts.write_csv(out / "seed_own_axis.csv", own)
display(garbling[["model", "condition", "garbled_k", "n", "rate", "rate_ci_low", "rate_ci_high", "reference_rate", "p_mcnemar"]].round(3))
endings.round(3)

# %% [markdown]
# ## The effects of both notebooks side by side
# Each axis's own measure moved toward the style, steered minus unsteered on the same question: the instruction as
# a system prompt (the baseline), the dev-chosen setting and its last-token twin (from `07_style_test`), the
# multi-layer spread and the seed's raw α = 2 (here).

# %%
KINDS = ["prompted", "chosen", "last_token", "multi_layer", "seed_raw2"]  # the instruction as a system prompt first: the baseline
test_own = pd.read_csv(handoffs._source(style_effects.TEST, "test_own_axis.csv"))
everything = pd.concat([test_own[test_own["model"].isin(model_keys) & test_own["axis"].isin(axes)], own], ignore_index=True)
shown = everything[everything["kind"].isin(KINDS)]
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
# ## 2 · Lens bleed under the seed's raw α = 2
# The twelve lens vocabularies (hits per 100 words) on the answers to the test questions and the ten neutral probes,
# under each axis's raw vector at α = 2 and unsteered. Bleed = steered minus unsteered total lens score on the same
# prompt (bootstrap interval, Wilcoxon p, Holm-adjusted across the conditions of a model); pooled over questions and
# probes, and per group. The heatmap shows the dev-chosen settings of `07_style_test` beside them.

# %%
LENSES = list(lenses.load_lenses())
bleed = style_effects.lens_bleed(test, model_keys, ["seed_raw2"], n_bootstrap, seed)
artifacts.write_csv(out / "lens_bleed.csv", bleed)
heat = style_effects.lens_means(test, ("unsteered", "chosen", "seed_raw2"), n_test, LENSES)
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
bleed[bleed["group"] == "pooled"].round(3)

# %% [markdown]
# ## 3 · Seed 000's claims about its own settings, decided on the test split
# Rules, fixed before the numbers (`lib/verdicts.py`), on the test split at the seed's relative depth
# (layer 15 of 28); each verdict is reproduced, not reproduced or inconclusive by its interval:
# - *unit α = 0.2 has no effect*: reproduced when the paired interval of the change in words lies
#   within ± `no_effect_margin` of the unsteered mean (an equivalence test), not where it excludes 0;
# - *raw α = 2 makes answers terse*: reproduced when the interval of the change in words lies below 0;
#   testable only where fewer than `max_capped_share` of unsteered answers are cut by the token limit
#   (a cut answer's length is a lower bound); the sign test is beside it;
# - *α ≥ 3 collapses coherence*: reproduced when raw α = 3's garbled rate lies above `collapse_garbled`
#   (the cross-entropy change beside it);
# - *single-layer beats multi-layer*: reproduced when the terse move of the chosen single layer (`07_style_test`)
#   exceeds that of the same total norm spread over `n_multi` layers (paired interval above 0);
# - *raw α = 2 gives 50.6 against 124.3 words on 100 questions*: the ratio of mean words, terse|seed_raw2 over
#   unsteered on `n_comparison` questions (paired bootstrap); reproduced below 1, not reproduced where the
#   interval excludes 0.41; testable only where fewer than `max_capped_share` of either side's answers are cut;
# - *α = 2 at L12 overshoots prompt-level control* (C-9): words under raw α = 2 at 12/28 depth minus words
#   with the terse instruction as the system prompt (`07_style_test`), same questions; reproduced below 0; the same
#   cut rule;
# - *steering bleeds into topic lenses*, under raw α = 2: reproduced when the largest pooled change's interval lies
#   above 0 (Holm p beside it).

# %%
def unit_claim(key: str) -> artifacts.Claim:
    """The seed: a unit terse vector at α = 0.2 does nothing. An equivalence test on the change in words."""
    unit_c = row(comparisons, model=key, condition="terse|seed_unit", measure="words")
    identical = float(np.mean(np.equal(*aligned(questions_only, key, "terse|seed_unit", "unsteered", "text", object))))
    margin = no_effect_margin * unit_c["reference_mean"]
    return artifacts.Claim.tested(
        f"S000-unit-no-effect-{key}", "000", f"A unit terse vector at alpha = 0.2 has no effect ({key})", "zero effect (0.04 % of the norm)",
        unit_c["difference"], int(unit_c["n"]), unit_c["low"], unit_c["high"], artifacts.Rule.within(margin),
        note=f"value = change in words (margin ±{margin:.1f} words, {no_effect_margin:.0%} of the unsteered mean); "
             f"{identical:.0%} of answers token-identical to unsteered")


def raw2_claim(key: str) -> artifacts.Claim:
    """The seed's headline: raw α = 2 makes answers shorter (149 -> 16-35 words; shorter on 99 of 100)."""
    raw2 = row(comparisons, model=key, condition="terse|seed_raw2", measure="words")
    signs = paired.sign_test(*aligned(questions_only, key, "terse|seed_raw2", "unsteered", "words"))
    claim_id, text = f"S000-raw2-terse-{key}", f"The raw terse vector at alpha = 2 makes answers shorter ({key})"
    seed_value = "149 -> 16-35 words; shorter on 99/100"
    precondition = f"fewer than {max_capped_share:.0%} of unsteered answers cut by the {gen_tokens}-token limit"
    held, cap_text = style_effects.uncapped(capped_share, key, ["unsteered"], max_capped_share, gen_tokens)
    details = (f"{raw2['mean']:.1f} vs {raw2['reference_mean']:.1f} words unsteered; shorter on {signs['lower']}/{signs['n']} "
               f"({signs['lower'] / signs['n']:.0%}), longer on {signs['higher']}, sign test p = {signs['p_sign']:.3g}; {cap_text}; "
               f"alpha x raw norm = {style_effects.alpha_fraction_of(test, key, 'terse|seed_raw2'):.2f} of the residual norm")
    if not held:
        return artifacts.Claim.not_testable(claim_id, "000", text, seed_value,
                                            f"the token limit cuts the unsteered answers, so their length is unknown ({details})", precondition)
    return artifacts.Claim.tested(claim_id, "000", text, seed_value, raw2["difference"], int(raw2["n"]), raw2["low"], raw2["high"],
                                  artifacts.Rule.below(0.0), precondition, f"value = change in words; {details}")


def raw3_claim(key: str) -> artifacts.Claim:
    g3 = row(garbling, model=key, condition="terse|seed_raw3")
    nll3 = row(comparisons, model=key, condition="terse|seed_raw3", measure="nll")
    return artifacts.Claim.tested(
        f"S000-raw3-collapse-{key}", "000", f"The raw terse vector at alpha = 3 collapses coherence ({key})", "coherence collapse",
        g3["rate"], int(g3["n"]), g3["rate_ci_low"], g3["rate_ci_high"], artifacts.Rule.above(collapse_garbled),
        note=f"value = garbled rate (unsteered {g3['reference_rate']:.2f}); cross-entropy change {nll3['difference']:+.2f} "
             f"[{nll3['low']:+.2f}, {nll3['high']:+.2f}] nats/token")


def multi_claim(key: str) -> artifacts.Claim:
    single, multi = aligned(questions_only, key, "terse|chosen", "terse|multi_layer", "m_terse")
    diff = paired.paired_continuous(-single, -multi, n_resamples=n_bootstrap, seed=seed)  # terse: fewer words is more of the style
    return artifacts.Claim.tested(
        f"S000-single-beats-multi-{key}", "000", f"Single-layer steering beats multi-layer at matched total perturbation ({key}, terse)",
        "single layer better", diff["difference"], int(diff["n"]), diff["low"], diff["high"], artifacts.Rule.above(0.0),
        note=f"value = words saved by one layer minus words saved by {n_multi} layers (same total added norm); Wilcoxon p = {diff['p_wilcoxon']:.3g}")


def mean_words_claim(key: str) -> artifacts.Claim:
    """Seed 000's 100-question comparison: mean words under raw α = 2 over mean words unsteered (50.6 / 124.3)."""
    claim_id, text = f"S000-raw2-mean-words-{key}", f"Raw α = 2 cuts mean answer length to about 0.41 of unsteered ({key}, terse)"
    seed_value = "50.6 vs 124.3 words, n = 100 (Qwen3-0.6B)"
    precondition = f"fewer than {max_capped_share:.0%} of either condition's answers cut by the token limit"
    held, cap_text = style_effects.uncapped(capped_share, key, COMPARISON, max_capped_share, gen_tokens)
    if not held:
        return artifacts.Claim.not_testable(claim_id, "000", text, seed_value, cap_text, precondition)
    steered_words, base = aligned(questions_only, key, "terse|seed_raw2", "unsteered", "words")
    ratio = scipy_stats.bootstrap((steered_words, base), lambda a, b: a.mean() / b.mean(), paired=True, vectorized=False,
                                  n_resamples=n_bootstrap, method="percentile", random_state=np.random.default_rng(seed))
    signs = paired.sign_test(steered_words, base)
    return artifacts.Claim.tested(
        claim_id, "000", text, seed_value, float(steered_words.mean() / base.mean()), len(steered_words), float(ratio.confidence_interval.low),
        float(ratio.confidence_interval.high), artifacts.Rule.below(1.0, seed_effect=50.6 / 124.3), precondition,
        f"{steered_words.mean():.1f} vs {base.mean():.1f} words; shorter on {signs['lower']} of {signs['n']}; {cap_text}; "
        "interval: paired bootstrap of the ratio of means")


def overshoot_claim(key: str) -> artifacts.Claim:
    """C-9: raw α = 2 at 12/28 depth makes answers shorter than the terse instruction given as the system prompt."""
    claim_id, text = f"S000-overshoots-prompt-{key}", f"Raw α = 2 at 12/28 depth overshoots prompt-level control ({key}, terse)"
    seed_value = "C-9 refuted: alpha = 2.0 at L12 overshoots prompt control (Qwen3-0.6B)"
    precondition = f"fewer than {max_capped_share:.0%} of either condition's answers cut by the token limit"
    held, cap_text = style_effects.uncapped(capped_share, key, ("terse|seed_raw2_l12", "terse|prompted"), max_capped_share, gen_tokens)
    if not held:
        return artifacts.Claim.not_testable(claim_id, "000", text, seed_value, cap_text, precondition)
    result = paired.paired_continuous(*aligned(questions_only, key, "terse|seed_raw2_l12", "terse|prompted", "words"),
                                      n_resamples=n_bootstrap, seed=seed)
    return artifacts.Claim.tested(
        claim_id, "000", text, seed_value, result["difference"], result["n"], result["low"], result["high"], artifacts.Rule.below(0.0),
        precondition, f"value = steered minus prompted words ({result['mean']:.1f} vs {result['reference_mean']:.1f}); Wilcoxon p = "
                      f"{result['p_wilcoxon']:.3g}; {cap_text}")


claims = []
for key in model_keys:
    claims += [unit_claim(key), raw2_claim(key), raw3_claim(key), multi_claim(key), mean_words_claim(key), overshoot_claim(key)]
    claims.append(style_effects.bleed_claim(bleed, key, "S000-lens-bleed-raw2", "the seed's raw α = 2"))
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
macros.add("NMulti", n_multi, "{:d}")
macros.add("NComparison", n_comparison, "{:d}")
raw2 = row(comparisons, model=large, condition="terse|seed_raw2", measure="words")
macros.add("Raw two words", raw2["mean"], "{:.1f}")
macros.add("Base words", raw2["reference_mean"], "{:.1f}")
macros.add("Raw two diff", raw2["difference"], "{:+.1f}")
macros.add("Raw two low", raw2["low"], "{:+.1f}")
macros.add("Raw two high", raw2["high"], "{:+.1f}")
macros.add("Raw two fraction", style_effects.alpha_fraction_of(test, large, "terse|seed_raw2"))
signs = paired.sign_test(*aligned(questions_only, large, "terse|seed_raw2", "unsteered", "words"))
macros.add("Raw two shorter", signs["lower"], "{:d}")
unit_c = row(comparisons, model=large, condition="terse|seed_unit", measure="words")
macros.add("Unit diff", unit_c["difference"], "{:+.1f}")
macros.add("Unit low", unit_c["low"], "{:+.1f}")
macros.add("Unit high", unit_c["high"], "{:+.1f}")
g3 = row(garbling, model=large, condition="terse|seed_raw3")
macros.add("Raw three garbled", g3["rate"])
macros.add("Raw three fraction", style_effects.alpha_fraction_of(test, large, "terse|seed_raw3"))
macros.add("Raw three nll", row(comparisons, model=large, condition="terse|seed_raw3", measure="nll")["difference"], "{:+.2f}")
top = bleed[(bleed["model"] == large) & (bleed["group"] == "pooled")].sort_values("difference", ascending=False).iloc[0]
macros.add("Bleed top condition", top["condition"].replace("|", ", "))
macros.add("Bleed top", top["difference"], "{:+.2f}")
macros.add("Bleed top low", top["low"], "{:+.2f}")
macros.add("Bleed top high", top["high"], "{:+.2f}")
macros.add("Bleed base", top["reference_mean"])
for name, prefix in (("Verdict unit", "S000-unit-no-effect"), ("Verdict raw two", "S000-raw2-terse"), ("Verdict raw three", "S000-raw3-collapse"),
                     ("Verdict multi", "S000-single-beats-multi"), ("Verdict bleed", "S000-lens-bleed-raw2"),
                     ("Verdict mean words", "S000-raw2-mean-words"), ("Verdict overshoot", "S000-overshoots-prompt")):
    macros.add(name, style_runs.verdict_phrase(prefix, claims))
verdicts = pd.Series([c.verdict for c in claims])
macros.add("Claims reproduced", int((verdicts == "reproduced").sum()), "{:d}")
macros.add("Claims total", len(claims), "{:d}")
capped_table = endings[endings["metric"] == "hit_cap"]
macros.add("Capped max", 100 * capped_table["rate"].max(), "{:.0f}")
macros.add("Capped max condition", capped_table.loc[capped_table["rate"].idxmax(), "condition"].replace("|", ", "))
macros.add("Wall minutes", sum(t["total_s"] for t in timings.values()) / 60, "{:.0f}")
nb.finish(claims)  # the claims ledger and the paper's macros
artifacts.write_json(out / "run.json", {"timings": timings})
