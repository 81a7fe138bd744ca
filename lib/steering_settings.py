"""The steering settings the notebooks chose, rebuilt as {layer: vector} edits ready to apply or to export.

    04 refusal   `refusal_setting(key, method)`: 01's direction at 04's chosen layer and α (chosen.csv `method`),
                 α times the unit direction, at that layer or, for the seed's fixed-α row, at every layer from it on
    07 style     `style_setting(key, axis)`: 01's all-position mean (ActAdd) vector of the axis at 07's chosen layer,
                 scaled to 07's chosen fraction of the residual norm 07 measured at that layer
    07 splits    `style_test_questions()`: 07's held-out test questions, in its order

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

from . import directions, handoffs
from .errors import WorkbookError

STYLE = "07_style_steering"


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


def style_setting(key: str, axis: str = "terse") -> Setting:
    """07's chosen layer and α for `axis` on `key`, applied to 01's all-position mean vector (07's "chosen" condition)."""
    row = _row(pd.read_csv(handoffs._source(STYLE, "chosen.csv")), "07's chosen.csv", model=key, axis=axis)
    norms = pd.read_csv(handoffs._source(STYLE, "norm_profile.csv"))
    layer, fraction = int(row["layer"]), float(row["alpha_fraction"])
    size = fraction * float(_row(norms, "07's norm_profile.csv", model=key, layer=layer)["rest"])
    style, _ = handoffs.load_style_vectors(key)
    vector = size * directions.unit(style[f"{axis}/mean_all"][layer].float())
    return Setting(key, f"{axis} chosen", {layer: vector}, layer, size, fraction,
                   f"07 chosen.csv axis={axis}: 01's all-position mean, {fraction:g} of 07's residual norm")


def style_test_questions() -> list[str]:
    """07's held-out test questions, in the order 07 asked them."""
    return json.loads(handoffs._source(STYLE, "splits.json").read_text())["test"]
