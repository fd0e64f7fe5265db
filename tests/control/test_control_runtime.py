"""The controller runtime end to end: the simulator's casting line on the real asyncua server,
the runtime reading the gauge and the setpoint through OPC UA, the supervisor, writes back
through OPC UA, and every move in the store (SQLite).

Ground truth: with the line's own disturbances and gauge noise off, the line is exact (50 um
at 20 mL/min), so an upset of -4 % of the flow is 48 um until the loop removes it.
"""

from __future__ import annotations

import asyncio
import itertools
from pathlib import Path

import pytest
import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session

from plantqc.config import LoadedConfig, load_config
from plantqc.connectors.opcua_write import OpcUaControlClient
from plantqc.control.records import decide
from plantqc.control.runtime import ControlRuntime
from plantqc.errors import UserError
from plantqc.sim.casting_tags import PUMP_SETPOINT
from plantqc.sim.scenario import CastingSim, Fault, Scenario
from plantqc.sim.server import LineSimulator
from plantqc.store import connect, upgrade
from plantqc.store.models import AuditLog, ControlLoop, ControlMove
from tests.ingest.ingest_helpers import free_port

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "casting.yaml"
NS = "nsu=urn:plantqc:sim;s=casting-1."
# a short web path, so that a loop settles in seconds: 0.05 m at 2 m/min is 1.5 s dead time
FAST = CastingSim(die_to_gauge_m=0.05, scan_s=0.25, gauge_noise_um=0.0,
                  md_disturbances=False, cd_disturbances=False)  # fmt: skip
UPSET = Fault(kind="step", tag="dry_thickness_um", start_s=0.0, magnitude=-4.0)  # -2 um


def _config(tmp_path: Path, port: int, **md: object) -> LoadedConfig:
    doc = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    line = doc["lines"][0]
    line["opcua"]["endpoint"] = f"opc.tcp://127.0.0.1:{port}/plantqc/"
    loop = line["control"]["md"]
    loop.update({"mode": "closed", "period_s": 0.25, **md})
    loop["model"].update(deadtime_s=1.75, at_speed_m_min=2.0)  # 1.5 s transport + a traverse
    loop["supervisor"].update(die_to_gauge_m=0.05, settling_s=0.0)
    doc["storage"] = {"url": f"sqlite:///{tmp_path / 'c.db'}"}
    path = tmp_path / "casting.yaml"
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    return load_config(path)


def _run(loaded: LoadedConfig, scenario: Scenario, seconds: float) -> ControlRuntime:
    engine = connect(loaded.storage_url())
    upgrade(engine)

    async def main() -> ControlRuntime:
        runtime = ControlRuntime(loaded, lambda: engine)
        async with LineSimulator(loaded.config, scenario, tick_s=0.05):
            stop = asyncio.Event()
            task = asyncio.create_task(runtime.run(stop))
            await asyncio.sleep(seconds)
            stop.set()
            await task
        return runtime

    try:
        return asyncio.run(main())
    finally:
        engine.dispose()


def test_the_closed_md_loop_removes_a_flow_upset_through_opc_ua(tmp_path: Path) -> None:
    loaded = _config(tmp_path, free_port())
    runtime = _run(loaded, Scenario(faults=[UPSET], casting=FAST), 10.0)
    engine = connect(loaded.storage_url())
    with Session(engine) as session:
        state = session.get(ControlLoop, "casting-1.md")
        applied = list(session.scalars(select(ControlMove).where(ControlMove.kind == "applied")))
        audited = session.scalars(select(AuditLog).where(AuditLog.action == "control.applied"))
        n_audited = len(list(audited))
    engine.dispose()
    # a write that moves nothing (the loop has settled) is not a move
    assert runtime.loops[0].writes >= len(applied) > 3
    assert n_audited == len(applied)
    # -4 % flow upset: the pump setpoint goes to 20 / 0.96 = 20.83 mL/min and 48 um back to 50
    assert abs(state.setpoint - 20.0 / 0.96) < 0.15
    assert abs(state.measured - 50.0) < 0.3, (state.setpoint, state.measured)
    assert applied[0].old == 20.0 and state.mode == "closed"


def test_refused_writes_drop_the_loop_to_advisory_and_say_why(tmp_path: Path) -> None:
    # the actual pump rate is a read-only node: every write of it is refused
    node = "nsu=urn:plantqc:sim;s=casting-1.pump_rate_ml_min"
    loaded = _config(tmp_path, free_port(), setpoint_node_id=node)
    _run(loaded, Scenario(faults=[UPSET], casting=FAST), 2.0)
    engine = connect(loaded.storage_url())
    with Session(engine) as session:
        state = session.get(ControlLoop, "casting-1.md")
        failed = list(session.scalars(select(ControlMove).where(ControlMove.kind == "failed")))
        mode = session.scalars(select(AuditLog).where(AuditLog.action == "control.mode")).one()
    engine.dispose()
    assert (state.mode, state.mode_by) == ("advisory", "plantqc")
    assert len(failed) == 3 and "BadUserAccessDenied" in failed[0].reason
    assert mode.detail["reason"] == "watchdog: 3 consecutive setpoint writes failed"


def test_an_accepted_advisory_move_is_written_by_the_runtime_under_the_person(
    tmp_path: Path,
) -> None:
    loaded = _config(tmp_path, free_port(), mode="advisory", period_s=1.0)
    engine = connect(loaded.storage_url())
    upgrade(engine)
    line = loaded.config.lines[0]

    def accept_latest() -> int | None:
        with Session(engine) as session:
            pending = session.scalars(
                select(ControlMove.id).where(ControlMove.status == "pending")
            ).first()
        if pending is None:
            return None
        try:
            decide(engine, pending, "alice", accept=True, reason="looks right")
        except UserError:  # superseded by the next period meanwhile: take the next one
            return None
        return pending

    async def main() -> tuple[int, float]:
        runtime = ControlRuntime(loaded, lambda: engine)
        async with LineSimulator(loaded.config, Scenario(faults=[UPSET], casting=FAST)):
            stop = asyncio.Event()
            task = asyncio.create_task(runtime.run(stop))
            accepted = None
            while accepted is None:
                await asyncio.sleep(0.2)
                accepted = await asyncio.to_thread(accept_latest)
            await asyncio.sleep(1.5)  # the runtime's next period writes it
            client = OpcUaControlClient(line, tmp_path)
            (node,) = await client.read([NS + PUMP_SETPOINT])
            await client.close()
            stop.set()
            await task
        return accepted, float(node.value)  # type: ignore[arg-type]

    try:
        move_id, on_line = asyncio.run(main())
        with Session(engine) as session:
            proposal = session.get(ControlMove, move_id)
            applied = session.scalars(select(ControlMove).where(ControlMove.kind == "applied"))
            applied_moves = [(m.user, m.new) for m in applied]
            actions = [
                (a.action, a.user)
                for a in session.scalars(select(AuditLog).order_by(AuditLog.id))
                if a.action in ("control.accepted", "control.applied")
            ]
    finally:
        engine.dispose()
    assert proposal.status == "applied"
    assert applied_moves == [("alice", proposal.new)]
    assert on_line == proposal.new  # the pump setpoint node holds the accepted value
    assert actions == [("control.accepted", "alice"), ("control.applied", "alice")]


CD_LOOP = {
    "mode": "closed",
    "period_s": 0.25,
    "setpoint_node_id": NS + "die_bolt_{zone:02d}_pct",
    "model": {"n_zones": 24, "n_bins": 96},
    "supervisor": {
        "engineering_low": -10.0, "engineering_high": 10.0,
        "operator_low": -8.0, "operator_high": 8.0,
        "max_move_per_step": 1.0, "max_move_per_minute": 2.0,
        "settling_s": 0.0, "die_to_gauge_m": 0.05,
    },
}  # fmt: skip


def test_the_closed_cd_loop_writes_every_die_bolt_through_opc_ua(tmp_path: Path) -> None:
    port = free_port()
    doc = yaml.safe_load(_config(tmp_path, port).path.read_text(encoding="utf-8"))
    control = doc["lines"][0]["control"]
    control["md"]["mode"] = "off"
    control["cd"] = CD_LOOP
    path = tmp_path / "casting.yaml"
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    loaded = load_config(path)
    profile = FAST.model_copy(update={"cd_disturbances": True})  # smile, edge beads, streak
    _run(loaded, Scenario(casting=profile), 4.0)

    engine = connect(loaded.storage_url())
    with Session(engine) as session:
        state = session.get(ControlLoop, "casting-1.cd")
        applied = list(session.scalars(select(ControlMove).where(ControlMove.kind == "applied")))
    engine.dispose()
    assert applied and all(len(m.new) == 24 for m in applied)
    assert state.setpoint == applied[-1].new and any(abs(x) > 0 for x in state.setpoint)
    # each move within the per-step limit, bolt by bolt
    assert all(abs(n - o) <= 1.0 + 1e-9 for m in applied for n, o in zip(m.new, m.old, strict=True))
    # each move starts where the last one left the bolts, as read back from the server
    assert all(b.old == a.new for a, b in itertools.pairwise(applied))


def test_the_batch_feedforward_acts_from_the_second_roll_change_on(tmp_path: Path) -> None:
    # rolls of 2 s: the loop joins roll 1 part-way, sees roll 2 begin (nothing to go back
    # to yet) and at roll 3 returns the pump to where roll 2 started
    doc = yaml.safe_load(_config(tmp_path, free_port()).path.read_text(encoding="utf-8"))
    # a short settling hold marks each roll change among the moves
    doc["lines"][0]["control"]["md"]["supervisor"]["settling_s"] = 0.3
    path = tmp_path / "casting.yaml"
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    loaded = load_config(path)
    scenario = Scenario(faults=[UPSET], casting=FAST, roll_length_s=2.0, rolls_per_lot=10)
    _run(loaded, scenario, 5.0)
    engine = connect(loaded.storage_url())
    with Session(engine) as session:
        moves = list(session.scalars(select(ControlMove).order_by(ControlMove.id)))
    engine.dispose()
    ff = [m for m in moves if m.reason.startswith("new slurry batch")]
    assert ff, [m.reason for m in moves]
    holds = [i for i, m in enumerate(moves) if m.kind == "held"]
    # none at roll 2, the first at roll 3 (filed before that period's settling hold)
    assert moves.index(ff[0]) == holds[1] - 1
    # back to where roll 2 started: the setpoint after the last move before its hold
    roll_2_start = [m for m in moves[: holds[0]] if m.kind == "applied"][-1].new
    assert ff[0].new == pytest.approx(roll_2_start)
