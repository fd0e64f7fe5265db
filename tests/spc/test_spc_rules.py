"""Western Electric and Nelson rules on the synthetic series built to trigger each rule."""

import numpy as np
import pytest

from spc import SPCInputError, find_violations, imr, rule_signals
from spc.rules import RULE_WINDOWS
from spc.streaming import RuleEvaluator


def _signal_points(values: np.ndarray, rules: str) -> dict[str, list[int]]:
    masks = rule_signals(values, 0.0, 1.0, rules)
    return {code: (np.flatnonzero(mask) + 1).tolist() for code, mask in masks.items()}


# synthetic_rules.csv (center 0, sigma 1).  Expected 1-based points, worked out from the data
# and the definitions in Nelson (1984) / Montgomery Table 5.1:
NELSON = {
    "nelson1": [5, 59],  # 3.4 and -3.2
    "nelson2": [25],  # points 17-25 all above the center line
    "nelson3": [34, 35],  # 29-34 rising (-2.0 ... 0.3), still rising at 35
    "nelson4": [49, 50],  # 36-49 alternate, still alternating at 50
    "nelson5": [10],  # 8 (2.4) and 10 (2.2) beyond 2 sigma
    "nelson6": [16],  # 12, 13, 15, 16 below -1 sigma
    "nelson7": [45, 46, 47, 48, 49, 50],  # 31-45 ... 36-50 within 1 sigma
    "nelson8": [58, 59],  # 51-58 all beyond 1 sigma, alternating sides
}
WESTERN_ELECTRIC = {"we1": [5, 59], "we2": [10], "we3": [16], "we4": [24, 25]}


@pytest.mark.parametrize("code", sorted(NELSON))
def test_each_nelson_rule_signals_where_the_pattern_completes(spc_data, code: str) -> None:
    values = spc_data("synthetic_rules").value.to_numpy()
    assert _signal_points(values, "nelson")[code] == NELSON[code]


@pytest.mark.parametrize("code", sorted(WESTERN_ELECTRIC))
def test_each_western_electric_rule_signals_where_expected(spc_data, code: str) -> None:
    values = spc_data("synthetic_rules").value.to_numpy()
    assert _signal_points(values, "we")[code] == WESTERN_ELECTRIC[code]


def test_violation_covers_the_window_of_its_pattern(spc_data) -> None:
    values = spc_data("synthetic_rules").value.to_numpy()
    nine = [v for v in find_violations(values, 0.0, 1.0, "nelson") if v.code == "nelson2"]
    assert nine[0].index == 24
    assert nine[0].indices == tuple(range(16, 25))
    assert all(len(v.indices) == RULE_WINDOWS[v.code] for v in find_violations(values, 0, 1))


def test_two_of_three_requires_the_signalling_point_beyond_two_sigma() -> None:
    # 2.5, 2.5 then 0: the third point is inside, so only the second point signals.
    assert _signal_points(np.array([2.5, 2.5, 0.0]), "we")["we2"] == [2]


def test_rules_none_reports_nothing(spc_data) -> None:
    values = spc_data("synthetic_rules").value.to_numpy()
    assert find_violations(values, 0.0, 1.0, "none") == ()


def test_chart_applies_selected_rule_set(spc_data) -> None:
    values = spc_data("synthetic_rules").value.to_numpy()
    chart = imr(values, rules="we")["i"]
    assert {v.code for v in chart.violations} <= {"we1", "we2", "we3", "we4"}


def test_unknown_rule_is_rejected() -> None:
    with pytest.raises(SPCInputError, match="Unknown run rule 'nelson9'"):
        rule_signals(np.zeros(5), 0.0, 1.0, ["nelson9"])


def test_nelson8_needs_points_on_both_sides_as_nelson_wrote_it() -> None:
    # Nelson (1984) test 8: "eight points in a row on both sides of the centerline with none
    # in zone C".  Eight points at +1.5 sigma are on one side only, so test 8 stays silent.
    one_side = np.full(8, 1.5)
    both_sides = np.array([1.5, -1.5] * 4)
    assert _signal_points(one_side, ["nelson8"])["nelson8"] == []
    assert _signal_points(both_sides, ["nelson8"])["nelson8"] == [8]


def test_streaming_nelson8_matches_the_batch_rule() -> None:
    values = np.array([1.5] * 8 + [-1.2, 1.3, 0.2] + [1.5, -1.5] * 4)
    evaluator = RuleEvaluator(["nelson8"])
    streamed = [i + 1 for i, v in enumerate(values) if evaluator.update(float(v), float(v))]
    assert streamed == _signal_points(values, ["nelson8"])["nelson8"] == [9, 10, 19]
