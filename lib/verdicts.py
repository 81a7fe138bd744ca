"""Decision rules for the claims ledger: each claim's rule is fixed in its notebook before the run, and the verdict
follows from the rule and the interval alone, so no notebook can word a verdict its data do not carry.

Four verdicts. A claim that an effect exists (`Rule.above` / `Rule.below`: the seed's value lies on one side of a
null or a threshold) is *reproduced* where the 95 % interval excludes the null on the seed's side, *not reproduced*
where it excludes the seed's effect (its value when the seed gives one on this scale, else every value on the seed's
side), and *inconclusive* otherwise. A claim of no effect or of preservation (`Rule.within`) is reproduced where the
interval lies inside null ± margin (two one-sided tests at 5 %, TOST), not reproduced where it excludes the null; a
claim of a value in a range (`Rule.between`: "about 8 %") likewise. A claim whose precondition fails is *not testable
here*, with no value.

The smallest effect a claim's data could detect (80 % power, two-sided 5 %) and the power against the seed's effect
come from the interval's width, read as a normal interval: SE = width / (2 z₀.₉₇₅).

>>> rule = Rule.above(0.0, seed_effect=0.23)
>>> rule.verdict(0.05, 0.30), rule.verdict(-0.20, 0.10), rule.verdict(-0.05, 0.30)
('reproduced', 'not reproduced', 'inconclusive')
>>> Rule.within(0.15).verdict(-0.05, 0.10), Rule.within(0.15).verdict(0.02, 0.30), Rule.within(0.15).verdict(-0.1, 0.3)
('reproduced', 'not reproduced', 'inconclusive')
>>> Rule.between(0.30, 0.51).verdict(0.35, 0.45), Rule.between(0.30, 0.51).verdict(0.6, 0.7)
('reproduced', 'not reproduced')
>>> round(minimum_detectable_effect(-0.1, 0.1), 3)
0.143
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist  # the standard library's: the runner's status check imports this module

from .errors import WorkbookError

REPRODUCED, NOT_REPRODUCED, INCONCLUSIVE, NOT_TESTABLE = "reproduced", "not reproduced", "inconclusive", "not testable here"
VERDICTS = (REPRODUCED, NOT_REPRODUCED, INCONCLUSIVE, NOT_TESTABLE)
ALPHA, POWER = 0.05, 0.8
_NORMAL = NormalDist()
_Z = _NORMAL.inv_cdf(1 - ALPHA / 2)


@dataclass(frozen=True)
class Rule:
    """A claim's decision rule. "above" / "below": the seed's effect lies on that side of `null` (`seed_effect`, its
    value on this claim's scale, when it gives one). "between": the seed's claim is a value inside [lower, upper]
    (no effect within a margin, "about 8 %", "30-51 %"); not reproduced where the interval excludes `seed_effect`
    when there is one, else where it misses [lower, upper] altogether."""

    kind: str
    null: float = 0.0
    seed_effect: float | None = None
    lower: float | None = None
    upper: float | None = None

    def __post_init__(self):
        if self.kind not in ("above", "below", "between"):
            raise WorkbookError(f"Rule kind {self.kind!r} is not one of 'above', 'below', 'between'.")
        if (self.kind == "between") != (self.lower is not None or self.upper is not None):
            raise WorkbookError("A 'between' rule needs a bound, and only it: use Rule.between, Rule.within or Rule.at_least.")
        if self.kind == "between" and not self._bounds()[0] <= self._bounds()[1]:
            raise WorkbookError(f"Rule bounds [{self.lower}, {self.upper}] are reversed: give the lower bound first.")
        if self.seed_effect is not None and self.kind != "between" and not self._on_seed_side(self.seed_effect):
            raise WorkbookError(f"The seed's effect {self.seed_effect} is not {self.kind} the null {self.null}: fix the rule.")

    @classmethod
    def above(cls, null: float = 0.0, seed_effect: float | None = None) -> "Rule":
        """The seed's effect is above `null` (at `seed_effect` when it gives one on this scale)."""
        return cls("above", null, seed_effect)

    @classmethod
    def below(cls, null: float = 0.0, seed_effect: float | None = None) -> "Rule":
        return cls("below", null, seed_effect)

    @classmethod
    def within(cls, margin: float, null: float = 0.0) -> "Rule":
        """No effect: equivalence to `null` within ± `margin` (TOST at 5 %); an interval excluding `null` refutes it."""
        return cls("between", null, null, null - margin, null + margin)

    @classmethod
    def between(cls, lower: float, upper: float, seed_effect: float | None = None) -> "Rule":
        return cls("between", seed_effect if seed_effect is not None else (lower + upper) / 2, seed_effect, lower, upper)

    @classmethod
    def at_least(cls, bound: float) -> "Rule":
        """Non-inferiority: the claim holds where the interval lies at or above `bound`, fails where it lies below."""
        return cls("between", bound, None, bound, None)

    def _bounds(self) -> tuple[float, float]:
        """[lower, upper] of a 'between' rule, a missing bound unbounded."""
        return (-math.inf if self.lower is None else self.lower, math.inf if self.upper is None else self.upper)

    def _on_seed_side(self, x: float) -> bool:
        return x > self.null if self.kind == "above" else x < self.null

    def verdict(self, low: float, high: float) -> str:
        """The verdict the 95 % interval [low, high] carries under this rule."""
        if self.kind == "between":
            lower, upper = self._bounds()
            if lower <= low and high <= upper:
                return REPRODUCED
            if self.seed_effect is not None:
                excluded = not low <= self.seed_effect <= high
            else:
                excluded = high < lower or low > upper
            return NOT_REPRODUCED if excluded else INCONCLUSIVE
        if self._on_seed_side(low if self.kind == "above" else high):
            return REPRODUCED
        if self.seed_effect is None:  # the seed's effect: every value on its side of the null
            excluded = high <= self.null if self.kind == "above" else low >= self.null
        else:
            excluded = not low <= self.seed_effect <= high
        return NOT_REPRODUCED if excluded else INCONCLUSIVE

    def text(self) -> str:
        """The rule in words, for the ledger."""
        if self.kind == "between":
            refuted = f"excludes {self.seed_effect:g}" if self.seed_effect is not None else "misses that range"
            where = (f"at or above {self.lower:g}" if self.upper is None else f"at or below {self.upper:g}" if self.lower is None
                     else f"within [{self.lower:g}, {self.upper:g}]")
            return f"reproduced if the 95 % CI lies {where}; not reproduced if it {refuted}"
        side = ">" if self.kind == "above" else "<"
        seed = f"the seed's {self.seed_effect:g}" if self.seed_effect is not None else f"every value {side} {self.null:g}"
        return f"reproduced if the 95 % CI lies {side} {self.null:g}; not reproduced if it excludes {seed}"


def standard_error(low: float, high: float) -> float:
    return float((high - low) / (2 * _Z))


def minimum_detectable_effect(low: float, high: float) -> float:
    """The smallest distance from the null this interval's data detect with 80 % power (two-sided 5 %)."""
    return float((_Z + _NORMAL.inv_cdf(POWER)) * standard_error(low, high))


def power_against(rule: Rule, low: float, high: float) -> float | None:
    """The power of this claim's data to detect the seed's effect (None when the seed gives no value on this scale)."""
    if rule.seed_effect is None or rule.kind == "between":
        return None
    se = standard_error(low, high)
    if se == 0:
        return 1.0
    return float(_NORMAL.cdf(abs(rule.seed_effect - rule.null) / se - _Z))


def check_verdict(claim_id: str, verdict: str, value, n: int, low, high, rule: Rule | None, precondition_held: bool) -> None:
    """Reject a ledger record that breaks the rules: a verdict its interval does not carry, a tested claim whose
    precondition failed, a value or n on a claim that was not tested, a value outside its interval."""
    numbers = (value, low, high)
    if verdict not in VERDICTS:
        raise WorkbookError(f"Verdict {verdict!r} of claim {claim_id} is not one of {', '.join(VERDICTS)}.")
    if verdict == NOT_TESTABLE:
        if n or any(x is not None and not (isinstance(x, float) and math.isnan(x)) for x in numbers):
            raise WorkbookError(f"Claim {claim_id} is not testable here but carries a value or n: "
                                "build it with Claim.not_testable, which leaves them empty.")
        return
    if not precondition_held:
        raise WorkbookError(f"Claim {claim_id} has verdict {verdict!r} although its precondition failed: "
                            "it is not testable here (Claim.not_testable).")
    if rule is None:
        raise WorkbookError(f"Claim {claim_id} has a verdict but no decision rule: build it with Claim.tested.")
    if not all(isinstance(x, (int, float)) and math.isfinite(x) for x in numbers) or n <= 0:
        raise WorkbookError(f"Claim {claim_id} needs a finite value, interval and n > 0 for a verdict: when its "
                            "precondition fails, build it with Claim.not_testable.")
    if not low - 1e-9 <= value <= high + 1e-9:
        raise WorkbookError(f"Claim {claim_id}: value {value} lies outside its interval [{low}, {high}].")
    if verdict != rule.verdict(low, high):
        raise WorkbookError(f"Claim {claim_id} says {verdict!r} but its rule ({rule.text()}) gives "
                            f"{rule.verdict(low, high)!r} on [{low:.3g}, {high:.3g}].")
