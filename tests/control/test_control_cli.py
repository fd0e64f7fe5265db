"""`plantqc control status|mode|accept|reject`: a person's side of the loops, on SQLite."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from plantqc.cli import app
from plantqc.control.loop import Event
from plantqc.control.records import record_events
from plantqc.store import connect
from plantqc.store.models import AuditLog, ControlMove

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "casting.yaml"


@pytest.fixture
def db(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'c.db'}"
    result = CliRunner().invoke(app, ["control", "status", "--db", url, "--config", str(EXAMPLE)])
    assert result.exit_code == 0, result.output
    return url


def _cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["control", *args])
    return result.exit_code, result.output


def _propose(url: str) -> int:
    engine = connect(url)
    event = Event(datetime.now(UTC), "casting-1.md", "proposed", "plantqc", 20.0, 20.6, "ctl")
    with Session(engine) as session, session.begin():
        move_id = record_events(session, [event])[0].id
    engine.dispose()
    return move_id


def test_status_lists_the_configured_loop_in_its_configured_mode(db: str) -> None:
    code, out = _cli("status", "--db", db)
    assert code == 0
    assert "casting-1.md" in out and "off" in out and "config" in out


def test_mode_switches_the_loop_and_names_the_user(db: str) -> None:
    code, out = _cli("mode", "casting-1.md", "advisory", "--user", "alice", "--db", db)
    assert (code, out.strip()) == (0, "casting-1.md: off -> advisory (by alice)")


def test_a_mode_that_does_not_exist_is_one_sentence(db: str) -> None:
    code, out = _cli("mode", "casting-1.md", "auto", "--user", "alice", "--db", db)
    assert code != 0
    assert "mode 'auto' is not one of off, advisory, closed." in out
    assert "Traceback" not in out


def test_accept_marks_the_proposal_for_the_daemon(db: str) -> None:
    move_id = _propose(db)
    code, out = _cli("accept", str(move_id), "--user", "alice", "--db", db)
    assert code == 0 and f"move {move_id} of casting-1.md (20 -> 20.6) accepted" in out
    engine = connect(db)
    with Session(engine) as session:
        assert session.get(ControlMove, move_id).status == "accepted"
    engine.dispose()


def test_reject_records_the_reason_in_the_audit_log(db: str) -> None:
    move_id = _propose(db)
    code, _ = _cli("reject", str(move_id), "--user", "bob", "--reason", "web break", "--db", db)
    assert code == 0
    engine = connect(db)
    with Session(engine) as session:
        entry = session.scalars(select(AuditLog).where(AuditLog.action == "control.rejected"))
        assert [(e.user, e.detail["reason"]) for e in entry] == [("bob", "web break")]
    engine.dispose()


def test_accepting_a_move_that_does_not_exist_is_one_sentence(db: str) -> None:
    code, out = _cli("accept", "999", "--user", "alice", "--db", db)
    assert (code, out.strip()) != (0, "")
    assert "there is no proposed control move 999." in out and "Traceback" not in out
