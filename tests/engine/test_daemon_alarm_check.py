"""The daemon's periodic alarm check: shelves expire and silent tags alarm with no data arriving."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

from engine_helpers import CONFIG, feed, freeze
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from plantqc import alarms
from plantqc.charting.hook import SpcEngine, StoreHook
from plantqc.config import LoadedConfig, load_config
from plantqc.daemon import Daemon
from plantqc.store import TagRef, connect, sync_config, upgrade
from plantqc.store.models import Alarm, AlarmState

RUN_S = 2.0


def _plant(tmp_path: Path) -> tuple[LoadedConfig, Engine, dict[str, int]]:
    """The test plant with a fast alarm check, its store migrated and synced."""
    path = tmp_path / "plant.yaml"
    path.write_text(
        CONFIG
        + "daemon:\n  metrics_port: 0\n  alarm_check_interval_s: 0.2\n"
        + "  buffer_depth_interval_s: 0.2\n"
        + f"  buffer_path: {tmp_path / 'buffer.sqlite'}\n",
        encoding="utf-8",
    )
    loaded = load_config(path)
    engine = connect(loaded.storage_url())
    upgrade(engine)
    refs = sync_config(engine, loaded.config)
    return loaded, engine, {tag: ref.tag_id for (_, tag), ref in refs.items()}


def _run(loaded: LoadedConfig) -> None:
    # nobody serves the lines' endpoints: no sample arrives while the daemon runs
    hook = StoreHook(loaded.storage_url(), config=loaded.config)
    try:
        asyncio.run(Daemon(loaded, on_stored=hook, on_tick=hook.tick).run(duration_s=RUN_S))
    finally:
        hook.close()


def test_the_daemon_returns_an_alarm_whose_shelf_expired(tmp_path: Path) -> None:
    loaded, engine, tags = _plant(tmp_path)
    freeze(engine, TagRef(1, tags["x_imr"], "line-1", "x_imr"))
    feed(engine, tags["x_imr"], [10.0, 14.0])
    SpcEngine(engine).process(tags["x_imr"])
    with Session(engine) as session:
        alarm_id = session.scalars(select(Alarm.id).where(Alarm.code == "nelson1")).first()
    assert alarm_id is not None
    until = datetime.now(UTC) + timedelta(seconds=0.5)
    alarms.shelve(engine, alarm_id, "op.a", until)
    _run(loaded)
    with Session(engine) as session:
        alarm = session.get(Alarm, alarm_id)
        assert alarm is not None and alarm.state == AlarmState.ACTIVE_UNACKED
    engine.dispose()


def test_the_daemon_raises_a_silent_alarm_for_a_tag_that_sends_nothing(tmp_path: Path) -> None:
    # z samples every 100 ms and allows 10 intervals: silent 1 s after the daemon started
    loaded, engine, tags = _plant(tmp_path)
    feed(engine, tags["z"], [10.0], t0=datetime.now(UTC) - timedelta(hours=1))
    _run(loaded)
    with Session(engine) as session:
        found = session.execute(
            select(Alarm.kind, Alarm.code, Alarm.state).where(Alarm.tag_id == tags["z"])
        ).all()
    assert [tuple(f) for f in found] == [("sensor-fault", "silent", AlarmState.ACTIVE_UNACKED)]
    engine.dispose()
