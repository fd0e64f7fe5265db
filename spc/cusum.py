"""Tabular (algorithmic) CUSUM in standardized units, with optional fast initial response.

References
----------
.. [1] D. C. Montgomery, *Introduction to Statistical Quality Control*, 8th ed., Wiley, 2019,
   §9.1.2-9.1.5, eq. 9.2-9.3, Example 9.1 and Table 9.2; standardized CUSUM §9.1.5; rational
   subgroups, §9.1 (subgroup means with sigma / sqrt(n)).
.. [2] J. M. Lucas and R. B. Crosier, "Fast initial response for CUSUM quality-control schemes",
   *Technometrics* 24(3), 1982, pp. 199-205.
.. [3] E. S. Page, "Continuous inspection schemes", *Biometrika* 41, 1954, pp. 100-115.
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

# The Lindley form subtracts running minima of a cumulative sum; restarting the sum every block
# keeps its magnitude, and so the rounding error, small on long series.
_BLOCK = 8192


@dataclass(frozen=True)
class CUSUMParameters:
    """Tabular CUSUM design and frozen in-control parameters.

    Attributes
    ----------
    target : float
        In-control mean :math:`\\mu_0` (unit of the measurements).
    sigma : float
        In-control standard deviation of one observation (unit of the measurements).
    k : float
        Reference value in sigma units (half the shift to detect; 0.5 detects 1 sigma).
    h : float
        Decision interval in sigma units.
    headstart : float
        Fast-initial-response start value in sigma units (0 for none, h/2 as Lucas & Crosier).
    sigma_method : str
        ``given`` or how sigma was estimated.
    """

    target: float
    sigma: float
    k: float = 0.5
    h: float = 5.0
    headstart: float = 0.0
    sigma_method: str = "given"

    def __post_init__(self) -> None:
        if self.k < 0.0 or not self.h > 0.0:
            raise SPCInputError(f"CUSUM needs k >= 0 and h > 0, got k={self.k}, h={self.h}.")
        if not 0.0 <= self.headstart < self.h:
            raise SPCInputError(f"The headstart must be in [0, h), got {self.headstart}.")


def cusum_upper(y: np.ndarray, k: float, start: float = 0.0) -> np.ndarray:
    r"""One-sided upper CUSUM :math:`C_i = \max(0, C_{i-1} + y_i - k)`, :math:`C_0` = ``start``.

    Vectorized as a Lindley recursion: with :math:`S_i = \sum_{j\le i}(y_j - k)`,
    :math:`C_i = S_i - \min(-C_0, \min_{j\le i} S_j)`, evaluated block by block.
    """
    out = np.empty_like(y, dtype=float)
    carry = float(start)
    for begin in range(0, y.size, _BLOCK):
        increments = y[begin : begin + _BLOCK] - k
        partial = np.cumsum(increments)
        floor = np.minimum(np.minimum.accumulate(partial), -carry)
        block = partial - floor
        out[begin : begin + _BLOCK] = block
        carry = float(block[-1])
    return out


def run_lengths(c: np.ndarray) -> np.ndarray:
    """Number of consecutive periods each CUSUM value has been above zero (N+ / N-)."""
    index = np.arange(c.size)
    last_zero = np.maximum.accumulate(np.where(c <= 0.0, index, -1))
    counts = index - last_zero
    counts[c <= 0.0] = 0
    return counts


def cusum(
    values: Any,
    labels: Any = None,
    *,
    k: float = 0.5,
    h: float = 5.0,
    fir: bool = False,
    target: float | None = None,
    sigma: float | None = None,
    reference: Any = None,
    parameters: CUSUMParameters | None = None,
    rules: str | None = "nelson",
    subgroup: Any = None,
    headstart: float | None = None,
    sigma_method: str | None = None,
    constants: str | ChartConstants = "exact",
    unequal: str = "weighted",
) -> ChartSet:
    r"""Tabular CUSUM charts (upper and lower) in standardized (sigma) units.

    Parameters
    ----------
    values : array-like
        Observations in time order (any unit).
    labels : array-like, optional
        Label per observation (default 1..n).
    k, h : float
        Reference value and decision interval in sigma units (Montgomery: k = 0.5, h = 4 or 5).
    fir : bool
        Fast initial response: start both sums at h/2 (Lucas & Crosier [2]_).
    target, sigma : float, optional
        In-control mean and sigma (unit of ``values``); estimated from ``reference`` when omitted.
    reference : int or array of bool, optional
        Phase I period for the estimates.
    parameters : CUSUMParameters, optional
        Frozen parameters; overrides the other design arguments.
    rules : str, optional
        ``none`` disables signalling; otherwise a sum above h signals with the beyond-limits
        code of the rule set.
    subgroup : array-like, optional
        Subgroup label per observation: the sums accumulate standardized subgroup means
        :math:`(\bar x_i - \mu_0)\sqrt{n_i}/\sigma`, so k and h are in standard errors of the
        mean (as qcc's ``se.shift`` and ``decision.interval``), ``reference`` counts subgroups.
    headstart : float, optional
        Start value of both sums in sigma units (fast initial response); overrides ``fir``.
    sigma_method, constants, unequal
        Sigma estimator, constant set and unequal-size convention
        (:func:`spc.timeweighted.time_weighted_series`).

    Returns
    -------
    ChartSet
        Charts ``cusum_upper`` (:math:`C_i^+`) and ``cusum_lower`` (:math:`C_i^-`), both
        non-negative, in sigma units, with UCL h and LCL 0; ``extra`` holds N+ and N-.

    Notes
    -----
    With :math:`y_i = (\bar x_i - \mu_0)\sqrt{n_i}/\sigma` (n = 1 for individuals; Montgomery
    [1]_ eq. 9.2-9.3 and §9.1.5; rational subgroups in §9.1):

    .. math:: C_i^+ = \max(0, y_i - k + C_{i-1}^+), \qquad
              C_i^- = \max(0, -k - y_i + C_{i-1}^-)

    A signal occurs when either sum exceeds h.  When :math:`\sigma = 1` the values equal those of
    the unstandardized tabular CUSUM with K = k and H = h (Table 9.2).
    """
    series = time_weighted_series(
        values, labels, subgroup, estimate=parameters is None, target=target, sigma=sigma,
        reference=reference, sigma_method=sigma_method, constants=constants, unequal=unequal,
    )  # fmt: skip
    if parameters is None:
        start = (h / 2.0 if fir else 0.0) if headstart is None else float(headstart)
        parameters = CUSUMParameters(series.target, series.sigma, k, h, start, series.sigma_method)
    p = parameters
    count = series.values.size
    y = (series.values - p.target) * np.sqrt(series.sizes) / p.sigma
    upper = cusum_upper(y, p.k, p.headstart)
    lower = cusum_upper(-y, p.k, p.headstart)
    ucl = constant(p.h, count)
    zero = constant(0.0, count)
    charts = {
        name: apply_limit_rule(
            ControlChart(name, c, zero, ucl, zero, constant(1.0, count), series.labels), rules
        )
        for name, c in (("cusum_upper", upper), ("cusum_lower", lower))
    }
    return ChartSet(
        chart="cusum",
        sigma=p.sigma,
        sigma_method=p.sigma_method,
        charts=charts,
        limits=p,
        extra={
            "target": p.target,
            "k": p.k,
            "h": p.h,
            "headstart": p.headstart,
            "constants": chart_constants(constants).name,
            "n_upper": run_lengths(upper),
            "n_lower": run_lengths(lower),
        },
    )
