"""The controller runtime: one task per configured loop, run by the daemon as a component.

Each control period (``period_s``, one gauge traverse) a loop

1. adopts the mode stored for it (`plantqc control mode` writes it; the person's change is
   audited there, so it is not filed twice);
2. reads, in one OPC UA Read, the gauge measurement (the MD mean or the CD profile tag, with
   its status and source time), the setpoint(s) as the line holds them, the line speed and the
   roll and lot ids;
3. writes an advisory proposal a person accepted (`plantqc control accept`), else runs the
   `plantqc.control.loop.LoopSupervisor` period and, in closed mode, writes its setpoint (an
   MD loop in closed mode first returns the pump, at a new roll, to the setpoint the last
   fresh slurry batch started on: `plantqc.control.md.BatchFeedforward`);
4. reports every write's outcome to the supervisor, whose watchdog drops the loop to advisory
   after repeated failures (a refused value and a lost connection count alike), and files
   every event, move and the loop's state in the store (`plantqc.control.records`).

Nothing here decides anything the supervisor does not: the runtime is its I/O.  A line that
cannot be read is a hold in the loop's state (no setpoint to start from), never a move.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Literal

import numpy as np

from plantqc.config import Line, LoadedConfig
from plantqc.connectors.opcua_write import NodeValue, OpcUaControlClient, OpcUaControlError
from plantqc.control.loop import SYSTEM_USER, Event, LineState, LoopSupervisor, Measurement, Mode
from plantqc.control.settings import CdLoopSettings, MdLoopSettings
from plantqc.errors import UserError

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from plantqc.control.cd import CdController
    from plantqc.control.md import BatchFeedforward, MdLoop

log = logging.getLogger(__name__)


def _md_controller(s: MdLoopSettings) -> MdLoop:
    from plantqc.control.md import MdLoop, VelocityPi, simc_pi

    m = s.model
    tuning = simc_pi(m.gain_um_per_ml_min, m.tau_s, m.deadtime_s,
                     s.tau_c_factor * m.deadtime_s, improved=True)  # fmt: skip
    return MdLoop(VelocityPi(tuning, s.period_s), s.target_um)


def _cd_controller(s: CdLoopSettings) -> CdController:
    from plantqc.control.cd import CdController, CdSettings
    from plantqc.control.response import response_matrix

    m, t, sup = s.model, s.tuning, s.supervisor
    response = response_matrix(m.n_bins, m.n_zones, width_pitch=m.width_pitch,
                               misalignment_pitch=m.misalignment_pitch, gain=m.gain)  # fmt: skip
    settings = CdSettings(alpha=t.alpha, limit=max(abs(sup.operator_low), abs(sup.operator_high)),
                          max_move=sup.max_move_per_step, max_bend=t.max_bend,
                          smoothness=t.smoothness, move_weight=t.move_weight,
                          rel_gain=t.rel_gain)  # fmt: skip
    return CdController(response, settings)


@dataclass(frozen=True)
class LoopIo:
    """The nodes one loop reads and writes (config node ids)."""

    measurement: str
    setpoints: list[str]
    speed: str | None
    running_above: float
    roll: str | None
    lot: str | None


def loop_io(line: Line, kind: Literal["md", "cd"]) -> LoopIo:
    """The loop's nodes from the line's tags and its control section."""
    assert line.control is not None
    s = getattr(line.control, kind)
    where = f"line {line.name!r} control.{kind}"
    if s.setpoint_node_id is None:
        raise UserError(f"{where} has no setpoint_node_id: the daemon cannot run it.")
    tag = s.measurement_tag if kind == "md" else s.profile_tag
    measurement = line.tag(tag).node_id
    if kind == "md":
        setpoints = [s.setpoint_node_id]
    else:
        setpoints = [s.setpoint_node_id.format(zone=z + 1) for z in range(s.model.n_zones)]
    by_kind = {t.kind: t.node_id for t in line.tags}
    speed_tag = line.running.tag if line.running is not None else "web_speed_m_min"
    speed = next((t.node_id for t in line.tags if t.name == speed_tag), None)
    above = line.running.above if line.running is not None else 0.0
    return LoopIo(measurement, setpoints, speed, above, by_kind.get("roll_id"),
                  by_kind.get("lot_id"))  # fmt: skip


class LoopRuntime:
    """One loop of one line, driven by its period.

    Parameters
    ----------
    line : Line
        The line (its ``control`` section configures the loop).
    kind : {"md", "cd"}
        Which loop.
    client : OpcUaControlClient
        The line's control client (shared by the line's loops).
    engine : callable
        The store's engine, or None while the daemon has not opened it yet.
    clock : callable
        Now, timezone-aware UTC.
    """

    def __init__(
        self,
        line: Line,
        kind: Literal["md", "cd"],
        client: OpcUaControlClient,
        engine: Callable[[], Engine | None],
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        assert line.control is not None
        self.line = line
        self.kind = kind
        self.name = f"{line.name}.{kind}"
        self.settings: MdLoopSettings | CdLoopSettings = getattr(line.control, kind)
        self.io = loop_io(line, kind)
        self.client = client
        self.engine = engine
        self.clock = clock
        # built when the loop first leaves off: the controllers import python-control / cvxpy
        # (and scipy), which a daemon whose loops are all off need not load
        self.supervisor: LoopSupervisor | None = None
        self.batch_ff: BatchFeedforward | None = None
        self._joined: tuple[str | None] | None = None  # the roll the loop started in
        self._full_rolls = False
        self.periods = 0
        self.writes = 0
        self.last_error: str | None = None
        self.hold: str | None = None

    async def run(self, stop: asyncio.Event) -> None:
        """Run a period every ``period_s`` until ``stop`` is set."""
        while not stop.is_set():
            try:
                await self.period()
            except OpcUaControlError as exc:  # already one sentence; the next period retries
                self.last_error = str(exc)
                log.warning("control loop cannot reach the line", extra={"loop": self.name,
                            "error": str(exc)})  # fmt: skip
            except Exception as exc:  # a store outage or a bad value: the daemon never stops
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.warning("control period failed", extra={"loop": self.name,
                            "error": self.last_error})  # fmt: skip
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.settings.period_s)

    # --- one period ---------------------------------------------------------------------------

    async def period(self) -> None:
        """One control period (see the module docstring)."""
        engine = self.engine()
        if engine is None:
            return
        now = self.clock()
        wanted = await asyncio.to_thread(self._adopt, engine, now)
        sup = self.supervisor
        if sup is None or sup.mode == Mode.OFF:
            return
        io = self.io
        nodes = [io.measurement, *io.setpoints, *(n for n in (io.speed, io.roll, io.lot) if n)]
        values = await self.client.read(nodes)
        meas, setpoint, line = self._parse(values)
        events: list[Event] = []
        applied_id: int | None = None
        stale = False  # the loop's pending proposal is no longer the controller's advice
        if wanted is not None:
            target, _ = sup.accept(now, wanted[1])  # the person's event is filed
            if target is None:
                await asyncio.to_thread(self._finish, engine, wanted[0], "expired")
                decision_write = None
            else:
                decision_write, applied_id = target, wanted[0]
        else:
            if self._joined is None:
                self._joined = (line.roll,)
            # the roll the loop started in was joined part-way: its setpoint then is no batch
            # start, so the feedforward learns from the first roll it sees begin
            self._full_rolls |= (line.roll,) != self._joined
            if self.batch_ff is not None and self._full_rolls:
                wanted_ff = self.batch_ff.update(line.roll, float(setpoint))
                if wanted_ff is not None and sup.mode == Mode.CLOSED:
                    ff = sup.feedforward(now, setpoint, wanted_ff, "new slurry batch")
                    if ff.write is not None:
                        ok, detail = await self._write(ff.write)
                        events += sup.write_done(self.clock(), ok, detail=detail)
                        if ok:
                            setpoint = ff.write
            decision = sup.step(now, meas, setpoint, line)
            self.hold = decision.hold
            events += decision.events
            decision_write = decision.write
            # the controller wants no move now: an older proposal is no longer its advice
            stale = decision.proposal is not None and not any(e.kind == "proposed" for e in events)
        if decision_write is not None:
            ok, detail = await self._write(decision_write)
            events += sup.write_done(self.clock(), ok, detail=detail)
            if ok:
                setpoint = decision_write
            if applied_id is not None:
                await asyncio.to_thread(self._finish, engine, applied_id,
                                        "applied" if ok else "failed")  # fmt: skip
        await asyncio.to_thread(self._file, engine, events, stale, setpoint, meas, now)
        self.periods += 1

    def _adopt(self, engine: Engine, now: datetime) -> tuple[int, str] | None:
        """Take the stored mode; the accepted proposal to write, as (move id, user)."""
        from sqlalchemy.orm import Session

        from plantqc.control import records as store

        with Session(engine) as session, session.begin():
            store.ensure_loop(session, self.name, self.line.name, self.settings.mode, at=now)
            asked = store.decisions(session, self.name)
            accepted = (
                (asked.accepted.id, asked.accepted_by or SYSTEM_USER) if asked.accepted else None
            )
        if self.supervisor is None:
            if asked.mode == Mode.OFF:
                return None
            controller = (
                _md_controller(self.settings)  # type: ignore[arg-type]
                if self.kind == "md"
                else _cd_controller(self.settings)  # type: ignore[arg-type]
            )
            self.supervisor = LoopSupervisor(self.name, self.settings.supervisor, controller)
            if self.kind == "md":  # a roll brings a fresh slurry batch (plantqc.control.md)
                from plantqc.control.md import BatchFeedforward

                self.batch_ff = BatchFeedforward()
        if asked.mode != self.supervisor.mode:
            # audited by whoever stored it (the person, or this runtime's watchdog)
            self.supervisor.set_mode(asked.mode, time=now, user=asked.mode_by, reason="stored")
        return accepted

    def _parse(self, values: list[NodeValue]) -> tuple[Measurement, np.ndarray, LineState]:
        io = self.io
        first = values[0]
        n = len(io.setpoints)
        setpoint = np.array([float(v.value) for v in values[1 : 1 + n]])  # type: ignore[arg-type]
        rest = iter(values[1 + n :])
        speed = next(rest) if io.speed else None
        roll = next(rest) if io.roll else None
        lot = next(rest) if io.lot else None
        raw = first.value
        value: float | np.ndarray = (
            np.asarray(raw, dtype=float) if self.kind == "cd" else float(raw or 0.0)  # type: ignore[arg-type]
        )
        stamp = first.source_time if isinstance(first.source_time, datetime) else self.clock()
        if stamp.tzinfo is None:
            stamp = stamp.replace(tzinfo=UTC)
        meas = Measurement(value, stamp, first.good and raw is not None)
        speed_m_min = float(speed.value) if speed is not None and speed.good else 0.0
        state = LineState(
            running=speed is None or speed_m_min > io.running_above,
            speed_m_min=speed_m_min if speed is not None else 1.0,
            roll=str(roll.value) if roll is not None else None,
            lot=str(lot.value) if lot is not None else None,
        )
        # the MD setpoint is a scalar (a 0-d array), so that its moves are filed as numbers
        return meas, setpoint if self.kind == "cd" else setpoint.reshape(()), state

    async def _write(self, target: np.ndarray) -> tuple[bool, str]:
        try:
            values = [float(x) for x in np.atleast_1d(target)]
            refused = await self.client.write(self.io.setpoints, values)
        except OpcUaControlError as exc:
            return False, str(exc)
        if refused:
            return False, "; ".join(refused)
        self.writes += 1
        return True, ""

    def _finish(self, engine: Engine, move_id: int, status: str) -> None:
        from sqlalchemy.orm import Session

        from plantqc.control.records import finish_proposal

        with Session(engine) as session, session.begin():
            finish_proposal(session, move_id, status)

    def _file(
        self,
        engine: Engine,
        events: list[Event],
        stale: bool,
        setpoint: np.ndarray,
        meas: Measurement,
        now: datetime,
    ) -> None:
        from sqlalchemy.orm import Session

        from plantqc.control import records as store

        with Session(engine) as session, session.begin():
            if stale:
                store.supersede(session, self.name)
            store.record_events(session, events)
            value = meas.value
            store.save_state(
                session,
                self.name,
                setpoint=setpoint.tolist() if self.kind == "cd" else float(setpoint),
                measured=(value.tolist() if isinstance(value, np.ndarray) else value)
                if meas.good else None,
                hold=self.hold,
                at=now,
            )  # fmt: skip


class ControlRuntime:
    """Every configured loop of a plant config: the daemon's control component.

    Parameters
    ----------
    loaded : LoadedConfig
        The plant config; lines with a ``control:`` section get their loops.
    engine : callable
        The store's engine once the daemon has opened it.
    endpoints : dict, optional
        Endpoint per line name, instead of the config's.
    """

    name = "control"

    def __init__(
        self,
        loaded: LoadedConfig,
        engine: Callable[[], Engine | None],
        endpoints: dict[str, str] | None = None,
    ) -> None:
        self.clients: list[OpcUaControlClient] = []
        self.loops: list[LoopRuntime] = []
        for line in loaded.config.lines:
            if line.control is None:
                continue
            client = OpcUaControlClient(line, loaded.base_dir, (endpoints or {}).get(line.name))
            self.clients.append(client)
            for kind in ("md", "cd"):
                if getattr(line.control, kind) is not None:
                    self.loops.append(LoopRuntime(line, kind, client, engine))  # type: ignore[arg-type]

    async def run(self, stop: asyncio.Event) -> None:
        """Run every loop until ``stop`` is set, then close the clients."""
        try:
            await asyncio.gather(*(loop.run(stop) for loop in self.loops))
        finally:
            for client in self.clients:
                await client.close()
