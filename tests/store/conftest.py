"""An engine per dialect: every store behaviour is specified on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from plantqc.config import load_config
from plantqc.store import TagRef, connect, sync_config, upgrade

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'store.db'}"
    else:
        url = request.getfixturevalue("pg_url")
    engine = connect(url)
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def casting_tags(engine: Engine) -> dict[str, TagRef]:
    """The example casting line's tags, registered; keyed by tag name."""
    refs = sync_config(engine, load_config(EXAMPLES / "casting.yaml").config)
    return {tag: ref for (_, tag), ref in refs.items()}
