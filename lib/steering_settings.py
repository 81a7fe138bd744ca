"""The steering settings the notebooks chose, rebuilt as {layer: vector} edits ready to apply or to export.

    04 picks     `save_refusal_selection` / `load_refusal_selection`: 04_refusal_selection's (layer, position) per rule,
                 COSMIC's L_low, the parameter count, and why a rule picked nothing (selection_outcomes.csv), for
                 04_scaling; `refusal_candidate_vectors(key)`: 01's candidates each rule picks from
    04 refusal   `refusal_setting(key, method)`: 01's direction at 04's chosen layer and α (chosen.csv `method`),
                 α times the unit direction, at that layer or, for the seed's fixed-α row, at every layer from it on
    07 style     `style_setting(key, axis)`: 01's all-position mean (ActAdd) vector of the axis at 07's chosen layer,
                 scaled to 07's chosen fraction of the residual norm 07 measured at that layer
    07 splits    `style_test_questions()`: 07's held-out test questions, in its order

07's dev sweep hands its choice to 07_style_test (and to 08) through `save_style_choice` / `load_style_choice`
(chosen.csv, norm_profile.csv, splits.json); the readers take the files as `lib.handoffs` does.

Both are the vectors those notebooks added with `engine.add` at site block_out on every position, so applying
`engine.add_layers(setting.vectors)` repeats their condition, and `export.write_control_vector` hands the same
numbers to llama.cpp. Readers take the files from the output root when the producing notebook ran there, else
from the committed results (lib.handoffs).
"""
from __future__ import annotations

import json
from dataclasses import dataclass

import pandas as pd
import torch

from . import artifacts, directions, handoffs
from .errors import WorkbookError
from .paths import results_dir

STYLE, SELECTION = "07_style_steering", "04_refusal_selection"


@dataclass(frozen=True)
class Setting:
    """A chosen steering edit: `vectors` {layer: vector added at block_out}, where it came from, and its size."""
    model: str
    name: str
    vectors: dict[int, torch.Tensor]
    layer: int
    alpha: float
    alpha_fraction: float
    source: str

    @property
    def added_norm(self) -> float:
        return float(sum(v.norm() for v in self.vectors.values()))


def _row(frame: pd.DataFrame, what: str, **match) -> pd.Series:
    rows = frame
    for column, value in match.items():
        rows = rows[rows[column] == value]
    if rows.empty:
        raise WorkbookError(f"No chosen setting for {', '.join(f'{k}={v}' for k, v in match.items())} in {what}: "
                            "rerun that notebook with this model (make paper).")
    return rows.iloc[0]


def refusal_candidate_vectors(key: str) -> dict[str, torch.Tensor | None]:
    """01's candidates [layer, position, d] each rule picks from: Arditi's ("dim", from the train prompts his filter
    keeps; None when it keeps none), COSMIC's and the seed's sweep (every train prompt)."""
    saved, _ = handoffs.load_refusal_candidates(key)
    return {"dim": saved.get("candidates_refusal_filtered"), "cosmic": saved["candidates"], "seed": saved["candidates"]}


def save_refusal_selection(picks: dict, outcomes: pd.DataFrame) -> None:
    """04_refusal_selection's picks {model: {"dim", "cosmic": (layer, position) or None, "low_layers", "n_parameters",
    "dim_cosmic_cosine", "select_s"}} and its outcome table (each rule's pick, or why there is none)."""
    out = results_dir(SELECTION)
    artifacts.write_json(out / "picks.json", picks)
    artifacts.write_csv(out / "selection_outcomes.csv", outcomes)


def load_refusal_selection() -> tuple[dict, pd.DataFrame]:
    """(picks, outcomes) as `save_refusal_selection` wrote them, picks as (layer, position) tuples."""
    picks = json.loads(handoffs._source(SELECTION, "picks.json").read_text())
    for facts in picks.values():
        for method in ("dim", "cosmic"):
            facts[method] = None if facts[method] is None else tuple(facts[method])
    return picks, pd.read_csv(handoffs._source(SELECTION, "selection_outcomes.csv"), keep_default_na=False)


def refusal_setting(key: str, method: str = "dim_sweep") -> Setting:
    """04's chosen direction, layer and α for `method` on model `key` (05 steers with the same row)."""
    row = _row(handoffs.load_chosen_settings(), "04's chosen.csv", model=key, method=method)
    saved, _ = handoffs.load_refusal_candidates(key)
    layer, position, alpha = int(row["layer"]), int(row["position"]), float(row["alpha"])
    candidates = saved["candidates_refusal_filtered" if method == "dim" else "candidates"]
    unit = directions.unit(candidates[layer, position].float())
    layers = range(layer, int(row["n_layers"])) if bool(row["multi_layer"]) else [layer]
    return Setting(key, f"refusal {method}", {l: alpha * unit for l in layers}, layer, alpha, float(row["alpha_fraction"]),
                   f"04 chosen.csv method={method}: 01's difference in means at position {position}")


def save_style_choice(chosen: pd.DataFrame, norms: pd.DataFrame, splits: dict) -> None:
    """07's dev choice: per model and axis the layer and α fraction (chosen.csv), the residual norms α is a fraction
    of (norm_profile.csv), and the question splits {"dev", "test", "probes"} (splits.json)."""
    out = results_dir(STYLE)
    artifacts.write_csv(out / "chosen.csv", chosen)
    # every digit: 07_style_test and 08 scale their vectors by these norms, exactly as the sweep did
    artifacts.atomic_write_text(out / "norm_profile.csv", norms.to_csv(index=False, float_format="%.17g"))
    artifacts.write_json(out / "splits.json", splits)


def load_style_choice() -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """(chosen, norm profile, splits) as `save_style_choice` wrote them."""
    return (pd.read_csv(handoffs._source(STYLE, "chosen.csv")), pd.read_csv(handoffs._source(STYLE, "norm_profile.csv")),
            json.loads(handoffs._source(STYLE, "splits.json").read_text()))


def style_setting(key: str, axis: str = "terse") -> Setting:
    """07's chosen layer and α for `axis` on `key`, applied to 01's all-position mean vector (07's "chosen" condition)."""
    chosen, norms, _ = load_style_choice()
    row = _row(chosen, "07's chosen.csv", model=key, axis=axis)
    layer, fraction = int(row["layer"]), float(row["alpha_fraction"])
    size = fraction * float(_row(norms, "07's norm_profile.csv", model=key, layer=layer)["rest"])
    style, _ = handoffs.load_style_vectors(key)
    vector = size * directions.unit(style[f"{axis}/mean_all"][layer].float())
    return Setting(key, f"{axis} chosen", {layer: vector}, layer, size, fraction,
                   f"07 chosen.csv axis={axis}: 01's all-position mean, {fraction:g} of 07's residual norm")


def style_test_questions() -> list[str]:
    """07's held-out test questions, in the order 07 asked them."""
    return load_style_choice()[2]["test"]
