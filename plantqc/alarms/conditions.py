"""Conditions that raise and return alarms: the engine's rules and sensor faults, the daemon's
own (buffer near full).

One row per tag (or line) and condition while it is open: a condition that keeps firing
(chattering) counts up ``count`` and moves ``last_at`` on the same row instead of opening new
ones.  What each firing, return, stop or restart of the line does is the state table's
(`plantqc.alarms.states`).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from plantqc.alarms.rows import change, locked, open_alarm
from plantqc.alarms.states import Event, unsuppress_event
from plantqc.charting.settings import SPEC_CODE
from plantqc.store.models import Alarm, AlarmState

SPC_KIND = "spc"
SENSOR_FAULT_KIND = "sensor-fault"
ENGINE_USER = "plantqc-engine"
RTN_AFTER_POINTS = 10
"""Default number of chart points (subgroups) without the rule firing before return to normal."""
HIGH_PRIORITY_CODES = frozenset({"nelson1", "we1", SPEC_CODE, "bad-quality", "silent"})
"""A point beyond the control limits, a value beyond the spec limits (product out of spec), or
a sensor that reports Bad or nothing: the strongest evidence of an assignable cause, a
nonconforming product, or no evidence at all."""


def priority_for(code: str) -> str:
    """Default priority of an alarm code: ``high`` in `HIGH_PRIORITY_CODES`, else ``medium``.

    ``code`` is a rule or sensor-fault code, optionally after a chart name (``cd_mean:nelson1``).
    """
    return "high" if code.rpartition(":")[2] in HIGH_PRIORITY_CODES else "medium"


@dataclass(frozen=True)
class AlarmEvent:
    """A change the engine asks for, for one tag.

    ``raise``: condition ``code`` of kind ``alarm_kind`` fired (``suppressed`` while the line is
    stopped); ``clear``: it is gone; ``suppress`` / ``unsuppress``: the line stopped / runs
    again, for every alarm of the tag, ``active`` naming the (kind, code) conditions that still
    hold when it runs again.
    """

    kind: str  # "raise" | "clear" | "suppress" | "unsuppress"
    code: str
    at: datetime
    alarm_kind: str = SPC_KIND
    priority: str = "medium"
    message: str = ""
    suppressed: bool = False
    active: frozenset[tuple[str, str]] = frozenset()


def _open_alarms(session: Session, tag_ids: Collection[int]) -> dict[int, list[Alarm]]:
    """The open alarm rows of each of ``tag_ids``, oldest first: one query for all of them.

    Locked (`plantqc.alarms.rows.locked`) until the engine's transaction commits: an operator's
    acknowledgement waits for it, or, committed first, is what the engine reads.  Without
    autoflush: the engine's pending state rows need not be written for this read.
    """
    with session.no_autoflush:
        query = (
            select(Alarm)
            .where(Alarm.tag_id.in_(sorted(tag_ids)), Alarm.state != AlarmState.NORMAL)
            .order_by(Alarm.id)
        )
        rows = session.scalars(locked(session, query)).all()
    by_tag: dict[int, list[Alarm]] = {tag_id: [] for tag_id in tag_ids}
    for row in rows:
        by_tag[row.tag_id].append(row)  # type: ignore[index]
    return by_tag


def _by_condition(rows: Sequence[Alarm]) -> dict[tuple[str, str], Alarm]:
    # a row closed in this session is still in the tag's list: its state is checked in memory
    # (a closed alarm is never reopened: the next raise inserts a new row)
    return {(row.kind, row.code): row for row in rows if row.state != AlarmState.NORMAL}


def _set_suppression(session: Session, rows: Sequence[Alarm], event: AlarmEvent) -> None:
    for row in rows:
        if row.state == AlarmState.NORMAL:
            continue
        step = (
            Event.SUPPRESS
            if event.kind == "suppress"
            else unsuppress_event((row.kind, row.code) in event.active)
        )
        change(session, row, step, ENGINE_USER, detail={"at": str(event.at)})


def apply_events(
    session: Session, line_id: int, tag_id: int, events: Sequence[AlarmEvent]
) -> list[Alarm]:
    """Bring the alarms of one tag up to date with ``events`` (`apply_tag_events`); return
    the alarms opened (inserted) by them."""
    return apply_tag_events(session, {(line_id, tag_id): events})[(line_id, tag_id)]


def apply_tag_events(
    session: Session, events: Mapping[tuple[int, int], Sequence[AlarmEvent]]
) -> dict[tuple[int, int], list[Alarm]]:
    """Bring the alarms of each (line id, tag id) up to date with its ``events``, in order,
    in ``session``; the open rows of all the tags with events are read in one locked query.

    Called by the engine inside the transaction that stores the violations and its state.
    Every state change appends an audit row; a condition that fires again on an alarm that
    stays in its state (active, shelved, suppressed) only counts up.  Returns the alarms
    opened (inserted) by the events of each tag.
    """
    opened: dict[tuple[int, int], list[Alarm]] = {key: [] for key in events}
    busy = [key for key, tag_events in events.items() if tag_events]
    if not busy:
        return opened
    rows_of = _open_alarms(session, {tag_id for _, tag_id in busy})
    for line_id, tag_id in busy:
        rows = rows_of[tag_id]
        open_rows = _by_condition(rows)
        for event in events[(line_id, tag_id)]:
            if event.kind in ("suppress", "unsuppress"):
                _set_suppression(session, rows, event)
                open_rows = _by_condition(rows)  # unsuppressing may have closed some
                continue
            key = (event.alarm_kind, event.code)
            row = open_rows.get(key)
            if event.kind == "raise":
                fired = Event.ACTIVATE_SUPPRESSED if event.suppressed else Event.ACTIVATE
                detail = {"rule": event.code}
                if row is None:
                    row = open_alarm(
                        session,
                        fired,
                        ENGINE_USER,
                        line_id=line_id,
                        tag_id=tag_id,
                        kind=event.alarm_kind,
                        code=event.code,
                        priority=event.priority,
                        message=event.message,
                        at=event.at,
                        detail=detail,
                    )
                    opened[(line_id, tag_id)].append(row)
                    rows.append(row)
                    open_rows[key] = row
                else:
                    # a reactivation's audit row carries when the condition fired (the
                    # samples' time, which the EEMUA figures count by), as a raise's alarm
                    # row does
                    change(
                        session,
                        row,
                        fired,
                        ENGINE_USER,
                        fired_at=event.at,
                        message=event.message,
                        detail={**detail, "at": str(event.at)},
                    )
            elif row is not None:
                detail = {"rule": event.code, "at": str(event.at)}
                change(session, row, Event.RETURN, ENGINE_USER, detail=detail)
                if row.state == AlarmState.NORMAL:
                    del open_rows[key]
    return opened


def set_line_condition(
    engine: Engine,
    line_ids: Sequence[int],
    *,
    kind: str,
    code: str,
    priority: str,
    holds: bool,
    at: datetime,
    message: str,
    user: str,
) -> None:
    """Bring a condition of whole lines (not of a tag) to ``holds``, for each of ``line_ids``.

    The caller reports a level, not a firing: only a change of it is an event (activate when
    it starts to hold, return when it stops), so reporting the state an alarm already has
    changes nothing.
    """
    with Session(engine) as session, session.begin():
        query = (
            select(Alarm)
            .where(
                Alarm.kind == kind,
                Alarm.code == code,
                Alarm.tag_id.is_(None),
                Alarm.line_id.in_(line_ids),
                Alarm.state != AlarmState.NORMAL,
            )
            .order_by(Alarm.id)
        )
        rows = session.scalars(locked(session, query)).all()
        open_rows = {row.line_id: row for row in rows}
        detail = {"rule": code}
        for line_id in line_ids:
            row = open_rows.get(line_id)
            if row is None and holds:
                open_alarm(
                    session,
                    Event.ACTIVATE,
                    user,
                    line_id=line_id,
                    tag_id=None,
                    kind=kind,
                    code=code,
                    priority=priority,
                    message=message,
                    at=at,
                    detail=detail,
                )
            elif row is not None and row.condition_active != holds:
                event = Event.ACTIVATE if holds else Event.RETURN
                change(
                    session,
                    row,
                    event,
                    user,
                    fired_at=at,
                    message=message,
                    detail={**detail, "at": str(at)},
                )
