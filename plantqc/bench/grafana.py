"""Grafana panel latency: every generated panel query over 7 days and over the last hour.

A scratch PostgreSQL database is filled server-side (``generate_series``) with ``tags`` scalar
tags at ``rate_hz`` for ``days`` days plus a 50-point thickness profile every 5 s, migrated so
the minute rollups are maintained as the data arrives.  Each query of the line and overview
dashboards is expanded exactly as Grafana expands it (`plantqc.grafana.macros`), with the
interval Grafana computes from the panel's ``maxDataPoints``, and timed ``repeats`` times per
range.  The baseline is the 7-day time-series query forced onto raw
samples (what a dashboard without the rollup would run), measured in the same run.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import Engine

from plantqc.config import Line, OpcUa, Plant, PlantConfig, SpcSettings, SpecLimits, Tag
from plantqc.grafana import sql
from plantqc.grafana.dashboards import MAX_DATA_POINTS, dashboards, queries, to_json
from plantqc.grafana.macros import ALL, TimeRange, grafana_sql
from plantqc.store import connect, sync_config, upgrade
from plantqc.store.db import scratch_database

END = datetime(2026, 11, 22, tzinfo=UTC)
_VALUES = {"line": "bench-line", "tag": ["t000", "t001"], "lot": ALL}
_ALL_VALUES = {"lot": "'__all'"}


@dataclass(frozen=True)
class QueryLatency:
    """Latency of one panel query over one range [ms]."""

    where: str
    range: str
    p50_ms: float
    p95_ms: float


@dataclass(frozen=True)
class GrafanaBenchResult:
    """Per-query latencies, the worst p95 per range and the raw-samples baseline."""

    samples: int
    load_seconds: float
    queries: tuple[QueryLatency, ...]
    worst_p95_ms_full: float
    worst_p95_ms_1h: float
    worst_query_full: str
    baseline_raw_p95_ms_full: float
    rollup_p95_ms_full: float
    speedup_vs_raw: float

    def to_dict(self) -> dict[str, Any]:
        figures: dict[str, Any] = {
            "samples": self.samples,
            "load_seconds": self.load_seconds,
            "worst_p95_ms_full": self.worst_p95_ms_full,
            "worst_p95_ms_1h": self.worst_p95_ms_1h,
            "worst_query_full": self.worst_query_full,
            "baseline_raw_p95_ms_full": self.baseline_raw_p95_ms_full,
            "rollup_p95_ms_full": self.rollup_p95_ms_full,
            "speedup_vs_raw": self.speedup_vs_raw,
        }
        for q in self.queries:
            figures[f"p50/p95 ms [{q.range}] {q.where}"] = f"{q.p50_ms:.1f} / {q.p95_ms:.1f}"
        return figures


def bench_config(n_tags: int) -> PlantConfig:
    """One casting line with ``n_tags`` charted scalar tags t000... and a thickness profile."""
    tags = [
        Tag(
            name=f"t{i:03d}",
            node_id=f"ns=2;i={i + 1}",
            unit="um",
            spec=SpecLimits(lsl=47, target=50, usl=53),
            spc=SpcSettings(chart="imr"),
        )
        for i in range(n_tags)
    ]
    profile = Tag(name="profile_um", node_id="ns=2;i=9999", kind="profile", unit="um")
    line = Line(
        name="bench-line",
        kind="casting",
        opcua=OpcUa(endpoint="opc.tcp://127.0.0.1:4840/"),
        tags=[*tags, profile],
    )
    return PlantConfig(plant=Plant(site="bench", area="bench"), lines=[line])


@contextmanager
def _scratch_database(admin_url: str) -> Iterator[Engine]:
    with scratch_database(admin_url, "plantqc_bench_grafana") as url:
        engine = connect(url)
        try:
            yield engine
        finally:
            engine.dispose()


def _load(engine: Engine, config: PlantConfig, days: float, rate_hz: float) -> int:
    refs = sync_config(engine, config)
    scalar = [ref.tag_id for (_, name), ref in refs.items() if name != "profile_um"]
    step = f"{1 / rate_hz} seconds"
    start = END - timedelta(days=days)
    chunk = timedelta(hours=6)
    with engine.begin() as connection:
        at = start
        while at < END:
            upto = min(at + chunk, END)
            connection.exec_driver_sql(
                "INSERT INTO samples (tag_id, ts, value, status, ts_origin) "
                "SELECT t, ts, 50 + random() - 0.5, 0, 0 FROM unnest(%(tags)s::int[]) AS t, "
                "generate_series(%(a)s::timestamptz, %(b)s::timestamptz - %(step)s::interval, "
                "%(step)s::interval) AS ts",
                {"tags": scalar, "a": at, "b": upto, "step": step},
            )
            connection.exec_driver_sql(
                'INSERT INTO profiles (tag_id, ts, "values", status, ts_origin) '
                "SELECT %(p)s, ts, ARRAY(SELECT 50 + random() FROM generate_series(1, 50)), 0, 0 "
                "FROM generate_series(%(a)s::timestamptz, %(b)s::timestamptz - '5 s'::interval, "
                "'5 seconds'::interval) AS ts",
                {"p": refs[("bench-line", "profile_um")].tag_id, "a": at, "b": upto},
            )
            at = upto
        connection.exec_driver_sql("ANALYZE")
        return int(connection.exec_driver_sql("SELECT count(*) FROM samples").scalar_one())


def _latencies(engine: Engine, text: str, repeats: int) -> tuple[float, float]:
    raw = engine.raw_connection()
    try:
        driver = raw.driver_connection
        assert driver is not None
        times = []
        with driver.cursor() as cursor:
            for _ in range(repeats):
                start = time.perf_counter()
                cursor.execute(text.encode())
                cursor.fetchall()
                times.append((time.perf_counter() - start) * 1000)
        raw.rollback()
    finally:
        raw.close()
    p50, p95 = np.percentile(times, [50, 95])
    return float(p50), float(p95)


def run_grafana_bench(
    admin_url: str, *, tags: int = 50, days: float = 7, rate_hz: float = 1, repeats: int = 10
) -> GrafanaBenchResult:
    """Load the data, then time every panel query of the generated dashboards."""
    config = bench_config(tags)
    ranges = {"full": END - timedelta(days=days), "1h": END - timedelta(hours=1)}
    with _scratch_database(admin_url) as engine:
        upgrade(engine)
        start = time.perf_counter()
        samples = _load(engine, config, days, rate_hz)
        load_seconds = time.perf_counter() - start
        found = [q for board in dashboards(config) for q in queries(to_json(board))]
        results = []
        for name, start in ranges.items():
            for query in found:
                # Grafana's interval for this panel: from its maxDataPoints, else its width
                points = query.max_data_points or MAX_DATA_POINTS
                time_range = TimeRange.for_panel(start, END, points)
                text = grafana_sql(query.raw_sql, time_range, _VALUES, _ALL_VALUES)
                p50, p95 = _latencies(engine, text, repeats)
                results.append(
                    QueryLatency(f"{query.dashboard_uid}: {query.where}", name, p50, p95)
                )
        series = sql.value_series("t000")
        week = TimeRange.for_panel(ranges["full"], END, MAX_DATA_POINTS)
        rollup = grafana_sql(series, week, _VALUES)
        forced_raw = grafana_sql(series.replace("$__interval_ms", "0"), week, _VALUES)
        rollup_p95 = _latencies(engine, rollup, repeats)[1]
        raw_p95 = _latencies(engine, forced_raw, repeats)[1]
    worst = {r: max((q for q in results if q.range == r), key=lambda q: q.p95_ms) for r in ranges}
    return GrafanaBenchResult(
        samples=samples,
        load_seconds=load_seconds,
        queries=tuple(results),
        worst_p95_ms_full=worst["full"].p95_ms,
        worst_p95_ms_1h=worst["1h"].p95_ms,
        worst_query_full=worst["full"].where,
        baseline_raw_p95_ms_full=raw_p95,
        rollup_p95_ms_full=rollup_p95,
        speedup_vs_raw=raw_p95 / rollup_p95,
    )
