"""An unusable store ends the daemon at start; an unreachable one is an outage (issue 20, item 6).

The outage side (a store that is unreachable at start or goes away later: samples buffered,
0 lost) is `test_buffer.py::test_kill_9_loses_nothing_that_reached_the_queue` and
`test_database_outage.py`.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest
from ingest_helpers import counter_config
from sqlalchemy import text

from plantqc.daemon import Daemon
from plantqc.store import connect, upgrade
from plantqc.store.db import StoreUnusable

PLANTQC = str(Path(sys.executable).parent / "plantqc")
HANG_GUARD_S = 60.0
"""Only there so that a daemon that takes the store for an outage (and runs on) fails the test;
how fast it ends is measured in the report, not asserted here."""


def test_run_on_a_file_that_is_not_a_database_ends_with_one_sentence(
    tmp_path: Path, port: int
) -> None:
    loaded = counter_config(tmp_path, port)
    corrupt = tmp_path / "corrupt.db"
    corrupt.write_bytes(bytes(range(256)) * 32)
    result = subprocess.run(
        [PLANTQC, "run", "-c", str(loaded.path), "--db", f"sqlite:///{corrupt}"],
        capture_output=True,
        text=True,
        timeout=HANG_GUARD_S,
    )
    assert result.returncode != 0
    # the whole of stderr: no traceback, no engine process's log line before it
    assert result.stderr.strip().splitlines() == [
        f"error: the database at sqlite:///{corrupt} cannot be used: file is not a database."
    ]
    # no engine process was started on it: it would have left its lock file beside it
    assert not (tmp_path / "corrupt.db.engine-lock").exists()


def test_a_schema_revision_this_plantqc_does_not_know_ends_the_daemon(
    tmp_path: Path, port: int
) -> None:
    loaded = counter_config(tmp_path, port)
    url = f"sqlite:///{tmp_path / 'newer.db'}"
    engine = connect(url)
    upgrade(engine)
    with engine.begin() as connection:  # as a newer plantqc would have left it
        connection.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    engine.dispose()
    with pytest.raises(StoreUnusable, match=r"has schema revision '9999', which this plantqc"):
        asyncio.run(Daemon(loaded, db_url=url).run(duration_s=30))


def test_the_daemon_reports_its_store_open_once_before_it_hands_on_a_batch(
    tmp_path: Path, port: int
) -> None:
    # what `plantqc run` starts its engine process on: never on a store it rejects
    loaded = counter_config(tmp_path, port)
    calls: list[str] = []
    daemon = Daemon(
        loaded,
        on_store_open=lambda: calls.append("open"),
        on_stored=lambda batch: calls.append("stored"),
    )
    asyncio.run(daemon.run(duration_s=2))
    # the daemon's own buffer-depth sample is stored at its start: one batch at least
    assert calls[0] == "open"
    assert calls.count("open") == 1
    assert "stored" in calls
