"""A line's alarm histories read from the audit trail, for the EEMUA 191 figures
(`plantqc.alarms.kpi`) of `plantqc alarms kpi` and of the lot report."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import String, cast, select
from sqlalchemy.orm import Session

from plantqc.alarms.kpi import AlarmHistory, Change
from plantqc.store.models import Alarm, AuditLog, Tag


def line_histories(session: Session, line_id: int, end: datetime) -> list[AlarmHistory]:
    """The histories of the line's alarms first raised at or before ``end``.

    The time of a change is the condition's (the samples' time: an alarm's ``first_at`` for a
    raise, the audit entry's ``at`` detail for the engine's other changes), else when it was
    recorded (an operator's); so a replay of recorded history is counted in its own time.
    """
    changes: dict[int, tuple[str | None, str, list[Change]]] = {}
    rows = session.execute(
        select(Alarm.id, Alarm.code, Alarm.first_at, Tag.name, AuditLog)
        .join(AuditLog, AuditLog.entity_id == cast(Alarm.id, String))
        .outerjoin(Tag, Tag.id == Alarm.tag_id)
        .where(AuditLog.entity == "alarm", Alarm.line_id == line_id, Alarm.first_at <= end)
        .order_by(AuditLog.id)
    )
    for alarm_id, code, first_at, tag, audit in rows:
        detail = audit.detail or {}
        if "at" in detail:
            at = _utc(datetime.fromisoformat(detail["at"]))
        else:
            at = first_at if audit.action == "alarm-raise" else audit.at
        entry = changes.setdefault(alarm_id, (tag, code, []))
        entry[2].append(Change.from_audit(audit.action, detail["state"], at))
    return [AlarmHistory(tag, code, c) for tag, code, c in changes.values()]


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value
