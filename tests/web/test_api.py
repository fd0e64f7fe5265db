"""The REST API under /api/v1: bearer tokens, alarms, limits and the audit trail, with the
pages' permissions; every refusal JSON in one sentence, and audited."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import ADMIN, MESSAGE, OPERATOR, PASSWORD
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from plantqc.alarms import AlarmEvent, apply_events
from plantqc.charting.catalog import load_charts
from plantqc.charting.phase1 import estimate_hash, estimate_limits, freeze_limits
from plantqc.store import SampleRow, connect, insert_samples, upgrade
from plantqc.store.models import AuditLog, ControlLimits, Line, Tag
from plantqc.users import add_user, disable_user, list_users
from plantqc.web.app import create_app
from plantqc.web.console import Console as WebConsole
from plantqc.web.routes import api
from plantqc.web.security import SessionStore
from plantqc.web.tokens import LIFETIME_S, TokenStore

QUALITY = "quality.a"
QUALITY_NAME = "Ada Lovelace"
CHARTED = "width_mm"
CHART = f"line-1:{CHARTED}:imr"
T0 = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
POINTS = 40
SPAN = {"from": T0.isoformat(), "to": (T0 + timedelta(minutes=POINTS)).isoformat()}


@dataclass(frozen=True)
class Store:
    """A store with line-1's one active alarm (on ``thickness_um``), a charted tag
    (``width_mm``, I-MR, no limits yet) with `POINTS` samples one minute apart from `T0`, and
    an operator, a quality engineer and an administrator."""

    engine: Engine
    alarm_id: int


def populated(url: str) -> Store:
    engine = connect(url)
    upgrade(engine)
    with Session(engine) as session, session.begin():
        line = Line(site="site", area="area", name="line-1", kind="casting")
        session.add(line)
        session.flush()
        tag = Tag(line_id=line.id, name="thickness_um", node_id="ns=2;s=thickness_um")
        charted = Tag(line_id=line.id, name=CHARTED, node_id="ns=2;s=w", spc={"chart": "imr"})
        session.add_all([tag, charted])
        session.flush()
        event = AlarmEvent(
            "raise", "i:nelson1", datetime.now(UTC), priority="high", message=MESSAGE
        )
        [alarm] = apply_events(session, line.id, tag.id, [event])
        alarm_id, charted_id = alarm.id, charted.id
    values = 10.0 + 0.1 * np.random.default_rng(7).standard_normal(POINTS)
    insert_samples(
        engine,
        [SampleRow(charted_id, T0 + timedelta(minutes=i), float(v)) for i, v in enumerate(values)],
    )
    add_user(engine, OPERATOR, "operator", PASSWORD, by="test")
    add_user(engine, QUALITY, "quality", PASSWORD, by="test", full_name=QUALITY_NAME)
    add_user(engine, ADMIN, "admin", PASSWORD, by="test")
    return Store(engine, alarm_id)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    found = populated(f"sqlite:///{tmp_path / 'store.db'}")
    yield found
    found.engine.dispose()


@pytest.fixture
def pg_store(pg_url: str) -> Iterator[Store]:
    found = populated(pg_url)
    yield found
    found.engine.dispose()


@pytest.fixture
def client(store: Store) -> Iterator[TestClient]:
    with TestClient(create_app(store.engine, None)) as c:
        yield c


def token_of(client: TestClient, name: str, password: str = PASSWORD) -> str:
    response = client.post("/api/v1/token", data={"username": name, "password": password})
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


def as_user(client: TestClient, name: str) -> dict[str, str]:
    """The headers of a request with a fresh token of ``name``."""
    return {"Authorization": f"Bearer {token_of(client, name)}"}


def audit(engine: Engine, action: str) -> list[AuditLog]:
    with Session(engine) as session:
        query = select(AuditLog).where(AuditLog.action == action).order_by(AuditLog.id)
        return list(session.scalars(query))


def failed_logins(engine: Engine, name: str) -> int:
    return next(u.failed_logins for u in list_users(engine) if u.name == name)


def versions(engine: Engine) -> list[ControlLimits]:
    with Session(engine) as session:
        return list(session.scalars(select(ControlLimits).order_by(ControlLimits.id)))


def freeze_body(name: str = QUALITY, password: str = PASSWORD) -> dict[str, str]:
    return {**SPAN, "username": name, "password": password}


# every endpoint behind a token, with a request body it accepts
PROTECTED: list[tuple[str, str, dict[str, Any] | None]] = [
    ("GET", "/api/v1/alarms", None),
    ("POST", "/api/v1/alarms/{alarm}/ack", {"comment": None}),
    ("POST", "/api/v1/alarms/{alarm}/shelve", {"minutes": 30, "reason": "maintenance"}),
    ("GET", "/api/v1/limits", None),
    ("POST", f"/api/v1/limits/{CHART}/freeze", freeze_body()),
    ("GET", "/api/v1/audit", None),
]


def call(
    client: TestClient, store: Store, method: str, path: str, body: Any, headers: Any = None
) -> Any:
    return client.request(
        method, path.format(alarm=store.alarm_id), json=body, headers=headers or {}
    )


# --- tokens ------------------------------------------------------------------------------------


def test_a_token_is_issued_for_the_right_password(client: TestClient, store: Store) -> None:
    response = client.post("/api/v1/token", data={"username": OPERATOR, "password": PASSWORD})
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "bearer" and body["expires_in"] == LIFETIME_S
    assert len(body["access_token"]) >= 43  # 32 random bytes
    assert response.headers["Cache-Control"] == "no-store"
    assert [e.user for e in audit(store.engine, "login")] == [OPERATOR]


def test_a_wrong_password_is_401_and_counts_toward_the_lockout(
    client: TestClient, store: Store
) -> None:
    response = client.post("/api/v1/token", data={"username": OPERATOR, "password": "wrong"})
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert response.json() == {"detail": "unknown user or wrong password."}
    assert failed_logins(store.engine, OPERATOR) == 1
    assert [e.user for e in audit(store.engine, "login-failed")] == [OPERATOR]


def test_five_wrong_passwords_lock_the_account_for_tokens_too(
    client: TestClient, store: Store
) -> None:
    for _ in range(5):
        client.post("/api/v1/token", data={"username": OPERATOR, "password": "wrong"})
    response = client.post("/api/v1/token", data={"username": OPERATOR, "password": PASSWORD})
    assert response.status_code == 401 and "locked" in response.json()["detail"]


def test_a_token_works_for_every_request_until_it_ends(client: TestClient) -> None:
    headers = as_user(client, OPERATOR)
    assert client.get("/api/v1/alarms", headers=headers).status_code == 200
    assert client.get("/api/v1/limits", headers=headers).status_code == 200


# --- alarms ------------------------------------------------------------------------------------


def test_the_alarm_list_has_the_documented_fields(client: TestClient, store: Store) -> None:
    [alarm] = client.get("/api/v1/alarms", headers=as_user(client, OPERATOR)).json()
    assert set(alarm) == {
        "id", "line", "tag", "kind", "rule", "priority", "state", "count", "first_at",
        "last_at", "acked_by", "shelved_until", "message",
    }  # fmt: skip
    assert alarm["id"] == store.alarm_id and alarm["line"] == "line-1"
    assert alarm["tag"] == "thickness_um" and alarm["rule"] == "i:nelson1"
    assert alarm["state"] == "active-unacknowledged" and alarm["message"] == MESSAGE
    assert datetime.fromisoformat(alarm["first_at"]).tzinfo is not None


@pytest.mark.parametrize(
    ("query", "found"),
    [
        ("", 1),
        ("?line=line-1", 1),
        ("?line=line-2", 0),
        ("?state=active-unacknowledged", 1),
        ("?state=normal", 0),
        ("?include_normal=true", 1),
    ],
)
def test_the_alarm_list_filters_by_state_and_line(
    client: TestClient, query: str, found: int
) -> None:
    response = client.get(f"/api/v1/alarms{query}", headers=as_user(client, OPERATOR))
    assert response.status_code == 200 and len(response.json()) == found


def test_an_unknown_state_is_422_in_one_sentence(client: TestClient) -> None:
    response = client.get("/api/v1/alarms?state=bogus", headers=as_user(client, OPERATOR))
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert isinstance(detail, str) and detail.startswith("state: ") and detail.endswith(".")


def test_an_administrator_may_read_alarms_as_on_the_pages(client: TestClient) -> None:
    assert client.get("/api/v1/alarms", headers=as_user(client, ADMIN)).status_code == 200


def test_ack_acknowledges_as_the_tokens_user(client: TestClient, store: Store) -> None:
    response = client.post(
        f"/api/v1/alarms/{store.alarm_id}/ack",
        json={"comment": "  checked the gauge "},
        headers=as_user(client, OPERATOR),
    )
    assert response.status_code == 200
    assert response.json()["state"] == "active-acknowledged"
    assert response.json()["acked_by"] == OPERATOR
    [entry] = audit(store.engine, "alarm-ack")
    assert entry.user == OPERATOR and entry.detail["note"] == "checked the gauge"


def test_ack_needs_no_body(client: TestClient, store: Store) -> None:
    response = client.post(
        f"/api/v1/alarms/{store.alarm_id}/ack", headers=as_user(client, OPERATOR)
    )
    assert response.status_code == 200 and response.json()["acked_by"] == OPERATOR


def test_ack_of_an_acknowledged_alarm_is_409_in_one_sentence(
    client: TestClient, store: Store
) -> None:
    headers = as_user(client, OPERATOR)
    client.post(f"/api/v1/alarms/{store.alarm_id}/ack", headers=headers)
    response = client.post(f"/api/v1/alarms/{store.alarm_id}/ack", headers=headers)
    assert response.status_code == 409
    assert response.json()["detail"].startswith(f"alarm {store.alarm_id} is active-acknowledged")


def test_ack_of_an_unknown_alarm_is_404(client: TestClient, store: Store) -> None:
    response = client.post(
        f"/api/v1/alarms/{store.alarm_id + 1}/ack", headers=as_user(client, OPERATOR)
    )
    assert response.status_code == 404
    assert response.json() == {"detail": f"there is no alarm {store.alarm_id + 1}."}


def test_shelve_for_minutes_shelves_until_then_with_the_reason(
    client: TestClient, store: Store
) -> None:
    before = datetime.now(UTC)
    response = client.post(
        f"/api/v1/alarms/{store.alarm_id}/shelve",
        json={"minutes": 30, "reason": "gauge recalibration"},
        headers=as_user(client, OPERATOR),
    )
    assert response.status_code == 200
    alarm = response.json()
    assert alarm["state"] == "shelved"
    until = datetime.fromisoformat(alarm["shelved_until"])
    assert before + timedelta(minutes=30) <= until <= datetime.now(UTC) + timedelta(minutes=30)
    [entry] = audit(store.engine, "alarm-shelve")
    assert entry.user == OPERATOR and entry.detail["note"] == "gauge recalibration"


def test_shelve_until_a_time_shelves_until_it(client: TestClient, store: Store) -> None:
    until = (datetime.now(UTC) + timedelta(hours=2)).replace(microsecond=0)
    response = client.post(
        f"/api/v1/alarms/{store.alarm_id}/shelve",
        json={"until": until.isoformat(), "reason": "line stop"},
        headers=as_user(client, OPERATOR),
    )
    assert datetime.fromisoformat(response.json()["shelved_until"]) == until


@pytest.mark.parametrize(
    ("body", "sentence"),
    [
        ({"minutes": 30}, "reason: field required."),
        ({"minutes": 30, "reason": "  "}, "a shelf needs a reason, not a blank one."),
        ({"reason": "x"}, "a shelf needs its expiry: give either until or minutes."),
        (
            {"minutes": 5, "until": "2027-01-01T00:00:00+00:00", "reason": "x"},
            "a shelf needs its expiry: give either until or minutes.",
        ),
        ({"minutes": 0, "reason": "x"}, "minutes: input should be greater than 0."),
        (
            {"until": "2027-01-01T00:00:00", "reason": "x"},
            "until: input should have timezone info.",
        ),
    ],
)
def test_a_shelf_without_a_reason_or_an_expiry_is_422_in_one_sentence(
    client: TestClient, store: Store, body: dict[str, Any], sentence: str
) -> None:
    response = client.post(
        f"/api/v1/alarms/{store.alarm_id}/shelve", json=body, headers=as_user(client, OPERATOR)
    )
    assert response.status_code == 422
    assert response.json() == {"detail": sentence}


def test_a_shelf_until_a_past_time_is_409_in_one_sentence(client: TestClient, store: Store) -> None:
    response = client.post(
        f"/api/v1/alarms/{store.alarm_id}/shelve",
        json={"until": "2020-01-01T00:00:00+00:00", "reason": "x"},
        headers=as_user(client, OPERATOR),
    )
    assert response.status_code == 409
    assert response.json()["detail"].endswith("is not in the future.")


# --- limits ------------------------------------------------------------------------------------


def test_the_limits_list_names_every_chart_and_its_versions(
    client: TestClient, store: Store
) -> None:
    headers = as_user(client, OPERATOR)
    [learning] = client.get("/api/v1/limits", headers=headers).json()
    assert learning == {
        "chart": CHART, "line": "line-1", "tag": CHARTED, "series": "imr", "in_force": None,
        "versions": [],
    }  # fmt: skip
    [chart] = load_charts(store.engine).values()
    end = T0 + timedelta(minutes=POINTS)
    freeze_limits(store.engine, chart, estimate_limits(store.engine, chart, T0, end), "q.eng")
    [listed] = client.get("/api/v1/limits", headers=headers).json()
    assert listed["in_force"] == 1
    [version] = listed["versions"]
    assert set(version) == {
        "version", "basis", "center", "sigma", "sigma_method", "lcl", "ucl", "valid_from",
        "frozen_by", "frozen_at", "data_from", "data_to", "n_used", "signature",
    }  # fmt: skip
    assert version["basis"] == "phase1" and version["frozen_by"] == "q.eng"
    assert version["signature"] is None  # frozen from the CLI, unsigned


def test_freeze_stores_the_estimate_of_the_span_signed_by_the_tokens_user(
    client: TestClient, store: Store
) -> None:
    response = client.post(
        f"/api/v1/limits/{CHART}/freeze", json=freeze_body(), headers=as_user(client, QUALITY)
    )
    assert response.status_code == 201, response.text
    [chart] = load_charts(store.engine).values()
    estimate = estimate_limits(store.engine, chart, T0, T0 + timedelta(minutes=POINTS))
    body = response.json()
    assert body["version"] == 1 and body["basis"] == "phase1" and body["frozen_by"] == QUALITY
    [row] = versions(store.engine)
    stored = (row.center, row.sigma, row.lcl, row.ucl, row.n_used)
    assert stored == (estimate.center, estimate.sigma, estimate.lcl, estimate.ucl, estimate.n_used)
    assert (body["center"], body["sigma"], body["lcl"], body["ucl"]) == stored[:4]
    signature = row.params["signature"]
    assert signature["user"] == QUALITY and signature["printed_name"] == QUALITY_NAME
    assert signature["meaning"] == "approved" and signature["components"] == 2
    assert signature["content_hash"] == estimate_hash(chart, estimate)
    assert body["signature"]["printed_name"] == QUALITY_NAME
    [entry] = audit(store.engine, "limits-freeze")
    assert entry.user == QUALITY and entry.detail["signature"] == signature


def test_freeze_with_a_wrong_password_is_refused_and_counts_toward_the_lockout(
    client: TestClient, store: Store
) -> None:
    headers = as_user(client, QUALITY)
    response = client.post(
        f"/api/v1/limits/{CHART}/freeze", json=freeze_body(password="wrong"), headers=headers
    )
    assert response.status_code == 403
    assert response.json()["detail"].startswith("the signature was refused: ")
    assert failed_logins(store.engine, QUALITY) == 1
    assert [e.user for e in audit(store.engine, "signature-failed")] == [QUALITY]
    assert versions(store.engine) == []


def test_freeze_signed_in_another_users_name_is_refused(client: TestClient, store: Store) -> None:
    response = client.post(
        f"/api/v1/limits/{CHART}/freeze",
        json=freeze_body(name=OPERATOR),
        headers=as_user(client, QUALITY),
    )
    assert response.status_code == 403 and versions(store.engine) == []


def test_freeze_over_too_few_points_is_409_in_one_sentence(
    client: TestClient, store: Store
) -> None:
    body = freeze_body() | {"to": (T0 + timedelta(minutes=5)).isoformat()}
    response = client.post(
        f"/api/v1/limits/{CHART}/freeze", json=body, headers=as_user(client, QUALITY)
    )
    assert response.status_code == 409
    assert "phase I needs at least 20" in response.json()["detail"]
    assert versions(store.engine) == []


def test_freeze_from_after_to_is_422_in_one_sentence(client: TestClient) -> None:
    body = freeze_body() | {"from": SPAN["to"], "to": SPAN["from"]}
    response = client.post(
        f"/api/v1/limits/{CHART}/freeze", json=body, headers=as_user(client, QUALITY)
    )
    assert response.status_code == 422
    assert response.json()["detail"].endswith("must be before to (2026-11-02 08:00:00+00:00).")


@pytest.mark.parametrize(
    "chart", ["line-1:width_mm:xbar-r", "line-1:thickness_um:imr", "line-1:width_mm", "x"]
)
def test_freeze_of_an_unknown_chart_is_404(client: TestClient, chart: str) -> None:
    response = client.post(
        f"/api/v1/limits/{chart}/freeze", json=freeze_body(), headers=as_user(client, QUALITY)
    )
    assert response.status_code == 404
    assert response.json()["detail"].startswith(f"there is no chart {chart!r}")


# --- the audit trail ---------------------------------------------------------------------------


@pytest.mark.parametrize("user", [OPERATOR, QUALITY, ADMIN])
def test_every_role_may_read_the_audit_trail(client: TestClient, user: str) -> None:
    response = client.get("/api/v1/audit", headers=as_user(client, user))
    assert response.status_code == 200
    newest = response.json()[0]
    assert (newest["user"], newest["action"], newest["entity"]) == (user, "login", "user")
    assert set(newest) == {"id", "at", "user", "action", "entity", "entity_id", "detail"}


def test_the_audit_trail_is_filtered_by_user_action_and_entity(
    client: TestClient, store: Store
) -> None:
    headers = as_user(client, OPERATOR)
    client.post(f"/api/v1/alarms/{store.alarm_id}/ack", headers=headers)
    query = f"?user={OPERATOR}&action=alarm-ack&entity=alarm&entity_id={store.alarm_id}"
    [entry] = client.get(f"/api/v1/audit{query}", headers=headers).json()
    assert entry["entity_id"] == str(store.alarm_id) and entry["detail"]["note"] is None
    assert client.get(f"/api/v1/audit?user={ADMIN}", headers=headers).json() == []


def test_the_audit_trail_is_filtered_by_time_and_limited_newest_first(
    client: TestClient, store: Store
) -> None:
    headers = as_user(client, OPERATOR)
    everything = client.get("/api/v1/audit", headers=headers).json()
    ids = [e["id"] for e in everything]
    assert ids == sorted(ids, reverse=True) and len(ids) >= 4
    [newest, second] = client.get("/api/v1/audit?limit=2", headers=headers).json()
    assert [newest["id"], second["id"]] == ids[:2]
    since = everything[0]["at"]
    window = {"from": since, "to": (datetime.now(UTC) + timedelta(seconds=1)).isoformat()}
    listed = client.get("/api/v1/audit", params=window, headers=headers).json()
    assert everything[0]["id"] in [e["id"] for e in listed]
    assert all(e["at"] >= since for e in listed)
    before = client.get("/api/v1/audit", params={"to": since}, headers=headers).json()
    assert everything[0]["id"] not in [e["id"] for e in before]


@pytest.mark.parametrize(
    ("query", "sentence"),
    [
        ("?from=2026-12-01T00:00:00", "from: input should have timezone info."),
        ("?limit=0", "limit: input should be greater than or equal to 1."),
    ],
)
def test_an_audit_filter_it_cannot_read_is_422_in_one_sentence(
    client: TestClient, query: str, sentence: str
) -> None:
    response = client.get(f"/api/v1/audit{query}", headers=as_user(client, OPERATOR))
    assert response.status_code == 422 and response.json() == {"detail": sentence}


# --- refusals ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("method", "path", "body"), PROTECTED)
def test_every_endpoint_without_a_token_is_401_and_audited(
    client: TestClient, store: Store, method: str, path: str, body: Any
) -> None:
    response = call(client, store, method, path, body)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert isinstance(response.json()["detail"], str)
    [entry] = audit(store.engine, "unauthenticated")
    assert (entry.user, entry.entity) == ("anonymous", "api")
    assert entry.entity_id == f"{method} {path.format(alarm=store.alarm_id)}"


@pytest.mark.parametrize(("method", "path", "body"), PROTECTED)
def test_every_endpoint_with_an_unknown_token_is_401_and_audited(
    client: TestClient, store: Store, method: str, path: str, body: Any
) -> None:
    headers = {"Authorization": "Bearer not-a-token"}
    response = call(client, store, method, path, body, headers)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Bearer error="invalid_token"'
    [entry] = audit(store.engine, "unauthenticated")
    assert entry.user == "anonymous" and entry.detail["reason"] == "unknown token"


def test_an_expired_token_is_401_and_audited_under_its_user(store: Store) -> None:
    console = WebConsole(store.engine, None, SessionStore(60.0), tokens=TokenStore(lifetime_s=0.2))
    app = FastAPI()
    app.include_router(api.routes(console))
    with TestClient(app) as client:
        headers = as_user(client, OPERATOR)
        time.sleep(0.3)
        response = client.get("/api/v1/alarms", headers=headers)
    assert response.status_code == 401
    [entry] = audit(store.engine, "unauthenticated")
    assert entry.user == OPERATOR and entry.detail["reason"] == "token expired"


def test_a_disabled_accounts_token_stops_at_once(client: TestClient, store: Store) -> None:
    headers = as_user(client, OPERATOR)
    disable_user(store.engine, OPERATOR, by="test")
    response = client.get("/api/v1/alarms", headers=headers)
    assert response.status_code == 401
    assert response.json() == {"detail": f"user {OPERATOR!r} is disabled or no longer exists."}
    [entry] = audit(store.engine, "unauthenticated")
    assert entry.user == OPERATOR and entry.detail["reason"] == "account disabled"


@pytest.mark.parametrize(
    ("user", "method", "path", "body", "action", "sentence"),
    [
        (ADMIN, *PROTECTED[1], "alarm.ack", "role 'admin' may not acknowledge alarms."),
        (ADMIN, *PROTECTED[2], "alarm.shelve", "role 'admin' may not shelve alarms."),
        (OPERATOR, *PROTECTED[4], "limits.freeze", "role 'operator' may not freeze limits."),
    ],
)
def test_a_role_without_the_permission_is_403_and_audited(
    client: TestClient,
    store: Store,
    user: str,
    method: str,
    path: str,
    body: Any,
    action: str,
    sentence: str,
) -> None:
    response = call(client, store, method, path, body, as_user(client, user))
    assert response.status_code == 403 and response.json() == {"detail": sentence}
    [entry] = audit(store.engine, "permission-denied")
    assert entry.user == user and entry.detail["action"] == action
    assert versions(store.engine) == [] and audit(store.engine, "alarm-ack") == []


# --- the OpenAPI document ----------------------------------------------------------------------


def test_the_openapi_document_lists_the_api_with_its_bearer_scheme_and_no_pages(
    client: TestClient,
) -> None:
    document = client.get("/api/v1/openapi.json").json()
    assert set(document["paths"]) == {
        "/api/v1/token", "/api/v1/alarms", "/api/v1/alarms/{alarm_id}/ack",
        "/api/v1/alarms/{alarm_id}/shelve", "/api/v1/limits", "/api/v1/limits/{chart}/freeze",
        "/api/v1/audit",
    }  # fmt: skip
    [scheme] = document["components"]["securitySchemes"].values()
    assert scheme["type"] == "oauth2"
    assert scheme["flows"]["password"]["tokenUrl"] == "/api/v1/token"
    for path, operations in document["paths"].items():
        for operation in operations.values():
            responses = operation["responses"]
            assert responses["401"]["content"]["application/json"]["schema"] == {
                "$ref": "#/components/schemas/Problem"
            }
            if path != "/api/v1/token":
                assert operation["security"] == [{"bearer": []}], path


# --- PostgreSQL: the ack and freeze paths lock rows ----------------------------------------------


def test_ack_on_postgresql(pg_store: Store) -> None:
    with TestClient(create_app(pg_store.engine, None)) as client:
        response = client.post(
            f"/api/v1/alarms/{pg_store.alarm_id}/ack", headers=as_user(client, OPERATOR)
        )
    assert response.status_code == 200 and response.json()["state"] == "active-acknowledged"


def test_freeze_on_postgresql(pg_store: Store) -> None:
    with TestClient(create_app(pg_store.engine, None)) as client:
        response = client.post(
            f"/api/v1/limits/{CHART}/freeze", json=freeze_body(), headers=as_user(client, QUALITY)
        )
    assert response.status_code == 201, response.text
    [row] = versions(pg_store.engine)
    assert row.params["signature"]["user"] == QUALITY
