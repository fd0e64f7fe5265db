"""The audit log: one entry per change, written in the transaction of the change it records."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from plantqc.store.audit import record_audit
from plantqc.store.models import AuditLog


def test_an_entry_names_who_did_what_to_which_entity_and_when(engine: Engine) -> None:
    before = datetime.now(UTC)
    with Session(engine) as session, session.begin():
        record_audit(session, "q.eng", "limits-freeze", "control_limits", 7, {"version": 2})
    with Session(engine) as session:
        entry = session.scalars(select(AuditLog)).one()
        assert (entry.user, entry.action, entry.entity, entry.entity_id, entry.detail) == (
            "q.eng", "limits-freeze", "control_limits", "7", {"version": 2},
        )  # fmt: skip
        assert before <= entry.at <= datetime.now(UTC)


def test_an_entry_rolls_back_with_the_change_it_records(engine: Engine) -> None:
    with pytest.raises(RuntimeError), Session(engine) as session, session.begin():
        record_audit(session, "op.kim", "alarm-ack", "alarm", 1, {"state": "acked"})
        raise RuntimeError("the change failed")
    with Session(engine) as session:
        assert session.scalars(select(AuditLog)).all() == []
