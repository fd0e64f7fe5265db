"""Fixtures of the image-loop tests."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from plantqc.store import connect, upgrade

# the ingestion tests' helpers (free ports, the example configs) serve these tests too
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "ingest"))


@pytest.fixture(autouse=True)
def _quiet_asyncua() -> None:
    # asyncua logs every publish at INFO and every refused reconnect with a traceback
    logging.getLogger("asyncua").setLevel(logging.CRITICAL)


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """An empty, migrated store on each dialect."""
    url = (
        f"sqlite:///{tmp_path / 'store.db'}"
        if request.param == "sqlite"
        else request.getfixturevalue("pg_url")
    )
    engine = connect(url)
    upgrade(engine)
    yield engine
    engine.dispose()
