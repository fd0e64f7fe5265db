"""Shelving and commenting an alarm in the console, and the overview keeping itself current.

Shelving needs a reason and an expiry in the future (ISA-18.2 §16.5); a comment records the
assignable cause and corrective action; both are CSRF-checked, refused (and audited) for a
role without the permission, and recorded under the logged-in user.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from conftest import ADMIN, OPERATOR, Console, log_in, raise_alarm
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from plantqc.store.models import Alarm, AlarmState, AuditLog

SHELVE = {"minutes": "60", "reason": "sensor being recalibrated"}
COMMENT = {"cause": "die lip deposit", "action": "die lip cleaned"}
ACTIONS = [("shelve", SHELVE, "alarm.shelve"), ("comment", COMMENT, "alarm.comment")]


def _alarm(console: Console, alarm_id: int | None = None) -> Alarm:
    with Session(console.engine) as session:
        return session.get_one(Alarm, alarm_id or console.alarm_id)


def _audit(console: Console, action: str) -> list[AuditLog]:
    with Session(console.engine) as session:
        query = select(AuditLog).where(AuditLog.action == action).order_by(AuditLog.id)
        return list(session.scalars(query))


def _post(client: TestClient, console: Console, what: str, token: str, **data: str) -> Response:
    return client.post(f"/alarms/{console.alarm_id}/{what}", data={**data, "csrf_token": token})


def test_a_shelve_for_a_duration_shelves_the_alarm_until_then_with_its_audit(
    client: TestClient, console: Console
) -> None:
    token = log_in(client, OPERATOR)
    before = datetime.now(UTC)
    response = _post(client, console, "shelve", token, **SHELVE, user="someone.else")
    assert response.status_code == 303
    alarm, hour = _alarm(console), timedelta(minutes=60)
    assert alarm.state == AlarmState.SHELVED
    assert before + hour <= alarm.shelved_until <= datetime.now(UTC) + hour
    [entry] = _audit(console, "alarm-shelve")
    assert entry.user == OPERATOR
    assert entry.detail["note"] == "sensor being recalibrated"
    assert entry.detail["until"] == alarm.shelved_until.isoformat()


def test_a_shelve_until_a_time_keeps_that_time_read_as_utc(
    client: TestClient, console: Console
) -> None:
    token = log_in(client, OPERATOR)
    until = (datetime.now(UTC) + timedelta(hours=3)).replace(second=0, microsecond=0)
    local_input = until.strftime("%Y-%m-%dT%H:%M")  # as <input type="datetime-local"> sends it
    response = _post(client, console, "shelve", token, until=local_input, reason="line trial")
    assert response.status_code == 303
    assert _alarm(console).shelved_until == until
    page = client.get(f"/alarms/{console.alarm_id}").text
    assert until.isoformat(timespec="seconds") in page


def test_a_shelve_in_the_past_is_refused_with_the_sentence(
    client: TestClient, console: Console
) -> None:
    token = log_in(client, OPERATOR)
    past = datetime.now(UTC) - timedelta(hours=1)
    response = _post(client, console, "shelve", token, until=past.isoformat(), reason="late")
    assert response.status_code == 409
    assert f"the shelf expiry {past.isoformat()} is not in the future." in response.text
    assert _alarm(console).state == AlarmState.ACTIVE_UNACKED


def test_a_shelve_without_a_reason_is_refused_400(client: TestClient, console: Console) -> None:
    token = log_in(client, OPERATOR)
    response = _post(client, console, "shelve", token, minutes="60", reason="  ")
    assert response.status_code == 400
    assert "shelving an alarm needs a reason (ISA-18.2 §16.5)." in response.text
    assert _alarm(console).state == AlarmState.ACTIVE_UNACKED


def test_a_shelve_with_both_a_duration_and_a_time_is_refused_400(
    client: TestClient, console: Console
) -> None:
    token = log_in(client, OPERATOR)
    until = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    response = _post(client, console, "shelve", token, minutes="60", until=until, reason="x")
    assert response.status_code == 400
    assert "not both" in response.text
    assert _alarm(console).state == AlarmState.ACTIVE_UNACKED


def test_a_comment_records_the_cause_and_action_under_the_logged_in_user(
    client: TestClient, console: Console
) -> None:
    token = log_in(client, OPERATOR)
    assert _post(client, console, "comment", token, **COMMENT).status_code == 303
    alarm = _alarm(console)
    assert (alarm.cause, alarm.action) == ("die lip deposit", "die lip cleaned")
    assert alarm.state == AlarmState.ACTIVE_UNACKED  # a note changes no state
    [entry] = _audit(console, "alarm-comment")
    assert entry.user == OPERATOR
    assert (entry.detail["cause"], entry.detail["action"]) == ("die lip deposit", "die lip cleaned")
    page = client.get(f"/alarms/{console.alarm_id}").text
    assert "die lip deposit" in page and "die lip cleaned" in page


def test_a_comment_with_neither_cause_nor_action_is_refused_400(
    client: TestClient, console: Console
) -> None:
    token = log_in(client, OPERATOR)
    response = _post(client, console, "comment", token, cause=" ", action="")
    assert response.status_code == 400
    assert "give an assignable cause or a corrective action" in response.text
    assert _audit(console, "alarm-comment") == []


@pytest.mark.parametrize(("what", "data", "permission"), ACTIONS)
def test_an_alarm_action_without_the_csrf_token_is_403(
    client: TestClient, console: Console, what: str, data: dict[str, str], permission: str
) -> None:
    log_in(client, OPERATOR)
    response = client.post(f"/alarms/{console.alarm_id}/{what}", data=data)
    assert response.status_code == 403
    assert _audit(console, f"alarm-{what}") == []


@pytest.mark.parametrize(("what", "data", "permission"), ACTIONS)
def test_an_alarm_action_by_a_role_without_its_permission_is_403_and_audited(
    client: TestClient, console: Console, what: str, data: dict[str, str], permission: str
) -> None:
    token = log_in(client, ADMIN)
    assert _post(client, console, what, token, **data).status_code == 403
    assert _audit(console, f"alarm-{what}") == []
    [entry] = _audit(console, "permission-denied")
    assert (entry.user, entry.entity, entry.entity_id) == (ADMIN, "alarm", str(console.alarm_id))
    assert entry.detail == {"action": permission, "role": "admin"}


def test_a_shelved_alarm_leaves_the_open_alarms_for_the_shelved_list(
    client: TestClient, console: Console
) -> None:
    token = log_in(client, OPERATOR)
    _post(client, console, "shelve", token, **SHELVE)
    page = client.get("/").text
    assert "Open alarms (0)" in page and "Shelved (1)" in page
    assert f'href="/alarms/{console.alarm_id}"' in page


def test_the_live_fragment_lists_an_alarm_raised_after_the_page_loaded(
    client: TestClient, console: Console
) -> None:
    log_in(client, OPERATOR)
    assert "Open alarms (1)" in client.get("/").text
    new_id = raise_alarm(console, "sensor:stuck", priority="high", message="gauge stuck")
    fragment = client.get("/alarms/live")
    assert fragment.status_code == 200
    assert "Open alarms (2)" in fragment.text
    assert f'id="alarm-{new_id}"' in fragment.text and "gauge stuck" in fragment.text
    assert "<html" not in fragment.text  # the tables alone, for the page's script
    assert fragment.headers["cache-control"] == "no-store"


def test_the_live_fragment_lists_high_priority_alarms_first(
    client: TestClient, console: Console
) -> None:
    log_in(client, OPERATOR)
    low = raise_alarm(console, "i:nelson5", priority="low")
    fragment = client.get("/alarms/live").text
    assert fragment.index(f'id="alarm-{console.alarm_id}"') < fragment.index(f'id="alarm-{low}"')


def test_the_live_fragment_without_a_session_is_401_not_the_login_page(
    client: TestClient,
) -> None:
    response = client.get("/alarms/live")
    assert response.status_code == 401


def test_without_javascript_the_overview_reloads_itself(client: TestClient) -> None:
    log_in(client, OPERATOR)
    page = client.get("/").text
    assert '<noscript><meta http-equiv="refresh" content="15"></noscript>' in page


def test_a_typed_note_is_shown_as_text_not_markup(client: TestClient, console: Console) -> None:
    token = log_in(client, OPERATOR)
    _post(client, console, "comment", token, cause="<script>alert(1)</script>")
    for page in (client.get(f"/alarms/{console.alarm_id}").text, client.get("/audit").text):
        assert "<script>alert(1)" not in page and "&lt;script&gt;alert(1)" in page
