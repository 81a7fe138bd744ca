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
# # NN · The question this notebook answers
#
# Copy this file to `notebooks/NN_name.py` (README, "Adding a notebook"). Say here what is measured
# and why, which seed claim it tests, the decision rule fixed before the run and its precondition.
# This example asks: does adding 01's refusal direction raise the logit refusal score on harmless
# prompts, against the unsteered baseline?

# %% tags=["parameters"]
profile = "default"
remote = False  # True: hub models on NDIF (README, "Scale-out")
model_keys = ["smollm2-135m"]
device = "cpu"
precision = "fp32"  # a weight precision of lib/precisions.py (the gpu profile: "bf16")
depth = 0.5  # the layer, as a fraction of the model's depth
alpha_fraction = 0.5  # the added vector's norm, as a fraction of the layer's residual norm (first token excluded)
n_prompts = 8  # harmless test prompts
batch_size = 8
seed = 0

# %%
import pandas as pd

from lib import artifacts, engine, handoffs, notebook, prompts, refusal, stats

NOTEBOOK = "NN_template"  # the file's stem: results/, figures/ and the macros are named after it
nb = notebook.start(NOTEBOOK, prefix="Template", seed=seed)  # seeds, determinism, plotting, results folder, macros
harmless = handoffs.load_splits()["harmless"]["test"][:n_prompts]
norms = handoffs.load_residual_norms().groupby(["model", "layer"])["rest"].mean()

# %% [markdown]
# ## Measurement: one pass per condition, each model loaded once

# %%
rows = []
for key, lm in nb.models(model_keys, precision=precision, device=device, remote=remote):
    layer = round(depth * (lm.n_layers - 1))
    candidates, _ = handoffs.load_refusal_candidates(key)
    direction = candidates["candidates"][layer, -1]
    alpha = alpha_fraction * float(norms[(key, layer)])
    conditions = {"unsteered": engine.NO_EDIT, "refusal added": engine.add(alpha * direction / direction.norm(), layer)}
    chat = [prompts.format_instruction(lm, x) for x in harmless]
    for name, intervention in conditions.items():
        logprobs, _ = engine.forward_last(lm, chat, intervention, batch_size=batch_size, progress=False)
        scores = refusal.refusal_score(logprobs, refusal.refusal_token_ids(lm))
        rows += [{"model": key, "condition": name, "layer": layer, "alpha": alpha, "score": float(s)} for s in scores]
scores = pd.DataFrame(rows)
artifacts.write_csv(nb.out / "scores.csv", scores)

# %% [markdown]
# ## Rates with n and an interval, the baseline beside the effect

# %%
rates = []
for (key, name), g in scores.groupby(["model", "condition"], sort=False):
    rate, low, high = stats.wilson(int((g["score"] > 0).sum()), len(g))
    rates.append({"model": key, "condition": name, "n": len(g), "rate": rate, "low": low, "high": high})
rates = pd.DataFrame(rates)
artifacts.write_csv(nb.out / "rates.csv", rates)
for _, row in rates.iterrows():
    nb.macros.add(f"{row['model']} {row['condition']} rate", row["rate"])
nb.finish()  # this example tests no seed claim: macros only
rates
