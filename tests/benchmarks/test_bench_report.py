"""Smoke test of `plantqc bench report` at a tiny size: the figures, not the speed."""

import json

from typer.testing import CliRunner

from plantqc.bench.report import run_report_bench
from plantqc.cli import app


def test_report_bench_reports_time_memory_and_ratio() -> None:
    result = run_report_bench(tags=4, hours=0.05, rate_hz=1.0, images=6).to_dict()
    assert (result["tags"], result["images"]) == (4, 6)
    assert result["samples"] == 4 * 180
    # 4 tags + CD uniformity and scan mean + 5 image metrics (loading, agglomerates,
    # dispersion, cross-section thickness, defects)
    assert result["characteristics"] == 11
    for key in ("report_seconds", "baseline_seconds", "ratio_vs_baseline", "html_mib"):
        assert result[key] > 0
    # a fresh process: at least the interpreter, far from the 1 GB budget at this size
    assert 30 < result["report_peak_rss_mib"] < 1024
    assert result["disposition"] in ("release", "hold", "reject")
    assert result["pdf_seconds"] is None and result["pdf_mib"] is None  # only with pdf=True


def test_report_bench_command_prints_json() -> None:
    result = CliRunner().invoke(
        app, ["bench", "report", "--tags", "2", "--hours", "0.02", "--images", "3", "--json"]
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["samples"] == 2 * 72
