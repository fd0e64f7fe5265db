"""Spec breaches: a value beyond the spec limits is a violation and, by default, an alarm, from
the first sample on (also while the chart learns its limits)."""

from __future__ import annotations

import numpy as np
import pytest
from engine_helpers import feed, feed_scans, stored_violations
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from plantqc.charting.runner import SpcEngine
from plantqc.store import TagRef
from plantqc.store.models import Alarm, AlarmState, ControlLimits


def _alarms(engine: Engine, tag_id: int) -> list[Alarm]:
    with Session(engine) as session:
        return list(session.scalars(select(Alarm).where(Alarm.tag_id == tag_id)))


def test_a_value_beyond_the_usl_is_a_spec_violation_while_the_chart_learns(
    sqlite_store: Engine, sqlite_tags: dict[str, TagRef]
) -> None:
    tag = sqlite_tags["x_imr"].tag_id  # spec 7 / 10 / 13, no limits yet
    times = feed(sqlite_store, tag, [10.0, 13.4, 10.1])
    SpcEngine(sqlite_store).process(tag)
    assert stored_violations(sqlite_store, tag) == [
        (
            "imr",
            "spec",
            times[1],
            13.4,
            {
                "points": [{"ts": times[1].isoformat(), "value": 13.4}],
                "lsl": 7.0,
                "target": 10.0,
                "usl": 13.0,
            },
            None,  # judged on no control limits: the chart is learning
        )
    ]
    with Session(sqlite_store) as session:
        assert session.scalars(select(ControlLimits)).all() == []


def test_a_spec_breach_raises_a_high_priority_alarm_by_default(
    sqlite_store: Engine, sqlite_tags: dict[str, TagRef]
) -> None:
    tag = sqlite_tags["x_imr"].tag_id
    feed(sqlite_store, tag, [10.0, 6.8])  # below the LSL 7
    SpcEngine(sqlite_store).process(tag)
    [alarm] = _alarms(sqlite_store, tag)
    assert (alarm.kind, alarm.code, alarm.priority, alarm.state) == (
        "spc",
        "spec",
        "high",
        AlarmState.ACTIVE_UNACKED,
    )
    assert alarm.message == "x_imr: 6.8 beyond the LSL 7"


def test_the_spec_alarm_returns_to_normal_after_rtn_after_values_within_the_spec(
    sqlite_store: Engine, sqlite_tags: dict[str, TagRef]
) -> None:
    tag = sqlite_tags["x_imr"].tag_id
    engine = SpcEngine(sqlite_store, rtn_after=10)
    feed(sqlite_store, tag, [10.0, 13.5, *[10.2, 9.8] * 4, 10.2])  # 9 values within
    engine.process(tag)
    assert [a.state for a in _alarms(sqlite_store, tag)] == [AlarmState.ACTIVE_UNACKED]
    feed(sqlite_store, tag, [9.8], start=11)  # the tenth
    engine.process(tag)
    assert [a.state for a in _alarms(sqlite_store, tag)] == [AlarmState.RTN_UNACKED]


def test_a_tag_that_does_not_alarm_on_spec_stores_the_breach_as_a_violation_only(
    sqlite_store: Engine, sqlite_tags: dict[str, TagRef]
) -> None:
    tag = sqlite_tags["x_prio"].tag_id  # alarms: nelson1, nelson2, mr:nelson1
    feed(sqlite_store, tag, [10.0, 13.5])
    SpcEngine(sqlite_store).process(tag)
    assert [(v[0], v[1]) for v in stored_violations(sqlite_store, tag)] == [("imr", "spec")]
    assert _alarms(sqlite_store, tag) == []


def test_each_sample_of_a_time_subgroup_is_judged_against_the_spec_as_it_arrives(
    sqlite_store: Engine, sqlite_tags: dict[str, TagRef]
) -> None:
    tag = sqlite_tags["z_time"].tag_id  # X-bar S of 10 s windows; its window stays open
    times = feed(sqlite_store, tag, [10.0, 13.2, 10.1])
    SpcEngine(sqlite_store).process(tag)
    assert [(v[0], v[1], v[2]) for v in stored_violations(sqlite_store, tag)] == [
        ("xbar-s", "spec", times[1])
    ]


def test_a_profile_is_judged_against_the_spec_by_its_scan_mean(
    sqlite_store: Engine, sqlite_tags: dict[str, TagRef]
) -> None:
    tag = sqlite_tags["cd"].tag_id  # spec 47 / 50 / 53 of the thickness
    lanes = np.random.default_rng(5).standard_normal((2, 40))
    scans = np.vstack([50.0 + 0.3 * lanes[0], 53.4 + 0.3 * lanes[1]])
    times = feed_scans(sqlite_store, tag, scans)
    SpcEngine(sqlite_store).process(tag)
    [(chart, rule, ts, value, _, _)] = stored_violations(sqlite_store, tag)
    assert (chart, rule, ts) == ("cd_mean", "spec", times[1])
    assert value == pytest.approx(scans[1].mean(), rel=1e-12)
    assert [a.code for a in _alarms(sqlite_store, tag)] == ["spec"]
