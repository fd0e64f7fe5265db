"""The buffer-near-full alarm: a row in the store's ``alarms`` table, ISA-18.2 states."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

from ingest_helpers import write_config
from sqlalchemy import Engine, select

from plantqc.alarms import expire_shelves, list_alarms, shelve
from plantqc.buffer import Reading, SampleBuffer
from plantqc.config import BUFFER_DEPTH_TAG, LoadedConfig
from plantqc.daemon import Daemon, record_buffer_alarm
from plantqc.store import connect, find_tag, read_samples, sync_config, upgrade
from plantqc.store.models import Alarm, AlarmState, AuditLog

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def alarms(engine: Engine) -> list[tuple[str, str, str, int]]:
    with engine.connect() as connection:
        rows = connection.execute(select(Alarm.kind, Alarm.code, Alarm.state, Alarm.count))
        return [tuple(row) for row in rows]  # type: ignore[misc]


def store(loaded: LoadedConfig) -> tuple[Engine, list[int]]:
    engine = connect(loaded.storage_url())
    upgrade(engine)
    refs = sync_config(engine, loaded.config)
    return engine, sorted({ref.line_id for ref in refs.values()})


def test_buffer_alarm_is_raised_past_the_fraction_and_returns_when_drained(
    tmp_path: Path, port: int
) -> None:
    settings = (
        "\ndaemon:\n  metrics_port: 0\n  buffer_max_samples: 400\n  buffer_alarm_fraction: 0.5\n"
        f"  batch_size: 100\n  buffer_path: {tmp_path / 'buffer.sqlite'}\n"
    )
    loaded = write_config(tmp_path, "casting.yaml", port, settings)
    queued = SampleBuffer(tmp_path / "buffer.sqlite", 400)
    queued.put(
        [
            Reading("casting-1", "dry_thickness_um", "scalar", T0 + timedelta(seconds=i), 0, 0, 50)
            for i in range(300)
        ]
    )
    queued.close()
    engine, _ = store(loaded)
    seen: list[list[tuple[str, str, str, int]]] = []
    daemon = Daemon(loaded)  # nobody serves the endpoint: only the queued samples drain

    def after_batch(batch: object) -> None:
        seen.append(alarms(engine))
        if daemon.buffer.depth == 0:
            daemon.request_stop()

    daemon.on_stored = after_batch
    asyncio.run(asyncio.wait_for(daemon.run(), 20))
    engine.dispose()
    active = [("buffer", "near-full", AlarmState.ACTIVE_UNACKED, 1)]
    returned = [("buffer", "near-full", AlarmState.RTN_UNACKED, 1)]
    # depth 200 of 400 after the first batch (at the fraction), then 100, then 0; the daemon's
    # own buffer-depth sample may drain as one more batch
    assert seen[:3] == [active, returned, returned]
    assert all(state == returned for state in seen[3:])


def test_acknowledged_buffer_alarm_returns_to_normal(tmp_path: Path, port: int) -> None:
    engine, line_ids = store(write_config(tmp_path, "casting.yaml", port))
    record_buffer_alarm(engine, line_ids, True, T0, "near full")
    with engine.begin() as connection:
        connection.execute(Alarm.__table__.update().values(state=AlarmState.ACTIVE_ACKED))
    record_buffer_alarm(engine, line_ids, False, T0 + timedelta(minutes=1), "drained")
    assert alarms(engine) == [("buffer", "near-full", AlarmState.NORMAL, 1)]
    engine.dispose()


def test_buffer_alarm_raised_again_before_acknowledgement_counts_on_the_same_row(
    tmp_path: Path, port: int
) -> None:
    engine, line_ids = store(write_config(tmp_path, "casting.yaml", port))
    for minute, active in enumerate([True, False, True, True]):
        record_buffer_alarm(engine, line_ids, active, T0 + timedelta(minutes=minute), "m")
    assert alarms(engine) == [("buffer", "near-full", AlarmState.ACTIVE_UNACKED, 2)]
    engine.dispose()


def test_each_buffer_alarm_change_is_audited_for_the_notifiers(tmp_path: Path, port: int) -> None:
    engine, line_ids = store(write_config(tmp_path, "casting.yaml", port))
    for minute, active in enumerate([True, True, False, True]):
        record_buffer_alarm(engine, line_ids, active, T0 + timedelta(minutes=minute), "m")
    with engine.connect() as connection:
        rows = connection.execute(
            select(AuditLog.action, AuditLog.entity).order_by(AuditLog.id)
        ).all()
    # raising an active alarm again changes nothing, so it writes nothing
    assert [tuple(row) for row in rows] == [
        ("alarm-raise", "alarm"),
        ("alarm-return", "alarm"),
        ("alarm-reactivate", "alarm"),
    ]
    engine.dispose()


def test_a_shelved_buffer_alarm_stays_shelved_and_follows_its_condition(
    tmp_path: Path, port: int
) -> None:
    # the same state table as every alarm: the shelf hides the annunciation, not the buffer's
    # depth, so the drain is recorded and the refill counted while it stays shelved
    engine, line_ids = store(write_config(tmp_path, "casting.yaml", port))
    record_buffer_alarm(engine, line_ids, True, T0, "near full")
    with engine.begin() as connection:
        connection.execute(Alarm.__table__.update().values(state=AlarmState.SHELVED))
    for minute, active in enumerate([False, True], start=1):
        record_buffer_alarm(engine, line_ids, active, T0 + timedelta(minutes=minute), "m")
    assert alarms(engine) == [("buffer", "near-full", AlarmState.SHELVED, 2)]
    with engine.connect() as connection:
        actions = connection.execute(select(AuditLog.action).order_by(AuditLog.id)).scalars()
        assert list(actions) == ["alarm-raise", "alarm-return"]
    engine.dispose()


def test_a_buffer_alarm_that_drained_while_shelved_is_normal_when_the_shelf_expires(
    tmp_path: Path, port: int
) -> None:
    engine, line_ids = store(write_config(tmp_path, "casting.yaml", port))
    record_buffer_alarm(engine, line_ids, True, T0, "near full")
    [alarm] = list_alarms(engine)
    until = datetime.now(UTC) + timedelta(hours=1)
    shelve(engine, alarm.id, "operator.a", until)
    record_buffer_alarm(engine, line_ids, False, T0 + timedelta(minutes=1), "drained")
    assert expire_shelves(engine, until + timedelta(seconds=1)) == 1
    assert alarms(engine) == [("buffer", "near-full", AlarmState.NORMAL, 1)]
    engine.dispose()


def test_daemon_records_its_buffer_depth_as_a_sample_of_every_line(
    tmp_path: Path, port: int
) -> None:
    settings = (
        "\ndaemon:\n  metrics_port: 0\n  buffer_depth_interval_s: 0.2\n"
        f"  buffer_path: {tmp_path / 'buffer.sqlite'}\n"
    )
    loaded = write_config(tmp_path, "casting.yaml", port, settings)
    queued = SampleBuffer(tmp_path / "buffer.sqlite", 1000)
    queued.put(
        [
            Reading("casting-1", "dry_thickness_um", "scalar", T0 + timedelta(seconds=i), 0, 0, 50)
            for i in range(30)
        ]
    )
    queued.close()
    daemon = Daemon(loaded)  # nobody serves the endpoint: the daemon still samples its depth
    # 3 s at one depth sample per 0.2 s: a loaded CI machine slow to start still records two
    asyncio.run(daemon.run(duration_s=3.0))
    engine = connect(loaded.storage_url())
    ref = find_tag(engine, "casting-1", BUFFER_DEPTH_TAG)
    depths = read_samples(engine, ref.tag_id)["value"].tolist()
    engine.dispose()
    assert len(depths) >= 2
    assert depths[0] >= 30  # the 30 queued samples were waiting when it started
    assert depths[-1] < depths[0]
