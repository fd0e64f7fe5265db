"""Exponentially weighted moving average (EWMA) chart with exact time-varying limits.

References
----------
.. [1] D. C. Montgomery, *Introduction to Statistical Quality Control*, 7th ed., Wiley, 2013,
   §9.2, eq. 9.22-9.24, Example 9.2 and Table 9.12.
.. [2] J. M. Lucas and M. S. Saccucci, "Exponentially weighted moving average control schemes:
   properties and enhancements", *Technometrics* 32(1), 1990, pp. 1-12.
.. [3] S. W. Roberts, "Control chart tests based on geometric moving averages",
   *Technometrics* 1(3), 1959, pp. 239-250.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import signal

from spc.charts import ChartSet, ControlChart, constant
from spc.errors import SPCInputError
from spc.rules import apply_limit_rule
from spc.timeweighted import target_and_sigma
from spc.validation import as_float_array, check_min_points


@dataclass(frozen=True)
class EWMAParameters:
    """EWMA design and frozen in-control parameters.

    Attributes
    ----------
    target : float
        In-control mean :math:`\\mu_0` (unit of the measurements), also the start value z0.
    sigma : float
        In-control standard deviation of one observation (unit of the measurements).
    lam : float
        Smoothing constant :math:`\\lambda` in (0, 1].
    L : float
        Limit width in standard deviations of the EWMA statistic.
    sigma_method : str
        ``given`` or how sigma was estimated.
    """

    target: float
    sigma: float
    lam: float = 0.2
    L: float = 3.0
    sigma_method: str = "given"

    def __post_init__(self) -> None:
        if not 0.0 < self.lam <= 1.0:
            raise SPCInputError(f"lambda must be in (0, 1], got {self.lam}.")
        if not self.L > 0.0:
            raise SPCInputError(f"L must be positive, got {self.L}.")


def ewma_statistic(x: np.ndarray, lam: float, start: float) -> np.ndarray:
    r"""EWMA :math:`z_i = \lambda x_i + (1-\lambda) z_{i-1}` with :math:`z_0` = ``start``.

    Computed as a first-order IIR filter (``scipy.signal.lfilter``), in the unit of ``x``.
    """
    z, _ = signal.lfilter([lam], [1.0, lam - 1.0], x, zi=[(1.0 - lam) * start])
    return z


def ewma_sigma_factor(lam: float, count: int) -> np.ndarray:
    r""":math:`\sqrt{\lambda/(2-\lambda)\,[1-(1-\lambda)^{2i}]}` for i = 1..count, per sigma.

    Once :math:`(1-\lambda)^{2i}` is below half an ulp of 1 the bracket is exactly 1 in floating
    point, so the power is evaluated only for the early points.
    """
    ratio = lam / (2.0 - lam)
    keep = 1.0 - lam
    settled = count if keep <= 0.0 else int(np.ceil(-60.0 / np.log2(keep) / 2.0)) + 1
    head = np.arange(1, min(count, settled) + 1, dtype=float)
    factor = np.full(count, np.sqrt(ratio))
    factor[: head.size] = np.sqrt(ratio * (1.0 - keep ** (2.0 * head)))
    return factor


def ewma(
    values: Any,
    labels: Any = None,
    *,
    lam: float = 0.2,
    L: float = 3.0,
    target: float | None = None,
    sigma: float | None = None,
    reference: Any = None,
    parameters: EWMAParameters | None = None,
    rules: str | None = "nelson",
) -> ChartSet:
    r"""EWMA chart of individual observations with exact (time-varying) limits.

    Parameters
    ----------
    values : array-like
        Observations in time order (any unit).
    labels : array-like, optional
        Label per observation (default 1..n).
    lam : float
        Smoothing constant :math:`\lambda` (0 < lambda <= 1); Montgomery suggests 0.05-0.25.
    L : float
        Limit width in standard deviations of :math:`z_i`.
    target, sigma : float, optional
        In-control mean and sigma (unit of ``values``); estimated from ``reference`` as the mean
        and :math:`\overline{MR}/d_2` when omitted.
    reference : int or array of bool, optional
        Phase I period for the estimates (default all observations).
    parameters : EWMAParameters, optional
        Frozen parameters; overrides the other design arguments.
    rules : str, optional
        ``none`` disables signalling; otherwise points beyond the limits signal with the
        beyond-limits code of the selected rule set (run rules do not apply to the
        autocorrelated EWMA statistic).

    Returns
    -------
    ChartSet
        Chart ``ewma`` of :math:`z_i` in the unit of the observations.

    Notes
    -----
    .. math:: z_i = \lambda x_i + (1-\lambda) z_{i-1}, \quad z_0 = \mu_0, \qquad
              \mu_0 \pm L\sigma\sqrt{\frac{\lambda}{2-\lambda}[1-(1-\lambda)^{2i}]}

    (Montgomery [1]_ eq. 9.22-9.24).
    """
    x = as_float_array(values)
    check_min_points(x.size, 2, "observations")
    if parameters is None:
        mean, sd, method = target_and_sigma(x, target, sigma, reference)
        parameters = EWMAParameters(mean, sd, lam, L, method)
    p = parameters
    z = ewma_statistic(x, p.lam, p.target)
    spread = p.sigma * ewma_sigma_factor(p.lam, x.size)
    center = constant(p.target, x.size)
    chart = ControlChart(
        name="ewma",
        values=z,
        center=center,
        ucl=center + p.L * spread,
        lcl=center - p.L * spread,
        sigma=spread,
        labels=np.arange(1, x.size + 1) if labels is None else np.asarray(labels),
    )
    return ChartSet(
        chart="ewma",
        sigma=p.sigma,
        sigma_method=p.sigma_method,
        charts={"ewma": apply_limit_rule(chart, rules)},
        limits=p,
        extra={"target": p.target, "lambda": p.lam, "L": p.L},
    )
