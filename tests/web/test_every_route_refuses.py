"""Every route of the console and of its REST API refuses a request without a login, and
every action a role without its permission; each refusal of a role is audited.

`ROUTES` names each route's rule and a request body that would otherwise be accepted, and
`test_every_route_is_listed` fails when a route is added without a line here, so no route
escapes the walk.  Path ids are those of the conftest store (one alarm) or made up: a refusal
must come before any lookup, so a made-up id is refused the same way and tells nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from conftest import ADMIN, OPERATOR, PASSWORD, Console, csrf_token, log_in
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from plantqc.store.audit import PERMISSION_DENIED
from plantqc.store.models import AuditLog
from plantqc.users import add_user
from plantqc.users.roles import Action
from plantqc.web.app import create_app

PUBLIC = "public"
"""Anyone: the login page and form, the token endpoint, the API's OpenAPI document."""
LOGGED_IN = "logged-in"
"""Any logged-in role: reading alarms, limits, lots, reports, the audit trail, KPIs."""
QUALITY = "qa.walk"


@dataclass(frozen=True)
class Rule:
    """Who may call a route, and a body it would accept (form fields, or JSON for the API)."""

    needs: str  # PUBLIC, LOGGED_IN or an Action
    body: dict[str, Any] | None = None


_SIGN = {"password": PASSWORD, "username": OPERATOR}
ROUTES: dict[tuple[str, str], Rule] = {
    ("GET", "/api/v1/openapi.json"): Rule(PUBLIC),
    ("GET", "/login"): Rule(PUBLIC),
    ("POST", "/login"): Rule(PUBLIC),
    ("POST", "/api/v1/token"): Rule(PUBLIC),
    ("POST", "/logout"): Rule(LOGGED_IN, {}),
    ("GET", "/"): Rule(LOGGED_IN),
    ("GET", "/alarms/live"): Rule(LOGGED_IN),
    ("GET", "/alarms/{alarm_id}"): Rule(LOGGED_IN),
    ("POST", "/alarms/{alarm_id}/ack"): Rule(Action.ALARM_ACK, {"comment": "seen"}),
    ("POST", "/alarms/{alarm_id}/shelve"): Rule(
        Action.ALARM_SHELVE, {"minutes": "30", "reason": "sensor under repair"}
    ),
    ("POST", "/alarms/{alarm_id}/comment"): Rule(
        Action.ALARM_COMMENT, {"cause": "die lip", "action": "cleaned"}
    ),
    ("GET", "/audit"): Rule(LOGGED_IN),
    ("GET", "/audit.csv"): Rule(LOGGED_IN),
    ("GET", "/kpi"): Rule(LOGGED_IN),
    ("GET", "/control"): Rule(LOGGED_IN),
    ("POST", "/control/loops/{loop}/mode"): Rule(
        Action.CONTROL_MODE, {"mode": "manual", "reason": "pump service"}
    ),
    ("POST", "/control/moves/{move_id}/accept"): Rule(Action.CONTROL_ACCEPT, {"reason": "ok"}),
    ("POST", "/control/moves/{move_id}/reject"): Rule(Action.CONTROL_REJECT, {"reason": "no"}),
    ("GET", "/limits"): Rule(LOGGED_IN),
    ("GET", "/limits/{tag_id}/{name}"): Rule(LOGGED_IN),
    ("POST", "/limits/{tag_id}/{name}/approve"): Rule(
        Action.LIMITS_FREEZE,
        {"from": "2026-12-01T00:00:00Z", "to": "2026-12-01T01:00:00Z", "content_hash": "0" * 64}
        | _SIGN,
    ),
    ("GET", "/lots"): Rule(LOGGED_IN),
    ("GET", "/reports/{report_id}"): Rule(LOGGED_IN),
    ("GET", "/reports/{report_id}/"): Rule(LOGGED_IN),
    ("GET", "/reports/{report_id}/overlays/{name}"): Rule(LOGGED_IN),
    ("GET", "/reports/{report_id}/sign"): Rule(LOGGED_IN),
    ("POST", "/reports/{report_id}/sign"): Rule(
        Action.REPORT_SIGN, {"meaning": "reviewed", **_SIGN}
    ),
    ("GET", "/users"): Rule(Action.USERS_MANAGE),
    ("POST", "/users"): Rule(
        Action.USERS_MANAGE,
        {"name": "new.user", "full_name": "New User", "role": "operator", "password": PASSWORD},
    ),
    ("POST", "/users/{name}/disable"): Rule(Action.USERS_MANAGE, {}),
    ("POST", "/users/{name}/reset-password"): Rule(
        Action.USERS_MANAGE, {"password": "another long passphrase"}
    ),
    ("GET", "/api/v1/alarms"): Rule(LOGGED_IN),
    ("POST", "/api/v1/alarms/{alarm_id}/ack"): Rule(Action.ALARM_ACK, {"comment": "seen"}),
    ("POST", "/api/v1/alarms/{alarm_id}/shelve"): Rule(
        Action.ALARM_SHELVE, {"minutes": 30, "reason": "sensor under repair"}
    ),
    ("GET", "/api/v1/limits"): Rule(LOGGED_IN),
    ("POST", "/api/v1/limits/{chart}/freeze"): Rule(
        Action.LIMITS_FREEZE,
        {"from": "2026-12-01T00:00:00Z", "to": "2026-12-01T01:00:00Z", **_SIGN},
    ),
    ("GET", "/api/v1/audit"): Rule(LOGGED_IN),
}


def _routes(app: FastAPI) -> set[tuple[str, str]]:
    """Every (method, path) the app serves, through its included routers."""
    found: set[tuple[str, str]] = set()
    stack: list[Any] = list(app.routes)
    while stack:
        route = stack.pop()
        if isinstance(route, APIRoute):
            found |= {(m, route.path) for m in route.methods - {"HEAD"}}
        elif hasattr(route, "original_router"):  # FastAPI >= 0.165 includes routers lazily
            stack += route.original_router.routes
        elif hasattr(route, "path") and hasattr(route, "methods"):  # the OpenAPI route
            found |= {(m, route.path) for m in route.methods - {"HEAD"}}
    return found


def _url(path: str, console: Console) -> str:
    return path.format(
        alarm_id=console.alarm_id, loop="line-1.md", move_id=1, tag_id=1, name="imr",
        report_id=1, chart="line-1:thickness_um:imr",
    ).replace("/users/imr", f"/users/{OPERATOR}")  # fmt: skip


def _wrong_role(needs: str) -> str:
    """A role refused ``needs``: admins may do no alarm or control action, operators no
    quality action and no user administration."""
    return ADMIN if needs.startswith(("alarm.", "control.")) else OPERATOR


def _guarded(*, actions_only: bool) -> list[Any]:
    """The routes that need a login (only those that need a permission, with
    ``actions_only``), as test parameters named "METHOD /path"."""
    skip = {PUBLIC, LOGGED_IN} if actions_only else {PUBLIC}
    chosen = [key for key, rule in ROUTES.items() if rule.needs not in skip]
    return [pytest.param(method, path, id=f"{method} {path}") for method, path in chosen]


def _forms() -> list[Any]:
    """The pages' actions: POSTs of forms (the API takes a bearer token, not a cookie, so a
    forged cross-site request carries no credential)."""
    return [p for p in _guarded(actions_only=True)
            if p.values[0] == "POST" and not p.values[1].startswith("/api/")]  # fmt: skip


@pytest.fixture
def app(console: Console) -> FastAPI:
    add_user(console.engine, QUALITY, "quality", PASSWORD, by="test")
    return create_app(console.engine, None)


@pytest.fixture
def browser(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, follow_redirects=False) as client:
        yield client


def _send(
    client: TestClient,
    method: str,
    path: str,
    console: Console,
    *,
    csrf: str | None = None,
    token: str | None = None,
) -> Any:
    """The route's request with its accepted body, the page's CSRF token or the API's bearer
    ``token`` when given."""
    body, url = ROUTES[(method, path)].body, _url(path, console)
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    if method == "GET":
        return client.get(url, headers=headers)
    if path.startswith("/api/"):
        return client.post(url, json=body, headers=headers)
    form = dict(body or {}) | ({"csrf_token": csrf} if csrf is not None else {})
    return client.post(url, data=form)


def test_every_route_is_listed(app: FastAPI) -> None:
    assert _routes(app) == set(ROUTES)


@pytest.mark.parametrize(("method", "path"), _guarded(actions_only=False))
def test_a_request_without_a_login_is_refused(
    browser: TestClient, console: Console, method: str, path: str
) -> None:
    csrf = csrf_token(browser.get("/login").text)  # an anonymous session, with its token
    response = _send(browser, method, path, console, csrf=csrf)
    page = method == "GET" and not path.startswith("/api/") and path != "/alarms/live"
    if page:
        assert (response.status_code, response.headers["location"]) == (303, "/login")
    else:
        assert response.status_code == 401, response.text


@pytest.mark.parametrize(("method", "path"), _guarded(actions_only=True))
def test_a_role_without_the_permission_is_refused_and_audited(
    browser: TestClient, console: Console, method: str, path: str
) -> None:
    needs = ROUTES[(method, path)].needs
    who = _wrong_role(needs)
    if path.startswith("/api/"):
        issued = browser.post("/api/v1/token", data={"username": who, "password": PASSWORD})
        token = issued.json()["access_token"]
        response = _send(browser, method, path, console, token=token)
    else:
        response = _send(browser, method, path, console, csrf=log_in(browser, who))
    assert response.status_code == 403, response.text
    with Session(console.engine) as session:
        denied = session.scalars(select(AuditLog).where(AuditLog.action == PERMISSION_DENIED)).all()
    assert [(d.user, d.detail["action"]) for d in denied] == [(who, needs)]


@pytest.mark.parametrize(("method", "path"), _forms())
def test_an_action_without_the_csrf_token_is_refused(
    browser: TestClient, console: Console, method: str, path: str
) -> None:
    needs = ROUTES[(method, path)].needs
    log_in(browser, ADMIN if needs == Action.USERS_MANAGE else QUALITY)
    assert _send(browser, method, path, console).status_code == 403


@pytest.mark.parametrize(("method", "path"), _guarded(actions_only=False))
def test_a_request_without_a_login_or_its_fields_is_refused_for_the_login(
    browser: TestClient, console: Console, method: str, path: str
) -> None:
    """Refused as not logged in (401 or the login page), never for a missing field (422):
    the form's fields are no one's business before the login."""
    url = _url(path, console)
    response = browser.get(url) if method == "GET" else browser.post(url)
    assert response.status_code in (303, 401), response.text
