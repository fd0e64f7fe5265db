"""The SPC engine in its own process (`plantqc.engine_process`), fed as the daemon feeds it."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psutil
import pytest
from engine_helpers import feed, freeze
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session

from plantqc.buffer import Reading
from plantqc.config import load_config
from plantqc.engine_process import EngineProcess
from plantqc.store import TagRef, connect, sync_config, upgrade
from plantqc.store.models import Alarm, Violation


def _url(store: Engine) -> str:
    return store.url.render_as_string(hide_password=False)


def _batch(times: list[datetime]) -> list[Reading]:
    return [Reading("line-1", "x_imr", "scalar", ts, 0, 0, 10.0) for ts in times]


def _violations(store: Engine, tag_id: int) -> list[tuple[str, str, datetime]]:
    """The rule violations of the tag (13.5 beyond the UCL 13 of limits frozen at 10 +/- 3
    also breaches the USL 13: those are left out)."""
    with Session(store) as session:
        rows = session.execute(
            select(Violation.chart, Violation.rule, Violation.ts)
            .where(Violation.tag_id == tag_id, Violation.rule != "spec")
            .order_by(Violation.id)
        ).all()
    return [tuple(row) for row in rows]  # type: ignore[misc]


def test_a_stored_batch_is_charted_by_the_time_the_process_closes(
    store: Engine, tags: dict[str, TagRef], config_path: Path
) -> None:
    freeze(store, tags["x_imr"])
    tag = tags["x_imr"].tag_id
    engine = EngineProcess(_url(store), config=load_config(config_path).config)
    times = feed(store, tag, [10.0, 13.5, 10.0])  # 13.5 beyond the UCL of 13
    engine(_batch(times))
    engine.close()
    assert ("i", "nelson1", times[1]) in _violations(store, tag)
    with Session(store) as session:
        assert session.scalars(select(Alarm.code).where(Alarm.tag_id == tag)).all()


def test_samples_stored_before_the_process_started_are_caught_up(
    sqlite_store: Engine, sqlite_tags: dict[str, TagRef]
) -> None:
    freeze(sqlite_store, sqlite_tags["x_imr"])
    tag = sqlite_tags["x_imr"].tag_id
    times = feed(sqlite_store, tag, [10.0, 13.5])
    EngineProcess(_url(sqlite_store)).close()
    assert _violations(sqlite_store, tag) == [("i", "nelson1", times[1])]


def test_a_killed_engine_process_is_replaced_and_charts_what_it_missed(
    sqlite_store: Engine, sqlite_tags: dict[str, TagRef]
) -> None:
    freeze(sqlite_store, sqlite_tags["x_imr"])
    tag = sqlite_tags["x_imr"].tag_id
    engine = EngineProcess(_url(sqlite_store))
    first = engine.pid
    assert first is not None
    os.kill(first, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while not (engine.restarts and engine.alive()) and time.monotonic() < deadline:
        time.sleep(0.05)
    times = feed(sqlite_store, tag, [10.0, 13.5], start=5)
    engine(_batch(times))
    engine.close()
    assert (engine.restarts, engine.pid != first) == (1, True)
    assert _violations(sqlite_store, tag) == [("i", "nelson1", times[1])]


def test_the_periodic_check_runs_in_the_process(
    sqlite_store: Engine, sqlite_tags: dict[str, TagRef], config_path: Path
) -> None:
    # line-2's z samples every 100 ms and is silent after 10 intervals: one sample, then a
    # tick a minute on (after the child's own start, which the check also waits for) raises
    # its silent alarm
    tag = sqlite_tags["z"].tag_id
    times = feed(sqlite_store, tag, [10.0])
    engine = EngineProcess(_url(sqlite_store), config=load_config(config_path).config)
    engine.tick(max(times[-1], datetime.now(UTC)) + timedelta(minutes=1))
    engine.close()
    with Session(sqlite_store) as session:
        codes = session.scalars(select(Alarm.code).where(Alarm.tag_id == tag)).all()
    assert codes == ["silent"]


# a daemon stand-in: an engine process on the store, its pid printed, then nothing until killed
DAEMON = """
import sys, time
from plantqc.engine_process import EngineProcess
engine = EngineProcess(sys.argv[1])
print(engine.pid, flush=True)
time.sleep(600)
"""


def _running(pid: int) -> bool:
    """Whether ``pid`` is a live process (a zombie, exited but not reaped, is not)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "\nState:\tZ" not in status


def test_killing_the_daemon_with_sigkill_leaves_no_engine_process_behind(
    sqlite_store: Engine, sqlite_tags: dict[str, TagRef]
) -> None:
    daemon = subprocess.Popen(
        [sys.executable, "-c", DAEMON, _url(sqlite_store)], stdout=subprocess.PIPE, text=True
    )
    assert daemon.stdout is not None
    engine_pid = int(daemon.stdout.readline())
    children = psutil.Process(daemon.pid).children(recursive=True)
    assert [c.pid for c in children] == [engine_pid]  # the engine, and no helper process
    daemon.kill()
    daemon.wait()
    deadline = time.monotonic() + 10
    while any(_running(c.pid) for c in children) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert [c.pid for c in children if _running(c.pid)] == []


def test_a_second_engine_on_the_database_waits_and_says_so(
    store: Engine, tags: dict[str, TagRef], capfd: pytest.CaptureFixture[str]
) -> None:
    first = EngineProcess(_url(store))
    second = EngineProcess(_url(store))
    deadline, said = time.monotonic() + 30, ""
    while "waiting until it stops" not in said and time.monotonic() < deadline:
        said += capfd.readouterr().err
        time.sleep(0.05)
    first.close()
    second.close()
    assert "another SPC engine is charting this database; waiting until it stops" in said


def test_two_engines_on_one_database_record_each_violation_once(
    store: Engine, tags: dict[str, TagRef]
) -> None:
    # both are told about the batch; only the lock holder charts it, the other waits and then
    # finds it charted
    freeze(store, tags["x_imr"])
    tag = tags["x_imr"].tag_id
    first = EngineProcess(_url(store))
    second = EngineProcess(_url(store))
    times = feed(store, tag, [10.0, 13.5, 10.0, 9.9, 13.4])  # Nelson 1 twice, not Nelson 5
    for engine in (first, second):
        engine(_batch(times))
    first.close()
    second.close()
    assert _violations(store, tag) == [("i", "nelson1", times[1]), ("i", "nelson1", times[4])]


def test_an_engine_started_before_the_daemon_syncs_the_store_charts_its_tags(
    tmp_path: Path, config_path: Path
) -> None:
    # `plantqc run` starts the engine first; the daemon syncs the config's tags after
    url = f"sqlite:///{tmp_path / 'late.db'}"
    store = connect(url)
    upgrade(store)
    engine = EngineProcess(url, config=load_config(config_path).config)
    time.sleep(2)  # long enough for the child to be up and waiting
    ref = sync_config(store, load_config(config_path).config)[("line-1", "x_imr")]
    freeze(store, ref)
    tag = ref.tag_id
    times = feed(store, tag, [10.0, 13.5])
    engine(_batch(times))
    engine.close()
    assert _violations(store, tag) == [("i", "nelson1", times[1])]
    store.dispose()


def test_an_engine_whose_postgresql_does_not_answer_waits_for_it_and_stops_on_close(
    capfd: pytest.CaptureFixture[str],
) -> None:
    with socket.socket() as probe:  # a loopback port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    engine = EngineProcess(f"postgresql+psycopg://postgres@127.0.0.1:{port}/test")
    deadline, said = time.monotonic() + 30, ""
    while "the engine waits for it" not in said and time.monotonic() < deadline:
        said += capfd.readouterr().err
        time.sleep(0.05)
    assert (engine.alive(), engine.restarts) == (True, 0)
    engine.close()
    assert "the store does not answer (" in said and "Traceback" not in said


# an flock lasts as long as its process: only a PostgreSQL lock can be lost
@pytest.mark.parametrize("store", ["postgresql"], indirect=True)
def test_an_engine_whose_lock_connection_ends_stops_and_its_replacement_charts_once(
    store: Engine, tags: dict[str, TagRef]
) -> None:
    # a PostgreSQL advisory lock ends with its connection (a server restart, a terminated
    # backend): the engine that held it must not go on charting beside a new lock holder
    freeze(store, tags["x_imr"])
    tag = tags["x_imr"].tag_id
    engine = EngineProcess(_url(store))
    holder = text(
        "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND database ="
        " (SELECT oid FROM pg_database WHERE datname = current_database())"
    )
    deadline, pids = time.monotonic() + 30, []
    while not pids and time.monotonic() < deadline:
        with store.connect() as connection:
            pids = connection.execute(holder).scalars().all()
        time.sleep(0.05)
    assert len(pids) == 1
    with store.connect() as connection:
        connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pids[0]})
    times = feed(store, tag, [10.0, 13.5, 10.0, 9.9, 13.4])  # Nelson 1 twice, not Nelson 5
    engine(_batch(times))
    deadline = time.monotonic() + 30
    while engine.restarts == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    engine.close()
    assert engine.restarts == 1
    assert _violations(store, tag) == [("i", "nelson1", times[1]), ("i", "nelson1", times[4])]
