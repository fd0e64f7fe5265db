"""Thickness control on the seeded casting line: open loop against closed loop, same disturbances.

The line (`plantqc.sim.casting_line`) runs with its named disturbances: in MD the slurry solids
rising as solvent evaporates, pump wear, viscosity slip, an AR(1) wander and a new batch (a
step) at every roll change; in CD a smile, edge beads and a drifting streak; gauge noise and a
few gauge faults on top.  The same seed gives the same disturbances to both runs: once with
the actuators left where they started (open loop) and once with the MD and CD loops closed,
each through its `plantqc.control.loop.LoopSupervisor`, so the interlocks act as on a line
(gauge faults hold the loops, roll changes settle them, every setpoint within the operator
limits and the move limits).  At a roll change the pump goes back to the setpoint the previous
fresh batch started on (`plantqc.control.md.BatchFeedforward`, through the supervisor's
limits): the batch change is a known event, and feedback alone would see its step only a
dead time later.  The figures are computed after a start-up of the same length in both runs;
8 h (six to seven rolls) by default, because over 2 h the MD figures still depend on the seed
(which batch steps and wander fall in the window).

The MD controller is the SIMC velocity PI with ``tau_c = theta`` and Grimholt & Skogestad's
improvement for delay-dominant processes (a third of the dead time added to the time
constant, `plantqc.control.md.simc_pi`): on this pure-dead-time loop the plain rule gives a
pure integral controller whose Harris index is about 2; the improved one adds proportional
action, lowers it and widens both margins, including at plant gain x2 and dead time x1.3.

``robust`` repeats the closed run with the controller's model wrong: the plant's MD gain
0.5 / 1 / 2 times and its dead time 0.7 / 1 / 1.3 times what the controller was tuned for (the
gauge moved, the same speed), and the CD response gain +/- 50 % or shifted +/- 0.5 actuator
pitch.  A case is stable when every setpoint stayed within bounds, the final 30 min of MD and
CD 2 sigma are no worse than the open loop's over the same 30 min, and the pump moves do not
grow (their rms over the final 30 min no more than twice that over the whole measured run);
a run shorter than 30 min measured has no final 30 min to judge and is never stable.
"""

from __future__ import annotations

import time as clock
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta

import numpy as np
from numpy.typing import NDArray

from plantqc.control.cd import CdController, CdSettings, controllable_basis, split_profile
from plantqc.control.loop import (
    Event,
    LineState,
    LoopSupervisor,
    Measurement,
    Mode,
    SupervisorSettings,
)
from plantqc.control.md import (
    BatchFeedforward,
    MdLoop,
    VelocityPi,
    deadtime_samples,
    harris_index,
    simc_pi,
)
from plantqc.control.response import response_matrix
from plantqc.sim.casting_line import CastingLine, CastingLineConfig

T0 = datetime(2026, 1, 1, tzinfo=UTC)
START_UP_S = 900.0
"""Start-up left out of every figure (both runs): the CD loop's first pass at the profile."""
FINAL_S = 1800.0
"""Window of the stability test: the final 30 min."""
MD_GAIN_FACTORS = (0.5, 1.0, 2.0)
MD_DEADTIME_FACTORS = (0.7, 1.0, 1.3)
CD_CASES = ((0.5, 0.0), (1.5, 0.0), (1.0, -0.5), (1.0, 0.5))
"""CD response gain factor and misalignment (pitches) of the plant in the CD robust cases."""


def bench_line() -> CastingLineConfig:
    """The benchmark line: 6 m die to gauge at 2 m/min (3 min dead time), 150 m rolls, 24 die
    bolts over 96 gauge bins, 20 s traverses, gauge faults of a minute twice an hour."""
    return CastingLineConfig(gauge_faults_per_h=2.0)


@dataclass(frozen=True)
class Run:
    """Time series of one run, one entry per gauge traverse, and the loops' audit trail."""

    t_s: NDArray[np.float64]
    good: NDArray[np.bool_]
    md_um: NDArray[np.float64]
    cd_dev_um: NDArray[np.float64]  # (scans, bins) profile minus its own mean
    flow: NDArray[np.float64]
    cd_setpoints: NDArray[np.float64]
    within_bounds: bool
    solve_ms: list[float] = field(default_factory=list)
    audit: list[Event] = field(default_factory=list)


@dataclass(frozen=True)
class ControlBenchResult:
    """The figures of issue 18, item 5 (2 sigma: twice the rms deviation, um)."""

    md_2sigma_open_um: float
    md_2sigma_closed_um: float
    md_reduction: float
    harris_index: float
    cd_2sigma_open_um: float
    cd_2sigma_closed_um: float
    cd_reduction: float
    cd_controllable_reduction: float
    cd_solve_ms_p99: float
    robust: list[dict[str, float | bool]]

    def to_dict(self) -> dict[str, object]:
        """Dict for the CLI's JSON."""
        return asdict(self)


@dataclass(frozen=True)
class Model:
    """What the controllers were tuned for (the nominal line, or a wrong one)."""

    gain_um_per_ml_min: float
    deadtime_s: float
    response: NDArray[np.float64]


def nominal_model(cfg: CastingLineConfig, target_um: float) -> Model:
    """The controllers' model of the nominal line.

    The MD gain is the pre-metered ``dh/dQ = h / Q``; the effective dead time the transport
    ``L / U`` plus half a traverse (the gauge averages over it) plus half a period (the hold),
    Skogestad's half rule.
    """
    deadtime = cfg.die_to_gauge_m / (cfg.speed_m_min / 60.0) + cfg.scan_s / 2 + cfg.scan_s / 2
    g = response_matrix(cfg.n_bins, cfg.n_zones, width_pitch=cfg.cd_width_pitch)
    return Model(target_um / cfg.flow_ml_min, deadtime, g)


def md_supervisor_settings(cfg: CastingLineConfig) -> SupervisorSettings:
    """Pump loop limits: engineering = the drive's range, operator +/- 25 % of nominal."""
    lo, hi = cfg.flow_limits_ml_min
    return SupervisorSettings(
        engineering_low=lo,
        engineering_high=hi,
        operator_low=0.75 * cfg.flow_ml_min,
        operator_high=1.25 * cfg.flow_ml_min,
        max_move_per_step=0.05 * cfg.flow_ml_min,
        max_move_per_minute=0.1 * cfg.flow_ml_min,
        settling_s=60.0,
        die_to_gauge_m=cfg.die_to_gauge_m,
    )


def cd_supervisor_settings(cfg: CastingLineConfig) -> SupervisorSettings:
    """Die-bolt loop limits (% of local flow): operator 80 % of the bolts' range."""
    lim = cfg.cd_limit_pct
    return SupervisorSettings(
        engineering_low=-lim,
        engineering_high=lim,
        operator_low=-0.8 * lim,
        operator_high=0.8 * lim,
        max_move_per_step=cfg.cd_slew_pct_s * cfg.scan_s,
        max_move_per_minute=2 * cfg.cd_slew_pct_s * cfg.scan_s,
        settling_s=60.0,
        die_to_gauge_m=cfg.die_to_gauge_m,
    )


def simulate(
    cfg: CastingLineConfig,
    seconds: float,
    *,
    seed: int,
    model: Model | None,
    tau_c_factor: float = 1.0,
    improved: bool = True,
) -> Run:
    """Run the line for ``seconds``; ``model`` None leaves the actuators alone (open loop).

    ``tau_c_factor`` is the SIMC closed-loop time constant over the model's dead time and
    ``improved`` selects the improved SIMC rule (`plantqc.control.md.simc_pi`).
    """
    line = CastingLine(cfg, seed=seed)
    target = line.dry_at_die_um()
    md_sup = cd_sup = None
    if model is not None:
        tuning = simc_pi(model.gain_um_per_ml_min, 0.0, model.deadtime_s,
                         tau_c_factor * model.deadtime_s, improved=improved)  # fmt: skip
        md = MdLoop(VelocityPi(tuning, cfg.scan_s), target)
        # CD integral gain per period: the same SIMC rule, Ts / (tau_c + theta)
        alpha = cfg.scan_s / ((1.0 + tau_c_factor) * model.deadtime_s)
        cd_settings = CdSettings(alpha=alpha, limit=0.8 * cfg.cd_limit_pct,
                                 max_move=cfg.cd_slew_pct_s * cfg.scan_s)  # fmt: skip
        cd = CdController(model.response, cd_settings)
        md_sup = LoopSupervisor("bench.md", md_supervisor_settings(cfg), md)
        batch_ff = BatchFeedforward()
        cd_sup = LoopSupervisor("bench.cd", cd_supervisor_settings(cfg), cd)
        for sup in (md_sup, cd_sup):
            sup.set_mode(Mode.CLOSED, time=T0, user="bench", reason="closed-loop run")
    rows: list[tuple] = []
    solve_ms: list[float] = []
    within = True
    audit: list[Event] = []
    md_bounds = md_supervisor_settings(cfg)
    cd_bounds = cd_supervisor_settings(cfg)
    scans = (scan for _ in range(round(seconds / cfg.scan_s)) for scan in line.advance(cfg.scan_s))
    for scan in scans:  # one traverse at a time, so that each move acts on the web after it
        now = T0 + timedelta(seconds=scan.t_s)
        if md_sup is not None and cd_sup is not None:
            state = LineState(running=True, speed_m_min=line.speed, roll=str(line.rolls))
            wanted = batch_ff.update(state.roll, line.flow_setpoint)
            if wanted is not None:
                ff = md_sup.feedforward(now, line.flow_setpoint, wanted, "new slurry batch")
                if ff.write is not None:
                    taken = line.set_flow(float(ff.write))
                    audit += md_sup.write_done(now, ok=taken == float(ff.write))
            md_d = md_sup.step(now, Measurement(scan.md_mean_um, now, scan.sensor_ok),
                               line.flow_setpoint, state)  # fmt: skip
            if md_d.write is not None:
                taken = line.set_flow(float(md_d.write))
                audit += md_sup.write_done(now, ok=taken == float(md_d.write))
                within &= md_bounds.operator_low <= taken <= md_bounds.operator_high
            t0 = clock.perf_counter()
            cd_d = cd_sup.step(now, Measurement(scan.profile_um, now, scan.sensor_ok),
                               line.cd_setpoint, state)  # fmt: skip
            if cd_d.write is not None:
                solve_ms.append(1e3 * (clock.perf_counter() - t0))
                taken_cd = line.set_cd(cd_d.write)
                audit += cd_sup.write_done(now, ok=bool(np.array_equal(taken_cd, cd_d.write)))
                within &= bool(np.all(np.abs(taken_cd) <= cd_bounds.operator_high + 1e-9))
            audit += [*md_d.events, *cd_d.events]
        rows.append((scan.t_s, scan.sensor_ok, scan.md_mean_um, scan.profile_um - scan.md_mean_um,
                     line.flow_setpoint, line.cd_setpoint.copy()))  # fmt: skip
    t, good, md_um, dev, flow, cdu = (np.array(col) for col in zip(*rows, strict=True))
    return Run(t, good, md_um, dev, flow, cdu, within, solve_ms, audit)


def two_sigma(x: NDArray[np.float64]) -> float:
    """Twice the root-mean-square of a deviation (an offset counts)."""
    return float(2.0 * np.sqrt(np.mean(np.square(x))))


def _window(run: Run, start_s: float) -> NDArray[np.bool_]:
    return run.good & (run.t_s >= start_s)


def md_2sigma(run: Run, target: float, start_s: float) -> float:
    """MD 2 sigma about the target over the good traverses after ``start_s``."""
    return two_sigma(run.md_um[_window(run, start_s)] - target)


def cd_2sigma(run: Run, start_s: float, basis: NDArray[np.float64] | None = None) -> float:
    """CD 2 sigma of the profile about its own mean (or of its controllable part)."""
    dev = run.cd_dev_um[_window(run, start_s)]
    if basis is not None:
        dev = np.array([split_profile(d, basis)[0] for d in dev])
    return two_sigma(dev)


def run_control_bench(
    hours: float = 8.0,
    *,
    seed: int = 18,
    robust: bool = True,
    tau_c_factor: float = 1.0,
    start_up_s: float = START_UP_S,
) -> ControlBenchResult:
    """Open and closed loop on the same seeded line for ``hours`` after the start-up.

    Parameters
    ----------
    hours : float
        Measured length of each run, h (the start-up comes on top).
    seed : int
        Seed of the line's disturbances.
    robust : bool
        Also run the 13 model-error cases.
    tau_c_factor : float
        SIMC closed-loop time constant over the dead time (1: Skogestad's robust choice).
    start_up_s : float
        Start-up left out of the figures, s.
    """
    cfg = bench_line()
    seconds = start_up_s + hours * 3600.0
    target = CastingLine(cfg, seed=seed).dry_at_die_um()
    model = nominal_model(cfg, target)
    basis = controllable_basis(model.response)
    opened = simulate(cfg, seconds, seed=seed, model=None)
    closed = simulate(cfg, seconds, seed=seed, model=model, tau_c_factor=tau_c_factor)
    md_open, md_closed = (
        md_2sigma(opened, target, start_up_s),
        md_2sigma(closed, target, start_up_s),
    )
    cd_open, cd_closed = cd_2sigma(opened, start_up_s), cd_2sigma(closed, start_up_s)
    ctl_open = cd_2sigma(opened, start_up_s, basis)
    ctl_closed = cd_2sigma(closed, start_up_s, basis)
    w = _window(closed, start_up_s)
    b = deadtime_samples(cfg.die_to_gauge_m / (cfg.speed_m_min / 60.0), cfg.scan_s)
    # AR(20) over 20 s traverses spans 400 s, two dead times; fewer lags for a short run
    harris = harris_index(closed.md_um[w], target, b, ar_order=min(20, int(w.sum()) // 5))
    cases = (
        _robust(cfg, seconds, start_up_s, seed, model, target, tau_c_factor, opened)
        if robust
        else []
    )
    return ControlBenchResult(
        md_2sigma_open_um=md_open,
        md_2sigma_closed_um=md_closed,
        md_reduction=1.0 - md_closed / md_open,
        harris_index=harris,
        cd_2sigma_open_um=cd_open,
        cd_2sigma_closed_um=cd_closed,
        cd_reduction=1.0 - cd_closed / cd_open,
        cd_controllable_reduction=1.0 - ctl_closed / ctl_open,
        cd_solve_ms_p99=float(np.percentile(closed.solve_ms, 99)),
        robust=cases,
    )


def _robust(
    cfg: CastingLineConfig,
    seconds: float,
    start_up_s: float,
    seed: int,
    model: Model,
    target: float,
    tau_c_factor: float,
    nominal_open: Run,
) -> list[dict[str, float | bool]]:
    cases: list[dict[str, float | bool]] = []
    plans = [(g, d, 1.0, 0.0) for d in MD_DEADTIME_FACTORS for g in MD_GAIN_FACTORS]
    plans += [(1.0, 1.0, cg, mis) for cg, mis in CD_CASES]
    opens: dict[float, Run] = {1.0: nominal_open}
    for gain_f, dead_f, cd_gain, mis in plans:
        plant = cfg.with_(die_to_gauge_m=cfg.die_to_gauge_m * dead_f, cd_gain=cd_gain,
                          cd_misalignment_pitch=mis)  # fmt: skip
        # open loop leaves the bolts at zero, so only the dead time changes what it sees
        if dead_f not in opens:
            opens[dead_f] = simulate(plant, seconds, seed=seed, model=None)
        opened = opens[dead_f]
        # plant gain x f: the controller believes 1/f of the true gain
        wrong = Model(model.gain_um_per_ml_min / gain_f, model.deadtime_s, model.response)
        closed = simulate(plant, seconds, seed=seed, model=wrong, tau_c_factor=tau_c_factor)
        final = seconds - FINAL_S
        moves = np.diff(closed.flow)
        measured = closed.t_s[1:] >= start_up_s
        growing = np.sqrt(np.mean(moves[closed.t_s[1:] >= final] ** 2)) > 2 * np.sqrt(
            np.mean(moves[measured] ** 2)
        )
        stable = (
            seconds - start_up_s >= FINAL_S
            and closed.within_bounds
            and not growing
            and md_2sigma(closed, target, final) <= md_2sigma(opened, target, final)
            and cd_2sigma(closed, final) <= cd_2sigma(opened, final)
        )
        cases.append(
            {
                "gain_factor": gain_f,
                "deadtime_factor": dead_f,
                "cd_gain_factor": cd_gain,
                "cd_misalignment_pitch": mis,
                "md_reduction": 1.0
                - md_2sigma(closed, target, start_up_s) / md_2sigma(opened, target, start_up_s),
                "cd_reduction": 1.0 - cd_2sigma(closed, start_up_s) / cd_2sigma(opened, start_up_s),
                "stable": bool(stable),
            }
        )
    return cases
