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
# # 07 · Style steering on the test split: the chosen settings, their recipe twin, prompting, and lens bleed
#
# The test half of seed 000's protocol. `07_style_steering` split the questions, measured the residual
# norms α is a fraction of, and chose a layer and α per axis on the dev questions; here they run on the
# held-out questions, each answer paired with the unsteered answer to the same question:
#
# 1. **Conditions.** The unsteered model (on all `n_comparison` questions: `07_style_test_seed_settings` pairs the
#    seed's 100-question comparison with these answers); per axis the chosen setting, the last-token recipe at the
#    same norm, and the style instruction itself as the system prompt (prompt-level control, the baseline steering
#    is compared with); for terse also the layer where the vector is largest. The seed's own settings (raw α = 2
#    and 3, the unit vector, raw α = 2 at 12/28, the multi-layer spread) run in `07_style_test_seed_settings`, and
#    the two poles of the terse vector in `07_style_two_poles`: one notebook of all three would run over the
#    100-minute budget of a cold run on this machine.
# 2. **Effects.** Length, the four axis measures and cross-entropy against unsteered (bootstrap interval,
#    Wilcoxon p); garbled rates with Wilson intervals and McNemar; how every answer ended: cut by the token limit,
#    in a loop (ended where it became one, `lib/style_runs.py`), or at its end-of-sequence token.
# 3. **Lens bleed.** The twelve lens vocabularies scored on the answers under the chosen settings and unsteered,
#    to the held-out questions and the seed's ten neutral probes.
# 4. **The seed's claims** about the chosen settings, decided on the test split with verdicts.

# %% tags=["parameters"]
profile = "default"
remote = False  # True: run hub models on NDIF through nnsight (README, "Scale-out"); needs NDIF_API_KEY
model_keys = ["smollm2-135m", "qwen2.5-0.5b"]  # each must have a dev choice in 07_style_steering
device = "cpu"
axes = ["terse", "formal", "socratic", "dry-wit"]
n_test = 64  # test questions per condition (the ten probes come on top)
n_comparison = 100  # questions the unsteered model answers: 07_style_test_seed_settings's seed comparison reads them
gen_tokens = 384  # test answers: above the seed's 200-256, so that fewer than max_capped_share of unsteered answers are cut
degraded_garbled = 0.25  # a style claim is testable only where the steered answers are garbled at most this often
max_capped_share = 0.10  # a length claim is testable only where fewer answers than this are cut by the token limit
on_topic_margin = 0.10  # "content preserved": the steered on-topic share is at most this far below the unsteered one
n_bootstrap = 2000
batch_size = 128  # generation throughput on this CPU still grows past batch 64
seed = 0

# %%
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from lib import artifacts, handoffs, lenses, notebook, paired, plotting, style_effects, style_runs, stylemetrics, timing
from lib.style_runs import one_row as row, paired_by_item as aligned, steered

NOTEBOOK = "07_style_test"
nb = notebook.start(NOTEBOOK, prefix="StyleTest", seed=seed)  # seeds, determinism, plotting, results folder
out = nb.out
macros = nb.macros

chosen, norm_profile, splits = style_effects.checked_choice(model_keys, axes)  # 07_style_steering's dev choice
n_asked = max(n_test, n_comparison)  # test questions any condition answers
if len(splits["test"]) < n_asked:
    raise ValueError(f"The test split holds {len(splits['test'])} questions, fewer than max(n_test, n_comparison) = {n_asked}: "
                     "lower them, or lower dev_share in 07_style_steering and rerun it.")
test_questions, probes = splits["test"][:n_asked], splits["probes"]
test_items = [("question", q) for q in test_questions] + [("probe", q) for q in probes]
LENS_KINDS = ("unsteered", "chosen")  # the conditions whose answers to the probes the lens eval reads
style_effects.save_test_setup(out, {"model_keys": model_keys, "axes": axes, "n_test": n_test, "n_comparison": n_comparison,
                                    "gen_tokens": gen_tokens, "n_probes": len(probes)})
print({"test": len(test_questions), "probes": len(probes), "axes": axes})
chosen

# %% [markdown]
# ## Per model: the test conditions
# Each model is loaded once. Every condition runs as one batched greedy generation (rows carry their
# own intervention), then every answer is measured and scored for coherence (`lib/style_runs.py`).


# %%
def asks(name: str, meta: dict, j: int, kind: str) -> bool:
    """Whether condition `name` answers item j: the first n_test questions (all n_comparison unsteered, for the seed's
    comparison in 07_style_test_seed_settings), and the probes only under LENS_KINDS, the only analysis that reads them."""
    if kind == "probe":
        return meta["kind"] in LENS_KINDS
    return j < (n_comparison if name == style_runs.UNSTEERED else n_test)


def norm_peak_layer(style, norms) -> int:
    """The layer where the raw terse vector is largest relative to the non-first-token residual norm (the seed's
    perturbation share at a fixed raw α)."""
    return int(np.argmax([float(style["terse/mean_all"][layer].norm()) / float(norms.loc[layer, "rest"]) for layer in norms.index]))


def test_conditions(lm, style, norms, picks: pd.DataFrame, instructions: dict) -> dict:
    conditions = {style_runs.UNSTEERED: style_runs.unsteered()}
    for axis in axes:  # the style instruction itself as the system message: the prompt-level control steering is compared with
        conditions[f"{axis}|prompted"] = style_runs.prompted(axis, instructions[axis]["positive"])
    for axis in axes:
        pick = picks.set_index("axis").loc[axis]
        layer, f = int(pick["layer"]), float(pick["alpha_fraction"])
        size = float(norms.loc[layer, "rest"])
        common = {"alpha_fraction": f}
        conditions[f"{axis}|chosen"] = steered(axis, "chosen", {layer: style_runs.scaled(style[f"{axis}/mean_all"][layer], f, size)}, layer=layer, **common)
        conditions[f"{axis}|last_token"] = steered(axis, "last_token", {layer: style_runs.scaled(style[f"{axis}/last"][layer], f, size)}, layer=layer, **common)
        if axis == "terse":
            peak = norm_peak_layer(style, norms)  # C-7: the layer where the terse vector is largest, at the chosen α
            conditions["terse|norm_peak"] = steered(axis, "norm_peak", {peak: style_runs.scaled(
                style[f"{axis}/mean_all"][peak], f, float(norms.loc[peak, "rest"]))}, layer=peak, **common)
    for meta, _ in conditions.values():
        meta["depth"] = meta["layer"] / lm.n_layers if "layer" in meta else np.nan
    return conditions


# %%
test_tables, timings = [], {}
for key, lm in nb.models(model_keys, device=device, remote=remote):
    clock = timing.ColdClock(already_s=nb.load_seconds[key])  # includes the load; cache-loaded units count at their cold cost
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
# Wilcoxon p, for length, the four axis measures and cross-entropy; garbled rates with McNemar; how the answers ended.

# %%
questions_only = test[test["item_kind"] == "question"]
names = list(questions_only["condition"].unique())
comparisons, garbling = style_effects.compare_to_unsteered(questions_only, model_keys, [n for n in names if n != style_runs.UNSTEERED],
                                                           n_bootstrap, seed)
artifacts.write_csv(out / "test_comparisons.csv", comparisons)
artifacts.write_csv(out / "test_garbled.csv", garbling)
endings = style_effects.endings(questions_only, names)
artifacts.write_csv(out / "test_endings.csv", endings)
capped_share, loop_share = style_effects.ending_share(endings, "hit_cap"), style_effects.ending_share(endings, "ended_in_loop")
own = style_effects.own_axis(comparisons)
artifacts.write_csv(out / "test_own_axis.csv", own)
KINDS = ["prompted", "chosen", "last_token"]  # the instruction as a system prompt first: the baseline
shown = own[own["kind"].isin(KINDS)]
own[["model", "axis", "kind", "mean", "reference_mean", "directed_difference", "directed_low", "directed_high", "p_wilcoxon", "n"]].round(3)

# %% [markdown]
# Garbled rates on the test split (Wilson intervals; McNemar against the unsteered answers), and how the answers
# ended (the figure with every condition, the seed's settings beside these, is `07_style_test_seed_settings`'s):

# %%
display(garbling[["model", "condition", "garbled_k", "n", "rate", "rate_ci_low", "rate_ci_high", "reference_rate", "p_mcnemar"]].round(3))
endings.round(3)

# %% [markdown]
# ## 2 · Lens bleed on steered text
# The twelve lens vocabularies (hits per 100 words) on the answers to the test questions and the ten
# neutral probes, for the unsteered model and for each axis at its chosen setting. Bleed = steered minus
# unsteered total lens score on the same prompt (bootstrap interval, Wilcoxon p, Holm-adjusted across the
# conditions of a model); pooled over questions and probes, and per group. (The seed's raw α = 2 is
# scored in `07_style_test_seed_settings`.)

# %%
LENSES = list(lenses.load_lenses())
bleed = style_effects.lens_bleed(test, model_keys, ["chosen"], n_bootstrap, seed)
artifacts.write_csv(out / "lens_bleed.csv", bleed)
heat = style_effects.lens_means(test, LENS_KINDS, n_test, LENSES)
artifacts.write_csv(out / "lens_means.csv", heat.reset_index())
fig, grid = plt.subplots(1, len(model_keys), figsize=(6.5 * len(model_keys), 3.4), squeeze=False)
for ax, key in zip(grid[0], model_keys):
    sns.heatmap(heat.loc[key], ax=ax, cmap="rocket_r", annot=True, fmt=".1f", annot_kws={"fontsize": 6}, cbar_kws={"label": "hits / 100 words"})
    ax.set_title(f"{key}: lens scores (test questions + probes, n = {n_test + len(probes)})", fontsize=9)
    ax.set_xlabel("")
    ax.set_ylabel("")
fig.tight_layout()
plotting.save_figure(fig, NOTEBOOK, "lens_heatmap")
plt.show()
common = test[(test["item_kind"] == "probe") | (test["item"] < n_test)]
bands = common.assign(top_lens=common[[f"lens_{l}" for l in LENSES]].max(axis=1) / 100)
bands["band"] = bands["top_lens"].map(lenses.band)
band_table = bands[bands["kind"].isin(LENS_KINDS)].groupby(["model", "condition"])["band"].value_counts().unstack(fill_value=0)
artifacts.write_csv(out / "lens_bands.csv", band_table.reset_index())
bleed[bleed["group"] == "pooled"].round(3)

# %% [markdown]
# ## 3 · Seed 000's claims about the chosen settings, decided on the test split
# Rules, fixed before the numbers (`lib/verdicts.py`); each verdict is reproduced, not reproduced or inconclusive by
# its interval (the claims the dev sweep decides, the best layer and the layer roles, are in `07_style_steering`;
# those about the seed's own settings in `07_style_test_seed_settings`):
# - *four styles steer*: per axis, its own measure at the dev-chosen setting moves the named way (interval
#   above 0); testable where the steered answers are garbled at most `degraded_garbled` of the time; the
#   instruction given as a system prompt stands beside it (`{axis}|prompted`);
# - *content is preserved*: the share of answers on topic (not garbled, sharing a content word with the
#   question, `stylemetrics.on_topic`) under the chosen terse setting minus the unsteered share; reproduced
#   where the interval lies at or above −`on_topic_margin`;
# - *norm is not steerability* (C-7): on the test split, words under the terse vector at the layer where it is largest
#   relative to the residual norm minus words at the dev-chosen layer, same α fraction, same questions; reproduced above
#   0 (the chosen layer steers further); testable where some terse cell is effective on dev and fewer than
#   `max_capped_share` of either side's answers are cut by the token limit;
# - *steering bleeds into topic lenses* (the question the seed's lens eval asked but never measured on steered
#   text), under the chosen settings: reproduced when the largest pooled change's interval lies above 0 (Holm p beside it).

# %%
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
    steered_on, base_on = aligned(part, key, "terse|chosen", "unsteered", "on_topic", bool)
    result = paired.paired_binary(steered_on, base_on, n_resamples=n_bootstrap, seed=seed)
    return artifacts.Claim.tested(
        f"S000-content-preserved-{key}", "000", f"Steering shifts style and preserves content ({key}, terse, chosen setting)",
        "style shifts, content preserved (qualitative; Qwen3-0.6B)", result["difference"], result["n"], result["low"], result["high"],
        artifacts.Rule.at_least(-on_topic_margin), note=f"value = steered minus unsteered share of answers on topic (not garbled, "
        f"sharing a content word with the question): {result['rate']:.2f} vs {result['reference_rate']:.2f}")


def norm_steerability_claim(key: str) -> artifacts.Claim:
    """C-7: norm is not steerability. On the test split, the dev-chosen terse layer against the layer where the terse
    vector is largest relative to the residual norm, both at the chosen α: words saved at the chosen layer minus words
    saved at the norm peak, paired by question. Zero when the norm peak is the chosen layer."""
    claim_id, text = f"S000-norm-not-steerability-{key}", f"The layer where the terse vector is largest is not where it steers best ({key})"
    seed_value = "C-7 refuted: verbosity does not peak in L12-17 although L12 steers best (Qwen3-0.6B)"
    precondition = f"an effective terse cell on dev; fewer than {max_capped_share:.0%} of either side's answers cut by the token limit"
    if not bool(row(chosen, model=key, axis="terse")["effective_on_dev"]):
        return artifacts.Claim.not_testable(claim_id, "000", text, seed_value, "no terse cell of the dev sweep is effective", precondition)
    held, cap_text = style_effects.uncapped(capped_share, key, ("terse|norm_peak", "terse|chosen"), max_capped_share, gen_tokens)
    if not held:
        return artifacts.Claim.not_testable(claim_id, "000", text, seed_value, cap_text, precondition)
    at_peak, at_chosen = aligned(questions_only, key, "terse|norm_peak", "terse|chosen", "words")
    result = paired.paired_continuous(at_peak, at_chosen, n_resamples=n_bootstrap, seed=seed)  # fewer words at the chosen layer: > 0
    layers = (int(row(chosen, model=key, axis="terse")["layer"]), int(row(questions_only, model=key, condition="terse|norm_peak")["layer"]))
    return artifacts.Claim.tested(
        claim_id, "000", text, seed_value, result["difference"], result["n"], result["low"], result["high"], artifacts.Rule.above(0.0),
        precondition, f"value = words at the norm-peak layer {layers[1]} minus words at the dev-chosen layer {layers[0]} "
                      f"({result['mean']:.1f} vs {result['reference_mean']:.1f}), same α fraction; Wilcoxon p = {result['p_wilcoxon']:.3g}; "
                      f"{cap_text}")


claims = []
for key in model_keys:
    claims += [content_claim(key), norm_steerability_claim(key)]
    claims += [style_claim(key, axis) for axis in axes]
    claims.append(style_effects.bleed_claim(bleed, key, "S000-lens-bleed-chosen", "dev-chosen settings"))
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
for axis in axes:
    for kind, name in (("chosen", "chosen"), ("last_token", "last")):  # the other recipe at the same norm, for the prose
        o = row(own, model=large, condition=f"{axis}|{kind}")
        macros.add(f"{axis} {name} move", o["directed_difference"])
        macros.add(f"{axis} {name} low", o["directed_low"])
        macros.add(f"{axis} {name} high", o["directed_high"])
unsteered_large = questions_only[(questions_only["model"] == large) & (questions_only["condition"] == "unsteered")]
floored = [a for a in axes if stylemetrics.DIRECTION[a] < 0 and (unsteered_large[f"m_{a}"] == 0).all()]
macros.add("Floor axes", ", ".join(floored) or "none")
top = bleed[(bleed["model"] == large) & (bleed["group"] == "pooled")].sort_values("difference", ascending=False).iloc[0]
macros.add("Bleed top condition", top["condition"].replace("|", ", "))
macros.add("Bleed top", top["difference"], "{:+.2f}")
macros.add("Bleed top low", top["low"], "{:+.2f}")
macros.add("Bleed top high", top["high"], "{:+.2f}")
macros.add("Bleed base", top["reference_mean"])
for name, prefix in (("Verdict bleed", "S000-lens-bleed-chosen"), ("Verdict content", "S000-content-preserved"),
                     ("Verdict norm peak", "S000-norm-not-steerability")):
    macros.add(name, style_runs.verdict_phrase(prefix, claims))
verdicts = pd.Series([c.verdict for c in claims])
macros.add("Claims reproduced", int((verdicts == "reproduced").sum()), "{:d}")
macros.add("Claims total", len(claims), "{:d}")
capped_table = endings[endings["metric"] == "hit_cap"]
macros.add("Capped unsteered", "; ".join(f"{key}: {capped_share[(key, 'unsteered')]:.0%}" for key in model_keys))
macros.add("Loop window", style_runs.LOOP_WINDOW, "{:d}")
macros.add("Loop mismatches", style_runs.LOOP_MISMATCHES, "{:d}")
macros.add("Loop max period", style_runs.LOOP_MAX_PERIOD, "{:d}")
macros.add("Looped unsteered", "; ".join(f"{key}: {loop_share[(key, 'unsteered')]:.0%}" for key in model_keys))
macros.add("Capped max", 100 * capped_table["rate"].max(), "{:.0f}")
macros.add("Capped max condition", capped_table.loc[capped_table["rate"].idxmax(), "condition"].replace("|", ", "))
macros.add("Max capped", 100 * max_capped_share, "{:.0f}")
macros.add("On topic margin", 100 * on_topic_margin, "{:.0f}")
macros.add("Wall minutes", sum(t["total_s"] for t in timings.values()) / 60, "{:.0f}")
nb.finish(claims)  # the claims ledger and the paper's macros
artifacts.write_json(out / "run.json", {"timings": timings})
