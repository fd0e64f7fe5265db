"""Shewhart ARLs in closed form, and run-rule ARLs by simulation, against published figures."""

import pytest

from spc import SPCInputError
from spc.arl import design_shewhart, rules_arl, shewhart_arl


def test_in_control_arl_of_three_sigma_limits_is_370() -> None:
    # Montgomery, Intro to SQC 8th ed., §6.2.6: ARL0 = 1 / 0.0027 = 370.4 for 3-sigma limits.
    assert shewhart_arl(3.0) == pytest.approx(370.4, abs=0.05)


def test_individuals_chart_detects_a_one_sigma_shift_in_44_points() -> None:
    # Montgomery 8th ed. §6.4: ARL1 = 43.9 for a 1-sigma shift on an individuals chart
    # (p = Phi(-4) + 1 - Phi(2) = 0.02278).
    assert round(shewhart_arl(3.0, 1.0), 1) == 43.9


def test_xbar_chart_moves_a_point_by_the_shift_times_root_n() -> None:
    # Montgomery 8th ed. eq. (6.19), n = 5, k = 1: beta = Phi(3 - sqrt 5) - Phi(-3 - sqrt 5)
    # = 0.7775, so ARL1 = 1 / (1 - beta) = 4.50.
    assert round(shewhart_arl(3.0, 1.0, n=5), 2) == 4.50
    assert shewhart_arl(3.0, 1.0, n=5) == pytest.approx(shewhart_arl(3.0, 5**0.5))


def test_design_shewhart_solves_the_width_of_a_target_arl() -> None:
    assert design_shewhart(370.398).limit == pytest.approx(3.0, abs=1e-4)
    design = design_shewhart(20_000.0, n=4, shifts=(1.0,))
    assert design.arl0 == pytest.approx(20_000.0)
    assert design.arl[0] == pytest.approx(shewhart_arl(design.limit, 1.0, 4))


def test_design_shewhart_refuses_an_arl_of_one_or_less() -> None:
    with pytest.raises(SPCInputError):
        design_shewhart(1.0)


# Champ & Woodall (1987), Technometrics 29(4) 393-399, Table 1 (exact, Markov chain): the
# in-control ARL of a 3-sigma Shewhart chart with Western Electric rules, C1 beyond 3 sigma,
# C2 2 of 3 beyond 2 sigma, C3 4 of 5 beyond 1 sigma, C4 8 in a row on one side.
CHAMP_WOODALL = {
    ("we1", "we2"): 225.44,
    ("we1", "we3"): 166.05,
    ("we1", "we4"): 152.73,
    ("we1", "we2", "we3", "we4"): 91.75,
}


@pytest.mark.parametrize(("rules", "published"), list(CHAMP_WOODALL.items()))
def test_rules_arl_agrees_with_champ_and_woodall(rules: tuple[str, ...], published: float) -> None:
    estimate = rules_arl(rules)
    assert abs(estimate.arl - published) < 3.0 * estimate.standard_error, estimate


def test_rules_arl_of_the_limit_rule_alone_is_the_closed_form() -> None:
    estimate = rules_arl(["nelson1"], L=3.5, runs=5_000)
    assert abs(estimate.arl - shewhart_arl(3.5)) < 3.0 * estimate.standard_error


def test_rules_arl_is_reproducible_from_its_seed() -> None:
    assert rules_arl("we", runs=2_000, seed=5) == rules_arl("we", runs=2_000, seed=5)


def test_rules_arl_refuses_a_chart_without_rules() -> None:
    with pytest.raises(SPCInputError):
        rules_arl("none")
