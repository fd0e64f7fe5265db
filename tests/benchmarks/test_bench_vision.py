"""Smoke test of `plantqc bench vision` at a tiny size: the report's fields, not the speed."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

import plantqc.cli
from plantqc.bench.vision import benchmark_image, peak_memory, run_vision_bench, skimage_pipeline
from vision import segment_particles


@pytest.fixture(scope="module")
def report():
    pytest.importorskip("skimage")
    return run_vision_bench(size_px=256)


def test_report_has_both_pipelines_timings_and_their_ratio(report):
    assert report.plantqc_s > 0 and report.skimage_s > 0
    assert report.speedup == pytest.approx(report.skimage_s / report.plantqc_s)


def test_report_scores_both_pipelines_against_the_ground_truth(report):
    assert 0 <= report.skimage_f1 <= 1 and report.plantqc_f1 >= 0.9
    assert report.plantqc_count == pytest.approx(report.particles_truth, rel=0.05)


def test_report_has_the_cross_section_case_against_its_baseline(report):
    assert report.thickness_plantqc_s > 0 and report.thickness_baseline_s > 0
    assert report.thickness_speedup == pytest.approx(
        report.thickness_baseline_s / report.thickness_plantqc_s
    )
    # Scored against the generator's exact normal thickness; 0.5 um is the target.
    assert report.thickness_plantqc_mae_um <= 0.5 and report.thickness_coverage >= 0.8
    assert report.thickness_baseline_mae_um >= 0


def test_report_measures_peak_memory_in_a_child_process(report):
    assert report.peak_rss_mib > report.peak_traced_mib > 0


def test_cli_prints_the_figures_as_json():
    pytest.importorskip("skimage")
    result = CliRunner().invoke(plantqc.cli.app, ["bench", "vision", "--size", "128", "--json"])
    assert result.exit_code == 0, result.output
    assert set(json.loads(result.output)) >= {
        "plantqc_s",
        "skimage_s",
        "speedup",
        "plantqc_f1",
        "skimage_f1",
        "peak_rss_mib",
        "thickness_plantqc_s",
        "thickness_baseline_s",
        "thickness_speedup",
        "thickness_plantqc_mae_um",
    }


def test_baseline_measures_every_object_as_plantqc_does():
    pytest.importorskip("skimage")
    img = np.zeros((200, 200), np.uint8)
    cv2.ellipse(img, (100, 100), (60, 20), 0, 0, 360, 255, -1)
    (row,) = skimage_pipeline(img)[1]
    (p,) = segment_particles(img).particles
    _, x, y, area, eq_d, _, circ, _, _, aspect, _, _ = row
    assert (x, y, area, eq_d) == pytest.approx((p.x_px, p.y_px, p.area_px, p.eq_diameter_px))
    assert (circ, aspect) == pytest.approx((p.circularity, p.aspect_ratio), rel=0.05)


def test_baseline_drops_regions_below_the_minimum_area():
    pytest.importorskip("skimage")
    img = np.zeros((60, 60), np.uint8)
    img[10:13, 10:13] = 255
    img[30:50, 30:50] = 255
    labels, table = skimage_pipeline(img, min_area_px=10)
    assert (int(labels.max()), table.shape[0], table[0, 3]) == (2, 1, 400)


def test_peak_memory_is_the_child_process_own_not_its_parent_size():
    ballast = np.ones(512 * 2**20, np.uint8)  # touched: 512 MiB resident in this process
    rss, _ = peak_memory(benchmark_image(128).image)
    assert ballast[-1] == 1 and rss < 512


def test_quality_sweep_reports_every_acceptance_figure_of_both_generators():
    from plantqc.bench.vision import run_vision_quality

    fig = run_vision_quality(n_images=2, size_px=192, micrographs=None)
    for gen in ("realistic", "synthetic"):
        assert {f"{gen}_section_mae_um_max", f"{gen}_section_tilt_err_deg_max"} <= set(fig)
        assert f"{gen}_top_clean_f1_min" in fig and f"{gen}_top_clean_af_err_max" in fig
    # Exact truth: a clean realistic section is measured within the 0.5 um.
    assert fig["realistic_section_mae_um_max"] <= 0.5 and fig["scale_bar_rel_err_max"] <= 0.01


def test_cli_quality_mode_prints_the_sweep_as_json():
    result = CliRunner().invoke(
        plantqc.cli.app, ["bench", "vision", "--quality", "--images", "1", "--json"]
    )
    assert result.exit_code == 0, result.output
    assert "realistic_top_clean_f1_min" in json.loads(result.output)
