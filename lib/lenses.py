"""Lens "bleed": how much of a text falls into each of seed 000's twelve topic vocabularies.

Each lens is a data file (`lib/data/lenses/<lens>.json`) of case-insensitive regular expressions,
each with an example it must match. A lens's patterns are joined into one alternation, so a span of
text counts once however many patterns could match it (the seed's duplicates counted twice), and
the score is hits per word, words counted as everywhere in the paper (`stylemetrics.word_count`: "self-care" is
two). The seed's bands: < 1 % clean, 1-3 % ambient, 3-5 % captured, > 5 % full.

>>> round(lens_scores("Set boundaries and practice self-care.")["therapy_speak"], 3)
0.333
"""
from __future__ import annotations

import json
import re
from functools import lru_cache

from .errors import WorkbookError
from .paths import DATA_DIR
from .stylemetrics import word_count

LENS_DIR = DATA_DIR / "lenses"
BANDS = ((0.01, "clean"), (0.03, "ambient"), (0.05, "captured"), (float("inf"), "full"))


@lru_cache(maxsize=None)
def load_lenses() -> dict[str, dict]:
    """{lens: its data file}, every lens under lib/data/lenses."""
    lenses = {path.stem: json.loads(path.read_text()) for path in sorted(LENS_DIR.glob("*.json"))}
    if not lenses:
        raise WorkbookError(f"No lens vocabularies in {LENS_DIR}: restore lib/data/lenses from the repository.")
    return lenses


@lru_cache(maxsize=None)
def lens_regex(lens: str) -> re.Pattern:
    """The lens's patterns as one case-insensitive alternation (each span counted once)."""
    lenses = load_lenses()
    if lens not in lenses:
        raise WorkbookError(f"Unknown lens {lens!r}: use one of {', '.join(lenses)}.")
    return re.compile("|".join(f"(?:{p['pattern']})" for p in lenses[lens]["patterns"]), re.IGNORECASE)


def lens_hits(text: str, lens: str) -> int:
    return len(lens_regex(lens).findall(text))


def lens_scores(text: str) -> dict[str, float]:
    """{lens: hits per word} for every lens; 0 for an empty text."""
    words = word_count(text)
    return {lens: (lens_hits(text, lens) / words if words else 0.0) for lens in load_lenses()}


def band(score: float) -> str:
    """The seed's label for a hits-per-word score."""
    return next(label for limit, label in BANDS if score < limit)
