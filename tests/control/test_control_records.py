"""The control loops' store: state, moves and audit entries, on SQLite and PostgreSQL.

Ground truth: the rows and audit entries read back are exactly the supervisor events filed.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from plantqc.control.loop import Event, Mode
from plantqc.control.records import (
    decide,
    decisions,
    ensure_loop,
    record_events,
    request_mode,
)
from plantqc.errors import UserError
from plantqc.store import connect, upgrade
from plantqc.store.models import AuditLog, ControlLoop, ControlMove

T0 = datetime(2026, 12, 4, 8, 0, tzinfo=UTC)
LOOP = "casting-1.md"


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    url = f"sqlite:///{tmp_path / 's.db'}" if request.param == "sqlite" else None
    engine = connect(url or request.getfixturevalue("pg_url"))
    upgrade(engine)
    with Session(engine) as session, session.begin():
        ensure_loop(session, LOOP, "casting-1", Mode.ADVISORY, at=T0)
    yield engine
    engine.dispose()


def _propose(engine: Engine, at: datetime, old: float, new: float) -> int:
    event = Event(at, LOOP, "proposed", "plantqc", old, new, "controller")
    with Session(engine) as session, session.begin():
        return record_events(session, [event])[0].id


def test_a_new_proposal_supersedes_the_pending_one(engine: Engine) -> None:
    first = _propose(engine, T0, 20.0, 20.5)
    second = _propose(engine, T0 + timedelta(seconds=20), 20.0, 20.8)
    with Session(engine) as session:
        assert session.get(ControlMove, first).status == "superseded"
        assert session.get(ControlMove, second).status == "pending"


def test_accepting_a_proposal_files_the_user_and_hands_it_to_the_runtime(engine: Engine) -> None:
    move_id = _propose(engine, T0, 20.0, 20.5)
    decide(engine, move_id, "alice", accept=True, reason="looks right")
    with Session(engine) as session:
        pending = decisions(session, LOOP).accepted
        audit = session.scalars(select(AuditLog).where(AuditLog.action == "control.accepted"))
        entry = audit.one()
    assert pending is not None and pending.id == move_id and pending.new == 20.5
    assert (entry.user, entry.entity_id, entry.detail["reason"]) == ("alice", LOOP, "looks right")
    assert (entry.detail["old"], entry.detail["new"]) == (20.0, 20.5)


def test_a_superseded_proposal_cannot_be_accepted(engine: Engine) -> None:
    first = _propose(engine, T0, 20.0, 20.5)
    _propose(engine, T0 + timedelta(seconds=20), 20.0, 20.8)
    with pytest.raises(UserError, match=f"control move {first} is superseded, not pending"):
        decide(engine, first, "alice", accept=True, reason="late")


def test_a_mode_request_is_audited_with_old_and_new_mode(engine: Engine) -> None:
    assert request_mode(engine, LOOP, Mode.CLOSED, "bob", "commissioned") == "advisory"
    with Session(engine) as session:
        row = session.get(ControlLoop, LOOP)
        entry = session.scalars(select(AuditLog).where(AuditLog.action == "control.mode")).one()
    assert (row.mode, row.mode_by) == ("closed", "bob")
    assert (entry.user, entry.detail) == (
        "bob",
        {"old": "advisory", "new": "closed", "reason": "commissioned"},
    )


def test_holds_and_applied_moves_become_rows_and_audit_entries(engine: Engine) -> None:
    events = [
        Event(T0, LOOP, "hold", "plantqc", None, None, "gauge sensor fault"),
        Event(T0 + timedelta(seconds=60), LOOP, "resume", "plantqc", None, None, "fault"),
        Event(T0 + timedelta(seconds=80), LOOP, "applied", "plantqc", 20.0, 21.0, "controller"),
    ]
    with Session(engine) as session, session.begin():
        record_events(session, events)
    with Session(engine) as session:
        kinds = [m.kind for m in session.scalars(select(ControlMove).order_by(ControlMove.id))]
        actions = [a.action for a in session.scalars(select(AuditLog).order_by(AuditLog.id))]
    assert kinds == ["held", "resumed", "applied"]
    assert actions == ["control.held", "control.resumed", "control.applied"]


def test_an_unknown_loop_is_named_with_the_known_ones(engine: Engine) -> None:
    with pytest.raises(UserError, match=r"no control loop .casting-9\.md.*casting-1\.md"):
        request_mode(engine, "casting-9.md", Mode.OFF, "bob", "x")
