"""Autocorrelation detection, residual charts, and cross-direction profile statistics."""

import numpy as np
import pytest

from spc import (
    SPCInputError,
    imr,
    lag1_autocorrelation,
    profile_charts,
    profile_statistics,
    residual_chart,
)


def _ar1(phi: float, n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    e = rng.normal(size=n)
    x = np.empty(n)
    x[0] = e[0]
    for t in range(1, n):
        x[t] = phi * x[t - 1] + e[t]
    return 50.0 + x


def test_strong_lag_one_autocorrelation_is_detected() -> None:
    result = lag1_autocorrelation(_ar1(0.8, 2000, 1))
    assert result.significant
    assert result.r1 == pytest.approx(0.8, abs=0.05)
    assert result.z == pytest.approx(result.r1 * np.sqrt(2000))


def test_independent_data_is_not_flagged() -> None:
    x = np.random.default_rng(2).normal(size=400)
    assert not lag1_autocorrelation(x, alpha=0.01).significant


def test_residual_chart_recovers_the_ar_coefficient_and_removes_false_alarms() -> None:
    # Montgomery §10.4.2: an I chart on AR(1) data with phi = 0.8 alarms far too often; the
    # residuals of the fitted AR(1) are independent with sigma ~ 1.
    x = _ar1(0.8, 600, 3)
    raw_alarms = len(imr(x)["i"].violations)
    result = residual_chart(x, (1, 0, 0))
    assert result.params["ar.L1"] == pytest.approx(0.8, abs=0.06)
    assert result.charts.sigma == pytest.approx(1.0, abs=0.1)
    assert len(result.charts["i"].violations) < raw_alarms / 5


def test_residual_chart_flags_a_step_shift() -> None:
    x = _ar1(0.5, 300, 4)
    x[200] += 6.0
    flagged = {v.index for v in residual_chart(x, reference=150).charts["i"].violations}
    assert 200 in flagged


def test_profile_statistics_of_a_known_wedge_profile() -> None:
    # Thickness 50 um + 0.02 um/mm wedge across 0..990 mm, edges 3 um thick on each side.
    positions = np.arange(0, 1000, 10.0)
    profile = 50.0 + 0.02 * (positions - positions.mean())
    table = profile_statistics(profile, positions)
    assert table["mean"].iloc[0] == pytest.approx(50.0)
    assert table["wedge"].iloc[0] == pytest.approx(0.02)
    assert table["range"].iloc[0] == pytest.approx(0.02 * 990)
    assert table["two_sigma"].iloc[0] == pytest.approx(2 * np.std(profile, ddof=1))
    assert table["cv"].iloc[0] == pytest.approx(np.std(profile, ddof=1) / 50.0)


def test_profile_edge_effect_is_edge_minus_center() -> None:
    profile = np.full(100, 40.0)
    profile[:10] = 43.0
    profile[-10:] = 38.0
    table = profile_statistics(profile, edge_fraction=0.1)
    assert table["edge_left"].iloc[0] == pytest.approx(3.0)
    assert table["edge_right"].iloc[0] == pytest.approx(-2.0)


def test_profile_charts_flag_a_scan_with_a_wedge() -> None:
    rng = np.random.default_rng(5)
    scans = 50.0 + rng.normal(0, 0.2, (40, 60))
    scans[35] += np.linspace(-3, 3, 60)
    result = profile_charts(scans, reference=30, statistics=["wedge", "mean"])
    assert 35 in {v.index for v in result.charts["wedge"]["i"].violations}
    assert list(result.charts) == ["wedge", "mean"]


def test_profile_with_too_few_positions_is_rejected() -> None:
    with pytest.raises(SPCInputError, match="at least 5 positions"):
        profile_statistics([1.0, 2.0, 3.0])
