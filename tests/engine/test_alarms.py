"""SPC alarms: one row per tag and rule while active, ISA-18.2 transitions, audit trail."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from engine_helpers import feed, freeze
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from plantqc import alarms
from plantqc.alarms.states import (
    TABLE,
    Effect,
    Event,
    IllegalTransition,
    Refusal,
    Transition,
    transition,
)
from plantqc.charting.catalog import chart_for
from plantqc.charting.chart import ChartConfig
from plantqc.charting.names import SeriesSpec, code_charts
from plantqc.charting.phase1 import estimate_limits, freeze_limits
from plantqc.charting.runner import SpcEngine
from plantqc.charting.settings import SpcSettings
from plantqc.errors import UserError
from plantqc.store import TagRef
from plantqc.store.models import Alarm, AlarmState, AuditLog

# The ISA-18.2 state model (ANSI/ISA-18.2-2016 §11.4, Fig. 5; shelving §16.5, suppression by
# design §16.6) as this project applies it, one row per (state, event): the state after, the
# audit action ("-": nothing recorded or notified) and the row's other changes, or the reason
# an operator is told when it is refused.
STATES = {
    "N": AlarmState.NORMAL,
    "AU": AlarmState.ACTIVE_UNACKED,
    "AA": AlarmState.ACTIVE_ACKED,
    "RU": AlarmState.RTN_UNACKED,
    "SH": AlarmState.SHELVED,
    "SU": AlarmState.SUPPRESSED,
}
SPEC = """
N  activate            AU alarm-raise      open
N  activate-suppressed SU alarm-raise      open
N  return              N  -                -
N  ack                 refused: only unacknowledged alarms ack
N  shelve              refused: there is nothing to shelve
N  unshelve            refused: only a shelved alarm is unshelved
N  unshelve-returned   refused: only a shelved alarm is unshelved
N  suppress            N  -                -
N  unsuppress          N  -                -
N  unsuppress-returned N  -                -
N  comment             N  alarm-comment    record-note
AU activate            AU -                condition-on,count
AU activate-suppressed AU -                condition-on,count
AU return              RU alarm-return     condition-off
AU ack                 AA alarm-ack        record-ack
AU shelve              SH alarm-shelve     set-shelf
AU unshelve            refused: only a shelved alarm is unshelved
AU unshelve-returned   refused: only a shelved alarm is unshelved
AU suppress            SU alarm-suppress   -
AU unsuppress          AU -                -
AU unsuppress-returned AU -                -
AU comment             AU alarm-comment    record-note
AA activate            AA -                condition-on,count
AA activate-suppressed AA -                condition-on,count
AA return              N  alarm-return     condition-off
AA ack                 refused: only unacknowledged alarms ack
AA shelve              SH alarm-shelve     set-shelf
AA unshelve            refused: only a shelved alarm is unshelved
AA unshelve-returned   refused: only a shelved alarm is unshelved
AA suppress            SU alarm-suppress   -
AA unsuppress          AA -                -
AA unsuppress-returned AA -                -
AA comment             AA alarm-comment    record-note
RU activate            AU alarm-reactivate condition-on,count
RU activate-suppressed SU alarm-reactivate condition-on,count
RU return              RU -                -
RU ack                 N  alarm-ack        record-ack
RU shelve              SH alarm-shelve     set-shelf
RU unshelve            refused: only a shelved alarm is unshelved
RU unshelve-returned   refused: only a shelved alarm is unshelved
RU suppress            SU alarm-suppress   -
RU unsuppress          RU -                -
RU unsuppress-returned RU -                -
RU comment             RU alarm-comment    record-note
SH activate            SH -                condition-on,count
SH activate-suppressed SH -                condition-on,count
SH return              SH alarm-return     condition-off
SH ack                 refused: only unacknowledged alarms ack
SH shelve              SH alarm-shelve     set-shelf
SH unshelve            AU alarm-unshelve   end-shelf
SH unshelve-returned   N  alarm-unshelve   end-shelf
SH suppress            SH -                -
SH unsuppress          SH -                -
SH unsuppress-returned SH -                -
SH comment             SH alarm-comment    record-note
SU activate            AU alarm-unsuppress condition-on,count
SU activate-suppressed SU -                condition-on,count
SU return              N  alarm-return     condition-off
SU ack                 refused: only unacknowledged alarms ack
SU shelve              SH alarm-shelve     set-shelf
SU unshelve            refused: only a shelved alarm is unshelved
SU unshelve-returned   refused: only a shelved alarm is unshelved
SU suppress            SU -                -
SU unsuppress          AU alarm-unsuppress -
SU unsuppress-returned N  alarm-unsuppress -
SU comment             SU alarm-comment    record-note
"""
SPEC_ROWS = [line.split(maxsplit=2) for line in SPEC.strip().splitlines()]
REFUSED = "refused: "


def _spec(outcome: str) -> Transition | Refusal:
    if outcome.startswith(REFUSED):
        return Refusal(outcome.removeprefix(REFUSED))
    after, audit, effects = outcome.split()
    return Transition(
        STATES[after],
        None if audit == "-" else audit,
        frozenset() if effects == "-" else frozenset(Effect(e) for e in effects.split(",")),
    )


def test_the_state_table_specifies_every_state_and_event_pair() -> None:
    specified = [(STATES[state], Event(event)) for state, event, _ in SPEC_ROWS]
    assert sorted(specified) == sorted((state, event) for state in AlarmState for event in Event)
    assert set(TABLE) == set(specified)


@pytest.mark.parametrize(("state", "event", "outcome"), SPEC_ROWS)
def test_a_state_and_event_lead_where_isa_18_2_says(state: str, event: str, outcome: str) -> None:
    assert TABLE[(STATES[state], Event(event))] == _spec(outcome)


@pytest.mark.parametrize(
    ("state", "event", "reason"),
    [(s, e, o.removeprefix(REFUSED)) for s, e, o in SPEC_ROWS if o.startswith(REFUSED)],
)
def test_a_refused_transition_raises_with_its_reason(state: str, event: str, reason: str) -> None:
    with pytest.raises(IllegalTransition, match=reason):
        transition(STATES[state], Event(event))


ON_ONE_SIDE = [10.4, 10.6, 10.5, 10.7, 10.3, 10.6, 10.4, 10.5, 10.6]
"""Nine points above the center 10 (Nelson 2), none repeating the one before (a repeat is held
until the value moves: it may be a stuck sensor)."""


@pytest.fixture(autouse=True)
def frozen(sqlite_store: Engine, sqlite_tags: dict[str, TagRef]) -> None:
    """The charts of these tests run on frozen limits 10 +/- 3 x 1 (beyond 13 is Nelson 1;
    the spec 7 / 13 is breached there too)."""
    for name in ("x_imr", "x_prio", "x_spread"):
        freeze(sqlite_store, sqlite_tags[name])


def _spc_alarms(engine: Engine) -> list[Alarm]:
    with Session(engine) as session:
        return list(session.scalars(select(Alarm).where(Alarm.kind == "spc").order_by(Alarm.id)))


def _trail(engine: Engine, alarm_id: int) -> list[tuple[str, str]]:
    """The alarm's audit trail as (action, state the action left it in)."""
    with Session(engine) as session:
        rows = session.scalars(
            select(AuditLog)
            .where(AuditLog.entity == "alarm", AuditLog.entity_id == str(alarm_id))
            .order_by(AuditLog.id)
        )
        return [(row.action, (row.detail or {})["state"]) for row in rows]


def _shelved_nelson1(store: Engine, engine: SpcEngine, tag: int) -> tuple[int, datetime]:
    """Raise the tag's Nelson 1 alarm (13.5 beyond the UCL of 13, at 1 s) and shelve it for an
    hour; return its id and the shelf's expiry."""
    feed(store, tag, [10.0, 13.5])
    engine.process(tag)
    [alarm] = [a for a in _spc_alarms(store) if a.code == "nelson1"]
    until = datetime.now(UTC) + timedelta(hours=1)
    alarms.shelve(store, alarm.id, "operator.a", until, "calibration")
    return alarm.id, until


def test_a_chattering_rule_updates_one_alarm_instead_of_opening_new_ones(
    sqlite_store: Engine, sqlite_tags: dict[str, TagRef]
) -> None:
    tag = sqlite_tags["x_imr"].tag_id
    feed(sqlite_store, tag, [10.0, 14.0, 10.0, 14.0, 10.0, 14.0])  # beyond the UCL of 13 thrice
    run = SpcEngine(sqlite_store).process(tag)
    beyond = [v for v in run.violations if (v.chart, v.rule) == ("i", "nelson1")]
    [alarm] = [a for a in _spc_alarms(sqlite_store) if a.code == "nelson1"]
    assert (alarm.count, alarm.priority, alarm.state) == (
        len(beyond),
        "high",
        AlarmState.ACTIVE_UNACKED,
    )


def test_a_rule_hit_not_listed_in_alarms_is_stored_as_a_violation_and_raises_no_alarm(
    sqlite_store: Engine, sqlite_tags: dict[str, TagRef]
) -> None:
    tag = sqlite_tags["x_imr"].tag_id  # the default alarms: nelson1, we1, spec
    feed(sqlite_store, tag, ON_ONE_SIDE)
    run = SpcEngine(sqlite_store).process(tag)
    assert [(v.chart, v.rule) for v in run.violations] == [("i", "nelson2")]
    assert _spc_alarms(sqlite_store) == []


def test_a_point_beyond_the_limits_raises_an_alarm_by_default(
    sqlite_store: Engine, sqlite_tags: dict[str, TagRef]
) -> None:
    tag = sqlite_tags["x_imr"].tag_id
    feed(sqlite_store, tag, [10.0, 12.9, 13.2])  # 13.2 beyond the UCL 13 (and the USL 13)
    SpcEngine(sqlite_store).process(tag)
    assert [(a.code, a.priority) for a in _spc_alarms(sqlite_store) if a.code != "spec"] == [
        ("nelson1", "high")
    ]


def test_the_moving_range_chart_alerts_unless_its_rule_is_listed_with_its_prefix(
    sqlite_store: Engine, sqlite_tags: dict[str, TagRef]
) -> None:
    # frozen sigma 1: I chart UCL 13, MR chart UCL D4 d2 sigma = 3.686 (Montgomery §6.4);
    # 13.5 is beyond the I limit (and the USL 13), the range 13.5 -> 9.0 = 4.5 beyond MR's.
    # x_imr alarms on the defaults, x_spread also on mr:nelson1
    for name in ("x_imr", "x_spread"):
        feed(sqlite_store, sqlite_tags[name].tag_id, [10.0, 13.5, 9.0])
        run = SpcEngine(sqlite_store).process(sqlite_tags[name].tag_id)
        assert sorted((v.chart, v.rule) for v in run.violations) == [
            ("i", "nelson1"),
            ("imr", "spec"),
            ("mr", "nelson1"),
        ]
    with Session(sqlite_store) as session:
        codes = session.execute(select(Alarm.tag_id, Alarm.code)).all()
    assert sorted(code for tag_id, code in codes if tag_id == sqlite_tags["x_imr"].tag_id) == [
        "nelson1",
        "spec",
    ]
    assert sorted(code for tag_id, code in codes if tag_id == sqlite_tags["x_spread"].tag_id) == [
        "mr:nelson1",
        "nelson1",
        "spec",
    ]


@pytest.mark.parametrize(
    ("alarms", "code", "alarmed"),
    [
        (["nelson1"], "nelson1", True),
        (["nelson1"], "cusum_upper:nelson1", True),  # either CUSUM side is the location
        (["nelson1"], "cusum_lower:nelson1", True),
        (["nelson1"], "cd_mean:nelson1", True),  # a profile's scan mean is its location
        (["nelson1"], "mr:nelson1", False),
        (["nelson1"], "cd_2sigma:nelson1", False),
        (["mr:nelson1"], "mr:nelson1", True),
        (["mr:nelson1"], "nelson1", False),
        (["mr:nelson1"], "cd_mean.mr:nelson1", True),  # the scan mean's MR chart
        (["mr:nelson1"], "cd_2sigma.mr:nelson1", False),
        (["s:we1"], "s:we1", True),
        (["cusum_upper:nelson1"], "cusum_lower:nelson1", False),
        (["cd_2sigma:nelson1"], "cd_2sigma:nelson1", True),
        (["spec"], "spec", True),
        (["nelson1"], "spec", False),
    ],
)
def test_an_alarms_entry_covers_its_rule_on_the_chart_it_names(
    alarms: list[str], code: str, alarmed: bool
) -> None:
    settings = SpcSettings.model_validate({"alarms": alarms})
    chart = ChartConfig(1, 1, "line-1", "t", "scalar", settings)
    assert chart.alarms_on(code) is alarmed


def test_the_moving_range_alarm_takes_the_priority_of_its_rule(
    sqlite_store: Engine, sqlite_tags: dict[str, TagRef]
) -> None:
    tag = sqlite_tags["x_prio"].tag_id  # rule_priority {nelson1: critical}
    feed(sqlite_store, tag, [10.0, 13.5, 9.0])
    SpcEngine(sqlite_store).process(tag)
    assert {(a.code, a.priority) for a in _spc_alarms(sqlite_store)} == {
        ("nelson1", "critical"),
        ("mr:nelson1", "critical"),
    }


@pytest.mark.parametrize(
    ("series", "point", "sibling"),
    [
        (SeriesSpec("imr", "imr"), "i", "mr"),
        (SeriesSpec("imr", "imr"), "mr", "i"),
        (SeriesSpec("xbar-s", "xbar-s"), "xbar", "s"),
        (SeriesSpec("xbar-s", "xbar-s"), "s", "xbar"),
        (SeriesSpec("cusum", "cusum"), "cusum_lower", "cusum_upper"),
        (SeriesSpec("cd_mean", "ewma", "mean"), "ewma", "cd_2sigma.i"),
        (SeriesSpec("cd_2sigma", "imr", "two_sigma"), "i", "cd_2sigma.mr"),
        (SeriesSpec("cd_2sigma", "imr", "two_sigma"), "mr", "cd_2sigma.i"),
    ],
)
def test_an_alarm_code_names_the_chart_and_rule_that_raise_it(
    series: SeriesSpec, point: str, sibling: str
) -> None:
    # the chart beside it (the spread beside the location, the other CUSUM side, another
    # profile statistic) raises other alarms
    charts, rule = code_charts(series.code(point, "nelson1"))
    assert rule == "nelson1"
    assert series.point_chart(point) in charts
    assert sibling not in charts


def test_a_run_rule_alarm_has_medium_priority(
    sqlite_store: Engine, sqlite_tags: dict[str, TagRef]
) -> None:
    tag = sqlite_tags["x_spread"].tag_id  # alarms on nelson2 too
    feed(sqlite_store, tag, ON_ONE_SIDE)
    SpcEngine(sqlite_store).process(tag)
    assert {(a.code, a.priority) for a in _spc_alarms(sqlite_store)} >= {("nelson2", "medium")}


def test_an_unacknowledged_alarm_returns_unacknowledged_after_quiet_points(
    sqlite_store: Engine, sqlite_tags: dict[str, TagRef]
) -> None:
    tag = sqlite_tags["x_imr"].tag_id
    engine = SpcEngine(sqlite_store, rtn_after=10)
    feed(sqlite_store, tag, [10.0, 13.5] + [10.2, 9.8] * 4 + [10.2])  # 9 quiet points
    engine.process(tag)
    [alarm] = [a for a in _spc_alarms(sqlite_store) if a.code == "nelson1"]
    assert alarm.state == AlarmState.ACTIVE_UNACKED
    feed(sqlite_store, tag, [9.8], start=11)  # the tenth
    engine.process(tag)
    [alarm] = [a for a in _spc_alarms(sqlite_store) if a.code == "nelson1"]
    assert alarm.state == AlarmState.RTN_UNACKED


def test_an_acknowledged_alarm_that_returns_to_normal_clears(
    sqlite_store: Engine, sqlite_tags: dict[str, TagRef]
) -> None:
    tag = sqlite_tags["x_imr"].tag_id
    engine = SpcEngine(sqlite_store, rtn_after=10)
    feed(sqlite_store, tag, [10.0, 13.5])  # beyond the UCL of 13; the moving range is not
    engine.process(tag)
    [alarm] = [a for a in _spc_alarms(sqlite_store) if a.code == "nelson1"]
    alarms.ack(sqlite_store, alarm.id, "operator.a", "checked the gauge")
    feed(sqlite_store, tag, [10.2, 9.8] * 5, start=2)
    engine.process(tag)
    assert [a.state for a in _spc_alarms(sqlite_store) if a.code == "nelson1"] == [
        AlarmState.NORMAL
    ]


def test_a_shelved_alarm_stays_shelved_while_the_rule_fires_until_it_expires(
    sqlite_store: Engine, sqlite_tags: dict[str, TagRef]
) -> None:
    tag = sqlite_tags["x_imr"].tag_id
    engine = SpcEngine(sqlite_store)
    alarm_id, until = _shelved_nelson1(sqlite_store, engine, tag)
    feed(sqlite_store, tag, [13.6], start=2)  # fires again (a repeat of 13.5 would be held)
    engine.process(tag)
    [shelved] = [a for a in _spc_alarms(sqlite_store) if a.code == "nelson1"]
    assert (shelved.state, shelved.count) == (AlarmState.SHELVED, 2)
    assert [action for action, _ in _trail(sqlite_store, alarm_id)] == [
        "alarm-raise",
        "alarm-shelve",
    ]  # nothing to notify
    assert alarms.expire_shelves(sqlite_store, until + timedelta(seconds=1)) == 1
    [back] = [a for a in _spc_alarms(sqlite_store) if a.code == "nelson1"]
    assert back.state == AlarmState.ACTIVE_UNACKED
    assert _trail(sqlite_store, alarm_id)[-1] == ("alarm-unshelve", AlarmState.ACTIVE_UNACKED)


def test_an_alarm_whose_condition_clears_while_shelved_is_normal_when_the_shelf_expires(
    sqlite_store: Engine, sqlite_tags: dict[str, TagRef]
) -> None:
    tag = sqlite_tags["x_imr"].tag_id
    engine = SpcEngine(sqlite_store, rtn_after=10)
    alarm_id, until = _shelved_nelson1(sqlite_store, engine, tag)
    feed(sqlite_store, tag, [10.2, 9.8] * 5, start=2)  # ten quiet points: the condition is gone
    engine.process(tag)
    alarms.expire_shelves(sqlite_store, until + timedelta(seconds=1))
    assert [a.state for a in _spc_alarms(sqlite_store) if a.code == "nelson1"] == [
        AlarmState.NORMAL
    ]
    assert _trail(sqlite_store, alarm_id) == [
        ("alarm-raise", AlarmState.ACTIVE_UNACKED),
        ("alarm-shelve", AlarmState.SHELVED),
        ("alarm-return", AlarmState.SHELVED),  # recorded; the shelf still holds
        ("alarm-unshelve", AlarmState.NORMAL),
    ]


def test_an_alarm_whose_condition_clears_and_fires_again_while_shelved_is_active_after(
    sqlite_store: Engine, sqlite_tags: dict[str, TagRef]
) -> None:
    tag = sqlite_tags["x_imr"].tag_id
    engine = SpcEngine(sqlite_store, rtn_after=10)
    alarm_id, until = _shelved_nelson1(sqlite_store, engine, tag)
    feed(sqlite_store, tag, [10.2, 9.8] * 5 + [13.5], start=2)  # gone, then back at 12 s
    engine.process(tag)
    alarms.expire_shelves(sqlite_store, until + timedelta(seconds=1))
    assert [a.state for a in _spc_alarms(sqlite_store) if a.code == "nelson1"] == [
        AlarmState.ACTIVE_UNACKED
    ]
    assert _trail(sqlite_store, alarm_id)[-2:] == [
        ("alarm-return", AlarmState.SHELVED),
        ("alarm-unshelve", AlarmState.ACTIVE_UNACKED),
    ]


def test_a_returned_alarm_that_is_shelved_is_normal_when_the_shelf_expires(
    sqlite_store: Engine, sqlite_tags: dict[str, TagRef]
) -> None:
    tag = sqlite_tags["x_imr"].tag_id
    engine = SpcEngine(sqlite_store, rtn_after=10)
    feed(sqlite_store, tag, [10.0, 13.5] + [10.2, 9.8] * 5)  # raised, then returned
    engine.process(tag)
    [alarm] = [a for a in _spc_alarms(sqlite_store) if a.code == "nelson1"]
    until = datetime.now(UTC) + timedelta(hours=1)
    alarms.shelve(sqlite_store, alarm.id, "operator.a", until)
    alarms.expire_shelves(sqlite_store, until + timedelta(seconds=1))
    assert _trail(sqlite_store, alarm.id)[1:] == [
        ("alarm-return", AlarmState.RTN_UNACKED),
        ("alarm-shelve", AlarmState.SHELVED),
        ("alarm-unshelve", AlarmState.NORMAL),
    ]


def test_alarm_priority_follows_the_tags_rule_and_general_settings(
    sqlite_store: Engine, sqlite_tags: dict[str, TagRef]
) -> None:
    # x_prio: alarm_priority low, rule_priority {nelson1: critical}
    tag = sqlite_tags["x_prio"].tag_id
    feed(sqlite_store, tag, [10.0, 13.5, *ON_ONE_SIDE])  # Nelson 1, then Nelson 2
    SpcEngine(sqlite_store).process(tag)
    with Session(sqlite_store) as session:
        rows = session.execute(select(Alarm.code, Alarm.priority).where(Alarm.tag_id == tag))
        found = {code: priority for code, priority in rows}
    assert (found["nelson1"], found["nelson2"]) == ("critical", "low")


def test_operator_actions_are_recorded_in_the_audit_log(
    sqlite_store: Engine, sqlite_tags: dict[str, TagRef]
) -> None:
    tag = sqlite_tags["x_imr"].tag_id
    feed(sqlite_store, tag, [10.0, 14.0])
    SpcEngine(sqlite_store).process(tag)
    [alarm] = [a for a in _spc_alarms(sqlite_store) if a.code == "nelson1"]
    alarms.ack(sqlite_store, alarm.id, "operator.a")
    alarms.comment(
        sqlite_store, alarm.id, "q.eng", cause="slot-die shim worn", action="shim replaced"
    )
    with Session(sqlite_store) as session:
        trail = session.execute(
            select(AuditLog.user, AuditLog.action)
            .where(AuditLog.entity == "alarm", AuditLog.entity_id == str(alarm.id))
            .order_by(AuditLog.id)
        ).all()
        stored = session.get(Alarm, alarm.id)
        assert stored is not None
        assert (stored.cause, stored.action) == ("slot-die shim worn", "shim replaced")
    assert [tuple(t) for t in trail] == [
        ("plantqc-engine", "alarm-raise"),
        ("operator.a", "alarm-ack"),
        ("q.eng", "alarm-comment"),
    ]


def test_acknowledging_a_normal_alarm_is_refused_in_one_sentence(
    sqlite_store: Engine, sqlite_tags: dict[str, TagRef]
) -> None:
    tag = sqlite_tags["x_imr"].tag_id
    feed(sqlite_store, tag, [10.0, 14.0])
    SpcEngine(sqlite_store).process(tag)
    [alarm] = [a for a in _spc_alarms(sqlite_store) if a.code == "nelson1"]
    alarms.ack(sqlite_store, alarm.id, "operator.a")
    with pytest.raises(UserError, match="only unacknowledged alarms"):
        alarms.ack(sqlite_store, alarm.id, "operator.a")


def test_an_alarm_raised_on_learned_limits_still_returns_to_normal_after_a_freeze(
    sqlite_store: Engine, sqlite_tags: dict[str, TagRef]
) -> None:
    tag = sqlite_tags["x_small"].tag_id  # learns from 20 points
    engine = SpcEngine(sqlite_store, rtn_after=10)
    times = feed(sqlite_store, tag, list(10.0 + np.random.default_rng(4).standard_normal(20)))
    feed(sqlite_store, tag, [20.0], start=20)  # beyond the learned limits
    engine.process(tag)
    assert [a.code for a in _spc_alarms(sqlite_store)] == ["nelson1"]
    chart = chart_for(sqlite_store, "line-1", "x_small")
    estimate = estimate_limits(sqlite_store, chart, times[0], times[-1] + timedelta(seconds=1))
    freeze_limits(sqlite_store, chart, estimate, "q.eng")
    quiet = [estimate.center + 0.1 * estimate.sigma * (-1) ** i for i in range(10)]
    feed(sqlite_store, tag, quiet, start=21)  # a fresh chart on the new limits
    engine.process(tag)
    assert [a.state for a in _spc_alarms(sqlite_store) if a.code == "nelson1"] == [
        AlarmState.RTN_UNACKED
    ]
