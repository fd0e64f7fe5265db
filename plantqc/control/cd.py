"""Cross-direction profile control: a constrained QP on the die-bolt response matrix.

Each period the controller asks for the die-bolt moves that remove a fraction ``alpha`` of
the *controllable* part of the measured profile deviation, subject to the bolts' bounds, a
maximum move per period and a bound on bending between neighbours, with a smoothness
penalty so the lip does not picket.  Only features wider than about two actuator pitches can
be moved by the bolts (Duncan 1989): the profile is split into its projection on the
high-gain spatial modes of the response matrix (controllable) and the rest (residual), and
only the first is fed back, so that the loop does not chase what it cannot reach.  ``alpha``
is the SIMC integral gain over one period, ``Ts / (tau_c + theta)`` with ``tau_c = theta``:
the same transport dead time as the MD loop lies between die and gauge.

References
----------
.. [1] S. R. Duncan, "The cross-directional control of web forming processes", PhD thesis,
   Imperial College London, 1989.
.. [2] G. E. Stewart, D. M. Gorinevsky and G. A. Dumont, "Feedback controller design for a
   spatially distributed system: the paper machine problem", *IEEE Trans. Control Systems
   Technology* 11(5), 2003, pp. 612-628.
.. [3] W. P. Heath, "Orthogonal functions for cross-directional control of web forming
   processes", *Automatica* 32(2), 1996, pp. 183-198.
.. [4] P. Goulart, Y. Chen, "Clarabel: an interior-point solver for conic programs with
   quadratic objectives", arXiv:2405.12762, 2024.
"""

from __future__ import annotations

from dataclasses import dataclass

import cvxpy as cp
import numpy as np
from numpy.typing import NDArray


def controllable_basis(response: NDArray[np.float64], rel_gain: float = 0.1) -> NDArray:
    """Orthonormal basis of the profile shapes the actuators can make with useful gain.

    Parameters
    ----------
    response : numpy.ndarray
        Response matrix, shape ``(n_bins, n_zones)``.
    rel_gain : float
        Keep the left singular vectors whose singular value is at least this fraction of the
        largest.  For a Gaussian response of width w pitches the singular values follow
        :math:`e^{-2 \\pi^2 w^2 f^2}` (f in cycles per pitch), so 0.1 keeps features with a
        period above about 2.9 pitches when w = 1.

    Returns
    -------
    numpy.ndarray
        Shape ``(n_bins, r)`` with orthonormal columns.
    """
    u, s, _ = np.linalg.svd(response, full_matrices=False)
    return u[:, s >= rel_gain * s[0]]


def split_profile(
    deviation: NDArray[np.float64], basis: NDArray[np.float64]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Controllable and residual parts of a profile deviation (same unit as the input).

    Notes
    -----
    Orthogonal projection :math:`P = B B^T` on the span of `controllable_basis`:
    controllable :math:`= P e`, residual :math:`= e - P e`; the two are orthogonal, so their
    variances add up to that of :math:`e`.
    """
    controllable = basis @ (basis.T @ deviation)
    return controllable, deviation - controllable


@dataclass(frozen=True)
class CdSettings:
    """Tuning and limits of the CD controller (actuator unit: % of local flow).

    Attributes
    ----------
    alpha : float
        Fraction of the controllable deviation removed per period (integral gain x period).
    limit : float
        Actuator bound, +/- around zero.
    max_move : float
        Largest move of one actuator per period.
    max_bend : float
        Bound on the second difference between neighbours, :math:`|u_{j-1} - 2u_j + u_{j+1}|`
        (bending of the die lip).
    smoothness : float
        Weight of the squared second differences of the actuator profile.
    move_weight : float
        Weight of the squared moves (keeps the unobservable directions still).
    rel_gain : float
        Cut-off of `controllable_basis`.
    """

    alpha: float = 0.05
    limit: float = 10.0
    max_move: float = 1.0
    max_bend: float = 4.0
    smoothness: float = 0.05
    move_weight: float = 0.01
    rel_gain: float = 0.1


class CdController:
    """Constrained QP for the die-bolt moves; compiled once, re-solved each period.

    Parameters
    ----------
    response : numpy.ndarray
        Model response matrix, % of local thickness per % of local flow,
        shape ``(n_bins, n_zones)`` (`plantqc.control.response.response_matrix`).
    settings : CdSettings
        Tuning and limits.
    solver : str
        A cvxpy QP solver: ``CLARABEL`` (default) or ``OSQP``.

    Notes
    -----
    With :math:`e_c` the controllable part of the profile deviation in % of the mean,
    :math:`u_0` the current setpoints and :math:`D_2` the second-difference operator:

    .. math::

        \\min_{\\Delta u}\\ \\lVert \\alpha e_c + G \\Delta u \\rVert^2
        + \\lambda_s \\lVert D_2 (u_0 + \\Delta u) \\rVert^2
        + \\lambda_m \\lVert \\Delta u \\rVert^2

    subject to :math:`|u_0 + \\Delta u| \\le u_{max}`, :math:`|\\Delta u| \\le \\Delta_{max}`,
    :math:`|D_2 (u_0 + \\Delta u)| \\le b_{max}`.  Written with cvxpy parameters (DPP) so the
    problem is canonicalised once.  When the current setpoints already break the bending bound
    (an operator's manual move), the bound is what they have, so that holding still is feasible.
    """

    def __init__(
        self,
        response: NDArray[np.float64],
        settings: CdSettings | None = None,
        solver: str = "CLARABEL",
    ) -> None:
        s = settings or CdSettings()
        self.settings = s
        self.response = response
        self.basis = controllable_basis(response, s.rel_gain)
        self.solver = solver
        n = response.shape[1]
        d2 = np.diff(np.eye(n), 2, axis=0)
        self._e = cp.Parameter(response.shape[0])
        self._u0 = cp.Parameter(n)
        self._bend = cp.Parameter(nonneg=True)
        self._du = cp.Variable(n)
        u = self._u0 + self._du
        objective = (
            cp.sum_squares(s.alpha * self._e + response @ self._du)
            + s.smoothness * cp.sum_squares(d2 @ u)
            + s.move_weight * cp.sum_squares(self._du)
        )
        constraints = [
            cp.abs(u) <= s.limit,
            cp.abs(self._du) <= s.max_move,
            cp.abs(d2 @ u) <= self._bend,
        ]
        self._problem = cp.Problem(cp.Minimize(objective), constraints)
        self._d2 = d2

    def deviation_pct(self, profile: NDArray[np.float64]) -> NDArray[np.float64]:
        """Profile deviation from its own mean, % of the mean."""
        mean = float(np.mean(profile))
        return 100.0 * (profile - mean) / mean

    def solve(
        self, profile: NDArray[np.float64], current: NDArray[np.float64]
    ) -> NDArray[np.float64]:
        """New actuator setpoints from a measured profile (any unit) and the current ones."""
        s = self.settings
        controllable, _ = split_profile(self.deviation_pct(profile), self.basis)
        u0 = np.clip(np.asarray(current, dtype=float), -s.limit, s.limit)
        self._e.value = controllable
        self._u0.value = u0
        # setpoints already bent beyond the bound (a manual move) may not get worse
        self._bend.value = max(s.max_bend, float(np.max(np.abs(self._d2 @ u0), initial=0.0)))
        self._problem.solve(solver=self.solver)
        if self._du.value is None:
            raise RuntimeError(f"CD QP not solved: {self._problem.status}")
        return np.clip(u0 + self._du.value, -s.limit, s.limit)

    def propose(self, value: NDArray[np.float64], setpoint: NDArray[np.float64]) -> NDArray:
        """`solve` as `plantqc.control.loop.LoopSupervisor` drives it."""
        return self.solve(np.asarray(value, dtype=float), setpoint)

    def reset(self) -> None:
        """Nothing to forget: the QP keeps no state between periods."""
