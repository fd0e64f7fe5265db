"""A SQLite store with one active alarm and two accounts, and the console over it.

``operator.a`` (role operator) may acknowledge alarms; ``admin.a`` (role admin, which manages
users and nothing else, `plantqc.users.roles`) may not.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from plantqc.alarms import AlarmEvent, apply_events
from plantqc.store import connect, upgrade
from plantqc.store.models import Line, Tag
from plantqc.users import add_user
from plantqc.web.app import create_app

PASSWORD = "correct horse battery"
OPERATOR = "operator.a"
ADMIN = "admin.a"
MESSAGE = "beyond the UCL"


@dataclass(frozen=True)
class Console:
    """The store, its one active alarm, and the console app over it."""

    engine: Engine
    url: str
    alarm_id: int


@pytest.fixture
def console(tmp_path: Path) -> Iterator[Console]:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    engine = connect(url)
    upgrade(engine)
    with Session(engine) as session, session.begin():
        line = Line(site="site", area="area", name="line-1", kind="casting")
        session.add(line)
        session.flush()
        tag = Tag(line_id=line.id, name="thickness_um", node_id="ns=2;s=thickness_um")
        session.add(tag)
        session.flush()
        event = AlarmEvent("raise", "i:nelson1", datetime.now(UTC), priority="high",
                           message=MESSAGE)  # fmt: skip
        [alarm] = apply_events(session, line.id, tag.id, [event])
        alarm_id = alarm.id
    add_user(engine, OPERATOR, "operator", PASSWORD, by="test")
    add_user(engine, ADMIN, "admin", PASSWORD, by="test")
    yield Console(engine, url, alarm_id)
    engine.dispose()


@pytest.fixture
def client(console: Console) -> Iterator[TestClient]:
    """A browser without a session; redirects are not followed, so they can be checked."""
    with TestClient(create_app(console.engine, None), follow_redirects=False) as c:
        yield c


def csrf_token(page: str) -> str:
    """The CSRF token in a page's forms."""
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def log_in(client: TestClient, name: str, password: str = PASSWORD) -> str:
    """Log ``name`` in through the login form; the CSRF token of the logged-in session."""
    token = csrf_token(client.get("/login").text)
    data = {"username": name, "password": password, "csrf_token": token}
    response = client.post("/login", data=data)
    assert response.status_code == 303, response.text
    return csrf_token(client.get("/").text)


# --- the alarm actions, audit trail, KPI and live overview pages: alarms raised later ---


def raise_alarm(
    console: Console,
    code: str,
    *,
    at: datetime | None = None,
    priority: str = "medium",
    message: str = "raised by the test",
) -> int:
    """Raise alarm ``code`` on the store's one tag as the engine does, at ``at`` (default
    now); the id of the alarm it opens."""
    from sqlalchemy import select

    with Session(console.engine) as session, session.begin():
        tag = session.scalars(select(Tag)).one()
        event = AlarmEvent("raise", code, at or datetime.now(UTC), priority=priority,
                           message=message)  # fmt: skip
        [alarm] = apply_events(session, tag.line_id, tag.id, [event])
        return alarm.id
