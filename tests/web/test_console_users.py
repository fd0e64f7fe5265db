"""User administration in the console: admins only, every change under the admin's name."""

from __future__ import annotations

from datetime import UTC, datetime

from conftest import ADMIN, OPERATOR, PASSWORD, Console, log_in
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from plantqc.store.models import AuditLog
from plantqc.users import UserInfo, authenticate, list_users

NEW = {"name": "qa.lee", "full_name": "Lee Quality", "role": "quality", "password": PASSWORD}


def _user(console: Console, name: str) -> UserInfo:
    return next(u for u in list_users(console.engine) if u.name == name)


def _audit(console: Console, action: str) -> list[AuditLog]:
    with Session(console.engine) as session:
        return list(session.scalars(select(AuditLog).where(AuditLog.action == action)))


def test_an_admin_adds_a_user_with_a_printed_name(client: TestClient, console: Console) -> None:
    token = log_in(client, ADMIN)
    response = client.post("/users", data={**NEW, "csrf_token": token})
    assert response.status_code == 200 and "added qa.lee (quality)." in response.text
    added = _user(console, "qa.lee")
    assert (added.role, added.full_name) == ("quality", "Lee Quality")
    [entry] = [a for a in _audit(console, "user-add") if a.entity_id == "qa.lee"]
    assert entry.user == ADMIN


def test_a_short_password_is_refused_with_the_sentence(
    client: TestClient, console: Console
) -> None:
    token = log_in(client, ADMIN)
    response = client.post("/users", data={**NEW, "password": "short", "csrf_token": token})
    assert response.status_code == 409
    assert "a password needs at least 12 characters" in response.text
    assert all(u.name != "qa.lee" for u in list_users(console.engine))


def test_an_admin_disables_an_account_and_its_login_is_refused(
    client: TestClient, console: Console
) -> None:
    token = log_in(client, ADMIN)
    response = client.post(f"/users/{OPERATOR}/disable", data={"csrf_token": token})
    assert response.status_code == 303
    assert _user(console, OPERATOR).disabled
    [entry] = _audit(console, "user-disable")
    assert (entry.user, entry.entity_id) == (ADMIN, OPERATOR)


def test_an_admin_resets_a_password(client: TestClient, console: Console) -> None:
    token = log_in(client, ADMIN)
    new = "a brand new passphrase"
    data = {"password": new, "csrf_token": token}
    assert client.post(f"/users/{OPERATOR}/reset-password", data=data).status_code == 200
    assert authenticate(console.engine, OPERATOR, new, datetime.now(UTC)).name == OPERATOR


def test_an_operator_may_not_see_the_users_and_the_refusal_is_audited(
    client: TestClient, console: Console
) -> None:
    log_in(client, OPERATOR)
    assert client.get("/users").status_code == 403
    [entry] = _audit(console, "permission-denied")
    assert (entry.user, entry.entity, entry.detail["action"]) == (OPERATOR, "user", "users.manage")


def test_an_operator_may_not_add_a_user(client: TestClient, console: Console) -> None:
    token = log_in(client, OPERATOR)
    assert client.post("/users", data={**NEW, "csrf_token": token}).status_code == 403
    assert all(u.name != "qa.lee" for u in list_users(console.engine))


def test_a_printed_name_with_markup_is_shown_as_text(client: TestClient, console: Console) -> None:
    token = log_in(client, ADMIN)
    name = "<script>alert(1)</script>"
    client.post("/users", data={**NEW, "full_name": name, "csrf_token": token})
    page = client.get("/users").text
    assert name not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
