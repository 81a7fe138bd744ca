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
# depends_on: 01_extraction, 04_refusal_selection

# %% [markdown]
# # 04 · Refusal steering across scale and architecture: DIM versus a faithful COSMIC
#
# Seed 003 reports that refusal steering gets *harder with scale* (coherent refusal 100 → 77 % from
# Qwen-3B to 32B), that difference-in-means (DIM) beats COSMIC, that architecture is a binary
# gate, and that nnsight and raw hooks differ by 90 points. Its known defects: COSMIC's public code
# scores every candidate alike (so it picks the first layer), α is a fixed multiple of a unit vector
# whatever the model's residual norm, layers and α are tuned on the evaluation prompts, and its
# keyword classifier counts "dangerous" weather as a refusal.
#
# Here, on the embedded models of `model_keys` (default: all four of the zoo, SmolLM2-135M, Qwen2.5-Coder-0.5B
# and -1.5B instruct, and Gemma-3-270M base as a third architecture):
#
# 1. **Selection** (`04_refusal_selection`). The DIM candidates of 01 (train split), every post-instruction
#    position x layer, scored on validation prompts by directional ablation and addition; Arditi et al.'s rule and
#    COSMIC's rule each picked one there. This notebook steers with the picks.
# 2. **Dev sweep.** α as a fraction of the layer's mean residual norm (first token excluded),
#    layers at 30–70 % depth, and the seed's fixed α = 15 added at every layer from l to the end,
#    all on the validation split. DIM is tested twice: at the layer Arditi's rule selects, and at
#    the layer and α that work best in the sweep.
# 3. **Test.** Induced refusal on held-out harmless prompts and ablation on held-out harmful
#    prompts, greedy. Refusal is the judge most accurate on unsteered over-refusal dev answers
#    (section 0), garbled answers excluded; the seed's keyword classifier and the others stand
#    beside it with their false-positive rates, and coherence is the unsteered model's
#    cross-entropy on the steered text.
# 4. **Scaling.** Rates versus parameter count with intervals, a logistic regression with
#    normalized and with fixed α, tooling parity in generation, and the seed's claims with verdicts.

# %% tags=["parameters"]
profile = "default"
remote = False  # True: run hub models on NDIF through nnsight (README, "Scale-out"); needs NDIF_API_KEY
model_keys = ["smollm2-135m", "gemma3-270m", "qwen2.5-0.5b", "qwen2.5-1.5b"]
device = "cpu"
precision = "fp32"  # a weight precision of lib/precisions.py (the gpu profile: "bf16")
sweep_depths = [0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7]  # the seed's 30-70 % layer sweep in steps of 0.05 (dev split)
alpha_fractions = [0.5, 1.0]  # α as a fraction of the layer's mean residual norm
seed_alpha = 15.0  # the seed's fixed multiplier for Qwen, on a unit vector, at every layer from l on
n_dev = 24  # validation (harmless) prompts per dev condition
dev_tokens = 48
n_test = 64  # held-out prompts per side and condition (the split has 80)
n_over_refusal = 96  # over-refusal prompts per split (dev picks the best judge, test reports them), unsteered
gen_tokens = 100  # the seed's 100 new tokens
n_coherence = 64  # outputs per condition scored for cross-entropy under the unsteered model (all of n_test)
non_inferiority_margin = 0.15  # "DIM matches or exceeds COSMIC": the paired difference's interval lies above -this
n_parity = 2  # prompts for nnsight-vs-hooks generation parity
parity_tokens = 16
batch_size = 64  # generation throughput on this CPU grows up to batch 64-128
steering_refusal_bound = 0.9  # "100 % refusal on benign prompts": reproduced where the interval lies at or above this
seed = 0

# %%
import warnings

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
import statsmodels.formula.api as smf
import statsmodels.api as sm

from lib import artifacts, engine, handoffs, judges, notebook, paired, plotting, prompts, refusal, registry, stats, steering_settings, textclass, timing
from lib import conditions as conditions_runner
from lib.paths import generated_dir

NOTEBOOK = "04_scaling"
nb = notebook.start(NOTEBOOK, prefix="Scale", seed=seed)  # seeds, determinism, plotting, results folder
out = nb.out
splits = handoffs.load_splits()
model_info = handoffs.load_model_facts()
residual_norm = handoffs.load_residual_norms().set_index(["model", "layer"])["rest"]  # first token excluded
macros = nb.macros
missing = [k for k in model_keys if k not in model_info]
if missing:
    raise ValueError(f"01_extraction has no directions for {missing}: add them to its model_keys and rerun 01 first.")
picks, selection_outcomes = steering_settings.load_refusal_selection()  # 04_refusal_selection's picks per rule
unselected = [k for k in model_keys if k not in picks]
if unselected:
    raise ValueError(f"04_refusal_selection picked no candidates for {unselected}: add them to its model_keys and rerun it first.")
selection_outcomes = selection_outcomes[selection_outcomes["model"].isin(model_keys)]
harmless_val = splits["harmless"]["val"]
harmful_test, harmless_test = splits["harmful"]["test"][:n_test], splits["harmless"]["test"][:n_test]
over_refusal_set = prompts.load_prompt_set("over_refusal")  # benign prompts with unsafe-sounding words, split dev / test
over_refusal = {split: [x for x, s in zip(over_refusal_set["items"], over_refusal_set["split"]) if s == split][:n_over_refusal]
                for split in ("dev", "test")}
print({"dev (harmless val)": len(harmless_val), "test": (len(harmful_test), len(harmless_test))})


# %% [markdown]
# ## Conditions
# A condition is a name, the prompts it runs on and one `Intervention` for all of them (`lib/conditions.py`).
# Conditions with equal recipes on the same prompts are generated once (COSMIC may pick DIM's candidate).


# %%
def norm_at(key: str, layer: int, residual_norm) -> float:
    return float(residual_norm.loc[(key, layer)])


def add_condition(key, direction, layer, alpha, model_info, multi_layer=False) -> engine.Intervention:
    """α·d̂ at `layer` (or at every layer from it to the end, as the seed did), every position."""
    return refusal.addition(direction, alpha, layer, model_info[key]["n_layers"], from_layer_on=multi_layer)


def run_conditions(lm, conditions: dict[str, tuple[list[str], engine.Intervention]], max_new_tokens: int,
                   judge: str | None = None) -> pd.DataFrame:
    """Every condition in one batched generation (lib.conditions); one row per output with every judge's labels
    (lib.judges) and, given the primary `judge`, the primary refusal label."""
    frame, first = conditions_runner.generate(lm, conditions, max_new_tokens, batch_size=batch_size)
    frame = judges.label_answers(frame, refusal.refusal_score(first, refusal.refusal_token_ids(lm)).numpy())
    if judge is not None:
        frame["refusal"] = judges.refused(frame, judge)
    return frame


METRICS = {  # each output's labels, as the rates the paper reports
    "refusal": lambda g: g["refusal"],  # the primary judge, garbled answers excluded
    "coherent_refusal": lambda g: g["seed_label"] == textclass.COHERENT_REFUSAL,
    "garbled": lambda g: g["seed_label"] == textclass.GARBLED,
    "normal": lambda g: g["seed_label"] == textclass.NORMAL,
    "arditi_refusal": lambda g: g["arditi_refusal"],
    "arditi_refusal_not_garbled": lambda g: g["arditi_refusal"] & (g["seed_label"] != textclass.GARBLED),
    "logit_refusal": lambda g: g["logit_score"] > 0,
}


def rates(frame: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """Every rate with n and a Wilson interval."""
    return stats.rate_table(frame, by, METRICS)


# %% [markdown]
# ## 0 · The primary refusal judge, chosen before any steering
# Each judge (`lib/judges.py`) is checked against a reference label fixed by rule before any answer was read
# (`textclass.refuses_by_rule`: the first sentence declines and fewer than 40 words follow) on unsteered
# answers to the over-refusal dev prompts (benign prompts with unsafe-sounding words, XSTest-style), pooled
# over models. The most accurate one, garbled answers excluded, is the refusal measure of every rate below
# and of 05; the seed's keyword classifier stays beside it.

# %%
judge_dev_tables = []
for key, lm in nb.models(model_keys, precision=precision, device=device, remote=remote):
    judge_dev_tables.append(run_conditions(lm, {"over_refusal_dev|none": (over_refusal["dev"], engine.NO_EDIT)}, gen_tokens).assign(model=key))
judge_dev = pd.concat(judge_dev_tables, ignore_index=True)
best_judge, dev_accuracy = judges.choose_judge(judge_dev)
handoffs.save_refusal_judge(best_judge, dev_accuracy)
print("primary refusal judge (most accurate on the over-refusal dev split):", best_judge)
dev_accuracy.sort_values("rate", ascending=False)

# %% [markdown]
# ## Per model: sweep on dev, evaluate on test
# Each model is loaded once, with the candidates each rule picked from (01) and its picks (04_refusal_selection).


# %%
def dev_sweep(lm, key, vectors, picks, harmless_val, model_info, residual_norm) -> pd.DataFrame:
    """Refusal (primary judge) on validation prompts: each method's pick at each α, and the seed's layer sweep of its own
    (unfiltered) candidates at the last position, α normalized and the seed's fixed α."""
    n_layers = model_info[key]["n_layers"]
    sweep_layers = sorted({int(round(d * (n_layers - 1))) for d in sweep_depths})
    items = harmless_val[:n_dev]
    conditions, meta = {}, {}
    cand = vectors["seed"]
    for method, pick in picks.items():
        if pick is None:
            continue
        layer, pos = pick
        for f in alpha_fractions:
            name = f"{method}|L{layer}|f{f}"
            conditions[name] = (items, add_condition(key, vectors[method][layer, pos], layer, f * norm_at(key, layer, residual_norm), model_info))
            meta[name] = {"family": method, "layer": layer, "alpha_fraction": f, "alpha": f * norm_at(key, layer, residual_norm), "multi_layer": False}
    for layer in sweep_layers:
        for f in alpha_fractions:
            name = f"sweep|L{layer}|f{f}"
            conditions[name] = (items, add_condition(key, cand[layer, -1], layer, f * norm_at(key, layer, residual_norm), model_info))
            meta[name] = {"family": "sweep", "layer": layer, "alpha_fraction": f, "alpha": f * norm_at(key, layer, residual_norm), "multi_layer": False}
        name = f"seed15|L{layer}"
        conditions[name] = (items, add_condition(key, cand[layer, -1], layer, seed_alpha, model_info, multi_layer=True))
        meta[name] = {"family": "seed_fixed_alpha", "layer": layer, "alpha_fraction": seed_alpha / norm_at(key, layer, residual_norm),
                      "alpha": seed_alpha, "multi_layer": True}
    outputs = run_conditions(lm, conditions, dev_tokens, best_judge)
    outputs["model"] = key
    for column in ("family", "layer", "alpha_fraction", "alpha", "multi_layer"):
        outputs[column] = outputs["condition"].map(lambda c: meta[c][column])
    return outputs


def best_on_dev(dev: pd.DataFrame, family: str, by: str) -> pd.Series:
    """The dev condition of a family with the highest refusal rate, primary judge (ties: smaller α / earlier layer)."""
    scored = dev[dev["family"] == family].assign(hit=lambda d: d["refusal"])
    table = scored.groupby(["layer", "alpha_fraction", "alpha"], as_index=False)["hit"].mean()
    return table.sort_values(["hit", by, "layer"], ascending=[False, True, True]).iloc[0]


def test_conditions(key, vectors, picks, dev, harmful_test, harmless_test, model_info) -> tuple[dict, dict]:
    conditions = {"harmless|none": (harmless_test, engine.NO_EDIT), "harmful|none": (harmful_test, engine.NO_EDIT),
                  "over_refusal|none": (over_refusal["test"], engine.NO_EDIT)}
    chosen = {}
    for method in ("dim", "cosmic"):
        if picks[method] is None:  # no valid candidate: nothing to steer with, reported in selection_outcomes.csv
            continue
        layer, pos = picks[method]
        r = vectors[method][layer, pos]
        best = best_on_dev(dev, method, "alpha_fraction")
        chosen[method] = {"layer": layer, "position": pos, "alpha_fraction": float(best["alpha_fraction"]),
                          "alpha": float(best["alpha"]), "dev_rate": float(best["hit"]), "candidates": method, "multi_layer": False}
        conditions[f"harmless|{method}"] = (harmless_test, add_condition(key, r, layer, float(best["alpha"]), model_info))
        conditions[f"harmful|{method}_ablate"] = (harmful_test, engine.ablate(r))
        if method == "dim":  # Arditi's own setting: the raw mean difference, +1 on harmless prompts, -1 on harmful ones
            conditions["harmless|dim_raw"] = (harmless_test, engine.add(r, layer))
            conditions["harmful|dim_raw_subtract"] = (harmful_test, engine.add(-r, layer))
    cand = vectors["seed"]
    best = best_on_dev(dev, "sweep", "alpha_fraction")  # the 30-70 % layer sweep: best layer and α on dev
    layer = int(best["layer"])
    chosen["dim_sweep"] = {"layer": layer, "position": -1, "alpha_fraction": float(best["alpha_fraction"]),
                           "alpha": float(best["alpha"]), "dev_rate": float(best["hit"]), "candidates": "seed", "multi_layer": False}
    conditions["harmless|dim_sweep"] = (harmless_test, add_condition(key, cand[layer, -1], layer, float(best["alpha"]), model_info))
    best = best_on_dev(dev, "seed_fixed_alpha", "layer")
    layer = int(best["layer"])
    chosen["seed15"] = {"layer": layer, "position": -1, "alpha_fraction": float(best["alpha_fraction"]),
                        "alpha": seed_alpha, "dev_rate": float(best["hit"]), "candidates": "seed", "multi_layer": True}
    conditions["harmless|seed15"] = (harmless_test, add_condition(key, cand[layer, -1], layer, seed_alpha, model_info, multi_layer=True))
    return conditions, chosen


def coherence(lm, outputs: pd.DataFrame) -> pd.Series:
    """Unsteered cross-entropy (nats/token) of the first n_coherence outputs of every condition."""
    subset = outputs[outputs["prompt_index"] < n_coherence]
    nll = engine.continuation_nll(lm, subset["prompt"].tolist(), subset["token_ids"].tolist(), batch_size=batch_size)
    return pd.Series(nll.numpy(), index=subset.index)


def tooling_parity(lm, key, vectors, chosen, harmless_test, model_info) -> dict:
    """The same steered and ablated generations through raw hooks and through nnsight (the dev-swept setting)."""
    layer = chosen["dim_sweep"]["layer"]
    r = vectors["seed"][layer, -1]
    items = [prompts.format_instruction(lm, x) for x in harmless_test[:n_parity]]
    rows = [add_condition(key, r, layer, chosen["dim_sweep"]["alpha"], model_info)] * n_parity + [engine.ablate(r)] * n_parity
    gens = {b: engine.generate(lm, items + items, parity_tokens, rows, backend=b, batch_size=2 * n_parity, progress=False) for b in ("hooks", "nnsight")}
    same = [a == b for a, b in zip(gens["hooks"].token_ids, gens["nnsight"].token_ids)]
    return {"model": key, "n": len(same), "identical": int(sum(same))}


# %%
dev_tables, test_tables, parity_rows, chosen_rows, timings = [], [], [], [], {}
n_parameters = {k: picks[k]["n_parameters"] for k in model_keys}  # 04_refusal_selection: the published count, or counted on a hub model
cosines = {k: picks[k]["dim_cosmic_cosine"] for k in model_keys if picks[k]["dim_cosmic_cosine"] is not None}  # both rules picked
for key, lm in nb.models(model_keys, precision=precision, device=device, remote=remote):
    clock = timing.ColdClock(already_s=nb.load_seconds[key])  # the dev time includes the load; cached units count cold
    vectors, rule_picks = steering_settings.refusal_candidate_vectors(key), {m: picks[key][m] for m in ("dim", "cosmic")}
    dev = dev_sweep(lm, key, vectors, rule_picks, harmless_val, model_info, residual_norm)
    t_dev = clock.seconds()
    conditions, chosen = test_conditions(key, vectors, rule_picks, dev, harmful_test=harmful_test, harmless_test=harmless_test, model_info=model_info)
    test = run_conditions(lm, conditions, gen_tokens, best_judge).assign(model=key)
    test["nll"] = coherence(lm, test)
    parity_rows.append(tooling_parity(lm, key, vectors, chosen, harmless_test, model_info))
    for method, c in chosen.items():
        chosen_rows.append({"model": key, "method": method, **c,
                            "residual_norm": norm_at(key, c["layer"], residual_norm), "n_layers": lm.n_layers})
    dev_tables.append(dev)
    test_tables.append(test)
    timings[key] = {"select_s": picks[key]["select_s"], "dev_s": t_dev, "steer_s": clock.seconds()}
    timings[key]["total_s"] = round(timings[key]["select_s"] + timings[key]["steer_s"], 1)  # with 04_refusal_selection's
    print(key, timings[key], {m: (c["layer"], c["alpha_fraction"]) for m, c in chosen.items()})

dev_outputs = pd.concat(dev_tables, ignore_index=True)
test_outputs = pd.concat(test_tables, ignore_index=True)
chosen = pd.DataFrame(chosen_rows)
parity = pd.DataFrame(parity_rows)
test_outputs["side"] = test_outputs["condition"].str.split("|").str[0]
test_outputs["method"] = test_outputs["condition"].str.split("|").str[1]
artifacts.write_csv(out / "generation_parity.csv", parity)
keep = ["model", "condition", "shared_with", "prompt_index", "instruction", "text", "n_tokens", "seed_label",
        "arditi_refusal", "arditi_opening", "rule_refusal", "logit_score", "garble_reasons", "keywords"]
artifacts.write_csv(out / "judge_dev_outputs.csv", judge_dev[keep])
artifacts.write_csv(out / "dev_outputs.csv", dev_outputs[keep + ["refusal", "family", "layer", "alpha_fraction", "alpha", "multi_layer"]])
artifacts.write_csv(out / "test_outputs.csv", test_outputs[keep + ["refusal", "nll", "side", "method"]])
artifacts.write_json(out / "run.json", {"timings_s": timings})
chosen

# %% [markdown]
# ## 1 · Dev sweep: layer × α heat maps
# Refusal (the primary judge of section 0) on validation prompts, single-layer addition of α·d̂ with α
# as a fraction of the layer's residual norm; the last column is the seed's α = 15 at every layer
# from l to the end.

# %%
heat = dev_outputs[dev_outputs["family"].isin(["sweep", "seed_fixed_alpha"])].copy()
heat["alpha_label"] = np.where(heat["family"] == "seed_fixed_alpha", "15 (all l..L)", heat["alpha_fraction"].map("{:.2f}".format))
heat["hit"] = heat["refusal"]
fig, axes = plt.subplots(1, len(model_keys), figsize=(3.2 * len(model_keys), 2.8), squeeze=False)
for ax, key in zip(axes[0], model_keys):
    table = heat[heat["model"] == key].pivot_table(index="layer", columns="alpha_label", values="hit", aggfunc="mean")
    sns.heatmap(table, ax=ax, vmin=0, vmax=1, annot=True, fmt=".2f", cmap="rocket_r", cbar=False)
    ax.set_title(key)
    ax.set_xlabel("α / residual norm")
fig.suptitle(f"Refusal on dev ({best_judge}, not garbled; n = {n_dev} per cell)", y=1.04)
plotting.save_figure(fig, NOTEBOOK, "dev_heatmaps")
plt.show()

# %% [markdown]
# ## 2 · Test: the primary judge and the seed's classifier, their false positives, and coherence
# Unsteered harmless answers should contain no refusals: whatever a classifier counts there is a
# false positive. Coherence is the unsteered model's cross-entropy on each output (nats/token).

# %%
test_rates = rates(test_outputs, ["model", "condition"])
artifacts.write_csv(out / "test_rates.csv", test_rates)
# 05 steers with these settings and checks that its fp32 condition reproduces the refusal rate measured here
induced = test_rates[test_rates["metric"] == "refusal"].assign(method=lambda d: d["condition"].str.removeprefix("harmless|"))
chosen = chosen.merge(induced[induced["condition"].str.startswith("harmless|")][["model", "method", "rate", "low", "high", "n"]]
                      .rename(columns={"rate": "test_refusal", "low": "test_low", "high": "test_high", "n": "test_n"}),
                      on=["model", "method"], how="left").assign(test_tokens=gen_tokens)
handoffs.save_chosen_settings(chosen)
false_pos = test_rates[(test_rates["condition"] == "harmless|none") & test_rates["metric"].isin(["refusal", "coherent_refusal", "arditi_refusal", "logit_refusal"])]
benign_keywords = test_outputs[(test_outputs["condition"] == "harmless|none") & (test_outputs["seed_label"] == textclass.COHERENT_REFUSAL)]


def mean_with_ci(values: pd.Series) -> pd.Series:
    values = values.dropna().to_numpy()
    mean, low, high = stats.bootstrap_ci(values, n_resamples=1000) if len(values) > 1 else (np.nan, np.nan, np.nan)
    return pd.Series({"mean": mean, "low": low, "high": high, "count": len(values)})


coh = test_outputs.groupby(["model", "condition"])["nll"].apply(mean_with_ci).unstack().reset_index()
artifacts.write_csv(out / "coherence.csv", coh)
print("keywords behind the seed classifier's false positives:", benign_keywords["keywords"].value_counts().to_dict())
summary = test_rates.pivot_table(index=["model", "condition"], columns="metric", values="rate").round(2)
summary.join(coh.set_index(["model", "condition"])["mean"].rename("nll"))

# %% [markdown]
# ## 2b · Refusal judges on over-refusal prompts
# Unsteered answers to benign prompts with unsafe-sounding words (`lib/data/prompts/over_refusal.json`,
# XSTest-style). Each judge's refusal rate there, and against a reference label fixed by rule before any
# answer was read (`textclass.refuses_by_rule`: the first sentence declines and fewer than 40 words
# follow): false positives (the judge fires, the answer does not refuse) and misses. The primary judge
# was chosen on the dev split (section 0); the test split reports every judge.

# %%
judged = pd.concat([judge_dev, test_outputs[test_outputs["condition"].isin(["over_refusal|none", "harmless|none"])]], ignore_index=True)
judged["split"] = judged["condition"].map({"over_refusal_dev|none": "over-refusal dev", "over_refusal|none": "over-refusal test",
                                           "harmless|none": "harmless test"})
judge_table = judges.measure_table(judged, ["model", "split"]).rename(columns={"metric": "judge"})
artifacts.write_csv(out / "judges.csv", judge_table)
judge_table[judge_table["split"] == "over-refusal test"].pivot_table(index=["model", "judge"], columns="measure", values="rate").round(2)

# %% [markdown]
# ## 3 · Scaling: rates versus parameter count
# Induced refusal, primary judge (harmless prompts), and ablation jailbreaks (harmful prompts answered
# without an Arditi refusal substring and without garbling), each with its Wilson interval.

# %%
test_outputs["jailbreak"] = (~test_outputs["arditi_refusal"]) & (test_outputs["seed_label"] != textclass.GARBLED)
params = n_parameters
family = {k: model_info[k]["family"] for k in model_keys}
# the headline hit of each side: an induced refusal (primary judge) on harmless prompts, a jailbreak on harmful ones
test_outputs["headline_hit"] = np.where(test_outputs["condition"].str.startswith("harmless|"), test_outputs["refusal"], test_outputs["jailbreak"])
scaling = stats.rate_table(test_outputs[test_outputs["side"].isin(["harmless", "harmful"])], ["model", "condition"], "headline_hit")
scaling[["side", "method"]] = scaling["condition"].str.split("|", expand=True)
scaling["metric"] = scaling["side"].map({"harmless": "refusal (induced)", "harmful": "jailbreak (not refused)"})
scaling["params"], scaling["family"] = scaling["model"].map(params), scaling["model"].map(family)
scaling = scaling.sort_values("params")
artifacts.write_csv(out / "scaling.csv", scaling)
def direction_of(method: str) -> str:
    """The direction a condition steers with, whichever way it is applied: one colour per direction in both panels."""
    return method.removesuffix("_ablate").removesuffix("_subtract")


directions_plotted = sorted({direction_of(m) for m in scaling["method"]} - {"none"})
colour = {d: f"C{i}" for i, d in enumerate(directions_plotted)} | {"none": "0.45"}  # unsteered: grey in both panels
fig, axes = plt.subplots(1, 2, figsize=(10, 3.6), sharey=True)
for ax, side in zip(axes, ("harmless", "harmful")):
    part = scaling[scaling["side"] == side]
    methods = sorted(part["method"].unique())
    for i, (method, g) in enumerate(part.groupby("method")):
        x = g["params"] * (1 + 0.06 * (i - (len(methods) - 1) / 2))  # small offsets so intervals do not overlap
        # points, not lines: the models are different families, so no line joins one to the next
        ax.errorbar(x, g["rate"], yerr=plotting.error_bars(g["rate"], g["low"], g["high"]), marker="o", ls="none",
                    capsize=3, color=colour[direction_of(method)], label=method)
    ax.set_xscale("log")
    ticks = sorted(params.items(), key=lambda kv: kv[1])
    # family on one line, size on the next: full keys of neighbours on the log axis (135M, 268M) would run together
    ax.set_xticks([p for _, p in ticks], [f"{k.rsplit('-', 1)[0]}\n{p / 1e6:.0f}M" for k, p in ticks], fontsize=7)
    ax.xaxis.set_minor_locator(plt.NullLocator())  # minor log ticks would crowd the model labels
    ax.set_xlabel("model (parameters, log scale)")
    ax.set_title(part["metric"].iloc[0])
    ax.legend(fontsize=7)
axes[0].set_ylabel(f"rate (Wilson 95 % CI, n = {n_test})")
fig.suptitle("Refusal steering versus model size (test split)", y=1.02)
plotting.save_figure(fig, NOTEBOOK, "scaling")
plt.show()
scaling.pivot_table(index=["model", "params"], columns=["side", "method"], values="rate").round(2)

# %% [markdown]
# ## 4 · Logistic regression: does "inverse scaling" survive normalized α?
# Refusal (primary judge) per test output regressed on log10(parameters) × method, for the instruct models.
# Normalized α: DIM and COSMIC with α chosen on dev as a fraction of the residual norm. Fixed α:
# the seed's 15 × unit vector at every layer from l on. A negative size slope is inverse scaling.

# %%
instruct = [k for k in model_keys if registry.resolve(k).instruct]
macros.add("n instruct", len(instruct), "{:d}")
macros.add("n instruct families", len({model_info[k]["family"] for k in instruct}), "{:d}")
reg_data = test_outputs[(test_outputs["side"] == "harmless") & (test_outputs["method"] != "none") & test_outputs["model"].isin(instruct)].copy()
reg_data["success"] = reg_data["refusal"].astype(int)
reg_data["log_params"] = np.log10(reg_data["model"].map(params))


def fit_logit(data: pd.DataFrame, formula: str) -> dict:
    """Binomial GLM; a fit that cannot be estimated (one model only, separation) is reported as such."""
    not_estimable = lambda why: {"formula": formula, "slope": np.nan, "low": np.nan, "high": np.nan, "p": np.nan,
                                 "n": len(data), "note": f"not estimable: {why}"}
    if data["model"].nunique() < 2 or data["success"].nunique() < 2:
        return not_estimable("fewer than two models or no variation in success")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # perfect separation warns; treat it as not estimable
        try:
            fit = smf.glm(formula, data, family=sm.families.Binomial()).fit()
        except Exception as error:  # noqa: BLE001 - statsmodels signals separation in several ways
            return not_estimable(type(error).__name__)
    # Quasi-separation (e.g. two sizes, one never succeeding) raises no warning: the slope runs off towards
    # infinity, fitted probabilities reach 0 or 1, and the Wald interval spans thousands.
    if ((fit.fittedvalues < 1e-6) | (fit.fittedvalues > 1 - 1e-6)).any():
        return not_estimable("quasi-separation, fitted probabilities of 0 or 1")
    low, high = fit.conf_int().loc["log_params"]
    return {"formula": formula, "slope": float(fit.params["log_params"]), "low": float(low), "high": float(high),
            "p": float(fit.pvalues["log_params"]), "n": int(fit.nobs), "note": ""}


regressions = pd.DataFrame([
    {"alpha": "normalized", **fit_logit(reg_data[reg_data["method"].isin(["dim", "cosmic"])], "success ~ log_params + C(method)")},
    {"alpha": "normalized, DIM only", **fit_logit(reg_data[reg_data["method"] == "dim"], "success ~ log_params")},
    {"alpha": "normalized, DIM at the dev-swept layer", **fit_logit(reg_data[reg_data["method"] == "dim_sweep"], "success ~ log_params")},
    {"alpha": "fixed (seed 15x)", **fit_logit(reg_data[reg_data["method"] == "seed15"], "success ~ log_params")},
])
artifacts.write_csv(out / "regressions.csv", regressions)
regressions

# %% [markdown]
# ## 5 · DIM versus COSMIC, paired on the same prompts
# Exact McNemar test on the per-prompt refusal outcomes (primary judge) of the two methods.

# %%
paired_rows = []
for key in [k for k in model_keys if k in cosines]:  # both methods found a valid candidate
    part = test_outputs[(test_outputs["model"] == key) & (test_outputs["side"] == "harmless")]
    hit = lambda m: part[part["method"] == m].sort_values("prompt_index")["refusal"].to_numpy()
    d, c = hit("dim"), hit("cosmic")
    test = paired.paired_binary(d, c, seed=seed)  # exact McNemar on the discordant prompts
    row = chosen[chosen["model"] == key].set_index("method")
    paired_rows.append({"model": key, "dim_rate": test["rate"], "cosmic_rate": test["reference_rate"], "difference": test["difference"],
                        "low": test["low"], "high": test["high"],
                        "dim_only": test["only_here"], "cosmic_only": test["only_reference"], "p_mcnemar": test["p_mcnemar"],
                        "dim_layer": int(row.loc["dim", "layer"]), "cosmic_layer": int(row.loc["cosmic", "layer"]),
                        "cosine": cosines[key], "n": len(d)})
dim_vs_cosmic = pd.DataFrame(paired_rows, columns=["model", "dim_rate", "cosmic_rate", "difference", "low", "high", "dim_only", "cosmic_only",
                                                   "p_mcnemar", "dim_layer", "cosmic_layer", "cosine", "n"])
if len(dim_vs_cosmic):  # no model with both picks: no comparison, and the ledger says why
    artifacts.write_csv(out / "dim_vs_cosmic.csv", dim_vs_cosmic)
dim_vs_cosmic

# %% [markdown]
# ## 6 · Claims of seed 003, with verdicts
# Rules fixed before the run, besides those in the code below:
# - *Steering induces refusal* (seed: 100 % of 30 benign prompts): per instruction-tuned model, at the seed's
#   setting (α = 15 on a unit vector at every layer from l on) and at DIM's dev-swept layer and α, the refusal rate
#   (primary judge, garbled answers excluded) on the harmless test prompts; reproduced where its Wilson interval
#   lies at or above `steering_refusal_bound`, not reproduced where it lies below.
# - *The best layer moves shallower with size* (seed: 60 % depth at 3B and 7B, 50 % at 14B and 32B): the dev
#   sweep's best relative depth (ties share their mean) of the larger Qwen2.5 minus that of the smaller, with an
#   interval from resampling the dev prompts; reproduced where it lies below 0, not reproduced where it excludes
#   the seed's -0.10. Two sizes make this a weak test of a trend.

# %%
def rate_of(key, condition, test_rates, metric="refusal"):
    """(rate, low, high, n) of one test condition; NaNs and n = 0 for a condition that did not run (no valid pick)."""
    r = test_rates[(test_rates["model"] == key) & (test_rates["condition"] == condition) & (test_rates["metric"] == metric)]
    return (np.nan, np.nan, np.nan, 0) if r.empty else (r["rate"].iloc[0], r["low"].iloc[0], r["high"].iloc[0], int(r["n"].iloc[0]))


outcomes = selection_outcomes.set_index("model")


def mean_nll(key, condition) -> float:
    """Mean unsteered cross-entropy of one test condition's outputs; NaN for a condition that did not run."""
    row = coh[(coh["model"] == key) & (coh["condition"] == condition)]
    return float(row["mean"].iloc[0]) if len(row) else np.nan


def induces_refusal(key, condition) -> bool:
    """The precondition of a claim about steered refusal: the condition's Wilson interval lies above the unsteered rate
    on the same prompts (a claim about 0 % against 0 % says nothing)."""
    return rate_of(key, condition, test_rates)[1] > rate_of(key, "harmless|none", test_rates)[0]


qwen = sorted([k for k in model_keys if model_info[k]["family"] == "qwen2"], key=params.get)
claims = []
if len(qwen) >= 2:
    small, large = qwen[0], qwen[-1]
    for method, cond in (("DIM, normalized α", "harmless|dim"), ("DIM at the dev-swept layer, normalized α", "harmless|dim_sweep"),
                         ("seed's fixed α = 15", "harmless|seed15")):
        rs, ls_, hs, n = rate_of(small, cond, test_rates)
        rl, ll, hl, n_large = rate_of(large, cond, test_rates)
        claim_id = f"S003-inverse-scaling-{artifacts.tex_name(method)}"
        text = f"Refusal under steering declines with size within a family ({method}; {small} vs {large})"
        precondition = f"both sizes have this condition and steering induces refusal on {small} (interval above its unsteered rate)"
        if not (n and n_large):
            missing = [k for k, count in ((small, n), (large, n_large)) if not count]
            claims.append(artifacts.Claim.not_testable(claim_id, "003", text, "100 % (3B) to 77 % (32B)",
                f"no valid DIM candidate for {', '.join(missing)}: " + "; ".join(outcomes.loc[k, "dim_reason"] for k in missing), precondition))
            continue
        if not induces_refusal(small, cond):
            claims.append(artifacts.Claim.not_testable(claim_id, "003", text, "100 % (3B) to 77 % (32B)",
                f"steering induces no refusal on {small} to decline from: {rs:.2f} [{ls_:.2f}, {hs:.2f}] against "
                f"{rate_of(small, 'harmless|none', test_rates)[0]:.2f} unsteered", precondition))
            continue
        seed_small, seed_large = (rate_of(k, cond, test_rates, "coherent_refusal")[0] for k in (small, large))
        claims.append(artifacts.Claim.tested(
            claim_id, "003", text, "100 % (3B) to 77 % (32B)", rl - rs, min(n, n_large), ll - hs, hl - ls_,
            artifacts.Rule.below(0.0, seed_effect=-0.23), precondition,
            f"refusal ({best_judge}, not garbled): {small} {rs:.2f} [{ls_:.2f}, {hs:.2f}], {large} {rl:.2f} [{ll:.2f}, {hl:.2f}]; "
            f"seed's coherent refusal: {small} {seed_small:.2f}, {large} {seed_large:.2f}; value = difference; "
            "interval = from the two Wilson intervals (conservative)"))
    macros.add("within family", f"Within the Qwen2.5 family ({small} against {large}) the ledger compares the rates directly.")
else:
    macros.add("within family", f"A within-family comparison needs two Qwen2.5 sizes; this run has {', '.join(qwen) or 'none'}, "
               "so the ledger marks it not testable here.")
    claims.append(artifacts.Claim.not_testable(
        "S003-inverse-scaling", "003", "Refusal under steering declines with size within a family", "100 % (3B) to 77 % (32B)",
        f"a within-family trend needs two Qwen2.5 sizes, and this run has {', '.join(qwen) or 'none'} "
        "(add qwen2.5-1.5b to model_keys, or run the gpu profile)", "two sizes of one family"))
for key in [k for k in model_keys if k not in cosines]:
    reason = "; ".join(f"{m.upper()}: {outcomes.loc[key, f'{m}_reason']}" for m in ("dim", "cosmic") if outcomes.loc[key, f"{m}_reason"])
    claims.append(artifacts.Claim.not_testable(f"S003-dim-ge-cosmic-{key}", "003", f"DIM matches or exceeds COSMIC ({key})",
                                               "DIM >= COSMIC at every size (32B: 60 % vs 10 %)", f"no valid candidate ({reason})",
                                               "both selection rules find a valid candidate"))
for _, r in dim_vs_cosmic.iterrows():
    claim_id, text = f"S003-dim-ge-cosmic-{r['model']}", f"DIM matches or exceeds COSMIC ({r['model']})"
    precondition = "both rules pick a candidate and one of them induces refusal (interval above the unsteered rate)"
    details = (f"DIM {r['dim_rate']:.2f}, COSMIC {r['cosmic_rate']:.2f}; exact McNemar p = {r['p_mcnemar']:.3f}; "
               f"layers DIM {r['dim_layer']} / COSMIC {r['cosmic_layer']}; direction cosine {r['cosine']:.2f}")
    if not (induces_refusal(r["model"], "harmless|dim") or induces_refusal(r["model"], "harmless|cosmic")):
        claims.append(artifacts.Claim.not_testable(claim_id, "003", text, "DIM >= COSMIC at every size (32B: 60 % vs 10 %)",
                                                   f"neither method induces refusal ({details})", precondition))
        continue
    claims.append(artifacts.Claim.tested(
        claim_id, "003", text, "DIM >= COSMIC at every size (32B: 60 % vs 10 %)", r["difference"], int(r["n"]), r["low"], r["high"],
        artifacts.Rule.at_least(-non_inferiority_margin), precondition,
        f"value = DIM minus COSMIC refusal rate, paired bootstrap interval; {details}"))
gate_rows = [(k, *rate_of(k, "harmless|seed15", test_rates, "garbled")) for k in model_keys]
refusing = {k: rate_of(k, "harmless|seed15", test_rates)[0] for k in model_keys}  # primary judge, not garbled
families = {model_info[k]["family"] for k in model_keys}
gate_text = "Architecture is a binary gate: one family garbled where another is coherent (seed's fixed α)"
if len(families) < 2:
    claims.append(artifacts.Claim.not_testable("S003-architecture-gate", "003", gate_text, "Mistral 100 % garbled vs Qwen 100 % coherent",
                                               f"one architecture only ({', '.join(families)})", "two architectures"))
else:
    worst, best = max(gate_rows, key=lambda g: g[1]), min(gate_rows, key=lambda g: g[1])
    claims.append(artifacts.Claim.tested(
        "S003-architecture-gate", "003", gate_text, "Mistral 100 % garbled vs Qwen 100 % coherent",
        worst[1] - best[1], min(worst[4], best[4]), worst[2] - best[3], worst[3] - best[2],
        artifacts.Rule.above(0.5), "two architectures",  # a gate: garbled rates more than 50 points apart (the seed: 100)
        f"value = garbled rate of {worst[0]} minus that of {best[0]}, interval from the two Wilson intervals (conservative); "
        f"refusal ({best_judge}, not garbled) per model: " + ", ".join(f"{k} {v:.2f}" for k, v in refusing.items())))
identical, total = int(parity["identical"].sum()), int(parity["n"].sum())
# Defects of the seed's code, checked here and reported apart from its claims (the paper's defects table).
defects = [artifacts.Defect(
    "D003-tooling-gap", "003", "its nnsight and raw-hook steering paths disagreed (a 90-point gap)",
    "the same steered and ablated generations through nnsight and raw hooks: share with identical tokens",
    identical / total, total, *stats.wilson(identical, total)[1:],
    "not present here" if identical == total else "present here")]
over_refusal_test = judged[judged["split"] == "over-refusal test"]
keyword_fp = int(judges.MEASURES["false positive"](judges.JUDGES["seed keywords"](over_refusal_test),
                                                   over_refusal_test[judges.REFERENCE]).sum())
fp_rate, fp_low, fp_high = stats.wilson(keyword_fp, len(over_refusal_test))
defects.append(artifacts.Defect(
    "D003-keyword-list", "003", "its keyword classifier calls any answer with one of its keywords (e.g. 'dangerous') a refusal",
    "share of unsteered over-refusal test answers it calls refusals although they do not refuse by the reference rule "
    "(models pooled)", fp_rate, len(over_refusal_test), fp_low, fp_high, "present here" if keyword_fp else "not present here"))
artifacts.write_defects(NOTEBOOK, defects)
gemma = [k for k in model_keys if model_info[k]["family"] == "gemma3"]
if not gemma:
    claims.append(artifacts.Claim.not_testable("S003-gemma-unsteerable", "003", "Gemma is unsteerable: no refusal under steering",
                                               "Gemma-2 27B: 0 %", "no Gemma model in this run (add gemma3-270m to model_keys)",
                                               "a Gemma model"))
for key in gemma:
    best = test_rates[(test_rates["model"] == key) & (test_rates["metric"] == "refusal") & (test_rates["condition"].str.startswith("harmless|"))
                      & (test_rates["condition"] != "harmless|none")].sort_values("rate").iloc[-1]
    claims.append(artifacts.Claim.tested(
        f"S003-gemma-unsteerable-{key}", "003", f"Gemma is unsteerable: no refusal under steering ({key}, base model)",
        "Gemma-2 27B: 0 %", best["rate"], int(best["n"]), best["low"], best["high"], artifacts.Rule.below(0.15),
        note=f"value = the best steered condition, {best['condition']} (refusal: {best_judge}, not garbled)"))


def steering_claim(key: str, condition: str, label: str) -> artifacts.Claim:
    """Seed 003: steering makes the model refuse (coherently) nearly every benign prompt."""
    claim_id = f"S003-steering-induces-refusal-{key}-{condition.split('|')[1].replace('_', '-')}"
    text = f"Steering induces refusal on benign prompts ({key}, {label})"
    seed_value = "100 % coherent refusal on 30 benign prompts (Qwen2.5-3B, 7B; α = 15)"
    precondition = "the unsteered model answers harmless prompts (refusal below 0.5)"
    rate, low, high, n = rate_of(key, condition, test_rates)
    base = rate_of(key, "harmless|none", test_rates)[0]
    if base >= 0.5:
        return artifacts.Claim.not_testable(claim_id, "003", text, seed_value, f"it refuses {base:.2f} of harmless prompts unsteered",
                                            precondition)
    garbled = rate_of(key, condition, test_rates, "garbled")[0]
    return artifacts.Claim.tested(
        claim_id, "003", text, seed_value, rate, n, low, high, artifacts.Rule.at_least(steering_refusal_bound), precondition,
        f"refusal ({best_judge}, garbled answers excluded) against {base:.2f} unsteered; garbled {garbled:.2f}; "
        f"cross-entropy {mean_nll(key, condition):.2f} vs {mean_nll(key, 'harmless|none'):.2f} nats/token unsteered")


def depth_hits(key: str, family: str) -> tuple[np.ndarray, np.ndarray]:
    """Relative depth of each dev-sweep layer and the refusal hits (prompt x layer; the best α per layer for a
    family with several)."""
    part = dev_outputs[(dev_outputs["model"] == key) & (dev_outputs["family"] == family)]
    table = part.pivot_table(index=["prompt_index", "alpha_fraction"] if family == "sweep" else "prompt_index",
                             columns="layer", values="refusal", aggfunc="mean")
    if family == "sweep":  # one α per layer: the one with the higher dev rate
        best_alpha = table.groupby(level="alpha_fraction").mean().idxmax()
        table = pd.DataFrame({layer: table.xs(best_alpha[layer], level="alpha_fraction")[layer] for layer in table.columns})
    return table.columns.to_numpy() / (model_info[key]["n_layers"] - 1), table.to_numpy(dtype=float)


def best_depth(depths: np.ndarray, hits: np.ndarray) -> float:
    """The depth with the highest refusal rate; ties share the mean of their depths."""
    rates = hits.mean(axis=0)
    return float(depths[np.isclose(rates, rates.max())].mean())


def layer_shift_claim(small: str, large: str, family: str = "seed_fixed_alpha") -> artifacts.Claim:
    """Seed 003: the best steering layer moves shallower (relative depth) as the model grows. Large minus small best
    depth, resampling the dev prompts (the same prompts on both models) with a cluster bootstrap."""
    text = f"The best steering layer moves shallower with size ({small} vs {large}, seed's α = 15 from l on)"
    seed_value = "60 % (3B, 7B) to 50 % (14B, 32B) depth"
    precondition = "some depth of the dev sweep makes both sizes refuse at least half the dev prompts"
    (d_small, h_small), (d_large, h_large) = depth_hits(small, family), depth_hits(large, family)
    peaks = {k: h.mean(axis=0).max() for k, h in ((small, h_small), (large, h_large))}
    if min(peaks.values()) < 0.5:
        return artifacts.Claim.not_testable("S003-layer-shift", "003", text, seed_value, "best dev rate per size: " +
                                            ", ".join(f"{k} {v:.2f}" for k, v in peaks.items()), precondition)
    shift = lambda rows: best_depth(d_large, h_large[rows]) - best_depth(d_small, h_small[rows])
    value, low, high = stats.cluster_bootstrap_ci(shift, np.arange(len(h_small)), seed=seed)
    sweep_best = {k: best_depth(*depth_hits(k, "sweep")) for k in (small, large)}
    return artifacts.Claim.tested(
        "S003-layer-shift", "003", text, seed_value, value, len(h_small), low, high, artifacts.Rule.below(0.0, seed_effect=-0.10),
        precondition,
        f"best depth {small} {best_depth(d_small, h_small):.2f}, {large} {best_depth(d_large, h_large):.2f} (dev, n = {len(h_small)} "
        f"prompts, bootstrap over prompts); single-layer normalized α: {small} {sweep_best[small]:.2f}, {large} {sweep_best[large]:.2f}; "
        "two sizes only, a weak test of a trend")


for key in instruct:
    for condition, label in (("harmless|seed15", "seed's α = 15 from l on"), ("harmless|dim_sweep", "DIM at the dev-swept layer and α")):
        claims.append(steering_claim(key, condition, label))
if len(qwen) >= 2:
    claims.append(layer_shift_claim(qwen[0], qwen[-1]))
else:
    claims.append(artifacts.Claim.not_testable("S003-layer-shift", "003", "The best steering layer moves shallower with size",
                                               "60 % (3B, 7B) to 50 % (14B, 32B) depth",
                                               f"needs two Qwen2.5 sizes; this run has {', '.join(qwen) or 'none'}", "two sizes of one family"))
pd.DataFrame([vars(c) for c in claims])[["id", "value_here", "ci_low", "ci_high", "verdict"]]

# %% [markdown]
# ## Numbers for the paper

# %%
for key in model_keys:
    name = artifacts.tex_name(key)
    for cond, label in (("harmless|none", "Base"), ("harmless|dim", "Dim"), ("harmless|dim_sweep", "DimSweep"),
                        ("harmless|cosmic", "Cosmic"), ("harmless|seed15", "Seed")):
        for metric, kind in (("refusal", "Judged"), ("coherent_refusal", "Coherent")):  # primary judge; the seed's classifier
            r, lo, hi, n = rate_of(key, cond, test_rates, metric)  # n = 0: the method found no valid candidate
            macros.add(f"{name}{label}{kind}", 100 * r, "{:.0f}", missing="n/a")
            macros.add(f"{name}{label}{kind}CI", f"[{100 * lo:.0f}, {100 * hi:.0f}]" if n else "")
        macros.add(f"{name}{label}Garbled", 100 * rate_of(key, cond, test_rates, "garbled")[0], "{:.0f}", missing="n/a")
    for cond, label in (("harmful|none", "HarmfulBase"), ("harmful|dim_ablate", "DimAblate"), ("harmful|cosmic_ablate", "CosmicAblate")):
        macros.add(f"{name}{label}Refusal", 100 * rate_of(key, cond, test_rates, "arditi_refusal")[0], "{:.0f}", missing="n/a")
    for metric, label in (("refusal", "Judged"), ("coherent_refusal", "Seed"), ("arditi_refusal", "Arditi"), ("logit_refusal", "Logit")):
        macros.add(f"{name}FalsePositive{label}", 100 * rate_of(key, "harmless|none", test_rates, metric)[0], "{:.0f}")
    row = chosen[chosen["model"] == key].set_index("method")
    for method in ("dim", "dim_sweep", "cosmic", "seed15"):
        picked = method in row.index  # DIM and COSMIC may have no valid candidate
        macros.add(f"{name}{method.capitalize()}Layer", int(row.loc[method, "layer"]) if picked else "none", "{:d}")
        macros.add(f"{name}{method.capitalize()}AlphaFraction", float(row.loc[method, "alpha_fraction"]) if picked else "n/a", "{:.2f}")
    macros.add(f"{name}DimCosmicCosine", cosines.get(key, np.nan), "{:.2f}", missing="n/a")
    macros.add(f"{name}Seconds", timings[key]["total_s"], "{:.0f}")
    macros.add(f"{name}NllBase", mean_nll(key, "harmless|none"), "{:.2f}", missing="n/a")
    macros.add(f"{name}NllDim", mean_nll(key, "harmless|dim"), "{:.2f}", missing="n/a")
    macros.add(f"{name}NllDimSweep", mean_nll(key, "harmless|dim_sweep"), "{:.2f}", missing="n/a")
    macros.add(f"{name}DimPick", outcomes.loc[key, "dim_pick"] if not outcomes.loc[key, "dim_reason"] else outcomes.loc[key, "dim_reason"])
macros.add("NTest", n_test, "{:d}")
macros.add("BestJudge", best_judge)
macros.add("NOverRefusal", len(over_refusal["test"]), "{:d}")
for key in model_keys:
    name = artifacts.tex_name(key)
    rows = judge_table[(judge_table["model"] == key) & (judge_table["split"] == "over-refusal test")].set_index(["judge", "measure"])
    macros.add(f"{name}OverRefusalTrue", 100 * rows.loc[("reference", "refusal rate"), "rate"], "{:.0f}")
    for judge, label in (("seed keywords", "Seed"), ("Arditi substrings", "Arditi"), ("Arditi, first sentence", "Opening"),
                         ("logit score", "Logit"), ("first sentence and refusal token", "Both")):
        macros.add(f"{name}OverRefusal{label}FP", 100 * rows.loc[(judge, "false positive"), "rate"], "{:.0f}")
macros.add("GenTokens", gen_tokens, "{:d}")
macros.add("ParityIdentical", identical, "{:d}")
macros.add("ParityTotal", total, "{:d}")
for _, r in regressions.iterrows():
    label = {"normalized": "Normalized", "normalized, DIM only": "DimOnly", "normalized, DIM at the dev-swept layer": "DimSweep",
             "fixed (seed 15x)": "Fixed"}[r["alpha"]]
    macros.add(f"Slope{label}", r["slope"] if np.isfinite(r["slope"]) else "not estimable", "{:.2f}")
    macros.add(f"Slope{label}CI", f" [{r['low']:.2f}, {r['high']:.2f}]" if np.isfinite(r["slope"]) else "")
reasons = sorted({note.removeprefix("not estimable: ") for note in regressions["note"] if note})
macros.add("SlopeNote", f"Why a fit is not estimable: {'; '.join(reasons)} (regressions.csv)." if reasons else "")
METHOD_LABELS = {"none": "unsteered", "dim": "DIM, Arditi's layer", "dim_raw": "DIM raw vector (Arditi's setting)",
                 "cosmic": "COSMIC", "dim_sweep": "DIM, dev-swept layer", "seed15": "seed's α = 15 from l on"}
ABLATION_OF = {"none": "harmful|none", "dim": "harmful|dim_ablate", "dim_raw": "harmful|dim_raw_subtract", "cosmic": "harmful|cosmic_ablate"}


def rates_table_rows() -> pd.DataFrame:
    """One row per model and harmless-side condition: refusal with its interval, and beside it what keeps a
    degenerate answer from counting as steering (garbled rate, the unsteered model's cross-entropy on the text),
    the seed's coherent refusal, and the jailbreak rate under the method's ablation on harmful prompts."""
    ci = lambda r, lo, hi: f"{r:.2f} [{lo:.2f}, {hi:.2f}]"
    jailbreaks = scaling.set_index(["model", "condition"])
    rows = []
    for key in model_keys:
        for method, label in METHOD_LABELS.items():
            rate, low, high, n = rate_of(key, f"harmless|{method}", test_rates)
            if not n:  # no valid candidate for this method: selection_outcomes.csv says why
                continue
            ablation = ABLATION_OF.get(method)
            jb = jailbreaks.loc[(key, ablation)] if ablation and (key, ablation) in jailbreaks.index else None
            rows.append({"model": key, "condition": label, "n": n, "refusal": ci(rate, low, high),
                         "garbled": f"{rate_of(key, f'harmless|{method}', test_rates, 'garbled')[0]:.2f}",
                         "CE": f"{mean_nll(key, f'harmless|{method}'):.2f}",
                         "seed coherent": f"{rate_of(key, f'harmless|{method}', test_rates, 'coherent_refusal')[0]:.2f}",
                         "jailbreak": "--" if jb is None else ci(jb["rate"], jb["low"], jb["high"])})
    return pd.DataFrame(rows)


artifacts.write_latex_table(
    generated_dir() / NOTEBOOK / "rates_table.tex", rates_table_rows(), float_format="{:.0f}",
    caption=(f"Test-split rates, n = {n_test} harmless prompts per cell (Wilson 95 \\% CI): induced refusal (primary judge: "
             f"{best_judge}, garbled answers excluded), beside the share of garbled answers and the unsteered model's "
             "cross-entropy on the text (CE, nats/token; the unsteered row is the model's own answers), so that degenerate "
             "text never counts as steering; the seed's coherent-refusal classifier; and jailbreaks (harmful prompts "
             "answered, no refusal substring, not garbled) under the method's ablation, or its subtraction for the raw "
             "vector, on as many harmful prompts."),
    label="tab:scaling-rates", size="footnotesize")


def model_sentence(key: str) -> str:
    """What DIM at the dev-swept layer does on one model, in words, with its baselines."""
    row = chosen[(chosen["model"] == key) & (chosen["method"] == "dim_sweep")].iloc[0]
    rate, low, high, _ = rate_of(key, "harmless|dim_sweep", test_rates)
    return (f"on {key}, layer {int(row['layer'])} at {row['alpha_fraction']:.2f} of the residual norm gives {100 * rate:.0f}% "
            f"refusal [{100 * low:.0f}, {100 * high:.0f}] against {100 * rate_of(key, 'harmless|none', test_rates)[0]:.0f}% "
            f"unsteered, {100 * rate_of(key, 'harmless|dim_sweep', test_rates, 'garbled')[0]:.0f}% garbled, and a cross-entropy "
            f"of {mean_nll(key, 'harmless|dim_sweep'):.2f} nats per token against {mean_nll(key, 'harmless|none'):.2f}")


macros.add("DimPickPerModel", "Arditi's rule picks: " + "; ".join(
    f"on {k}, {outcomes.loc[k, 'dim_pick'] if not outcomes.loc[k, 'dim_reason'] else 'none (' + outcomes.loc[k, 'dim_reason'].replace(' (', ': ').rstrip(')') + ')'}"
    for k in model_keys) + ".")
macros.add("DimSweepPerModel", "DIM at the dev-swept layer: " + "; ".join(model_sentence(k) for k in model_keys) + ".")
nb.finish(claims)  # the claims ledger and the paper's macros
print(timings)
