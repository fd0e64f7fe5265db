"""Particle analysis on realistic SEM top views (:mod:`vision.realistic`).

Truth: the generator's exact particle labels and agglomerate membership; the annotations it
burned in. Acceptance (issue 17) on clean views: matched F1 >= 0.97 (IoU > 0.5), area fraction
within 0.005, agglomerate count exact (<= 10 per image), large convex particles single.
"""

from __future__ import annotations

import numpy as np
import pytest

from vision import analyze_particles
from vision.realistic import annotate, top_view
from vision.synthetic import match_f1


@pytest.mark.parametrize("style", ["data_bar", "box_black", "box_white", "bare_white"])
def test_annotations_are_not_particles_and_leave_the_area_fraction_alone(style):
    tv = top_view(seed=11)
    drawn = annotate(tv.image, style=style, bar_um=20.0, pixel_size_um=0.1, corner="top_left")
    clean = analyze_particles(tv.image, 0.1, annotations=None)
    masked = analyze_particles(drawn.image, 0.1)
    assert masked.masked_fraction > 0 and masked.annotations
    # Only particles under or touching the annotation are lost; none is added.
    hidden = np.unique(tv.labels[drawn.mask()]).size - 1
    assert clean.particles.count - hidden - 2 <= masked.particles.count <= clean.particles.count
    assert masked.particles.area_fraction == pytest.approx(clean.particles.area_fraction, abs=0.01)


CLEAN = [
    top_view((384, 384), seed=seed, n_primary=45, n_large=3, n_agglomerates=4) for seed in range(20)
]


@pytest.fixture(scope="module")
def clean_results():
    return [analyze_particles(tv.image, 0.1, annotations=None) for tv in CLEAN]


def test_every_clean_view_matches_particles_with_an_f1_of_at_least_0_97(clean_results):
    f1 = [
        match_f1(tv.labels, r.segmentation.labels)
        for tv, r in zip(CLEAN, clean_results, strict=True)
    ]
    # Achieved: median 1.000, lowest 0.975 (seed 17: a particle in a ring of touching ones
    # around a gap is cut in two).
    assert min(f1) >= 0.97


def test_clean_views_have_their_area_fraction_within_0_005(clean_results):
    errors = [
        r.particles.area_fraction - tv.area_fraction
        for tv, r in zip(CLEAN, clean_results, strict=True)
    ]
    assert max(np.abs(errors)) <= 0.005


def test_clean_views_have_exactly_their_agglomerates(clean_results):
    assert [r.agglomerates.count for r in clean_results] == [tv.n_agglomerates for tv in CLEAN]


def test_large_convex_particles_are_not_agglomerates(clean_results):
    for tv, r in zip(CLEAN, clean_results, strict=True):
        large = [i for i, k in enumerate(tv.kind) if k == "large"]
        seg = r.segmentation
        for i in large:
            ys, xs = np.nonzero(tv.labels == i + 1)
            (found,) = set(np.unique(seg.labels[ys, xs]).tolist()) - {0}
            assert not r.in_agglomerate[found - 1]


def test_a_ring_particle_is_one_particle():
    tv = top_view((384, 384), seed=5, n_rings=2, n_primary=20, n_agglomerates=0, n_large=0)
    seg = analyze_particles(tv.image, 0.1, annotations=None).segmentation
    for i in [k for k, kind in enumerate(tv.kind) if kind == "ring"]:
        ids = set(np.unique(seg.labels[tv.labels == i + 1]).tolist()) - {0}
        assert len(ids) == 1


@pytest.mark.parametrize("blur_px", [0.5, 1.0, 1.5, 2.0])
def test_area_fraction_is_unbiased_whatever_the_blur(blur_px):
    # The half-way threshold keeps the area at every blur; Otsu's level, nearer the larger
    # class (the background), grows every particle by a share of the blur (achieved at 1.5 and
    # 2 px: +0.0017 and +0.0040 for Otsu, within 0.0008 here).
    from vision.preprocess import to_gray
    from vision.threshold import threshold_otsu

    for seed in range(3):
        tv = top_view((384, 384), seed=40 + seed, blur_px=blur_px, edge_glow=0.0)
        r = analyze_particles(tv.image, 0.1, annotations=None, denoise_sigma_px=0)
        ours = r.particles.area_fraction - tv.area_fraction
        level, _ = threshold_otsu(to_gray(tv.image))
        otsu = float(np.mean(to_gray(tv.image) >= level)) - tv.area_fraction
        assert abs(ours) <= 0.001 + 0.0005 * blur_px
        if blur_px >= 1.5:
            assert otsu > 0.0015 and abs(ours) < otsu


@pytest.mark.parametrize(
    ("kind", "options"),
    [("shot_noise", {"dose": 30.0}), ("low_contrast", {"background": 0.4, "particle": 0.52})],
)
def test_noise_does_not_carve_necks_into_outlines(kind, options):
    # Concavities shallower than the noise's 2 sqrt(2 ln P) edge-position sigmas are not
    # necks. Achieved over seeds 0-19 (bench vision --quality): median F1 0.98 and 0.97 (0.91
    # and 0.57 when every 1 px concavity was a neck, which split particles in two).
    options = {"dose": 60.0, **options}
    f1 = []
    for seed in range(3):
        tv = top_view((384, 384), seed=seed, n_primary=45, n_large=3, n_agglomerates=4, **options)
        r = analyze_particles(tv.image, 0.1, annotations=None)
        f1.append(match_f1(tv.labels, r.segmentation.labels))
    assert np.median(f1) >= 0.95, kind
