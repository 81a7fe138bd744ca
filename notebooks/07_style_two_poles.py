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
# # 07 · The terse vector's two poles: is α parity asymmetric?
#
# Seed 000 left open whether equal α toward terse and toward verbose give effects of equal size (its C-14).
# Here the terse vector, at the layer and α `07_style_steering` chose on the dev questions, is added (the terse
# pole, +α) and subtracted (the verbose pole, −α) on the held-out test questions, each answer paired with the
# unsteered answer to the same question. The verbose pole writes long answers, so every condition gets
# `asymmetry_tokens` new tokens (twice `07_style_test`'s limit, which is why the pair runs here, apart from it).
#
# **Rule, fixed before the run.** Per question, |log length ratio| to the unsteered answer, terse pole minus
# verbose pole; the paired mean's bootstrap interval folded to the magnitude. Reproduced (asymmetric) where it
# excludes 0; not reproduced (symmetric) where it lies below `asymmetry_margin`; inconclusive otherwise.
# **Precondition:** fewer than `max_capped_share` of either pole's answers are cut by the token limit (a cut
# answer's length is unknown) and at most `degraded_garbled` of them are garbled.

# %% tags=["parameters"]
profile = "default"
remote = False  # True: run hub models on NDIF through nnsight (README, "Scale-out"); needs NDIF_API_KEY
model_keys = ["smollm2-135m", "qwen2.5-0.5b"]  # each must have a dev choice in 07_style_steering
device = "cpu"
n_test = 64  # test questions (07_style_test's n_test: the same questions)
asymmetry_tokens = 512  # long enough that the verbose pole's answers end before the cap
asymmetry_margin = 0.1  # "symmetric": the two poles' |log length ratio| differ by less than this (about 10 % of length)
max_capped_share = 0.10  # testable only where fewer than this share of each pole's answers hit the token cap
degraded_garbled = 0.25  # ... and at most this share of them are garbled
n_bootstrap = 2000
batch_size = 128
seed = 0

# %%
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from lib import artifacts, handoffs, notebook, paired, plotting, stats, steering_settings, style_runs, timing
from lib.style_runs import paired_by_item as aligned, steered

NOTEBOOK = "07_style_two_poles"
nb = notebook.start(NOTEBOOK, prefix="StylePoles", seed=seed)  # seeds, determinism, plotting, results folder
out = nb.out
macros = nb.macros

chosen_all, norm_profile, splits = steering_settings.load_style_choice()  # 07_style_steering's dev choice
terse = chosen_all[chosen_all["model"].isin(model_keys) & (chosen_all["axis"] == "terse")].set_index("model")
unchosen = sorted(set(model_keys) - set(terse.index))
if unchosen:
    raise ValueError(f"07_style_steering chose no terse setting for {unchosen}: add those models there and rerun it first.")
if len(splits["test"]) < n_test:
    raise ValueError(f"The test split holds {len(splits['test'])} questions, fewer than n_test = {n_test}: lower n_test, "
                     "or lower dev_share in 07_style_steering and rerun it.")
test_items = [("question", q) for q in splits["test"][:n_test]]
terse[["layer", "alpha_fraction", "effective_on_dev"]]

# %% [markdown]
# ## Per model: unsteered, +α and −α in one batched generation


# %%
def pole_conditions(style, norms, pick: pd.Series) -> dict:
    """The terse vector at its dev-chosen layer and α, added (the terse pole) and subtracted (the verbose pole)."""
    layer, f = int(pick["layer"]), float(pick["alpha_fraction"])
    vector = style_runs.scaled(style["terse/mean_all"][layer], f, float(norms.loc[layer, "rest"]))
    conditions = {style_runs.UNSTEERED: style_runs.unsteered()}
    for sign, pole in ((1, "plus"), (-1, "minus")):
        conditions[f"terse|{pole}"] = steered("terse", pole, {layer: sign * vector}, layer=layer, alpha_fraction=sign * f)
    return conditions


tables, timings = [], {}
for key, lm in nb.models(model_keys, device=device, remote=remote):
    clock = timing.ColdClock(already_s=nb.load_seconds[key])  # includes the load; cache-loaded units count at their cold cost
    style, _ = handoffs.load_style_vectors(key)
    norms = norm_profile[norm_profile["model"] == key].set_index("layer")
    answers = style_runs.run_conditions(lm, pole_conditions(style, norms, terse.loc[key]), test_items, asymmetry_tokens, batch_size)
    tables.append(answers.assign(model=key))
    timings[key] = {"total_s": clock.seconds()}
    print(key, timings[key])

poles = pd.concat(tables, ignore_index=True)
artifacts.write_csv(out / "pole_outputs.csv", poles)
poles.groupby(["model", "condition"])["words"].describe().round(1)

# %% [markdown]
# ## Length under each pole, per question
# |log((words + 1) / (unsteered words + 1))| per question and pole: how far each pole moves an answer's length,
# whichever way. Beside it, the share of answers the token limit cut and the garbled share (Wilson intervals).

# %%
def log_ratio(key: str, pole: str) -> np.ndarray:
    """|log length ratio| to the unsteered answer to the same question, in item order."""
    steered_words, base_words = aligned(poles, key, f"terse|{pole}", style_runs.UNSTEERED, "words")
    return np.abs(np.log1p(steered_words) - np.log1p(base_words))


ratios = pd.concat([pd.DataFrame({"model": key, "pole": pole, "abs_log_ratio": log_ratio(key, pole)})
                    for key in model_keys for pole in ("plus", "minus")], ignore_index=True)
artifacts.write_csv(out / "pole_log_ratios.csv", ratios)
shares = pd.concat([stats.rate_table(poles, ["model", "condition"], "hit_cap").assign(measure="cut by the token limit"),
                    stats.rate_table(poles, ["model", "condition"], "ended_in_loop").assign(measure="ended in a loop"),
                    stats.rate_table(poles, ["model", "condition"], "garbled").assign(measure="garbled")], ignore_index=True)
artifacts.write_csv(out / "pole_shares.csv", shares)

fig, grid = plt.subplots(1, len(model_keys), figsize=(3.6 * len(model_keys), 3.2), squeeze=False, sharey=True)
for ax, key in zip(grid[0], model_keys):
    part = ratios[ratios["model"] == key].assign(pole=lambda d: d["pole"].map({"plus": "terse (+α)", "minus": "verbose (−α)"}))
    sns.boxplot(data=part, x="pole", y="abs_log_ratio", ax=ax, color="0.85", showfliers=False)
    sns.stripplot(data=part, x="pole", y="abs_log_ratio", ax=ax, size=3, alpha=0.6, jitter=0.2)
    pick = terse.loc[key]
    ax.set_title(f"{key}: layer {int(pick['layer'])}, α = {pick['alpha_fraction']:g} of the norm", fontsize=8)
    ax.set_xlabel("")
grid[0, 0].set_ylabel("|log length ratio| to unsteered")
fig.suptitle(f"The terse vector's two poles on {n_test} test questions ({asymmetry_tokens} new tokens)", y=1.02)
fig.tight_layout()
plotting.save_figure(fig, NOTEBOOK, "poles")
plt.show()
shares.round(3)

# %% [markdown]
# ## Seed 000's C-14 decided, with its verdict


# %%
def folded(value: float, low: float, high: float) -> tuple[float, float, float]:
    """|x| with an interval from x's: the ends' magnitudes when the interval excludes 0, else [0, the larger one]."""
    ends = sorted((abs(low), abs(high)))
    return abs(value), (ends[0] if low > 0 or high < 0 else 0.0), ends[1]


def asymmetry_claim(key: str) -> artifacts.Claim:
    """C-14 (open in the seed): the terse (+α) and verbose (-α) poles move length by different magnitudes."""
    claim_id, text = f"S000-alpha-asymmetry-{key}", f"The terse and verbose poles of the terse vector move length by different amounts ({key})"
    seed_value = "C-14 open (undecided in the seed)"
    precondition = (f"fewer than {max_capped_share:.0%} of answers cut by the {asymmetry_tokens}-token cap and at most "
                    f"{degraded_garbled:.0%} garbled, per pole")
    part = poles[poles["model"] == key]
    shares = part.groupby("condition")[["hit_cap", "ended_in_loop", "garbled"]].mean()
    capped, garbled = shares["hit_cap"], shares["garbled"]
    state = "; ".join(f"{c}: {r.hit_cap:.0%} cut, {r.ended_in_loop:.0%} ended in a loop, {r.garbled:.0%} garbled" for c, r in shares.iterrows())
    if (capped >= max_capped_share).any() or (garbled > degraded_garbled).any():
        return artifacts.Claim.not_testable(claim_id, "000", text, seed_value, state, precondition)
    result = paired.paired_continuous(log_ratio(key, "plus"), log_ratio(key, "minus"), n_resamples=n_bootstrap, seed=seed)
    value, low, high = folded(result["difference"], result["low"], result["high"])
    return artifacts.Claim.tested(
        claim_id, "000", text, seed_value, value, result["n"], low, high, artifacts.Rule.above(0.0, seed_effect=asymmetry_margin), precondition,
        f"value = |mean over questions of |log length ratio| terse pole minus verbose pole| (signed {result['difference']:+.2f} "
        f"[{result['low']:+.2f}, {result['high']:+.2f}]; mean |log ratio| {result['mean']:.2f} vs {result['reference_mean']:.2f}); "
        f"seed effect = the margin {asymmetry_margin:g} below which the poles count as symmetric; {state}")


claims = [asymmetry_claim(key) for key in model_keys]
pd.DataFrame([vars(c) for c in claims])[["id", "value_here", "ci_low", "ci_high", "verdict", "note"]]

# %% [markdown]
# ## Wall time per model, and the numbers for the paper

# %%
macros.add("Tokens", asymmetry_tokens, "{:d}")
macros.add("Margin", asymmetry_margin, "{:g}")
macros.add("NTest", n_test, "{:d}")
macros.add("Verdict", style_runs.verdict_phrase("S000-alpha-asymmetry", claims))
looped = poles.groupby(["model", "condition"])["ended_in_loop"].mean()
macros.add("Looped", "; ".join(f"{key}: {looped[(key, 'terse|plus')]:.0%} (terse), {looped[(key, 'terse|minus')]:.0%} (verbose), "
                               f"{looped[(key, style_runs.UNSTEERED)]:.0%} (unsteered)" for key in model_keys))
macros.add("Wall minutes", sum(t["total_s"] for t in timings.values()) / 60, "{:.0f}")
nb.finish(claims)  # the claims ledger and the paper's macros
artifacts.write_json(out / "run.json", {"timings": timings})
pd.DataFrame(timings).T
