"""Batch means of AR(1) data: the closed form against simulation, and batch sizes from data."""

import numpy as np
import pytest
from scipy.signal import lfilter

from spc.batchmeans import (
    batch_means_lag1,
    batch_means_variance,
    batch_size_from_data,
    smallest_batch,
)


def _ar1(phi: float, size: int, fraction: float = 1.0, seed: int = 1) -> np.ndarray:
    """AR(1) of unit variance carrying ``fraction`` of it, plus independent noise."""
    rng = np.random.default_rng(seed)
    shocks = rng.standard_normal(size) * np.sqrt(fraction * (1.0 - phi**2))
    start = rng.standard_normal() * np.sqrt(fraction)
    wander = lfilter([1.0], [1.0, -phi], shocks, zi=[phi * start])[0]
    return wander + rng.standard_normal(size) * np.sqrt(1.0 - fraction)


def _lag1(x: np.ndarray) -> float:
    c = x - x.mean()
    return float(np.sum(c[1:] * c[:-1]) / np.sum(c**2))


def test_batch_of_one_keeps_the_process_autocorrelation() -> None:
    assert batch_means_lag1(0.7, 1) == pytest.approx(0.7)


@pytest.mark.parametrize(
    ("phi", "b", "fraction"), [(0.8, 10, 1.0), (0.95, 40, 1.0), (0.9, 20, 0.5)]
)
def test_lag1_of_batch_means_matches_simulation(phi: float, b: int, fraction: float) -> None:
    # 40 000 batches: the sample r1 has a standard error of about 1 / sqrt(40 000) = 0.005
    x = _ar1(phi, 40_000 * b, fraction)
    means = x.reshape(-1, b).mean(axis=1)
    assert _lag1(means) == pytest.approx(batch_means_lag1(phi, b, fraction), abs=0.02)
    ratio = means.var() / x.var()
    assert ratio == pytest.approx(batch_means_variance(phi, b, fraction), rel=0.05)


def test_smallest_batch_is_the_first_to_reach_one_tenth() -> None:
    b = smallest_batch(0.9)
    assert batch_means_lag1(0.9, b) <= 0.1 < batch_means_lag1(0.9, b - 1)


def test_independent_data_need_no_batches() -> None:
    assert batch_size_from_data(np.random.default_rng(2).standard_normal(5_000)).size == 1


def test_batch_size_from_data_reads_the_batches_when_there_are_enough() -> None:
    # phi = 0.7 needs b = 19 (closed form); 200 000 points give 10 000 such batches
    found = batch_size_from_data(_ar1(0.7, 200_000))
    assert found.method == "empirical"
    assert abs(found.size - smallest_batch(0.7)) <= 3


def test_batch_size_from_data_falls_back_to_the_fitted_model_for_slow_wander() -> None:
    # a 120-sample wander carrying half the variance, 4 h at 1 Hz: too few long batches to
    # read, so the AR(1)-plus-noise fit decides; the closed form needs 714
    found = batch_size_from_data(_ar1(np.exp(-1 / 120), 14_400, 0.5, seed=4))
    assert found.method == "model"
    assert 350 < found.size < 1_500
