"""Tabular CUSUM and EWMA against Montgomery, Intro to SQC 7th ed., Tables 9.2 and 9.12."""

import numpy as np
import pytest

from spc import SPCInputError, cusum, ewma
from spc.cusum import cusum_upper

# Table 9.2 (Example 9.1, mu0 = 10, sigma = 1, K = 0.5, H = 5), C+ and C- to 2 decimals.
TABLE_9_2_UPPER = [
    0, 0, 0, 1.16, 2.82, 2.50, 0.04, 1.00, 0, 0, 0, 0.97, 0.98, 0, 0,
    0, 0.12, 0, 0, 0.34, 0.74, 0, 1.79, 2.79, 2.89, 3.47, 3.35, 4.47, 5.28, 5.30,
]  # fmt: skip
TABLE_9_2_LOWER = [
    0.05, 1.56, 1.77, 0, 0, 0, 1.46, 0, 0.30, 0, 0.47, 0, 0, 0.10, 0,
    0.13, 0, 0, 0.98, 0, 0, 0.17, 0, 0, 0, 0, 0, 0, 0, 0,
]  # fmt: skip

# Table 9.12 (Example 9.2, lambda = 0.1, L = 2.7): EWMA z_i (4 decimals as printed to the
# precision of the table's first rows) and the limits at periods 1, 2 and steady state.
TABLE_9_12_Z_FIRST = [9.9450, 9.7495, 9.7036, 9.8992, 10.1253]
TABLE_9_12_Z_LAST = [10.4654, 10.4568, 10.5731, 10.6468, 10.6341]


def test_tabular_cusum_reproduces_table_9_2(spc_data) -> None:
    x = spc_data("montgomery_table9_1").value
    result = cusum(x, k=0.5, h=5.0, target=10.0, sigma=1.0)
    assert np.round(result["cusum_upper"].values, 2).tolist() == TABLE_9_2_UPPER
    assert np.round(result["cusum_lower"].values, 2).tolist() == TABLE_9_2_LOWER


def test_tabular_cusum_signals_at_period_29_after_seven_periods_up(spc_data) -> None:
    # Example 9.1: C+_29 = 5.28 > H = 5 is the first signal; N+ = 7, so the shift began after
    # period 22 and the new mean is estimated as 10 + 0.5 + 5.28/7 = 11.25.
    x = spc_data("montgomery_table9_1").value
    result = cusum(x, k=0.5, h=5.0, target=10.0, sigma=1.0)
    signals = [v.index + 1 for v in result["cusum_upper"].violations]
    assert signals[0] == 29
    assert result.extra["n_upper"][28] == 7
    assert round(10 + 0.5 + result["cusum_upper"].values[28] / 7, 2) == 11.25


def test_fast_initial_response_starts_both_sums_at_half_h() -> None:
    # Lucas & Crosier (1982): C0 = h/2; a value exactly on target lowers each sum by k.
    result = cusum([10.0, 10.0], k=0.5, h=5.0, fir=True, target=10.0, sigma=1.0)
    assert result["cusum_upper"].values[0] == pytest.approx(2.0)
    assert result["cusum_lower"].values[0] == pytest.approx(2.0)


def test_cusum_is_in_sigma_units() -> None:
    x = np.array([12.0, 14.0, 10.0])
    scaled = cusum(x, target=10.0, sigma=2.0)["cusum_upper"].values
    unit = cusum((x - 10.0) / 2.0, target=0.0, sigma=1.0)["cusum_upper"].values
    assert np.allclose(scaled, unit)


def test_blocked_lindley_cusum_equals_the_recursion_on_a_long_series() -> None:
    y = np.random.default_rng(3).normal(0.4, 1.0, 30_000)
    expected, c = np.empty_like(y), 0.0
    for i, value in enumerate(y):
        c = max(0.0, c + value - 0.5)
        expected[i] = c
    assert np.allclose(cusum_upper(y, 0.5), expected, atol=1e-9)


def test_ewma_reproduces_table_9_12(spc_data) -> None:
    x = spc_data("montgomery_table9_1").value
    chart = ewma(x, lam=0.1, L=2.7, target=10.0, sigma=1.0)["ewma"]
    assert np.round(chart.values[:5], 4).tolist() == TABLE_9_12_Z_FIRST
    assert np.round(chart.values[-5:], 4).tolist() == TABLE_9_12_Z_LAST
    # Example 9.2: UCL_1 = 10.27, LCL_1 = 9.73, UCL_2 = 10.36; steady state 10.62 / 9.38.
    assert round(chart.ucl[0], 2) == 10.27
    assert round(chart.lcl[0], 2) == 9.73
    assert round(chart.ucl[1], 2) == 10.36
    assert round(chart.ucl[-1], 2) == 10.62
    assert round(chart.lcl[-1], 2) == 9.38


def test_ewma_signals_first_at_period_29(spc_data) -> None:
    # Example 9.2 / Fig. 9.11: z_29 = 10.6468 exceeds the UCL 10.6187.
    x = spc_data("montgomery_table9_1").value
    chart = ewma(x, lam=0.1, L=2.7, target=10.0, sigma=1.0)["ewma"]
    assert chart.violations[0].index + 1 == 29


def test_ewma_limits_are_symmetric_and_widen_toward_the_asymptote() -> None:
    chart = ewma(np.zeros(50), lam=0.2, L=3.0, target=0.0, sigma=1.0)["ewma"]
    assert np.allclose(chart.ucl, -chart.lcl)
    assert np.all(np.diff(chart.ucl) >= 0)
    assert chart.ucl[-1] == pytest.approx(3.0 * np.sqrt(0.2 / 1.8), rel=1e-9)


def test_ewma_rejects_lambda_outside_unit_interval() -> None:
    with pytest.raises(SPCInputError, match="lambda must be in"):
        ewma([1.0, 2.0, 3.0], lam=1.5)


def test_ewma_estimates_sigma_from_moving_ranges_when_not_given() -> None:
    x = np.array([1.0, 3.0, 2.0, 4.0])
    result = ewma(x)
    assert result.sigma_method == "mrbar/d2"
    assert result.sigma == pytest.approx(np.mean(np.abs(np.diff(x))) / 1.1283791670955126)


def test_ewma_of_unequal_subgroups_has_the_variance_of_its_weighted_means(spc_data) -> None:
    # z_i = sum_j lambda (1 - lambda)^(i - j) xbar_j (+ (1 - lambda)^i mu0), with independent
    # means of variance sigma^2 / n_j: var z_i = sigma^2 sum_j lambda^2 (1-lambda)^(2(i-j)) / n_j.
    d = spc_data("pistonrings_varn_phase1_phase2")
    result = ewma(d.value, subgroup=d.subgroup, reference=25, lam=0.2, L=3.0)
    sizes = d.groupby("subgroup").size().to_numpy()
    i = np.arange(sizes.size)
    weights = 0.04 * 0.8 ** (2.0 * (i[:, None] - i[None, :])) * (i[:, None] >= i[None, :])
    expected = result.sigma * np.sqrt(weights @ (1.0 / sizes))
    assert result["ewma"].sigma == pytest.approx(expected, rel=1e-12)
    assert len(set(np.round(result["ewma"].ucl[25:], 12))) > 1  # per-point limits


def test_ewma_of_equal_subgroups_equals_the_individuals_chart_of_the_means(spc_data) -> None:
    # Montgomery §9.2 (rational subgroups): a subgroup EWMA is the EWMA of the means, with
    # sigma / sqrt(n).
    d = spc_data("pistonrings_phase1_phase2")
    grouped = ewma(d.value, subgroup=d.subgroup, reference=25, lam=0.1, L=2.7)
    means = d.groupby("subgroup").value.mean().to_numpy()
    direct = ewma(means, lam=0.1, L=2.7, target=grouped.extra["target"],
                  sigma=grouped.sigma / np.sqrt(5))  # fmt: skip
    assert grouped["ewma"].values == pytest.approx(direct["ewma"].values, rel=1e-12)
    assert grouped["ewma"].ucl == pytest.approx(direct["ewma"].ucl, rel=1e-12)


def test_cusum_of_individuals_estimates_from_its_phase_one(spc_data) -> None:
    # Phase I counted in observations for individuals: target and MR-bar / d2 of the first 20
    # viscosity batches; the sums standardize every point by that sigma.
    d = spc_data("viscosity")
    result = cusum(d.value, reference=20, k=0.5, h=5.0)
    first = d.value.to_numpy()[:20]
    sigma = np.mean(np.abs(np.diff(first))) / (2 / np.sqrt(np.pi))
    assert result.sigma == pytest.approx(sigma, rel=1e-9)
    assert result.extra["target"] == pytest.approx(first.mean(), rel=1e-12)
    y = (d.value.to_numpy() - first.mean()) / sigma
    assert result["cusum_upper"].values == pytest.approx(cusum_upper(y, 0.5), rel=1e-9, abs=1e-12)
