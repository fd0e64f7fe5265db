"""What operators do with alarms (acknowledge, shelve, comment, list, look one up) and shelves
expiring.

Each action is one transaction through the state table (`plantqc.alarms.states`) on the alarm
row as it is, locked (`plantqc.alarms.rows.locked`) until the action commits, so an action and
the engine's changes to the same alarm never overwrite each other; an action the table
refuses is a `UserError` in one sentence.  Every change names its user in the
audit log, so a blank user is refused.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, Select, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from plantqc.alarms.conditions import ENGINE_USER
from plantqc.alarms.rows import change, locked
from plantqc.alarms.states import Event, IllegalTransition, unshelve_event
from plantqc.errors import UserError
from plantqc.store.models import Alarm, AlarmState, Line, Tag


def require_user(user: str, doing: str) -> str:
    """``user`` without surrounding blanks; a `UserError` when that leaves nothing, since an
    audit trail entry must say who made the change (``doing``, e.g. "acknowledging an alarm")."""
    name = user.strip()
    if not name:
        raise UserError(f"{doing} needs the name of who does it (--user), not a blank one.")
    return name


def _get(session: Session, alarm_id: int) -> Alarm:
    query = locked(session, select(Alarm).where(Alarm.id == alarm_id))
    row = session.scalars(query).one_or_none()
    if row is None:
        raise UserError(f"there is no alarm {alarm_id}.")
    return row


def _operate(session: Session, row: Alarm, event: Event, user: str, **kwargs: Any) -> None:
    try:
        change(session, row, event, user, **kwargs)
    except IllegalTransition as exc:
        raise UserError(f"alarm {row.id} is {exc.state}; {exc.reason}.") from None


def _expire_shelf(session: Session, row: Alarm, now: datetime) -> bool:
    """Unshelve ``row`` if its shelf has expired by ``now``; whether it did."""
    if row.state != AlarmState.SHELVED or row.shelved_until is None or row.shelved_until > now:
        return False
    event = unshelve_event(row.condition_active)
    change(session, row, event, ENGINE_USER, detail={"reason": "shelf expired"})
    return True


@contextmanager
def _operating(engine: Engine, alarm_id: int) -> Iterator[Session]:
    """One operator action's transaction; a SQLite store that another writer (the engine's
    chunk) kept locked for longer than the busy timeout is a `UserError`, not a traceback:
    nothing was changed and the action can be repeated."""
    try:
        with Session(engine, expire_on_commit=False) as session, session.begin():
            yield session
    except OperationalError as exc:
        if "locked" not in str(exc.orig):
            raise
        raise UserError(
            f"alarm {alarm_id} was not changed: another writer kept the store locked; try again."
        ) from None


def ack(engine: Engine, alarm_id: int, user: str, note: str | None = None) -> Alarm:
    """Acknowledge an alarm: active -> active-acknowledged, returned -> normal."""
    user = require_user(user, "acknowledging an alarm")
    with _operating(engine, alarm_id) as session:
        row = _get(session, alarm_id)
        _expire_shelf(session, row, datetime.now(UTC))
        _operate(session, row, Event.ACK, user, detail={"note": note})
    return row


def shelve(
    engine: Engine, alarm_id: int, user: str, until: datetime, note: str | None = None
) -> Alarm:
    """Shelve an open alarm until ``until`` (UTC); then it is active-unacknowledged if its
    condition still holds, else normal."""
    user = require_user(user, "shelving an alarm")
    if until <= datetime.now(UTC):
        raise UserError(f"the shelf expiry {until.isoformat()} is not in the future.")
    with _operating(engine, alarm_id) as session:
        row = _get(session, alarm_id)
        detail = {"until": until.isoformat(), "note": note}
        _operate(session, row, Event.SHELVE, user, shelved_until=until, detail=detail)
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
    with _operating(engine, alarm_id) as session:
        row = _get(session, alarm_id)
        detail = {"cause": cause, "action": action}
        _operate(session, row, Event.COMMENT, user, cause=cause, action=action, detail=detail)
    return row


def expire_shelves(engine: Engine, now: datetime | None = None) -> int:
    """Unshelve every alarm whose shelf has expired: active-unacknowledged if its condition
    still holds, else normal; return how many."""
    now = now or datetime.now(UTC)
    with Session(engine) as session:
        due = session.scalars(
            select(Alarm.id)
            .where(Alarm.state == AlarmState.SHELVED, Alarm.shelved_until <= now)
            .order_by(Alarm.id)
        ).all()
    expired = 0
    # one alarm per transaction: holding one row lock at a time cannot deadlock with the
    # engine, which locks a tag's alarms in its own order; each is judged again once locked
    for alarm_id in due:
        with Session(engine) as session, session.begin():
            query = locked(session, select(Alarm).where(Alarm.id == alarm_id))
            row = session.scalars(query).one_or_none()  # its line may have been deleted since
            expired += row is not None and _expire_shelf(session, row, now)
    return expired


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


def _views_query() -> Select[tuple[Alarm, str, str | None]]:
    """Alarms with their line's and tag's names, newest activity first."""
    return (
        select(Alarm, Line.name, Tag.name)
        .join(Line, Line.id == Alarm.line_id)
        .outerjoin(Tag, Tag.id == Alarm.tag_id)
        .order_by(Alarm.last_at.desc(), Alarm.id.desc())
    )


def _view(a: Alarm, line: str, tag: str | None) -> AlarmView:
    return AlarmView(
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


def list_alarms(engine: Engine, *, include_normal: bool = False) -> list[AlarmView]:
    """Alarms, newest activity first; normal (closed) ones only with ``include_normal``."""
    query = _views_query()
    if not include_normal:
        query = query.where(Alarm.state != AlarmState.NORMAL)
    with Session(engine) as session:
        rows = session.execute(query).all()
    return [_view(a, line, tag) for a, line, tag in rows]


def get_alarm(engine: Engine, alarm_id: int) -> AlarmView | None:
    """Alarm ``alarm_id`` in any state, closed ones included; None when there is none (a
    page or the API asks for one alarm without listing them all)."""
    with Session(engine) as session:
        row = session.execute(_views_query().where(Alarm.id == alarm_id)).one_or_none()
    return None if row is None else _view(*row)
