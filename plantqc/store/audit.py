"""The audit log: who changed what and when, one ``audit_log`` row per change.

Every writer appends through `record_audit`: alarm changes (`plantqc.alarms.rows`, read back
by the notifiers as their outbox, `plantqc.notifiers.outbox`), limits freezes
(`plantqc.charting.phase1`) and report signatures (`plantqc.reports.sign`).  An entry is
stamped and shaped the same way wherever it is written, and it commits or rolls back with the
change it records, in the caller's transaction.

Every reader that filters it (the console's audit trail page and its CSV download, the REST
API) asks `find_audit`, so that a filter means the same wherever it is applied.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from plantqc.store.models import AuditLog

AUDIT_PAGE = 100
"""How many entries `find_audit` returns unless asked for another number."""


def record_audit(
    session: Session,
    user: str,
    action: str,
    entity: str,
    entity_id: object,
    detail: Mapping[str, Any],
    *,
    at: datetime | None = None,
) -> AuditLog:
    """Add the audit entry that ``user`` did ``action`` to ``entity`` ``entity_id`` (stored as
    text), with ``detail``, at ``at`` (default now, UTC), to ``session``; return it."""
    row = AuditLog(
        at=at or datetime.now(UTC),
        user=user,
        action=action,
        entity=entity,
        entity_id=str(entity_id),
        detail=dict(detail),
    )
    session.add(row)
    return row


def find_audit(
    engine: Engine,
    *,
    user: str | None = None,
    action: str | None = None,
    entity: str | None = None,
    entity_id: object = None,
    start: datetime | None = None,
    end: datetime | None = None,
    limit: int | None = AUDIT_PAGE,
    offset: int = 0,
) -> list[AuditLog]:
    """The audit entries matching every filter given, newest first (by their time, then by
    the order they were recorded in), skipping ``offset`` and at most ``limit`` (None: all).

    ``user``, ``action``, ``entity`` and ``entity_id`` (compared as text, as it is stored)
    match exactly; the time filter is ``start <= at < end``, so consecutive periods share
    no entry.  Times are aware (a naive one would be ambiguous on PostgreSQL).
    """
    query = select(AuditLog).order_by(AuditLog.at.desc(), AuditLog.id.desc())
    for column, value in (
        (AuditLog.user, user),
        (AuditLog.action, action),
        (AuditLog.entity, entity),
        (AuditLog.entity_id, None if entity_id is None else str(entity_id)),
    ):
        if value is not None:
            query = query.where(column == value)
    if start is not None:
        query = query.where(AuditLog.at >= start)
    if end is not None:
        query = query.where(AuditLog.at < end)
    query = query.offset(offset).limit(limit)
    with Session(engine) as session:
        return list(session.scalars(query))


PERMISSION_DENIED = "permission-denied"
"""The action of the entry recording a refusal: a role not granted what its user asked."""


def record_denied(
    session: Session,
    user: str,
    role: str | None,
    action: str,
    entity: str,
    entity_id: object,
    *,
    at: datetime | None = None,
    **detail: Any,
) -> AuditLog:
    """Add the entry that ``user`` (of ``role``) was refused ``action`` on ``entity``
    ``entity_id``, with more ``detail``: one shape for the console, the REST API and the CLI."""
    entry = {"action": str(action), "role": role, **detail}
    return record_audit(session, user, PERMISSION_DENIED, entity, entity_id, entry, at=at)
