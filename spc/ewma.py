"""Exponentially weighted moving average (EWMA) chart with exact time-varying limits.

References
----------
.. [1] D. C. Montgomery, *Introduction to Statistical Quality Control*, 8th ed., Wiley, 2019,
   §9.2, eq. 9.22-9.24, Example 9.2 and Table 9.12; rational subgroups in §9.2.
.. [2] J. M. Lucas and M. S. Saccucci, "Exponentially weighted moving average control schemes:
   properties and enhancements", *Technometrics* 32(1), 1990, pp. 1-12.
.. [3] S. W. Roberts, "Control chart tests based on geometric moving averages",
   *Technometrics* 1(3), 1959, pp. 239-250.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from spc.charts import ChartSet, ControlChart, constant
from spc.constants import ChartConstants, chart_constants
from spc.errors import SPCInputError
from spc.rules import apply_limit_rule
from spc.timeweighted import time_weighted_series


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
    from scipy import signal  # here: the streaming charts import this module, not SciPy

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


def ewma_spread(lam: float, sizes: np.ndarray) -> np.ndarray:
    r"""Standard deviation of :math:`z_i` per sigma of one observation, for means of ``sizes``.

    For equal sizes n this is :func:`ewma_sigma_factor` / sqrt(n).  For unequal sizes the
    variance of :math:`z_i = \lambda \bar x_i + (1-\lambda) z_{i-1}` follows the recursion
    :math:`v_i = (1-\lambda)^2 v_{i-1} + \lambda^2 / n_i`, :math:`v_0 = 0` (independent means).
    """
    if np.all(sizes == sizes[0]):
        return ewma_sigma_factor(lam, sizes.size) / np.sqrt(sizes[0])
    from scipy import signal

    variance = signal.lfilter([lam * lam], [1.0, -((1.0 - lam) ** 2)], 1.0 / sizes)
    return np.sqrt(variance)


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
    subgroup: Any = None,
    sigma_method: str | None = None,
    constants: str | ChartConstants = "exact",
    unequal: str = "weighted",
) -> ChartSet:
    r"""EWMA chart of individual observations or subgroup means, with exact (time-varying) limits.

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
    subgroup : array-like, optional
        Subgroup label per observation: the chart smooths subgroup means, sigma is the
        within-subgroup sigma of one observation, ``reference`` counts subgroups, and unequal
        sizes give per-point limits (:func:`ewma_spread`).
    sigma_method, constants, unequal
        Sigma estimator, constant set and unequal-size convention
        (:func:`spc.timeweighted.time_weighted_series`).

    Returns
    -------
    ChartSet
        Chart ``ewma`` of :math:`z_i` in the unit of the observations.

    Notes
    -----
    .. math:: z_i = \lambda \bar x_i + (1-\lambda) z_{i-1}, \quad z_0 = \mu_0, \qquad
              \mu_0 \pm L\frac{\sigma}{\sqrt n}
              \sqrt{\frac{\lambda}{2-\lambda}[1-(1-\lambda)^{2i}]}

    (Montgomery [1]_ eq. 9.22-9.24, with n = 1 for individuals).
    """
    series = time_weighted_series(
        values, labels, subgroup, estimate=parameters is None, target=target, sigma=sigma,
        reference=reference, sigma_method=sigma_method, constants=constants, unequal=unequal,
    )  # fmt: skip
    if parameters is None:
        parameters = EWMAParameters(series.target, series.sigma, lam, L, series.sigma_method)
    p = parameters
    count = series.values.size
    z = ewma_statistic(series.values, p.lam, p.target)
    spread = p.sigma * ewma_spread(p.lam, series.sizes)
    center = constant(p.target, count)
    chart = ControlChart(
        name="ewma",
        values=z,
        center=center,
        ucl=center + p.L * spread,
        lcl=center - p.L * spread,
        sigma=spread,
        labels=series.labels,
    )
    return ChartSet(
        chart="ewma",
        sigma=p.sigma,
        sigma_method=p.sigma_method,
        charts={"ewma": apply_limit_rule(chart, rules)},
        limits=p,
        extra={
            "target": p.target,
            "lambda": p.lam,
            "L": p.L,
            "constants": chart_constants(constants).name,
        },
    )
