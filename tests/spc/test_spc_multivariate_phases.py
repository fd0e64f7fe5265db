"""Hotelling T-squared and phase I / phase II workflows."""

import numpy as np
import pytest
from scipy import stats

from spc import (
    SPCInputError,
    hotelling_t2,
    p_chart,
    phase_one,
    t2_phase1_ucl,
    t2_phase2_ucl,
    xbar_r,
)


def test_ryan_subgroups_match_qcc_mqcc_example(spc_data) -> None:
    # qcc `mqcc(RyanMultivar, type = "T2")` (data: Ryan, Statistical Methods for Quality
    # Improvement, 3rd ed., Table 9.2; 20 subgroups of 4, p = 2): center 60.375 18.4875,
    # covariance [[222.0333, 103.1167], [103.1167, 56.57917]], |S| = 1929.414, phase I
    # limits LCL 0, UCL 11.03976 at confidence (1 - 0.0027)^2.  With these estimates subgroups
    # 10 (T2 = 63.76) and 20 (T2 = 13.04) plot above the UCL.
    d = spc_data("RyanMultivar")
    result = hotelling_t2(d[["X1", "X2"]], d["sample"], alpha=1 - (1 - 0.0027) ** 2)
    limits = result.limits
    assert np.round(limits.mean, 4).tolist() == [60.375, 18.4875]
    assert np.round(limits.covariance, 4).tolist() == [[222.0333, 103.1167], [103.1167, 56.5792]]
    assert round(float(np.linalg.det(limits.covariance)), 3) == 1929.414
    assert round(result["t2"].ucl[0], 5) == 11.03976
    assert [v.index + 1 for v in result["t2"].violations] == [10, 20]
    assert np.round(result["t2"].values[[9, 19]], 2).tolist() == [63.76, 13.04]


def test_individual_t2_values_sum_to_m_minus_one_times_p(spc_data) -> None:
    # Identity: sum_i (x_i - xbar)' S^-1 (x_i - xbar) = (m - 1) p for the sample covariance S
    # (Mason & Young boiler data, m = 25 observations of p = 8 temperatures).
    d = spc_data("boiler")
    result = hotelling_t2(d.filter(like="t"))
    assert result["t2"].values.sum() == pytest.approx(24 * 8)


def test_phase_one_individual_limit_is_a_scaled_beta_quantile() -> None:
    # Tracy, Young & Mason (1992): UCL = (m-1)^2/m * Beta(1-alpha; p/2, (m-p-1)/2).
    ucl = t2_phase1_ucl(25, 8, 1, 0.001)
    assert ucl == pytest.approx(24**2 / 25 * stats.beta.ppf(0.999, 4, 8))


def test_phase_two_limit_approaches_chi_square_for_a_long_reference() -> None:
    # As m grows the estimates become the true parameters: T2 ~ chi2(p).
    assert t2_phase2_ucl(100_000, 3, 1, 0.0027) == pytest.approx(
        stats.chi2.ppf(0.9973, 3), rel=1e-3
    )
    assert t2_phase2_ucl(100_000, 3, 5, 0.0027) == pytest.approx(
        stats.chi2.ppf(0.9973, 3), rel=1e-3
    )


def test_points_after_the_reference_use_the_phase_two_limit(spc_data) -> None:
    d = spc_data("boiler")
    chart = hotelling_t2(d.filter(like="t"), reference=20)["t2"]
    assert np.allclose(chart.ucl[:20], t2_phase1_ucl(20, 8))
    assert np.allclose(chart.ucl[20:], t2_phase2_ucl(20, 8))


def test_t2_needs_two_variables() -> None:
    with pytest.raises(SPCInputError, match="at least 2 variables"):
        hotelling_t2(np.arange(10.0).reshape(-1, 1))


def test_iterative_phase_one_reproduces_montgomery_revised_p_limits(spc_data) -> None:
    # Montgomery Example 7.1: dropping samples 15 and 23 (assignable causes) gives revised
    # p-bar = 0.2150, UCL = 0.3893, LCL = 0.0407.
    d = spc_data("orangejuice")
    result = phase_one(p_chart, d.value, d["size"], d["sample"], reference=30, max_iterations=1)
    assert result.removed == (15, 23)
    p = result.charts["p"]
    assert (round(p.center[0], 4), round(p.ucl[0], 4), round(p.lcl[0], 4)) == (
        0.2150,
        0.3893,
        0.0407,
    )


def test_iteration_stops_when_the_reference_is_in_control(spc_data) -> None:
    d = spc_data("orangejuice")
    result = phase_one(p_chart, d.value, d["size"], d["sample"], reference=30)
    final = result.charts["p"]
    inside = result.reference
    assert not final.beyond_limits[inside].any()


def test_frozen_limits_apply_unchanged_to_new_data(spc_data) -> None:
    d = spc_data("pistonrings_phase1_phase2")
    phase1 = xbar_r(d.value[:125], d.subgroup[:125])
    later = xbar_r(d.value[125:], d.subgroup[125:], limits=phase1.limits)
    assert later["xbar"].ucl[0] == phase1["xbar"].ucl[0]
    assert later.sigma == phase1.sigma
