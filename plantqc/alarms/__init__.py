"""ISA-18.2 alarms raised by SPC violations and sensor faults, and what operators do with them.

One row per tag and condition (rule, or sensor-fault code) while the condition is open: a
rule that keeps firing (chattering) counts up ``count`` and moves ``last_at`` on the same row
instead of opening new ones.  States follow ANSI/ISA-18.2-2016 §11: active-unacknowledged ->
(ack) active-acknowledged -> (return to normal) normal; active-unacknowledged -> (return)
returned-unacknowledged -> (ack) normal; any open alarm may be shelved until a time; while
it is shelved its condition may clear (recorded, the alarm stays shelved) and fire again, and
when the shelf expires it is active-unacknowledged if its condition still holds, else normal
(§16.5); while its line is stopped an alarm is suppressed-by-design, and when the line runs
again it is active-unacknowledged if its condition still holds, else normal.  Every state
change, every return of a condition and every operator note is appended to ``audit_log``
(entity ``alarm``); a condition firing again without a state change is not.

References
----------
.. [1] ANSI/ISA-18.2-2016, *Management of Alarm Systems for the Process Industries*, §11
   (alarm states), §16.5 (shelving).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from plantqc.errors import UserError
from plantqc.store.models import Alarm, AlarmState, AuditLog, Line, Tag

SPC_KIND = "spc"
SENSOR_FAULT_KIND = "sensor-fault"
ENGINE_USER = "plantqc-engine"
RTN_AFTER_POINTS = 10
"""Default number of chart points (subgroups) without the rule firing before return to normal."""
HIGH_PRIORITY_CODES = frozenset({"nelson1", "we1", "bad-quality", "silent"})
"""A point beyond the control limits, or a sensor that reports Bad or nothing: the strongest
evidence of an assignable cause, or no evidence at all."""
OPEN_STATES = (
    AlarmState.ACTIVE_UNACKED,
    AlarmState.ACTIVE_ACKED,
    AlarmState.RTN_UNACKED,
    AlarmState.SHELVED,
    AlarmState.SUPPRESSED,
)
_ANNUNCIATED = (AlarmState.ACTIVE_UNACKED, AlarmState.ACTIVE_ACKED, AlarmState.RTN_UNACKED)
_ON_RETURN = {
    AlarmState.ACTIVE_UNACKED: AlarmState.RTN_UNACKED,
    AlarmState.ACTIVE_ACKED: AlarmState.NORMAL,
    # nobody was shown a suppressed alarm, so nobody has to acknowledge its return
    AlarmState.SUPPRESSED: AlarmState.NORMAL,
}


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


def require_user(user: str, doing: str) -> str:
    """``user`` without surrounding blanks; a `UserError` when that leaves nothing, since an
    audit trail entry must say who made the change (``doing``, e.g. "acknowledging an alarm")."""
    name = user.strip()
    if not name:
        raise UserError(f"{doing} needs the name of who does it (--user), not a blank one.")
    return name


def audit(session: Session, user: str, what: str, alarm: Alarm, **detail: Any) -> None:
    """Append one alarm change to ``audit_log`` (the notifiers' outbox), in ``session``."""
    session.add(
        AuditLog(
            at=datetime.now(UTC),
            user=user,
            action=what,
            entity="alarm",
            entity_id=str(alarm.id),
            detail={"state": str(alarm.state), **detail},
        )
    )


def _open_alarms(session: Session, tag_id: int) -> dict[tuple[str, str], Alarm]:
    """The open alarm of each (kind, code) condition of a tag: one query for all its events.

    Without autoflush: the engine's pending state rows need not be written for this read.  A
    row closed in this session but not yet flushed still reads as open from the database, so
    the state is checked in memory too (a closed alarm is never reopened: the next raise
    inserts a new row).
    """
    with session.no_autoflush:
        rows = session.scalars(
            select(Alarm)
            .where(Alarm.tag_id == tag_id, Alarm.state != AlarmState.NORMAL)
            .order_by(Alarm.id)
        ).all()
    newest = {(row.kind, row.code): row for row in rows}
    return {key: row for key, row in newest.items() if row.state != AlarmState.NORMAL}


def _set_suppression(session: Session, tag_id: int, event: AlarmEvent, now: datetime) -> None:
    rows = session.scalars(
        select(Alarm).where(Alarm.tag_id == tag_id, Alarm.state.in_(OPEN_STATES))
    ).all()
    for row in rows:
        if event.kind == "suppress" and row.state in _ANNUNCIATED:
            row.state = AlarmState.SUPPRESSED
        elif event.kind == "unsuppress" and row.state == AlarmState.SUPPRESSED:
            holds = (row.kind, row.code) in event.active
            row.state = AlarmState.ACTIVE_UNACKED if holds else AlarmState.NORMAL
        else:
            continue
        row.updated_at = now
        audit(session, ENGINE_USER, f"alarm-{event.kind}", row, at=str(event.at))


def apply_events(
    session: Session, line_id: int, tag_id: int, events: Sequence[AlarmEvent]
) -> list[Alarm]:
    """Bring the alarms of one tag up to date with ``events``, in order, in ``session``.

    Called by the engine inside the transaction that stores the violations and its state.
    Every state change appends an audit row; a condition that fires again on an alarm that
    stays in its state (active, shelved, suppressed) only counts up.  Returns the alarms
    opened (inserted) by these events.
    """
    opened: list[Alarm] = []
    now = datetime.now(UTC)
    open_rows: dict[tuple[str, str], Alarm] | None = None
    for event in events:
        if event.kind in ("suppress", "unsuppress"):
            _set_suppression(session, tag_id, event, now)
            open_rows = None  # unsuppressing may have closed some
            continue
        if open_rows is None:
            open_rows = _open_alarms(session, tag_id)
        key = (event.alarm_kind, event.code)
        row = open_rows.get(key)
        fired_state = AlarmState.SUPPRESSED if event.suppressed else AlarmState.ACTIVE_UNACKED
        if event.kind == "raise":
            if row is None:
                row = Alarm(
                    line_id=line_id,
                    tag_id=tag_id,
                    kind=event.alarm_kind,
                    code=event.code,
                    priority=event.priority,
                    state=fired_state,
                    message=event.message,
                    first_at=event.at,
                    last_at=event.at,
                    count=1,
                    updated_at=now,
                )
                session.add(row)
                session.flush()
                audit(session, ENGINE_USER, "alarm-raise", row, rule=event.code)
                opened.append(row)
                open_rows[key] = row
                continue
            row.count += 1
            row.last_at, row.message, row.updated_at = event.at, event.message, now
            row.condition_active = True
            if row.state == AlarmState.RTN_UNACKED or (
                row.state == AlarmState.SUPPRESSED and not event.suppressed
            ):
                action = (
                    "alarm-reactivate"
                    if row.state == AlarmState.RTN_UNACKED
                    else ("alarm-unsuppress")
                )
                row.state = fired_state
                audit(session, ENGINE_USER, action, row, rule=event.code)
        elif row is not None and row.state in (*_ON_RETURN, AlarmState.SHELVED):
            # a shelf sets the annunciation aside, not the condition: a shelved alarm stays
            # shelved and its return is recorded
            row.state = _ON_RETURN.get(AlarmState(row.state), row.state)
            row.condition_active, row.updated_at = False, now
            if row.state == AlarmState.NORMAL:
                del open_rows[key]
            audit(session, ENGINE_USER, "alarm-return", row, rule=event.code, at=str(event.at))
    return opened


def _get(session: Session, alarm_id: int) -> Alarm:
    row = session.get(Alarm, alarm_id)
    if row is None:
        raise UserError(f"there is no alarm {alarm_id}.")
    return row


def _expire_shelf(session: Session, row: Alarm, now: datetime) -> None:
    if row.state == AlarmState.SHELVED and row.shelved_until and row.shelved_until <= now:
        row.state = AlarmState.ACTIVE_UNACKED if row.condition_active else AlarmState.NORMAL
        row.shelved_until, row.updated_at = None, now
        audit(session, ENGINE_USER, "alarm-unshelve", row, reason="shelf expired")


def ack(engine: Engine, alarm_id: int, user: str, note: str | None = None) -> Alarm:
    """Acknowledge an alarm: active -> active-acknowledged, returned -> normal."""
    user = require_user(user, "acknowledging an alarm")
    now = datetime.now(UTC)
    with Session(engine, expire_on_commit=False) as session, session.begin():
        row = _get(session, alarm_id)
        _expire_shelf(session, row, now)
        if row.state == AlarmState.ACTIVE_UNACKED:
            row.state = AlarmState.ACTIVE_ACKED
        elif row.state == AlarmState.RTN_UNACKED:
            row.state = AlarmState.NORMAL
        else:
            raise UserError(f"alarm {alarm_id} is {row.state}; only unacknowledged alarms ack.")
        row.acked_by, row.acked_at, row.updated_at = user, now, now
        audit(session, user, "alarm-ack", row, note=note)
    return row


def shelve(
    engine: Engine, alarm_id: int, user: str, until: datetime, note: str | None = None
) -> Alarm:
    """Shelve an open alarm until ``until`` (UTC); then it is active-unacknowledged if its
    condition still holds, else normal."""
    user = require_user(user, "shelving an alarm")
    now = datetime.now(UTC)
    if until <= now:
        raise UserError(f"the shelf expiry {until.isoformat()} is not in the future.")
    with Session(engine, expire_on_commit=False) as session, session.begin():
        row = _get(session, alarm_id)
        if row.state == AlarmState.NORMAL:
            raise UserError(f"alarm {alarm_id} is normal; there is nothing to shelve.")
        row.state, row.shelved_until, row.updated_at = AlarmState.SHELVED, until, now
        audit(session, user, "alarm-shelve", row, until=until.isoformat(), note=note)
    return row


def comment(
    engine: Engine,
    alarm_id: int,
    user: str,
    cause: str | None = None,
    action: str | None = None,
) -> Alarm:
    """Record the assignable cause and / or corrective action of an alarm."""
    user = require_user(user, "commenting an alarm")
    if not cause and not action:
        raise UserError("give an assignable cause (--cause) or a corrective action (--action).")
    now = datetime.now(UTC)
    with Session(engine, expire_on_commit=False) as session, session.begin():
        row = _get(session, alarm_id)
        if cause:
            row.cause = cause
        if action:
            row.action = action
        row.updated_at = now
        audit(session, user, "alarm-comment", row, cause=cause, action=action)
    return row


def expire_shelves(engine: Engine, now: datetime | None = None) -> int:
    """Unshelve every alarm whose shelf has expired: active-unacknowledged if its condition
    still holds, else normal; return how many."""
    now = now or datetime.now(UTC)
    with Session(engine) as session, session.begin():
        rows = session.scalars(
            select(Alarm).where(Alarm.state == AlarmState.SHELVED, Alarm.shelved_until <= now)
        ).all()
        for row in rows:
            _expire_shelf(session, row, now)
    return len(rows)


@dataclass(frozen=True)
class AlarmView:
    """One alarm as listed: ids resolved to line and tag names."""

    id: int
    line: str
    tag: str | None
    kind: str
    code: str
    priority: str
    state: str
    count: int
    first_at: datetime
    last_at: datetime
    acked_by: str | None
    shelved_until: datetime | None
    cause: str | None
    action: str | None
    message: str


def list_alarms(engine: Engine, *, include_normal: bool = False) -> list[AlarmView]:
    """Alarms, newest activity first; normal (closed) ones only with ``include_normal``."""
    query = (
        select(Alarm, Line.name, Tag.name)
        .join(Line, Line.id == Alarm.line_id)
        .outerjoin(Tag, Tag.id == Alarm.tag_id)
        .order_by(Alarm.last_at.desc(), Alarm.id.desc())
    )
    if not include_normal:
        query = query.where(Alarm.state != AlarmState.NORMAL)
    with Session(engine) as session:
        rows = session.execute(query).all()
    return [
        AlarmView(
            id=a.id,
            line=line,
            tag=tag,
            kind=a.kind,
            code=a.code,
            priority=a.priority,
            state=a.state,
            count=a.count,
            first_at=a.first_at,
            last_at=a.last_at,
            acked_by=a.acked_by,
            shelved_until=a.shelved_until,
            cause=a.cause,
            action=a.action,
            message=a.message,
        )
        for a, line, tag in rows
    ]
