"""Text measures for the four style axes of seed 000 (terse, formal, socratic, dry-wit).

Each measure is per answer, simple enough to audit by eye, and moves in a known direction when the
axis is steered the way its name says:
- terse: words (fewer);
- formal: informal markers per 100 words, i.e. contractions and first/second-person pronouns (fewer);
- socratic: share of sentences that are questions (more);
- dry-wit: exclamation marks and enthusiasm words per 100 words (fewer).

A word is a run of letters or digits (an apostrophe suffix stays attached), so a degenerate
"10-10-10-..." chain counts as the many words it is. `token_loop` flags the other way steered text
degenerates while looking short to a text classifier: a short token pattern repeating in place.

>>> axis_metrics("Great question! I'd say it's bread.")["dry-wit"]
33.33...
"""
from __future__ import annotations

import re

from . import textclass
from .textclass import word_count, words  # the one definition of a word; used here, in lenses and in the notebooks

_CONTRACTION = re.compile(r"\b\w+'(?:s|re|ve|ll|d|m|t)\b|\b\w+n't\b", re.IGNORECASE)
_PRONOUN = re.compile(r"\b(?:i|me|my|mine|we|us|our|ours|you|your|yours)\b", re.IGNORECASE)
_ENTHUSIASM = re.compile(
    r"\b(?:amazing|awesome|great|wonderful|fantastic|exciting|excited|love|incredible|absolutely|super|delighted|"
    r"thrilled|glad|wow|brilliant|perfect|fun)\b", re.IGNORECASE)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
AXES = ("terse", "formal", "socratic", "dry-wit")
DIRECTION = {"terse": -1, "formal": -1, "socratic": +1, "dry-wit": -1}  # sign of the change steering should cause


def token_loop(token_ids: list[int], max_n: int = 4, times: int = 4) -> bool:
    """True when some n-gram of token ids (n <= max_n) occurs `times` times in a row."""
    return any(textclass.repeats(list(token_ids), n, times) for n in range(1, max_n + 1))


def sentences(text: str) -> list[str]:
    return [s for s in _SENTENCE_END.split(text.strip()) if s.strip()]


def per_100_words(count: int, text: str) -> float:
    words = word_count(text)
    return 100.0 * count / words if words else 0.0


def informal_markers(text: str) -> float:
    """Contractions plus first/second-person pronouns, per 100 words."""
    contractions = _CONTRACTION.findall(text)
    pronouns = _PRONOUN.findall(_CONTRACTION.sub(" ", text))  # "I'd" counts once, as a contraction
    return per_100_words(len(contractions) + len(pronouns), text)


def question_share(text: str) -> float:
    parts = sentences(text)
    return sum(s.rstrip().endswith("?") for s in parts) / len(parts) if parts else 0.0


def enthusiasm(text: str) -> float:
    """Exclamation marks and enthusiasm words, per 100 words."""
    return per_100_words(text.count("!") + len(_ENTHUSIASM.findall(text)), text)


def axis_metrics(text: str) -> dict[str, float]:
    """{axis: its measure} for one answer."""
    return {"terse": float(word_count(text)), "formal": informal_markers(text), "socratic": question_share(text),
            "dry-wit": enthusiasm(text)}


_STOP = frozenset("""about above after again against because before being below between could doing during every
having other their there these those through under until where which while would should might shall your yours
whose whom what when with from into onto that this them they than then very much many more most some such only
also just like make makes made does have here were been will each both the and for are but not you all any can
had her was one our out has him his how its may new now own see two way who did get let say she too use why yes""".split())


def content_words(text: str) -> set[str]:
    """Lower-cased words of three or more letters that are not function words: what an answer is about.

    >>> sorted(content_words("Why does ice float on water?"))
    ['float', 'ice', 'water']
    """
    stems = (w.split("'")[0].split("\u2019")[0] for w in words(text.lower()))  # "bread's" -> "bread"
    return {w for w in stems if w.isalpha() and len(w) >= 3 and w not in _STOP}


def on_topic(answer: str, question: str) -> bool:
    """Whether an answer shares a content word with its question (seed 000's "content preserved", checked per answer)."""
    return bool(content_words(answer) & content_words(question))
