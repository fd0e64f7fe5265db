"""A SQLite store with one active alarm and two accounts, and the console over it.

``operator.a`` (role operator) may acknowledge alarms; ``admin.a`` (role admin, which manages
users and nothing else, `plantqc.users.roles`) may not.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from plantqc.alarms import AlarmEvent, apply_events
from plantqc.config import LoadedConfig
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


# --- the limits and lots pages: a casting line with limits to approve and lots with reports ---

QUALITY = "quality.a"
QUALITY_NAME = "Ada Lovelace"
REVIEWER = "quality.b"
REVIEWER_NAME = "Grace Hopper"
SPEED, DRYER = "web_speed_m_min", "dryer_zone1_temp_c"
HALF = timedelta(seconds=300)


@dataclass(frozen=True)
class Plant:
    """The casting example line's store (`reports.report_helpers`): LOT-0001 (600 s at 1 Hz,
    images) and LOT-0002 (no images, so its report's disposition is hold).

    Web speed has limits frozen (unsigned, as the CLI freezes them) from the lot's first half
    and a proposal learned from its second half (``proposal_span``); the dryer zone has only
    a learned version.  Accounts: an operator and two quality engineers with printed names.
    """

    engine: Engine
    loaded: LoadedConfig
    tags: dict[str, int]
    proposal_span: tuple[datetime, datetime]
    folder: Path


@pytest.fixture
def plant(tmp_path: Path) -> Iterator[Plant]:
    from reports.report_helpers import T0, casting_config, store_lot

    from plantqc.charting.catalog import load_charts
    from plantqc.charting.phase1 import (
        estimate_limits,
        freeze_limits,
        observations,
        store_provisional,
    )

    engine = connect(f"sqlite:///{tmp_path / 'plant.db'}")
    upgrade(engine)
    loaded = casting_config(tmp_path)
    tags = store_lot(engine, loaded.config, images_dir=tmp_path / "images")
    store_lot(engine, loaded.config, "LOT-0002", start=T0 + timedelta(hours=1))
    charts = load_charts(engine)
    speed, dryer = charts[tags[SPEED]], charts[tags[DRYER]]
    freeze_limits(engine, speed, estimate_limits(engine, speed, T0, T0 + HALF), "q.eng")
    spans = {}
    for chart, start in ((speed, T0 + HALF), (dryer, T0)):
        [series] = chart.series
        points = observations(engine, chart, series, start, T0 + 2 * HALF)
        spans[chart.tag] = (points[0][0], points[-1][0])
        with Session(engine) as session, session.begin():
            store_provisional(session, chart, series, [vs for _, vs in points], spans[chart.tag])
    add_user(engine, OPERATOR, "operator", PASSWORD, by="test")
    add_user(engine, QUALITY, "quality", PASSWORD, by="test", full_name=QUALITY_NAME)
    add_user(engine, REVIEWER, "quality", PASSWORD, by="test", full_name=REVIEWER_NAME)
    yield Plant(engine, loaded, tags, spans[SPEED], tmp_path)
    engine.dispose()


@dataclass(frozen=True)
class Issued:
    """The first report of each lot of `plant`: ``released`` (LOT-0001) and ``held``
    (LOT-0002)."""

    released: int
    held: int


@pytest.fixture
def issued(plant: Plant) -> Issued:
    from plantqc.reports.issue import generate_report

    reports = [
        generate_report(plant.engine, code, plant.folder / "reports" / code, loaded=plant.loaded)
        for code in ("LOT-0001", "LOT-0002")
    ]
    return Issued(reports[0].id, reports[1].id)


@pytest.fixture
def plant_client(plant: Plant) -> Iterator[TestClient]:
    """A browser without a session on the console over `plant`; redirects are not followed."""
    with TestClient(create_app(plant.engine, plant.loaded), follow_redirects=False) as c:
        yield c


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
