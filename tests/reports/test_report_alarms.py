"""The alarm list of a report: each alarm with the signals that raised it inside the lot's time
range, its state, acknowledgement and assignable cause, even when it chattered across lots."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from report_helpers import T0, Tables, store_lot
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from plantqc.alarms import SENSOR_FAULT_KIND, SPC_KIND
from plantqc.config import LoadedConfig
from plantqc.reports.issue import generate_report
from plantqc.store.models import Alarm, AlarmState, Tag, Violation

INSIDE_S = (10, 100, 500)
"""Seconds into LOT-0001 (T0 to T0 + 600 s) of the alarm's signals inside the lot."""


def _alarm(session: Session, line_id: int, tag_id: int, kind: str, code: str, count: int) -> Alarm:
    """An acknowledged alarm with a cause, active from an hour before LOT-0001 to two after."""
    row = Alarm(
        line_id=line_id, tag_id=tag_id, kind=kind, code=code, priority="high",
        state=AlarmState.ACTIVE_ACKED, message=f"{code} fired", first_at=T0 - timedelta(hours=1),
        last_at=T0 + timedelta(hours=2), count=count, acked_by="op.kim",
        acked_at=T0 + timedelta(minutes=3), cause="slot-die lip build-up",
    )  # fmt: skip
    session.add(row)
    session.flush()
    return row


def _signal(session: Session, tag_id: int, chart: str, rule: str, at: datetime) -> None:
    session.add(Violation(tag_id=tag_id, chart=chart, rule=rule, ts=at, value=2.3, points={}))


@pytest.fixture
def alarmed(
    sqlite_store: Engine, config: LoadedConfig, tmp_path: Path
) -> tuple[dict[str, Any], Tables]:
    """LOT-0001 and, on its line, a web-speed alarm ``we1`` of 12 signals: 5 before the lot,
    3 inside it (`INSIDE_S`), 4 after; a CD-mean alarm ``cd_mean:we1``; a sensor-fault alarm
    of 7 faults.  Signals of other rules, charts and tags stand beside them."""
    tags = store_lot(sqlite_store, config.config)
    speed, profile, zone = (
        tags["web_speed_m_min"], tags["dry_thickness_profile_um"], tags["dryer_zone1_temp_c"],
    )  # fmt: skip
    with Session(sqlite_store) as session, session.begin():
        line_id = session.get_one(Tag, speed).line_id
        _alarm(session, line_id, speed, SPC_KIND, "we1", 12)
        _alarm(session, line_id, profile, SPC_KIND, "cd_mean:we1", 2)
        _alarm(session, line_id, speed, SENSOR_FAULT_KIND, "bad-quality", 7)
        for minutes in (-50, -40, -30, -20, -10):
            _signal(session, speed, "i", "we1", T0 + timedelta(minutes=minutes))
        for seconds in INSIDE_S:
            _signal(session, speed, "i", "we1", T0 + timedelta(seconds=seconds))
        for minutes in (20, 40, 60, 100):
            _signal(session, speed, "i", "we1", T0 + timedelta(minutes=minutes))
        _signal(session, speed, "i", "we4", T0 + timedelta(seconds=200))  # another rule
        _signal(session, speed, "mr", "we1", T0 + timedelta(seconds=250))  # alarm mr:we1
        _signal(session, zone, "i", "we1", T0 + timedelta(seconds=200))  # another tag
        _signal(session, profile, "cd_mean.ewma", "we1", T0 + timedelta(seconds=300))
        _signal(session, profile, "cd_2sigma.i", "we1", T0 + timedelta(seconds=300))  # other chart
    report = generate_report(sqlite_store, "LOT-0001", tmp_path / "out", loaded=config)
    doc = json.loads((report.folder / "report.json").read_text())
    return doc, Tables(report.html.read_text())


def _by_code(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {alarm["code"]: alarm for alarm in doc["alarms"]}


def test_an_alarm_counts_only_its_signals_inside_the_lot(alarmed) -> None:
    doc, _ = alarmed
    alarm = _by_code(doc)["we1"]
    assert alarm["in_range"] == {
        "count": 3,
        "first_at": (T0 + timedelta(seconds=INSIDE_S[0])).isoformat(),
        "last_at": (T0 + timedelta(seconds=INSIDE_S[-1])).isoformat(),
    }
    assert (alarm["count"], alarm["state"]) == (12, "active-acknowledged")
    assert (alarm["acked_by"], alarm["cause"]) == ("op.kim", "slot-die lip build-up")


def test_a_profile_alarm_counts_the_signals_of_its_own_chart_only(alarmed) -> None:
    doc, _ = alarmed
    assert _by_code(doc)["cd_mean:we1"]["in_range"]["count"] == 1


def test_the_alarm_table_shows_the_signals_in_the_lot_with_ack_and_cause(alarmed) -> None:
    doc, tables = alarmed
    cells = tables.table("alarms")[str(_by_code(doc)["we1"]["id"])]
    signals, first_last, acked, cause = cells[5:]
    assert signals == "3\nof 12"
    assert first_last == "2026-01-15 08:00:10 UTC\n2026-01-15 08:08:20 UTC"
    assert acked == "op.kim\n2026-01-15 08:03:00 UTC"
    assert cause == "slot-die lip build-up"


def test_a_sensor_fault_alarm_is_shown_whole_without_a_signal_count(alarmed) -> None:
    doc, tables = alarmed
    alarm = _by_code(doc)["bad-quality"]
    assert alarm["in_range"] is None
    signals, first_last = tables.table("alarms")[str(alarm["id"])][5:7]
    assert signals == "–\n7 in all"
    assert first_last.endswith("(whole alarm)")
