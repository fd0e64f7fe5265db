"""Texture is background (issue 17, item 6): significance against the background's spread.

Truth: :mod:`vision.realistic` top views (exact particle labels) drawn on a granular film, and
the NFFA-EUROPE hand mask of bright nanoparticles on a granular film (a human reference).
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from vision import analyze_particles, decode_image
from vision.realistic import top_view
from vision.significance import background, edge_level, significant_labels
from vision.synthetic import match_f1


def test_a_granular_film_without_particles_has_no_particles():
    # Without the test, 1220 grains of this film are counted as particles.
    film = top_view((384, 384), seed=1, n_primary=0, n_large=0, n_agglomerates=0, texture=0.12)
    assert analyze_particles(film.image, 0.1, annotations=None).particles.count == 0


@pytest.mark.parametrize("seed", [0, 1])
def test_particles_on_a_granular_film_are_found_and_the_grain_is_not(seed):
    tv = top_view(
        (384, 384), seed=seed, n_primary=45, n_large=3, n_agglomerates=4, texture=0.12, dose=40
    )
    r = analyze_particles(tv.image, 0.1, annotations=None)
    # Achieved: F1 0.96 / 0.95, area fraction -0.002 / -0.006 (without the test: F1 0.53 /
    # 0.57 and +0.017 / +0.014, twice the particles).
    assert match_f1(tv.labels, r.segmentation.labels) >= 0.8
    assert r.particles.area_fraction == pytest.approx(tv.area_fraction, abs=0.01)


def test_the_edge_level_is_three_background_sigmas_above_its_mode():
    rng = np.random.default_rng(0)
    flat = np.rint(np.clip(rng.normal(100.0, 4.0, (256, 256)), 0, 255)).astype(np.uint8)
    bg, _ = background(flat)
    # Gaussian background: the mode is its mean, the below-mode RMS its sigma.
    assert bg.level == pytest.approx(100, abs=1) and bg.sigma[0] == pytest.approx(4.0, rel=0.1)
    assert edge_level(bg) == pytest.approx(bg.level + 3 * bg.sigma[0])


def test_a_faint_object_is_significant_at_its_own_scale_only():
    rng = np.random.default_rng(1)
    img = rng.normal(100.0, 10.0, (256, 256)).astype(np.float32)
    # A disc of radius 20 px, 2 sigma above the background pixel by pixel: at a scale of
    # 8 px its contrast stands far above the averaged-out noise.
    cv2.circle(img, (128, 128), 20, 120.0, -1)
    bright = np.clip(img, 0, 255).astype(np.uint8)
    bg, pyramid = background(bright)
    labels = np.zeros(bright.shape, np.int32)
    cv2.circle(labels, (128, 128), 20, 1, -1)
    cv2.circle(labels, (40, 40), 2, 2, -1)  # a noise speck's footprint
    assert significant_labels(labels, np.bincount(labels.ravel()), pyramid, bg).tolist() == [
        False,
        True,
        False,
    ]


def test_nffa_nanoparticles_on_a_granular_film_match_the_hand_mask(micrographs):
    # README: the mask labels every particle, 115 particles, area fraction 0.0759. Achieved:
    # 105 and 0.066 (before: 2137 and 0.240). Acceptance (issue 17): count within 20 %, area
    # fraction within 0.02.
    stem = "L2_0a111f9bab302c27064c3d9166f2afc4"
    folder = micrographs / "nffa-sem"
    r = analyze_particles(decode_image((folder / f"{stem}.jpg").read_bytes()), 1.0)
    assert r.particles.count == pytest.approx(115, rel=0.2)
    assert r.particles.area_fraction == pytest.approx(0.0759, abs=0.02)


def test_the_background_level_is_found_below_the_split_when_particles_cover_most_pixels():
    rng = np.random.default_rng(2)
    img = np.where(rng.random((256, 256)) < 0.7, 200.0, 50.0) + rng.normal(0, 3, (256, 256))
    bright = np.rint(np.clip(img, 0, 255)).astype(np.uint8)
    assert background(bright)[0].level == pytest.approx(200, abs=1)
    assert background(bright, split=128)[0].level == pytest.approx(50, abs=1)


def test_a_background_spread_above_every_object_is_not_texture(micrographs):
    # EC-bse-10kV.png: particles cover 56 % of the image, so the minority phase taken as
    # objects is the gaps between them, and the particles' own spread (3 sigma: 146 grey
    # levels) lies above every gap pixel. The test does not apply: the reading is the
    # plain threshold's (without this guard: no particle at all).
    img = decode_image((micrographs / "jrminter" / "EC-bse-10kV.png").read_bytes())
    plain = analyze_particles(img, 1.0, texture_is_background=False)
    assert analyze_particles(img, 1.0).particles.count == plain.particles.count > 0
