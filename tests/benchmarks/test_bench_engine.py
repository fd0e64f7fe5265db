"""Smoke test of `plantqc bench engine` at a tiny size: the report's fields, not speed."""

from __future__ import annotations

import json
import zlib
from datetime import UTC, datetime, timedelta

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from plantqc.bench.engine import (
    backlog_growth_s_per_min,
    chart_lags,
    png_with_text,
    run_engine_bench,
)
from plantqc.cli import app


def test_png_text_chunk_keeps_the_pixels_and_changes_the_bytes() -> None:
    image = np.arange(64, dtype=np.uint8).reshape(8, 8)
    png = cv2.imencode(".png", image)[1].tobytes()
    tagged = png_with_text(png, "LOT1_R1_00001.png")
    assert tagged != png
    np.testing.assert_array_equal(cv2.imdecode(np.frombuffer(tagged, np.uint8), -1), image)
    # the chunk's CRC-32 covers type and data (PNG specification, ISO/IEC 15948:2004, §5.3)
    start = tagged.index(b"tEXt")
    length = int.from_bytes(tagged[start - 4 : start], "big")
    body = tagged[start : start + 4 + length]
    crc = int.from_bytes(tagged[start + 4 + length : start + 8 + length], "big")
    assert crc == zlib.crc32(body)


def test_backlog_growth_is_the_least_squares_slope_per_minute() -> None:
    # backlog = 2 s + 0.05 s per second of run, sampled every 5 s: 3 s of backlog per minute
    samples = [(100.0 + t, 2.0 + 0.05 * t) for t in range(0, 60, 5)]
    assert backlog_growth_s_per_min(samples) == pytest.approx(3.0, rel=1e-12)


def test_backlog_growth_needs_two_samples() -> None:
    assert backlog_growth_s_per_min([(0.0, 1.0)]) is None


def test_chart_lag_is_the_write_of_the_first_state_that_reached_the_sample() -> None:
    t0 = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)

    def at(s: float) -> datetime:
        return t0 + timedelta(seconds=s)

    # tag 1: states written at 1.5 s (charted up to 1.0 s) and 3.0 s (up to 2.0 s); tag 2: none
    progress = {1: [(at(1.0), at(1.5)), (at(2.0), at(3.0))]}
    samples = [(1, at(0.5)), (1, at(1.0)), (1, at(1.25)), (1, at(2.5)), (2, at(1.0))]
    lags = chart_lags(samples, progress, now=at(4.0))
    # 0.5 -> 1.5; 1.0 (reached exactly) -> 1.5; 1.25 -> 3.0; 2.5 and tag 2 not charted: now
    assert lags == [1.0, 0.5, 1.75, 1.5, 3.0]


@pytest.mark.slow
def test_engine_bench_reports_lag_image_latency_and_resources() -> None:
    result = run_engine_bench(
        tags=20, interval_ms=200, seconds=6.0, image_px=512, image_every_s=1.0
    ).to_dict()
    assert result["offered_per_s"] == 100.0
    assert result["stored_per_s"] > 0
    assert result["bare_client_per_s"] > 0
    assert result["produced_per_s"] > 0
    assert result["violations"] > 0  # two of the twenty tags run at 4x sigma
    assert 0 <= result["eval_lag_p50_s"] <= result["eval_lag_p99_s"]
    assert 0 <= result["engine_backlog_s"] <= result["engine_backlog_max_s"]
    assert result["engine_backlog_growth_s_per_min"] is not None
    assert result["images_dropped"] >= 5
    assert result["images_stored"] == result["images_dropped"]
    assert 0 < result["image_latency_p50_s"] <= result["image_latency_p99_s"]
    assert result["daemon_rss_mb"] > 0
    assert result["baseline_per_s"] == result["bare_client_per_s"]
    assert result["cpu_pct"] == result["daemon_cpu_pct_of_one_core"] > 0
    assert result["rss_mib"] >= result["daemon_rss_mb"]


@pytest.mark.slow
def test_engine_bench_without_images_charts_what_was_produced() -> None:
    run = CliRunner().invoke(
        app,
        ["bench", "engine", "--tags", "20", "--interval-ms", "200", "--seconds", "6",
         "--no-images", "--json"],
    )  # fmt: skip
    assert run.exit_code == 0, run.output
    result = json.loads(run.output[run.output.index("{") :])
    assert (result["images_dropped"], result["image_latency_p50_s"]) == (0, None)
    # 20 tags every 200 ms, all charted: about 100 samples/s evaluated, give or take the
    # engine's batches at the two ends of a 6 s window
    assert (
        0.5 * result["produced_per_s"] <= result["charted_per_s"] <= 1.5 * result["produced_per_s"]
    )
    assert 0 <= result["lag_p50_s"] <= result["lag_p99_s"] < 30
    assert result["baseline_reconnects"] >= 0 and result["rss_mib"] > 0
