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
# # 04 · Refusal directions: Arditi's and COSMIC's candidate selection
#
# The first half of seed 003's protocol: which of 01's difference-in-means candidates (train split, every
# post-instruction position × layer) each selection rule picks, on the validation prompts. `04_scaling` steers
# with the picks.
#
# - **Arditi et al.** (andyrdt/refusal_direction): the validation prompts the model refuses (harmful) and answers
#   (harmless) unsteered; per candidate, the refusal score (log-odds of the refusal tokens) under directional
#   ablation on harmful prompts and under addition on harmless ones, and the KL of ablation on harmless prompts;
#   candidates at layers ≥ 0.8 L, with KL > 0.1 or an induced score < 0 are discarded; the pick has the lowest
#   ablation score. The grid leaves out the layers his cutoff discards whatever their scores.
# - **COSMIC** (wang-research-lab/COSMIC): no output token is read; the cosine of the last-token states at the
#   layers where harmful and harmless means differ most (L_low) with the other side's mean, under ablation and
#   addition, on every validation prompt; the same KL and layer filters, and a median-peak rule at the last
#   position; the pick has the highest score.
#
# Three savings leave both picks as they are (`lib/candidate_scoring.py`, each tested against the full passes):
# the prompts' shared chat prefix runs once per candidate, an addition at layer l replays the unedited blocks
# below l, and the KL pass runs only down each rule's order of preference until a candidate passes it (`kl_checked`).

# %% tags=["parameters"]
profile = "default"
remote = False  # True: run hub models on NDIF through nnsight (README, "Scale-out"); needs NDIF_API_KEY
model_keys = ["smollm2-135m", "gemma3-270m", "qwen2.5-0.5b", "qwen2.5-1.5b"]
device = "cpu"
precision = "fp32"  # a weight precision of lib/precisions.py (the gpu profile: "bf16")
candidate_positions = "all"  # post-instruction positions scored: "all" (Arditi's and COSMIC's grid) or a list like [-1]
n_candidate_layers = "all"  # candidate layers: "all" (their grid) or a number, evenly spaced over the depth
n_select = 32  # validation prompts per side for candidate scoring, before Arditi's refusal filter (theirs: 32)
batch_size = 64
seed = 0

# %%
import textwrap

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from lib import artifacts, candidate_scoring, directions, handoffs, notebook, plotting, prompts, refusal, steering_settings, timing

NOTEBOOK = "04_refusal_selection"
nb = notebook.start(NOTEBOOK, prefix="Select", seed=seed)  # seeds, determinism, plotting, results folder
out = nb.out
splits = handoffs.load_splits()
model_info = handoffs.load_model_facts()
missing = [k for k in model_keys if k not in model_info]
if missing:
    raise ValueError(f"01_extraction has no directions for {missing}: add them to its model_keys and rerun 01 first.")
harmful_val, harmless_val = splits["harmful"]["val"][:n_select], splits["harmless"]["val"][:n_select]
print({"val": (len(harmful_val), len(harmless_val))})


# %% [markdown]
# ## Per model: both rules on the same candidates
# Each model is loaded once; each candidate's scores are a cached unit, so a killed run resumes at the first
# candidate it had not scored.


# %%
def candidate_grid(cand, n_layers: int, admitted_only: bool = False) -> dict:
    """The (layer, position) candidates scored: every layer and post-instruction position, or the profile's subset;
    `admitted_only` leaves out the layers Arditi's cutoff discards whatever their scores (COSMIC's median-peak rule
    reads every layer, so its grid keeps them)."""
    k_post = cand.shape[1]
    positions = range(-k_post, 0) if candidate_positions == "all" else candidate_positions
    layers = range(n_layers) if n_candidate_layers == "all" else sorted(
        {int(x) for x in np.linspace(0, n_layers - 1, int(n_candidate_layers)).round()})
    layers = [l for l in layers if refusal.layer_admitted(int(l), n_layers)] if admitted_only else layers
    return {(int(l), int(p)): cand[l, p] for l in layers for p in positions}


def select_directions(lm, key) -> tuple[pd.DataFrame, dict, list[int], dict]:
    """The scored tables of both rules, each rule's pick ((layer, position), or None with its reason; and the cosine of
    the two picks' directions when both exist), COSMIC's L_low, and the outcome row (Arditi's prompt filter, each pick
    or why there is none)."""
    saved, meta = handoffs.load_refusal_candidates(key)
    low = refusal.cosmic_low_layers(saved["mean_harmful_last"], saved["mean_harmless_last"])
    fmt = lambda items: [prompts.format_instruction(lm, x) for x in items]
    harmful, harmless = fmt(harmful_val), fmt(harmless_val)
    refused, answered = refusal.refusal_filter(refusal.prompt_refusal_scores(lm, harmful, batch_size),
                                               refusal.prompt_refusal_scores(lm, harmless, batch_size))
    outcome = {"model": key, "train_harmful_refused": meta["refusal_filter"]["harmful_kept"],
               "train_harmful": meta["refusal_filter"]["harmful_in"], "val_harmful_refused": int(refused.sum()),
               "val_harmful": len(harmful), "val_harmless_answered": int(answered.sum()), "val_harmless": len(harmless)}
    tables, picks, reasons = [], {}, {}
    if "candidates_refusal_filtered" not in saved or not refused.any() or not answered.any():
        picks["dim"], reasons["dim"] = None, "refuses no harmful prompt unsteered (Arditi's prompt filter leaves none)"
    else:
        kept = lambda items, mask: [x for x, keep in zip(items, mask.tolist()) if keep]
        grid = candidate_grid(saved["candidates_refusal_filtered"], lm.n_layers, admitted_only=True)
        table = candidate_scoring.score_candidates(lm, grid, kept(harmful, refused), kept(harmless, answered), low, batch_size, kl_for="arditi")
        tables.append(table.assign(method="dim", valid=refusal.arditi_valid(table, lm.n_layers)))
        picks["dim"] = refusal.select_arditi(table, lm.n_layers)
        reasons["dim"] = "" if picks["dim"] is not None else "no candidate passes Arditi's filters"
    table = candidate_scoring.score_candidates(lm, candidate_grid(saved["candidates"], lm.n_layers), harmful, harmless, low, batch_size,
                                               kl_for="cosmic")
    tables.append(table.assign(method="cosmic", valid=refusal.cosmic_valid(table, lm.n_layers)))
    picks["cosmic"] = refusal.select_cosmic(table, lm.n_layers)
    reasons["cosmic"] = "" if picks["cosmic"] is not None else "no candidate passes COSMIC's filters"
    for method in ("dim", "cosmic"):
        pick = picks[method]
        outcome[f"{method}_pick"] = "no valid candidate" if pick is None else f"layer {int(pick['layer'])}, position {int(pick['position'])}"
        outcome[f"{method}_reason"] = reasons[method]
        picks[method] = None if pick is None else (int(pick["layer"]), int(pick["position"]))
    both = picks["dim"] is not None and picks["cosmic"] is not None
    picks["dim_cosmic_cosine"] = (float(directions.cosine(saved["candidates_refusal_filtered"][picks["dim"]], saved["candidates"][picks["cosmic"]]))
                                  if both else None)
    selection = pd.concat(tables, ignore_index=True)
    selection.insert(0, "model", key)
    return selection, picks, low, outcome


# %%
tables, outcome_rows, picks, timings = [], [], {}, {}
for key, lm in nb.models(model_keys, precision=precision, device=device, remote=remote):
    clock = timing.ColdClock(already_s=nb.load_seconds[key])  # the selection time includes the load; cached units count cold
    table, chosen, low, outcome = select_directions(lm, key)
    # the published count (a tied output matrix once; the de-quantized GGUF loads it untied); a hub id counts its modules
    n_parameters = lm.spec.n_params or sum(p.numel() for p in lm.hf.parameters())
    picks[key] = {**chosen, "low_layers": low, "n_parameters": n_parameters, "select_s": clock.seconds()}
    tables.append(table)
    outcome_rows.append(outcome)
    timings[key] = picks[key]["select_s"]
    print(key, {"select_s": timings[key], "dim": chosen["dim"], "cosmic": chosen["cosmic"]})

selection = pd.concat(tables, ignore_index=True)
selection_outcomes = pd.DataFrame(outcome_rows)  # Arditi's prompt filter and each method's pick, or why there is none
artifacts.write_csv(out / "candidate_scores.csv", selection)
steering_settings.save_refusal_selection(picks, selection_outcomes)  # what 04_scaling steers with
selection_outcomes

# %% [markdown]
# ## Candidate scores: DIM and COSMIC pick by different rules
# At the last post-instruction position: each candidate's refusal score under ablation and addition
# (Arditi picks the lowest ablation score among valid candidates, scored on the prompts his filter
# keeps) and its COSMIC score (the highest, on every validation prompt). A model that refuses no
# harmful prompt has no Arditi scores, and a method with no valid candidate no pick
# (`selection_outcomes.csv`). A flat COSMIC curve would be the seed's bug.

# %%
last = selection[selection["position"] == -1]
rules = {"dim": "DIM: refusal score", "cosmic": "COSMIC score"}
long = pd.concat([
    last[last["method"] == "dim"].melt(id_vars=["model", "layer"], value_vars=["ablation_refusal", "addition_refusal"],
                                       var_name="score", value_name="value").assign(rule=rules["dim"]),
    last[last["method"] == "cosmic"].melt(id_vars=["model", "layer"], value_vars=["cosmic_score"], var_name="score",
                                          value_name="value").assign(rule=rules["cosmic"]),
], ignore_index=True)
# One row per rule (their scales differ by an order of magnitude), one column per model in model_keys' order.
grid = sns.relplot(data=long, x="layer", y="value", hue="score", row="rule", col="model", kind="line", marker="o",
                   row_order=list(rules.values()), col_order=model_keys, height=2.4, aspect=1.25,
                   facet_kws={"sharex": "col", "sharey": False})
grid.set_titles("{col_name}\n{row_name}")
reasons = selection_outcomes.set_index("model")
for key in model_keys:
    for method, color in (("dim", "black"), ("cosmic", "tab:red")):
        ax = grid.axes_dict[(rules[method], key)]
        if picks[key][method] is not None:
            ax.axvline(picks[key][method][0], color=color, ls="--", lw=1)
        elif long[(long["model"] == key) & (long["rule"] == rules[method])].empty:
            ax.set_yticks([])
            ax.text(0.5, 0.5, textwrap.fill(f"no scores: {reasons.loc[key, f'{method}_reason']}", 28), ha="center", va="center", fontsize=7,
                    transform=ax.transAxes, color="0.35")
        else:
            ax.set_title(f"{ax.get_title()} (no pick)")
grid.figure.suptitle("Candidate scores by layer at the last position; dashed: DIM (black) and COSMIC (red) picks", y=1.07)
plotting.save_figure(grid.figure, NOTEBOOK, "candidate_scores")
plt.show()
cosmic_spread = selection[selection["method"] == "cosmic"].groupby("model")["cosmic_score"].agg(["min", "max", "std"])
selection_outcomes.set_index("model").join(cosmic_spread.add_prefix("cosmic_score_"))

# %% [markdown]
# ## Seed 003's COSMIC defect
# Its public COSMIC code scored every candidate alike, so its pick was the first layer: present here when the
# COSMIC scores do not vary over the grid or the pick is layer 0.

# %%
defects = []
for key in model_keys:
    scores = selection[(selection["model"] == key) & (selection["method"] == "cosmic")]["cosmic_score"]
    pick = picks[key]["cosmic"]
    defects.append(artifacts.Defect(
        f"D003-cosmic-first-layer-{key}", "003", "its COSMIC scored every candidate alike and so picked the first layer",
        f"std of COSMIC scores over {len(scores)} candidates ({key})", float(scores.std()), len(scores), np.nan, np.nan,
        "present here" if scores.std() == 0 or (pick is not None and pick[0] == 0) else "not present here"))
artifacts.write_defects(NOTEBOOK, defects)
pd.DataFrame([vars(d) for d in defects])

# %% [markdown]
# ## Numbers for the paper

# %%
macros = nb.macros
macros.add("NSelect", n_select, "{:d}")
macros.add("NCandidates", len(selection), "{:d}")
macros.add("Wall minutes", sum(timings.values()) / 60, "{:.0f}")
nb.finish()  # the paper's macros
artifacts.write_json(out / "run.json", {"timings_s": timings})
