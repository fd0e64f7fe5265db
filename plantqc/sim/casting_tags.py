"""The physical casting line behind a simulated casting line's tags, and its writable setpoints.

With a scenario's ``casting:`` section (`plantqc.sim.scenario.CastingSim`), the simulator runs
a `plantqc.sim.casting_line.CastingLine` in real time, one model step per tick, and these
tags of the line follow it instead of being independent random numbers:

``pump_rate_ml_min``
    The pump's actual flow, mL/min (it slews towards its setpoint).
``web_speed_m_min``
    The line speed, m/min.
``wet_thickness_um``
    Wet film leaving the die, ``Q / (W U)``, um.
``dry_thickness_um``, ``dry_thickness_profile_um``
    The scanning gauge: the MD mean and the CD profile of each traverse, stamped when the
    traverse ends, Bad (``BadSensorFailure``) while the gauge has a fault.

The line is sized from the tags' spec targets so that the example config reads as it always
did: the width from ``W = Q / (h_wet U)`` and the slurry's solids from the dry-to-wet ratio.

Writable setpoints (`SETPOINTS`), each with the actuator's own range as its EURange:
``<line>.pump_rate_setpoint_ml_min``, ``<line>.web_speed_setpoint_m_min`` and one
``<line>.die_bolt_NN_pct`` per die bolt (``NN`` from 01).  A write outside the range is
**refused** with ``BadOutOfRange`` (OPC 10000-4 §7.34) and the node keeps its value: a drive
that silently clamps would hide from the writer that its move was not taken, whereas a Bad
write status reaches the controller's watchdog.  Inside the range the value is taken as the
setpoint and the actuator slews towards it at its own rate (the pump drive, the die bolts),
which the model enforces whatever the writer asks.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from asyncua import ua

from plantqc.config import Line
from plantqc.sim.casting_line import CastingLine, CastingLineConfig, Slurry, solids_density
from plantqc.sim.scenario import CastingSim, Fault

PUMP_SETPOINT = "pump_rate_setpoint_ml_min"
SPEED_SETPOINT = "web_speed_setpoint_m_min"
DRIVEN_TAGS = (
    "pump_rate_ml_min",
    "web_speed_m_min",
    "wet_thickness_um",
    "dry_thickness_um",
    "dry_thickness_profile_um",
)
STATUS_OUT_OF_RANGE = int(ua.StatusCodes.BadOutOfRange)
STATUS_BAD = int(ua.StatusCodes.BadSensorFailure)
STATUS_UNCERTAIN = int(ua.StatusCodes.UncertainLastUsableValue)
# the drives' ranges, as a fraction of the nominal setpoint
FLOW_RANGE = (0.5, 1.5)
SPEED_RANGE = (0.25, 1.5)
FLOW_SLEW_PER_S = 0.025  # the pump drive moves 2.5 % of nominal flow per second


def die_bolt(zone: int) -> str:
    """Node name of die bolt ``zone`` (from 1)."""
    return f"die_bolt_{zone:02d}_pct"


@dataclass(frozen=True)
class Setpoint:
    """A writable setpoint node: its name under the line, initial value and range."""

    name: str
    initial: float
    low: float
    high: float


def _target(line: Line, tag: str, default: float) -> float:
    for t in line.tags:
        if t.name == tag and t.spec is not None and t.spec.target is not None:
            return t.spec.target
    return default


def solids_wt_pct_for(phi: float, slurry: Slurry) -> float:
    """Solids mass % that gives the solids volume fraction ``phi``.

    Notes
    -----
    Inverse of `plantqc.sim.casting_line.solids_volume_fraction`:
    :math:`c = (\\phi/\\rho_l) / ((1-\\phi)/\\rho_s + \\phi/\\rho_l)`.
    """
    rho_s, rho_l = solids_density(slurry), slurry.solvent_density_g_cm3
    return 100.0 * (phi / rho_l) / ((1.0 - phi) / rho_s + phi / rho_l)


def line_config(line: Line, sim: CastingSim, roll_length_s: float) -> CastingLineConfig:
    """The casting line that makes ``line``'s spec targets at its nominal setpoints; its rolls
    (each a fresh slurry batch) as long as the scenario's at the nominal speed."""
    speed = _target(line, "web_speed_m_min", 2.0)
    flow = _target(line, "pump_rate_ml_min", 400.0)
    wet = _target(line, "wet_thickness_um", 200.0)
    dry = _target(line, "dry_thickness_um", 50.0)
    base = Slurry()
    slurry = Slurry(solids_wt_pct=solids_wt_pct_for(dry / wet, base))
    return CastingLineConfig(
        slurry=slurry,
        width_m=flow / (wet * speed),
        die_to_gauge_m=sim.die_to_gauge_m,
        speed_m_min=speed,
        flow_ml_min=flow,
        flow_limits_ml_min=(FLOW_RANGE[0] * flow, FLOW_RANGE[1] * flow),
        flow_slew_ml_min_s=FLOW_SLEW_PER_S * flow,
        n_zones=sim.n_zones,
        n_bins=sim.n_bins,
        scan_s=sim.scan_s,
        gauge_noise_um=sim.gauge_noise_um,
        step_s=sim.scan_s / 20.0,
        roll_length_m=roll_length_s * speed / 60.0,
    )


class CastingTags:
    """A `CastingLine` stepped tick by tick, read as tag values, written through setpoints.

    Parameters
    ----------
    line : Line
        The configured line (its spec targets size the model).
    sim : CastingSim
        The scenario's casting section.
    faults : list of Fault
        The scenario's faults on this line: a ``step`` or ``drift`` on ``dry_thickness_um``
        is an upset of the laid-down flow of that many sigma of the dry thickness (so the
        loop can correct it, as it would a solids drift); ``bad`` / ``uncertain`` on it make
        the gauge's readings Bad / Uncertain.
    seed : int
        Seed of the model's disturbances.
    roll_length_s : float
        The scenario's roll length: the model's slurry batches change with the roll ids.
    """

    def __init__(
        self, line: Line, sim: CastingSim, faults: list[Fault], seed: int, roll_length_s: float
    ) -> None:
        self.config = line_config(line, sim, roll_length_s)
        self.model = CastingLine(
            self.config,
            seed=seed,
            md_disturbances=sim.md_disturbances,
            cd_disturbances=sim.cd_disturbances,
        )
        c = self.config
        dry_tag = next((t for t in line.tags if t.name == "dry_thickness_um"), None)
        spec = dry_tag.spec if dry_tag is not None else None
        self._dry_sigma = (
            (spec.usl - spec.lsl) / 12
            if spec is not None and spec.lsl is not None and spec.usl is not None
            else 0.01 * _target(line, "dry_thickness_um", 50.0)
        )
        self._dry_nominal = _target(line, "dry_thickness_um", 50.0)
        self._faults = [f for f in faults if f.tag == "dry_thickness_um"]
        lo, hi = c.flow_limits_ml_min
        self.setpoints = [
            Setpoint(PUMP_SETPOINT, c.flow_ml_min, lo, hi),
            Setpoint(
                SPEED_SETPOINT,
                c.speed_m_min,
                SPEED_RANGE[0] * c.speed_m_min,
                SPEED_RANGE[1] * c.speed_m_min,
            ),
            *(
                Setpoint(die_bolt(z + 1), 0.0, -c.cd_limit_pct, c.cd_limit_pct)
                for z in range(c.n_zones)
            ),
        ]
        self._by_name = {s.name: s for s in self.setpoints}

    def write(self, name: str, value: float) -> int:
        """A client writes setpoint ``name``: the OPC UA status of the write (0: Good)."""
        sp = self._by_name[name]
        if not np.isfinite(value) or not sp.low <= value <= sp.high:
            return STATUS_OUT_OF_RANGE
        if name == PUMP_SETPOINT:
            self.model.set_flow(value)
        elif name == SPEED_SETPOINT:
            self.model.set_speed(value)
        else:
            zone = int(name.split("_")[2]) - 1
            bolts = self.model.cd_setpoint.copy()
            bolts[zone] = value
            self.model.set_cd(bolts)
        return 0

    def current(self, name: str) -> float:
        """Setpoint ``name`` as the model holds it (what a restarted server shows)."""
        if name == PUMP_SETPOINT:
            return self.model.flow_setpoint
        if name == SPEED_SETPOINT:
            return self.model.speed_setpoint
        return float(self.model.cd_setpoint[int(name.split("_")[2]) - 1])

    def _upset(self, t_s: float) -> float:
        delta = 0.0
        for f in self._faults:
            if not f.active(t_s):
                continue
            if f.kind == "step":
                delta += f.magnitude * self._dry_sigma
            elif f.kind == "drift":
                delta += f.magnitude * self._dry_sigma * (t_s - f.start_s) / 60.0
        return delta / self._dry_nominal

    def _gauge_status(self, t_s: float, ok: bool) -> int:
        kinds = {f.kind for f in self._faults if f.active(t_s)}
        if not ok or "bad" in kinds:
            return STATUS_BAD
        return STATUS_UNCERTAIN if "uncertain" in kinds else 0

    def advance(self, t_s: float, dt: float) -> dict[str, tuple[float | list[float], int]]:
        """Step the line ``dt`` seconds (``t_s`` is the scenario time at the start): the
        driven tags' values and statuses now; the gauge tags only when a traverse ended."""
        m = self.model
        m.upset = self._upset(t_s)
        scans = m.advance(dt)
        wet = m.delivered_flow_ml_min() / (self.config.width_m * m.speed)
        out: dict[str, tuple[float | list[float], int]] = {
            "pump_rate_ml_min": (m.flow, 0),
            "web_speed_m_min": (m.speed, 0),
            "wet_thickness_um": (wet, 0),
        }
        if scans:
            scan = scans[-1]
            status = self._gauge_status(t_s, scan.sensor_ok)
            out["dry_thickness_um"] = (scan.md_mean_um, status)
            out["dry_thickness_profile_um"] = (scan.profile_um.tolist(), status)
        return out
