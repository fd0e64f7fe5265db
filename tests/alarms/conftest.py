"""A migrated store with one line and one tag, whose alarms the tests drive directly."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from alarm_store import AlarmStore
from sqlalchemy.orm import Session

from plantqc.store import connect, upgrade
from plantqc.store.models import Line, Tag


def _open(url: str) -> Iterator[AlarmStore]:
    engine = connect(url)
    upgrade(engine)
    with Session(engine) as session, session.begin():
        line = Line(site="site", area="area", name="line-1", kind="casting")
        session.add(line)
        session.flush()
        tag = Tag(line_id=line.id, name="thickness_um", node_id="ns=2;s=thickness_um")
        session.add(tag)
        session.flush()
        ids = line.id, tag.id
    yield AlarmStore(engine, url, *ids)
    engine.dispose()


@pytest.fixture
def pg_alarms(pg_url: str) -> Iterator[AlarmStore]:
    """On a fresh PostgreSQL database of its own (dropped afterwards)."""
    yield from _open(pg_url)


@pytest.fixture
def sqlite_alarms(tmp_path: Path) -> Iterator[AlarmStore]:
    """On a fresh SQLite file (WAL)."""
    yield from _open(f"sqlite:///{tmp_path / 'store.db'}")


@pytest.fixture(params=["sqlite", "postgresql"])
def either_alarms(request: pytest.FixtureRequest) -> AlarmStore:
    """On each dialect in turn: what is checked must not depend on it."""
    name = "pg_alarms" if request.param == "postgresql" else "sqlite_alarms"
    return request.getfixturevalue(name)
