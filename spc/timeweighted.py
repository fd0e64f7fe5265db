"""Shared pieces of the time-weighted charts (EWMA, CUSUM): the plotted series and its sigma.

A time-weighted chart plots individual observations, or the means of subgroups.  For subgroups
the in-control sigma is the within-subgroup sigma of one observation (R-bar/d2 by default, as
R's qcc ``ewma`` and ``cusum`` do) and each mean has sigma / sqrt(n_i); the phase I period
counts subgroups.  For individuals the sigma is MR-bar/d2 (or s/c4) of the phase I
observations.

References
----------
.. [1] D. C. Montgomery, *Introduction to Statistical Quality Control*, 8th ed., Wiley, 2019,
   §9.1 and §9.2 (rational subgroups: CUSUM and EWMA of means, sigma / sqrt(n)).
.. [2] L. Scrucca, "qcc: an R package for quality control charting and statistical process
   control", *R News* 4(1), 2004, pp. 11-17.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from spc.constants import ChartConstants
from spc.validation import as_float_array, as_subgroups, check_min_points
from spc.variables import estimate_subgroup_limits, imr_limits


@dataclass(frozen=True)
class TimeWeightedSeries:
    """The points a time-weighted chart plots, with the in-control mean and sigma.

    Attributes
    ----------
    values : numpy.ndarray
        Observation, or subgroup mean, per point (unit of the measurements).
    sizes : numpy.ndarray
        Observations behind each point (1 for individuals).
    labels : numpy.ndarray
        Label per point.
    target : float
        In-control mean (unit of the measurements); NaN when not estimated.
    sigma : float
        In-control standard deviation of one observation; NaN when not estimated.
    sigma_method : str
        ``given`` or how ``sigma`` was estimated.
    """

    values: np.ndarray
    sizes: np.ndarray
    labels: np.ndarray
    target: float
    sigma: float
    sigma_method: str


def time_weighted_series(
    values: Any,
    labels: Any = None,
    subgroup: Any = None,
    *,
    estimate: bool = True,
    target: float | None = None,
    sigma: float | None = None,
    reference: Any = None,
    sigma_method: str | None = None,
    constants: str | ChartConstants = "exact",
    unequal: str = "weighted",
) -> TimeWeightedSeries:
    """Points and in-control parameters of a time-weighted chart.

    Parameters
    ----------
    values : array-like
        Observations in time order (any unit).
    labels : array-like, optional
        Label per observation, for individuals (default 1..n).
    subgroup : array-like, optional
        Subgroup label per observation: the chart then plots subgroup means.
    estimate : bool
        False when the parameters are frozen: only the points are formed.
    target, sigma : float, optional
        Given in-control mean and sigma of one observation; estimated when omitted.
    reference : int or array of bool, optional
        Phase I period: first N points (subgroups, for subgroups) or a mask.
    sigma_method : str, optional
        ``mr`` (default for individuals) or ``sd``; ``rbar`` (default for subgroups),
        ``sbar``, ``pooled`` or ``sd`` (see :data:`spc.variables.SIGMA_METHODS`).
    constants, unequal
        Constant set and unequal-size convention, as :func:`spc.variables.xbar_r`.
    """
    groups = None if subgroup is None else as_subgroups(values, subgroup)
    if groups is not None and np.all(groups.sizes == 1):
        # Subgroups of one are individual observations: MR-bar/d2 applies, labels are kept.
        values, labels, groups = groups.matrix[:, 0], groups.labels, None
    if groups is None:
        x = as_float_array(values)
        check_min_points(x.size, 2, "observations")
        names = np.arange(1, x.size + 1) if labels is None else np.asarray(labels)
        if not estimate:
            return TimeWeightedSeries(x, np.ones(x.size), names, np.nan, np.nan, "given")
        limits = imr_limits(
            x, reference, sigma_method=sigma_method or "mr", constants=constants,
            center=target, sigma=sigma,
        )  # fmt: skip
        return TimeWeightedSeries(
            x, np.ones(x.size), names, limits.center, limits.sigma, limits.sigma_method
        )
    means, sizes = groups.means(), groups.sizes.astype(float)
    if not estimate:
        return TimeWeightedSeries(means, sizes, groups.labels, np.nan, np.nan, "given")
    limits = estimate_subgroup_limits(
        groups, reference, sigma_method=sigma_method or "rbar", constants=constants,
        unequal=unequal, center=target, sigma=sigma,
    )  # fmt: skip
    return TimeWeightedSeries(
        means, sizes, groups.labels, limits.center, limits.sigma, limits.sigma_method
    )
