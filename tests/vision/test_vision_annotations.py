"""Burned-in annotations of every common style are found, masked and their scale bars read.

Truth: the regions and bar lengths :mod:`vision.realistic` drew (exact, in pixels); acceptance
(issue 17): every annotation pixel masked, bar length within 1 %.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from vision import find_scale_bar
from vision.annotations import find_annotations
from vision.realistic import CORNERS, STYLES, annotate, cross_section, top_view
from vision.synthetic import film_image


@pytest.fixture(scope="module")
def sections():
    return {
        "foil": cross_section(seed=21, substrate="foil").image,
        "glass_vacuum": cross_section(seed=22, substrate="glass", vacuum=True).image,
    }


def _corners(style: str) -> tuple[str, ...]:
    # A bare bar is drawn where it contrasts: a black one over the substrate, a white one over
    # the resin or vacuum (a white bar on a saturated foil could not be seen either).
    keep = {"bare_black": "bottom", "bare_white": "top"}.get(style, "")
    return tuple(c for c in CORNERS if c.startswith(keep))


CASES = [
    (style, corner, above, ticks)
    for style in STYLES
    for corner in _corners(style)
    for above, ticks in ((True, False), (False, True))
]
# Each case over one of the two backgrounds, in turn.
CASES = [(("foil", "glass_vacuum")[i % 2], *case) for i, case in enumerate(CASES)]


@pytest.mark.parametrize(("substrate", "style", "corner", "label_above", "ticks"), CASES)
def test_annotation_is_masked_and_its_bar_is_within_1_percent(
    sections, substrate, style, corner, label_above, ticks
):
    a = annotate(
        sections[substrate],
        style=style,
        bar_um=50.0,
        pixel_size_um=0.25,
        corner=corner,
        label_above=label_above,
        ticks=ticks,
    )
    found = find_annotations(a.image)
    truth = a.mask()
    assert found.mask[truth].all()
    # Bare bars are masked with room for their label: at most 7 % of the image beyond truth.
    assert np.mean(found.mask & ~truth) <= 0.07
    assert find_scale_bar(a.image).length_px == pytest.approx(a.bar_length_px, rel=0.01)


@pytest.mark.parametrize(
    ("bar_um", "pixel_size_um", "unit", "spaced"),
    [
        (50, 0.25, "µm", True),
        (50, 0.25, "um", True),
        (100, 0.5, "µm", False),
        (2000, 10.0, "mm", True),
        (0.5, 0.0025, "nm", True),
    ],
    ids=["50 µm", "50 um", "100µm", "2 mm", "500 nm"],
)
def test_every_label_spelling_gives_the_bar(sections, bar_um, pixel_size_um, unit, spaced):
    a = annotate(
        sections["foil"],
        style="box_black",
        bar_um=bar_um,
        pixel_size_um=pixel_size_um,
        unit=unit,
        spaced=spaced,
        corner="top_left",
    )
    bar = find_scale_bar(a.image)
    assert bar.pixel_size_um(bar_um) == pytest.approx(pixel_size_um, rel=0.01)


def test_the_data_band_is_cut_off_as_rows():
    s = cross_section(seed=23)
    a = annotate(s.image, style="data_bar", bar_um=25.0, pixel_size_um=0.25, seed=4)
    (band,) = [r for r in find_annotations(a.image).regions if r.kind == "band"]
    ann = find_annotations(a.image)
    assert (band.y_px, band.width_px) == (a.regions[0][1], 640)
    assert ann.content_rows() == (0, band.y_px - ann.margin_px)


@pytest.mark.parametrize("seed", range(4))
def test_particles_and_granular_texture_are_not_annotations(seed):
    tv = top_view(seed=seed, texture=0.04 * seed, dose=60.0 if seed % 2 else 0.0)
    assert find_annotations(tv.image).regions == ()


def test_a_binary_image_is_content_not_an_annotation():
    img = np.zeros((200, 200), np.uint8)
    cv2.rectangle(img, (30, 30), (90, 60), 255, -1)
    cv2.circle(img, (140, 140), 30, 255, -1)
    assert find_annotations(img).regions == ()


def test_small_white_discs_on_black_are_content_not_boxes():
    # A disc of radius 10 px and the black rim around it fill 90 % of their bounding box, as a
    # box does; no black mark lies inside the disc, as text lies inside a box.
    img = np.zeros((120, 160), np.uint8)
    for x, y in ((25, 30), (43, 30), (25, 90), (120, 30)):
        cv2.circle(img, (x, y), 10, 255, -1)
    assert find_annotations(img).regions == ()


def test_real_micrographs_without_annotations_have_none(micrographs):
    import vision

    for path in sorted((micrographs / "nffa-sem").glob("*.jpg")):
        assert find_annotations(vision.decode_image(path.read_bytes())).regions == ()


def test_a_real_data_band_split_into_cells_is_cut_off_as_rows(micrographs):
    import vision

    # The SEM data band of the sand/glass composite (README: data bar at the bottom): black
    # from row 884 to the last, read off the image, its cells parted by white lines and a
    # black pore of the content touching it.
    img = vision.decode_image((micrographs / "jrminter" / "scipy_ex_MV_HFV_012.jpg").read_bytes())
    (band,) = find_annotations(img).regions
    assert (band.kind, band.x_px, band.y_px, band.width_px, band.height_px) == (
        "band",
        0,
        884,
        1024,
        943 - 884,
    )


def test_the_fib_data_box_is_found(micrographs):
    import vision

    img = vision.decode_image((micrographs / "jrminter" / "fib620eb.tif").read_bytes())
    (box,) = find_annotations(img).regions
    # The black strip with white text and the "2 um" bar, read off the image.
    assert (box.kind, box.x_px, box.y_px, box.width_px, box.height_px) == ("box", 43, 423, 576, 40)


def test_rows_flat_at_one_extreme_are_content_not_a_data_band() -> None:
    # a drawn cross section: uniform background above the film and uniform backing below,
    # each at an extreme of the image, neither carrying a mark of the other extreme
    film = film_image((300, 400), thickness_px=200.0, top_px=50.0).image
    assert find_annotations(film).regions == ()
