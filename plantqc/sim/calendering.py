"""Physical model of a two-roll calender, nip to scanning gauge, for closed-loop control.

A porous cast film of thickness ``h_in`` and porosity ``eps_0`` enters the nip of two steel
rolls.  Where the local roll gap ``g`` is below ``h_in`` the film is compacted to ``g``: its
solids stay (``h_in (1 - eps_0) = g (1 - eps)``) and the porosity in the nip falls to
``eps = 1 - h_in (1 - eps_0) / g``.  The line load that takes is the inverse of Meyer et al.'s
exponential compaction law [1]_,

.. math:: q = \\gamma_c \\ln\\frac{\\varepsilon_0 - \\varepsilon_{min}}
   {\\varepsilon - \\varepsilon_{min}},

with the compaction resistance :math:`\\gamma_c` (N/mm) and the porosity
:math:`\\varepsilon_{min}` that no load goes below.  After the nip the film springs back
elastically by a fixed share ``e`` of the compression it took (the elastic part of an
elastic-plastic nip, Mardon et al. [2]_):

.. math:: h_{out} = g + e\\,(h_{in} - g),

so the exit thickness is the gap plus the recovery.  The rolls bend under the load, like
simply supported beams under a uniform line load (Roark [3]_, Table 8.1, case 2e):
:math:`\\delta(x) = q x (L^3 - 2 L x^2 + x^3) / (24 E I)`, and both rolls open the gap by
that, less the crown ground into them for the design load :math:`q_d`; at :math:`q = q_d` the
gap is flat.  The load and the gap depend on each other (more load, more bending, a wider gap,
less load): the model solves the balance :math:`q = \\overline{q(x)}` every step, so the
exit gauge follows the gap less than one for one, as the gaugemeter equation of rolling says
(exit thickness = gap setting + mill stretch, Roberts [4]_).

The gauge stands ``L`` metres after the nip, a dead time ``L / U``.  Disturbances: the incoming
film's own thickness (AR(1) wander and a step at every parent-roll change), the rolls' thermal
expansion as they warm (a first-order rise of the roll temperature closing the gap by
``2 alpha R dT``) and bearing eccentricity (a sine of the gap at the roll-rotation period
``pi D / U``).  Nothing here touches a clock or a socket: `Calender.advance` steps the model as
fast as numpy allows, seeded so that a run is reproducible.

Units: thickness and gap um, line load N/mm, speed m/min, width, diameter and distance m, time
s, temperature K, porosity a fraction.

References
----------
.. [1] C. Meyer, H. Bockholt, W. Haselrieder and A. Kwade, "Characterization of the calendering
   process for compaction of electrodes for lithium-ion batteries", *Journal of Materials
   Processing Technology*, 2017 (porosity against line load:
   :math:`\\varepsilon = \\varepsilon_{min} + (\\varepsilon_0 - \\varepsilon_{min})
   e^{-q/\\gamma_c}`).
.. [2] J. Mardon, R. E. Monahan, R. A. Carter and J. E. Wilder, "Dynamic consolidation of paper
   during calendering: dynamic compressibility of paper", *Consolidation of the Paper Web*,
   Trans. IIIrd Fund. Res. Symp., Cambridge, 1965, pp. 576-626 (elastic and plastic parts of
   the compression in a calender nip).
.. [3] W. C. Young and R. G. Budynas, *Roark's Formulas for Stress and Strain*, 7th ed.,
   McGraw-Hill, 2002, Table 8.1 (simply supported beam, uniform load).
.. [4] W. L. Roberts, *Cold Rolling of Steel*, Marcel Dekker, 1978 (the gaugemeter equation:
   exit gauge = roll gap + load / mill modulus).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import brentq

from plantqc.sim.gauge import GaugedLine, Scan
from plantqc.sim.wander import ar1_step

STEEL_E_PA = 210e9
"""Young's modulus of a steel roll, Pa."""
STEEL_ALPHA_PER_K = 12e-6
"""Linear thermal expansion of steel, 1/K."""
POROSITY_FLOOR = 1e-9
"""Closest the nip porosity comes to the minimum: below it the film is taken as solid, so
the load is very large but finite (a real calender stalls or crushes the film there)."""


@dataclass(frozen=True)
class Film:
    """The film entering the nip and how it compacts.

    Attributes
    ----------
    thickness_um : float
        Mean incoming thickness, um.
    porosity : float
        Incoming porosity eps_0 (an as-cast composite film is porous).
    min_porosity : float
        Porosity eps_min no line load goes below.
    compaction_resistance_n_mm : float
        gamma_c of the compaction law, N/mm.
    elastic_fraction : float
        Share e of the compression recovered after the nip (spring-back), 0 <= e < 1.
    """

    thickness_um: float = 60.0
    porosity: float = 0.35
    min_porosity: float = 0.05
    compaction_resistance_n_mm: float = 60.0
    elastic_fraction: float = 0.08


@dataclass(frozen=True)
class CalenderDisturbance:
    """Disturbances of a calender line.

    Attributes
    ----------
    incoming_sigma_pct, incoming_tau_s : float
        AR(1) wander of the incoming thickness, % sigma and time constant, s.
    roll_change_sigma_pct : float
        Standard deviation of the step in incoming thickness at a parent-roll change, %.
    roll_heating_k, roll_heating_tau_s : float
        Rise of the roll temperature from start to steady state, K, and its time constant, s
        (both rolls expand, closing the gap by ``2 alpha R dT``).
    eccentricity_um, eccentricity_phase_rad : float
        Amplitude of the bearing eccentricity's gap variation, um, and its phase at t = 0.
    """

    incoming_sigma_pct: float = 1.0
    incoming_tau_s: float = 900.0
    roll_change_sigma_pct: float = 1.0
    roll_heating_k: float = 0.5
    roll_heating_tau_s: float = 1800.0
    eccentricity_um: float = 0.3
    eccentricity_phase_rad: float = 0.0


@dataclass(frozen=True)
class CalenderConfig:
    """Geometry, actuator, gauge and disturbances of a calender line.

    Attributes
    ----------
    film : Film
        Incoming film.
    width_m : float
        Roll face = web width, m (the load is taken as uniform over the bearing span).
    roll_diameter_m : float
        Diameter of both (solid steel) rolls, m.
    design_load_n_mm : float
        Line load the rolls' crown is ground for, N/mm (flat gap at that load).
    nip_to_gauge_m, speed_m_min : float
        Web path from nip to gauge, m, and line speed, m/min.
    gap_um, gap_limits_um, gap_slew_um_s : float, tuple, float
        Initial gap setting at the bearings, its range and the hydraulic slew rate.
    n_bins, scan_s, gauge_noise_um : int, float, float
        Gauge bins across the web, time of one traverse, s, and gauge noise per bin, um.
    roll_length_m : float
        Web per parent roll; a new one brings a step in incoming thickness.
    step_s : float
        Model integration step, s.
    """

    film: Film = field(default_factory=Film)
    width_m: float = 1.0
    roll_diameter_m: float = 0.5
    design_load_n_mm: float = 78.0
    nip_to_gauge_m: float = 4.0
    speed_m_min: float = 2.0
    gap_um: float = 44.0
    gap_limits_um: tuple[float, float] = (30.0, 60.0)
    gap_slew_um_s: float = 0.5
    n_bins: int = 96
    scan_s: float = 20.0
    gauge_noise_um: float = 0.1
    roll_length_m: float = 150.0
    step_s: float = 1.0
    disturbance: CalenderDisturbance = field(default_factory=CalenderDisturbance)

    def with_(self, **changes: object) -> CalenderConfig:
        """A copy with some fields changed."""
        return replace(self, **changes)  # type: ignore[arg-type]


def nip_porosity(incoming_um: float, porosity: float, gap_um: NDArray | float) -> NDArray:
    """Porosity of the film compacted to ``gap_um``: the solids volume is kept,
    :math:`\\varepsilon = 1 - h_{in} (1 - \\varepsilon_0) / g` (``eps_0`` where the gap does
    not touch the film)."""
    g = np.asarray(gap_um, dtype=float)
    return np.where(g < incoming_um, 1.0 - incoming_um * (1.0 - porosity) / g, porosity)


def compaction_load_n_mm(film: Film, incoming_um: float, gap_um: NDArray | float) -> NDArray:
    """Line load that compacts the film to ``gap_um``, N/mm: Meyer et al.'s law inverted,
    :math:`q = \\gamma_c \\ln((\\varepsilon_0 - \\varepsilon_{min}) / (\\varepsilon -
    \\varepsilon_{min}))`, zero where the gap does not touch the film."""
    eps = nip_porosity(incoming_um, film.porosity, gap_um)
    room = np.maximum(eps - film.min_porosity, POROSITY_FLOOR)
    return film.compaction_resistance_n_mm * np.log((film.porosity - film.min_porosity) / room)


def exit_thickness_um(film: Film, incoming_um: float, gap_um: NDArray | float) -> NDArray:
    """Thickness after spring-back, :math:`h_{out} = g + e (h_{in} - g)` where the gap
    compresses the film, else ``h_in``."""
    g = np.minimum(np.asarray(gap_um, dtype=float), incoming_um)
    return g + film.elastic_fraction * (incoming_um - g)


def deflection_shape_um_per_n_mm(cfg: CalenderConfig, x_m: NDArray[np.float64]) -> NDArray:
    """Bending of one roll at ``x_m`` (m from a bearing) per N/mm of uniform line load, um.

    Notes
    -----
    Simply supported beam of span :math:`L` under a uniform load :math:`q` (Roark [3]_):
    :math:`\\delta(x) = q x (L^3 - 2 L x^2 + x^3) / (24 E I)` with the solid roll's
    :math:`I = \\pi D^4 / 64`; 1 N/mm is 1000 N/m and 1 m is 1e6 um.
    """
    span = cfg.width_m
    ei = STEEL_E_PA * np.pi * cfg.roll_diameter_m**4 / 64.0
    return 1e3 * 1e6 * x_m * (span**3 - 2 * span * x_m**2 + x_m**3) / (24.0 * ei)


@dataclass(frozen=True)
class NipState:
    """The nip at one instant.

    Attributes
    ----------
    gap_um : numpy.ndarray
        Local roll gap across the web (at the gauge bins' positions), um.
    load_n_mm : float
        Line load, N/mm (mean across the web of the local compaction load).
    exit_um : numpy.ndarray
        Exit thickness after spring-back, um.
    """

    gap_um: NDArray[np.float64]
    load_n_mm: float
    exit_um: NDArray[np.float64]


def solve_nip(cfg: CalenderConfig, incoming_um: float, gap_at_bearings_um: float) -> NipState:
    """Balance of load and roll bending in the nip for a gap setting (after drift).

    Parameters
    ----------
    cfg : CalenderConfig
        The calender.
    incoming_um : float
        Incoming film thickness, um.
    gap_at_bearings_um : float
        Gap at the bearings: the setting with thermal closure and eccentricity applied, um.

    Notes
    -----
    :math:`g(x) = g_b + 2 (q - q_d) \\delta_1(x)` with :math:`\\delta_1` the bending per unit
    load (`deflection_shape_um_per_n_mm`; both rolls bend, the crown cancels it at
    :math:`q_d`), and :math:`q` the root of :math:`q - \\overline{q_c(g(x; q))} = 0`
    (`compaction_load_n_mm`).  That function rises with :math:`q` (more load, wider gap, less
    compaction), so the root is unique; `scipy.optimize.brentq` finds it between 0 and the
    largest load the floor on the porosity allows.
    """
    film = cfg.film
    x = (np.arange(cfg.n_bins) + 0.5) / cfg.n_bins * cfg.width_m
    shape = 2.0 * deflection_shape_um_per_n_mm(cfg, x)

    def gap(q: float) -> NDArray[np.float64]:
        return gap_at_bearings_um + (q - cfg.design_load_n_mm) * shape

    def imbalance(q: float) -> float:
        return q - float(np.mean(compaction_load_n_mm(film, incoming_um, gap(q))))

    q_max = film.compaction_resistance_n_mm * np.log(
        (film.porosity - film.min_porosity) / POROSITY_FLOOR
    )
    q = 0.0 if imbalance(0.0) >= 0 else brentq(imbalance, 0.0, q_max + 1.0, xtol=1e-12)
    g = gap(q)
    return NipState(g, float(q), exit_thickness_um(film, incoming_um, g))


class Calender(GaugedLine):
    """The seeded calender line: write the gap setpoint, `advance` time, read gauge scans.

    Parameters
    ----------
    config : CalenderConfig
        The line.
    seed : int
        Seed of every random disturbance; the same seed gives the same line.
    disturbances, gauge_noise : bool
        Switch the named disturbances or the gauge noise off for ground-truth tests.
    """

    def __init__(
        self,
        config: CalenderConfig,
        *,
        seed: int = 0,
        disturbances: bool = True,
        gauge_noise: bool = True,
    ) -> None:
        # the web's history: exit thickness across the web (um) as it left the nip
        super().__init__(
            source_to_gauge_m=config.nip_to_gauge_m,
            speed_m_min=config.speed_m_min,
            n_bins=config.n_bins,
            scan_s=config.scan_s,
            step_s=config.step_s,
            channels={"exit": (config.n_bins,)},
        )
        self.config = config
        self._rng = np.random.default_rng(seed)
        self._dist_on, self._noise_on = disturbances, gauge_noise
        self.gap_setpoint = self.gap = config.gap_um
        self._wander = 0.0
        self._roll_step = 0.0
        self._roll_start_m = 0.0
        self._phase = config.disturbance.eccentricity_phase_rad
        self.rolls = 0
        self.nip = self._solve()
        self._record()

    # --- setpoints (what OPC UA writes) ---------------------------------------------------------

    def set_gap(self, um: float) -> float:
        """Write the gap setpoint; the hydraulics clamp it to their range.  Returns it."""
        lo, hi = self.config.gap_limits_um
        self.gap_setpoint = float(np.clip(um, lo, hi))
        return self.gap_setpoint

    # --- physics ---------------------------------------------------------------------------------

    def incoming_um(self) -> float:
        """Thickness of the film entering the nip now, um."""
        return self.config.film.thickness_um * (1.0 + self._wander + self._roll_step)

    def thermal_closure_um(self) -> float:
        """Gap closed by the rolls' thermal expansion now, um: both radii grow by
        :math:`\\alpha (D/2) \\Delta T (1 - e^{-t/\\tau})`."""
        if not self._dist_on:
            return 0.0
        d = self.config.disturbance
        rise = d.roll_heating_k * -np.expm1(-self.t_s / d.roll_heating_tau_s)
        return 2.0 * STEEL_ALPHA_PER_K * self.config.roll_diameter_m / 2.0 * rise * 1e6

    def rotation_period_s(self) -> float:
        """Time of one roll revolution at the current speed, s: ``pi D / U``."""
        return np.pi * self.config.roll_diameter_m / (self.speed / 60.0)

    def eccentricity_um(self) -> float:
        """Gap change from the bearing eccentricity now, um (one sine per revolution)."""
        if not self._dist_on:
            return 0.0
        return self.config.disturbance.eccentricity_um * np.sin(self._phase)

    def gap_at_bearings_um(self) -> float:
        """Gap at the bearings: the hydraulic gap less thermal closure plus eccentricity, um."""
        return self.gap - self.thermal_closure_um() + self.eccentricity_um()

    def _solve(self) -> NipState:
        return solve_nip(self.config, self.incoming_um(), self.gap_at_bearings_um())

    def _record(self) -> None:
        self._web.record(self.t_s, self.speed, exit=self.nip.exit_um)

    def _step(self, dt: float) -> None:
        c, d = self.config, self.config.disturbance
        self.t_s += dt
        slew = c.gap_slew_um_s * dt
        self.gap += float(np.clip(self.gap_setpoint - self.gap, -slew, slew))
        # the phase advances with the web, so a speed change keeps the sine continuous
        self._phase += 2.0 * np.pi * dt / self.rotation_period_s()
        if self._dist_on:
            self._wander = ar1_step(
                self._wander, dt, d.incoming_tau_s, d.incoming_sigma_pct / 100.0, self._rng
            )
        web_m = self._web.length_m + self.speed / 60.0 * dt
        if web_m - self._roll_start_m >= c.roll_length_m:
            self._roll_start_m = web_m
            self.rolls += 1
            if self._dist_on:  # a new parent roll of cast film
                self._roll_step = d.roll_change_sigma_pct / 100.0 * self._rng.standard_normal()
        self.nip = self._solve()
        self._record()

    def at_gauge(self, t_s: NDArray[np.float64]) -> NDArray[np.float64]:
        """Exit thickness (um) of bin ``i`` of the web under the gauge at ``t_s[i]``: the nip's
        output when that web went through it (linear between model steps)."""
        web = self._web
        n, t, exit_um = len(web), web.t_s, web.values("exit")
        left = web.left_source_s(t_s)
        # each bin has its own time, so each is interpolated in its own column
        k = np.clip(np.searchsorted(t, left, side="right") - 1, 0, max(n - 2, 0))
        k1 = np.minimum(k + 1, n - 1)
        span = np.where(k1 > k, t[k1] - t[k], 1.0)
        w = np.clip((left - t[k]) / span, 0.0, 1.0)
        bins = np.arange(left.size)
        return (1.0 - w) * exit_um[k, bins] + w * exit_um[k1, bins]

    def _read_scan(self) -> Scan:
        c = self.config
        profile = self.at_gauge(self._traverse.bin_times_s())
        if self._noise_on:
            profile = profile + c.gauge_noise_um * self._rng.standard_normal(c.n_bins)
        self._traverse.turn(self.t_s)
        return Scan(t_s=self.t_s, profile_um=profile, md_mean_um=float(profile.mean()))
