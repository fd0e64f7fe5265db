"""Machine-direction thickness control: SIMC-tuned velocity-form PI and the Harris index.

The MD loop moves the pump setpoint from the gauge's traverse mean.  Between the two lie the
die-to-gauge transport (a dead time ``L / U`` of minutes) and the traverse itself, so the
process is close to a gain plus dead time.  The SIMC rule with a closed-loop time constant
equal to the dead time is robust to a factor of two in gain and tens of per cent in dead time
and, in velocity form, has no integrator state to wind up and no bump at start.

References
----------
.. [1] S. Skogestad, "Simple analytic rules for model reduction and PID controller tuning",
   *Journal of Process Control* 13(4), 2003, pp. 291-309 (SIMC rules, eq. 26-27; Table 4
   margins for tau_c = theta).
.. [2] T. J. Harris, "Assessment of control loop performance", *Canadian Journal of Chemical
   Engineering* 67(5), 1989, pp. 856-861.
.. [3] L. Desborough and T. Harris, "Performance assessment measures for univariate feedback
   control", *Canadian Journal of Chemical Engineering* 70(6), 1992, pp. 1186-1197.
.. [4] C. Grimholt and S. Skogestad, "Should we forget the Smith predictor?", *IFAC
   PapersOnLine* 51(4), 2018, pp. 769-774.
.. [5] C. Grimholt and S. Skogestad, "Optimal PI-control and verification of the SIMC tuning
   rule", IFAC Conference on Advances in PID Control (PID'12), Brescia, 2012: for a pure dead time
   the SIMC rule gives a pure integral controller "with somewhat sluggish response"; adding
   a third of the dead time to the time constant in the rule improves on it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import control
import numpy as np
from numpy.typing import ArrayLike


@dataclass(frozen=True)
class PiTuning:
    """PI gains in the parallel form ``u = kc e + ki * integral(e) dt``.

    Attributes
    ----------
    kc : float
        Proportional gain, actuator unit per measurement unit.
    ki : float
        Integral gain, actuator unit per measurement unit per second (``kc / tau_i``; kept
        as ``ki`` so that a process without lag, ``tau_i = 0``, is a pure I controller).
    """

    kc: float
    ki: float


def simc_pi(
    gain: float,
    tau_s: float,
    deadtime_s: float,
    tau_c_s: float | None = None,
    *,
    improved: bool = False,
) -> PiTuning:
    """SIMC PI settings for a first-order-plus-dead-time process.

    Parameters
    ----------
    gain : float
        Steady-state process gain k, measurement unit per actuator unit (e.g. um per
        mL/min).
    tau_s : float
        Process time constant, s (0 for a pure dead time).
    deadtime_s : float
        Effective dead time theta, s (transport, plus half a sample for the hold and half a
        traverse for the gauge's averaging: Skogestad's half rule).
    tau_c_s : float, optional
        Desired closed-loop time constant, s; default ``theta`` (the robust choice of [1]_).
    improved : bool
        Add a third of the dead time to the time constant before applying the rule
        (Grimholt & Skogestad's modification for delay-dominant processes [5]_), which turns
        the sluggish pure-I controller of a pure dead time into a PI.

    Returns
    -------
    PiTuning

    Notes
    -----
    SIMC [1]_, eq. 26-27: :math:`K_c = \\tau / (k (\\tau_c + \\theta))`,
    :math:`\\tau_I = \\min(\\tau, 4 (\\tau_c + \\theta))`, so
    :math:`k_i = K_c / \\tau_I = 1 / (k (\\tau_c + \\theta))` whenever
    :math:`\\tau \\le 4 (\\tau_c + \\theta)`.  Improved: :math:`\\tau \\leftarrow \\tau +
    \\theta / 3` in both.
    """
    if gain == 0 or tau_s < 0 or deadtime_s <= 0:
        raise ValueError("SIMC needs a non-zero gain, tau >= 0 and a positive dead time")
    if improved:
        tau_s = tau_s + deadtime_s / 3.0
    tau_c = deadtime_s if tau_c_s is None else tau_c_s
    kc = tau_s / (gain * (tau_c + deadtime_s))
    tau_i = min(tau_s, 4 * (tau_c + deadtime_s))
    ki = 1.0 / (gain * (tau_c + deadtime_s)) if tau_i == tau_s else kc / tau_i
    return PiTuning(kc=kc, ki=ki)


class VelocityPi:
    """PI in velocity (incremental) form: it proposes a move, not a position.

    Parameters
    ----------
    tuning : PiTuning
        Gains.
    sample_s : float
        Controller period, s (one gauge traverse).

    Notes
    -----
    :math:`\\Delta u_k = K_c (e_k - e_{k-1}) + k_i T_s e_k` with :math:`e = r - y`.  The
    caller adds the move to the setpoint *as read back* after limits, so a clamped actuator
    keeps no integral in reserve (anti-windup by construction) and the first move starts from
    the current setpoint (bumpless).  `reset` forgets :math:`e_{k-1}` after a hold, so that
    resuming does not kick the proportional term.
    """

    def __init__(self, tuning: PiTuning, sample_s: float) -> None:
        self.tuning = tuning
        self.sample_s = sample_s
        self._last_error: float | None = None

    def reset(self) -> None:
        """Forget the previous error (after a hold or at start)."""
        self._last_error = None

    def move(self, error: float) -> float:
        """The move for this period's control error (target minus measurement)."""
        prev = error if self._last_error is None else self._last_error
        self._last_error = error
        return self.tuning.kc * (error - prev) + self.tuning.ki * self.sample_s * error


class MdLoop:
    """The MD loop's controller as the supervisor drives it: pump setpoint from the MD mean.

    Parameters
    ----------
    pi : VelocityPi
        The PI (gains in mL/min per um).
    target_um : float
        Target dry thickness, um.

    Notes
    -----
    `propose` adds the PI's move to the setpoint *as read back*, so a clamped or limited
    setpoint is where the next move starts (anti-windup and bumpless,
    `plantqc.control.loop.LoopSupervisor`).
    """

    def __init__(self, pi: VelocityPi, target_um: float) -> None:
        self.pi = pi
        self.target_um = target_um

    def propose(self, value: ArrayLike, setpoint: np.ndarray) -> np.ndarray:
        """New pump setpoint, mL/min, from the MD mean ``value`` (um)."""
        return setpoint + self.pi.move(self.target_um - float(np.asarray(value)))

    def reset(self) -> None:
        """Forget the last error (after a hold or a mode change)."""
        self.pi.reset()


class BatchFeedforward:
    """Feedforward at a slurry batch change: back to the pump setpoint the last batch started on.

    Within a batch the solvent evaporates and the solids rise, and the feedback trims the pump
    down to hold the thickness; a fresh batch of the same recipe starts again at the nominal
    solids, so the trim it needs is the one the previous batch started with.  Feedback alone
    would see the resulting step only a dead time later and take another two to remove it.

    Notes
    -----
    Call `update` every period with the current batch (roll) id and the setpoint as read back.
    It returns None, except at the first period of a new batch, when it returns the setpoint
    the previous batch had at its first period.
    """

    def __init__(self) -> None:
        self._batch: str | None = None
        self._start: float | None = None

    def update(self, batch: str | None, setpoint: float) -> float | None:
        """The setpoint to go to now, or None."""
        if batch == self._batch:
            return None
        first, self._batch = self._batch is None, batch
        previous_start, self._start = self._start, float(setpoint)
        if first or previous_start is None:
            return None
        self._start = previous_start
        return previous_start


def loop_margins(
    gain: float, tau_s: float, deadtime_s: float, tuning: PiTuning, sample_s: float
) -> tuple[float, float]:
    """Gain margin and phase margin (degrees) of the sampled PI loop.

    The plant is :math:`k e^{-\\theta s}/(\\tau s + 1)` sampled with a zero-order hold
    (python-control ``sample``), the dead time rounded to whole samples, and the controller
    the velocity PI, :math:`C(z) = K_c + k_i T_s / (1 - z^{-1})`.  The delay :math:`z^{-d}`
    enters as the exact phase :math:`-\\omega T_s d` of a dense frequency response up to
    Nyquist, because a polynomial of degree d (hundreds) defeats root-finding.
    """
    d = round(deadtime_s / sample_s)
    plant = (
        control.tf([gain], [tau_s, 1.0]).sample(sample_s, method="zoh")
        if tau_s > 0
        else control.tf([gain], [1.0], sample_s)
    )
    pi = control.tf([tuning.kc + tuning.ki * sample_s, -tuning.kc], [1.0, -1.0], sample_s)
    w = np.geomspace(1e-3 / max(deadtime_s, sample_s), 0.999 * np.pi / sample_s, 20_000)
    h = control.frequency_response(pi * plant, w).complex.ravel()
    phase_deg = np.degrees(np.unwrap(np.angle(h)) - w * sample_s * d)
    gm, pm, *_ = control.stability_margins((np.abs(h), phase_deg, w))
    return float(gm), float(pm)


def harris_index(y: ArrayLike, target: float, deadtime_samples: int, ar_order: int = 20) -> float:
    """Harris index: output variance about target over the minimum-variance floor.

    Parameters
    ----------
    y : array_like
        Controlled output sampled at the controller period (unit of the measurement).
    target : float
        Setpoint (same unit).
    deadtime_samples : int
        Whole sample periods b from a move to its first effect in ``y`` (dead time over the
        period, plus one for the hold).
    ar_order : int
        Order of the autoregression fitted to ``y - target``.

    Returns
    -------
    float
        :math:`\\eta = \\sigma_y^2 / \\sigma_{mv}^2 \\ge 1`; 1 is minimum-variance control.

    Notes
    -----
    Whatever the controller, the first b impulse-response coefficients of the closed loop
    from the disturbance innovations are feedback-invariant [2]_.  Fit
    :math:`e_t = \\sum_{i=1}^{p} a_i e_{t-i} + \\varepsilon_t` by least squares, expand
    :math:`1/A(q^{-1}) = \\sum_i \\psi_i q^{-i}` and take
    :math:`\\sigma_{mv}^2 = \\sigma_\\varepsilon^2 \\sum_{i=0}^{b-1} \\psi_i^2` [3]_;
    :math:`\\sigma_y^2` is the mean square of :math:`e` (an offset counts against the loop).
    """
    e = np.asarray(y, dtype=float) - target
    p = ar_order
    if deadtime_samples < 1 or e.size < 5 * p:
        raise ValueError("need a dead time of at least one sample and >= 5 * ar_order values")
    lags = np.column_stack([e[p - i - 1 : e.size - i - 1] for i in range(p)])
    coef, *_ = np.linalg.lstsq(lags, e[p:], rcond=None)
    sigma2_eps = float(np.mean((e[p:] - lags @ coef) ** 2))
    psi = np.zeros(deadtime_samples)
    psi[0] = 1.0
    for k in range(1, deadtime_samples):
        psi[k] = sum(coef[i] * psi[k - i - 1] for i in range(min(p, k)))
    return float(np.mean(e**2) / (sigma2_eps * np.sum(psi**2)))


def deadtime_samples(deadtime_s: float, sample_s: float) -> int:
    """Whole periods before a move shows in the sampled output: ``floor(theta / Ts) + 1``."""
    return math.floor(deadtime_s / sample_s + 1e-9) + 1
