"""X-bar/R, X-bar/S and I-MR charts against Montgomery's piston-ring example and qcc."""

import numpy as np
import pytest

from spc import SPCInputError, c4, imr, xbar_r, xbar_s


def test_pistonring_xbar_r_limits_match_montgomery_example_6_1(spc_data) -> None:
    # Montgomery, Intro to SQC 7th ed., Example 6.1: grand mean 74.001, R-bar 0.023,
    # X-bar limits 74.014 / 73.988.  qcc (Scrucca 2004, J. Stat. Softw. 11(1), Fig. 1) on the
    # same data prints center 74.00118, StdDev 0.009785, LCL 73.98805, UCL 74.01430.
    d = spc_data("pistonrings_phase1")
    result = xbar_r(d.value, d.subgroup)
    xbar, r = result["xbar"], result["r"]
    assert round(xbar.center[0], 3) == 74.001
    assert round(r.center[0], 3) == 0.023
    assert round(xbar.ucl[0], 3) == 74.014
    assert round(xbar.lcl[0], 3) == 73.988
    assert round(xbar.ucl[0], 5) == 74.01430
    assert round(xbar.lcl[0], 5) == 73.98805
    assert round(result.sigma, 6) == 0.009785
    assert result.sigma_method == "rbar/d2"


def test_pistonring_r_chart_upper_limit_is_d4_times_rbar(spc_data) -> None:
    # Montgomery Example 6.1: UCL_R = D4 R-bar with D4 = 2.114 (Table VI, 3 decimals; the exact
    # factor is 2.1145), LCL_R = D3 R-bar = 0 for n = 5.
    d = spc_data("pistonrings_phase1")
    r = xbar_r(d.value, d.subgroup)["r"]
    assert abs(r.ucl[0] / r.center[0] - 2.114) < 1e-3
    assert r.lcl[0] == 0.0


def test_pistonring_phase_two_signals_at_samples_37_to_39(spc_data) -> None:
    # Montgomery Example 6.1 continued (Table 6.4, Fig. 6.5): with the trial limits from the
    # first 25 samples, samples 37, 38 and 39 plot above the X-bar UCL.
    d = spc_data("pistonrings_phase1_phase2")
    xbar = xbar_r(d.value, d.subgroup, reference=25)["xbar"]
    beyond = [v.index + 1 for v in xbar.violations if v.code == "nelson1"]
    assert beyond == [37, 38, 39]


def test_pistonring_xbar_s_limits_match_montgomery_example_6_3(spc_data) -> None:
    # Montgomery Example 6.3: X-bar limits 74.014 / 73.988 with A3 = 1.427; S chart
    # UCL = B4 s-bar with B4 = 2.089, LCL = 0.
    d = spc_data("pistonrings_phase1")
    result = xbar_s(d.value, d.subgroup)
    xbar, s = result["xbar"], result["s"]
    assert round(xbar.ucl[0], 3) == 74.014
    assert round(xbar.lcl[0], 3) == 73.988
    assert xbar.ucl[0] - xbar.center[0] == pytest.approx(1.427 * s.center[0], rel=5e-4)
    assert s.ucl[0] == pytest.approx(2.089 * s.center[0], rel=5e-4)
    assert s.lcl[0] == 0.0
    assert result.sigma == pytest.approx(s.center[0] / c4(5))


def test_variable_subgroup_sizes_give_wider_limits_for_smaller_subgroups(spc_data) -> None:
    # Montgomery §6.3.2 (Example 6.4): limits per subgroup, x-bar +/- 3 sigma / sqrt(n_i).
    d = spc_data("pistonrings_varn_phase1_phase2")
    result = xbar_s(d.value, d.subgroup, reference=25)
    xbar = result["xbar"]
    sizes = d.groupby("subgroup", sort=False).size().to_numpy()
    half = xbar.ucl - xbar.center
    assert np.allclose(half, 3.0 * result.sigma / np.sqrt(sizes))
    assert result.sigma_method == "weighted sbar/c4"


def test_weighted_sigma_follows_astm_e2587_weights(spc_data) -> None:
    # ASTM E2587 eq. for unequal n: sigma = sum(h_i s_i / c4_i) / sum(h_i), h_i = c4^2/(1-c4^2).
    d = spc_data("pistonrings_varn_phase1_phase2")
    first25 = d[d.subgroup <= 25]
    groups = first25.groupby("subgroup").value
    s_i, n_i = groups.std(ddof=1).to_numpy(), groups.size().to_numpy()
    c = c4(n_i)
    h = c**2 / (1 - c**2)
    expected = np.sum(h * s_i / c) / np.sum(h)
    assert xbar_s(d.value, d.subgroup, reference=25).sigma == pytest.approx(expected, rel=1e-12)


def test_wide_matrix_and_long_labels_give_the_same_chart(spc_data) -> None:
    d = spc_data("pistonrings_phase1")
    wide = d.pivot(index="subgroup", columns="obs", values="value").to_numpy()
    long_form = xbar_r(d.value, d.subgroup)
    matrix_form = xbar_r(wide)
    assert np.allclose(long_form["xbar"].values, matrix_form["xbar"].values)
    assert long_form.sigma == pytest.approx(matrix_form.sigma)


def test_imr_limits_use_mrbar_over_d2_and_d4_of_two() -> None:
    # Montgomery §6.4 eq. 6.33: sigma = MR-bar / 1.128, MR UCL = D4(2) MR-bar = 3.267 MR-bar.
    x = np.array([10.0, 12.0, 11.0, 15.0, 13.0, 12.0])
    result = imr(x)
    mr_bar = np.mean(np.abs(np.diff(x)))
    assert result.sigma == pytest.approx(mr_bar / 1.128, rel=5e-4)
    assert round(result["mr"].ucl[0] / mr_bar, 3) == 3.267
    assert result["i"].ucl[0] == pytest.approx(x.mean() + 3 * mr_bar / 1.128, rel=5e-4)
    assert len(result["mr"].values) == x.size - 1


def test_xbar_limits_are_symmetric_about_the_center(spc_data) -> None:
    d = spc_data("pistonrings_phase1")
    xbar = xbar_r(d.value, d.subgroup)["xbar"]
    assert np.allclose(xbar.ucl - xbar.center, xbar.center - xbar.lcl)


def test_subgroup_of_one_is_rejected_for_xbar_r() -> None:
    with pytest.raises(SPCInputError, match="Subgroup 3 has 1 observation"):
        xbar_r([1.0, 2.0, 3.0, 4.0, 5.0], [1, 1, 2, 2, 3])


def test_fewer_than_two_subgroups_is_rejected() -> None:
    with pytest.raises(SPCInputError, match="At least 2 subgroups"):
        xbar_r([1.0, 2.0, 3.0], [1, 1, 1])


def test_non_numeric_value_is_reported_with_its_position() -> None:
    with pytest.raises(SPCInputError, match="non-numeric value 'abc' at position 3"):
        imr(["1.0", "2.0", "abc", "4"])


def test_nan_is_rejected_rather_than_silently_used() -> None:
    with pytest.raises(SPCInputError, match="missing value"):
        imr([1.0, np.nan, 3.0])
