"""Overlays: each result drawn on the image in its colour, encodable as PNG."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from vision import (
    ImageError,
    analyze_particles,
    defects_overlay,
    encode_png,
    find_surface_defects,
    measure_thickness,
    particles_overlay,
    thickness_overlay,
)
from vision.overlay import AGGLOMERATE, BOUNDARY, DEFECT, PARTICLE
from vision.synthetic import SyntheticDefect, film_image, particle_image, web_image


def _has(rgb: np.ndarray, colour: tuple[int, int, int]) -> bool:
    return bool(np.any(np.all(rgb == colour, axis=2)))


def test_particle_overlay_outlines_particles_and_boxes_agglomerates():
    img = particle_image((256, 256), seed=2, cluster_probability=0.5, dtype=np.uint16).image
    rgb = particles_overlay(img, analyze_particles(img, 1.0))
    assert rgb.shape == (256, 256, 3) and rgb.dtype == np.uint8
    assert _has(rgb, PARTICLE) and _has(rgb, AGGLOMERATE)


def test_thickness_overlay_draws_the_boundaries():
    img = film_image(seed=1, tilt_deg=2.0).image
    assert _has(thickness_overlay(img, measure_thickness(img, 1.0)), BOUNDARY)


def test_defect_overlay_marks_each_kind():
    drawn = (SyntheticDefect("pinhole", 100, 100, 6), SyntheticDefect("streak", 500, 300, 200))
    img = web_image(defects=drawn)
    rgb = defects_overlay(img, find_surface_defects(img, 10.0))
    assert _has(rgb, DEFECT["pinhole"]) and _has(rgb, DEFECT["streak"])


def test_png_bytes_decode_back_to_the_overlay():
    rgb = np.random.default_rng(0).integers(0, 256, (20, 30, 3), dtype=np.uint8)
    back = cv2.cvtColor(
        cv2.imdecode(np.frombuffer(encode_png(rgb), np.uint8), 1), cv2.COLOR_BGR2RGB
    )
    assert np.array_equal(back, rgb)


def test_png_of_a_grey_array_is_one_sentence():
    with pytest.raises(ImageError, match="must be an \\(H, W, 3\\) uint8 RGB"):
        encode_png(np.zeros((4, 4), np.uint8))


def test_thickness_overlay_shows_both_interfaces_and_the_masked_annotation():
    from vision.overlay import INTERFACE, MASKED
    from vision.realistic import annotate, cross_section

    section = cross_section((300, 400), seed=3, thickness_um=30.0)
    img = annotate(section.image, style="box_black", bar_um=20.0, pixel_size_um=0.25).image
    rgb = thickness_overlay(img, measure_thickness(img, 0.25))
    assert _has(rgb, BOUNDARY) and _has(rgb, INTERFACE) and _has(rgb, MASKED)


def test_particle_overlay_hatches_the_masked_annotation():
    from vision.overlay import MASKED
    from vision.realistic import annotate, top_view

    img = annotate(
        top_view((256, 256), seed=4).image, style="data_bar", bar_um=5.0, pixel_size_um=0.1
    ).image
    rgb = particles_overlay(img, analyze_particles(img, 0.1))
    # The band's hatching, not only the legend's swatch: many pixels in the bottom rows.
    assert np.count_nonzero(np.all(rgb[-20:] == MASKED, axis=2)) > 100
