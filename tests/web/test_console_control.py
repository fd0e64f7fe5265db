"""The control page: every loop with its mode and pending advisory proposal; accepting,
rejecting and changing the mode with a reason, CSRF-checked, refused (and audited) for a role
without the permission, recorded under the logged-in user."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from conftest import ADMIN, OPERATOR, Console, log_in
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from plantqc.control.loop import Event
from plantqc.control.modes import Mode
from plantqc.control.records import ensure_loop, record_events
from plantqc.store.models import AuditLog, ControlLoop, ControlMove

LOOP = "line-1.md"


@pytest.fixture
def move_id(console: Console) -> int:
    """Loop `LOOP` in advisory mode with a pending proposal from 50 to 52.5 mL/min; its id."""
    at = datetime.now(UTC)
    proposal = Event(at, LOOP, "proposed", "plantqc", 50.0, 52.5, "mean 3.1 um below target")
    with Session(console.engine) as session, session.begin():
        ensure_loop(session, LOOP, "line-1", Mode.ADVISORY, at=at)
        [move] = record_events(session, [proposal])
        return move.id


def _audit(console: Console, action: str) -> list[AuditLog]:
    with Session(console.engine) as session:
        query = select(AuditLog).where(AuditLog.action == action).order_by(AuditLog.id)
        return list(session.scalars(query))


def _status(console: Console, move_id: int) -> str:
    with Session(console.engine) as session:
        return session.get_one(ControlMove, move_id).status


def _posts(move_id: int) -> list[tuple[str, dict[str, str], str, str, str]]:
    """Each POST of the page: path, form, permission, and the entity a refusal is audited on."""
    return [
        (f"/control/moves/{move_id}/accept", {"reason": "ok"}, "control.accept",
         "control_move", str(move_id)),
        (f"/control/moves/{move_id}/reject", {"reason": "no"}, "control.reject",
         "control_move", str(move_id)),
        (f"/control/loops/{LOOP}/mode", {"mode": "closed", "reason": "tuned"}, "control.mode",
         "control_loop", LOOP),
    ]  # fmt: skip


def test_the_page_lists_each_loop_with_its_mode_and_pending_proposal(
    client: TestClient, move_id: int
) -> None:
    log_in(client, OPERATOR)
    page = client.get("/control").text
    assert f'<span class="mode" id="mode-{LOOP}">advisory</span>' in page
    assert f"move {move_id}: 50 → 52.5 (mean 3.1 um below target" in page
    assert f'action="/control/moves/{move_id}/accept"' in page
    assert f'action="/control/moves/{move_id}/reject"' in page


def test_accepting_a_pending_move_records_control_accepted_under_the_user(
    client: TestClient, console: Console, move_id: int
) -> None:
    token = log_in(client, OPERATOR)
    data = {"reason": "checked against the gauge", "csrf_token": token, "user": "someone.else"}
    response = client.post(f"/control/moves/{move_id}/accept", data=data)
    assert response.status_code == 303
    assert _status(console, move_id) == "accepted"
    [entry] = _audit(console, "control.accepted")
    assert (entry.user, entry.entity, entry.entity_id) == (OPERATOR, "control_loop", LOOP)
    assert entry.detail["reason"] == "checked against the gauge"
    assert entry.detail["proposal_id"] == move_id


def test_rejecting_a_pending_move_records_control_rejected_with_the_reason(
    client: TestClient, console: Console, move_id: int
) -> None:
    token = log_in(client, OPERATOR)
    data = {"reason": "die bolt 12 stuck", "csrf_token": token}
    assert client.post(f"/control/moves/{move_id}/reject", data=data).status_code == 303
    assert _status(console, move_id) == "rejected"
    [entry] = _audit(console, "control.rejected")
    assert (entry.user, entry.detail["reason"]) == (OPERATOR, "die bolt 12 stuck")


def test_a_move_no_longer_pending_is_refused_409_with_the_sentence(
    client: TestClient, console: Console, move_id: int
) -> None:
    token = log_in(client, OPERATOR)
    data = {"reason": "ok", "csrf_token": token}
    client.post(f"/control/moves/{move_id}/reject", data=data)
    again = client.post(f"/control/moves/{move_id}/accept", data=data)
    assert again.status_code == 409
    assert f"control move {move_id} is rejected, not pending" in again.text
    assert _audit(console, "control.accepted") == []


def test_a_decision_without_a_reason_is_refused_400(
    client: TestClient, console: Console, move_id: int
) -> None:
    token = log_in(client, OPERATOR)
    data = {"reason": " ", "csrf_token": token}
    response = client.post(f"/control/moves/{move_id}/accept", data=data)
    assert response.status_code == 400
    assert f"give the reason to accept move {move_id}." in response.text
    assert _status(console, move_id) == "pending"


def test_a_mode_change_records_control_mode_and_ends_the_pending_proposal(
    client: TestClient, console: Console, move_id: int
) -> None:
    token = log_in(client, OPERATOR)
    data = {"mode": "closed", "reason": "model verified", "csrf_token": token}
    response = client.post(f"/control/loops/{LOOP}/mode", data=data)
    assert response.status_code == 303
    with Session(console.engine) as session:
        loop = session.get_one(ControlLoop, LOOP)
        assert (loop.mode, loop.mode_by) == ("closed", OPERATOR)
    assert _status(console, move_id) == "superseded"
    [entry] = _audit(console, "control.mode")
    assert entry.user == OPERATOR
    assert entry.detail == {"old": "advisory", "new": "closed", "reason": "model verified"}


def test_an_unknown_mode_is_refused_400(client: TestClient, move_id: int) -> None:
    token = log_in(client, OPERATOR)
    data = {"mode": "manual", "reason": "x", "csrf_token": token}
    response = client.post(f"/control/loops/{LOOP}/mode", data=data)
    assert response.status_code == 400
    assert "mode &#39;manual&#39; is not one of off, advisory, closed." in response.text


def test_a_mode_for_an_unknown_loop_is_404_with_the_sentence(
    client: TestClient, move_id: int
) -> None:
    token = log_in(client, OPERATOR)
    data = {"mode": "off", "reason": "x", "csrf_token": token}
    response = client.post("/control/loops/line-9.cd/mode", data=data)
    assert response.status_code == 404
    assert "there is no control loop &#39;line-9.cd&#39; in the store" in response.text


@pytest.mark.parametrize("which", range(3), ids=["accept", "reject", "mode"])
def test_a_control_post_without_the_csrf_token_is_403(
    client: TestClient, console: Console, move_id: int, which: int
) -> None:
    log_in(client, OPERATOR)
    path, data, *_ = _posts(move_id)[which]
    assert client.post(path, data=data).status_code == 403
    assert _status(console, move_id) == "pending"


@pytest.mark.parametrize("which", range(3), ids=["accept", "reject", "mode"])
def test_a_control_post_by_a_role_without_its_permission_is_403_and_audited(
    client: TestClient, console: Console, move_id: int, which: int
) -> None:
    token = log_in(client, ADMIN)
    path, data, permission, entity, entity_id = _posts(move_id)[which]
    assert client.post(path, data={**data, "csrf_token": token}).status_code == 403
    assert _status(console, move_id) == "pending"
    [entry] = _audit(console, "permission-denied")
    assert (entry.user, entry.entity, entry.entity_id) == (ADMIN, entity, entity_id)
    assert entry.detail == {"action": permission, "role": "admin"}


def test_an_admin_sees_the_loops_without_the_forms(client: TestClient, move_id: int) -> None:
    log_in(client, ADMIN)
    page = client.get("/control").text
    assert f"move {move_id}: 50 → 52.5" in page
    assert "/accept" not in page and "/mode" not in page
