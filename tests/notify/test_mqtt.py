"""Alarm changes on the real Mosquitto broker: retained state per alarm, events, no loss."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from notify_helpers import (
    STATE_TOPIC,
    change,
    listening,
    make_plant,
    mqtt_section,
    retained,
    running,
    until,
)

from plantqc import alarms
from plantqc.notifiers.outbox import OutboxCursor
from tests.ingest.ingest_helpers import free_port

QUIET_S = 1.0
"""Ten outbox polls (0.1 s) without a message: long enough to call a change unpublished."""


def test_a_raised_alarm_is_retained_as_its_active_state(tmp_path: Path, prefix: str) -> None:
    plant = make_plant(tmp_path, mqtt_section(prefix))

    async def main() -> dict[str, bytes]:
        async with listening(prefix) as listener, running(plant.notifications()):
            change(plant.engine, plant.gap, "raise")
            await listener.wait_events(1)
        return await retained(prefix)

    kept = asyncio.run(main())
    assert list(kept) == [f"{prefix}/{STATE_TOPIC}"]
    document = json.loads(kept[f"{prefix}/{STATE_TOPIC}"])
    assert (document["state"], document["change"]["action"]) == (
        "active-unacknowledged",
        "alarm-raise",
    )


def test_an_acknowledgement_from_the_cli_in_another_process_is_published(
    tmp_path: Path, prefix: str
) -> None:
    plant = make_plant(tmp_path, mqtt_section(prefix))
    alarm_id = change(plant.engine, plant.gap, "raise")
    plantqc = Path(sys.executable).with_name("plantqc")  # the installed command, own process
    command = [str(plantqc), "alarms", "ack", str(alarm_id)]
    command += ["--user", "operator.a", "--db", plant.url]

    async def main() -> list[dict[str, object]]:
        async with listening(prefix) as listener, running(plant.notifications()):
            await listener.wait_events(1)
            done = await asyncio.to_thread(subprocess.run, command, capture_output=True)
            assert done.returncode == 0, done.stderr.decode()
            return await listener.wait_events(2)

    events = asyncio.run(main())
    acked = events[1]
    assert (acked["change"]["action"], acked["change"]["by"], acked["state"]) == (
        "alarm-ack",
        "operator.a",
        "active-acknowledged",
    )


def test_return_to_normal_clears_the_retained_state(tmp_path: Path, prefix: str) -> None:
    plant = make_plant(tmp_path, mqtt_section(prefix))

    async def main() -> tuple[list[bytes], dict[str, bytes]]:
        async with listening(prefix) as listener, running(plant.notifications()):
            alarm_id = change(plant.engine, plant.gap, "raise")
            alarms.ack(plant.engine, alarm_id, "operator.a")
            change(plant.engine, plant.gap, "clear")  # acknowledged, then returned: normal
            events = await listener.wait_events(3)
            assert [e["change"]["state"] for e in events] == [
                "active-unacknowledged",
                "active-acknowledged",
                "normal",
            ]
            states = [m.payload for m in listener.on(STATE_TOPIC)]
        return states, await retained(prefix)

    states, kept = asyncio.run(main())
    assert states[-1] == b""  # a zero-length retained message removes it (MQTT 3.1.1 §3.3.1.3)
    assert kept == {}


def test_a_shelved_alarm_that_fires_again_publishes_nothing_until_its_shelf_expires(
    tmp_path: Path, prefix: str
) -> None:
    plant = make_plant(tmp_path, mqtt_section(prefix))

    async def main() -> tuple[list[str], list[dict[str, object]]]:
        async with listening(prefix) as listener, running(plant.notifications()):
            alarm_id = change(plant.engine, plant.gap, "raise")
            until_at = datetime.now(UTC) + timedelta(hours=1)
            alarms.shelve(plant.engine, alarm_id, "operator.a", until_at, "calibration")
            await listener.wait_events(2)
            change(plant.engine, plant.gap, "raise")  # fires again while shelved
            await asyncio.sleep(QUIET_S)
            while_shelved = [e["change"]["action"] for e in listener.events()]
            alarms.expire_shelves(plant.engine, until_at + timedelta(seconds=1))
            return while_shelved, await listener.wait_events(3)

    while_shelved, events = asyncio.run(main())
    assert while_shelved == ["alarm-raise", "alarm-shelve"]
    assert (events[2]["change"]["action"], events[2]["state"], events[2]["count"]) == (
        "alarm-unshelve",
        "active-unacknowledged",
        2,
    )


def test_an_alarm_that_returned_while_shelved_leaves_no_retained_state_when_its_shelf_expires(
    tmp_path: Path, prefix: str
) -> None:
    plant = make_plant(tmp_path, mqtt_section(prefix))

    async def main() -> tuple[list[tuple[str, str]], dict[str, bytes]]:
        async with listening(prefix) as listener, running(plant.notifications()):
            alarm_id = change(plant.engine, plant.gap, "raise")
            until_at = datetime.now(UTC) + timedelta(hours=1)
            alarms.shelve(plant.engine, alarm_id, "operator.a", until_at, "calibration")
            change(plant.engine, plant.gap, "clear")  # the condition goes while shelved
            alarms.expire_shelves(plant.engine, until_at + timedelta(seconds=1))
            events = await listener.wait_events(4)
            changes = [(e["change"]["action"], e["change"]["state"]) for e in events]
        return changes, await retained(prefix)

    changes, kept = asyncio.run(main())
    assert changes == [
        ("alarm-raise", "active-unacknowledged"),
        ("alarm-shelve", "shelved"),
        ("alarm-return", "shelved"),
        ("alarm-unshelve", "normal"),
    ]
    assert kept == {}


def test_nothing_is_lost_while_the_broker_is_unreachable(tmp_path: Path, prefix: str) -> None:
    closed = free_port()
    down = make_plant(tmp_path, mqtt_section(prefix, port=closed))
    cursors = tmp_path / "cursors"
    alarm_id = change(down.engine, down.gap, "raise")
    alarms.ack(down.engine, alarm_id, "operator.a")

    async def outage() -> int:
        notifications = down.notifications(cursors)
        async with running(notifications):
            await until(
                lambda: notifications.status()["line-1/mqtt"].failed >= 2, what="two failures"
            )
        return notifications.status()["line-1/mqtt"].published

    assert asyncio.run(outage()) == 0
    assert OutboxCursor(cursors / "line-1.mqtt.json").position.last_id == 0
    up = make_plant(tmp_path, mqtt_section(prefix))  # the broker is back: same store, cursor

    async def recovery() -> list[dict[str, object]]:
        async with listening(prefix) as listener, running(up.notifications(cursors)):
            return await listener.wait_events(2)

    assert [e["change"]["action"] for e in asyncio.run(recovery())] == ["alarm-raise", "alarm-ack"]


def test_a_restart_continues_from_the_cursor_without_repeating(tmp_path: Path, prefix: str) -> None:
    plant = make_plant(tmp_path, mqtt_section(prefix))
    cursor = tmp_path / "cursors" / "line-1.mqtt.json"

    async def first_run() -> int:
        alarm_id = change(plant.engine, plant.gap, "raise")
        async with listening(prefix) as listener, running(plant.notifications()):
            await listener.wait_events(1)
            # stopped once the cursor is durable: a stop between publish and cursor may
            # repeat a change (at least once), which is not what this test is about
            await until(lambda: OutboxCursor(cursor).position.last_id == 1, what="cursor at 1")
        return alarm_id

    alarm_id = asyncio.run(first_run())
    alarms.ack(plant.engine, alarm_id, "operator.a")

    async def second_run() -> list[str]:
        async with listening(prefix) as listener, running(plant.notifications()):
            await listener.wait_events(1)
            await asyncio.sleep(QUIET_S)
            return [e["change"]["action"] for e in listener.events()]

    assert asyncio.run(second_run()) == ["alarm-ack"]


def test_the_events_stream_is_left_out_when_the_config_says_so(tmp_path: Path, prefix: str) -> None:
    plant = make_plant(tmp_path, mqtt_section(prefix, events=False))

    async def main() -> list[str]:
        async with listening(prefix) as listener, running(plant.notifications()):
            change(plant.engine, plant.gap, "raise")
            await until(lambda: bool(listener.on(STATE_TOPIC)), what="the state message")
            await asyncio.sleep(QUIET_S)
            return [m.topic.removeprefix(f"{prefix}/") for m in listener.messages]

    assert asyncio.run(main()) == [STATE_TOPIC]


def test_a_missing_tls_ca_file_is_a_failed_delivery_naming_the_file(tmp_path: Path) -> None:
    plant = make_plant(tmp_path, mqtt_section("plantqc-test", tls=True, ca_file="no-ca.pem"))
    change(plant.engine, plant.gap, "raise")

    async def main() -> str | None:
        notifications = plant.notifications()
        async with running(notifications):
            await until(lambda: notifications.status()["line-1/mqtt"].failed >= 1)
        return notifications.status()["line-1/mqtt"].last_error

    assert asyncio.run(main()) == (
        f"the MQTT CA file {tmp_path / 'no-ca.pem'} cannot be used: "
        "[Errno 2] No such file or directory."
    )
