"""Hotelling T-squared charts for individual observations and for subgroups.

Use cases: correlated dryer-zone temperatures, or a cross-direction thickness profile reduced to
a few statistics per scan.

References
----------
.. [1] D. C. Montgomery, *Introduction to Statistical Quality Control*, 7th ed., Wiley, 2013,
   §11.3: subgroups eq. 11.11 (T2), 11.18-11.19 (phase I / phase II limits), individual
   observations eq. 11.21-11.23.
.. [2] N. D. Tracy, J. C. Young and R. L. Mason, "Multivariate control charts for individual
   observations", *J. Quality Technology* 24(2), 1992, pp. 88-95 (beta-distribution limits).
.. [3] R. L. Mason and J. C. Young, *Multivariate Statistical Process Control with Industrial
   Applications*, SIAM, 2002 (boiler temperature data).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from spc.charts import ChartSet, ControlChart, constant
from spc.errors import SPCInputError
from spc.rules import apply_limit_rule
from spc.validation import as_float_array, check_min_points, reference_mask

DEFAULT_ALPHA = 0.0027


@dataclass(frozen=True)
class T2Limits:
    """Frozen phase I estimates of a T-squared chart.

    Attributes
    ----------
    mean : numpy.ndarray
        Mean vector (p,), units of the variables.
    covariance : numpy.ndarray
        Covariance matrix (p, p): of the observations (individuals) or pooled within subgroups.
    m : int
        Number of observations (individuals) or subgroups in the reference period.
    n : int
        Subgroup size (1 for individual observations).
    """

    mean: np.ndarray
    covariance: np.ndarray
    m: int
    n: int

    @property
    def p(self) -> int:
        """Number of variables."""
        return int(self.mean.size)


def t2_phase1_ucl(m: int, p: int, n: int = 1, alpha: float = DEFAULT_ALPHA) -> float:
    r"""Phase I upper control limit of T-squared.

    Individuals (n = 1), beta distribution (Tracy, Young & Mason [2]_; Montgomery [1]_ eq. 11.22):
    :math:`\frac{(m-1)^2}{m}\,\beta_{\alpha;\,p/2,\,(m-p-1)/2}`.
    Subgroups of n, F distribution (Montgomery [1]_ eq. 11.18):
    :math:`\frac{p(m-1)(n-1)}{mn-m-p+1}F_{\alpha;\,p,\,mn-m-p+1}`.
    """
    if n == 1:
        return float((m - 1) ** 2 / m * stats.beta.ppf(1.0 - alpha, p / 2.0, (m - p - 1) / 2.0))
    df2 = m * n - m - p + 1
    return float(p * (m - 1) * (n - 1) / df2 * stats.f.ppf(1.0 - alpha, p, df2))


def t2_phase2_ucl(m: int, p: int, n: int = 1, alpha: float = DEFAULT_ALPHA) -> float:
    r"""Phase II (future observations) upper control limit of T-squared.

    Individuals: :math:`\frac{p(m+1)(m-1)}{m^2-mp}F_{\alpha;\,p,\,m-p}` (Montgomery [1]_
    eq. 11.21); subgroups: :math:`\frac{p(m+1)(n-1)}{mn-m-p+1}F_{\alpha;\,p,\,mn-m-p+1}`
    (eq. 11.19).
    """
    if n == 1:
        return float(p * (m + 1) * (m - 1) / (m * m - m * p) * stats.f.ppf(1.0 - alpha, p, m - p))
    df2 = m * n - m - p + 1
    return float(p * (m + 1) * (n - 1) / df2 * stats.f.ppf(1.0 - alpha, p, df2))


def _as_cube(values: Any, subgroup: Any) -> tuple[np.ndarray, np.ndarray]:
    """(labels, array of shape (m, n, p)); individuals have n = 1."""
    frame = pd.DataFrame(values)
    for column in frame.columns:
        frame[column] = as_float_array(frame[column], f"column {column}")
    data = frame.to_numpy(dtype=float)
    if data.ndim != 2 or data.shape[1] < 2:
        raise SPCInputError("A T-squared chart needs at least 2 variables (columns).")
    if subgroup is None:
        return np.arange(1, data.shape[0] + 1), data[:, None, :]
    codes, labels = pd.factorize(np.asarray(subgroup), sort=False)
    counts = np.bincount(codes)
    if np.any(counts != counts[0]):
        raise SPCInputError("A subgrouped T-squared chart needs equal subgroup sizes.")
    order = np.argsort(codes, kind="stable")
    return np.asarray(labels), data[order].reshape(len(labels), counts[0], data.shape[1])


def hotelling_t2(
    values: Any,
    subgroup: Any = None,
    *,
    reference: Any = None,
    limits: T2Limits | None = None,
    alpha: float = DEFAULT_ALPHA,
    rules: str | None = "nelson",
) -> ChartSet:
    r"""Hotelling T-squared chart, phase I limits on the reference period, phase II after it.

    Parameters
    ----------
    values : array-like or DataFrame
        Shape (N, p): one row per observation, one column per variable.
    subgroup : array-like, optional
        Subgroup label per row (equal sizes n >= 2); omitted for individual observations.
    reference : int or array of bool, optional
        Phase I points (observations or subgroups); default all.  Points inside it are judged
        against the phase I limit, later points against the phase II limit.
    limits : T2Limits, optional
        Frozen estimates; then every point is phase II.
    alpha : float
        False-alarm probability per point.
    rules : str, optional
        ``none`` disables signalling; otherwise a point above the UCL signals.

    Returns
    -------
    ChartSet
        Chart ``t2`` with LCL 0 and per-point UCL.

    Notes
    -----
    Individuals: :math:`T^2_i = (x_i-\bar x)' S^{-1} (x_i-\bar x)`; subgroups:
    :math:`T^2_j = n(\bar x_j-\bar{\bar x})' \bar S^{-1}(\bar x_j-\bar{\bar x})` with
    :math:`\bar S` the average within-subgroup covariance (Montgomery [1]_ eq. 11.11, 11.20).
    """
    labels, cube = _as_cube(values, subgroup)
    m_all, n, p = cube.shape
    check_min_points(m_all, 2, "observations or subgroups")
    frozen = limits is not None
    mask = np.zeros(m_all, dtype=bool) if frozen else reference_mask(reference, m_all)
    if limits is None:
        reference_data = cube[mask]
        if n == 1:
            covariance = np.cov(reference_data[:, 0, :], rowvar=False, ddof=1)
        else:
            covariance = np.mean(
                [np.cov(group, rowvar=False, ddof=1) for group in reference_data], axis=0
            )
        limits = T2Limits(
            mean=reference_data.mean(axis=(0, 1)), covariance=covariance, m=int(mask.sum()), n=n
        )
    if limits.n != n or limits.p != p:
        raise SPCInputError("The frozen T-squared limits were estimated for a different shape.")
    if n == 1 and limits.m <= p + 1:
        raise SPCInputError(f"Phase I needs more than {p + 1} observations for {p} variables.")
    try:
        inverse = np.linalg.inv(limits.covariance)
    except np.linalg.LinAlgError:
        raise SPCInputError(
            "The covariance matrix is singular; drop a redundant variable."
        ) from None
    deviation = cube.mean(axis=1) - limits.mean
    t2 = n * np.einsum("ij,jk,ik->i", deviation, inverse, deviation)
    ucl = np.where(
        mask,
        t2_phase1_ucl(limits.m, p, n, alpha),
        t2_phase2_ucl(limits.m, p, n, alpha),
    )
    chart = ControlChart(
        name="t2",
        values=t2,
        center=constant(np.nan, m_all),
        ucl=ucl,
        lcl=constant(0.0, m_all),
        sigma=constant(np.nan, m_all),
        labels=labels,
    )
    return ChartSet(
        chart="t2",
        sigma=np.nan,
        sigma_method="covariance" if n == 1 else "pooled covariance",
        charts={"t2": apply_limit_rule(chart, rules)},
        limits=limits,
        extra={"alpha": alpha, "p": p, "subgroup_size": n},
    )
