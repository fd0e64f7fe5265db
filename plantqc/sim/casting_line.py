"""Physical model of a slot-die casting line, die to scanning gauge, for closed-loop control.

The die is pre-metered: everything the pump delivers is laid down, so the wet film is
``h_wet = Q / (W U)`` and, once the solvent is gone, ``h_dry = h_wet * phi`` with ``phi`` the
solids volume fraction of the slurry.  The web carries each strip of film from the die to the
gauge, ``L`` metres away, so the gauge sees the die as it was when the web now under it left
the die (a dead time ``L / U`` that changes with the speed).  Die bolts redistribute flow
across the web (`plantqc.control.response`).  Disturbances a real line has: the slurry solids
rise as solvent evaporates from the tank, the gear pump wears, the viscosity changes its slip,
a slow AR(1) wander, and a new slurry batch at every roll change; across the web a smile, edge
beads, a drifting streak.  The scanning gauge traverses the web and reads each bin at its own
time.  Nothing here touches a clock or a socket: `CastingLine.advance` steps the model as fast
as numpy allows, seeded so that a run is reproducible.

Units: thickness um, flow mL/min, speed m/min, width and distance m, time s, die-bolt
actuators % of local flow, CD profiles % or um as named.

References
----------
.. [1] S. F. Kistler and P. M. Schweizer (eds.), *Liquid Film Coating*, Chapman & Hall, 1997,
   ch. 11 (slot coating: pre-metered film thickness ``Q / (W U)``).
.. [2] S. R. Duncan, "The cross-directional control of web forming processes", PhD thesis,
   Imperial College London, 1989 (scanning gauges, CD response).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
from numpy.typing import NDArray

from plantqc.control.response import bin_centres, response_matrix
from plantqc.sim.gauge import GaugedLine, Scan
from plantqc.sim.wander import ar1_step

# LiTFSI crystal density; the product recipe names the salt but not its density
LITFSI_DENSITY_G_CM3 = 1.33
# acetonitrile, the usual casting solvent for PEO / LiTFSI
ACETONITRILE_DENSITY_G_CM3 = 0.786


@dataclass(frozen=True)
class Slurry:
    """Recipe of the casting slurry.

    Attributes
    ----------
    polymer_density_g_cm3, salt_density_g_cm3, filler_density_g_cm3 : float
        Densities of the solids, g/cm^3.
    filler_wt_pct : float
        Filler as mass % of the solids (the product's ``filler_wt_pct``).
    salt_to_polymer_mass : float
        Salt mass per polymer mass (EO:Li = 16 for LiTFSI in PEO is 287.1 / (16 * 44.05)).
    solids_wt_pct : float
        Solids as mass % of the slurry.
    solvent_density_g_cm3 : float
        Solvent density, g/cm^3.
    """

    polymer_density_g_cm3: float = 1.2
    salt_density_g_cm3: float = LITFSI_DENSITY_G_CM3
    filler_density_g_cm3: float = 5.1
    filler_wt_pct: float = 20.0
    salt_to_polymer_mass: float = 287.09 / (16 * 44.053)
    solids_wt_pct: float = 38.0
    solvent_density_g_cm3: float = ACETONITRILE_DENSITY_G_CM3


def solids_density(slurry: Slurry) -> float:
    """Density of the dry solids, g/cm^3.

    Notes
    -----
    Volumes add (no porosity): :math:`1/\\rho_s = \\sum_i w_i / \\rho_i` over polymer, salt and
    filler with mass fractions :math:`w_i` of the solids.
    """
    w_f = slurry.filler_wt_pct / 100.0
    w_p = (1.0 - w_f) / (1.0 + slurry.salt_to_polymer_mass)
    w_s = w_p * slurry.salt_to_polymer_mass
    return 1.0 / (
        w_p / slurry.polymer_density_g_cm3
        + w_s / slurry.salt_density_g_cm3
        + w_f / slurry.filler_density_g_cm3
    )


def solids_volume_fraction(slurry: Slurry, solids_wt_pct: float | None = None) -> float:
    """Volume fraction of solids in the slurry: the dry-to-wet thickness ratio.

    Parameters
    ----------
    slurry : Slurry
        Recipe.
    solids_wt_pct : float, optional
        Solids mass % to use instead of the recipe's (the tank drifts).

    Notes
    -----
    :math:`\\phi = (c/\\rho_s) / (c/\\rho_s + (1 - c)/\\rho_l)` with solids mass fraction
    :math:`c`, solids density :math:`\\rho_s` (`solids_density`) and solvent density
    :math:`\\rho_l`.
    """
    c = (slurry.solids_wt_pct if solids_wt_pct is None else solids_wt_pct) / 100.0
    v_s = c / solids_density(slurry)
    return v_s / (v_s + (1.0 - c) / slurry.solvent_density_g_cm3)


def wet_thickness_um(flow_ml_min: float, width_m: float, speed_m_min: float) -> float:
    """Pre-metered wet thickness ``Q / (W U)`` in um (mL/min, m, m/min: the 1e-6 m^3/mL and
    the 1e6 um/m cancel)."""
    return flow_ml_min / (width_m * speed_m_min)


@dataclass(frozen=True)
class CdDisturbance:
    """Cross-direction disturbance profile, % of the local dry thickness (zero web mean).

    Attributes
    ----------
    smile_pct : float
        Parabolic smile (+) / frown (-), centre-to-edge, %.
    edge_bead_pct, edge_bead_bins : float
        Edge bead height at the outermost bin, % and its exponential decay length, bins.
    streak_pct, streak_width_pitch : float
        Streak depth (negative: thin streak), % and its standard deviation, actuator pitches.
    streak_start_pitch, streak_drift_pitch_h : float
        Streak position at t = 0 and its drift speed, pitches and pitches/h.
    """

    smile_pct: float = 3.0
    edge_bead_pct: float = 4.0
    edge_bead_bins: float = 4.0
    streak_pct: float = -2.0
    streak_width_pitch: float = 1.2
    streak_start_pitch: float = 8.0
    streak_drift_pitch_h: float = 2.0

    def profile(self, x_pitch: NDArray[np.float64], n_zones: int, t_s: float) -> NDArray:
        """The profile at bin positions ``x_pitch`` (pitches) and time ``t_s``."""
        u = (x_pitch + 0.5) / n_zones * 2.0 - 1.0  # -1 .. 1 across the web
        edge = np.minimum(np.arange(x_pitch.size), np.arange(x_pitch.size)[::-1])
        streak_at = self.streak_start_pitch + self.streak_drift_pitch_h * t_s / 3600.0
        p = (
            self.smile_pct * (1.0 - u**2)
            + self.edge_bead_pct * np.exp(-edge / self.edge_bead_bins)
            + self.streak_pct
            * np.exp(-0.5 * ((x_pitch - streak_at) / self.streak_width_pitch) ** 2)
        )
        return p - p.mean()


@dataclass(frozen=True)
class MdDisturbance:
    """Machine-direction disturbances (all relative, so they scale with the film).

    Attributes
    ----------
    evaporation_pct_h : float
        Rise of the slurry solids mass % per hour as solvent evaporates from the tank.
    batch_sigma_pct : float
        Standard deviation of a new batch's solids mass % (a step at every roll change).
    pump_wear_pct_h : float
        Loss of pump volumetric efficiency, % per hour.
    viscosity_mpa_s, viscosity_sigma_pct, viscosity_tau_s : float
        Mean slurry viscosity, the AR(1) wander of it (% sigma) and its time constant.
    slip_at_nominal_pct : float
        Gear-pump back-slip at the mean viscosity, % of displacement; slip goes as 1/viscosity.
    wander_sigma_pct, wander_tau_s : float
        AR(1) wander of the laid-down flow (die temperature, pulsation envelope), % sigma and
        time constant, s.
    """

    evaporation_pct_h: float = 0.4
    batch_sigma_pct: float = 0.2
    pump_wear_pct_h: float = 0.05
    viscosity_mpa_s: float = 2000.0
    viscosity_sigma_pct: float = 5.0
    viscosity_tau_s: float = 1200.0
    slip_at_nominal_pct: float = 2.0
    wander_sigma_pct: float = 0.4
    wander_tau_s: float = 1200.0


@dataclass(frozen=True)
class CastingLineConfig:
    """Geometry, actuators, gauge and disturbances of a casting line.

    Attributes
    ----------
    width_m, die_to_gauge_m : float
        Coated width and web path from die lip to gauge, m.
    speed_m_min, flow_ml_min : float
        Initial line speed and pump setpoint.
    flow_limits_ml_min, flow_slew_ml_min_s : tuple, float
        Pump setpoint range and slew rate enforced by the pump drive.
    n_zones, n_bins : int
        Die-bolt zones and gauge bins across the web.
    cd_limit_pct, cd_slew_pct_s : float
        Die-bolt range (+/- % of local flow) and slew rate.
    cd_width_pitch, cd_misalignment_pitch, cd_gain : float
        True response of the die bolts (`plantqc.control.response.response_matrix`).
    scan_s : float
        Time of one gauge traverse.
    gauge_noise_um : float
        Standard deviation of the gauge reading of one bin.
    roll_length_m : float
        Web per roll; a new slurry batch at every roll change.
    gauge_faults_per_h, gauge_fault_scans : float, int
        Mean rate of gauge faults (Poisson, per hour) and the traverses each lasts; a faulty
        traverse reads zero everywhere and says so (`Scan.sensor_ok`).
    step_s : float
        Model integration step.
    """

    slurry: Slurry = field(default_factory=Slurry)
    width_m: float = 1.0
    die_to_gauge_m: float = 6.0
    speed_m_min: float = 2.0
    flow_ml_min: float = 400.0
    flow_limits_ml_min: tuple[float, float] = (200.0, 600.0)
    flow_slew_ml_min_s: float = 10.0
    n_zones: int = 24
    n_bins: int = 96
    cd_limit_pct: float = 10.0
    cd_slew_pct_s: float = 0.05
    cd_width_pitch: float = 1.0
    cd_misalignment_pitch: float = 0.0
    cd_gain: float = 1.0
    scan_s: float = 20.0
    gauge_noise_um: float = 0.1
    roll_length_m: float = 150.0
    gauge_faults_per_h: float = 0.0
    gauge_fault_scans: int = 3
    step_s: float = 1.0
    md: MdDisturbance = field(default_factory=MdDisturbance)
    cd: CdDisturbance = field(default_factory=CdDisturbance)

    def with_(self, **changes: object) -> CastingLineConfig:
        """A copy with some fields changed."""
        return replace(self, **changes)  # type: ignore[arg-type]


class CastingLine(GaugedLine):
    """The seeded casting line: write setpoints, `advance` time, read gauge scans.

    Parameters
    ----------
    config : CastingLineConfig
        The line.
    seed : int
        Seed of every random disturbance; the same seed gives the same line.
    md_disturbances, cd_disturbances : bool
        Switch the named disturbances off for ground-truth tests.
    """

    def __init__(
        self,
        config: CastingLineConfig,
        *,
        seed: int = 0,
        md_disturbances: bool = True,
        cd_disturbances: bool = True,
        gauge_noise: bool = True,
    ) -> None:
        c = config
        # the web's history: MD dry thickness at the die (um) and die-bolt positions (%)
        super().__init__(
            source_to_gauge_m=c.die_to_gauge_m,
            speed_m_min=c.speed_m_min,
            n_bins=c.n_bins,
            scan_s=c.scan_s,
            step_s=c.step_s,
            channels={"dry": (), "cdu": (c.n_zones,)},
        )
        self.config = c
        self._rng = np.random.default_rng(seed)
        self._md_on, self._cd_on, self._noise_on = md_disturbances, cd_disturbances, gauge_noise
        self.flow_setpoint = c.flow_ml_min
        self.flow = c.flow_ml_min
        self.cd_setpoint = np.zeros(c.n_zones)
        self.cd = np.zeros(c.n_zones)
        self.response = response_matrix(
            c.n_bins,
            c.n_zones,
            width_pitch=c.cd_width_pitch,
            misalignment_pitch=c.cd_misalignment_pitch,
            gain=c.cd_gain,
        )
        self._x = bin_centres(c.n_bins, c.n_zones)
        self.solids_wt_pct = c.slurry.solids_wt_pct
        # an upset from outside the model (a scenario's step or drift), relative flow change
        self.upset = 0.0
        self._wander = 0.0
        self._log_visc = 0.0
        self._roll_start_m = 0.0
        self.rolls = 0
        self._record()
        # faults drawn apart, so that switching them on leaves every other disturbance as it was
        self._fault_rng = np.random.default_rng([seed, 1])
        self._fault_left = 0

    # --- setpoints (what OPC UA writes) ---------------------------------------------------------

    def set_flow(self, ml_min: float) -> float:
        """Write the pump setpoint; the drive clamps it to its range.  Returns what it took."""
        lo, hi = self.config.flow_limits_ml_min
        self.flow_setpoint = float(np.clip(ml_min, lo, hi))
        return self.flow_setpoint

    @property
    def speed_setpoint(self) -> float:
        """Line speed setpoint, m/min: the speed itself (`set_speed` takes it at once)."""
        return self.speed

    def set_cd(self, pct: NDArray[np.float64]) -> NDArray[np.float64]:
        """Write the die-bolt setpoints; each is clamped to +/- its range.  Returns them."""
        lim = self.config.cd_limit_pct
        self.cd_setpoint = np.clip(np.asarray(pct, dtype=float), -lim, lim)
        return self.cd_setpoint

    # --- physics ---------------------------------------------------------------------------------

    @property
    def solids_fraction(self) -> float:
        """Current solids volume fraction of the slurry in the die."""
        return solids_volume_fraction(self.config.slurry, self.solids_wt_pct)

    def delivered_flow_ml_min(self) -> float:
        """Flow the die lays down: pump flow less slip and wear, times the slow wander."""
        if not self._md_on:
            return self.flow * (1.0 + self.upset)
        md = self.config.md
        wear = 1.0 - md.pump_wear_pct_h / 100.0 * self.t_s / 3600.0
        slip = md.slip_at_nominal_pct / 100.0 * np.exp(-self._log_visc)
        return self.flow * wear * (1.0 - slip) * (1.0 + self._wander) * (1.0 + self.upset)

    def dry_at_die_um(self) -> float:
        """Dry thickness of the film now leaving the die, um (before CD redistribution)."""
        wet = wet_thickness_um(self.delivered_flow_ml_min(), self.config.width_m, self.speed)
        return wet * self.solids_fraction

    def _record(self) -> None:
        self._web.record(self.t_s, self.speed, dry=self.dry_at_die_um(), cdu=self.cd)

    def _step(self, dt: float) -> None:
        c, md = self.config, self.config.md
        self.t_s += dt
        self.flow += float(
            np.clip(
                self.flow_setpoint - self.flow,
                -c.flow_slew_ml_min_s * dt,
                c.flow_slew_ml_min_s * dt,
            )
        )
        self.cd += np.clip(self.cd_setpoint - self.cd, -c.cd_slew_pct_s * dt, c.cd_slew_pct_s * dt)
        if self._md_on:
            self._wander = ar1_step(
                self._wander, dt, md.wander_tau_s, md.wander_sigma_pct / 100.0, self._rng
            )
            self._log_visc = ar1_step(
                self._log_visc, dt, md.viscosity_tau_s, md.viscosity_sigma_pct / 100.0, self._rng
            )
            self.solids_wt_pct += md.evaporation_pct_h * dt / 3600.0
        self._record()
        if self._web.length_m - self._roll_start_m >= c.roll_length_m:
            self._roll_start_m = self._web.length_m
            self.rolls += 1
            if self._md_on:  # the new roll starts with a fresh slurry batch
                self.solids_wt_pct = c.slurry.solids_wt_pct + md.batch_sigma_pct * float(
                    self._rng.standard_normal()
                )

    def at_gauge(self, t_s: NDArray[np.float64] | float) -> tuple[NDArray, NDArray]:
        """MD dry thickness (um) and die-bolt positions (%) of the web under the gauge at
        ``t_s`` (within the recorded history): the die state when that web left the die."""
        web = self._web
        left = web.left_source_s(t_s)
        dry = np.interp(left, web.t_s, web.values("dry"))
        # the bolts as recorded at the end of the step the web left the die in
        idx = np.clip(np.searchsorted(web.t_s, left), 0, len(web) - 1)
        return dry, web.values("cdu")[idx]

    def _read_scan(self) -> Scan:
        c = self.config
        dry, cdu = self.at_gauge(self._traverse.bin_times_s())
        bolt_pct = np.einsum("ij,ij->i", self.response, cdu)
        dist = c.cd.profile(self._x, c.n_zones, self.t_s) if self._cd_on else 0.0
        profile = dry * (1.0 + (bolt_pct + dist) / 100.0)
        if self._noise_on:
            profile = profile + c.gauge_noise_um * self._rng.standard_normal(c.n_bins)
        self._traverse.turn(self.t_s)
        if self._fault_left == 0 and c.gauge_faults_per_h > 0:
            p_start = -np.expm1(-c.gauge_faults_per_h * c.scan_s / 3600.0)
            if self._fault_rng.random() < p_start:
                self._fault_left = c.gauge_fault_scans
        if self._fault_left > 0:
            self._fault_left -= 1
            return Scan(self.t_s, np.zeros(c.n_bins), 0.0, sensor_ok=False)
        return Scan(t_s=self.t_s, profile_um=profile, md_mean_um=float(profile.mean()))
