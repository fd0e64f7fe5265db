"""Real micrographs from ../shared/data/micrographs against their published references.

Tolerances are the ones this implementation achieves, stated honestly; see the README of the
data folder for the sources (jrminter/OSImageAnalysis; NFFA-EUROPE SEM masks).
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

import vision


def _read(path):
    return vision.decode_image(path.read_bytes())


def test_imagej_blobs_count_and_total_area(micrographs):
    # ImageJ default workflow (Default threshold, no watershed): 64 particles, 22243 px^2.
    img = _read(micrographs / "jrminter" / "blobs.gif")
    seg = vision.segment_particles(img, split=False, min_area_px=1)
    assert len(seg.particles) == pytest.approx(64, abs=3)
    # Achieved: 1.0 % below ImageJ's area (its IsoData level differs from Otsu's by a grey level).
    assert sum(p.area_px for p in seg.particles) == pytest.approx(22243, rel=0.015)


def test_model_agglomerates_have_5_particles_in_2_agglomerates(micrographs):
    # model-agglomerate-size.csv: one single disc and two touching pairs.
    result = vision.analyze_particles(_read(micrographs / "jrminter" / "model-agglomerates.tif"), 1)
    assert result.particles.count == 5
    assert [a.n_particles for a in result.agglomerates.items] == [2, 2]


def test_agx_cube_chain_is_one_agglomerate_of_6(micrographs):
    # A touching chain of 6 AgX cubes (TEM). The cubes' bright Fresnel halos leave ~10 px gaps
    # between the thresholded cubes, so the gap is set to 10 px; textured interiors need more
    # smoothing and deeper necks. Known weakness: 3 small fragments are counted besides the 6.
    result = vision.analyze_particles(
        _read(micrographs / "jrminter" / "agx-cubes-TEM.tif"),
        1.0,
        agglomerate_gap_px=10,
        denoise_sigma_px=2.0,
        split_depth_px=3.0,
        min_area_px=200,
    )
    assert [a.n_particles for a in result.agglomerates.items] == [6]


@pytest.mark.parametrize(
    ("name", "length_px"),
    [("scipy_ex_MV_HFV_012.jpg", 317), ("fib620eb.tif", 128), ("fib620ib.tif", 128)],
)
def test_scale_bar_length_matches_the_readme(micrographs, name, length_px):
    # README: "1.0 mm" = 317 px (+-2); "2 um" = 128 px. Acceptance: within 1 %.
    bar = vision.find_scale_bar(_read(micrographs / "jrminter" / name))
    assert bar.length_px == pytest.approx(length_px, rel=0.01)


@pytest.mark.parametrize(
    ("stem", "fraction", "tolerance"),
    [
        ("L2_0a7efff5757e6b543ee1a0d17328c881", 0.0413, 0.02),
        ("L2_0b3ff6d0426c2223ed121a5352b26b0f", 0.0016, 0.002),
        ("L2_0c0bbcbbfc104a68cc7fb45a8ae24201", 0.1186, 0.001),
        ("L2_0c6f769bd72e154dac9c98600435aa13", 0.0150, 0.002),
    ],
)
def test_nffa_area_fraction_is_near_the_hand_mask(micrographs, stem, fraction, tolerance):
    # Hand-made masks (0 = particle) are a human reference, not exact truth. Achieved
    # (absolute), with the half-way threshold between the classes' levels: 1.8, 0.09, 0.05
    # (0.25 before the ring's debris flakes were told apart from it) and 0.02 points (Otsu's
    # level gave 1.5, 0.09, 0.2 and 0.04); the agglomerate image's
    # hand outline lies at 72 % of the particle contrast, ours at 50 %. The granular film is
    # tested in test_vision_significance.py; the large faceted particles (9 % vs 37 %, the
    # mask covers only the large ones) are not met and are not tested.
    folder = micrographs / "nffa-sem"
    mask = cv2.imread(str(folder / "masks" / f"{stem}.png"), cv2.IMREAD_GRAYSCALE)
    assert np.mean(mask == 0) == pytest.approx(fraction, abs=5e-4)
    seg = vision.segment_particles(_read(folder / f"{stem}.jpg"))
    assert seg.area_fraction == pytest.approx(fraction, abs=tolerance)


@pytest.mark.parametrize(
    ("stem", "count"),
    [
        ("L2_0a7efff5757e6b543ee1a0d17328c881", 52),
        ("L2_0b3ff6d0426c2223ed121a5352b26b0f", 46),
        ("L2_0c0bbcbbfc104a68cc7fb45a8ae24201", 1),
        ("L2_0c6f769bd72e154dac9c98600435aa13", 110),
    ],
)
def test_nffa_particle_count_is_within_20_percent_of_the_hand_mask(micrographs, stem, count):
    # Issue 17's target where the mask labels every particle (the granular film is tested in
    # test_vision_significance.py). Achieved: 45 (-13 %; 54 before cuts across a particle's
    # body were refused, the hand mask's particles lie in a haze that the threshold takes in
    # whole), 47, 1 (the ring; 19 before its bright flakes of 16-224 px, under 0.3 % of its
    # area each, were reported as debris) and 105.
    image = _read(micrographs / "nffa-sem" / f"{stem}.jpg")
    n = vision.analyze_particles(image, 1.0).particles.count
    assert abs(n - count) <= 0.2 * count


def test_nffa_ring_flakes_are_reported_as_debris(micrographs):
    # The hand mask of L2_0c0bb... is the ring alone; the flakes beside it are what it leaves
    # out. Achieved: 18 debris objects holding 0.20 % of the image.
    image = _read(micrographs / "nffa-sem" / "L2_0c0bbcbbfc104a68cc7fb45a8ae24201.jpg")
    debris = vision.analyze_particles(image, 1.0).debris
    assert debris.count >= 10 and debris.area_fraction < 0.005


def test_nffa_large_faceted_particles_count_is_within_a_factor_of_1_5(micrographs):
    # README: the hand mask of L2_0c1e5... covers the large faceted particles (47); count
    # agreement there is a sanity check within a factor of 1.5. Achieved: 52 (100 before
    # short pieces of bright rim and specks of 33-147 px, beside particles whose
    # area-weighted median is 139363 px, were reported as debris). The objects do not
    # correspond one to one (none matches a mask particle at IoU > 0.5): the mask draws each
    # agglomerated cluster as one particle where the clump splitting cuts it into pieces,
    # and the two largest particles are one object across their contact.
    image = _read(micrographs / "nffa-sem" / "L2_0c1e5766bce8f601865a20e3956b909e.jpg")
    n = vision.analyze_particles(image, 1.0).particles.count
    assert 47 / 1.5 <= n <= 47 * 1.5
