"""The simulator's physical casting line: writable setpoints on the real asyncua server, the
actuators' ranges and slew rates, and the gauge following the pump after the dead time.

Ground truth: with the disturbances and the gauge noise off the line is exact, dry thickness
= ``Q / (W U) * phi`` = 50 um at the example's 20 mL/min (`plantqc.sim.casting_tags`).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from asyncua import ua

from plantqc.config import load_config
from plantqc.connectors.opcua_write import OpcUaControlClient
from plantqc.sim.casting_tags import PUMP_SETPOINT, die_bolt
from plantqc.sim.model import LineModel
from plantqc.sim.scenario import CastingSim, Scenario
from plantqc.sim.server import LineSimulator
from tests.ingest.ingest_helpers import free_port

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "casting.yaml"
NS = "nsu=urn:plantqc:sim;s=casting-1."
EXACT = CastingSim(die_to_gauge_m=0.2, scan_s=1.0, gauge_noise_um=0.0,
                   md_disturbances=False, cd_disturbances=False)  # fmt: skip


def _line():  # type: ignore[no-untyped-def]
    return load_config(EXAMPLE).config.lines[0]


def test_dry_thickness_follows_the_pump_after_the_die_to_gauge_dead_time() -> None:
    model = LineModel(_line(), Scenario(casting=EXACT), tick_s=0.1)
    assert model.casting is not None
    gauge: list[tuple[float, float]] = []

    def run(seconds: float) -> None:
        for _ in range(round(seconds / 0.1)):
            t = model.k * 0.1
            for u in model.step():
                if u.tag == "dry_thickness_um":
                    gauge.append((t, float(u.value)))  # type: ignore[arg-type]

    run(10.0)
    assert gauge[-1][1] == pytest.approx(50.0, rel=1e-9)
    assert model.casting.write(PUMP_SETPOINT, 22.0) == 0  # +10 %: the pump slews in 4 s
    run(4.0)  # the new film has not reached the gauge, 0.2 m at 2 m/min = 6 s
    assert gauge[-1][1] == pytest.approx(50.0, rel=1e-9)
    run(12.0)
    assert gauge[-1][1] == pytest.approx(55.0, rel=1e-9)


def test_a_setpoint_outside_the_actuator_range_is_refused_with_bad_out_of_range() -> None:
    model = LineModel(_line(), Scenario(casting=EXACT), tick_s=0.1)
    assert model.casting is not None
    assert model.casting.write(PUMP_SETPOINT, 31.0) == ua.StatusCodes.BadOutOfRange
    assert model.casting.write(die_bolt(3), -10.5) == ua.StatusCodes.BadOutOfRange
    assert model.casting.model.flow_setpoint == 20.0


def _config(tmp_path: Path, port: int):  # type: ignore[no-untyped-def]
    text = EXAMPLE.read_text(encoding="utf-8").replace("127.0.0.1:4840", f"127.0.0.1:{port}")
    path = tmp_path / "casting.yaml"
    path.write_text(text, encoding="utf-8")
    return load_config(path)


def test_setpoints_are_written_and_refused_through_the_real_server(tmp_path: Path) -> None:
    port = free_port()
    loaded = _config(tmp_path, port)
    line = loaded.config.lines[0]

    async def main() -> None:
        sim = LineSimulator(loaded.config, Scenario(casting=EXACT), tick_s=0.05)
        async with sim:
            client = OpcUaControlClient(line, tmp_path)
            try:
                taken = await client.write([NS + PUMP_SETPOINT, NS + die_bolt(1)], [24.0, 2.0])
                refused = await client.write([NS + PUMP_SETPOINT], [40.0])
                loop = asyncio.get_running_loop()
                written_at = loop.time()
                await asyncio.sleep(1.0)
                setpoint, flow = await client.read([NS + PUMP_SETPOINT, NS + "pump_rate_ml_min"])
                elapsed = loop.time() - written_at
            finally:
                await client.close()
        assert taken == []
        assert refused == [f"{NS}{PUMP_SETPOINT} refused 40: BadOutOfRange"]
        assert setpoint.value == 24.0  # the refused write left the node as it was
        # the pump drive slews at 0.5 mL/min per s: moving, but nowhere near 24 yet
        assert 20.0 < flow.value <= 20.0 + 0.5 * (elapsed + 0.2)

    asyncio.run(main())
