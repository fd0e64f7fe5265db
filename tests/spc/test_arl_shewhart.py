"""Shewhart ARLs in closed form, and run-rule ARLs by simulation, against published figures."""

import numpy as np
import pytest
from scipy import special

from spc import SPCInputError
from spc.arl import (
    design_shewhart,
    estimated_limits_rate,
    rules_arl,
    shewhart_arl,
    sigma_estimate_dof,
)


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


def test_mr_bar_sigma_has_about_cryer_and_ryans_degrees_of_freedom() -> None:
    # Cryer & Ryan (1990), J. Quality Technology 22(3): MR-bar / d2 of m individuals has
    # about 0.62 (m - 1) degrees of freedom
    assert sigma_estimate_dof(100) == pytest.approx(0.62 * 99, rel=0.03)


def test_s_bar_sigma_degrees_of_freedom_follow_from_c4() -> None:
    # Var(S-bar / c4) = sigma^2 (1 - c4^2) / (m c4^2), c4(5) = 0.9400 (Montgomery App. VI)
    assert sigma_estimate_dof(25, 5, "s") == pytest.approx(
        25 * 0.94**2 / (2 * (1 - 0.94**2)), rel=1e-3
    )


def _shewhart_rate(L: float):
    return lambda u, e: special.ndtr(-(e + L * u)) + special.ndtr(e - L * u)


def test_limits_learnt_from_a_baseline_raise_more_false_alarms_on_average() -> None:
    # Monte Carlo of the same average: 20 000 baselines of 100 individuals, limits at
    # mean +- 4.35 MR-bar / d2
    rng = np.random.default_rng(1)
    x = rng.standard_normal((20_000, 100))
    u = np.abs(np.diff(x, axis=1)).mean(axis=1) / (2 / np.sqrt(np.pi))
    e = x.mean(axis=1)
    simulated = float(np.mean(_shewhart_rate(4.35)(u, e)))
    computed = estimated_limits_rate(_shewhart_rate(4.35), 100, sigma_estimate_dof(100))
    known = 2 * special.ndtr(-4.35)
    assert computed > 3 * known
    # the chi-square law of the MR-bar estimate is a little heavier in its low tail
    assert computed == pytest.approx(simulated, rel=0.15)


def test_a_long_baseline_brings_the_average_rate_near_the_nominal_one() -> None:
    rate = estimated_limits_rate(_shewhart_rate(3.0), 10_000, sigma_estimate_dof(10_000))
    assert rate == pytest.approx(1 / 370.4, rel=0.02)
