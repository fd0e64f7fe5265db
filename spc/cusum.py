"""Tabular (algorithmic) CUSUM in standardized units, with optional fast initial response.

References
----------
.. [1] D. C. Montgomery, *Introduction to Statistical Quality Control*, 7th ed., Wiley, 2013,
   §9.1.2-9.1.5, eq. 9.2-9.3, Example 9.1 and Table 9.2; standardized CUSUM §9.1.5.
.. [2] J. M. Lucas and R. B. Crosier, "Fast initial response for CUSUM quality-control schemes",
   *Technometrics* 24(3), 1982, pp. 199-205.
.. [3] E. S. Page, "Continuous inspection schemes", *Biometrika* 41, 1954, pp. 100-115.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from spc.charts import ChartSet, ControlChart, constant
from spc.errors import SPCInputError
from spc.rules import apply_limit_rule
from spc.timeweighted import target_and_sigma
from spc.validation import as_float_array, check_min_points

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

    Returns
    -------
    ChartSet
        Charts ``cusum_upper`` (:math:`C_i^+`) and ``cusum_lower`` (:math:`C_i^-`), both
        non-negative, in sigma units, with UCL h and LCL 0; ``extra`` holds N+ and N-.

    Notes
    -----
    With :math:`y_i = (x_i - \mu_0)/\sigma` (Montgomery [1]_ eq. 9.2-9.3 and §9.1.5):

    .. math:: C_i^+ = \max(0, y_i - k + C_{i-1}^+), \qquad
              C_i^- = \max(0, -k - y_i + C_{i-1}^-)

    A signal occurs when either sum exceeds h.  When :math:`\sigma = 1` the values equal those of
    the unstandardized tabular CUSUM with K = k and H = h (Table 9.2).
    """
    x = as_float_array(values)
    check_min_points(x.size, 2, "observations")
    if parameters is None:
        mean, sd, method = target_and_sigma(x, target, sigma, reference)
        parameters = CUSUMParameters(mean, sd, k, h, h / 2.0 if fir else 0.0, method)
    p = parameters
    y = (x - p.target) / p.sigma
    names = np.arange(1, x.size + 1) if labels is None else np.asarray(labels)
    upper = cusum_upper(y, p.k, p.headstart)
    lower = cusum_upper(-y, p.k, p.headstart)
    ucl = constant(p.h, x.size)
    zero = constant(0.0, x.size)
    charts = {
        name: apply_limit_rule(
            ControlChart(name, c, zero, ucl, zero, constant(1.0, x.size), names), rules
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
            "n_upper": run_lengths(upper),
            "n_lower": run_lengths(lower),
        },
    )
