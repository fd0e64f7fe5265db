"""Smoke test of `plantqc bench ingest` at a tiny size: the report's fields, not speed."""

from __future__ import annotations

import pytest

from plantqc.bench.ingest import run_ingest_bench


@pytest.mark.slow
def test_ingest_bench_reports_rates_ratio_and_daemon_resources() -> None:
    result = run_ingest_bench(tags=5, interval_ms=200, seconds=2.0).to_dict()
    assert set(result) == {
        "tags",
        "interval_ms",
        "offered_per_s",
        "seconds",
        "stored_per_s",
        "produced_per_s",
        "ratio_vs_produced",
        "bare_client_per_s",
        "ratio_vs_bare_client",
        "baseline_reconnects",
        "daemon_cpu_pct_of_one_core",
        "daemon_rss_mb",
    }
    assert result["offered_per_s"] == 25.0
    assert result["stored_per_s"] > 0
    assert result["bare_client_per_s"] > 0
    # the simulator ticks every 200 ms: about 5 ticks x 5 tags a second over the window
    assert 10 <= result["produced_per_s"] <= 30
    assert result["daemon_rss_mb"] > 0
