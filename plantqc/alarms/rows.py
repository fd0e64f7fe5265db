"""Alarm rows changed through the state table: one place applies a `Transition` to a row.

Whoever changes an alarm (the engine's conditions, the daemon's buffer alarm, an operator)
asks `plantqc.alarms.states.transition` what the event does and lets `change` / `open_alarm`
carry it out: the row's state, its counters and times, and the audit row that the notifiers
publish (`plantqc.notifiers.outbox`).

Every writer reads the rows it changes through `locked`, so that a change is decided on the
row as it is and no other writer's change lands between that read and the write: the engine
(which reads a tag's open alarms, then writes them when its chunk commits) and an operator
(who acknowledges one) are serialised, and neither overwrites the other's transition.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Select
from sqlalchemy.orm import Session

from plantqc.alarms.states import Effect, Event, Transition, transition
from plantqc.store.audit import record_audit
from plantqc.store.models import Alarm, AlarmState


def locked(session: Session, query: Select[Any]) -> Select[Any]:
    """``query`` made to lock the rows it reads until ``session``'s transaction ends.

    PostgreSQL: ``SELECT ... FOR UPDATE``; a writer that holds one of the rows makes the read
    wait, and under READ COMMITTED the read then returns the row as that writer committed it
    (and drops it if it no longer matches the ``WHERE``).  SQLite has no row locks but one
    write lock for the database: the transaction takes it now (``BEGIN IMMEDIATE``, waiting
    up to the connection's ``busy_timeout``) unless it holds it already, having written.
    Without a transaction (pysqlite's legacy mode begins one at the first write) a read here
    would be decided on and written after another writer's commit.
    """
    connection = session.connection()
    if connection.dialect.name == "sqlite":
        dbapi = connection.connection.dbapi_connection
        if dbapi is not None and not dbapi.in_transaction:
            connection.exec_driver_sql("BEGIN IMMEDIATE")
    return query.with_for_update()


def audit(session: Session, user: str, what: str, alarm: Alarm, **detail: Any) -> None:
    """Append one alarm change to ``audit_log`` (the notifiers' outbox), in ``session``."""
    record_audit(session, user, what, "alarm", alarm.id, {"state": str(alarm.state), **detail})


def open_alarm(
    session: Session,
    event: Event,
    user: str,
    *,
    line_id: int,
    tag_id: int | None,
    kind: str,
    code: str,
    priority: str,
    message: str,
    at: datetime,
    detail: Mapping[str, Any] | None = None,
) -> Alarm:
    """Insert the alarm that ``event`` (an activation at ``at``) opens from normal, flushed so
    that it has its id, and audit it with ``detail``."""
    step = transition(AlarmState.NORMAL, event)
    assert Effect.OPEN in step.effects, f"{event} does not open an alarm"
    row = Alarm(
        line_id=line_id,
        tag_id=tag_id,
        kind=kind,
        code=code,
        priority=priority,
        state=step.state,
        message=message,
        first_at=at,
        last_at=at,
        count=1,
        condition_active=True,
        updated_at=datetime.now(UTC),
    )
    session.add(row)
    session.flush()
    if step.audit is not None:
        audit(session, user, step.audit, row, **(detail or {}))
    return row


def change(
    session: Session,
    row: Alarm,
    event: Event,
    user: str,
    *,
    fired_at: datetime | None = None,
    message: str | None = None,
    shelved_until: datetime | None = None,
    cause: str | None = None,
    action: str | None = None,
    detail: Mapping[str, Any] | None = None,
) -> Transition:
    """Apply ``event`` to the open alarm ``row``: its new state, the table's effects and the
    audit row (with ``detail``); return the transition.

    ``fired_at`` is when the condition fired (`Effect.COUNT`), ``message`` its text;
    ``shelved_until`` the shelf's expiry (`Effect.SET_SHELF`); ``cause`` / ``action`` the
    operator's note (`Effect.RECORD_NOTE`).

    Raises
    ------
    IllegalTransition
        The event is refused in the row's state.
    """
    step = transition(row.state, event)
    effects = step.effects
    now = datetime.now(UTC)
    if Effect.COUNT in effects:
        row.count += 1
        row.last_at = fired_at or now
        if message is not None:
            row.message = message
    if Effect.CONDITION_ON in effects:
        row.condition_active = True
    if Effect.CONDITION_OFF in effects:
        row.condition_active = False
    if Effect.RECORD_ACK in effects:
        row.acked_by, row.acked_at = user, now
    if Effect.SET_SHELF in effects:
        row.shelved_until = shelved_until
    if Effect.END_SHELF in effects:
        row.shelved_until = None
    if Effect.RECORD_NOTE in effects:
        row.cause = cause or row.cause
        row.action = action or row.action
    row.state = step.state
    if effects or step.audit is not None:
        row.updated_at = now
    if step.audit is not None:
        audit(session, user, step.audit, row, **(detail or {}))
    return step
