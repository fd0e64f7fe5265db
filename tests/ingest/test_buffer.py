"""The durable buffer: FIFO, bounded, and nothing lost by a kill -9 of the daemon."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from ingest_helpers import counter_config, free_port
from sqlalchemy import text

from plantqc.buffer import Reading, SampleBuffer
from plantqc.store import open_engine

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
PLANTQC = str(Path(sys.executable).parent / "plantqc")


def readings(n: int, start: int = 0) -> list[Reading]:
    return [
        Reading(
            "casting-1",
            "dry_thickness_um",
            "scalar",
            T0 + timedelta(microseconds=i),
            0,
            0,
            50.0 + i,
        )
        for i in range(start, start + n)
    ]


def test_put_then_peek_returns_the_readings_in_order_exactly(tmp_path: Path) -> None:
    buffer = SampleBuffer(tmp_path / "q.sqlite", 100)
    profile = Reading("casting-1", "p", "profile", T0, 0, 0, values=(1.5, 2.5))
    lot = Reading("casting-1", "lot_id", "lot_id", T0, 2, 0, text="LOT-0007")
    sent = [*readings(3), profile, lot]
    buffer.put(sent)
    last_id, got = buffer.peek(10)
    assert got == sent
    assert last_id == 5


def test_ack_removes_only_what_was_stored(tmp_path: Path) -> None:
    buffer = SampleBuffer(tmp_path / "q.sqlite", 100)
    buffer.put(readings(5))
    last_id, _ = buffer.peek(2)
    assert buffer.ack(last_id) == 2
    assert buffer.depth == 3
    assert buffer.peek(10)[1] == readings(3, start=2)


def test_full_buffer_refuses_and_counts_the_excess(tmp_path: Path) -> None:
    buffer = SampleBuffer(tmp_path / "q.sqlite", 4, alarm_fraction=0.75)
    assert buffer.put(readings(6)) == 4
    assert (buffer.depth, buffer.refused, buffer.near_full) == (4, 2, True)


def test_near_full_starts_at_the_alarm_fraction(tmp_path: Path) -> None:
    buffer = SampleBuffer(tmp_path / "q.sqlite", 10, alarm_fraction=0.5)
    buffer.put(readings(4))
    assert not buffer.near_full
    buffer.put(readings(1, start=4))
    assert buffer.near_full


def test_queue_survives_reopening(tmp_path: Path) -> None:
    SampleBuffer(tmp_path / "q.sqlite", 100).put(readings(3))
    reopened = SampleBuffer(tmp_path / "q.sqlite", 100)
    assert reopened.depth == 3
    assert reopened.peek(10)[1] == readings(3)


def test_naive_timestamp_is_refused(tmp_path: Path) -> None:
    naive = readings(1)[0]._replace(ts=datetime(2026, 1, 1))
    with pytest.raises(ValueError, match="naive timestamp"):
        SampleBuffer(tmp_path / "q.sqlite", 10).put([naive])


def _queued_keys(path: Path) -> set[tuple[str, int]]:
    import sqlite3

    with sqlite3.connect(path) as db:
        return set(db.execute("SELECT tag, ts_us FROM queue WHERE kind = 'scalar'").fetchall())


def _queued_or_none(folder: Path) -> set[tuple[str, int]]:
    """The queued keys, or none while the daemon has not created its queue yet."""
    import sqlite3

    if not (folder / "buffer.sqlite").exists():  # connecting would create it
        return set()
    try:
        return _queued_keys(folder / "buffer.sqlite")
    except sqlite3.OperationalError:
        return set()


def _stored_keys(url: str) -> set[tuple[str, int]]:
    engine = open_engine(url)
    with engine.connect() as connection:
        rows = connection.execute(
            text("SELECT tags.name, samples.ts FROM samples JOIN tags ON tags.id = samples.tag_id")
        ).all()
    engine.dispose()
    epoch = datetime(1970, 1, 1)
    return {
        (
            name,
            int(
                (datetime.fromisoformat(str(ts)).replace(tzinfo=None) - epoch)
                / timedelta(microseconds=1)
            ),
        )
        for name, ts in rows
    }


@pytest.mark.slow
def test_kill_9_loses_nothing_that_reached_the_queue(tmp_path: Path) -> None:
    port = free_port()
    loaded = counter_config(tmp_path, port)
    sim = subprocess.Popen(
        [PLANTQC, "sim", "-c", str(loaded.path), "--duration", "30"],
        stderr=subprocess.PIPE,
    )
    try:
        time.sleep(2.0)
        # first run: the database is a PostgreSQL port where nobody listens, so all is queued
        down = f"postgresql+psycopg://nobody@127.0.0.1:{free_port()}/none"
        daemon = subprocess.Popen(
            [PLANTQC, "run", "-c", str(loaded.path), "--db", down],
            stderr=subprocess.DEVNULL,
        )
        # kill it once enough has been queued; a loaded machine starts the daemon slowly
        deadline = time.monotonic() + 60.0
        while time.monotonic() < deadline and len(_queued_or_none(tmp_path)) <= 20:
            time.sleep(0.5)
        os.kill(daemon.pid, signal.SIGKILL)
        daemon.wait()
        queued = _queued_keys(tmp_path / "buffer.sqlite")
        assert len(queued) > 20
        # second run: the database is back; the queue drains on start
        url = f"sqlite:///{tmp_path / 'after.db'}"
        subprocess.run(
            [PLANTQC, "run", "-c", str(loaded.path), "--db", url, "--duration", "3"],
            check=True,
            stderr=subprocess.DEVNULL,
        )
    finally:
        sim.terminate()
        sim.wait()
    assert queued <= _stored_keys(url)
