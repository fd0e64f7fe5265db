"""Debris: objects far smaller than the particles that carry the filler area, reported apart.

Exact ground truth: areas given as numbers, or discs drawn on a flat background (no blur, no
noise), where every drawn object is known.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from tests.vision.conftest import FLAKES, big_particle_and_flakes
from vision import analyze_particles, debris_of, particles_overlay, segment_particles
from vision.overlay import DEBRIS

BACKGROUND, PARTICLE = 60, 200


def _lognormal_primaries() -> tuple[np.ndarray, int]:
    """81 separate discs, diameters lognormal (median 16 px, geometric sd 1.5), on a grid."""
    rng = np.random.default_rng(3)
    image = np.full((480, 480), BACKGROUND, np.uint8)
    for i in range(9):
        for j in range(9):
            d = 16.0 * np.exp(rng.normal(0.0, np.log(1.5)))
            cv2.circle(image, (26 + 53 * j, 26 + 53 * i), round(min(d, 44.0) / 2.0), PARTICLE, -1)
    return image, 81


def test_flakes_beside_one_large_particle_are_debris():
    # 29-px flakes beside a 20106-px disc: each under 1 % of the area-weighted median (the
    # disc), together 0.7 % of the area.
    seg = segment_particles(big_particle_and_flakes())
    assert (len(seg.particles), len(seg.debris)) == (1, len(FLAKES))


def test_debris_is_out_of_the_labels_and_the_area_fraction():
    seg = segment_particles(big_particle_and_flakes())
    assert seg.labels.max() == 1
    # The disc alone: pi 80^2 = 20106 px drawn, 20081 counted by cv2.circle.
    assert seg.area_fraction == pytest.approx(20081 / 400**2, abs=2e-4)


def test_analysis_reports_debris_count_and_area():
    result = analyze_particles(big_particle_and_flakes(), 1.0, annotations=None)
    assert result.particles.count == 1
    assert result.debris.count == len(FLAKES)
    area = sum(d.area_px for d in result.segmentation.debris)
    assert result.debris.area_fraction == pytest.approx(area / 400**2)
    assert result.to_dict()["debris"] == {"count": 5, "area_fraction": area / 400**2}


def test_lognormal_primaries_have_no_debris():
    # Phi(s + ln 0.01 / s), s = 2 ln 1.5: under 1e-6 of such primaries is below the minimum
    # size, though the smallest here (25 px) is 1/15 of the area-weighted median (373 px).
    image, n = _lognormal_primaries()
    seg = segment_particles(image)
    assert (len(seg.particles), len(seg.debris)) == (n, 0)


def test_debris_can_be_turned_off():
    seg = segment_particles(big_particle_and_flakes(), separate_debris=False)
    assert (len(seg.particles), len(seg.debris)) == (1 + len(FLAKES), 0)


def test_small_objects_holding_more_than_2_percent_of_the_area_are_particles():
    # 30 x 10 px = 2.9 % of 10300 px: a population of its own, not negligible debris.
    areas = np.array([10000] + [10] * 30)
    assert not debris_of(areas).any()


def test_debris_is_the_smallest_objects_up_to_2_percent_of_the_area():
    # Fifteen 10-px objects hold 150 / 10400 = 1.4 %; with the five 50-px ones, 3.8 %.
    areas = np.array([50] * 5 + [10000] + [10] * 15)
    assert debris_of(areas).tolist() == [False] * 6 + [True] * 15


def test_objects_of_a_tenth_of_the_median_diameter_are_particles():
    # 100 px is 1 % of the 10000-px area-weighted median: not below it.
    assert not debris_of(np.array([10000, 100])).any()
    assert debris_of(np.array([10000, 99])).tolist() == [False, True]


def test_a_cut_does_not_split_objects_of_equal_size():
    # Ten 10-px objects hold 100 / 10110 = 0.99 %; eleven would hold 1.09 %: with the share
    # at 1 %, the minimum size would fall among equal objects, so none is debris.
    areas = np.array([10000] + [10] * 11)
    assert not debris_of(areas, share=0.01).any()


def test_overlay_boxes_each_debris_object():
    image = big_particle_and_flakes()
    rgb = particles_overlay(image, analyze_particles(image, 1.0, annotations=None))
    for x, y in FLAKES:
        # The box runs a pixel outside the flake's bounding box (7 x 7 px drawn): within
        # 6 px of its centre.
        window = rgb[y - 6 : y + 7, x - 6 : x + 7].reshape(-1, 3)
        assert (window == DEBRIS).all(axis=1).any()
