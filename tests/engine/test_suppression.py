"""Suppressed by design: the alarms of a stopped line (running: {tag: speed, above: 0.1})."""

from __future__ import annotations

from pathlib import Path

from engine_helpers import feed, freeze
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from plantqc.charting.runner import SpcEngine
from plantqc.config import load_config
from plantqc.store import TagRef
from plantqc.store.models import Alarm, AlarmState, AuditLog


def _alarm(
    engine: Engine, tag_id: int, code: str | None = None
) -> tuple[Alarm, list[tuple[str, str]]]:
    """The tag's one alarm (of ``code``) and its audit trail as (action, state after it)."""
    with Session(engine) as session:
        query = select(Alarm).where(Alarm.tag_id == tag_id)
        if code is not None:
            query = query.where(Alarm.code == code)
        [alarm] = session.scalars(query).all()
        trail = session.scalars(
            select(AuditLog)
            .where(AuditLog.entity == "alarm", AuditLog.entity_id == str(alarm.id))
            .order_by(AuditLog.id)
        ).all()
        return alarm, [(a.action, (a.detail or {})["state"]) for a in trail]


def _engine(store: Engine, config_path: Path) -> SpcEngine:
    return SpcEngine(store, config=load_config(config_path).config, rtn_after=10)


SUPPRESSED_AND_BACK = [
    ("alarm-raise", AlarmState.ACTIVE_UNACKED),
    ("alarm-suppress", AlarmState.SUPPRESSED),
    ("alarm-unsuppress", AlarmState.ACTIVE_UNACKED),
    ("alarm-return", AlarmState.RTN_UNACKED),
]


def _stop_and_run_again(
    store: Engine, tags: dict[str, TagRef], config_path: Path, code: str
) -> tuple[Alarm, list[tuple[str, str]]]:
    """Speed 1 (running) for 10 s, 0 (stopped) for 10 s, 1 again; z beyond its limits at 2 s
    and again at 12 s, while stopped; the alarm ``code`` of z and its trail."""
    feed(store, tags["speed"].tag_id, [1.0] * 10 + [0.0] * 10 + [1.0] * 15)
    z = [10.0] * 35
    z[2], z[12] = 14.0, 6.0
    freeze(store, tags["z"])  # 10 +/- 3
    tag = tags["z"].tag_id
    feed(store, tag, z)
    _engine(store, config_path).process(tag)
    return _alarm(store, tag, code)


def test_an_alarm_is_suppressed_while_the_line_stops_and_back_when_it_runs(
    sqlite_store: Engine, sqlite_tags: dict[str, TagRef], config_path: Path
) -> None:
    alarm, trail = _stop_and_run_again(sqlite_store, sqlite_tags, config_path, "nelson1")
    # the individuals' rule last fired at 12 s: still active when the line runs again at
    # 20 s, returned 10 quiet points later
    assert trail == SUPPRESSED_AND_BACK
    # the individuals at 2 s and 12 s: two firings, counted on the one alarm, the one while
    # stopped without a word
    assert alarm.count == 2


def test_the_moving_range_alarm_of_a_stopped_line_is_suppressed_alike(
    sqlite_store: Engine, sqlite_tags: dict[str, TagRef], config_path: Path
) -> None:
    alarm, trail = _stop_and_run_again(sqlite_store, sqlite_tags, config_path, "mr:nelson1")
    # the moving ranges into and out of each outlier: four firings; the last, a second after
    # the outlier at 12 s, is still active when the line runs again at 20 s
    assert trail == SUPPRESSED_AND_BACK
    assert alarm.count == 4


def test_an_alarm_raised_and_gone_while_the_line_is_stopped_closes_unannounced(
    sqlite_store: Engine, sqlite_tags: dict[str, TagRef], config_path: Path
) -> None:
    feed(sqlite_store, sqlite_tags["speed"].tag_id, [0.0] * 30)
    z = [10.0] * 30
    z[2] = 14.0
    freeze(sqlite_store, sqlite_tags["z"])
    tag = sqlite_tags["z"].tag_id
    feed(sqlite_store, tag, z)
    _engine(sqlite_store, config_path).process(tag)
    alarm, trail = _alarm(sqlite_store, tag, "nelson1")
    assert trail == [
        ("alarm-raise", AlarmState.SUPPRESSED),
        ("alarm-return", AlarmState.NORMAL),  # nobody saw it: nothing to acknowledge
    ]
    assert alarm.state == AlarmState.NORMAL


def test_a_sensor_fault_of_a_stopped_line_is_suppressed(
    sqlite_store: Engine, sqlite_tags: dict[str, TagRef], config_path: Path
) -> None:
    bad = 0x80000000
    feed(sqlite_store, sqlite_tags["speed"].tag_id, [0.0] * 5)
    tag = sqlite_tags["z"].tag_id
    feed(sqlite_store, tag, [0.0] * 5, status=[bad] * 5)
    _engine(sqlite_store, config_path).process(tag)
    alarm, _ = _alarm(sqlite_store, tag)
    assert (alarm.kind, alarm.code, alarm.state) == (
        "sensor-fault",
        "bad-quality",
        AlarmState.SUPPRESSED,
    )
