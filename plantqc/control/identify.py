"""Identification from bump tests: MD gain and dead time, CD response width and alignment.

MD: the operator steps the pump setpoint (a bump test) and the gauge records its traverse
means.  The fit is a first-order-plus-dead-time model seen through the gauge: the die's
thickness follows the pump through a lag ``tau`` and reaches the gauge ``theta`` later, and
each traverse reports the mean of what passed under it, so

.. math::

    \\hat y_k = y_0 + \\beta (t_k - t_0)
        + K \\frac{1}{T_s} \\int_{t_k - T_s}^{t_k} (u_f(s - \\theta) - u_0) \\, ds,
    \\qquad \\tau \\dot u_f = u - u_f,

with ``u`` the pump setpoint held from each row to the next, ``T_s`` the traverse time and a
linear drift ``beta`` for the solids that rise as solvent evaporates during the test.  Fitted
with `scipy.optimize.least_squares` (the residual is not
convex in ``theta``: a grid search first).

CD: the die bolts are bumped one state at a time and held until the profile has settled.  The
steady profiles (in % of their mean) are ``p_r = b + G(w, delta, g) u_r`` with an unknown
baseline ``b`` (the line's own CD profile); removing the mean over states removes ``b``, and
``w, delta, g`` are fitted by least squares on the rest.

References
----------
.. [1] L. Ljung, *System Identification: Theory for the User*, 2nd ed., Prentice Hall, 1999,
   ch. 7 (prediction-error methods).
.. [2] D. M. Gorinevsky and C. Gheorghe, "Identification tool for cross-directional
   processes", *IEEE Trans. Control Systems Technology* 11(5), 2003, pp. 629-640.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import least_squares
from scipy.signal import lfilter

from plantqc.control.response import response_matrix


@dataclass(frozen=True)
class MdEstimate:
    """FOPDT estimate of pump setpoint -> gauge MD mean.

    Attributes
    ----------
    gain_um_per_ml_min : float
        Steady-state gain K, um per mL/min.
    deadtime_s : float
        Transport dead time theta, s (the gauge's traverse averaging is modelled apart).
    tau_s : float
        Lag tau, s.
    drift_um_s : float
        Linear drift over the test, um/s.
    rms_residual_um : float
        Root-mean-square residual of the fit, um.
    """

    gain_um_per_ml_min: float
    deadtime_s: float
    tau_s: float
    drift_um_s: float
    rms_residual_um: float


@dataclass(frozen=True)
class CdEstimate:
    """Die-bolt response estimate (`plantqc.control.response.response_matrix`).

    Attributes
    ----------
    width_pitch, misalignment_pitch, gain : float
        Response width and shift (actuator pitches) and peak gain (% per %).
    states : int
        Distinct steady actuator states used.
    rms_residual_pct : float
        Root-mean-square residual, % of the mean thickness.
    """

    width_pitch: float
    misalignment_pitch: float
    gain: float
    states: int
    rms_residual_pct: float


def _gauge_model(
    t_s: NDArray[np.float64],
    u: NDArray[np.float64],
    scan_s: float,
    gain: float,
    deadtime_s: float,
    tau_s: float,
    dt: float,
    max_deadtime_s: float,
) -> NDArray[np.float64]:
    """Traverse means of ``gain * (u_f(t - theta) - u_0)`` at the row times (no offset, drift).

    The grid does not move with ``theta`` and holds the row times (when they are whole
    multiples of ``dt`` apart), so the integral is exact for the held setpoint and continuous
    in ``theta``, which the least-squares refinement needs.
    """
    before = int(np.ceil((scan_s + max_deadtime_s) / dt)) + 1
    grid = t_s[0] + dt * np.arange(-before, int(np.ceil((t_s[-1] - t_s[0]) / dt)) + 1)
    # setpoint held from each row until the next; before the first row it was the first value
    held = u[np.clip(np.searchsorted(t_s, grid, side="right") - 1, 0, None)] - u[0]
    if tau_s > 0:  # first-order lag, exact for a setpoint held over each dt
        a = np.exp(-dt / tau_s)
        held = lfilter([1.0 - a], [1.0, -a], held)
    cumulative = np.concatenate([[0.0], np.cumsum(held) * dt])
    edges = np.concatenate([[grid[0]], grid + dt])

    def integral(x: NDArray[np.float64]) -> NDArray[np.float64]:
        return np.interp(x, edges, cumulative)

    delayed_end = t_s - deadtime_s
    mean = (integral(delayed_end) - integral(delayed_end - scan_s)) / scan_s
    return gain * mean


def identify_md(
    t_s: NDArray[np.float64],
    flow_ml_min: NDArray[np.float64],
    md_mean_um: NDArray[np.float64],
    *,
    scan_s: float | None = None,
    max_deadtime_s: float | None = None,
) -> MdEstimate:
    """Fit gain, dead time and lag to a pump bump test.

    Parameters
    ----------
    t_s : numpy.ndarray
        Time of each row (end of a gauge traverse), s, increasing.
    flow_ml_min : numpy.ndarray
        Pump setpoint at that time (after any step made then), mL/min.
    md_mean_um : numpy.ndarray
        The traverse's MD mean, um.
    scan_s : float, optional
        Traverse time, s; default the median spacing of the rows.
    max_deadtime_s : float, optional
        Upper bound of the dead-time search, s; default half the record.

    Returns
    -------
    MdEstimate

    Raises
    ------
    ValueError
        Fewer than 10 rows, or the pump never moved.
    """
    t = np.asarray(t_s, dtype=float)
    u = np.asarray(flow_ml_min, dtype=float)
    y = np.asarray(md_mean_um, dtype=float)
    if t.size < 10:
        raise ValueError("a bump test needs at least 10 gauge traverses")
    if np.ptp(u) == 0:
        raise ValueError("the pump setpoint never moves in the bump test")
    ts = float(np.median(np.diff(t))) if scan_s is None else scan_s
    theta_max = (t[-1] - t[0]) / 2 if max_deadtime_s is None else max_deadtime_s
    dt = ts / 20.0
    tau_max = theta_max

    def residual(p: NDArray[np.float64]) -> NDArray[np.float64]:
        y0, slope, gain, theta, tau = p
        model = _gauge_model(t, u, ts, gain, theta, tau, dt, theta_max)
        return y0 + slope * (t - t[0]) + model - y

    # the residual has a valley about one traverse wide in theta: search a grid finer than
    # that, where offset, drift and gain are linear (tau = 0), then refine all five
    best_grid = None
    for theta0 in np.arange(0.0, theta_max, ts / 4):
        shape = _gauge_model(t, u, ts, 1.0, theta0, 0.0, dt, theta_max)
        basis = np.column_stack([np.ones_like(t), t - t[0], shape])
        coef, *_ = np.linalg.lstsq(basis, y, rcond=None)
        cost = float(np.sum((basis @ coef - y) ** 2))
        if best_grid is None or cost < best_grid[0]:
            best_grid = (cost, theta0, coef)
    assert best_grid is not None
    _, theta0, (y00, slope0, gain0) = best_grid
    best = least_squares(
        residual,
        x0=[y00, slope0, gain0, theta0, 0.0],
        bounds=(
            [-np.inf, -np.inf, -np.inf, 0.0, 0.0],
            [np.inf, np.inf, np.inf, theta_max, tau_max],
        ),
        x_scale=[1.0, 1e-4, abs(gain0) or 1.0, ts, ts],
    )
    assert best is not None
    _, slope, gain, theta, tau = best.x
    rms = float(np.sqrt(np.mean(best.fun**2)))
    return MdEstimate(float(gain), float(theta), float(tau), float(slope), rms)


def steady_states(
    t_s: NDArray[np.float64], actuators: NDArray[np.float64], settle_s: float
) -> NDArray[np.bool_]:
    """Rows whose actuator setpoints have not changed for at least ``settle_s``."""
    t = np.asarray(t_s, dtype=float)
    a = np.asarray(actuators, dtype=float)
    changed = np.r_[True, np.any(np.diff(a, axis=0) != 0, axis=1)]
    last_change = np.maximum.accumulate(np.where(changed, t, -np.inf))
    return (t - last_change) >= settle_s


def identify_cd(
    t_s: NDArray[np.float64],
    actuators_pct: NDArray[np.float64],
    profiles_um: NDArray[np.float64],
    *,
    settle_s: float,
) -> CdEstimate:
    """Fit the die-bolt response width, misalignment and gain to actuator bumps.

    Parameters
    ----------
    t_s : numpy.ndarray
        Time of each row (a gauge traverse), s.
    actuators_pct : numpy.ndarray
        Die-bolt setpoints at that time, % of local flow, shape ``(rows, zones)``.
    profiles_um : numpy.ndarray
        The traverse's profile, um, shape ``(rows, bins)``.
    settle_s : float
        Time after a bump before the profile counts as settled, s (dead time plus the bolts'
        slew and a few traverses).

    Returns
    -------
    CdEstimate

    Raises
    ------
    ValueError
        Fewer than two distinct settled actuator states.
    """
    a = np.asarray(actuators_pct, dtype=float)
    p = np.asarray(profiles_um, dtype=float)
    ok = steady_states(t_s, a, settle_s)
    a, p = a[ok], p[ok]
    states, which = np.unique(a, axis=0, return_inverse=True)
    if len(states) < 2:
        raise ValueError("need at least two distinct settled die-bolt states to identify CD")
    pct = 100.0 * (p - p.mean(axis=1, keepdims=True)) / p.mean(axis=1, keepdims=True)
    # average the traverses of each state: one steady profile per state
    mean_pct = np.array([pct[which.ravel() == i].mean(axis=0) for i in range(len(states))])
    dp = mean_pct - mean_pct.mean(axis=0)
    du = states - states.mean(axis=0)
    n_bins, n_zones = p.shape[1], a.shape[1]

    def residual(x: NDArray[np.float64]) -> NDArray[np.float64]:
        w, delta, g = x
        g_mat = response_matrix(n_bins, n_zones, width_pitch=w, misalignment_pitch=delta, gain=g)
        return (du @ g_mat.T - dp).ravel()

    best = None
    for w0 in (0.5, 1.0, 2.0):
        for d0 in (-0.5, 0.0, 0.5):
            bounds = ([0.1, -3.0, 0.0], [10.0, 3.0, np.inf])
            fit = least_squares(residual, x0=[w0, d0, 1.0], bounds=bounds)
            if best is None or fit.cost < best.cost:
                best = fit
    assert best is not None
    w, delta, g = best.x
    rms = float(np.sqrt(np.mean(best.fun**2)))
    return CdEstimate(float(w), float(delta), float(g), len(states), rms)
