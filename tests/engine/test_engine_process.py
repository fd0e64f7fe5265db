"""The SPC engine in its own process (`plantqc.engine_process`), fed as the daemon feeds it."""

from __future__ import annotations

import os
import signal
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from engine_helpers import feed
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from plantqc.buffer import Reading
from plantqc.config import load_config
from plantqc.engine_process import EngineProcess
from plantqc.store import TagRef
from plantqc.store.models import Alarm, Violation


def _url(store: Engine) -> str:
    return store.url.render_as_string(hide_password=False)


def _batch(times: list[datetime]) -> list[Reading]:
    return [Reading("line-1", "x_imr", "scalar", ts, 0, 0, 10.0) for ts in times]


def _violations(store: Engine, tag_id: int) -> list[tuple[str, str, datetime]]:
    with Session(store) as session:
        rows = session.execute(
            select(Violation.chart, Violation.rule, Violation.ts)
            .where(Violation.tag_id == tag_id)
            .order_by(Violation.id)
        ).all()
    return [tuple(row) for row in rows]  # type: ignore[misc]


def test_a_stored_batch_is_charted_by_the_time_the_process_closes(
    store: Engine, tags: dict[str, TagRef], config_path: Path
) -> None:
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
    tag = sqlite_tags["x_imr"].tag_id
    times = feed(sqlite_store, tag, [10.0, 13.5])
    EngineProcess(_url(sqlite_store)).close()
    assert _violations(sqlite_store, tag) == [("i", "nelson1", times[1])]


def test_a_killed_engine_process_is_replaced_and_charts_what_it_missed(
    sqlite_store: Engine, sqlite_tags: dict[str, TagRef]
) -> None:
    tag = sqlite_tags["x_imr"].tag_id
    engine = EngineProcess(_url(sqlite_store))
    first = engine.pid
    assert first is not None
    os.kill(first, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while engine._process.is_alive() and time.monotonic() < deadline:
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
