"""The test split of seed 000's style protocol, shared by its two notebooks: `07_style_test` (the dev-chosen settings,
their last-token twin and the instruction as a system prompt, with the unsteered answers every condition is paired
with) and `07_style_test_seed_settings` (the seed's own settings: raw α = 2 and 3, the unit vector, raw α = 2 at 12/28
depth, the multi-layer spread). The second reads the first's answers instead of generating them again: its conditions
are paired with the same unsteered and prompted answers, under the same questions and token limit.

Every steered condition is compared with the unsteered answer to the same question (paired bootstrap interval and
Wilcoxon p for each measure, McNemar for the garbled rate); how each answer ended (cut by the token limit, in a loop,
or at its end-of-sequence token) is a Wilson-interval rate per condition; lens bleed is the change in the total lens
score, Holm-adjusted across a model's conditions.
"""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
from statsmodels.stats.multitest import multipletests

from . import artifacts, handoffs, paired, stats, steering_settings, stylemetrics
from .style_runs import UNSTEERED, paired_by_item as aligned

TEST = "07_style_test"  # the notebook that answers the unsteered and prompted conditions
MEASURES = ["words", "n_tokens"] + [f"m_{a}" for a in stylemetrics.AXES] + ["nll"]
TEXT_COLUMNS = ("text", "question", "system", "layers")


def checked_choice(model_keys: list[str], axes: list[str]) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """07_style_steering's dev choice for `model_keys` x `axes` (chosen, norm profile, splits); an error naming the fix
    when an axis is unknown or a (model, axis) has no choice."""
    unknown = sorted(set(axes) - set(stylemetrics.AXES))
    if unknown:
        raise ValueError(f"Unknown style axes {unknown}: use some of {', '.join(stylemetrics.AXES)}.")
    if "terse" not in axes:
        raise ValueError("axes must include 'terse': seed 000's table is about the terse vector.")
    chosen_all, norm_profile, splits = steering_settings.load_style_choice()
    chosen = chosen_all[chosen_all["model"].isin(model_keys) & chosen_all["axis"].isin(axes)].reset_index(drop=True)
    unchosen = sorted({(k, a) for k in model_keys for a in axes} - set(zip(chosen["model"], chosen["axis"])))
    if unchosen:
        raise ValueError(f"07_style_steering chose no setting for {unchosen}: add those models or axes there and rerun it first.")
    return chosen, norm_profile, splits


def save_test_setup(out, setup: dict) -> None:
    """What 07_style_test asked (models, axes, questions, probes, token limit), for the notebook paired with it."""
    artifacts.write_json(out / "test_setup.json", setup)


def load_test_setup(model_keys: list[str], axes: list[str]) -> dict:
    """07_style_test's setup, checked to cover `model_keys` and `axes`."""
    setup = json.loads(handoffs._source(TEST, "test_setup.json").read_text())
    missing = sorted(set(model_keys) - set(setup["model_keys"])) + sorted(set(axes) - set(setup["axes"]))
    if missing:
        raise ValueError(f"07_style_test did not run {missing}: add them to its model_keys / axes and rerun it first.")
    return setup


def load_test_answers(model_keys: list[str]) -> pd.DataFrame:
    """07_style_test's answers (every condition, every item) on `model_keys`, empty answers as empty text."""
    answers = pd.read_csv(handoffs._source(TEST, "test_outputs.csv"), dtype={c: str for c in TEXT_COLUMNS})
    answers[list(TEXT_COLUMNS)] = answers[list(TEXT_COLUMNS)].fillna("")  # an empty answer reads back as NaN
    return answers[answers["model"].isin(model_keys)].reset_index(drop=True)


def compare_to_unsteered(questions: pd.DataFrame, model_keys: list[str], names: list[str], n_bootstrap: int,
                         seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per model and condition in `names` (on the question items): every measure's paired difference to the unsteered
    answer to the same question, and the garbled rate with its Wilson interval and McNemar p."""
    comparison_rows, garble_rows = [], []
    for key in model_keys:
        mine = questions[questions["model"] == key]
        for name in [n for n in mine["condition"].unique() if n in names]:
            meta = mine[mine["condition"] == name].iloc[0]
            keys = {"model": key, "condition": name, "axis": meta["axis"], "kind": meta["kind"]}
            for measure in MEASURES:
                result = paired.paired_continuous(*aligned(questions, key, name, UNSTEERED, measure), n_resamples=n_bootstrap, seed=seed)
                comparison_rows.append({**keys, "measure": measure, **result})
            result = paired.paired_binary(*aligned(questions, key, name, UNSTEERED, "garbled", bool), n_resamples=n_bootstrap, seed=seed)
            k = int(round(result["rate"] * result["n"]))
            garble_rows.append({**keys, "garbled_k": k, **result,
                                **dict(zip(["rate_ci_low", "rate_ci_high"], stats.wilson(k, result["n"])[1:]))})
    return pd.DataFrame(comparison_rows), pd.DataFrame(garble_rows)


def own_axis(comparisons: pd.DataFrame) -> pd.DataFrame:
    """Each condition's change in its own axis's measure, signed so that positive = more of the style."""
    own = comparisons[comparisons["measure"] == "m_" + comparisons["axis"]].copy()
    own["sign"] = own["axis"].map(stylemetrics.DIRECTION)
    for column in ("difference", "low", "high"):
        own[f"directed_{column}"] = own[column] * own["sign"] + 0.0  # + 0.0 turns -0.0 into 0.0
    own[["directed_low", "directed_high"]] = np.sort(own[["directed_low", "directed_high"]].to_numpy(), axis=1)
    return own


def endings(questions: pd.DataFrame, names: list[str]) -> pd.DataFrame:
    """How the answers of each condition in `names` ended: the share cut by the token limit (a length measured on a cut
    answer is a lower bound) and the share ended in a loop (lib/style_runs); the rest ended at end-of-sequence."""
    return stats.rate_table(questions[questions["condition"].isin(names)], ["model", "condition"], ["hit_cap", "ended_in_loop"])


def ending_share(table: pd.DataFrame, metric: str) -> pd.Series:
    """`endings`' rate of `metric` ("hit_cap" or "ended_in_loop") by (model, condition)."""
    return table[table["metric"] == metric].set_index(["model", "condition"])["rate"]


def uncapped(capped: pd.Series, key: str, conditions, max_share: float, gen_tokens: int) -> tuple[bool, str]:
    """The precondition of a length claim: fewer than `max_share` of each condition's answers were cut by the limit."""
    shares = {c: float(capped[(key, c)]) for c in conditions}
    text = ", ".join(f"{c} {v:.0%}" for c, v in shares.items())
    return all(v < max_share for v in shares.values()), f"answers cut by the {gen_tokens}-token limit: {text}"


def lens_bleed(answers: pd.DataFrame, model_keys: list[str], kinds: list[str], n_bootstrap: int, seed: int) -> pd.DataFrame:
    """The change in total lens hits per 100 words, steered minus unsteered on the same item, for the conditions of
    `kinds`; pooled over questions and probes and per group, Holm-adjusted across a model's conditions per group."""
    rows = []
    for key in model_keys:
        for group, frame in (("pooled", answers), ("questions", answers[answers["item_kind"] == "question"]),
                             ("probes", answers[answers["item_kind"] == "probe"])):
            part = frame[frame["model"] == key]
            for name, cond in part[part["kind"].isin(kinds)].groupby("condition", sort=False):
                result = paired.paired_continuous(*aligned(part, key, name, UNSTEERED, "lens_total"), n_resamples=n_bootstrap, seed=seed)
                rows.append({"model": key, "group": group, "condition": name, "axis": cond["axis"].iloc[0], "kind": cond["kind"].iloc[0], **result})
    bleed = pd.DataFrame(rows)
    bleed["p_holm"] = np.nan
    for _, part in bleed.groupby(["model", "group"]):
        bleed.loc[part.index, "p_holm"] = multipletests(part["p_wilcoxon"], method="holm")[1]
    return bleed


def bleed_claim(bleed: pd.DataFrame, key: str, claim_prefix: str, settings: str) -> artifacts.Claim:
    """Seed 000's lens eval premise, on steered text: the largest pooled change in total lens hits under the settings
    `bleed` holds (the conditions of one notebook), reproduced where its interval lies above 0."""
    pooled = bleed[(bleed["model"] == key) & (bleed["group"] == "pooled")]
    top = pooled.sort_values("difference", ascending=False).iloc[0]
    return artifacts.Claim.tested(
        f"{claim_prefix}-{key}", "000", f"Style steering bleeds into topic lenses on neutral prompts ({key}, {settings})",
        "the lens eval's premise (never measured on steered text)", top["difference"], int(top["n"]), top["low"], top["high"],
        artifacts.Rule.above(0.0), note=f"value = largest change in total lens hits per 100 words ({top['condition']}, Holm p = "
                                        f"{top['p_holm']:.3g} over {len(pooled)} conditions); unsteered total {top['reference_mean']:.2f}")


def lens_means(answers: pd.DataFrame, kinds: list[str], n_test: int, lenses: list[str]) -> pd.DataFrame:
    """Mean hits per 100 words of each lens, per model and condition of `kinds`, on the items every such condition
    answered (the first n_test questions and the probes)."""
    common = answers[(answers["item_kind"] == "probe") | (answers["item"] < n_test)]
    heat = common[common["kind"].isin(kinds)].groupby(["model", "condition"], sort=False)[[f"lens_{l}" for l in lenses]].mean()
    heat.columns = lenses
    return heat


def alpha_fraction_of(answers: pd.DataFrame, key: str, name: str) -> float:
    """The α of condition `name` on model `key` as a fraction of the residual norm at its layer."""
    return float(answers[(answers["model"] == key) & (answers["condition"] == name)]["alpha_fraction"].iloc[0])
