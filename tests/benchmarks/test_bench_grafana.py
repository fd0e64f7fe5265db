"""Smoke test of `plantqc bench grafana` at a tiny size: the report's fields, not its speed."""

from __future__ import annotations

from plantqc.bench.grafana import run_grafana_bench


def test_grafana_bench_reports_latency_of_every_query_and_the_baseline(pg_admin_url: str) -> None:
    result = run_grafana_bench(pg_admin_url, tags=2, days=0.05, rate_hz=0.2, repeats=2)
    figures = result.to_dict()
    assert result.samples == 2 * int(0.05 * 86_400 * 0.2)
    assert {q.range for q in result.queries} == {"full", "1h"}
    assert all(0 < q.p50_ms <= q.p95_ms for q in result.queries)
    assert figures["speedup_vs_raw"] == result.baseline_raw_p95_ms_full / result.rollup_p95_ms_full
    assert figures["worst_p95_ms_full"] == max(
        q.p95_ms for q in result.queries if q.range == "full"
    )
