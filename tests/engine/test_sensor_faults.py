"""Sensor-fault alarms: a run of Bad samples, a stuck value, a silent tag; back with good data.
While a fault stands the tag's process rules and spec raise nothing: the fault stands alone."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from engine_helpers import feed, freeze
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from plantqc.charting.runner import SpcEngine
from plantqc.config import load_config
from plantqc.store import TagRef
from plantqc.store.engine_state import EngineState
from plantqc.store.models import Alarm, AlarmState, AuditLog, Violation

BAD = 0x80000000  # OPC UA Bad (Part 4 §7.39)
UNCERTAIN = 0x40000000


def _faults(engine: Engine, tag_id: int) -> list[Alarm]:
    with Session(engine) as session:
        return list(
            session.scalars(
                select(Alarm)
                .where(Alarm.tag_id == tag_id, Alarm.kind == "sensor-fault")
                .order_by(Alarm.id)
            )
        )


def _trail(engine: Engine, alarm_id: int) -> list[str]:
    with Session(engine) as session:
        return list(
            session.scalars(
                select(AuditLog.action)
                .where(AuditLog.entity == "alarm", AuditLog.entity_id == str(alarm_id))
                .order_by(AuditLog.id)
            )
        )


@pytest.fixture
def engine_with_config(sqlite_store: Engine, sqlite_tags: dict[str, TagRef], config_path: Path):
    """The engine with the plant config: it knows sampling intervals and running conditions."""
    return SpcEngine(sqlite_store, config=load_config(config_path).config)


def test_a_run_of_bad_samples_raises_a_sensor_fault_alarm(
    sqlite_store: Engine, sqlite_tags: dict[str, TagRef]
) -> None:
    tag = sqlite_tags["z"].tag_id  # bad_run: 3
    engine = SpcEngine(sqlite_store)
    feed(sqlite_store, tag, [10.0, 0.0, 0.0, 0.0], status=[0, BAD, UNCERTAIN, BAD])
    engine.process(tag)
    assert _faults(sqlite_store, tag) == []  # an Uncertain sample breaks the run
    feed(sqlite_store, tag, [0.0, 0.0], start=4, status=[BAD, BAD])
    engine.process(tag)
    [alarm] = _faults(sqlite_store, tag)
    assert (alarm.code, alarm.priority, alarm.state) == (
        "bad-quality",
        "high",
        AlarmState.ACTIVE_UNACKED,
    )


def test_a_bad_quality_alarm_returns_when_good_samples_resume(
    sqlite_store: Engine, sqlite_tags: dict[str, TagRef]
) -> None:
    tag = sqlite_tags["z"].tag_id
    engine = SpcEngine(sqlite_store)
    feed(sqlite_store, tag, [0.0] * 5, status=[BAD] * 5)
    engine.process(tag)
    feed(sqlite_store, tag, [10.0], start=5)
    engine.process(tag)
    [alarm] = _faults(sqlite_store, tag)
    assert alarm.state == AlarmState.RTN_UNACKED
    assert alarm.count == 1  # the run going on past 3 is the same condition, not a new one
    assert _trail(sqlite_store, alarm.id) == ["alarm-raise", "alarm-return"]


def test_identical_values_raise_a_stuck_alarm_until_the_value_moves(
    sqlite_store: Engine, sqlite_tags: dict[str, TagRef]
) -> None:
    tag = sqlite_tags["z_stuck"].tag_id  # stuck_run: 5
    engine = SpcEngine(sqlite_store)
    feed(sqlite_store, tag, [10.2] * 4)
    engine.process(tag)
    assert _faults(sqlite_store, tag) == []
    feed(sqlite_store, tag, [10.2], start=4)
    engine.process(tag)
    assert [(a.code, a.priority, a.state) for a in _faults(sqlite_store, tag)] == [
        ("stuck", "medium", AlarmState.ACTIVE_UNACKED)
    ]
    feed(sqlite_store, tag, [10.3], start=5)
    engine.process(tag)
    assert [a.state for a in _faults(sqlite_store, tag)] == [AlarmState.RTN_UNACKED]


def test_a_tag_silent_past_its_sampling_intervals_raises_an_alarm_once(
    sqlite_store: Engine, sqlite_tags: dict[str, TagRef], engine_with_config: SpcEngine
) -> None:
    # z samples every 100 ms and allows 10 intervals: silent after 1 s without a sample
    engine, tag = engine_with_config, sqlite_tags["z"].tag_id
    [last] = feed(sqlite_store, tag, [10.0], t0=engine.started_at + timedelta(seconds=1))
    assert engine.check_silence(last + timedelta(seconds=0.9)) == 0
    assert engine.check_silence(last + timedelta(seconds=1.1)) == 1
    assert engine.check_silence(last + timedelta(seconds=5)) == 0  # already raised
    [alarm] = _faults(sqlite_store, tag)
    assert (alarm.code, alarm.priority, alarm.state) == (
        "silent",
        "high",
        AlarmState.ACTIVE_UNACKED,
    )
    assert _trail(sqlite_store, alarm.id) == ["alarm-raise"]


def test_a_silent_alarm_returns_at_the_next_sample(
    sqlite_store: Engine, sqlite_tags: dict[str, TagRef], engine_with_config: SpcEngine
) -> None:
    engine, tag = engine_with_config, sqlite_tags["z"].tag_id
    base = engine.started_at + timedelta(seconds=1)
    feed(sqlite_store, tag, [10.0], t0=base)
    engine.process(tag)
    engine.check_silence(base + timedelta(seconds=2))
    feed(sqlite_store, tag, [10.1], t0=base + timedelta(seconds=3))
    engine.process(tag)
    assert [(a.code, a.state) for a in _faults(sqlite_store, tag)] == [
        ("silent", AlarmState.RTN_UNACKED)
    ]


def test_a_sensor_that_stays_bad_raises_bad_quality_after_its_sampling_intervals(
    sqlite_store: Engine, sqlite_tags: dict[str, TagRef], engine_with_config: SpcEngine
) -> None:
    # a subscription reports a change once: one Bad sample, then nothing while it stays Bad;
    # z allows 3 Bad samples at 100 ms, i.e. 0.3 s of Bad quality
    engine, tag = engine_with_config, sqlite_tags["z"].tag_id
    [bad] = feed(sqlite_store, tag, [0.0], status=[BAD], t0=engine.started_at)
    engine.process(tag)
    assert engine.check_silence(bad + timedelta(seconds=0.25)) == 0
    assert engine.check_silence(bad + timedelta(seconds=0.35)) == 1
    assert engine.check_silence(bad + timedelta(seconds=5)) == 0  # Bad, not also silent
    assert [(a.code, a.state) for a in _faults(sqlite_store, tag)] == [
        ("bad-quality", AlarmState.ACTIVE_UNACKED)
    ]


def test_silence_counts_from_the_engine_start_for_a_tag_last_sampled_before_it(
    sqlite_store: Engine, sqlite_tags: dict[str, TagRef], engine_with_config: SpcEngine
) -> None:
    # a daemon that just started has not heard from its lines yet: no alarm for that
    engine, tag = engine_with_config, sqlite_tags["z"].tag_id
    feed(sqlite_store, tag, [10.0], t0=engine.started_at - timedelta(hours=1))
    assert engine.check_silence(engine.started_at + timedelta(seconds=0.5)) == 0
    assert engine.check_silence(engine.started_at + timedelta(seconds=1.5)) == 1


def test_without_the_plant_config_silence_is_not_judged(
    sqlite_store: Engine, sqlite_tags: dict[str, TagRef]
) -> None:
    engine, tag = SpcEngine(sqlite_store), sqlite_tags["z"].tag_id
    feed(sqlite_store, tag, [10.0], t0=engine.started_at - timedelta(hours=1))
    assert engine.check_silence(engine.started_at + timedelta(hours=1)) == 0


def _codes(engine: Engine, tag_id: int) -> list[tuple[str, int]]:
    """Every alarm of the tag as (code, times it fired)."""
    with Session(engine) as session:
        rows = session.execute(
            select(Alarm.code, Alarm.count).where(Alarm.tag_id == tag_id).order_by(Alarm.id)
        ).all()
    return [(code, count) for code, count in rows]


def _rules(engine: Engine, tag_id: int) -> list[tuple[str, str, object]]:
    with Session(engine) as session:
        rows = session.execute(
            select(Violation.chart, Violation.rule, Violation.ts)
            .where(Violation.tag_id == tag_id)
            .order_by(Violation.id)
        ).all()
    return [(chart, rule, ts) for chart, rule, ts in rows]


def test_a_value_stuck_beyond_the_ewma_limit_raises_only_stuck(
    sqlite_store: Engine, sqlite_tags: dict[str, TagRef]
) -> None:
    # EWMA lambda 0.1, L 2.7 on 10 +/- 1 (Montgomery Example 9.2): 12.0 charted twice would
    # take z to 10.38, beyond the exact limit 10.36; held as repeats, it never is charted
    # twice: stuck (5 identical values) comes first
    freeze(sqlite_store, sqlite_tags["z_stuck_ewma"])
    tag = sqlite_tags["z_stuck_ewma"].tag_id
    feed(sqlite_store, tag, [10.0, 9.9, 10.1, *[12.0] * 8])
    SpcEngine(sqlite_store).process(tag)
    assert _codes(sqlite_store, tag) == [("stuck", 1)]
    assert _rules(sqlite_store, tag) == []


def test_a_stuck_run_on_one_side_of_the_center_fills_no_run_rule(
    sqlite_store: Engine, sqlite_tags: dict[str, TagRef]
) -> None:
    freeze(sqlite_store, sqlite_tags["z_stuck"])  # stuck after 5 identical values
    tag = sqlite_tags["z_stuck"].tag_id
    feed(sqlite_store, tag, [9.9, *[10.5] * 12])  # 13 on one side, Nelson 2 after 9
    SpcEngine(sqlite_store).process(tag)
    assert _codes(sqlite_store, tag) == [("stuck", 1)]
    assert _rules(sqlite_store, tag) == []


def test_repeats_of_a_value_are_charted_once_the_value_moves(
    sqlite_store: Engine, sqlite_tags: dict[str, TagRef]
) -> None:
    freeze(sqlite_store, sqlite_tags["z_stuck"])
    tag = sqlite_tags["z_stuck"].tag_id
    times = feed(sqlite_store, tag, [10.0, 13.4, 13.4, 13.4, 10.0])  # three, not stuck
    engine = SpcEngine(sqlite_store)
    engine.process(tag)
    beyond = [ts for chart, rule, ts in _rules(sqlite_store, tag) if rule == "nelson1"]
    assert beyond == times[1:4]
    assert _codes(sqlite_store, tag) == [("spec", 3), ("nelson1", 3)]


def test_a_value_stuck_beyond_the_spec_alarms_once_then_only_as_stuck(
    sqlite_store: Engine, sqlite_tags: dict[str, TagRef]
) -> None:
    # the first 13.6 is a value like any other: judged at once; its repeats are the fault's
    freeze(sqlite_store, sqlite_tags["z_stuck"])
    tag = sqlite_tags["z_stuck"].tag_id
    times = feed(sqlite_store, tag, [10.0, *[13.6] * 8])
    SpcEngine(sqlite_store).process(tag)
    assert _codes(sqlite_store, tag) == [("spec", 1), ("nelson1", 1), ("stuck", 1)]
    assert {ts for *_, ts in _rules(sqlite_store, tag)} == {times[1]}


def test_charting_resumes_with_the_first_good_value_after_a_bad_quality_run(
    sqlite_store: Engine, sqlite_tags: dict[str, TagRef]
) -> None:
    freeze(sqlite_store, sqlite_tags["z"])  # bad_run 3
    tag = sqlite_tags["z"].tag_id
    times = feed(sqlite_store, tag, [10.0, 0.0, 0.0, 0.0, 13.6], status=[0, BAD, BAD, BAD, 0])
    SpcEngine(sqlite_store).process(tag)
    # Bad quality ends with the Good value, which is charted and judged against the spec
    assert [(a.code, a.state) for a in _faults(sqlite_store, tag)] == [
        ("bad-quality", AlarmState.RTN_UNACKED)
    ]
    assert [(rule, ts) for _, rule, ts in _rules(sqlite_store, tag)] == [
        ("spec", times[4]),
        ("nelson1", times[4]),
    ]


def test_nothing_is_charted_while_a_stuck_fault_stands(
    sqlite_store: Engine, sqlite_tags: dict[str, TagRef]
) -> None:
    freeze(sqlite_store, sqlite_tags["z_stuck"])
    tag = sqlite_tags["z_stuck"].tag_id
    feed(sqlite_store, tag, [10.0, *[10.2] * 9, 10.1])  # stuck at the 5th 10.2, then moves
    SpcEngine(sqlite_store).process(tag)
    with Session(sqlite_store) as session:
        state = session.get(EngineState, tag)
        assert state is not None
    assert state.points == 3  # 10.0, the first 10.2 (a value like any other) and 10.1
    assert [(a.code, a.state) for a in _faults(sqlite_store, tag)] == [
        ("stuck", AlarmState.RTN_UNACKED)
    ]
