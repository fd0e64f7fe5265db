"""Capability indices, confidence intervals, normality and ppm (Montgomery ch. 8, Bissell)."""

import numpy as np
import pytest
from scipy import stats

from spc import (
    SPCInputError,
    capability,
    capability_percentile,
    cp_confidence_interval,
    cpk_confidence_interval,
    expected_ppm,
)


def test_cp_confidence_interval_matches_montgomery_worked_example() -> None:
    # Montgomery, Intro to SQC 7th ed., §8.3.4, worked example of eq. 8.19: USL = 62,
    # LSL = 38, n = 20, s = 1.75, Cp-hat = 2.29; 95 % CI 1.57 <= Cp <= 3.01.
    low, high = cp_confidence_interval(2.29, 20, 0.95)
    assert (round(low, 2), round(high, 2)) == (1.57, 3.01)


def test_cpk_confidence_interval_matches_montgomery_worked_example() -> None:
    # Montgomery §8.3.4, worked example of eq. 8.20 (Bissell 1990): n = 20, Cpk-hat = 1.33;
    # 95 % CI 0.88 <= Cpk <= 1.78.
    low, high = cpk_confidence_interval(1.33, 20, 0.95)
    assert (round(low, 2), round(high, 2)) == (0.88, 1.78)


def test_indices_follow_their_defining_formulas() -> None:
    rng = np.random.default_rng(7)
    x = rng.normal(10.2, 0.5, 400)
    result = capability(x, lsl=8.0, usl=12.0, target=10.0)
    sw = np.mean(np.abs(np.diff(x))) / 1.1283791670955126
    so = np.std(x, ddof=1)
    m = np.mean(x)
    assert result.cp == pytest.approx(4.0 / (6 * sw))
    assert result.cpu == pytest.approx((12.0 - m) / (3 * sw))
    assert result.cpl == pytest.approx((m - 8.0) / (3 * sw))
    assert result.cpk == pytest.approx(min(result.cpu, result.cpl))
    assert result.pp == pytest.approx(4.0 / (6 * so))
    # Cpm on the within sigma (Montgomery §8.2.3, qcc); the overall-sigma variant is Ppm.
    assert result.cpm == pytest.approx(4.0 / (6 * np.sqrt(sw**2 + (m - 10.0) ** 2)))
    assert result.ppm == pytest.approx(4.0 / (6 * np.sqrt(so**2 + (m - 10.0) ** 2)))


def test_subgrouped_within_sigma_is_rbar_over_d2(spc_data) -> None:
    # Same sigma as the X-bar/R chart of the piston rings (qcc: StdDev 0.009785).
    d = spc_data("pistonrings_phase1")
    result = capability(d.value, d.subgroup, lsl=73.95, usl=74.05)
    assert round(result.sigma_within, 6) == 0.009785
    assert result.sigma_method == "rbar/d2"


def test_centered_process_with_cp_one_has_2700_ppm() -> None:
    # Montgomery Table 8.2: Cp = 1 (two-sided, centered) gives 2700 ppm out of spec.
    ppm = expected_ppm(0.0, 1.0, -3.0, 3.0)
    assert round(ppm["total"]) == 2700


def test_normality_test_flags_skewed_data() -> None:
    rng = np.random.default_rng(1)
    skewed = capability(rng.exponential(1.0, 300), lsl=0.0, usl=10.0)
    normal = capability(rng.normal(5.0, 1.0, 300), lsl=0.0, usl=10.0)
    assert skewed.normality["p_value"] < 0.01
    assert normal.normality["p_value"] > 0.01
    assert skewed.normality["test"] == "anderson-darling"


def test_boxcox_percentile_method_recovers_lognormal_quantiles() -> None:
    # For lognormal data Box-Cox selects lambda ~ 0, so the 0.135 % / 99.865 % points are
    # exp(mu -/+ 3 sigma) (ISO 22514-2 percentile method).
    rng = np.random.default_rng(3)
    x = rng.lognormal(0.0, 0.25, 4000)
    result = capability_percentile(x, lsl=0.3, usl=3.0)
    assert result.q_high == pytest.approx(np.exp(0.75), rel=0.03)
    assert result.q_low == pytest.approx(np.exp(-0.75), rel=0.03)
    assert result.cp == pytest.approx(2.7 / (result.q_high - result.q_low))


def test_percentile_method_equals_normal_indices_for_normal_quantiles() -> None:
    # With the empirical method on a normal sample, Cp(percentile) ~ Pp (same spread estimate).
    x = stats.norm.ppf(np.linspace(0.00005, 0.99995, 20001), 50, 2)
    result = capability_percentile(x, lsl=40, usl=60, method="empirical")
    assert result.cp == pytest.approx(20 / 12, rel=0.01)


def test_lsl_not_below_usl_is_rejected() -> None:
    with pytest.raises(SPCInputError, match="must be below the upper"):
        capability([1.0, 2.0, 3.0, 2.0], lsl=5.0, usl=5.0)


def test_one_sided_spec_gives_only_the_matching_index() -> None:
    result = capability(np.random.default_rng(2).normal(5, 1, 50), usl=9.0)
    assert np.isnan(result.cp)
    assert result.cpk == result.cpu
    assert "cp" not in result.ci
