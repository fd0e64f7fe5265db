"""Every SQL query of every generated panel, variable and annotation runs on real PostgreSQL.

Each query is expanded as Grafana expands it (variables, then $__interval and the PostgreSQL
macros) for two ranges: the last hour (raw samples) and the whole simulated day (the minute
rollup), and must return the columns its panel type reads.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import numpy as np
import pytest
import yaml
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from plantqc.alarms.history import line_histories
from plantqc.alarms.kpi import line_kpi
from plantqc.config import PlantConfig, load_config
from plantqc.control.settings import CdLoopSettings
from plantqc.grafana import sql
from plantqc.grafana.dashboards import (
    HEATMAP_MAX_DATA_POINTS,
    PanelQuery,
    dashboards,
    queries,
    to_json,
)
from plantqc.grafana.macros import ALL, TimeRange, grafana_sql
from plantqc.quality import GOOD_BELOW
from plantqc.store.models import ControlLimits, Line, Tag

from .conftest import CD_SETPOINT, END, EXAMPLES, MD_MOVES, START

# the columns Grafana reads for each kind of panel (docs: "PostgreSQL query editor")
TIME_COLUMNS = {"time"}
ANNOTATION_COLUMNS = {"time", "text", "tags"}
VALUES = {"line": "casting-1", "tag": ["web_speed_m_min", "dew_point_c"], "lot": ALL}
ALL_VALUES = {"lot": "'__all'"}
RANGES = {
    "last-hour": TimeRange.for_panel(END - timedelta(hours=1), END, 1000),
    "whole-day": TimeRange.for_panel(START, END, 1000),
}
CONFIG = load_config(EXAMPLES / "casting.yaml").config
SAMPLE_CONTROL = EXAMPLES.parent / "plantqc" / "control" / "samples" / "control.yaml"


def _with_cd_loop(config: PlantConfig) -> PlantConfig:
    """The example config with the sample's CD loop added to its line (it has an MD loop)."""
    cd = yaml.safe_load(SAMPLE_CONTROL.read_text())["control"]["cd"]
    line = config.lines[0]
    assert line.control is not None
    control = line.control.model_copy(update={"cd": CdLoopSettings.model_validate(cd)})
    return config.model_copy(
        update={"lines": [line.model_copy(update={"control": control}), *config.lines[1:]]}
    )


QUERIES = [q for board in dashboards(CONFIG) for q in queries(to_json(board))]
# a CD loop's panels too: the example line has an MD loop only
QUERIES += [
    q
    for board in dashboards(_with_cd_loop(CONFIG))
    for q in queries(to_json(board))
    if q.raw_sql not in {known.raw_sql for known in QUERIES}
]


def _run(engine: Engine, query: PanelQuery, time_range: TimeRange) -> tuple[list[str], list[Any]]:
    text = grafana_sql(query.raw_sql, time_range, VALUES, ALL_VALUES)
    raw = engine.raw_connection()
    try:
        # the driver cursor without parameters, as Grafana sends it: '%' in names stays literal
        with raw.driver_connection.cursor() as cursor:  # type: ignore[union-attr]
            cursor.execute(text.encode())
            return [c.name for c in cursor.description or []], cursor.fetchall()
    finally:
        raw.close()


def test_the_day_range_reads_the_rollup_and_the_hour_range_raw_samples() -> None:
    assert RANGES["whole-day"].interval_ms >= sql.ROLLUP_FROM_MS > RANGES["last-hour"].interval_ms


@pytest.mark.parametrize("range_name", list(RANGES))
@pytest.mark.parametrize("query", QUERIES, ids=[f"{q.dashboard_uid}:{q.where}" for q in QUERIES])
def test_query_returns_the_columns_its_panel_needs(
    grafana_db: Engine, query: PanelQuery, range_name: str
) -> None:
    columns, rows = _run(grafana_db, query, RANGES[range_name])
    assert rows, f"{query.where} returned no rows from a day of simulated data"
    if query.kind == "annotation":
        assert set(columns) >= ANNOTATION_COLUMNS
    elif query.kind == "variable":
        assert columns[0] in ("__text", "name", "code")
    elif query.format == "time_series":
        assert columns[0] == "time"
        values = [c for c in columns if c not in ("time", "metric")]
        assert values and all(_numeric(row[columns.index(c)]) for row in rows for c in values)
        times = [_seconds(row[0]) for row in rows]
        assert times == sorted(times), "Grafana needs time series sorted by time"
    else:
        assert columns


def _numeric(value: object) -> bool:
    return value is None or isinstance(value, (int, float, Decimal))


def _seconds(value: object) -> float:
    return value.timestamp() if isinstance(value, datetime) else float(value)  # type: ignore[arg-type]


def test_rollup_means_equal_the_means_of_raw_samples(grafana_db: Engine) -> None:
    """Minute buckets from the rollup and from raw Good samples agree to rounding (exact sums)."""
    minute = TimeRange(START, END, 60_000)
    raw = TimeRange(START, END, 59_999)  # one ms below the switch: the raw branch
    series = sql.value_series("web_speed_m_min")
    rollup = _series(grafana_db, series, minute)
    direct = _series(grafana_db, series.replace("$__interval)", "'1m')"), raw)
    assert rollup.keys() == direct.keys() and len(rollup) == 24 * 60 + 1
    for key, value in rollup.items():
        assert value == pytest.approx(direct[key], rel=1e-12)


def _series(engine: Engine, text: str, time_range: TimeRange) -> dict[float, float]:
    query = PanelQuery("", "", "timeseries", text, "time_series")
    _, rows = _run(engine, query, time_range)
    return {float(t): float(v) for t, v in rows}


HEATMAP = "dry_thickness_profile_um"


def test_a_week_of_heatmap_reads_the_hourly_rollup_a_day_the_minute_one_an_hour_raw_scans() -> None:
    def interval(span: timedelta) -> int:
        return TimeRange.for_panel(END - span, END, HEATMAP_MAX_DATA_POINTS).interval_ms

    assert interval(timedelta(days=7)) >= sql.HOURLY_FROM_MS
    assert sql.ROLLUP_FROM_MS <= interval(timedelta(days=1)) < sql.HOURLY_FROM_MS
    assert interval(timedelta(hours=1)) < sql.ROLLUP_FROM_MS


@pytest.mark.parametrize("interval_ms", [60_000, 300_000, 3_600_000, 7_200_000])
def test_heatmap_means_equal_the_means_of_good_raw_scans(
    grafana_db: Engine, interval_ms: int
) -> None:
    """Per bucket and position: the mean of position i over the Good scans in the bucket."""
    heatmap = _heatmap(grafana_db, sql.profile_heatmap(HEATMAP), TimeRange(START, END, interval_ms))
    expected = _good_scan_means(grafana_db, interval_ms)
    assert heatmap.keys() == expected.keys()
    for key, value in heatmap.items():
        assert value == pytest.approx(expected[key], rel=1e-12), key


def _heatmap(engine: Engine, text: str, time_range: TimeRange) -> dict[tuple[float, str], float]:
    query = PanelQuery("", "", "heatmap", text, "time_series")
    _, rows = _run(engine, query, time_range)
    return {(float(t), position): float(v) for t, position, v in rows}


def _good_scan_means(engine: Engine, interval_ms: int) -> dict[tuple[float, str], float]:
    """The defining formula, from the stored scans in the range [START, END]."""
    with engine.connect() as connection:
        scans = connection.exec_driver_sql(
            'SELECT ts, "values", status FROM profiles WHERE ts BETWEEN %(a)s AND %(b)s',
            {"a": START, "b": END},
        ).all()
    step = interval_ms / 1000
    groups: dict[float, list[list[float]]] = {}
    for ts, values, status in scans:
        if status < GOOD_BELOW:
            groups.setdefault(ts.timestamp() // step * step, []).append(values)
    return {
        (bucket, f"{i + 1:03d}"): float(np.mean([scan[i] for scan in group]))
        for bucket, group in groups.items()
        for i in range(len(group[0]))
    }


def test_scan_series_gives_the_mean_and_twice_the_sd_of_each_good_scan(grafana_db: Engine) -> None:
    """spc.profile_statistics' mean and two_sigma (2 x sample sd across the web), per minute."""
    raw = TimeRange(START, END, 59_999)  # the raw branch, buckets of one minute
    text = sql.profile_scan_series(HEATMAP).replace("$__interval)", "'1m')")
    _, rows = _run(grafana_db, PanelQuery("", "", "timeseries", text, "time_series"), raw)
    with grafana_db.connect() as connection:
        scans = connection.exec_driver_sql(
            'SELECT ts, "values", status FROM profiles WHERE ts BETWEEN %(a)s AND %(b)s',
            {"a": START, "b": END},
        ).all()
    groups: dict[float, list[list[float]]] = {}
    for ts, values, status in scans:
        if status < GOOD_BELOW:
            groups.setdefault(ts.timestamp() // 60 * 60, []).append(values)
    assert {float(t) for t, _, _ in rows} == set(groups)
    for t, mean, two_sigma in rows:
        group = groups[float(t)]
        assert float(mean) == pytest.approx(np.mean([np.mean(s) for s in group]), rel=1e-12)
        expected = np.mean([2 * np.std(s, ddof=1) for s in group])
        assert float(two_sigma) == pytest.approx(expected, rel=1e-9)


def test_scan_means_from_the_rollup_equal_those_of_raw_scans(grafana_db: Engine) -> None:
    text = sql.profile_scan_series(HEATMAP)
    query = PanelQuery("", "", "timeseries", text, "time_series")
    _, rollup = _run(grafana_db, query, TimeRange(START, END, 60_000))
    raw = text.replace("$__interval)", "'1m')")
    direct_query = PanelQuery("", "", "timeseries", raw, "time_series")
    _, direct = _run(grafana_db, direct_query, TimeRange(START, END, 59_999))
    assert [float(r[0]) for r in rollup] == [float(r[0]) for r in direct]
    for (_, mean, two_sigma), (_, raw_mean, _) in zip(rollup, direct, strict=True):
        assert float(mean) == pytest.approx(float(raw_mean), rel=1e-12)
        assert two_sigma is None  # a spread is not recoverable from summed profiles


def test_gaps_per_tag_count_the_seconds_of_each_gap_inside_the_range(grafana_db: Engine) -> None:
    # conftest records one 12 s gap of web_speed_m_min, 40 min before the end of the day
    query = PanelQuery("plantqc-casting-1", "gaps", "table", sql.data_gaps_per_tag(), "table")
    columns, rows = _run(grafana_db, query, RANGES["last-hour"])
    (row,) = rows
    assert row[columns.index("tag")] == "web_speed_m_min"
    assert row[columns.index("gaps")] == 1
    assert float(row[columns.index("missing_s")]) == 12.0
    # a range that ends inside the gap counts only the part of the gap it holds
    inside = TimeRange.for_panel(
        END - timedelta(hours=1), END - timedelta(minutes=39, seconds=53), 1000
    )
    columns, (row,) = _run(grafana_db, query, inside)
    assert float(row[columns.index("missing_s")]) == 7.0


MD_TAG, MD_TARGET = "dry_thickness_um", 50.0


def _good_samples(engine: Engine, tag: str) -> list[tuple[datetime, float]]:
    with engine.connect() as connection:
        return connection.exec_driver_sql(
            "SELECT s.ts, s.value FROM samples s JOIN tags t ON t.id = s.tag_id "
            "WHERE t.name = %(tag)s AND s.status < %(good)s AND s.ts BETWEEN %(a)s AND %(b)s",
            {"tag": tag, "good": GOOD_BELOW, "a": START, "b": END},
        ).all()


def test_md_2sigma_is_twice_the_rms_deviation_from_target_of_each_minutes_good_samples(
    grafana_db: Engine,
) -> None:
    text = sql.md_two_sigma_series(MD_TAG, MD_TARGET).replace("$__interval)", "'1m')")
    raw = TimeRange(START, END, 59_999)  # the raw branch, buckets of one minute
    _, rows = _run(grafana_db, PanelQuery("", "", "timeseries", text, "time_series"), raw)
    groups: dict[float, list[float]] = {}
    for ts, value in _good_samples(grafana_db, MD_TAG):
        groups.setdefault(ts.timestamp() // 60 * 60, []).append(value)
    assert {float(t) for t, _ in rows} == set(groups)
    for t, two_sigma in rows:
        deviation = np.array(groups[float(t)]) - MD_TARGET
        assert float(two_sigma) == pytest.approx(2 * np.sqrt(np.mean(deviation**2)), rel=1e-9)


def test_md_2sigma_from_the_rollup_equals_that_of_raw_samples(grafana_db: Engine) -> None:
    series = sql.md_two_sigma_series(MD_TAG, MD_TARGET)
    rollup = _series(grafana_db, series, TimeRange(START, END, 60_000))
    direct = _series(
        grafana_db, series.replace("$__interval)", "'1m')"), TimeRange(START, END, 59_999)
    )
    assert rollup.keys() == direct.keys()
    for key, value in rollup.items():
        # S2 - 2 r S1 + n r^2 cancels to ~1e-3 of S2: relative rounding of ~1e-13 * 1e3
        assert value == pytest.approx(direct[key], rel=1e-8)


def test_cd_2sigma_pools_each_good_scans_deviations_from_its_own_mean(grafana_db: Engine) -> None:
    text = sql.cd_two_sigma_series(HEATMAP)
    _, rows = _run(
        grafana_db,
        PanelQuery("", "", "timeseries", text, "time_series"),
        TimeRange(START, END, 300_000),  # five-minute buckets, still raw scans
    )
    with grafana_db.connect() as connection:
        scans = connection.exec_driver_sql(
            'SELECT ts, "values", status FROM profiles WHERE ts BETWEEN %(a)s AND %(b)s',
            {"a": START, "b": END},
        ).all()
    groups: dict[float, list[np.ndarray]] = {}
    for ts, values, status in scans:
        if status < GOOD_BELOW:
            groups.setdefault(ts.timestamp() // 300 * 300, []).append(np.array(values))
    assert {float(t) for t, _ in rows} == set(groups)
    for t, two_sigma in rows:
        deviations = np.concatenate([s - s.mean() for s in groups[float(t)]])
        assert float(two_sigma) == pytest.approx(2 * np.sqrt(np.mean(deviations**2)), rel=1e-9)
    # an hour's buckets are past what raw scans may serve
    _, empty = _run(
        grafana_db,
        PanelQuery("", "", "timeseries", text, "time_series"),
        TimeRange(START, END, sql.HOURLY_FROM_MS),
    )
    assert empty == []


def test_the_setpoint_steps_through_the_applied_moves_from_the_one_in_force_at_the_start(
    grafana_db: Engine,
) -> None:
    query = PanelQuery("", "", "timeseries", sql.loop_setpoint("casting-1.md"), "time_series")
    _, rows = _run(grafana_db, query, RANGES["last-hour"])
    steps = [(_seconds(t), v) for t, v in rows]
    start, end = END - timedelta(hours=1), END
    (before, *_), inside = MD_MOVES, MD_MOVES[1:]
    assert steps == [
        (start.timestamp(), before[2]),
        *(((END - timedelta(minutes=m)).timestamp(), new) for m, _, new in inside),
        (end.timestamp(), inside[-1][2]),
    ]


def test_a_cd_loops_setpoint_is_its_largest_die_bolt_away_from_zero(grafana_db: Engine) -> None:
    query = PanelQuery("", "", "timeseries", sql.loop_setpoint("casting-1.cd"), "time_series")
    _, rows = _run(grafana_db, query, RANGES["last-hour"])
    largest = max(abs(v) for v in CD_SETPOINT)
    assert [v for _, v in rows] == [None, largest, largest]


@pytest.mark.parametrize(("loop", "mode"), [("casting-1.md", 2), ("casting-1.cd", 3)])
def test_the_mode_panel_reads_closed_or_held(grafana_db: Engine, loop: str, mode: int) -> None:
    # the CD loop is in advisory but holds on a gauge fault: HELD outranks its mode
    columns, (row,) = _run(
        grafana_db, PanelQuery("", "", "stat", sql.loop_mode(loop), "table"), RANGES["last-hour"]
    )
    assert row[columns.index("mode")] == mode


def test_the_moves_table_lists_the_ranges_moves_newest_first(grafana_db: Engine) -> None:
    query = PanelQuery("", "", "table", sql.loop_moves("casting-1.md"), "table")
    columns, rows = _run(grafana_db, query, RANGES["last-hour"])
    kinds = [(r[columns.index("kind")], r[columns.index("new")]) for r in rows]
    assert kinds == [("held", "null"), ("applied", "20.4"), ("applied", "20.3")]


ALARM_SYSTEM = {
    "alarms_per_hour": sql.alarms_per_hour(),
    "peak_per_10min": sql.peak_per_10min(),
    "flood_pct": sql.flood_pct(),
    "chattering": sql.chattering_count(),
}


@pytest.mark.parametrize("range_name", list(RANGES))
def test_the_alarm_system_panels_show_the_figures_of_plantqc_alarms_kpi(
    grafana_db: Engine, range_name: str
) -> None:
    # conftest's alarms: a flood of 12 chattering Nelson 2 alarms 25 min before the end, WE 2
    # 50 and 5 min before it, Nelson 1 10 h before it; kpi reads the same audit trail rows
    time_range = RANGES[range_name]
    with Session(grafana_db) as session:
        line_id = session.scalars(select(Line.id).where(Line.name == "casting-1")).one()
        histories = line_histories(session, line_id, time_range.end)
    expected = line_kpi("casting-1", histories, time_range.start, time_range.end)
    figures = {}
    for name, text in ALARM_SYSTEM.items():
        query = PanelQuery("plantqc-casting-1", name, "stat", text, "table")
        _, [(value,)] = _run(grafana_db, query, time_range)
        figures[name] = value
    assert figures == {
        "alarms_per_hour": expected.alarms_per_hour,
        "peak_per_10min": expected.peak_per_10min,
        "flood_pct": expected.flood_pct,
        "chattering": expected.chattering,
    }
    query = PanelQuery("plantqc-casting-1", "top", "table", sql.top_alarms(), "table")
    _, rows = _run(grafana_db, query, time_range)
    assert rows == [(t.tag, t.rule, t.count) for t in expected.top]


def test_the_alarm_system_panels_count_the_flood_by_hand(grafana_db: Engine) -> None:
    # the last hour: 12 + 2 alarms; the flood's 12 in the 4th of its six 10-minute periods
    figures = {
        name: _run(
            grafana_db,
            PanelQuery("plantqc-casting-1", name, "stat", text, "table"),
            RANGES["last-hour"],
        )
        for name, text in ALARM_SYSTEM.items()
    }
    assert {name: rows[0][0] for name, (_, rows) in figures.items()} == {
        "alarms_per_hour": 14.0,
        "peak_per_10min": 12,
        "flood_pct": 100.0 / 6,
        "chattering": 1,
    }


def test_limit_lines_of_an_imr_chart_are_its_stored_limits(grafana_db: Engine) -> None:
    """Two I-MR versions of the web speed: v1 at 3 sigma (2.0 +/- 0.15), v2 from noon at
    limit_sigma 4 (2.01 +/- 0.2): each drawn as stored, not as CL +/- 3 sigma."""
    with Session(grafana_db) as session, session.begin():
        tag = session.scalars(select(Tag).where(Tag.name == "web_speed_m_min")).one()
        rows = [
            ControlLimits(
                tag_id=tag.id, chart="imr", version=version, basis="phase1", center=center,
                lcl=center - width * 0.05, ucl=center + width * 0.05, sigma=0.05,
                valid_from=since,
            )
            for version, center, width, since in (
                (1, 2.0, 3.0, START - timedelta(days=1)),
                (2, 2.01, 4.0, START + timedelta(hours=12)),
            )
        ]  # fmt: skip
        session.add_all(rows)
        session.flush()
        ids = [row.id for row in rows]
    try:
        query = PanelQuery("", "", "timeseries", sql.limit_series("web_speed_m_min", "imr"), "")
        columns, found = _run(grafana_db, query, RANGES["whole-day"])
    finally:
        with Session(grafana_db) as session, session.begin():
            for row_id in ids:
                session.delete(session.get(ControlLimits, row_id))
    named = [dict(zip(columns, row, strict=True)) for row in found]
    drawn = sorted({(float(r["CL"]), float(r["LCL"]), float(r["UCL"])) for r in named})
    assert drawn == [pytest.approx(v) for v in ((2.0, 1.85, 2.15), (2.01, 1.81, 2.21))]
