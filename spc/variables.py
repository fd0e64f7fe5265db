"""Shewhart charts for variables: X-bar/R, X-bar/S and individuals/moving range (I-MR).

Limits are built from a process standard deviation ``sigma`` estimated within subgroups and
recorded with its method; the constants (d2, d3, c4) are those of the chosen constant set
(:mod:`spc.constants`) for each subgroup size, so variable subgroup sizes give per-point limits.

References
----------
.. [1] D. C. Montgomery, *Introduction to Statistical Quality Control*, 8th ed., Wiley, 2019,
   §6.2 (X-bar and R), §6.3 (X-bar and S, variable sample size), §6.4 (individuals).
.. [2] ASTM E2587-16, *Standard Practice for Use of Control Charts in Statistical Process
   Control*, §8-9 (weighted sigma estimates for unequal subgroup sizes).
.. [3] L. Scrucca, "qcc: an R package for quality control charting and statistical process
   control", *R News* 4(1), 2004, pp. 11-17 (``std.dev`` estimators ``UWAVE-R``, ``UWAVE-SD``,
   ``RMSDF``, ``MR``, ``SD``).
.. [4] ISO 7870-2:2023, *Control charts - Part 2: Shewhart control charts*.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from spc.charts import ChartSet, ControlChart, constant
from spc.constants import ChartConstants, c4, chart_constants
from spc.errors import SPCInputError
from spc.rules import apply_limit_rule, apply_rules
from spc.validation import (
    Subgroups,
    as_float_array,
    as_subgroups,
    check_min_points,
    check_positive,
    reference_mask,
)

SIGMA_METHODS = ("rbar", "sbar", "pooled", "mr", "sd")
"""Estimators of the within-subgroup sigma: R-bar/d2, s-bar/c4, pooled s/c4(d+1) (subgroups),
MR-bar/d2(2) (individuals) and the sample standard deviation s/c4(N) of all observations."""

UNEQUAL_SIZES = ("weighted", "unweighted")
"""How R-bar/d2 and s-bar/c4 combine subgroups of unequal size: ``weighted`` is ASTM E2587's
minimum-variance weighting (the default), ``unweighted`` the plain mean of R_i/d2(n_i) or
s_i/c4(n_i), as R's qcc (``UWAVE-R``, ``UWAVE-SD``)."""


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
    constants : str
        Constant set (:data:`spc.constants.CONSTANT_SETS`) of the estimate and of the R, S and
        MR chart limits.
    """

    center: float
    sigma: float
    sigma_method: str
    L: float = 3.0
    constants: str = "exact"

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "center": self.center,
            "sigma": self.sigma,
            "sigma_method": self.sigma_method,
            "constants": self.constants,
        }


def _check_choice(value: str, choices: tuple[str, ...], what: str) -> str:
    if value not in choices:
        raise SPCInputError(f"Unknown {what} {value!r}; use {', '.join(choices)}.")
    return value


def sigma_from_ranges(
    ranges: np.ndarray,
    sizes: np.ndarray,
    constants: str | ChartConstants = "exact",
    unequal: str = "weighted",
) -> tuple[float, str]:
    r"""Process sigma from subgroup ranges.

    Parameters
    ----------
    ranges : numpy.ndarray
        Subgroup ranges, unit of the measurements.
    sizes : numpy.ndarray
        Subgroup sizes (at least 2).
    constants : str or ChartConstants
        Constant set for :math:`d_2, d_3`.
    unequal : {"weighted", "unweighted"}
        Combination for unequal sizes (see :data:`UNEQUAL_SIZES`).

    Returns
    -------
    sigma : float
        :math:`\bar R / d_2` for equal sizes; for unequal sizes the minimum-variance weighted
        mean :math:`\sum f_i R_i/d_2(n_i) / \sum f_i` with :math:`f_i = d_2^2/d_3^2` (ASTM
        E2587), or the unweighted mean of :math:`R_i/d_2(n_i)` (qcc ``UWAVE-R``).
    method : str
        ``rbar/d2``, ``weighted rbar/d2`` or ``mean of r/d2``.
    """
    k = chart_constants(constants)
    d2s = np.asarray(k.d2(sizes), dtype=float)
    if np.all(sizes == sizes[0]):
        return float(np.mean(ranges) / d2s[0]), "rbar/d2"
    if _check_choice(unequal, UNEQUAL_SIZES, "unequal-size convention") == "unweighted":
        return float(np.mean(ranges / d2s)), "mean of r/d2"
    weights = d2s**2 / np.asarray(k.d3(sizes), dtype=float) ** 2
    return float(np.sum(weights * ranges / d2s) / np.sum(weights)), "weighted rbar/d2"


def sigma_from_stds(
    stds: np.ndarray,
    sizes: np.ndarray,
    constants: str | ChartConstants = "exact",
    unequal: str = "weighted",
) -> tuple[float, str]:
    r"""Process sigma from subgroup standard deviations; parameters as :func:`sigma_from_ranges`.

    Returns :math:`\bar s / c_4` for equal sizes; for unequal sizes the weighted mean
    :math:`\sum h_i s_i/c_4(n_i) / \sum h_i` with :math:`h_i = c_4^2/(1-c_4^2)` (ASTM E2587),
    or the unweighted mean of :math:`s_i/c_4(n_i)` (qcc ``UWAVE-SD``).
    """
    c4s = np.asarray(chart_constants(constants).c4(sizes), dtype=float)
    if np.all(sizes == sizes[0]):
        return float(np.mean(stds) / c4s[0]), "sbar/c4"
    if _check_choice(unequal, UNEQUAL_SIZES, "unequal-size convention") == "unweighted":
        return float(np.mean(stds / c4s)), "mean of s/c4"
    weights = c4s**2 / (1.0 - c4s**2)
    return float(np.sum(weights * stds / c4s) / np.sum(weights)), "weighted sbar/c4"


def sigma_pooled(stds: np.ndarray, sizes: np.ndarray) -> tuple[float, str]:
    r"""Pooled within-subgroup sigma :math:`s_p / c_4(d + 1)`, :math:`d = \sum (n_i - 1)`.

    :math:`s_p^2 = \sum (n_i-1) s_i^2 / d` (ASTM E2587 §8; qcc ``RMSDF``).  The bias factor of
    d degrees of freedom lies beyond every printed table, so it is always computed.
    """
    dof = float(np.sum(sizes - 1))
    pooled = np.sqrt(np.sum((sizes - 1) * stds**2) / dof)
    return float(pooled / c4(int(dof) + 1)), "pooled s/c4"


def sigma_overall(
    values: np.ndarray, constants: str | ChartConstants = "exact"
) -> tuple[float, str]:
    r"""Sample standard deviation of all observations, unbiased: :math:`s / c_4(N)` (qcc ``SD``)."""
    return float(np.std(values, ddof=1) / chart_constants(constants).c4(values.size)), "s/c4"


def within_sigma(
    groups: Subgroups,
    mask: np.ndarray,
    method: str = "rbar",
    constants: str | ChartConstants = "exact",
    unequal: str = "weighted",
) -> tuple[float, str]:
    """Within-subgroup sigma of the subgroups in ``mask`` by ``method`` (:data:`SIGMA_METHODS`).

    Returns ``(sigma, label)``, sigma in the unit of the measurements.
    """
    _check_choice(method, SIGMA_METHODS, "sigma method")
    sizes = groups.sizes[mask]
    if method == "mr":
        raise SPCInputError(
            "The moving-range sigma is for individual observations; use rbar, sbar or pooled"
            " for subgroups."
        )
    if method == "sd":
        observations = groups.matrix[mask]
        return sigma_overall(observations[~np.isnan(observations)], constants)
    if np.any(sizes < 2):
        raise SPCInputError(
            f"Subgroup {groups.labels[mask][sizes < 2][0]} has 1 observation; a within-subgroup"
            " sigma needs at least 2 per subgroup."
        )
    if method == "rbar":
        return sigma_from_ranges(groups.ranges()[mask], sizes, constants, unequal)
    if method == "sbar":
        return sigma_from_stds(groups.stds()[mask], sizes, constants, unequal)
    return sigma_pooled(groups.stds()[mask], sizes)


def estimate_subgroup_limits(
    groups: Subgroups,
    reference: Any = None,
    *,
    sigma_method: str = "rbar",
    constants: str | ChartConstants = "exact",
    unequal: str = "weighted",
    center: float | None = None,
    sigma: float | None = None,
) -> ShewhartLimits:
    """Grand mean and within sigma of the reference subgroups; given values take precedence.

    ``reference`` counts subgroups (first N, or a mask).  The grand mean weights each subgroup
    by its size (the mean of all reference observations).
    """
    mask = reference_mask(reference, len(groups.sizes))
    check_min_points(int(mask.sum()), 2, "subgroups in the phase I period")
    name = chart_constants(constants).name
    if sigma is not None:
        value, method = check_positive(sigma, "sigma"), "given"
    else:
        value, method = within_sigma(groups, mask, sigma_method, constants, unequal)
        check_positive(value, "The estimated sigma")
    if center is None:
        sizes = groups.sizes[mask]
        center = float(np.sum(groups.means()[mask] * sizes) / np.sum(sizes))
    return ShewhartLimits(center=float(center), sigma=value, sigma_method=method, constants=name)


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


def _xbar_chart_set(
    values: Any,
    subgroup: Any,
    reference: Any,
    limits: ShewhartLimits | None,
    rules: str | Iterable[str] | None,
    dispersion: str,
    options: dict[str, Any],
) -> ChartSet:
    groups = as_subgroups(values, subgroup, min_size=2)
    if limits is None:
        width = options.pop("L")
        limits = replace(estimate_subgroup_limits(groups, reference, **options), L=width)
    k = chart_constants(limits.constants)
    sizes = groups.sizes
    if dispersion == "r":
        spread = _dispersion_chart(
            "r",
            groups.ranges(),
            groups.labels,
            np.asarray(k.d2(sizes), dtype=float),
            np.asarray(k.d3(sizes), dtype=float),
            limits,
        )
    else:
        c4s = np.asarray(k.c4(sizes), dtype=float)
        spread = _dispersion_chart(
            "s", groups.stds(), groups.labels, c4s, np.sqrt(1.0 - c4s**2), limits
        )
    return ChartSet(
        chart=f"xbar-{dispersion}",
        sigma=limits.sigma,
        sigma_method=limits.sigma_method,
        charts={
            "xbar": apply_rules(_xbar_chart(groups, limits), rules, limits.L),
            dispersion: apply_limit_rule(spread, rules),
        },
        limits=limits,
        extra={"constants": limits.constants},
    )


def xbar_r(
    values: Any,
    subgroup: Any = None,
    *,
    reference: Any = None,
    limits: ShewhartLimits | None = None,
    rules: str | Iterable[str] | None = "nelson",
    sigma_method: str = "rbar",
    constants: str | ChartConstants = "exact",
    unequal: str = "weighted",
    center: float | None = None,
    sigma: float | None = None,
    L: float = 3.0,
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
    sigma_method : str
        Within sigma estimator, one of :data:`SIGMA_METHODS` except ``mr``.
    constants : str or ChartConstants
        ``exact``, ``table`` or ``qcc`` (:data:`spc.constants.CONSTANT_SETS`).
    unequal : {"weighted", "unweighted"}
        Combination of unequal subgroup sizes (:data:`UNEQUAL_SIZES`).
    center, sigma : float, optional
        Given process mean and sigma (unit of ``values``), used instead of the estimates.
    L : float
        Limit width in standard deviations of the plotted statistic (3; a probability limit
        :math:`z_{1-\alpha/2}` for a false-alarm rate alpha).

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
    sizes.  Unequal sizes combine as :func:`sigma_from_ranges` states.
    """
    options = {"sigma_method": sigma_method, "constants": constants, "unequal": unequal,
               "center": center, "sigma": sigma, "L": L}  # fmt: skip
    return _xbar_chart_set(values, subgroup, reference, limits, rules, "r", options)


def xbar_s(
    values: Any,
    subgroup: Any = None,
    *,
    reference: Any = None,
    limits: ShewhartLimits | None = None,
    rules: str | Iterable[str] | None = "nelson",
    sigma_method: str = "sbar",
    constants: str | ChartConstants = "exact",
    unequal: str = "weighted",
    center: float | None = None,
    sigma: float | None = None,
    L: float = 3.0,
) -> ChartSet:
    r"""X-bar and S charts; parameters as :func:`xbar_r`.

    Notes
    -----
    With :math:`\hat\sigma = \bar s/c_4(n)` (Montgomery [1]_ §6.3):

    .. math:: \bar{\bar x} \pm 3\hat\sigma/\sqrt{n_i}, \qquad
              c_4\hat\sigma \pm 3\sqrt{1-c_4^2}\,\hat\sigma \;(\text{LCL} \ge 0),

    i.e. :math:`\bar{\bar x} \pm A_3\bar s` and :math:`B_3\bar s, B_4\bar s` for equal sizes.
    Unequal sizes combine as :func:`sigma_from_stds` states.
    """
    options = {"sigma_method": sigma_method, "constants": constants, "unequal": unequal,
               "center": center, "sigma": sigma, "L": L}  # fmt: skip
    return _xbar_chart_set(values, subgroup, reference, limits, rules, "s", options)


def moving_ranges(values: np.ndarray) -> np.ndarray:
    """Moving ranges of two consecutive values, :math:`|x_i - x_{i-1}|` (one fewer than values)."""
    return np.abs(np.diff(values))


def imr_limits(
    values: Any,
    reference: Any = None,
    *,
    sigma_method: str = "mr",
    constants: str | ChartConstants = "exact",
    center: float | None = None,
    sigma: float | None = None,
) -> ShewhartLimits:
    r"""Estimate individuals limits: mean and sigma of the reference period.

    ``sigma_method`` ``mr`` is :math:`\overline{MR}/d_2(2)`, using only moving ranges whose two
    observations both lie in the reference period; ``sd`` is :math:`s/c_4(N)` of the reference
    observations (qcc ``SD``).  Given ``center`` / ``sigma`` take precedence.
    """
    x = as_float_array(values)
    mask = reference_mask(reference, x.size)
    check_min_points(int(mask.sum()), 2, "observations in the phase I period")
    name = chart_constants(constants).name
    if sigma is not None:
        value, method = check_positive(sigma, "sigma"), "given"
    elif _check_choice(sigma_method, ("mr", "sd"), "individuals sigma method") == "sd":
        value, method = sigma_overall(x[mask], constants)
    else:
        both = mask[1:] & mask[:-1]
        if not both.any():
            raise SPCInputError("The phase I period needs two consecutive observations.")
        mr_bar = float(np.mean(moving_ranges(x)[both]))
        value, method = mr_bar / chart_constants(constants).d2(2), "mrbar/d2"
    mean = float(np.mean(x[mask])) if center is None else float(center)
    return ShewhartLimits(center=mean, sigma=value, sigma_method=method, constants=name)


def imr(
    values: Any,
    labels: Any = None,
    *,
    reference: Any = None,
    limits: ShewhartLimits | None = None,
    rules: str | Iterable[str] | None = "nelson",
    sigma_method: str = "mr",
    constants: str | ChartConstants = "exact",
    center: float | None = None,
    sigma: float | None = None,
    L: float = 3.0,
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
    sigma_method : {"mr", "sd"}
        :math:`\overline{MR}/d_2(2)` or :math:`s/c_4(N)` (see :func:`imr_limits`).
    constants, center, sigma, L
        As :func:`xbar_r`.

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
        limits = imr_limits(
            x, reference, sigma_method=sigma_method, constants=constants, center=center,
            sigma=sigma,
        )  # fmt: skip
        limits = replace(limits, L=L)
    k = chart_constants(limits.constants)
    names = np.arange(1, x.size + 1) if labels is None else np.asarray(labels)
    count = x.size
    center_line = constant(limits.center, count)
    spread = constant(limits.sigma, count)
    individuals = ControlChart(
        name="i",
        values=x,
        center=center_line,
        ucl=center_line + limits.L * spread,
        lcl=center_line - limits.L * spread,
        sigma=spread,
        labels=names,
    )
    mr = _dispersion_chart(
        "mr",
        moving_ranges(x),
        names[1:],
        constant(k.d2(2), count - 1),
        constant(k.d3(2), count - 1),
        limits,
    )
    return ChartSet(
        chart="imr",
        sigma=limits.sigma,
        sigma_method=limits.sigma_method,
        charts={"i": apply_rules(individuals, rules, limits.L), "mr": apply_limit_rule(mr, rules)},
        limits=limits,
        extra={"constants": limits.constants},
    )
