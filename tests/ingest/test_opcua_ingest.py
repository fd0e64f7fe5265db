"""The OPC UA connector against real asyncua servers: the simulator and hand-made ones."""

from __future__ import annotations

import asyncio
import itertools
import math
from datetime import UTC, datetime
from pathlib import Path

import pytest
from asyncua import Client, Server, ua
from ingest_helpers import EXAMPLES, counter_config, write_config

from plantqc.buffer import Reading
from plantqc.config import Line as LineConfig
from plantqc.config import load_config
from plantqc.connectors.opcua import (
    BAD_OUT_OF_RANGE,
    BAD_TYPE_MISMATCH,
    OpcUaConnector,
    to_reading,
)
from plantqc.daemon import Daemon
from plantqc.sim.model import STATUS_BAD
from plantqc.sim.scenario import Fault, Scenario
from plantqc.sim.server import LineSimulator
from plantqc.store import find_tag, open_engine, read_samples
from plantqc.store.models import TimestampOrigin

TAG = load_config(EXAMPLES / "casting.yaml").config.lines[0].tag("dry_thickness_um")
NOW = datetime(2026, 1, 1, tzinfo=UTC)


def data(value: object, status: int = 0, source: bool = True) -> ua.DataValue:
    return ua.DataValue(
        Value=ua.Variant(value),
        StatusCode=ua.StatusCode(status),
        SourceTimestamp=NOW if source else None,
        ServerTimestamp=datetime(2026, 1, 2, tzinfo=UTC),
    )


async def collect(connector: OpcUaConnector, seconds: float) -> None:
    stop = asyncio.Event()
    task = asyncio.create_task(connector.run(stop))
    await asyncio.sleep(seconds)
    stop.set()
    await task


# --- notifications to readings -----------------------------------------------------------------


def test_reading_keeps_source_time_status_and_value() -> None:
    reading = to_reading("casting-1", TAG, data(50.25, STATUS_BAD), NOW)
    assert (reading.ts, reading.ts_origin, reading.status, reading.value) == (
        NOW,
        TimestampOrigin.SOURCE,
        STATUS_BAD,
        50.25,
    )


def test_reading_without_source_time_falls_back_to_server_time() -> None:
    reading = to_reading("casting-1", TAG, data(50.0, source=False), NOW)
    assert reading.ts_origin == TimestampOrigin.SERVER
    assert reading.ts == datetime(2026, 1, 2, tzinfo=UTC)


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_non_finite_good_value_becomes_bad_out_of_range_without_value(value: float) -> None:
    reading = to_reading("casting-1", TAG, data(value), NOW)
    assert (reading.status, reading.value) == (BAD_OUT_OF_RANGE, None)


def test_string_on_a_scalar_tag_becomes_bad_type_mismatch() -> None:
    reading = to_reading("casting-1", TAG, data("fifty"), NOW)
    assert (reading.status, reading.value) == (BAD_TYPE_MISMATCH, None)


def test_uncertain_status_is_kept_even_when_the_value_is_unusable() -> None:
    uncertain = int(ua.StatusCodes.UncertainLastUsableValue)
    assert to_reading("casting-1", TAG, data("x", uncertain), NOW).status == uncertain


# --- the simulator's address space -------------------------------------------------------------


def test_simulator_serves_analog_items_with_units_and_range(tmp_path: Path, port: int) -> None:
    loaded = write_config(tmp_path, "casting.yaml", port)

    async def main() -> tuple[object, ...]:
        async with (
            LineSimulator(loaded.config, tick_s=0.05),
            Client(f"opc.tcp://127.0.0.1:{port}/plantqc/") as client,
        ):
            index = await client.get_namespace_index("urn:plantqc:sim")
            node = client.get_node(f"ns={index};s=casting-1.dryer_zone1_temp_c")
            type_def = await node.read_type_definition()
            units = await (await node.get_child("0:EngineeringUnits")).read_value()
            eu_range = await (await node.get_child("0:EURange")).read_value()
            path = await node.get_path(as_string=True)
            await asyncio.sleep(0.3)
            counter = await client.get_node(f"ns={index};s=casting-1.SampleCounter").read_value()
            profile = await client.get_node(
                f"ns={index};s=casting-1.dry_thickness_profile_um"
            ).read_value()
            return index, type_def, units, eu_range, path, counter, profile

    index, type_def, units, eu_range, path, counter, profile = asyncio.run(main())
    assert index == 2
    assert type_def == ua.NodeId(ua.ObjectIds.AnalogItemType)
    assert units.UnitId == 4408652  # type: ignore[attr-defined]  # CEL, OPC 10000-8 §5.6.4
    assert (eu_range.Low, eu_range.High) == pytest.approx((50 - 20 / 3, 50 + 20 / 3))  # type: ignore[attr-defined]
    assert path[-4:] == [
        "2:gigafactory-1",
        "2:electrolyte-films",
        "2:casting-1",
        "2:dryer_zone1_temp_c",
    ]  # type: ignore[index]
    assert counter >= 3  # type: ignore[operator]
    assert len(profile) == 24  # type: ignore[arg-type]


# --- the connector -----------------------------------------------------------------------------


def test_missing_node_is_reported_and_the_other_tags_flow(tmp_path: Path, port: int) -> None:
    extra_tag = "      - name: ghost\n        node_id: nsu=urn:plantqc:sim;s=casting-1.ghost\n"
    text = (EXAMPLES / "casting.yaml").read_text().replace("127.0.0.1:4840", f"127.0.0.1:{port}")
    text = text.replace("    tags:\n", "    tags:\n" + extra_tag, 1)
    (tmp_path / "c.yaml").write_text(text)
    full = load_config(tmp_path / "c.yaml").config
    served = write_config(tmp_path, "casting.yaml", port).config  # the simulator lacks 'ghost'
    got: list[Reading] = []
    connector = OpcUaConnector(full.lines[0], got.extend)

    async def main() -> None:
        async with LineSimulator(served, tick_s=0.05):
            await collect(connector, 1.5)

    asyncio.run(main())
    assert connector.state.missing == {"ghost": "the server answered BadNodeIdUnknown"}
    assert {r.tag for r in got} >= {"dry_thickness_um", "web_speed_m_min", "lot_id"}


def test_unreachable_endpoint_retries_with_a_clear_reason(tmp_path: Path, port: int) -> None:
    line = write_config(tmp_path, "casting.yaml", port).config.lines[0]
    connector = OpcUaConnector(line, lambda batch: None, backoff_initial_s=0.1, backoff_max_s=0.2)
    asyncio.run(collect(connector, 1.0))
    assert connector.state.reconnects >= 3
    assert connector.state.last_error == (
        f"cannot reach the OPC UA server at opc.tcp://127.0.0.1:{port}/plantqc/: connection refused"
    )


def publish_dry_thickness(
    line: LineConfig, port: int, sent: list[tuple[float, int]], extra: dict[str, object]
) -> list[Reading]:
    """What the connector reads from a hand-made server whose ``dry_thickness_um`` starts at
    50 and then takes each (value, status) of ``sent`` with a new source time; ``extra``
    adds other variables of the line (tag name -> value)."""
    got: list[Reading] = []

    async def main() -> None:
        server = Server()
        await server.init()
        server.set_endpoint(f"opc.tcp://127.0.0.1:{port}/plantqc/")
        index = await server.register_namespace("urn:plantqc:sim")
        node = await server.nodes.objects.add_variable(
            ua.NodeId("casting-1.dry_thickness_um", index), "dry", 50.0
        )
        for name, value in extra.items():
            await server.nodes.objects.add_variable(
                ua.NodeId(f"casting-1.{name}", index), name, value
            )
        async with server:
            stop = asyncio.Event()
            task = asyncio.create_task(OpcUaConnector(line, got.extend).run(stop))
            await asyncio.sleep(1.0)
            for value, status in sent:
                await server.write_attribute_value(
                    node.nodeid,
                    ua.DataValue(
                        Value=ua.Variant(value, ua.VariantType.Double),
                        StatusCode=ua.StatusCode(status),
                        SourceTimestamp=datetime.now(UTC),
                    ),
                )
                await asyncio.sleep(0.6)
            stop.set()
            await task

    asyncio.run(main())
    return got


def test_bad_values_from_a_real_server_are_stored_with_their_status(
    tmp_path: Path, port: int
) -> None:
    # a hand-made server publishing NaN, +inf, Bad and Uncertain, and a string for a number
    line = write_config(tmp_path, "casting.yaml", port).config.lines[0]
    line = line.model_copy(
        update={"tags": [line.tag("dry_thickness_um"), line.tag("wet_thickness_um")]}
    )
    sent = [
        (math.nan, 0),
        (math.inf, 0),
        (51.0, int(ua.StatusCodes.BadSensorFailure)),
        (52.0, int(ua.StatusCodes.UncertainLastUsableValue)),
        (53.0, 0),
    ]
    # the server serves text where the config expects a number
    got = publish_dry_thickness(line, port, sent, {"wet_thickness_um": "thick"})
    dry = [(r.value, r.status) for r in got if r.tag == "dry_thickness_um"]
    assert dry == [
        (50.0, 0),
        (None, BAD_OUT_OF_RANGE),
        (None, BAD_OUT_OF_RANGE),
        (None, int(ua.StatusCodes.BadSensorFailure)),  # a Bad value is not sent (Part 4 §7.7)
        (52.0, int(ua.StatusCodes.UncertainLastUsableValue)),
        (53.0, 0),
    ]
    wet = [(r.value, r.status) for r in got if r.tag == "wet_thickness_um"]
    assert wet == [(None, BAD_TYPE_MISMATCH)]


def test_a_repeated_value_with_a_new_source_time_is_a_sample(tmp_path: Path, port: int) -> None:
    # a stuck sensor repeats its value; each repetition is a sample the stuck check must see
    line = write_config(tmp_path, "casting.yaml", port).config.lines[0]
    line = line.model_copy(update={"tags": [line.tag("dry_thickness_um")]})
    got = publish_dry_thickness(line, port, [(50.0, 0)] * 4, {})
    assert [r.value for r in got] == [50.0] * 5  # the initial value, then each repetition
    times = [r.ts for r in got]
    assert times == sorted(set(times))


@pytest.mark.slow
def test_server_restart_mid_run_leaves_no_gap_and_no_duplicate(tmp_path: Path, port: int) -> None:
    loaded = counter_config(tmp_path, port)
    scenario = Scenario(faults=[Fault(kind="step", tag="dry_thickness_um", start_s=1, magnitude=1)])

    async def main() -> None:
        simulator = LineSimulator(loaded.config, scenario, tick_s=0.1)
        await simulator.start()
        daemon = Daemon(loaded)
        run = asyncio.create_task(daemon.run())
        await asyncio.sleep(2.5)
        await simulator.stop()
        await asyncio.sleep(1.5)
        await simulator.start()
        await asyncio.sleep(3.0)
        await simulator.stop()
        daemon.request_stop()
        status = await run
        assert status.lines["casting-1"].reconnects >= 1

    asyncio.run(main())
    engine = open_engine(loaded.storage_url())
    ref = find_tag(engine, "casting-1", "sample_counter")
    counters = read_samples(engine, ref.tag_id)["value"].astype(int).tolist()
    steps = [b - a for a, b in itertools.pairwise(counters)]
    assert len(counters) > 30
    # no duplicate, no reordering, and no gap: the counts the restarted server wrote before
    # the daemon re-subscribed are read back from its history
    assert steps == [1] * len(steps)
    engine.dispose()
