"""The daemon end to end: simulator -> store -> engine -> alarm -> MQTT and the line's PLC nodes."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from asyncua import Client, ua
from notify_helpers import AREA, SITE, WRITEBACK_SECTION, listening, make_plant, mqtt_section, until
from prometheus_client import generate_latest

from plantqc.charting.hook import StoreHook
from plantqc.daemon import Daemon
from plantqc.metrics import DaemonStatus, registry_for
from plantqc.sim.scenario import Fault, Scenario
from plantqc.sim.server import LineSimulator
from tests.ingest.ingest_helpers import free_port

STEP_SIGMA = 10.0
"""The step, in the simulator's sigma of 0.5: the gap goes from 10 to 15, beyond the
spec-derived UCL of 13 (3 sigma of 1 above 10), so the first shifted point fires WE rule 1."""


def test_an_alarm_the_engine_raises_reaches_mqtt_and_the_plc_node(
    tmp_path: Path, prefix: str
) -> None:
    port = free_port()
    notify = mqtt_section(prefix) + "\n" + WRITEBACK_SECTION.split("\n", 1)[1]
    plant = make_plant(tmp_path, notify, opcua_port=port)
    scenario = Scenario(
        faults=[Fault(kind="step", line="line-1", tag="gap_um", start_s=1.0, magnitude=STEP_SIGMA)]
    )
    topic = f"{prefix}/{SITE}/{AREA}/line-1/gap_um/alarms/"

    async def main() -> tuple[dict[str, object], bool, DaemonStatus]:
        hook = StoreHook(plant.url)
        daemon = Daemon(plant.loaded, on_stored=hook)
        async with (
            LineSimulator(plant.loaded.config, scenario, port=port),
            listening(prefix) as listener,
        ):
            task = asyncio.create_task(daemon.run())
            try:
                await until(
                    lambda: any(m.topic.startswith(topic) and m.payload for m in listener.messages),
                    timeout_s=30,
                    what="an alarm of gap_um on MQTT",
                )
                async with Client(f"opc.tcp://127.0.0.1:{port}/", timeout=4) as client:
                    node = client.get_node(ua.NodeId("line-1.AlarmActive", 2))
                    active = False
                    for _ in range(100):
                        if active := await node.read_value():
                            break
                        await asyncio.sleep(0.1)
            finally:
                daemon.request_stop()
                status = await task
                hook.close()
        first = next(m for m in listener.messages if m.topic.startswith(topic) and m.payload)
        return json.loads(first.payload), active, status

    document, active, status = asyncio.run(main())
    assert (document["kind"], document["state"], document["line"]) == (
        "spc",
        "active-unacknowledged",
        "line-1",
    )
    assert active is True
    assert status.notifiers["line-1/mqtt"].published >= 1
    assert status.notifiers["line-1/opcua_writeback"].published >= 1
    metrics = generate_latest(registry_for(lambda: status)).decode()
    assert 'plantqc_notifications_published_total{line="line-1",notifier="mqtt"}' in metrics
