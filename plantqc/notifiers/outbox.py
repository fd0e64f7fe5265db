"""The transactional outbox of alarm changes: ``audit_log`` rows after a persisted cursor.

Every alarm state change and operator note is written to ``audit_log`` (entity ``alarm``)
in the same transaction as the change itself (`plantqc.alarms`), whichever process makes
it: the engine in the daemon, or ``plantqc alarms ack`` on a workstation.  That table is
therefore an outbox (C. Richardson, *Microservices Patterns*, 2018, §3.3.7, "transactional
outbox"): a notifier reads the rows after its cursor, delivers them, and only then moves
the cursor, so every change is delivered at least once, across broker outages and restarts.

One subtlety makes the cursor more than a number.  On PostgreSQL an id is drawn from a
sequence when a row is inserted, not when its transaction commits, so a row with a smaller
id can become visible after a larger one was already read.  Ids missing below the highest
id read are kept as *pending* and looked up again on every read for `GAP_WAIT_S`; a
transaction that rolled back leaves a gap for ever, which is then given up (and logged).
On SQLite writers are serialised and ids are visible in order, so nothing stays pending.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, String, func, select
from sqlalchemy.orm import Session

from plantqc.store.models import Alarm, AlarmState, AuditLog, Line, Tag

log = logging.getLogger(__name__)

ALARM_ENTITY = "alarm"
GAP_WAIT_S = 120.0
"""How long an id missing below the cursor is waited for before it is taken as rolled back, s."""
BATCH_SIZE = 200
"""Audit rows read at most per batch: bounds the duplicates a failed delivery can cause."""
ACTIVE_STATES = (AlarmState.ACTIVE_UNACKED, AlarmState.ACTIVE_ACKED)
"""ISA-18.2 states in which the alarm condition is present and not set aside by an operator."""


@dataclass(frozen=True)
class LinePath:
    """ISA-95 path of a line: site / area / line."""

    site: str
    area: str
    line: str

    def __str__(self) -> str:
        return f"{self.site}/{self.area}/{self.line}"


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


@dataclass(frozen=True)
class AlarmChange:
    """One alarm change read from the outbox, with the alarm as it is when read.

    ``change_state`` is the state the change left the alarm in; ``alarm.state`` and the other
    alarm fields are the alarm row at read time, so a notifier catching up after an outage
    shows the latest state in every document while the ``change`` part stays historical.
    """

    audit_id: int
    action: str
    by: str
    at: datetime
    change_state: str
    detail: Mapping[str, Any]
    alarm: Alarm
    path: LinePath
    tag: str | None

    @property
    def is_open(self) -> bool:
        """Whether the alarm (now) is anything but normal: its retained state is kept."""
        return self.alarm.state != AlarmState.NORMAL

    def document(self) -> dict[str, Any]:
        """The change as the JSON document notifiers publish; times ISO 8601 UTC."""
        a = self.alarm
        return {
            "alarm_id": a.id,
            "site": self.path.site,
            "area": self.path.area,
            "line": self.path.line,
            "tag": self.tag,
            "kind": a.kind,
            "code": a.code,
            "priority": a.priority,
            "state": a.state,
            "message": a.message,
            "first_at": _iso(a.first_at),
            "last_at": _iso(a.last_at),
            "count": a.count,
            "acked_by": a.acked_by,
            "acked_at": _iso(a.acked_at),
            "shelved_until": _iso(a.shelved_until),
            "cause": a.cause,
            "action": a.action,
            "change": {
                "id": self.audit_id,
                "action": self.action,
                "by": self.by,
                "at": _iso(self.at),
                "state": self.change_state,
                "detail": {k: v for k, v in self.detail.items() if k != "state"},
            },
        }


@dataclass(frozen=True)
class LineAlarmSummary:
    """The line's alarms whose condition is present now (`ACTIVE_STATES`)."""

    active_priorities: tuple[str, ...] = ()

    @property
    def any_active(self) -> bool:
        return bool(self.active_priorities)


@dataclass(frozen=True)
class Position:
    """Where a notifier is in the outbox: the highest audit id read and the ids still missing
    below it, each with when it was first missed (Unix time, s)."""

    last_id: int = 0
    pending: Mapping[int, float] = field(default_factory=dict)


@dataclass(frozen=True)
class OutboxBatch:
    """Changes to deliver, the line's summary when they were read, and where the cursor goes
    once they are delivered."""

    changes: tuple[AlarmChange, ...]
    summary: LineAlarmSummary
    next_position: Position
    full: bool
    """Whether the read stopped at its row limit: more may be waiting."""


class OutboxCursor:
    """A notifier's `Position`, persisted in a small JSON file, replaced atomically.

    Parameters
    ----------
    path : Path
        The cursor file; created (with its folder) on the first `advance`.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.position = self._load()

    def _load(self) -> Position:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            return Position(
                int(data["last_id"]), {int(k): float(v) for k, v in data["pending"].items()}
            )
        except FileNotFoundError:
            return Position()
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            # starting over re-sends every change once (at least once); losing some would not do
            log.error(
                "notification cursor unreadable; starting from the first change",
                extra={"file": str(self.path), "reason": str(exc)},
            )
            return Position()

    def advance(self, position: Position) -> None:
        """Move to ``position`` and make it durable before returning."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".tmp")
        data = {"last_id": position.last_id, "pending": dict(position.pending)}
        with tmp.open("w", encoding="utf-8") as handle:
            json.dump(data, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, self.path)
        self.position = position


def read_batch(
    engine: Engine,
    path: LinePath,
    position: Position,
    *,
    limit: int = BATCH_SIZE,
    now: float | None = None,
) -> OutboxBatch:
    """The alarm changes of line ``path`` after ``position``, oldest first.

    Parameters
    ----------
    engine : Engine
        The store.
    path : LinePath
        The line whose alarms are wanted; changes of other lines only move the cursor.
    position : Position
        Where the previous delivered batch ended.
    limit : int
        Audit rows (of any entity) read at most.
    now : float, optional
        Unix time, s, for the pending-id bookkeeping; default the clock.
    """
    now = time.time() if now is None else now
    with Session(engine) as session:
        newest = session.scalar(select(func.max(AuditLog.id))) or 0
        if newest < position.last_id:
            # ids never go back: this is another database, or one made anew, than the cursor's
            log.warning(
                "alarm outbox behind the notifier's cursor; starting from its first change",
                extra={"line": str(path), "cursor": position.last_id, "newest": newest},
            )
            position = Position()
        scanned = list(
            session.scalars(
                select(AuditLog.id)
                .where(AuditLog.id > position.last_id)
                .order_by(AuditLog.id)
                .limit(limit)
            )
        )
        pending = dict(position.pending)
        last_id = position.last_id
        if scanned:
            seen = set(scanned)
            for missing in range(last_id + 1, scanned[-1]):
                if missing not in seen:
                    pending.setdefault(missing, now)
            last_id = scanned[-1]
        # pending ids that have become visible since the last read go out with this batch
        appeared = set(
            session.scalars(select(AuditLog.id).where(AuditLog.id.in_(position.pending)))
        )
        for audit_id in appeared:
            pending.pop(audit_id, None)
        for audit_id, since in list(pending.items()):
            if now - since > GAP_WAIT_S:
                pending.pop(audit_id)
                log.warning(
                    "audit id never appeared; taken as a rolled-back transaction",
                    extra={"audit_id": audit_id, "waited_s": round(now - since)},
                )
        wanted = appeared | set(scanned)
        changes = _changes(session, path, wanted) if wanted else ()
        summary = _summary(session, path)
    return OutboxBatch(changes, summary, Position(last_id, pending), len(scanned) >= limit)


def _line_filter(path: LinePath) -> tuple[Any, ...]:
    return (Line.site == path.site, Line.area == path.area, Line.name == path.line)


def _changes(session: Session, path: LinePath, ids: set[int]) -> tuple[AlarmChange, ...]:
    rows = session.execute(
        select(AuditLog, Alarm, Tag.name)
        .join(Alarm, AuditLog.entity_id == Alarm.id.cast(String))
        .join(Line, Line.id == Alarm.line_id)
        .outerjoin(Tag, Tag.id == Alarm.tag_id)
        .where(AuditLog.id.in_(ids), AuditLog.entity == ALARM_ENTITY, *_line_filter(path))
        .order_by(AuditLog.id)
    ).all()
    session.expunge_all()  # the alarm rows travel to the notifiers, detached and read-only
    return tuple(
        AlarmChange(
            audit_id=audit.id,
            action=audit.action,
            by=audit.user,
            at=audit.at,
            change_state=str((audit.detail or {}).get("state", alarm.state)),
            detail=audit.detail or {},
            alarm=alarm,
            path=path,
            tag=tag,
        )
        for audit, alarm, tag in rows
    )


def _summary(session: Session, path: LinePath) -> LineAlarmSummary:
    priorities = session.scalars(
        select(Alarm.priority)
        .join(Line, Line.id == Alarm.line_id)
        .where(Alarm.state.in_(ACTIVE_STATES), *_line_filter(path))
        .order_by(Alarm.priority)
    ).all()
    return LineAlarmSummary(tuple(priorities))
