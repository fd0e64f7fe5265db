"""Dispersion indices against their defining formulas and published limiting values."""

from __future__ import annotations

import numpy as np
import pytest

from vision import (
    ImageError,
    clark_evans_ratio,
    dispersion_indices,
    morisita_index,
    quadrat_counts,
    variance_to_mean_ratio,
)


def test_morisita_of_a_hand_worked_example():
    # Morisita (1959): I = Q sum n(n-1) / (N(N-1)); counts 0,1,2,3 -> 4 * 8 / 30 = 1.0667.
    assert morisita_index(np.array([0, 1, 2, 3])) == pytest.approx(4 * 8 / 30)


def test_morisita_equals_the_number_of_quadrats_when_all_points_share_one():
    assert morisita_index(np.array([0, 0, 25, 0, 0, 0])) == pytest.approx(6.0)


def test_morisita_of_equal_counts_is_below_one():
    # n per quadrat in Q quadrats: I = Q(n - 1) / (Qn - 1) = 16 * 4 / 79.
    assert morisita_index(np.full(16, 5)) == pytest.approx(16 * 4 / 79)


def test_variance_to_mean_ratio_of_a_hand_worked_example():
    # counts 2, 4, 6, 8: mean 5, sample variance 20 / 3 -> 4 / 3.
    assert variance_to_mean_ratio(np.array([2, 4, 6, 8])) == pytest.approx(4 / 3)


def test_poisson_pattern_gives_indices_near_one():
    rng = np.random.default_rng(3)
    pts = rng.uniform(0, 1000, (4000, 2))
    d = dispersion_indices(pts, 1000, 1000, quadrats=10)
    # For N = 4000 in 100 quadrats the sampling sd of VMR is sqrt(2/99) = 0.14 and of
    # Morisita about 0.004; Clark & Evans (1954): sd of R = 0.5227 / sqrt(N) = 0.008.
    assert d.quadrat_vmr == pytest.approx(1.0, abs=0.3)
    assert d.morisita_index == pytest.approx(1.0, abs=0.02)
    assert d.clark_evans_r == pytest.approx(1.0, abs=0.03)


def test_clark_evans_of_a_hexagonal_lattice_is_2_1491():
    # Clark & Evans (1954): maximum R = 2.1491 for a hexagonal pattern.
    a = 1.0
    rows = []
    for j in range(120):
        x = np.arange(120) * a + (a / 2 if j % 2 else 0.0)
        rows.append(np.stack([x, np.full(120, j * a * np.sqrt(3) / 2)], axis=1))
    pts = np.concatenate(rows) + 0.25
    width, height = 120 * a + a / 2, 120 * a * np.sqrt(3) / 2
    # Donnelly's border term lengthens E[r] by ~1 % for N = 14400; R stays within 1.5 %.
    assert clark_evans_ratio(pts, width, height) == pytest.approx(2.1491, rel=0.015)


def test_clustered_pattern_gives_clark_evans_below_one():
    rng = np.random.default_rng(4)
    centres = rng.uniform(100, 900, (20, 2))
    pts = (centres[:, None, :] + rng.normal(0, 5, (20, 30, 2))).reshape(-1, 2)
    assert clark_evans_ratio(pts, 1000, 1000) < 0.3


def test_quadrat_counts_cover_every_point():
    pts = np.array([[0, 0], [999.9, 999.9], [500, 500], [10, 990]])
    counts = quadrat_counts(pts, 1000, 1000, 2, 2)
    assert counts.sum() == 4 and counts.max() == 2


def test_fewer_than_two_points_give_nan():
    assert np.isnan(clark_evans_ratio(np.array([[1.0, 2.0]]), 10, 10))
    assert np.isnan(morisita_index(np.array([1, 0, 0])))


def test_nan_indices_serialise_as_null():
    assert dispersion_indices(np.empty((0, 2)), 10, 10).to_dict()["clark_evans_r"] is None


def test_non_finite_points_are_one_sentence():
    with pytest.raises(ImageError, match="must be finite"):
        clark_evans_ratio(np.array([[np.nan, 1.0], [2.0, 3.0]]), 10, 10)
