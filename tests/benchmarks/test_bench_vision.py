"""Smoke test of `plantqc bench vision` at a tiny size: the report's fields, not the speed."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

import plantqc.cli
from plantqc.bench.vision import run_vision_bench


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
    }
