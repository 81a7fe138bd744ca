"""Figures: one seaborn look for the whole paper; each figure saved as PDF (paper) and PNG (notebook, README)."""
from __future__ import annotations

from pathlib import Path

from .artifacts import atomic_path
from .paths import figures_dir


def setup() -> None:
    import matplotlib
    import seaborn as sns

    matplotlib.rcParams["svg.hashsalt"] = "workbook"  # deterministic output
    matplotlib.rcParams["pdf.fonttype"] = 42
    sns.set_theme(context="paper", style="whitegrid", palette="colorblind", font_scale=1.1)


def error_bars(center, low, high):
    """`yerr` for matplotlib from an interval: distances below and above the center, clipped at 0
    (at a rate of 0 or 1 a Wilson bound can miss the rate by a rounding error, which matplotlib refuses)."""
    import numpy as np

    center, low, high = (np.asarray(a, dtype=float) for a in (center, low, high))
    return np.clip([center - low, high - center], 0, None)


def save_figure(fig, notebook: str, name: str) -> list[Path]:
    """Write figures/<notebook>/<name>.pdf and .png atomically; returns both paths."""
    folder = figures_dir(notebook)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for ext, kwargs in (("pdf", {"metadata": {"CreationDate": None}}), ("png", {"dpi": 150})):
        target = folder / f"{name}.{ext}"
        with atomic_path(target) as tmp:
            fig.savefig(tmp, bbox_inches="tight", **kwargs)
        paths.append(target)
    return paths
