"""Surface defects on generated web images with known pinholes, bubbles and streaks."""

from __future__ import annotations

import numpy as np
import pytest

from vision import ImageError, find_surface_defects
from vision.synthetic import SyntheticDefect, web_image

DRAWN = (
    SyntheticDefect("pinhole", 100, 100, 5),
    SyntheticDefect("pinhole", 600, 450, 7),
    SyntheticDefect("bubble", 300, 300, 40),
    SyntheticDefect("bubble", 150, 480, 30),
    SyntheticDefect("streak", 700, 200, 250),
)
PIXEL_UM = 10.0


@pytest.fixture(
    scope="module",
    params=[{}, {"noise": 0.03, "shading": 0.3}, {"dtype": np.uint16}],
    ids=["clean", "noisy_shaded", "16bit"],
)
def found(request):
    return find_surface_defects(web_image(defects=DRAWN, **request.param), PIXEL_UM)


def test_every_drawn_defect_is_found_once_at_its_position_with_its_kind(found):
    got = sorted((d.kind, round(d.x_px), round(d.y_px)) for d in found.defects)
    want = sorted((d.kind, round(d.x_px), round(d.y_px)) for d in DRAWN)
    assert len(got) == len(want)
    for (gk, gx, gy), (wk, wx, wy) in zip(got, want, strict=True):
        assert (gk, gx, gy) == (wk, pytest.approx(wx, abs=2), pytest.approx(wy, abs=2))


def test_streak_length_is_its_drawn_length(found):
    (streak,) = [d for d in found.defects if d.kind == "streak"]
    assert streak.length_um == pytest.approx(250 * PIXEL_UM, rel=0.05)


def test_defects_per_m2_is_the_count_over_the_imaged_area(found):
    area_m2 = 600 * 800 * (PIXEL_UM * 1e-6) ** 2
    assert found.defects_per_m2 == pytest.approx(len(DRAWN) / area_m2)


def test_a_clean_web_has_no_defects():
    assert find_surface_defects(web_image(noise=0.02, shading=0.3), PIXEL_UM).defects == ()


def test_json_document_lists_counts_by_kind(found):
    doc = found.to_dict()
    assert doc["counts"] == {"pinhole": 2, "bubble": 2, "streak": 1}
    assert set(doc["defects"][0]) == {
        "kind",
        "x_px",
        "y_px",
        "area_um2",
        "eq_diameter_um",
        "length_um",
    }


def test_bad_pixel_size_is_one_sentence():
    with pytest.raises(ImageError, match="pixel size must be a positive"):
        find_surface_defects(web_image(), -1.0)
