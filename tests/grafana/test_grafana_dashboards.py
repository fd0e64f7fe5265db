"""Generated dashboards: SDK schema, panel types, round-trip, thresholds, and Cpk from SQL."""

from __future__ import annotations

import json
from datetime import timedelta

import numpy as np
import pytest
from grafana_foundation_sdk.models.dashboard import Dashboard
from sqlalchemy import Engine
from sqlalchemy.exc import ProgrammingError

from plantqc.config import PlantConfig
from plantqc.grafana import sql
from plantqc.grafana.dashboards import dashboards, line_dashboard, queries, to_json
from plantqc.grafana.macros import TimeRange, grafana_sql
from plantqc.grafana.query import PostgresQuery

from .conftest import END, START


def test_dashboards_carry_the_sdk_schema_version(casting_config: PlantConfig) -> None:
    assert {to_json(b)["schemaVersion"] for b in dashboards(casting_config)} == {
        Dashboard().schema_version
    }


def test_line_dashboard_has_every_panel_type_the_issue_names(casting_config: PlantConfig) -> None:
    board = to_json(line_dashboard(casting_config, casting_config.lines[0]))
    types = {p["type"] for p in board["panels"]}
    assert {"stat", "timeseries", "heatmap", "table", "bargauge", "row"} == types
    charted = [t for t in casting_config.lines[0].tags if t.spc is not None]
    titles = {p["title"] for p in board["panels"] if p["type"] == "timeseries"}
    assert {f"{t.name} [{t.unit}]" for t in charted if t.kind == "scalar"} <= titles
    profiles = [t for t in charted if t.kind == "profile"]
    assert profiles
    assert {f"{t.name}: per-scan mean and CD 2 sigma [{t.unit}]" for t in profiles} <= titles


def test_a_line_with_control_loops_gets_their_panels_and_the_2sigma_trends(
    casting_config: PlantConfig,
) -> None:
    line = casting_config.lines[0]
    board = to_json(line_dashboard(casting_config, line))
    titles = [p["title"] for p in board["panels"]]
    at = titles.index("Thickness control")
    assert titles[at + 1 : at + 6] == [
        "casting-1.md: mode",
        "casting-1.md: pump setpoint [mL/min]",
        "casting-1.md: moves",
        "casting-1.md: dry_thickness_um vs target [um]",
        "Thickness 2σ: MD and CD",
    ]
    trends = next(p for p in board["panels"] if p["title"] == "Thickness 2σ: MD and CD")
    assert [t["refId"] for t in trends["targets"]] == ["A", "B"]
    uncontrolled = line.model_copy(update={"control": None})
    board = to_json(line_dashboard(casting_config, uncontrolled))
    assert "Thickness control" not in [p["title"] for p in board["panels"]]


def test_dashboard_json_round_trips_through_the_sdk(casting_config: PlantConfig) -> None:
    for board in dashboards(casting_config):
        exported = to_json(board)
        decoded = to_json(Dashboard.from_json(json.loads(json.dumps(exported))))
        # the SDK models built-in annotations only: an annotation's SQL target is not decoded
        for side in (exported, decoded):
            for annotation in side.get("annotations", {}).get("list", []):
                annotation.pop("target", None)
        assert decoded == exported


def test_panel_queries_decode_as_postgres_queries(casting_config: PlantConfig) -> None:
    board = Dashboard.from_json(to_json(line_dashboard(casting_config, casting_config.lines[0])))
    targets = [t for p in board.panels or [] for t in (getattr(p, "targets", None) or [])]
    assert targets and all(isinstance(t, PostgresQuery) and t.raw_sql for t in targets)


def test_stat_thresholds_follow_the_spec_limits(casting_config: PlantConfig) -> None:
    board = to_json(line_dashboard(casting_config, casting_config.lines[0]))
    stat = next(p for p in board["panels"] if p["title"] == "web_speed_m_min")
    steps = stat["fieldConfig"]["defaults"]["thresholds"]["steps"]
    assert steps == [
        {"value": None, "color": "red"},
        {"value": 1.8, "color": "green"},
        {"value": 2.2, "color": "red"},
    ]


def test_one_sided_spec_colours_only_beyond_the_usl(casting_config: PlantConfig) -> None:
    board = to_json(line_dashboard(casting_config, casting_config.lines[0]))
    stat = next(p for p in board["panels"] if p["title"] == "dew_point_c")
    assert stat["fieldConfig"]["defaults"]["thresholds"]["steps"] == [
        {"value": None, "color": "green"},
        {"value": -40.0, "color": "red"},
    ]


def test_every_query_reads_only_the_grafana_schema(casting_config: PlantConfig) -> None:
    for board in dashboards(casting_config):
        for query in queries(to_json(board)):
            assert " public." not in query.raw_sql and "grafana." in query.raw_sql


def test_cpk_and_ppk_from_sql_match_the_defining_formulas(grafana_db: Engine) -> None:
    """Cpk = min(USL - mean, mean - LSL) / (3 sigma) (Montgomery, ISQC 8th ed., eq. 8.7)."""
    query = grafana_sql(
        sql.capability("casting-1"), TimeRange.for_panel(START, END + timedelta(minutes=1)), {}
    )
    with grafana_db.connect() as connection:
        rows = {r.tag: r for r in connection.exec_driver_sql(query)}
        values = np.array(
            connection.exec_driver_sql(
                "SELECT value FROM grafana.samples WHERE good AND tag_id = "
                "(SELECT id FROM grafana.tags WHERE name = 'web_speed_m_min')"
            )
            .scalars()
            .all()
        )
    mean, s = values.mean(), values.std(ddof=1)
    expected_ppk = min(2.2 - mean, mean - 1.8) / (3 * s)
    expected_cpk = min(2.2 - mean, mean - 1.8) / (3 * 0.05)  # sigma of limits version 2
    web = rows["web_speed_m_min"]
    assert web.n == len(values)
    assert web.Ppk == pytest.approx(expected_ppk, rel=1e-9)
    assert web.Cpk == pytest.approx(expected_cpk, rel=1e-9)
    assert "dew_point_c" not in rows  # one-sided spec: no Cpk


def test_read_only_role_can_select_views_but_never_write(grafana_db: Engine) -> None:
    with grafana_db.connect() as connection:
        connection.exec_driver_sql("SET ROLE plantqc_grafana_ro")
        assert connection.exec_driver_sql("SELECT count(*) FROM grafana.samples").scalar()
        for statement in (
            "INSERT INTO public.samples VALUES (1, now(), 1.0, 0, 0)",
            "INSERT INTO grafana.samples_1m VALUES (1, now(), 1, 1, 1, 1, 1, 1)",
            "DELETE FROM grafana.samples",
            "SELECT * FROM public.audit_log",
        ):
            with (
                pytest.raises(ProgrammingError, match="permission denied"),
                connection.begin_nested(),
            ):
                connection.exec_driver_sql(statement)
        connection.rollback()
