"""Logging in to the console: the password is checked, the session cookie is locked down,
pages need a session, a session ends at logout and after inactivity."""

from __future__ import annotations

import time

import pytest
from conftest import OPERATOR, PASSWORD, Console, csrf_token, log_in
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from plantqc.store.models import AuditLog
from plantqc.users import disable_user
from plantqc.web.app import create_app


def test_the_right_password_logs_in_and_shows_the_alarms(client: TestClient) -> None:
    log_in(client, OPERATOR)
    page = client.get("/")
    assert page.status_code == 200
    assert OPERATOR in page.text and "Open alarms (1)" in page.text


def test_a_wrong_password_is_refused_and_audited(client: TestClient, console: Console) -> None:
    token = csrf_token(client.get("/login").text)
    data = {"username": OPERATOR, "password": "wrong horse", "csrf_token": token}
    response = client.post("/login", data=data)
    assert response.status_code == 401
    assert "unknown user or wrong password." in response.text
    assert client.get("/").status_code == 303
    with Session(console.engine) as session:
        actions = session.scalars(select(AuditLog.action).where(AuditLog.user == OPERATOR))
        assert "login-failed" in list(actions)


def test_a_login_without_the_csrf_token_is_refused(client: TestClient) -> None:
    client.get("/login")
    response = client.post("/login", data={"username": OPERATOR, "password": PASSWORD})
    assert response.status_code == 403


@pytest.mark.parametrize("path", ["/", "/alarms/1"])
def test_a_page_without_a_session_redirects_to_the_login(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 303
    assert response.headers["location"] == "/login"


def test_a_post_without_a_session_is_401(client: TestClient, console: Console) -> None:
    response = client.post(f"/alarms/{console.alarm_id}/ack", data={"csrf_token": "x"})
    assert response.status_code == 401


def test_the_session_cookie_is_httponly_samesite_strict_and_not_secure_over_http(
    client: TestClient,
) -> None:
    cookie = client.get("/login").headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie
    assert "secure" not in cookie.replace("samesite", "")


def test_the_session_cookie_is_secure_when_served_over_tls(console: Console) -> None:
    app = create_app(console.engine, None, secure_cookies=True)
    with TestClient(app, base_url="https://testserver") as client:
        cookie = client.get("/login").headers["set-cookie"].lower()
    assert "; secure" in cookie


def test_a_new_session_id_is_issued_at_login(client: TestClient) -> None:
    client.get("/login")
    before = client.cookies["plantqc_session"]
    log_in(client, OPERATOR)
    assert client.cookies["plantqc_session"] != before


def test_logout_ends_the_session(client: TestClient) -> None:
    token = log_in(client, OPERATOR)
    old = client.cookies["plantqc_session"]
    assert client.post("/logout", data={"csrf_token": token}).status_code == 303
    client.cookies.set("plantqc_session", old)  # a copy of the cookie kept from before
    assert client.get("/").status_code == 303


def test_a_session_ends_after_the_inactivity_timeout(console: Console) -> None:
    app = create_app(console.engine, None, session_timeout_s=1.0)  # a loaded CI logs in in time
    with TestClient(app, follow_redirects=False) as client:
        log_in(client, OPERATOR)
        time.sleep(1.2)
        assert client.get("/").status_code == 303


def test_disabling_an_account_ends_its_open_session(client: TestClient, console: Console) -> None:
    log_in(client, OPERATOR)
    assert client.get("/").status_code == 200
    disable_user(console.engine, OPERATOR, by="test")
    assert client.get("/").status_code == 303


def test_polling_the_live_alarm_tables_does_not_keep_a_session_alive(console: Console) -> None:
    app = create_app(console.engine, None, session_timeout_s=1.0)
    with TestClient(app, follow_redirects=False) as client:
        log_in(client, OPERATOR)
        for _ in range(3):  # a screen left open polls on after its operator walked away
            time.sleep(0.4)
            client.get("/alarms/live")
        assert client.get("/alarms/live").status_code == 401
        assert client.get("/").status_code == 303
