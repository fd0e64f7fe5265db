"""The OPC UA write-back on the simulator's real asyncua server: the PLC's view of alarms."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

from asyncua import Client, ua
from notify_helpers import WRITEBACK_SECTION, Plant, change, make_plant, running, until

from plantqc import alarms
from plantqc.notifiers.opcua_writeback import PRIORITY_CODES
from plantqc.sim.server import LineSimulator
from tests.ingest.ingest_helpers import free_port

ACTIVE = ua.NodeId("line-1.AlarmActive", 2)
CODE = ua.NodeId("line-1.AlarmCode", 2)


async def _read(port: int) -> tuple[bool, int]:
    async with Client(f"opc.tcp://127.0.0.1:{port}/", timeout=4) as client:
        active = await client.get_node(ACTIVE).read_value()
        code = await client.get_node(CODE).read_value()
    return active, code


async def _shows(port: int, wanted: tuple[bool, int]) -> None:
    deadline = asyncio.get_running_loop().time() + 10
    while (seen := await _read(port)) != wanted:
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"the nodes show {seen}, not {wanted}")
        await asyncio.sleep(0.1)


def _plant(tmp_path: Path) -> tuple[Plant, int]:
    port = free_port()
    return make_plant(tmp_path, WRITEBACK_SECTION, opcua_port=port), port


def test_the_nodes_show_the_highest_priority_of_the_active_alarms(tmp_path: Path) -> None:
    plant, port = _plant(tmp_path)

    async def main() -> None:
        async with LineSimulator(plant.loaded.config, port=port), running(plant.notifications()):
            await _shows(port, (False, 0))
            change(plant.engine, plant.gap, "raise", rule="we2")
            await _shows(port, (True, PRIORITY_CODES["medium"]))
            change(plant.engine, plant.gap, "raise", rule="we1")
            await _shows(port, (True, PRIORITY_CODES["high"]))

    asyncio.run(main())


def test_an_acknowledged_alarm_stays_active_until_it_returns_to_normal(tmp_path: Path) -> None:
    plant, port = _plant(tmp_path)

    async def main() -> None:
        async with LineSimulator(plant.loaded.config, port=port), running(plant.notifications()):
            alarm_id = change(plant.engine, plant.gap, "raise")
            await _shows(port, (True, 3))
            alarms.ack(plant.engine, alarm_id, "operator.a")
            await asyncio.sleep(0.5)  # five polls
            await _shows(port, (True, 3))
            change(plant.engine, plant.gap, "clear")
            await _shows(port, (False, 0))

    asyncio.run(main())


def test_a_shelved_alarm_is_not_active_for_the_plc(tmp_path: Path) -> None:
    plant, port = _plant(tmp_path)

    async def main() -> None:
        async with LineSimulator(plant.loaded.config, port=port), running(plant.notifications()):
            alarm_id = change(plant.engine, plant.gap, "raise")
            await _shows(port, (True, 3))
            shelf = datetime.now(UTC) + timedelta(hours=1)
            alarms.shelve(plant.engine, alarm_id, "operator.a", shelf)
            await _shows(port, (False, 0))
            alarms.expire_shelves(plant.engine, shelf + timedelta(seconds=1))
            await _shows(port, (True, 3))

    asyncio.run(main())


def test_an_alarm_that_returned_while_shelved_is_not_active_for_the_plc_after_its_shelf_expires(
    tmp_path: Path,
) -> None:
    plant, port = _plant(tmp_path)

    async def main() -> None:
        async with LineSimulator(plant.loaded.config, port=port), running(plant.notifications()):
            alarm_id = change(plant.engine, plant.gap, "raise")  # we1: high
            shelf = datetime.now(UTC) + timedelta(hours=1)
            alarms.shelve(plant.engine, alarm_id, "operator.a", shelf)
            change(plant.engine, plant.gap, "clear")
            alarms.expire_shelves(plant.engine, shelf + timedelta(seconds=1))
            change(plant.engine, plant.gap, "raise", rule="we2")
            # only the medium alarm raised after the expiry is active: the high one is normal
            await _shows(port, (True, PRIORITY_CODES["medium"]))

    asyncio.run(main())


def test_the_nodes_are_written_again_after_the_server_restarts(tmp_path: Path) -> None:
    plant, port = _plant(tmp_path)

    async def main() -> int:
        simulator = LineSimulator(plant.loaded.config, port=port)
        notifications = plant.notifications()
        await simulator.start()
        async with running(notifications):
            change(plant.engine, plant.gap, "raise")
            await _shows(port, (True, 3))
            await simulator.stop()  # its alarm nodes start again at False / 0
            await until(
                lambda: notifications.status()["line-1/opcua_writeback"].failed >= 1,
                what="a failed write while the server is down",
            )
            await simulator.start()
            try:
                await _shows(port, (True, 3))
            finally:
                await simulator.stop()
        return notifications.status()["line-1/opcua_writeback"].published

    assert asyncio.run(main()) == 2  # once before, once after the restart


def test_a_node_the_server_does_not_have_is_a_failed_delivery_naming_it(tmp_path: Path) -> None:
    port = free_port()
    section = WRITEBACK_SECTION.replace("line-1.AlarmCode", "line-1.NoSuchNode")
    plant = make_plant(tmp_path, section, opcua_port=port)

    async def main() -> str | None:
        notifications = plant.notifications()
        async with LineSimulator(plant.loaded.config, port=port), running(notifications):
            await until(lambda: notifications.status()["line-1/opcua_writeback"].failed >= 1)
        return notifications.status()["line-1/opcua_writeback"].last_error

    # asyncua answers BadUserAccessDenied for an unknown node: the code is the server's
    assert (asyncio.run(main()) or "").startswith(
        f"the OPC UA server at opc.tcp://127.0.0.1:{port}/ refused the write-back of "
        "ns=2;s=line-1.NoSuchNode ("
    )
