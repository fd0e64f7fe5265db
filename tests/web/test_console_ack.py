"""Acknowledging an alarm in the console: CSRF-checked, by the logged-in user, refused (and
audited) for a role without ``alarm.ack``."""

from __future__ import annotations

from conftest import ADMIN, MESSAGE, OPERATOR, Console, log_in
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from plantqc.store.models import Alarm, AlarmState, AuditLog


def _alarm(console: Console) -> Alarm:
    with Session(console.engine) as session:
        return session.get_one(Alarm, console.alarm_id)


def _audit(console: Console, action: str) -> list[AuditLog]:
    with Session(console.engine) as session:
        return list(session.scalars(select(AuditLog).where(AuditLog.action == action)))


def test_the_alarm_page_shows_the_alarm_and_its_raise(client: TestClient, console: Console) -> None:
    log_in(client, OPERATOR)
    page = client.get(f"/alarms/{console.alarm_id}").text
    assert MESSAGE in page and "active-unacknowledged" in page and "alarm-raise" in page


def test_an_ack_without_the_csrf_token_is_403(client: TestClient, console: Console) -> None:
    log_in(client, OPERATOR)
    response = client.post(f"/alarms/{console.alarm_id}/ack", data={"comment": "seen"})
    assert response.status_code == 403
    assert _alarm(console).state == AlarmState.ACTIVE_UNACKED


def test_an_ack_with_a_wrong_csrf_token_is_403(client: TestClient, console: Console) -> None:
    log_in(client, OPERATOR)
    data = {"comment": "seen", "csrf_token": "not-the-token"}
    assert client.post(f"/alarms/{console.alarm_id}/ack", data=data).status_code == 403
    assert _alarm(console).state == AlarmState.ACTIVE_UNACKED


def test_an_ack_records_the_logged_in_user_in_the_alarm_and_audit(
    client: TestClient, console: Console
) -> None:
    token = log_in(client, OPERATOR)
    data = {"comment": "die lip cleaned", "csrf_token": token, "user": "someone.else"}
    response = client.post(f"/alarms/{console.alarm_id}/ack", data=data)
    assert response.status_code == 303
    alarm = _alarm(console)
    assert (alarm.state, alarm.acked_by) == (AlarmState.ACTIVE_ACKED, OPERATOR)
    [entry] = _audit(console, "alarm-ack")
    assert entry.user == OPERATOR and entry.detail["note"] == "die lip cleaned"


def test_a_role_without_alarm_ack_is_refused_403_and_audited(
    client: TestClient, console: Console
) -> None:
    token = log_in(client, ADMIN)
    data = {"comment": "", "csrf_token": token}
    assert client.post(f"/alarms/{console.alarm_id}/ack", data=data).status_code == 403
    assert _alarm(console).state == AlarmState.ACTIVE_UNACKED
    [entry] = _audit(console, "permission-denied")
    assert (entry.user, entry.entity_id) == (ADMIN, str(console.alarm_id))
    assert entry.detail == {"action": "alarm.ack", "role": "admin"}


def test_an_ack_the_state_table_refuses_shows_why_with_409(
    client: TestClient, console: Console
) -> None:
    token = log_in(client, OPERATOR)
    data = {"comment": "", "csrf_token": token}
    client.post(f"/alarms/{console.alarm_id}/ack", data=data)
    again = client.post(f"/alarms/{console.alarm_id}/ack", data=data)
    assert again.status_code == 409
    assert f"alarm {console.alarm_id} is active-acknowledged" in again.text


def test_an_unknown_alarm_is_404(client: TestClient) -> None:
    log_in(client, OPERATOR)
    assert client.get("/alarms/999").status_code == 404
