"""The realistic generator's ground truth is what it draws (checked from first principles)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from vision.realistic import CORNERS, STYLES, annotate, cross_section, top_view
from vision.thickness import normal_distance


def test_a_flat_film_has_its_thickness_everywhere():
    s = cross_section(seed=1, thickness_um=40.0, voids=0)
    assert s.thickness_um == pytest.approx(40.0, abs=1e-9)
    assert s.tilt_deg == pytest.approx(0.0, abs=1e-9)


def test_a_tilted_film_is_thick_normal_to_itself_and_has_its_tilt():
    # Two parallel lines at angle a, vertically v apart, are v cos(a) apart.
    s = cross_section(seed=2, thickness_um=30.0, tilt_deg=3.0)
    assert s.thickness_um == pytest.approx(30.0, abs=1e-6)
    assert s.tilt_deg == pytest.approx(3.0, abs=1e-9)


def test_normal_distance_of_a_point_above_a_v_is_to_the_nearest_flank():
    x = np.arange(41, dtype=float)
    bottom = 20.0 + np.abs(x - 20.0)  # a V with 45 degree flanks, apex at (20, 20)
    top = np.full(41, 10.0)
    # From (20, 10) the nearest point is the apex 10 px below; from (30, 10) the flank
    # y = x - 0 at distance |30 - 10| / sqrt 2.
    d = normal_distance(top, bottom, reach=20)
    assert (d[20], d[30]) == pytest.approx((10.0, 20.0 / np.sqrt(2)))


def test_voids_lie_inside_the_film():
    s = cross_section(seed=3, voids=8)
    ys, xs = np.nonzero(s.void_mask)
    assert ys.size > 0
    assert np.all(ys > s.top_px[xs]) and np.all(ys < s.bottom_px[xs])


@pytest.mark.parametrize("style", STYLES)
@pytest.mark.parametrize("corner", CORNERS)
def test_the_drawn_bar_is_exactly_its_stated_length(style, corner):
    s = cross_section(seed=4, voids=0)
    a = annotate(s.image, style=style, bar_um=50.0, pixel_size_um=0.25, corner=corner, ticks=True)
    value = 0 if style in ("box_white", "bare_black") else 255
    row = a.image[a.bar_y_px]
    run = row[a.bar_x_px - 1 : a.bar_x_px + a.bar_length_px + 1] == value
    assert a.bar_length_px == 200 and a.pixel_size_um == pytest.approx(0.25)
    assert run[1:-1].all() and not run[0] and not run[-1]


def test_labels_are_spelled_as_asked():
    img = np.full((300, 400), 100, np.uint8)
    spellings = [
        annotate(img, style="box_black", bar_um=v, pixel_size_um=p, unit=u, spaced=sp).label
        for v, p, u, sp in [
            (50, 0.5, "µm", True),
            (50, 0.5, "um", True),
            (100, 1.0, "µm", False),
            (2000, 20.0, "mm", True),
            (0.5, 0.005, "nm", True),
        ]
    ]
    assert spellings == ["50 µm", "50 um", "100µm", "2 mm", "500 nm"]


def test_annotations_stay_inside_their_regions():
    s = cross_section(seed=5)
    a = annotate(s.image, style="data_bar", bar_um=25.0, pixel_size_um=0.25, seed=2)
    changed = a.image != s.image
    assert changed.any() and not np.any(changed & ~a.mask())


def test_agglomerate_members_touch_and_other_particles_keep_clear():
    tv = top_view(seed=6, n_agglomerates=6)
    n = tv.count
    one_px = np.ones((3, 3), np.uint8)
    for i in range(n):
        grown = cv2.dilate((tv.labels == i + 1).astype(np.uint8), one_px, iterations=2)
        touching = set(np.unique(tv.labels[grown > 0]).tolist()) - {0, i + 1}
        same = {j + 1 for j in np.flatnonzero(tv.group == tv.group[i])} - {i + 1}
        # Within 2 px only members of its own group; every member near another member.
        assert touching <= same
        if same:
            assert touching
    assert tv.n_agglomerates == 6


def test_large_particles_are_three_to_six_median_primaries():
    tv = top_view(seed=7, n_large=4)
    area = np.bincount(tv.labels.ravel())[1:]
    kinds = np.array(tv.kind)
    ratio = area[kinds == "large"] / np.median(area[kinds == "primary"])
    assert ratio.size == 4 and np.all((ratio > 2.0) & (ratio < 9.0))


def test_a_ring_particle_has_a_background_hole():
    tv = top_view(seed=8, n_rings=1, n_primary=5)
    (i,) = [k for k, kind in enumerate(tv.kind) if kind == "ring"]
    mask = (tv.labels == i + 1).astype(np.uint8)
    contours, _ = cv2.findContours(mask, cv2.RETR_CCOMP, cv2.CHAIN_APPROX_NONE)
    assert len(contours) == 2  # the outer outline and the hole's
