"""The audit log: who changed what and when, one ``audit_log`` row per change.

Every writer appends through `record_audit`: alarm changes (`plantqc.alarms.rows`, read back
by the notifiers as their outbox, `plantqc.notifiers.outbox`), limits freezes
(`plantqc.charting.phase1`) and report signatures (`plantqc.reports.sign`).  An entry is
stamped and shaped the same way wherever it is written, and it commits or rolls back with the
change it records, in the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from plantqc.store.models import AuditLog


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
