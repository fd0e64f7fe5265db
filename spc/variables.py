"""Shewhart charts for variables: X-bar/R, X-bar/S and individuals/moving range (I-MR).

Limits are built from a process standard deviation ``sigma`` estimated within subgroups and
recorded with its method; the constants (d2, d3, c4) are computed for each subgroup size, so
variable subgroup sizes give per-point limits.

References
----------
.. [1] D. C. Montgomery, *Introduction to Statistical Quality Control*, 7th ed., Wiley, 2013,
   §6.2 (X-bar and R), §6.3 (X-bar and S, variable sample size), §6.4 (individuals).
.. [2] ASTM E2587-16, *Standard Practice for Use of Control Charts in Statistical Process
   Control*, §8-9 (weighted sigma estimates for unequal subgroup sizes).
.. [3] ISO 7870-2:2023, *Control charts - Part 2: Shewhart control charts*.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from spc.charts import ChartSet, ControlChart, constant
from spc.constants import c4, d2, d2_array, d3, d3_array
from spc.errors import SPCInputError
from spc.rules import apply_limit_rule, apply_rules
from spc.validation import Subgroups, as_float_array, as_subgroups, check_min_points, reference_mask


@dataclass(frozen=True)
class ShewhartLimits:
    """Frozen limits of a variables chart: grand mean and process sigma.

    Attributes
    ----------
    center : float
        Process mean (grand mean of the reference period), unit of the measurements.
    sigma : float
        Process standard deviation within subgroups, unit of the measurements.
    sigma_method : str
        How ``sigma`` was estimated, e.g. ``rbar/d2``.
    L : float
        Width of the limits in sigma of the plotted statistic (3 for Shewhart charts).
    """

    center: float
    sigma: float
    sigma_method: str
    L: float = 3.0

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {"center": self.center, "sigma": self.sigma, "sigma_method": self.sigma_method}


def sigma_from_ranges(ranges: np.ndarray, sizes: np.ndarray) -> tuple[float, str]:
    r"""Process sigma from subgroup ranges.

    Parameters
    ----------
    ranges : numpy.ndarray
        Subgroup ranges, unit of the measurements.
    sizes : numpy.ndarray
        Subgroup sizes (at least 2).

    Returns
    -------
    sigma : float
        :math:`\bar R / d_2` for equal sizes; for unequal sizes the minimum-variance weighted
        mean :math:`\sum f_i R_i/d_2(n_i) / \sum f_i` with :math:`f_i = d_2^2/d_3^2` (ASTM E2587).
    method : str
        ``rbar/d2`` or ``weighted rbar/d2``.
    """
    if np.all(sizes == sizes[0]):
        return float(np.mean(ranges) / d2(int(sizes[0]))), "rbar/d2"
    d2s, d3s = d2_array(sizes), d3_array(sizes)
    weights = d2s**2 / d3s**2
    return float(np.sum(weights * ranges / d2s) / np.sum(weights)), "weighted rbar/d2"


def sigma_from_stds(stds: np.ndarray, sizes: np.ndarray) -> tuple[float, str]:
    r"""Process sigma from subgroup standard deviations.

    Returns :math:`\bar s / c_4` for equal sizes; for unequal sizes the weighted mean
    :math:`\sum h_i s_i/c_4(n_i) / \sum h_i` with :math:`h_i = c_4^2/(1-c_4^2)` (ASTM E2587).
    """
    if np.all(sizes == sizes[0]):
        return float(np.mean(stds) / c4(int(sizes[0]))), "sbar/c4"
    c4s = np.asarray(c4(sizes))
    weights = c4s**2 / (1.0 - c4s**2)
    return float(np.sum(weights * stds / c4s) / np.sum(weights)), "weighted sbar/c4"


def _xbar_chart(groups: Subgroups, limits: ShewhartLimits) -> ControlChart:
    count = len(groups.sizes)
    sigma_mean = limits.sigma / np.sqrt(groups.sizes)
    center = constant(limits.center, count)
    return ControlChart(
        name="xbar",
        values=groups.means(),
        center=center,
        ucl=center + limits.L * sigma_mean,
        lcl=center - limits.L * sigma_mean,
        sigma=sigma_mean,
        labels=groups.labels,
    )


def _dispersion_chart(
    name: str,
    values: np.ndarray,
    labels: np.ndarray,
    mean_factor: np.ndarray,
    sd_factor: np.ndarray,
    limits: ShewhartLimits,
) -> ControlChart:
    center = mean_factor * limits.sigma
    spread = sd_factor * limits.sigma
    return ControlChart(
        name=name,
        values=values,
        center=center,
        ucl=center + limits.L * spread,
        lcl=np.maximum(center - limits.L * spread, 0.0),
        sigma=spread,
        labels=labels,
    )


def _estimate(groups: Subgroups, reference: Any, dispersion: str) -> ShewhartLimits:
    mask = reference_mask(reference, len(groups.sizes))
    check_min_points(int(mask.sum()), 2, "subgroups in the phase I period")
    sizes = groups.sizes[mask]
    if dispersion == "r":
        sigma, method = sigma_from_ranges(groups.ranges()[mask], sizes)
    else:
        sigma, method = sigma_from_stds(groups.stds()[mask], sizes)
    grand_mean = float(np.sum(groups.means()[mask] * sizes) / np.sum(sizes))
    return ShewhartLimits(center=grand_mean, sigma=sigma, sigma_method=method)


def _xbar_chart_set(
    values: Any,
    subgroup: Any,
    reference: Any,
    limits: ShewhartLimits | None,
    rules: str | Iterable[str] | None,
    dispersion: str,
) -> ChartSet:
    groups = as_subgroups(values, subgroup, min_size=2)
    if limits is None:
        limits = _estimate(groups, reference, dispersion)
    sizes = groups.sizes
    if dispersion == "r":
        spread = _dispersion_chart(
            "r", groups.ranges(), groups.labels, d2_array(sizes), d3_array(sizes), limits
        )
    else:
        c4s = np.asarray(c4(sizes), dtype=float)
        spread = _dispersion_chart(
            "s", groups.stds(), groups.labels, c4s, np.sqrt(1.0 - c4s**2), limits
        )
    return ChartSet(
        chart=f"xbar-{dispersion}",
        sigma=limits.sigma,
        sigma_method=limits.sigma_method,
        charts={
            "xbar": apply_rules(_xbar_chart(groups, limits), rules),
            dispersion: apply_limit_rule(spread, rules),
        },
        limits=limits,
    )


def xbar_r(
    values: Any,
    subgroup: Any = None,
    *,
    reference: Any = None,
    limits: ShewhartLimits | None = None,
    rules: str | Iterable[str] | None = "nelson",
) -> ChartSet:
    r"""X-bar and R charts.

    Parameters
    ----------
    values : array-like
        Measurements (any unit): a 2-D array with one row per subgroup (NaN-padded for unequal
        sizes), or 1-D together with ``subgroup``.
    subgroup : array-like, optional
        Subgroup label of each measurement when ``values`` is 1-D.
    reference : int or array of bool, optional
        Phase I period the limits are estimated from: the first N subgroups, or a mask.
        Default: all subgroups.
    limits : ShewhartLimits, optional
        Frozen limits (phase II); when given, nothing is estimated.
    rules : str or iterable of str
        Run rules on the X-bar chart (``nelson``, ``we``, ``none`` or codes); the R chart is
        tested for points beyond its limits only.

    Returns
    -------
    ChartSet
        Charts ``xbar`` and ``r`` with per-point limits, sigma and its method.

    Notes
    -----
    With :math:`\hat\sigma = \bar R/d_2(n)` (Montgomery [1]_ eq. 6.4-6.5):

    .. math:: \bar{\bar x} \pm 3\hat\sigma/\sqrt{n_i}, \qquad
              d_2\hat\sigma \pm 3 d_3\hat\sigma \;(\text{LCL} \ge 0),

    which equal :math:`\bar{\bar x} \pm A_2\bar R` and :math:`D_3\bar R, D_4\bar R` for equal
    sizes.  Unequal sizes use the weighted estimate of :func:`sigma_from_ranges`.
    """
    return _xbar_chart_set(values, subgroup, reference, limits, rules, "r")


def xbar_s(
    values: Any,
    subgroup: Any = None,
    *,
    reference: Any = None,
    limits: ShewhartLimits | None = None,
    rules: str | Iterable[str] | None = "nelson",
) -> ChartSet:
    r"""X-bar and S charts; parameters as :func:`xbar_r`.

    Notes
    -----
    With :math:`\hat\sigma = \bar s/c_4(n)` (Montgomery [1]_ §6.3):

    .. math:: \bar{\bar x} \pm 3\hat\sigma/\sqrt{n_i}, \qquad
              c_4\hat\sigma \pm 3\sqrt{1-c_4^2}\,\hat\sigma \;(\text{LCL} \ge 0),

    i.e. :math:`\bar{\bar x} \pm A_3\bar s` and :math:`B_3\bar s, B_4\bar s` for equal sizes.
    Unequal sizes use the weighted estimate of :func:`sigma_from_stds`.
    """
    return _xbar_chart_set(values, subgroup, reference, limits, rules, "s")


def moving_ranges(values: np.ndarray) -> np.ndarray:
    """Moving ranges of two consecutive values, :math:`|x_i - x_{i-1}|` (one fewer than values)."""
    return np.abs(np.diff(values))


def imr_limits(values: Any, reference: Any = None) -> ShewhartLimits:
    r"""Estimate I-MR limits: mean and :math:`\overline{MR}/d_2(2)` of the reference period.

    Only moving ranges whose two observations both lie in the reference period are used.
    """
    x = as_float_array(values)
    mask = reference_mask(reference, x.size)
    check_min_points(int(mask.sum()), 2, "observations in the phase I period")
    both = mask[1:] & mask[:-1]
    if not both.any():
        raise SPCInputError("The phase I period needs two consecutive observations.")
    mr_bar = float(np.mean(moving_ranges(x)[both]))
    return ShewhartLimits(
        center=float(np.mean(x[mask])), sigma=mr_bar / d2(2), sigma_method="mrbar/d2"
    )


def imr(
    values: Any,
    labels: Any = None,
    *,
    reference: Any = None,
    limits: ShewhartLimits | None = None,
    rules: str | Iterable[str] | None = "nelson",
) -> ChartSet:
    r"""Individuals and moving-range charts.

    Parameters
    ----------
    values : array-like
        Individual measurements in time order, any unit.
    labels : array-like, optional
        Label of each observation (default 1..n).
    reference, limits, rules
        As :func:`xbar_r`; run rules apply to the individuals chart, the MR chart is tested
        for points beyond its limits only.

    Returns
    -------
    ChartSet
        Charts ``i`` (n points) and ``mr`` (n - 1 points, labelled by the later observation).

    Notes
    -----
    With :math:`\hat\sigma = \overline{MR}/d_2(2)` (Montgomery [1]_ §6.4, eq. 6.33):

    .. math:: \bar x \pm 3\hat\sigma, \qquad \text{MR: } d_2\hat\sigma \pm 3 d_3\hat\sigma
              = [0,\; 3.267\,\overline{MR}].
    """
    x = as_float_array(values)
    check_min_points(x.size, 2, "observations")
    if limits is None:
        limits = imr_limits(x, reference)
    names = np.arange(1, x.size + 1) if labels is None else np.asarray(labels)
    count = x.size
    center = constant(limits.center, count)
    sigma = constant(limits.sigma, count)
    individuals = ControlChart(
        name="i",
        values=x,
        center=center,
        ucl=center + limits.L * sigma,
        lcl=center - limits.L * sigma,
        sigma=sigma,
        labels=names,
    )
    mr = _dispersion_chart(
        "mr",
        moving_ranges(x),
        names[1:],
        constant(d2(2), count - 1),
        constant(d3(2), count - 1),
        limits,
    )
    return ChartSet(
        chart="imr",
        sigma=limits.sigma,
        sigma_method=limits.sigma_method,
        charts={"i": apply_rules(individuals, rules), "mr": apply_limit_rule(mr, rules)},
        limits=limits,
    )
