"""lib.verdicts: each rule's four outcomes, the rules the ledger writer enforces, and the power figures."""
from __future__ import annotations

import math

import pytest

from lib.errors import WorkbookError
from lib.verdicts import Rule, check_verdict, minimum_detectable_effect, power_against


@pytest.mark.parametrize("rule, low, high, verdict", [
    (Rule.above(0.0), 0.01, 0.3, "reproduced"),
    (Rule.above(0.0), -0.3, -0.01, "not reproduced"),  # no seed value: the interval excludes every positive effect
    (Rule.above(0.0), -0.1, 0.1, "inconclusive"),
    (Rule.above(0.0, seed_effect=0.5), -0.1, 0.2, "not reproduced"),  # excludes the seed's 0.5
    (Rule.above(0.0, seed_effect=0.5), -0.1, 0.6, "inconclusive"),
    (Rule.above(0.0, seed_effect=0.5), 0.05, 0.2, "reproduced"),  # an effect, smaller than the seed's
    (Rule.below(0.4), 0.1, 0.3, "reproduced"),
    (Rule.below(0.4), 0.45, 0.6, "not reproduced"),
    (Rule.within(0.15), -0.1, 0.1, "reproduced"),
    (Rule.within(0.15), 0.05, 0.4, "not reproduced"),  # excludes no change
    (Rule.within(0.15), -0.1, 0.4, "inconclusive"),  # underpowered: neither equivalent nor different
    (Rule.between(0.04, 0.16, seed_effect=0.08), 0.05, 0.12, "reproduced"),
    (Rule.between(0.04, 0.16, seed_effect=0.08), 0.10, 0.20, "not reproduced"),
    (Rule.between(0.30, 0.51), 0.2, 0.4, "inconclusive"),
    (Rule.between(0.30, 0.51), 0.6, 0.7, "not reproduced"),
])
def test_each_rule_gives_the_verdict_its_interval_carries(rule, low, high, verdict):
    assert rule.verdict(low, high) == verdict


def test_a_vacuous_zero_against_zero_is_not_reproduced_only_because_the_interval_is_degenerate():
    # 0 of n against 0 of n: the paired difference's interval is [0, 0]; it shows no positive effect
    assert Rule.above(0.0).verdict(0.0, 0.0) == "not reproduced"
    assert Rule.within(0.1).verdict(0.0, 0.0) == "reproduced"


def test_malformed_rules_are_refused():
    with pytest.raises(WorkbookError, match="not above the null"):
        Rule.above(0.0, seed_effect=-0.2)
    with pytest.raises(WorkbookError, match="reversed"):
        Rule.between(0.5, 0.3)
    with pytest.raises(WorkbookError, match="not one of"):
        Rule("sideways")


def test_the_ledger_rules():
    rule = Rule.above(0.0)
    check_verdict("ok", "reproduced", 0.2, 30, 0.1, 0.3, rule, True)
    check_verdict("untested", "not testable here", math.nan, 0, math.nan, math.nan, None, False)
    for args, message in [
        (("a", "reproduced", 0.2, 30, 0.1, 0.3, rule, False), "precondition failed"),
        (("b", "reproduced", 0.2, 30, 0.1, 0.3, None, True), "no decision rule"),
        (("c", "not reproduced", 0.2, 30, 0.1, 0.3, rule, True), "gives 'reproduced'"),
        (("d", "reproduced", 0.5, 30, 0.1, 0.3, rule, True), "outside its interval"),
        (("e", "not testable here", 0.0, 1, 0.0, 0.0, None, False), "carries a value"),  # a placeholder value
        (("f", "probably", 0.2, 30, 0.1, 0.3, rule, True), "not one of"),
    ]:
        with pytest.raises(WorkbookError, match=message):
            check_verdict(*args)


def test_detectable_effect_and_power_follow_the_interval_width():
    # a normal interval ±0.1 has SE 0.051: 80 % power at (1.96 + 0.84) SE
    assert minimum_detectable_effect(-0.1, 0.1) == pytest.approx(0.143, abs=1e-3)
    assert minimum_detectable_effect(-0.2, 0.2) == pytest.approx(2 * minimum_detectable_effect(-0.1, 0.1))
    rule = Rule.above(0.0, seed_effect=0.143)
    assert power_against(rule, -0.1, 0.1) == pytest.approx(0.8, abs=0.01)
    assert power_against(Rule.above(0.0), -0.1, 0.1) is None  # no seed value on this scale


def test_non_inferiority_has_one_bound_and_stays_json_safe():
    rule = Rule.at_least(-0.5)
    assert (rule.verdict(-0.4, 0.2), rule.verdict(-1.0, -0.6), rule.verdict(-0.7, 0.0)) == ("reproduced", "not reproduced", "inconclusive")
    assert rule.upper is None and rule.text() == "reproduced if the 95 % CI lies at or above -0.5; not reproduced if it misses that range"
