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
# # 02 · IID check: do the function vectors work in distribution at all?
#
# Seed 001's first lesson: before any cross-template statistic, check that each function vector (FV)
# steers its own template. Here every FV from 01 (mean last-token layer output over 5-shot prompts
# minus the same over zero-shot prompts) is added, times a strength s, to the last token of a
# *zero-shot* prompt of the same template at layer L.
#
# - **Scoring.** First-token accuracy (the argmax next token is the first token of the gold answer)
#   and exact match of a short greedy continuation (the FV is added in the prompt's forward pass
#   only, never at generated positions: one of the defects of the seed's code).
# - **Baseline.** The same zero-shot prompts unsteered (s = 0). The effect is steered minus baseline.
# - **Choices on dev, numbers on test.** Layer and strength are chosen per task on the dev split
#   (pooled over templates); accuracies are reported on the test split with n and intervals. Pooled over
#   templates, every test item is asked eight times (once per template), so the eight answers are not eight
#   independent observations: pooled intervals are clustered by item (Wilson on the design-effect-adjusted n,
#   `stats.clustered_rate`; the effect's interval cluster-robust, `paired.paired_binary(clusters=...)`).
# - **IID gate.** A task passes when its pooled steered test accuracy is at least 0.5 (the seed's gate).
# - **Two kinds of vector.** The mean-difference task vectors above are seed 001's recipe. Where 01 also
#   computed Todd et al.'s function vectors (attention-head outputs chosen by causal indirect effect), the
#   same test prompts get them too, as Todd et al. use them: strength 1 at the output of layer round(L/3),
#   so nothing is chosen on dev for them.

# %% tags=["parameters"]
profile = "default"
remote = False  # True: run hub models on NDIF through nnsight (README, "Scale-out"); needs NDIF_API_KEY
model_keys = ["smollm2-135m", "gemma3-270m", "qwen2.5-0.5b"]  # the models 01 extracted FVs for
device = "cpu"
precision = "fp32"  # a weight precision of lib/precisions.py (the gpu profile: "bf16")
n_layer_grid = 12  # layers swept on dev, evenly spaced over depth
strengths = [0.5, 1.0, 2.0, 3.0, 5.0]  # s in s * FV: the seed's range, 0.5-5
n_dev = 24  # dev items per task x template in the sweep
n_test = 40  # test items per task x template for first-token accuracy (at most the split)
n_exact = 16  # of those, items whose greedy continuation is also generated (exact match)
gen_tokens = 5  # greedy tokens for exact match
iid_gate = 0.5
every_cell_tasks = ["capitalize"]  # tasks whose single dev-best cell (template x layer x strength) is also tested
task_types = {  # seed 001's reading, fixed before the run: retrieval tasks work, character-level and compositional fail
    "retrieval": ["antonym", "country_capital", "english_french"],
    "character-level": ["capitalize", "first_letter"],
    "compositional": ["sentiment_flip"],
}  # present_past and singular_plural (morphology) belong to neither side and are reported apart
batch_size = 64  # prompts per batched pass: every template's items share one
seed = 0

# %%
import time

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
import statsmodels.formula.api as smf
import torch

from lib import artifacts, engine, handoffs, notebook, paired, plotting, stats, tasks
from lib.paths import generated_dir

NOTEBOOK = "02_iid_check"
nb = notebook.start(NOTEBOOK, prefix="Iid", seed=seed)  # seeds, determinism, plotting, results folder
out = nb.out
macros = nb.macros
fv_meta = handoffs.load_task_vectors(model_keys[0])[1]
task_list = fv_meta["tasks"]
task_data = {name: tasks.load_task(name) for name in task_list}
splits = {name: task.splits(fv_meta["split_fractions"], seed=fv_meta["seed"]) for name, task in task_data.items()}
print("tasks:", task_list, "| test items per template:", {k: min(n_test, len(v["test"])) for k, v in splits.items()})


# %% [markdown]
# ## Dev sweep and test evaluation, one model at a time

# %%
def layer_grid(n_layers: int) -> list[int]:
    return sorted({int(round(x)) for x in np.linspace(1, n_layers - 2, n_layer_grid)})


def exact_match(text: str, gold: str) -> bool:
    """The continuation's first line, trimmed of spaces and final punctuation, equals the gold answer."""
    line = text.strip().split("\n")[0].strip().rstrip(".,;:!?").strip()
    return line == gold


def dev_sweep(lm, key, task, fvs, splits) -> pd.DataFrame:
    """Dev accuracy for every template, grid layer and strength, plus the unsteered baseline (layer NaN)."""
    dev_items = splits[task.name]["dev"][:n_dev]
    prompts, style_of = tasks.zero_shot_all_styles(task, dev_items)
    gold = torch.tensor([tasks.answer_token(lm, y) for _, y in dev_items] * len(tasks.STYLES))
    fv = fvs[task.name][style_of]  # [prompts, layers, d]: each prompt steered by its own template's FV
    labels = [(None, 0.0)] + [(layer, s) for layer in layer_grid(lm.n_layers) for s in strengths]
    conditions = [engine.NO_EDIT if layer is None else engine.add_rows(s * fv[:, layer], layer, at="last") for layer, s in labels]
    result = engine.next_token_sweep(lm, prompts, conditions, batch_size=batch_size, progress=False)
    hits = (result.top_ids == gold).float().view(len(labels), len(tasks.STYLES), len(dev_items))
    return pd.DataFrame([{"model": key, "task": task.name, "style": style, "layer": layer, "strength": s,
                          "acc": float(hits[c, si].mean())}
                         for si, style in enumerate(tasks.STYLES) for c, (layer, s) in enumerate(labels)])


def todd_condition(todd, task, style_of) -> tuple[list, list[bool]]:
    """Each prompt's own template's Todd FV, strength 1 at their layer; unsteered where a template has none."""
    vectors, meta = todd
    v = vectors[task.name][style_of]  # [prompts, d]
    has = (~v.isnan().any(-1)).tolist()
    return [engine.add(v[i], meta["edit_layer"], at="last") if has[i] else engine.NO_EDIT for i in range(len(v))], has


def test_evaluation(lm, key, task, fvs, todd, splits, layer: int, strength: float) -> list[dict]:
    """Per test item and template: first-token hits and exact matches, zero-shot and steered (and first-token hits
    with Todd's FV when `todd` holds 01's (vectors, sidecar) for this model)."""
    test_items = splits[task.name]["test"][:n_test]
    n_styles = len(tasks.STYLES)
    prompts, style_of = tasks.zero_shot_all_styles(task, test_items)
    gold = torch.tensor([tasks.answer_token(lm, y) for _, y in test_items] * n_styles)
    vectors = strength * fvs[task.name][style_of, layer]  # [prompts, d]
    steer = engine.add_rows(vectors, layer, at="last")  # each prompt its own template's vector
    conditions = [engine.NO_EDIT, steer]
    if todd is not None:
        todd_steer, todd_has = todd_condition(todd, task, style_of)
        conditions.append(todd_steer)
    result = engine.next_token_sweep(lm, prompts, conditions, batch_size=batch_size, progress=False)
    hits = (result.top_ids == gold).view(len(conditions), n_styles, len(test_items)).numpy()
    # Exact match on the first n_exact items of every template: unsteered and steered rows in one generation.
    exact = [i for i in range(len(prompts)) if i % len(test_items) < n_exact]
    texts = engine.generate(lm, [prompts[i] for i in exact] * 2, gen_tokens, [engine.NO_EDIT] * len(exact) + [steer[i] for i in exact],
                            stop_at_eos=False, batch_size=batch_size, progress=False).texts
    base_texts = dict(zip(exact, texts[: len(exact)]))
    steer_texts = dict(zip(exact, texts[len(exact) :]))
    rows = []
    for si, style in enumerate(tasks.STYLES):
        for i, (x, y) in enumerate(test_items):
            p = si * len(test_items) + i
            generated = p in base_texts  # exact match is scored on the first n_exact items only
            rows.append({"model": key, "task": task.name, "style": style, "item": x, "gold": y,
                         "layer": layer, "strength": strength,
                         "base_first": bool(hits[0, si, i]), "steer_first": bool(hits[1, si, i]),
                         "todd_first": bool(hits[2, si, i]) if todd is not None and todd_has[p] else None,
                         "base_exact": exact_match(base_texts[p], y) if generated else None,
                         "steer_exact": exact_match(steer_texts[p], y) if generated else None,
                         "steer_text": steer_texts[p] if generated else None})
    return rows


def best_cell_evaluation(lm, key, task, fvs, splits, dev: pd.DataFrame, zero_shot: list[dict]) -> list[dict]:
    """The single best steered cell of the dev grid (template x layer x strength, not pooled), scored on that
    template's test items beside their zero-shot answers (`zero_shot`: the task's rows of test_evaluation, which
    scored them already): seed 001 reports that capitalize fails in every cell, and the dev-best cell is the one most
    likely not to."""
    steered = dev[dev["layer"].notna()].sort_values(["acc", "layer", "strength"], ascending=[False, True, True])
    best = steered.iloc[0]
    style, layer, strength = best["style"], int(best["layer"]), float(best["strength"])
    test_items = splits[task.name]["test"][:n_test]
    prompts = [task.zero_shot(style, x) for x, _ in test_items]
    gold = torch.tensor([tasks.answer_token(lm, y) for _, y in test_items])
    vector = strength * fvs[task.name][tasks.STYLES.index(style), layer]
    result = engine.next_token_sweep(lm, prompts, [engine.add(vector, layer, at="last")], batch_size=batch_size, progress=False)
    hits = (result.top_ids[0] == gold).numpy()
    base = {row["item"]: row["base_first"] for row in zero_shot if row["style"] == style}
    return [{"model": key, "task": task.name, "style": style, "layer": layer, "strength": strength,
             "dev_acc": float(best["acc"]), "item": x, "base_first": base[x], "steer_first": bool(hits[i])}
            for i, (x, _) in enumerate(test_items)]


def evaluate_model(key, lm, task_data, splits) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    fvs, _ = handoffs.load_task_vectors(key)
    todd = None
    if handoffs.has_function_vectors(key):
        todd_vectors, _, todd_meta = handoffs.load_function_vectors(key)
        todd = (todd_vectors, todd_meta)
    dev_tables, test_rows, best_cell_rows = [], [], []
    for task in task_data.values():
        dev = dev_sweep(lm, key, task, fvs, splits)
        steered = dev[dev["layer"].notna()].groupby(["layer", "strength"])["acc"].mean()
        best_layer, best_s = steered.idxmax()  # templates pooled; ties go to the smallest layer, then strength
        dev_tables.append(dev)
        task_rows = test_evaluation(lm, key, task, fvs, todd, splits, int(best_layer), float(best_s))
        test_rows += task_rows
        if task.name in every_cell_tasks:
            best_cell_rows += best_cell_evaluation(lm, key, task, fvs, splits, dev, task_rows)
    return pd.concat(dev_tables, ignore_index=True), pd.DataFrame(test_rows), pd.DataFrame(best_cell_rows)


dev_tables, test_tables, best_cell_tables, timings = [], [], [], {}
for key, lm in nb.models(model_keys, precision=precision, device=device, remote=remote):
    t0 = time.time()
    dev_table, test_table, best_cell_table = evaluate_model(key, lm, task_data, splits)
    dev_tables.append(dev_table)
    test_tables.append(test_table)
    best_cell_tables.append(best_cell_table)
    timings[key] = round(time.time() - t0, 1)
    print(f"{key}: {timings[key]} s")
dev_all = pd.concat(dev_tables, ignore_index=True)
test_all = pd.concat(test_tables, ignore_index=True)
artifacts.write_csv(out / "dev_sweep.csv", dev_all.fillna({"layer": -1}))
artifacts.write_csv(out / "test_items.csv", test_all)
best_cells = pd.concat(best_cell_tables, ignore_index=True)
artifacts.write_csv(out / "best_cell_items.csv", best_cells)

# %% [markdown]
# ## Test accuracy per task and template, with baselines and intervals

# %%
def first_token_effect(group: pd.DataFrame, column: str) -> tuple[float, float, float]:
    """Mean of `column` minus the zero-shot hit on the same prompts, with an interval clustered by item (one item is
    asked under every template of the group); NaN where `column` was not scored."""
    scored = group[group[column].notna()]
    if scored.empty:
        return (float("nan"),) * 3
    effect = paired.paired_binary(scored[column].astype(bool), scored["base_first"].astype(bool), clusters=scored["item"])
    return effect["difference"], effect["low"], effect["high"]


def rate_rows(frame: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """Zero-shot and steered accuracies per group (intervals clustered by item; exact match is scored on the first
    n_exact items only; Todd's FV where 01 made one) beside each vector's effect on the first token (steered minus
    zero-shot, the same clustering)."""
    scored = ["base_first", "steer_first", "todd_first", "base_exact", "steer_exact"]
    rates = stats.wide_rates(stats.rate_table(frame, by, scored, cluster="item"), by)
    for column in ("todd_first", "todd_first_low", "todd_first_high"):  # no Todd FV scored on any of these models
        rates[column] = rates[column] if column in rates else np.nan
    effects = []
    for keys, group in frame.groupby(by, sort=False):
        row = {**dict(zip(by, keys if isinstance(keys, tuple) else (keys,))), "n": len(group), "n_items": group["item"].nunique(),
               "layer": int(group["layer"].iloc[0]), "strength": float(group["strength"].iloc[0])}
        for column, name in (("steer_first", "effect_first"), ("todd_first", "effect_todd")):
            row[name], row[f"{name}_low"], row[f"{name}_high"] = first_token_effect(group, column)
        effects.append(row)
    return rates.merge(pd.DataFrame(effects), on=by).sort_values(by, ignore_index=True)


per_template = rate_rows(test_all, ["model", "task", "style"])
per_task = rate_rows(test_all, ["model", "task"])  # pooled over templates (items repeat across templates)
per_task["passes_gate"] = per_task["steer_first"] >= iid_gate
per_task["todd_passes_gate"] = per_task["todd_first"] >= iid_gate  # False where no Todd FV was scored
artifacts.write_csv(out / "iid_per_template.csv", per_template)
artifacts.write_csv(out / "iid_per_task.csv", per_task)
handoffs.save_iid_gate({
    "gate": iid_gate,
    "passing": {m: sorted(g.loc[g["passes_gate"], "task"]) for m, g in per_task.groupby("model")},
    "todd_passing": {m: sorted(g.loc[g["todd_passes_gate"], "task"]) for m, g in per_task.groupby("model") if g["todd_first"].notna().any()},
    "chosen": {m: {t: {"layer": int(r.layer), "strength": float(r.strength)} for t, r in g.set_index("task").iterrows()}
               for m, g in per_task.groupby("model")},
    "timings_s": timings,
})
per_task[["model", "task", "layer", "strength", "n", "base_first", "steer_first", "effect_first", "todd_first", "effect_todd", "passes_gate"]]

# %%
table = per_task.copy()
fmt_ci = lambda r, c: f"{r[c]:.2f} [{r[c + '_low']:.2f}, {r[c + '_high']:.2f}]"
table = pd.DataFrame({
    "model": table["model"], "task": table["task"].str.replace("_", " "), "L": table["layer"], "s": table["strength"],
    "n": table["n"], "items": table["n_items"], "zero-shot": table.apply(lambda r: fmt_ci(r, "base_first"), axis=1),
    "steered": table.apply(lambda r: fmt_ci(r, "steer_first"), axis=1),
    "effect": table.apply(lambda r: f"{r['effect_first']:+.2f}", axis=1),
    "exact": table.apply(lambda r: f"{r['base_exact']:.2f} / {r['steer_exact']:.2f}", axis=1),
    "gate": table["passes_gate"].map({True: "pass", False: "fail"}),
    "Todd FV": table.apply(lambda r: fmt_ci(r, "todd_first") if pd.notna(r["todd_first"]) else "--", axis=1),
})
artifacts.write_latex_table(
    generated_dir() / NOTEBOOK / "iid_table.tex", table, float_format="{:.0f}",
    caption=("IID check on the test split, templates pooled: first-token accuracy zero-shot and steered (95\\% "
             "intervals clustered by item: the n prompts are the test items under eight templates, and Wilson's interval "
             "is taken on the design-effect-adjusted n), the effect (steered minus zero-shot), exact match of a greedy "
             "continuation (zero-shot / steered, on the first items of each template), and the seed's "
             "gate (steered accuracy $\\geq 0.5$). L and s were chosen on the dev split. Todd FV: first-token accuracy with "
             "Todd et al.'s function vector on the same prompts (strength 1 at layer round(L/3); -- where 01 made none)."),
    label="tab:iid", size="footnotesize")

# %% [markdown]
# ## Figures: accuracy against layer (dev), and the task × template heat map (test)

# %%
curve = dev_all[dev_all["layer"].notna()].copy()
best_s = per_task.set_index(["model", "task"])["strength"]
curve = curve[[best_s[(m, t)] == s for m, t, s in zip(curve["model"], curve["task"], curve["strength"])]]
curve = curve.groupby(["model", "task", "layer"])["acc"].mean().reset_index()
base = dev_all[dev_all["layer"].isna()].groupby(["model", "task"])["acc"].mean().rename("baseline").reset_index()
grid = sns.relplot(data=curve, x="layer", y="acc", hue="task", col="model", kind="line", marker="o",
                   height=3, aspect=1.2, facet_kws={"sharex": False})
for ax, (model, _) in zip(grid.axes.flat, curve.groupby("model", sort=False)):
    ax.axhline(iid_gate, color="grey", linestyle=":", linewidth=1)
grid.set_titles("{col_name}")
grid.set_ylabels("dev first-token accuracy")
grid.figure.suptitle("Function-vector steering by layer (dev split, each task at its chosen strength)", y=1.03)
plotting.save_figure(grid.figure, NOTEBOOK, "accuracy_by_layer")
plt.show()

models_here = list(per_template["model"].unique())
fig, axes = plt.subplots(1, len(models_here), figsize=(5.2 * len(models_here), 4.2), squeeze=False)
for ax, model in zip(axes[0], models_here):
    heat = per_template[per_template["model"] == model].pivot(index="task", columns="style", values="steer_first")
    sns.heatmap(heat[list(tasks.STYLES)], vmin=0, vmax=1, cmap="viridis", annot=True, fmt=".2f", cbar=False, ax=ax,
                annot_kws={"size": 7})
    ax.set_title(model)
    ax.set_xlabel("")
fig.suptitle("Steered first-token accuracy on the test split (each template with its own FV)")
fig.tight_layout()
plotting.save_figure(fig, NOTEBOOK, "iid_heatmap")
plt.show()

# %% [markdown]
# ## Claims: seed 001's IID accuracies
# The seed reports antonym 0.57/0.65, capitalize 0.00/0.11 and sentiment flip 0.02/0.06 (Llama-3.1-8B
# base/instruct): antonym passes the 0.5 gate, the other two fail. The rule, per model: the steered
# test accuracy's interval lies on the seed's side of the gate (reproduced), on the other side (not
# reproduced), or straddles it (inconclusive).
#
# Two more of seed 001's claims, rules fixed here:
# - *Capitalize fails in every cell.* The one cell of the whole dev grid (template × layer × strength,
#   nothing pooled) with the highest dev accuracy is scored on that template's test items; the claim holds
#   if even that cell's steered accuracy lies below the gate.
# - *Retrieval works, character-level and compositional tasks fail* (`task_types` above, grouped before
#   the run). The value is the difference in effect (steered minus zero-shot) between the retrieval tasks
#   and the others, from a regression with errors clustered by item; the claim holds if it is above 0.

# %%
seed_iid = {"antonym": ("0.57 / 0.65", True), "capitalize": ("0.00 / 0.11", False), "sentiment_flip": ("0.02 / 0.06", False)}
claims = []
for _, row in per_task[per_task["task"].isin(seed_iid)].iterrows():
    seed_value, seed_passes = seed_iid[row["task"]]
    gate_rule = artifacts.Rule.above(iid_gate) if seed_passes else artifacts.Rule.below(iid_gate)  # the gate as the null
    claims.append(artifacts.Claim.tested(
        f"S001-iid-{row['task']}-{row['model']}", "001",
        f"{row['task'].replace('_', ' ')} FVs {'pass' if seed_passes else 'fail'} the IID gate ({row['model']})",
        seed_value, row["steer_first"], int(row["n"]), row["steer_first_low"], row["steer_first_high"], gate_rule,
        note=f"zero-shot baseline {row['base_first']:.2f}; effect {row['effect_first']:+.2f}; L={row['layer']}, s={row['strength']}"))


def every_cell_claim(model: str, cell: pd.DataFrame) -> artifacts.Claim:
    """Seed 001: capitalize fails in every layer x template x strength cell. Tested on the dev-best cell, on test."""
    k, n = int(cell["steer_first"].sum()), len(cell)
    rate, low, high = stats.wilson(k, n)
    effect = paired.paired_binary(cell["steer_first"], cell["base_first"])
    first = cell.iloc[0]
    return artifacts.Claim.tested(
        f"S001-capitalize-all-cells-{model}", "001", f"Capitalize fails in every cell, even the dev-best one ({model})",
        "0.00 in every cell", rate, n, low, high, artifacts.Rule.below(iid_gate),
        note=(f"dev-best cell: {first['style']} template, L={first['layer']}, s={first['strength']} (dev accuracy "
              f"{first['dev_acc']:.2f}); zero-shot {effect['reference_rate']:.2f}, effect {effect['difference']:+.2f} "
              f"[{effect['low']:+.2f}, {effect['high']:+.2f}]"))


def task_type_claim(model: str, frame: pd.DataFrame) -> artifacts.Claim:
    """Seed 001: mean-difference FVs work for semantic retrieval and fail for character-level and compositional
    tasks. The value is the difference in effect (steered minus zero-shot first-token accuracy) between the
    retrieval tasks and the others, from an OLS on the per-prompt effect with errors clustered by (task, item)."""
    works = set(task_types["retrieval"])
    fails = set(task_types["character-level"]) | set(task_types["compositional"])
    claim_id = f"S001-task-type-pattern-{model}"
    text = f"Retrieval tasks steer, character-level and compositional ones do not ({model})"
    precondition = "a retrieval task and a character-level or compositional task in the run"
    data = frame[(frame["model"] == model) & frame["task"].isin(works | fails)].copy()
    if not (set(data["task"]) & works and set(data["task"]) & fails):
        return artifacts.Claim.not_testable(claim_id, "001", text, "retrieval > others", f"the run's tasks ({', '.join(task_list)}) "
                                            "lack one of the two sides", precondition)
    data["effect"] = data["steer_first"].astype(float) - data["base_first"].astype(float)
    data["retrieval"] = data["task"].isin(works).astype(float)
    groups = pd.factorize(data["task"] + "/" + data["item"].astype(str))[0]
    fit = smf.ols("effect ~ retrieval", data).fit(cov_type="cluster", cov_kwds={"groups": groups}, use_t=True)
    low, high = fit.conf_int().loc["retrieval"]
    by_task = data.groupby("task")["effect"].mean()
    return artifacts.Claim.tested(
        claim_id, "001", text, "retrieval > others", float(fit.params["retrieval"]), len(data), float(low), float(high),
        artifacts.Rule.above(0.0), precondition,
        "effect per task: " + ", ".join(f"{t} {v:+.2f}" for t, v in by_task.items()))


for model, cell in best_cells[best_cells["task"] == "capitalize"].groupby("model", sort=False):
    claims.append(every_cell_claim(model, cell))
if "capitalize" not in task_list:
    claims.append(artifacts.Claim.not_testable("S001-capitalize-all-cells", "001", "Capitalize fails in every cell",
                                               "0.00 in every cell", "01 extracted no capitalize vectors in this run",
                                               "the task's vectors exist"))
claims += [task_type_claim(model, test_all) for model in models_here]

for task in [t for t in seed_iid if t not in task_list]:
    claims.append(artifacts.Claim.not_testable(
        f"S001-iid-{task}", "001", f"{task.replace('_', ' ')} FVs {'pass' if seed_iid[task][1] else 'fail'} the IID gate",
        seed_iid[task][0], f"01 extracted no {task} vectors in this run (its tasks: {', '.join(task_list)})", "the task's vectors exist"))

for _, row in per_task.iterrows():
    tag = artifacts.tex_name(f"{row['model']} {row['task']}")
    macros.add(f"{tag} steered", row["steer_first"])
    macros.add(f"{tag} base", row["base_first"])
macros.add("n tasks", len(task_list), "{:d}")
macros.add("n models", len(models_here), "{:d}")
macros.add("models phrase", artifacts.counted_list(models_here))
macros.add("n test", int(per_template["n"].min()), "{:d}")
macros.add("n dev", n_dev, "{:d}")
macros.add("gate", iid_gate)
macros.add("passing list", "; ".join(f"{m}: {len(t)} ({', '.join(t) or 'none'})" for m, t in
                                     per_task[per_task["passes_gate"]].groupby("model")["task"].apply(list).reindex(models_here).fillna("").items()))
macros.add("mean effect", float(per_task["effect_first"].mean()))
with_todd = per_task[per_task["todd_first"].notna()]
macros.add("todd models phrase", artifacts.counted_list(list(with_todd["model"].unique())) if len(with_todd) else "no model")
macros.add("todd n tasks", len(with_todd), "{:d}")
macros.add("todd n passing", int(with_todd["todd_passes_gate"].sum()), "{:d}")
macros.add("todd mean effect", float(with_todd["effect_todd"].mean()) if len(with_todd) else float("nan"), missing="n/a")
macros.add("md mean effect on todd models", float(with_todd["effect_first"].mean()) if len(with_todd) else float("nan"), missing="n/a")
for _, row in with_todd.iterrows():
    macros.add(f"{artifacts.tex_name(row['model'] + ' ' + row['task'])} todd", row["todd_first"])
nb.finish(claims)  # the claims ledger and the paper's macros
pd.DataFrame([c.__dict__ for c in claims])[["id", "value_here", "ci_low", "ci_high", "verdict"]]

# %% [markdown]
# ## Checks

# %%
for name in ("dev_sweep.csv", "test_items.csv", "best_cell_items.csv", "iid_per_template.csv", "iid_per_task.csv", "iid_gate.json", "claims.json"):
    assert (out / name).exists(), name
assert np.isfinite(per_task[["steer_first", "base_first", "effect_first"]].to_numpy()).all()
assert set(per_task["model"]) == set(model_keys) and per_task.groupby("model").size().eq(len(task_list)).all()
print("all outputs present")
