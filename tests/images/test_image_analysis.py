"""What a worker does with one file: scale from a scale bar, metrics by their definitions."""

from __future__ import annotations

from pathlib import Path

import pytest
from images_helpers import png

from plantqc.images.analysis import AnalysisJob, analyse_file
from vision.synthetic import SyntheticDefect, draw_scale_bar, film_image, web_image


def test_pixel_size_from_a_scale_bar_scales_the_thickness(tmp_path: Path) -> None:
    film = film_image((300, 600), thickness_px=80.0, top_px=100, seed=3).image
    # a 200 px bar labelled 50 um: 0.25 um/px, so the 80 px film is 20 um thick
    path = tmp_path / "L_R_xsec.png"
    path.write_bytes(png(draw_scale_bar(film, 350, 285, 200)))
    outcome = analyse_file(AnalysisJob(path, "thickness", None, 50.0, tmp_path / "overlays"))
    assert outcome.error is None and outcome.values is not None
    assert outcome.values["mean_thickness_um"] == pytest.approx(80.0 * 50.0 / 200.0, rel=0.01)


def test_defects_per_m2_is_the_defect_count_over_the_inspected_area(tmp_path: Path) -> None:
    defects = (
        SyntheticDefect("pinhole", 150, 150, 5),
        SyntheticDefect("bubble", 500, 300, 14),
        SyntheticDefect("streak", 650, 300, 60),
    )
    path = tmp_path / "L_R_web.png"
    path.write_bytes(png(web_image((600, 800), defects, seed=5)))
    outcome = analyse_file(AnalysisJob(path, "defects", 20.0, None, tmp_path / "overlays"))
    assert outcome.values is not None and outcome.document is not None
    area_m2 = (800 * 20e-6) * (600 * 20e-6)  # width x height x pixel size, in metres
    assert len(outcome.document["defects"]) == len(defects)
    assert outcome.values["defects_per_m2"] == pytest.approx(len(defects) / area_m2, rel=1e-12)


def test_a_file_gone_before_it_is_read_is_not_a_rejection(tmp_path: Path) -> None:
    outcome = analyse_file(
        AnalysisJob(tmp_path / "gone.png", "particles", 0.5, None, tmp_path / "overlays")
    )
    assert outcome.missing and outcome.sha256 is None and outcome.values is None
