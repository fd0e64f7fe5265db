"""The audit trail in the console: every role may review it, filtered by user, action,
entity and time, newest first and paged; the CSV download holds the same entries."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import UTC, datetime, timedelta

import pytest
from conftest import ADMIN, OPERATOR, Console, csrf_token, log_in
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from plantqc.store.audit import record_audit

DAY = datetime(2026, 3, 2, tzinfo=UTC)
"""The day of the seeded entries, long before the fixture's own (now)."""


@pytest.fixture
def seeded(console: Console) -> dict[str, int]:
    """Five entries on `DAY` by two users on two alarms and a loop; their ids by a name."""
    rows = [
        ("shelve-1", OPERATOR, "alarm-shelve", "alarm", 1, 8, {"until": "x", "note": "trial"}),
        ("ack-1", OPERATOR, "alarm-ack", "alarm", 1, 9, {"note": None}),
        ("ack-2", "operator.b", "alarm-ack", "alarm", 2, 10, {"note": "seen, ok"}),
        ("mode", OPERATOR, "control.mode", "control_loop", "line-1.md", 11, {"new": "closed"}),
        ("late", "operator.b", "alarm-comment", "alarm", 2, 23, {"cause": 'die "lip"'}),
    ]
    ids = {}
    with Session(console.engine) as session, session.begin():
        for name, user, action, entity, entity_id, hour, detail in rows:
            at = DAY + timedelta(hours=hour)
            ids[name] = record_audit(session, user, action, entity, entity_id, detail, at=at)
        session.flush()
        return {name: row.id for name, row in ids.items()}


def _ids(page: str) -> list[int]:
    return [int(i) for i in re.findall(r'<tr id="audit-(\d+)">', page)]


def _day_filter(**more: str) -> dict[str, str]:
    return {"from": "2026-03-02", "to": "2026-03-02", **more}


@pytest.mark.parametrize("who", [OPERATOR, ADMIN])
def test_every_role_may_review_the_audit_trail(client: TestClient, who: str) -> None:
    log_in(client, who)
    response = client.get("/audit")
    assert response.status_code == 200 and 'id="audit"' in response.text


def test_the_audit_trail_needs_a_session(client: TestClient) -> None:
    assert client.get("/audit").headers["location"] == "/login"
    assert client.get("/audit.csv").headers["location"] == "/login"


def test_the_audit_page_lists_the_entries_of_a_day_newest_first(
    client: TestClient, seeded: dict[str, int]
) -> None:
    log_in(client, OPERATOR)
    page = client.get("/audit", params=_day_filter()).text
    assert _ids(page) == [seeded[n] for n in ("late", "mode", "ack-2", "ack-1", "shelve-1")]


@pytest.mark.parametrize(
    ("params", "names"),
    [
        ({"user": "operator.b"}, ["late", "ack-2"]),
        ({"action": "alarm-ack"}, ["ack-2", "ack-1"]),
        ({"entity": "alarm", "entity_id": "1"}, ["ack-1", "shelve-1"]),
        ({"entity": "control_loop"}, ["mode"]),
        ({"from": "2026-03-02T09:00Z", "to": "2026-03-02T11:00Z"}, ["ack-2", "ack-1"]),
        ({"from": "2026-03-02T10:00:00+01:00", "to": "2026-03-02T11:00"}, ["ack-2", "ack-1"]),
    ],
)
def test_the_audit_page_filters_by_user_action_entity_and_time(
    client: TestClient, seeded: dict[str, int], params: dict[str, str], names: list[str]
) -> None:
    log_in(client, OPERATOR)
    page = client.get("/audit", params=_day_filter() | params).text
    assert _ids(page) == [seeded[n] for n in names]


def test_the_audit_page_pages_with_its_limit(client: TestClient, seeded: dict[str, int]) -> None:
    log_in(client, OPERATOR)
    first = client.get("/audit", params=_day_filter(limit="2")).text
    assert _ids(first) == [seeded["late"], seeded["mode"]]
    older = re.search(r'<a href="/audit\?([^"]+)" id="older">', first).group(1)
    second = client.get(f"/audit?{older.replace('&amp;', '&')}").text
    assert _ids(second) == [seeded["ack-2"], seeded["ack-1"]]
    assert 'id="newer"' in second


def test_the_csv_parses_back_to_the_entries_the_page_shows(
    client: TestClient, seeded: dict[str, int]
) -> None:
    log_in(client, OPERATOR)
    params = _day_filter(entity="alarm")
    page = client.get("/audit", params=params).text
    response = client.get("/audit.csv", params=params)
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert "attachment" in response.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [int(r["id"]) for r in rows] == _ids(page)
    late = rows[0]
    assert (late["user"], late["action"], late["entity"], late["entity_id"]) == (
        "operator.b", "alarm-comment", "alarm", "2",
    )  # fmt: skip
    assert datetime.fromisoformat(late["at"]) == DAY + timedelta(hours=23)
    assert late["at"].endswith("+00:00")
    assert json.loads(late["detail"]) == {"cause": 'die "lip"'}


def test_the_csv_of_no_entries_is_its_header_row(client: TestClient) -> None:
    log_in(client, OPERATOR)
    response = client.get("/audit.csv", params={"user": "nobody"})
    assert list(csv.reader(io.StringIO(response.text))) == [
        ["id", "at", "user", "action", "entity", "entity_id", "detail"]
    ]


def test_an_unreadable_time_is_400_with_the_sentence(client: TestClient) -> None:
    log_in(client, OPERATOR)
    response = client.get("/audit", params={"from": "yesterday"})
    assert response.status_code == 400
    assert "from &#39;yesterday&#39; is not a time such as 2026-12-07T08:00Z" in response.text
    assert client.get("/audit.csv", params={"to": "soon"}).status_code == 400


def test_a_period_that_ends_before_it_starts_is_400(client: TestClient) -> None:
    log_in(client, OPERATOR)
    response = client.get("/audit", params={"from": "2026-03-03", "to": "2026-03-01"})
    assert response.status_code == 400 and "it ends before it starts" in response.text


def test_a_name_typed_like_a_formula_is_not_a_formula_in_the_csv(
    client: TestClient, console: Console
) -> None:
    token = csrf_token(client.get("/login").text)
    client.post("/login", data={"username": "=HYPERLINK(1)", "password": "x", "csrf_token": token})
    log_in(client, OPERATOR)
    rows = list(csv.reader(io.StringIO(client.get("/audit.csv?action=login-failed").text)))
    assert [(r[2], r[5]) for r in rows[1:]] == [("'=HYPERLINK(1)", "'=HYPERLINK(1)")]
