"""Confidence intervals on Pp and Ppk and the within-subgroup sigma of an X-bar/S study
(Montgomery, Introduction to SQC, §6.3 and §8.3.5; Bissell 1990)."""

import numpy as np
import pytest
from scipy import stats

from spc import SPCInputError, capability, cp_confidence_interval, xbar_s


def _sample(n: int, mean: float, s: float) -> np.ndarray:
    """``n`` values whose sample mean and standard deviation (ddof=1) are exactly these."""
    z = np.random.default_rng(11).normal(size=n)
    return mean + s * (z - z.mean()) / z.std(ddof=1)


def test_pp_interval_matches_montgomerys_chi_square_example() -> None:
    # Montgomery §8.3.5, example of eq. 8.19: USL = 62, LSL = 38, n = 20 values with sample
    # standard deviation s = 1.75, index on s taken as 2.29; 95 % CI 1.57 to 3.01.  The sample
    # here has s = 24 / (6 * 2.29) = 1.747 (1.75 to the book's digits), so Pp-hat = 2.29.
    result = capability(_sample(20, 50.0, 24.0 / (6.0 * 2.29)), lsl=38.0, usl=62.0)
    assert result.pp == pytest.approx(2.29, rel=1e-12)
    assert tuple(round(bound, 2) for bound in result.ci["pp"]) == (1.57, 3.01)


def test_ppk_interval_matches_montgomerys_bissell_example() -> None:
    # Montgomery §8.3.5, example of eq. 8.20 (Bissell 1990): n = 20, index 1.33 on the sample
    # standard deviation; 95 % CI 0.88 to 1.78.  Mean 50, s = 1, USL = 53.99: Ppk = 1.33.
    result = capability(_sample(20, 50.0, 1.0), lsl=40.0, usl=53.99)
    assert result.ppk == pytest.approx(1.33, rel=1e-12)
    assert tuple(round(bound, 2) for bound in result.ci["ppk"]) == (0.88, 1.78)


def test_pp_interval_is_the_chi_square_interval_on_the_overall_sigma() -> None:
    # Defining formula (Montgomery eq. 8.19) computed here with scipy: a drifting process, so
    # the overall s differs from the within MR-bar/d2 and only s gives this interval.
    x = np.random.default_rng(5).normal(0.0, 1.0, 250) + np.linspace(0.0, 2.0, 250)
    result = capability(x, lsl=-6.0, usl=7.0, confidence=0.90)
    s = np.std(x, ddof=1)
    pp = 13.0 / (6.0 * s)
    low = pp * np.sqrt(stats.chi2.ppf(0.05, 249) / 249)
    high = pp * np.sqrt(stats.chi2.ppf(0.95, 249) / 249)
    assert result.ci["pp"] == pytest.approx((low, high), rel=1e-12)


def test_ppk_interval_is_bissells_interval_on_the_overall_sigma() -> None:
    # Defining formula (Bissell 1990; Montgomery eq. 8.20) computed here with scipy.
    x = np.random.default_rng(6).normal(0.0, 1.0, 250) + np.linspace(0.0, 2.0, 250)
    result = capability(x, lsl=-6.0, usl=7.0, confidence=0.90)
    m, s, n = np.mean(x), np.std(x, ddof=1), 250
    ppk = min((7.0 - m) / (3.0 * s), (m + 6.0) / (3.0 * s))
    half = stats.norm.ppf(0.95) * np.sqrt(1.0 / (9.0 * n * ppk**2) + 1.0 / (2.0 * (n - 1)))
    assert result.ci["ppk"] == pytest.approx((ppk * (1 - half), ppk * (1 + half)), rel=1e-12)


def test_one_sided_spec_has_cpk_cpu_ppk_intervals_but_no_cp_pp_cpm_interval() -> None:
    result = capability(np.random.default_rng(2).normal(5, 1, 50), usl=9.0)
    assert set(result.ci) == {"cpk", "cpu", "ppk"}


def test_xbar_s_study_uses_sbar_over_c4_as_the_xbar_s_chart_does(spc_data) -> None:
    # Montgomery §6.3: sigma-hat = s-bar / c4(n), c4(5) = 0.9400 (Montgomery Appendix
    # Table VI, four digits); piston rings of Example 6.3, 25 subgroups of 5.
    d = spc_data("pistonrings_phase1")
    result = capability(d.value, d.subgroup, lsl=73.95, usl=74.05, within="std")
    s_bar = d.groupby("subgroup").value.std(ddof=1).mean()
    assert result.sigma_method == "sbar/c4"
    assert result.sigma_within == pytest.approx(s_bar / 0.9400, rel=1e-4)
    assert result.sigma_within == pytest.approx(xbar_s(d.value, d.subgroup).sigma, rel=1e-12)


def test_an_unknown_within_estimator_is_rejected() -> None:
    with pytest.raises(SPCInputError, match=r"^Unknown within-subgroup estimator 'mad'; use range"):
        capability([1.0, 2.0, 3.0, 2.0], [1, 1, 2, 2], lsl=0.0, usl=5.0, within="mad")


def test_an_interval_from_one_measurement_is_rejected() -> None:
    with pytest.raises(SPCInputError, match="needs at least 2 measurements, got 1"):
        cp_confidence_interval(1.0, 1)
