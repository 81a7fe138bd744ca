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
# depends_on: 01_extraction, 04_scaling

# %% [markdown]
# # 05 · Quantization and steering: does a refusal direction survive 8-bit and 4-bit weights?
#
# Seed 003 reports that INT8 weights keep refusal steering intact, that 4-bit NF4 costs the
# largest model 20 points of coherent refusal while leaving small models unaffected, that the refusal
# direction re-extracted from a quantized model has cosine > 0.97 with the full-precision one, and that
# INT4 saves about 75 % of the memory (INT8 about half). Here every precision is a load
# option of the registry (`lib/precisions.py`): fp32 (the zoo's GGUF weights de-quantized, the
# reference), bf16, bitsandbytes LLM.int8() and NF4, and the GGUF Q8_0 and Q4_0 round trips that
# llama.cpp users deploy. For each model and precision:
#
# 1. **Re-extraction.** The refusal direction (difference in means at the last token, every layer)
#    and the four style vectors are extracted again on the quantized model from the same prompts,
#    and compared with the fp32 ones by cosine, layer by layer; at the steering layer with a
#    bootstrap interval over the extraction prompts.
# 2. **Steering.** 04's direction, layer and α for `steer_with` (chosen on the validation split; the
#    fp32 condition is 04's test condition at `gen_tokens` new tokens) and the direction re-extracted at that precision
#    are added on held-out harmless prompts (induced refusal, judged by 04's primary judge) and
#    ablated on held-out harmful prompts (jailbreaks), greedy.
# 3. **Drift.** KL divergence of the unsteered next-token distribution from fp32 on harmless prompts.
# 4. **Memory.** Bytes of the decoder's linear weights as loaded, quantization state included.
# 5. **Tests.** Every difference to fp32 is paired (same prompts): a bootstrap interval of the
#    difference and an exact McNemar test, with the rule for each verdict fixed below.

# %% tags=["parameters"]
profile = "default"
remote = False  # True: run hub models on NDIF through nnsight (README, "Scale-out"); needs NDIF_API_KEY
model_keys = ["qwen2.5-0.5b", "qwen2.5-1.5b"]  # one family at two sizes (the size claim); fp32 steering moved no rate on SmolLM2
precisions = ["fp32", "bf16-weights", "bnb-int8", "bnb-nf4", "gguf-q8_0", "gguf-q4_0"]
device = "cpu"
steer_with = "dim_sweep"  # which of 04's chosen (layer, α) rows to steer with (04's chosen.csv `method`)
n_extract = "01"  # train prompts per side for re-extraction at every precision; "01": the prompts of the direction 04 steers with
n_test = 64  # held-out prompts per side and condition (04's n_test)
gen_tokens = 64  # new tokens per answer
own_direction_precisions = ["bnb-int8", "bnb-nf4"]  # where the re-extracted direction also steers (the seed's INT8 and INT4)
equivalence_margin = 0.15  # "preserves": the paired 95 % interval of the difference lies within ± this
min_effect = 0.25  # a claim about steering is testable on a model only where fp32 steering moves the rate this much
cosine_threshold = 0.97  # the seed's "cosine > 0.97 across quantization"
nf4_saving = (0.70, 0.80)  # the seed's "INT4 reduces VRAM by ~75 %" (vs FP16), as a range of linear-weight savings
int8_saving = (0.45, 0.55)  # the seed's INT8 "about half"
n_bootstrap = 2000
batch_size = 128  # 384 answers per precision and model: three full batches; LLM.int8() is the slowest per token
seed = 0

# %%
import json

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
import torch
from scipy.stats import bootstrap

from lib import activations as act
from lib import artifacts, directions, engine, footprint, handoffs, judges, models, notebook, paired, plotting, prompts, refusal, stats, textclass, timing
from lib import conditions as conditions_runner
from lib import precisions as prec
from lib.paths import DATA_DIR, generated_dir

NOTEBOOK = "05_quantization"
REFERENCE = "fp32"
QUANTIZED_IN_MEMORY = ("bnb-int8", "bnb-nf4")  # the round trips hold fp32 values; bitsandbytes holds the codes
HALF_PRECISIONS = ("bf16-weights", "bf16")  # 16-bit weights: the round trip on a CPU, native bf16 on a GPU
nb = notebook.start(NOTEBOOK, prefix="Quant", seed=seed)  # seeds, determinism, plotting, results folder
out = nb.out
macros = nb.macros

for name in precisions:
    prec.check_precision(name, device)  # an unsupported precision stops here, before any model loads
if REFERENCE not in precisions:
    raise ValueError(f"precisions must include {REFERENCE!r}, the reference every other precision is compared with.")
precisions = [REFERENCE] + [p for p in precisions if p != REFERENCE]
splits = handoffs.load_splits()
chosen = handoffs.load_chosen_settings().set_index(["model", "method"])
primary_judge = handoffs.load_refusal_judge()  # 04's most accurate judge on over-refusal dev answers
missing = [k for k in model_keys if (k, steer_with) not in chosen.index]
if missing:
    raise ValueError(f"04_scaling chose no {steer_with!r} layer for {missing}: add them to 04's model_keys and rerun 04 first.")
style_axes = json.loads((DATA_DIR / "style" / "axes.json").read_text())["axes"]
test = {side: splits[side]["test"][:n_test] for side in ("harmful", "harmless")}
if min(len(v) for v in test.values()) < n_test:
    raise ValueError(f"The test split has {min(len(v) for v in test.values())} prompts per side, fewer than n_test = {n_test}: lower n_test.")
print({"precisions": precisions, "test": {k: len(v) for k, v in test.items()}})

# %% [markdown]
# ## 04's steering setting
# The fp32 condition is 04's test condition for `steer_with`: 01's refusal candidate at 04's
# (layer, position), from the candidate set 04 picked it from (Arditi's refusal-filtered set for
# `dim`, the unfiltered one otherwise), added with 04's α at that layer (at every layer from it on
# for the seed's fixed-α setting, as 04 does). 04's test rate for it is read beside it, to check below
# that 05's fp32 run reproduces 04's.

# %%
def steering_setting(key: str) -> dict:
    """04's chosen layer, position, α and direction for `steer_with` on model `key`."""
    row = chosen.loc[(key, steer_with)]
    saved, sidecar = handoffs.load_refusal_candidates(key)
    layer, position = int(row["layer"]), int(row["position"])
    candidates = saved["candidates_refusal_filtered" if steer_with == "dim" else "candidates"]
    counts = [int(n) for n in sidecar["n_prompts"]] if n_extract == "01" else [int(n_extract)] * 2  # 01's harmful, harmless
    return {"layer": layer, "position": position, "alpha": float(row["alpha"]), "alpha_fraction": float(row["alpha_fraction"]),
            "direction": candidates[layer, position], "multi_layer": bool(row["multi_layer"]), "n_extract": counts,
            "train": {side: splits[side]["train"][:n] for side, n in zip(("harmful", "harmless"), counts)}}


settings = {key: steering_setting(key) for key in model_keys}
pd.DataFrame([{"model": k, **{f: v for f, v in s.items() if f not in ("direction", "train")}} for k, s in settings.items()])

# %% [markdown]
# ## Per model and precision: re-extract, steer, generate, count bytes
# Each (model, precision) is loaded once. The fp32 pass comes first: its directions, its
# per-prompt states at the steering layer and its unsteered next-token distributions are the
# reference for every other precision. The re-extracted direction steers beside 04's only at
# `own_direction_precisions`, the seed's INT8 and INT4: at bf16 weights and Q8_0 its cosine with the
# fp32 one is about 0.9999 (the cosine table shows it), so its answers would repeat those of 04's
# direction, at a third of each precision's generation time.


# %%
def extract(lm, train, style_axes, layer: int) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """Refusal DIM at the last token and the style vectors (three recipes), every layer: {name: [L, d]}; and the
    per-prompt last-token states at `layer`, {side: [n, d]}, for the bootstrap over extraction prompts."""
    fmt = lambda items: [prompts.format_instruction(lm, x) for x in items]
    layers = list(range(lm.n_layers))
    last = {"last": act.last_tokens(1)}
    states = {side: act.capture(lm, fmt(train[side]), layers, last, batch_size=batch_size)["last"][:, :, 0]  # [n, L, d]
              for side in ("harmful", "harmless")}
    vectors = {"refusal": directions.diff_in_means(states["harmful"], states["harmless"])}
    recipes = {"mean_all": act.mean_tokens(), "mean_skip_first": act.mean_tokens(skip_first=True), "last": act.last_tokens(1)}
    for axis, pair in style_axes.items():
        feats = act.capture(lm, fmt([pair["positive"], pair["negative"]]), layers, recipes, progress=False)
        for recipe, values in feats.items():
            vectors[f"{axis}/{recipe}"] = (values[0] - values[1]).reshape(lm.n_layers, -1)
    return vectors, {side: s[:, layer].clone() for side, s in states.items()}


def add_intervention(lm, direction: torch.Tensor, setting: dict) -> engine.Intervention:
    """α·d̂ at 04's layer (every layer from it on for the seed's fixed-α setting), every position."""
    return refusal.addition(direction, setting["alpha"], setting["layer"], lm.n_layers, from_layer_on=setting["multi_layer"])


def conditions_for(lm, precision: str, own: torch.Tensor, setting: dict, test) -> dict:
    """Name -> (prompts, Intervention). 04's direction everywhere; the re-extracted one at `own_direction_precisions`."""
    conditions = {"harmless|none": (test["harmless"], engine.NO_EDIT), "harmful|none": (test["harmful"], engine.NO_EDIT),
                  "harmless|add_fp32": (test["harmless"], add_intervention(lm, setting["direction"], setting)),
                  "harmful|ablate_fp32": (test["harmful"], engine.ablate(setting["direction"]))}
    if precision in own_direction_precisions and precision != REFERENCE:
        conditions["harmless|add_own"] = (test["harmless"], add_intervention(lm, own, setting))
        conditions["harmful|ablate_own"] = (test["harmful"], engine.ablate(own))
    return conditions


def generate_and_label(lm, conditions: dict) -> tuple[pd.DataFrame, dict]:
    """All conditions in one batched generation (lib.conditions); one labelled row per output, plus first-token
    log-probs per condition."""
    frame, first_logprobs = conditions_runner.generate(lm, conditions, gen_tokens, batch_size=batch_size)
    frame = judges.label_answers(frame, refusal.refusal_score(first_logprobs, refusal.refusal_token_ids(lm)).numpy())
    frame["refusal"] = judges.refused(frame, primary_judge)  # 04's primary judge, garbled answers excluded
    first = {name: first_logprobs[torch.as_tensor((frame["condition"] == name).to_numpy())] for name in conditions}
    frame = frame[["condition", "prompt_index", "text", "seed_label", "arditi_refusal", "logit_score", "refusal"]].copy()
    frame["garbled"] = frame["seed_label"] == textclass.GARBLED
    frame["coherent_refusal"] = frame["seed_label"] == textclass.COHERENT_REFUSAL
    frame["jailbreak"] = ~frame["arditi_refusal"] & ~frame["garbled"]  # answered: no refusal substring, not garbled
    return frame, first


def memory_row(lm, key: str, precision: str) -> dict:
    """Bytes of the decoder's linear weights as loaded (quantization state included) and the whole model's
    parameters, counted from the modules' storage: deterministic, no sampling."""
    linear = footprint.linear_weight_bytes(lm.layers)
    return {"model": key, "precision": precision, **{f"linear_{k}": v for k, v in linear.items()},
            "footprint_bytes": int(lm.hf.get_memory_footprint()),
            "parameters": sum(p.numel() for p in lm.hf.parameters()) if precision == REFERENCE else np.nan}


# %%
output_tables, cosine_rows, kl_rows, timing_rows, reference_checks, memory_rows = [], [], [], [], [], []
steering_states = {}  # (model, precision) -> {side: [n, d]} at the steering layer
for key in model_keys:
    setting = settings[key]
    layer = setting["layer"]
    saved_style, _ = handoffs.load_style_vectors(key)
    fp32_vectors = fp32_first = None
    loader = lambda precision: models.load_model(key, precision, device=device, remote=remote)  # one model, each precision in turn
    for precision, lm in nb.models(precisions, load=loader):
        t_load = nb.load_seconds[precision]
        clock = timing.ColdClock(already_s=t_load)  # includes the load; cache-loaded units count at their cold cost
        if precision == REFERENCE or precision in QUANTIZED_IN_MEMORY:  # before any forward pass (see section 5)
            memory_rows.append(memory_row(lm, key, precision))
        vectors, steering_states[(key, precision)] = extract(lm, setting["train"], style_axes, layer)
        t_extract = clock.seconds() - t_load
        if precision == REFERENCE:
            fp32_vectors = vectors
            reference_checks.append({"model": key, "refusal_cos_to_04_direction": float(directions.cosine(vectors["refusal"][layer], setting["direction"])),
                                     "style_min_cos_to_01": min(float(directions.cosine(vectors[n], saved_style[n]).min()) for n in saved_style)})
        for name, v in vectors.items():
            cos = directions.cosine(v, fp32_vectors[name])
            cosine_rows += [{"model": key, "precision": precision, "vector": name, "layer": l, "depth": l / lm.n_layers,
                             "cosine": float(cos[l]), "norm_ratio": float(v[l].norm() / fp32_vectors[name][l].norm())} for l in range(lm.n_layers)]
        outputs, first = generate_and_label(lm, conditions_for(lm, precision, vectors["refusal"][layer], setting, test))
        t_generate = clock.seconds() - t_load - t_extract
        if precision == REFERENCE:
            fp32_first = first
        kl = refusal.kl_divergence(fp32_first["harmless|none"], first["harmless|none"]).numpy()
        kl_rows += [{"model": key, "precision": precision, "prompt_index": j, "kl": float(max(v, 0.0))} for j, v in enumerate(kl)]
        output_tables.append(outputs.assign(model=key, precision=precision, layer=layer, alpha=setting["alpha"]))
        timing_rows.append({"model": key, "precision": precision, "load_s": t_load, "extract_s": t_extract,
                            "generate_s": t_generate, "total_s": clock.seconds(), "n_outputs": len(outputs)})
        print(f"{key} {precision}: load {t_load:.0f}s, extract {t_extract:.0f}s, generate {t_generate:.0f}s")

outputs = pd.concat(output_tables, ignore_index=True)
outputs[["side", "direction"]] = outputs["condition"].str.split("|", expand=True)
cosines = pd.DataFrame(cosine_rows)
kl_table = pd.DataFrame(kl_rows)
timings = pd.DataFrame(timing_rows)
checks = pd.DataFrame(reference_checks)
artifacts.write_csv(out / "outputs.csv", outputs)
artifacts.write_csv(out / "cosines.csv", cosines)
artifacts.write_csv(out / "kl.csv", kl_table)
artifacts.write_csv(out / "timings.csv", timings)
checks

# %% [markdown]
# With `n_extract = "01"` the re-extracted fp32 direction comes from the training prompts 01 extracted
# 04's direction from, so its cosine to 04's direction (left) must be 1 up to float rounding; with fewer
# prompts it measures prompt sampling, not precision. The style vectors come from the same prompt pairs
# as in 01 and must match them.

# %% [markdown]
# ## 1 · Cosine to fp32, layer by layer
# The refusal direction and the four style vectors (recipe: mean over positions without the first
# token) re-extracted at every precision. The dashed line is the seed's 0.97.

# %%
shown = cosines[(cosines["vector"] == "refusal") | cosines["vector"].str.endswith("/mean_skip_first")].copy()
shown["vector"] = shown["vector"].str.replace("/mean_skip_first", "", regex=False)
shown = shown[shown["precision"] != REFERENCE]
grid = sns.relplot(data=shown, x="depth", y="cosine", hue="precision", col="vector", row="model", kind="line",
                   height=2.2, aspect=1.1, marker="o", markersize=3, facet_kws={"sharey": True, "margin_titles": True})
for ax in grid.axes.flat:
    ax.axhline(cosine_threshold, color="grey", ls="--", lw=1)
grid.set_titles(row_template="{row_name}", col_template="{col_name}")
grid.set_axis_labels("layer / L", "cosine to fp32")
grid.figure.suptitle("Directions re-extracted at each precision versus fp32", y=1.02)
plotting.save_figure(grid.figure, NOTEBOOK, "cosine_by_layer")
plt.show()

# %% [markdown]
# At the steering layer, each precision's cosine comes with a percentile-bootstrap interval over the
# extraction prompts: the harmful and the harmless prompts are resampled (independently, the same
# draw at every precision, from the states captured once), the difference in means is recomputed at
# that precision and at fp32, and their cosine taken. The last column, the lowest cosine over the
# quantized precisions, is bootstrapped the same way, jointly: it is what the cosine claim tests.

# %%
def steering_cosines(key: str) -> pd.DataFrame:
    """Cosine to fp32 at the steering layer per precision, and the lowest over precisions, with bootstrap intervals."""
    others = [p for p in precisions if p != REFERENCE]
    states = {p: steering_states[(key, p)] for p in precisions}

    def statistic(harmful_index, harmless_index):
        i, j = (torch.as_tensor(x, dtype=torch.long) for x in (harmful_index, harmless_index))
        dim = {p: directions.diff_in_means(states[p]["harmful"][i], states[p]["harmless"][j]) for p in precisions}
        values = [float(directions.cosine(dim[p], dim[REFERENCE])) for p in others]
        return np.array(values + [min(values)])

    index = tuple(np.arange(len(states[REFERENCE][side]), dtype=float) for side in ("harmful", "harmless"))
    point = statistic(*index)
    ci = bootstrap(index, statistic, n_resamples=n_bootstrap, method="percentile", vectorized=False, paired=False,
                   random_state=np.random.default_rng(seed)).confidence_interval
    return pd.DataFrame({"model": key, "precision": others + ["lowest"], "cosine": point, "low": ci.low, "high": ci.high,
                         "n_prompts": sum(len(x) for x in index)})


cosine_ci = pd.concat([steering_cosines(key) for key in model_keys], ignore_index=True)
artifacts.write_csv(out / "cosine_ci.csv", cosine_ci)
cosine_ci.round(4)

# %% [markdown]
# ## 2 · Rates by precision, with Wilson intervals
# Induced refusal on harmless prompts (04's primary judge, garbled answers excluded; the seed's
# coherent refusal beside it), refusal (Arditi substrings) and
# jailbreaks on harmful prompts; `fp32` rows steer with 04's direction, `own` rows with the
# direction re-extracted at that precision.


# %%
METRICS = {"harmless": ["refusal", "coherent_refusal", "garbled", "arditi_refusal"], "harmful": ["arditi_refusal", "jailbreak", "garbled"]}


def rate_table(frame: pd.DataFrame) -> pd.DataFrame:
    """Each side's metrics per model, precision and condition, with n and a Wilson interval."""
    side = frame["condition"].str.split("|").str[0]
    return pd.concat([stats.rate_table(frame[side == name], ["model", "precision", "condition"], metrics)
                      for name, metrics in METRICS.items()], ignore_index=True)


rates = rate_table(outputs)
artifacts.write_csv(out / "rates.csv", rates)
HEADLINE = {("harmless|add_fp32", "refusal"): "induced refusal, 04's direction",
            ("harmless|add_own", "refusal"): "induced refusal, own direction",
            ("harmful|none", "arditi_refusal"): "harmful refused, unsteered",
            ("harmful|ablate_fp32", "jailbreak"): "jailbreak under ablation, 04's dir."}
plot = rates[[(c, m) in HEADLINE for c, m in zip(rates["condition"], rates["metric"])]].copy()
plot["panel"] = [HEADLINE[(c, m)] for c, m in zip(plot["condition"], plot["metric"])]
panels = list(HEADLINE.values())
fig, axes = plt.subplots(1, len(panels), figsize=(3.3 * len(panels), 3.4), sharey=True)
palette = dict(zip(model_keys, sns.color_palette("colorblind", len(model_keys))))
for ax, panel in zip(axes, panels):
    part = plot[plot["panel"] == panel]
    for i, key in enumerate(model_keys):
        g = part[part["model"] == key].set_index("precision").reindex(precisions)  # no own row: no point
        x = np.arange(len(precisions)) + 0.12 * (i - (len(model_keys) - 1) / 2)
        ax.errorbar(x, g["rate"], yerr=plotting.error_bars(g["rate"], g["low"], g["high"]), fmt="o", capsize=3,
                    color=palette[key], label=key)
    ax.set_xticks(range(len(precisions)), precisions, rotation=45, ha="right")
    ax.set_title(panel, fontsize=9)
axes[0].set_ylabel(f"rate (Wilson 95 % CI, n = {n_test})")
axes[-1].legend(fontsize=7)
fig.suptitle("Refusal steering by weight precision (test split)", y=1.03)
plotting.save_figure(fig, NOTEBOOK, "rates_by_precision")
plt.show()
plot.pivot_table(index=["model", "precision"], columns="panel", values="rate").reindex(columns=panels).round(2)

# %% [markdown]
# ### Does 05's fp32 run reproduce 04's?
# The fp32 condition is 04's test condition on the first `n_test` of the same test prompts, greedy,
# so its induced-refusal rate should lie inside 04's Wilson interval for the same method. Where 04
# ran on fewer prompts or with another token limit the two rates measure different samples or
# answer lengths and need not agree; the table says which.

# %%
def scaling_rate(key: str) -> dict | None:
    """04's test refusal rate for `steer_with` on `key` with its n and token limit, as 04 records them in chosen.csv;
    None when 04 recorded none (a 04 run older than these columns)."""
    row = chosen.loc[(key, steer_with)]
    if pd.isna(row.get("test_refusal", np.nan)):
        return None
    return {"rate": row["test_refusal"], "low": row["test_low"], "high": row["test_high"], "n": int(row["test_n"]),
            "tokens": int(row["test_tokens"])}


def reproduction_check(key: str) -> dict:
    """05's fp32 induced refusal against 04's test rate for `steer_with` on the same model."""
    here = rates[(rates["model"] == key) & (rates["precision"] == REFERENCE) & (rates["condition"] == "harmless|add_fp32")
                 & (rates["metric"] == "refusal")].iloc[0]
    there = scaling_rate(key)
    if there is None:
        return {"model": key, "rate_05": here["rate"], "n_05": int(here["n"]), "reproduces_04": False,
                "reason": f"04's chosen settings record no test rate for {steer_with} on {key}: rerun 04"}
    inside = bool(there["low"] <= here["rate"] <= there["high"])
    differences = [f"04 ran {there['n']} prompts, 05 {int(here['n'])}"] if there["n"] != int(here["n"]) else []
    if int(there["tokens"]) != gen_tokens:
        differences.append(f"04 generated {int(there['tokens'])} tokens, 05 {gen_tokens}")
    reason = ("same prompts and tokens" if not differences else "; ".join(differences))
    return {"model": key, "rate_05": here["rate"], "n_05": int(here["n"]), "rate_04": there["rate"], "low_04": there["low"],
            "high_04": there["high"], "n_04": there["n"], "tokens_04": there["tokens"], "tokens_05": gen_tokens,
            "reproduces_04": inside, "reason": reason}


def reproduction_note(row: dict) -> str:
    if "rate_04" not in row or pd.isna(row.get("rate_04")):
        return f"05's fp32 induced refusal not compared with 04: {row['reason']}"
    verb = "inside" if row["reproduces_04"] else "outside"
    return (f"05's fp32 induced refusal {row['rate_05']:.2f} (n = {row['n_05']}) lies {verb} 04's {row['rate_04']:.2f} "
            f"[{row['low_04']:.2f}, {row['high_04']:.2f}] (n = {row['n_04']}; {row['reason']})")


reproduction = pd.DataFrame([reproduction_check(key) for key in model_keys])
checks = checks.merge(reproduction, on="model")
artifacts.write_csv(out / "reference_checks.csv", checks)
reproduction

# %% [markdown]
# ## 3 · Drift: KL divergence of the unsteered next-token distribution from fp32
# Per harmless test prompt, KL(fp32 ‖ precision) of the first generated token, in nats; mean with
# a bootstrap interval over prompts.


# %%
kl_summary = (kl_table.groupby(["model", "precision"], sort=False)["kl"]
              .apply(lambda kl: pd.Series(paired.mean_ci(kl, n_bootstrap, seed))).unstack().reset_index())
artifacts.write_csv(out / "kl_summary.csv", kl_summary)
fig, ax = plt.subplots(figsize=(5.5, 3.2))
part = kl_summary[kl_summary["precision"] != REFERENCE]
for i, key in enumerate(model_keys):
    g = part[part["model"] == key].set_index("precision").reindex(precisions[1:])
    x = np.arange(len(g)) + 0.12 * (i - (len(model_keys) - 1) / 2)
    ax.errorbar(x, g["mean"], yerr=plotting.error_bars(g["mean"], g["low"], g["high"]), fmt="o", capsize=3, color=palette[key], label=key)
ax.set_xticks(range(len(precisions) - 1), precisions[1:], rotation=30, ha="right")
ax.set_yscale("log")
ax.set_ylabel("KL(fp32 ‖ precision), nats")
ax.legend(fontsize=7)
ax.set_title(f"Next-token drift on unsteered harmless prompts (n = {n_test})")
plotting.save_figure(fig, NOTEBOOK, "kl_by_precision")
plt.show()
kl_summary

# %% [markdown]
# ## 4 · Paired tests against fp32
# For each precision, the per-prompt outcome minus the fp32 outcome on the same prompt: the mean
# difference with a percentile-bootstrap interval over prompts and an exact McNemar p-value. Where the
# re-extracted direction steers, the last rows compare it with 04's direction on the same quantized model.

# %%
COMPARISONS = [("harmless|none", "refusal"), ("harmless|add_fp32", "refusal"),
               ("harmful|none", "arditi_refusal"), ("harmful|ablate_fp32", "jailbreak")]


def outcomes(key, precision, condition, metric, outputs) -> np.ndarray:
    g = outputs[(outputs["model"] == key) & (outputs["precision"] == precision) & (outputs["condition"] == condition)]
    return g.sort_values("prompt_index")[metric].to_numpy()


paired_rows = []
for key in model_keys:
    for precision in precisions[1:]:
        for condition, metric in COMPARISONS:
            paired_rows.append({"model": key, "precision": precision, "comparison": f"{condition} vs fp32", "metric": metric,
                                **paired.paired_binary(outcomes(key, precision, condition, metric, outputs), outcomes(key, REFERENCE, condition, metric, outputs), n_bootstrap, seed)})
        if precision not in own_direction_precisions:
            continue
        for own, ref, metric in (("harmless|add_own", "harmless|add_fp32", "refusal"), ("harmful|ablate_own", "harmful|ablate_fp32", "jailbreak")):
            paired_rows.append({"model": key, "precision": precision, "comparison": f"{own} vs {ref}", "metric": metric,
                                **paired.paired_binary(outcomes(key, precision, own, metric, outputs), outcomes(key, precision, ref, metric, outputs), n_bootstrap, seed)})
paired_tests = pd.DataFrame(paired_rows)
artifacts.write_csv(out / "paired_tests.csv", paired_tests)
paired_tests.round(3)

# %% [markdown]
# ## 5 · Memory: bytes of the decoder's linear weights
# Counted from the loaded modules' storage (`lib.footprint.linear_weight_bytes`) right after loading:
# the codes plus the quantization state (NF4's fp32 absmax per block of 64 weights and its codebook,
# LLM.int8()'s fp32 scale per row), biases apart. (On a CPU, bitsandbytes repacks NF4's absmax to bf16
# at the first forward pass; the count before it is the format as on a GPU.) The seed compares with FP16, so the reference is bf16, two bytes per weight of the same
# matrices. The whole model adds what bitsandbytes leaves unquantized (embeddings, the output head,
# norms, biases), counted at bf16 as well; transformers' `get_memory_footprint` of each load (which
# keeps those parts in fp32 and omits the quantization state) is beside it.

# %%
memory = pd.DataFrame(memory_rows)
memory["parameters"] = memory.groupby("model")["parameters"].transform("max").astype("int64")  # the fp32 load's count, every row
memory["bits_per_weight"] = 8 * memory["linear_bytes"] / memory["linear_weights"]
memory["linear_saving_vs_bf16"] = 1 - memory["linear_bytes"] / memory["linear_bf16_bytes"]
unquantized = 2 * (memory["parameters"] - memory["linear_weights"])  # bf16 bytes of everything outside the linear layers
memory["model_saving_vs_bf16"] = 1 - (memory["linear_bytes"] + unquantized) / (2 * memory["parameters"])
artifacts.write_csv(out / "memory.csv", memory)
memory[["model", "precision", "linear_weights", "linear_bytes", "bits_per_weight", "linear_saving_vs_bf16",
        "model_saving_vs_bf16", "footprint_bytes"]].round(3)

# %% [markdown]
# ## 6 · Claims of seed 003, with verdicts
# Rules, fixed before the numbers (`lib/verdicts.py`):
#
# - **Steering** (`S003-int8-preserves`, `S003-nf4-small-unaffected`, `S003-nf4-degrades`, per model). The
#   value is the paired difference precision − fp32 (same prompts, 04's direction, layer and α): induced
#   refusal where fp32 steering moves it, else jailbreaks under ablation. A precision *preserves*
#   steering (INT8; NF4 on small models, which all of this zoo's are next to the seed's 7B) when the paired 95 %
#   interval lies within ±`equivalence_margin` (equivalence), and fails to where it excludes 0. NF4
#   *degrades* steering when the interval lies below zero, and fails to where it excludes the seed's −20
#   points; anything else is inconclusive. Each is testable on a model only where fp32 steering moves a
#   rate by at least `min_effect` over the unsteered rate (there must be an effect to preserve), else
#   not testable, with the fp32 rates in the reason.
# - **Size** (`S003-nf4-size`). NF4's paired difference on the larger model minus that on the smaller,
#   with the interval from the two bootstrap intervals (conservative); reproduced below 0, not
#   reproduced where it excludes −20 points; testable where both models pass the steering precondition.
# - **Cosine** (`S003-cosine`, per model). The lowest cosine to fp32 at the steering layer over the
#   quantized precisions, with its bootstrap interval over extraction prompts (widened to include the
#   value should resampling, which repeats prompts, put it outside); reproduced where the interval lies
#   above `cosine_threshold`.
# - **Memory** (`S003-int4-memory`, per model). The saving of the decoder's linear-weight bytes against
#   bf16: NF4 reproduces the seed's "~75 %" when it lies within `nf4_saving`, INT8 its "about half" within
#   `int8_saving`. The bytes are counted, not sampled: n = 1 and the interval is the value (exact).

# %%
def fp32_rate(key, condition, metric, outputs) -> float:
    return float(outcomes(key, REFERENCE, condition, metric, outputs).mean())


def testable_metrics(key, outputs) -> list[tuple[str, str]]:
    found = []
    if fp32_rate(key, "harmless|add_fp32", "refusal", outputs) - fp32_rate(key, "harmless|none", "refusal", outputs) >= min_effect:
        found.append(("harmless|add_fp32", "refusal"))
    if fp32_rate(key, "harmful|ablate_fp32", "jailbreak", outputs) - fp32_rate(key, "harmful|none", "jailbreak", outputs) >= min_effect:
        found.append(("harmful|ablate_fp32", "jailbreak"))
    return found


def test_row(key, precision, condition, metric, paired_tests) -> pd.Series:
    return paired_tests[(paired_tests["model"] == key) & (paired_tests["precision"] == precision)
                        & (paired_tests["comparison"] == f"{condition} vs fp32") & (paired_tests["metric"] == metric)].iloc[0]


def describe(rows) -> str:
    return "; ".join(f"{r['comparison'].split(' vs')[0]} {r['metric']}: {r['difference']:+.2f} [{r['low']:+.2f}, {r['high']:+.2f}], "
                     f"McNemar p = {r['p_mcnemar']:.3f}" for r in rows)


STEERING_CLAIMS = (  # precision, id, claim, the seed's value, rule
    ("bnb-int8", "int8-preserves", "INT8 weights preserve refusal steering", "INT8 matches FP16 at every size",
     artifacts.Rule.within(equivalence_margin)),
    ("bnb-nf4", "nf4-small-unaffected", "4-bit NF4 weights leave refusal steering of a small model unaffected",
     "7B: 100 % FP16 = 100 % INT4", artifacts.Rule.within(equivalence_margin)),
    ("bnb-nf4", "nf4-degrades", "4-bit NF4 weights degrade refusal steering", "-20 pp at 32B",
     artifacts.Rule.below(0.0, seed_effect=-0.20)),
)
sizes = {key: int(handoffs.load_model_facts()[key]["n_params"]) for key in model_keys}
claims = []
for key in model_keys:
    metrics = testable_metrics(key, outputs)
    fp32_note = (f"fp32 (refusal: {primary_judge}, not garbled): induced {fp32_rate(key, 'harmless|add_fp32', 'refusal', outputs):.2f} vs {fp32_rate(key, 'harmless|none', 'refusal', outputs):.2f} unsteered; "
                 f"jailbreak under ablation {fp32_rate(key, 'harmful|ablate_fp32', 'jailbreak', outputs):.2f} vs {fp32_rate(key, 'harmful|none', 'jailbreak', outputs):.2f}; "
                 f"{reproduction_note(reproduction.set_index('model').loc[key].to_dict() | {'model': key})}")
    for precision, claim_id, text, seed_value, decision in STEERING_CLAIMS:
        if precision not in precisions:
            continue
        precondition = f"fp32 steering moves a rate by at least {min_effect} on this model"
        if not metrics:
            claims.append(artifacts.Claim.not_testable(
                f"S003-{claim_id}-{key}", "003", f"{text} ({key})", seed_value,
                f"fp32 steering moves no rate by {min_effect} on this model, so there is no effect to compare; {fp32_note}", precondition))
            continue
        rows = [test_row(key, precision, c, m, paired_tests) for c, m in metrics]
        first = rows[0]  # induced refusal where fp32 steering induces it, else the jailbreak rate; the others in the note
        claims.append(artifacts.Claim.tested(
            f"S003-{claim_id}-{key}", "003", f"{text} ({key}, {sizes[key] / 1e6:.0f}M parameters)", seed_value,
            float(first["difference"]), int(first["n"]), float(first["low"]), float(first["high"]), decision, precondition,
            f"value = {first['comparison']} {first['metric']}, paired bootstrap interval; {describe(rows)}; {fp32_note}"))
    worst = cosine_ci[(cosine_ci["model"] == key) & (cosine_ci["precision"] == "lowest")].iloc[0]
    per_precision = cosine_ci[(cosine_ci["model"] == key) & (cosine_ci["precision"] != "lowest")]
    lowest_at = per_precision.sort_values("cosine").iloc[0]["precision"]
    all_layers = cosines[(cosines["model"] == key) & (cosines["vector"] == "refusal") & (cosines["precision"] != REFERENCE)]
    anywhere = all_layers.sort_values("cosine").iloc[0]
    low, high = min(float(worst["low"]), float(worst["cosine"])), max(float(worst["high"]), float(worst["cosine"]))
    widened = (low, high) != (float(worst["low"]), float(worst["high"]))  # resampling repeats prompts, which adds noise
    claims.append(artifacts.Claim.tested(
        f"S003-cosine-{key}", "003", f"The refusal direction re-extracted after quantization has cosine > 0.97 with full precision ({key})",
        "> 0.97", float(worst["cosine"]), int(worst["n_prompts"]), low, high, artifacts.Rule.above(cosine_threshold),
        note=f"value = lowest cosine to fp32 at the steering layer {settings[key]['layer']} over {len(per_precision)} precisions "
        f"({lowest_at}); interval = percentile bootstrap of that minimum over the {int(worst['n_prompts'])} extraction prompts "
        f"({'/'.join(map(str, settings[key]['n_extract']))} harmful/harmless, {n_bootstrap} resamples)"
        + (", widened to include the value, which lies outside the resampled range" if widened else "") + "; per precision: "
        + ", ".join(f"{r['precision']} {r['cosine']:.4f} [{r['low']:.4f}, {r['high']:.4f}]" for _, r in per_precision.iterrows())
        + f"; lowest at any layer: {anywhere['cosine']:.3f} ({anywhere['precision']}, layer {int(anywhere['layer'])})"))
    for precision, suffix, bounds, label in (("bnb-nf4", "", nf4_saving, "NF4"), ("bnb-int8", "-int8", int8_saving, "INT8")):
        row = memory[(memory["model"] == key) & (memory["precision"] == precision)]
        if row.empty:
            continue
        row = row.iloc[0]
        fp32_footprint = memory[(memory["model"] == key) & (memory["precision"] == REFERENCE)]["footprint_bytes"].iloc[0]
        saving = float(row["linear_saving_vs_bf16"])
        claims.append(artifacts.Claim.tested(
            f"S003-int4-memory{suffix}-{key}", "003",
            f"{label} weights cut the memory of the decoder's linear weights by {100 * bounds[0]:.0f}-{100 * bounds[1]:.0f} % against bf16 ({key})",
            "INT4 ~75 % less VRAM than FP16" if label == "NF4" else "INT8 about half of FP16",
            saving, 1, saving, saving, artifacts.Rule.between(*bounds),
            note=f"exact: bytes counted from the loaded modules' storage, deterministic, so n = 1 and the interval is the value; "
            f"{int(row['linear_weights']):,} linear weights take {row['linear_bytes'] / 2**20:.1f} MiB ({row['bits_per_weight']:.2f} bits "
            f"per weight, quantization state included) against {row['linear_bf16_bytes'] / 2**20:.1f} MiB in bf16; the whole model "
            f"(embeddings, head, norms and biases unquantized, in bf16) saves {100 * row['model_saving_vs_bf16']:.1f} %; "
            f"get_memory_footprint as loaded: {row['footprint_bytes'] / 2**20:.0f} MiB against {fp32_footprint / 2**20:.0f} MiB at fp32"))
testable_nf4 = [k for k in model_keys if testable_metrics(k, outputs) and "bnb-nf4" in precisions]
if len(testable_nf4) >= 2:
    small, large = min(testable_nf4, key=sizes.get), max(testable_nf4, key=sizes.get)
    ds, dl = (test_row(k, "bnb-nf4", *testable_metrics(k, outputs)[0], paired_tests=paired_tests) for k in (small, large))
    claims.append(artifacts.Claim.tested(
        "S003-nf4-size", "003", f"NF4 costs the larger model more ({small} vs {large})", "-20 pp at 32B only",
        float(dl["difference"] - ds["difference"]), int(dl["n"]), float(dl["low"] - ds["high"]), float(dl["high"] - ds["low"]),
        artifacts.Rule.below(0.0, seed_effect=-0.20), "fp32 steering has an effect to lose on two sizes",
        f"value = NF4's paired difference on {large} minus that on {small}; {small}: {ds['difference']:+.2f} [{ds['low']:+.2f}, {ds['high']:+.2f}]; {large}: {dl['difference']:+.2f} "
        f"[{dl['low']:+.2f}, {dl['high']:+.2f}]; interval from the two bootstrap intervals (conservative)"))
else:
    claims.append(artifacts.Claim.not_testable(
        "S003-nf4-size", "003", "NF4 costs larger models more", "-20 pp at 32B only",
        f"models on which fp32 steering has an effect to lose: {', '.join(testable_nf4) or 'none'}; a size trend "
        "needs two (the gpu profile runs the seed's Qwen2.5 3B and 7B)", "fp32 steering has an effect to lose on two sizes"))
pd.DataFrame([vars(c) for c in claims])[["id", "value_here", "ci_low", "ci_high", "verdict"]]

# %% [markdown]
# ## Wall time per precision

# %%
timings.round(1)

# %% [markdown]
# ## Numbers for the paper
# Per-precision numbers are given for the largest model run; every model's are in the CSV files.

# %%
large = max(model_keys, key=sizes.get)
macros.add("Models", ", ".join(model_keys))
macros.add("LargeModel", large)
macros.add("NTest", n_test, "{:d}")
macros.add("NExtract", settings[large]["n_extract"][0], "{:d}")
macros.add("GenTokens", gen_tokens, "{:d}")
macros.add("NBootstrap", n_bootstrap, "{:d}")
macros.add("Margin", equivalence_margin, "{:.2f}")
macros.add("MinEffect", min_effect, "{:.2f}")
macros.add("OwnPrecisions", ", ".join(p for p in own_direction_precisions if p in precisions))
macros.add("SteerMethod", steer_with)
macros.add("SteerLayer", settings[large]["layer"], "{:d}")
macros.add("SteerAlphaFraction", settings[large]["alpha_fraction"], "{:.2f}")
macros.add("TotalMinutes", timings["total_s"].sum() / 60, "{:.0f}")
refusal_steer = cosine_ci[cosine_ci["precision"] != "lowest"]
macros.add("MinCosineSteer", float(refusal_steer["cosine"].min()), "{:.3f}")
lowest = cosine_ci[(cosine_ci["model"] == large) & (cosine_ci["precision"] == "lowest")].iloc[0]
macros.add("LowestCosine", float(lowest["cosine"]), "{:.3f}")
macros.add("LowestCosineCI", f"[{lowest['low']:.3f}, {lowest['high']:.3f}]")
style_cos = cosines[cosines["vector"].str.endswith("/mean_skip_first") & (cosines["precision"] != REFERENCE) & (cosines["layer"] > 0)]
macros.add("MinCosineStyle", float(style_cos["cosine"].min()), "{:.3f}")
macros.add("StyleMatchesExtraction", float(checks["style_min_cos_to_01"].min()), "{:.4f}")
macros.add("RefusalCosToScaling", float(checks.set_index("model").loc[large, "refusal_cos_to_04_direction"]), "{:.3f}")
macros.add("ReproducedModels", int(reproduction["reproduces_04"].sum()), "{:d}")
macros.add("ComparedModels", artifacts.counted_list(model_keys))
macros.add("ReproductionNotes", "; ".join(f"{k}: {reproduction_note(r | {'model': k})}" for k, r in reproduction.set_index("model").to_dict("index").items()))
half = [p for p in precisions if p in HALF_PRECISIONS]  # default: bf16-weights (CPU); gpu profile: bf16
macros.add("HalfPrecision", half[0] if half else "none")
for precision in precisions:
    name = "Half" if precision in HALF_PRECISIONS else artifacts.tex_name(precision)  # one name for the paper on either profile
    r = rates[(rates["model"] == large) & (rates["precision"] == precision)].set_index(["condition", "metric"])
    for (condition, metric), label in ((("harmless|add_fp32", "refusal"), "Induced"), (("harmful|none", "arditi_refusal"), "HarmfulRefused"),
                                       (("harmful|ablate_fp32", "jailbreak"), "Jailbreak"), (("harmless|none", "refusal"), "FalsePositive")):
        row = r.loc[(condition, metric)]
        macros.add(f"{name}{label}", 100 * row["rate"], "{:.0f}")
        macros.add(f"{name}{label}CI", f"[{100 * row['low']:.0f}, {100 * row['high']:.0f}]")
    k = kl_summary[(kl_summary["model"] == large) & (kl_summary["precision"] == precision)].iloc[0]
    macros.add(f"{name}KL", k["mean"], "{:.3f}")
    macros.add(f"{name}Seconds", float(timings[(timings["model"] == large) & (timings["precision"] == precision)]["total_s"].iloc[0]), "{:.0f}")
    if precision == REFERENCE:
        continue
    c = refusal_steer[(refusal_steer["model"] == large) & (refusal_steer["precision"] == precision)].iloc[0]
    macros.add(f"{name}Cosine", float(c["cosine"]), "{:.3f}")
    macros.add(f"{name}CosineCI", f"[{c['low']:.3f}, {c['high']:.3f}]")
    d = test_row(large, precision, "harmless|add_fp32", "refusal", paired_tests)
    macros.add(f"{name}InducedDiff", 100 * d["difference"], "{:+.0f}")
    macros.add(f"{name}InducedDiffCI", f"[{100 * d['low']:+.0f}, {100 * d['high']:+.0f}]")
    macros.add(f"{name}InducedP", d["p_mcnemar"], "{:.2f}")
    own = rates[(rates["model"] == large) & (rates["precision"] == precision) & (rates["condition"] == "harmless|add_own") & (rates["metric"] == "refusal")]
    macros.add(f"{name}InducedOwn", 100 * float(own["rate"].iloc[0]) if len(own) else float("nan"), "{:.0f}", missing="n/a")
for _, row in memory[memory["model"] == large].iterrows():
    name = artifacts.tex_name(row["precision"])
    macros.add(f"{name}LinearMiB", row["linear_bytes"] / 2**20, "{:.0f}")
    macros.add(f"{name}BitsPerWeight", row["bits_per_weight"], "{:.2f}")
    macros.add(f"{name}LinearSaving", 100 * row["linear_saving_vs_bf16"], "{:.1f}")
    macros.add(f"{name}ModelSaving", 100 * row["model_saving_vs_bf16"], "{:.1f}")
macros.add("BfOneSixLinearMiB", float(memory[memory["model"] == large]["linear_bf16_bytes"].iloc[0]) / 2**20, "{:.0f}")
table = plot.assign(cell=lambda d: d.apply(lambda r: f"{r['rate']:.2f} [{r['low']:.2f}, {r['high']:.2f}]", axis=1))
table = table.pivot_table(index=["model", "precision"], columns="panel", values="cell", aggfunc="first").reindex(columns=panels)
order = {p: i for i, p in enumerate(precisions)}
table = table.reset_index().sort_values(["model", "precision"], key=lambda s: s.map(order) if s.name == "precision" else s)
artifacts.write_latex_table(
    generated_dir() / NOTEBOOK / "rates_table.tex", table,
    caption=f"Refusal steering by weight precision (test split, Wilson 95 \\% CI, n = {n_test} per cell): induced refusal "
            f"({primary_judge}, garbled answers excluded) on harmless prompts with 04's direction and with the direction re-extracted at that precision "
            f"(only at {', '.join(own_direction_precisions)}), refusal of harmful prompts unsteered, and jailbreaks under ablation of 04's direction.",
    label="tab:quant-rates")
memory_table = memory[["model", "precision", "linear_bytes", "bits_per_weight", "linear_saving_vs_bf16", "model_saving_vs_bf16", "footprint_bytes"]].copy()
memory_table["linear_bytes"] = memory_table["linear_bytes"] / 2**20
memory_table["footprint_bytes"] = memory_table["footprint_bytes"] / 2**20
memory_table[["linear_saving_vs_bf16", "model_saving_vs_bf16"]] *= 100
memory_table.columns = ["model", "precision", "linear MiB", "bits / weight", "linear saving %", "model saving %", "footprint MiB"]
artifacts.write_latex_table(
    generated_dir() / NOTEBOOK / "memory_table.tex", memory_table,
    caption="Memory of the decoder's linear weights as loaded (codes plus quantization state), its saving against bf16 "
            "(two bytes per weight), the whole model's saving with the unquantized parts in bf16, and transformers' "
            "get\\_memory\\_footprint of each load (unquantized parts in fp32, quantization state not counted).",
    label="tab:quant-memory")
nb.finish(claims)  # the claims ledger and the paper's macros, after the tables they sit beside
timings.groupby("model")["total_s"].sum()
