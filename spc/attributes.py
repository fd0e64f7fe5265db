"""Shewhart charts for attributes: p, np (binomial) and c, u (Poisson).

Variable sample sizes (rolls inspected per lot, m2 of film inspected) give per-point limits.
Lower limits below zero are set to zero.

References
----------
.. [1] D. C. Montgomery, *Introduction to Statistical Quality Control*, 7th ed., Wiley, 2013,
   §7.2 (p and np charts, variable sample size §7.2.2), §7.3 (c and u charts, §7.3.2).
.. [2] ISO 7870-2:2023, *Control charts - Part 2: Shewhart control charts*, Table 3.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from spc.charts import ChartSet, ControlChart, constant
from spc.errors import SPCInputError
from spc.rules import apply_rules
from spc.validation import as_float_array, check_min_points, reference_mask


@dataclass(frozen=True)
class AttributeLimits:
    """Frozen limits of an attribute chart.

    Attributes
    ----------
    center : float
        Average fraction nonconforming (p, np charts) or nonconformities per inspection unit
        (c, u charts) over the reference period.
    """

    center: float

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {"center": self.center}


def _counts_and_sizes(
    counts: Any, sizes: Any, *, binomial: bool, integer_sizes: bool
) -> tuple[np.ndarray, np.ndarray]:
    x = as_float_array(counts, "counts")
    check_min_points(x.size, 2, "samples")
    n = np.ones_like(x) if sizes is None else as_float_array(sizes, "sample sizes")
    if np.ndim(sizes) == 0 and sizes is not None:
        n = np.full_like(x, float(sizes))
    if n.shape != x.shape:
        raise SPCInputError(f"There are {x.size} counts but {n.size} sample sizes.")
    if np.any(n <= 0):
        row = int(np.flatnonzero(n <= 0)[0]) + 1
        raise SPCInputError(f"Sample size must be positive; sample {row} has {n[row - 1]:g}.")
    if integer_sizes and np.any(n != np.round(n)):
        row = int(np.flatnonzero(n != np.round(n))[0]) + 1
        raise SPCInputError(f"Sample size must be a whole number; sample {row} has {n[row - 1]:g}.")
    if np.any(x < 0):
        row = int(np.flatnonzero(x < 0)[0]) + 1
        raise SPCInputError(f"Counts cannot be negative; sample {row} has {x[row - 1]:g}.")
    if binomial and np.any(x > n):
        row = int(np.flatnonzero(x > n)[0]) + 1
        raise SPCInputError(
            f"Sample {row} has {x[row - 1]:g} nonconforming units out of a sample of"
            f" {n[row - 1]:g}; a count cannot exceed the sample size."
        )
    return x, n


def _chart(
    name: str,
    values: np.ndarray,
    center: np.ndarray,
    sigma: np.ndarray,
    labels: Any,
    rules: str | Iterable[str] | None,
    L: float,
    upper_bound: np.ndarray | None = None,
) -> ControlChart:
    names = np.arange(1, values.size + 1) if labels is None else np.asarray(labels)
    ucl = center + L * sigma
    if upper_bound is not None:
        ucl = np.minimum(ucl, upper_bound)
    chart = ControlChart(
        name=name,
        values=values,
        center=center,
        ucl=ucl,
        lcl=np.maximum(center - L * sigma, 0.0),
        sigma=sigma,
        labels=names,
    )
    return apply_rules(chart, rules)


def _pooled_rate(x: np.ndarray, n: np.ndarray, reference: Any) -> AttributeLimits:
    mask = reference_mask(reference, x.size)
    check_min_points(int(mask.sum()), 2, "samples in the phase I period")
    return AttributeLimits(center=float(np.sum(x[mask]) / np.sum(n[mask])))


def _binomial_set(
    kind: str,
    counts: Any,
    sizes: Any,
    labels: Any,
    reference: Any,
    limits: AttributeLimits | None,
    rules: str | Iterable[str] | None,
    L: float,
) -> ChartSet:
    x, n = _counts_and_sizes(counts, sizes, binomial=True, integer_sizes=True)
    limits = limits or _pooled_rate(x, n, reference)
    p_bar = limits.center
    if kind == "p":
        center = constant(p_bar, x.size)
        sigma = np.sqrt(p_bar * (1.0 - p_bar) / n)
        chart = _chart("p", x / n, center, sigma, labels, rules, L, np.ones_like(n))
    else:
        center = n * p_bar
        sigma = np.sqrt(n * p_bar * (1.0 - p_bar))
        chart = _chart("np", x, center, sigma, labels, rules, L, n)
    return ChartSet(
        chart=kind, sigma=np.nan, sigma_method="binomial", charts={kind: chart}, limits=limits
    )


def p_chart(
    counts: Any,
    sizes: Any,
    labels: Any = None,
    *,
    reference: Any = None,
    limits: AttributeLimits | None = None,
    rules: str | Iterable[str] | None = "nelson",
    L: float = 3.0,
) -> ChartSet:
    r"""Fraction-nonconforming (p) chart.

    Parameters
    ----------
    counts : array-like
        Nonconforming units per sample (e.g. rejected rolls per lot).
    sizes : array-like or int
        Units inspected per sample (whole numbers, per sample or one for all).
    labels : array-like, optional
        Sample labels (default 1..m).
    reference : int or array of bool, optional
        Phase I period (first N samples, or a mask); default all.
    limits : AttributeLimits, optional
        Frozen :math:`\bar p` (phase II).
    rules : str or iterable of str
        Run rules (``nelson``, ``we``, ``none`` or codes).
    L : float
        Limit width in standard deviations of :math:`\hat p_i`.

    Returns
    -------
    ChartSet
        Chart ``p`` with per-point limits when sizes vary.

    Notes
    -----
    :math:`\bar p = \sum D_i / \sum n_i` and limits
    :math:`\bar p \pm L\sqrt{\bar p(1-\bar p)/n_i}` clipped to [0, 1] (Montgomery [1]_ eq. 7.8,
    §7.2.2).
    """
    return _binomial_set("p", counts, sizes, labels, reference, limits, rules, L)


def np_chart(
    counts: Any,
    sizes: Any,
    labels: Any = None,
    *,
    reference: Any = None,
    limits: AttributeLimits | None = None,
    rules: str | Iterable[str] | None = "nelson",
    L: float = 3.0,
) -> ChartSet:
    r"""Number-nonconforming (np) chart; parameters as :func:`p_chart`.

    Notes
    -----
    Limits :math:`n_i\bar p \pm L\sqrt{n_i\bar p(1-\bar p)}` clipped to [0, n_i]
    (Montgomery [1]_ eq. 7.13).  With unequal sizes the center line varies per point.
    """
    return _binomial_set("np", counts, sizes, labels, reference, limits, rules, L)


def _poisson_set(
    kind: str,
    counts: Any,
    sizes: Any,
    labels: Any,
    reference: Any,
    limits: AttributeLimits | None,
    rules: str | Iterable[str] | None,
    L: float,
) -> ChartSet:
    x, n = _counts_and_sizes(counts, sizes, binomial=False, integer_sizes=False)
    if kind == "c" and sizes is not None and np.any(n != n[0]):
        raise SPCInputError("A c chart needs equal inspection units; use a u chart instead.")
    limits = limits or _pooled_rate(x, n, reference)
    rate = limits.center
    if kind == "u":
        chart = _chart("u", x / n, constant(rate, x.size), np.sqrt(rate / n), labels, rules, L)
    else:
        chart = _chart(
            "c",
            x,
            constant(rate * n[0], x.size),
            constant(np.sqrt(rate * n[0]), x.size),
            labels,
            rules,
            L,
        )
    return ChartSet(
        chart=kind, sigma=np.nan, sigma_method="poisson", charts={kind: chart}, limits=limits
    )


def c_chart(
    counts: Any,
    sizes: Any = None,
    labels: Any = None,
    *,
    reference: Any = None,
    limits: AttributeLimits | None = None,
    rules: str | Iterable[str] | None = "nelson",
    L: float = 3.0,
) -> ChartSet:
    r"""Nonconformities (c) chart for a constant inspection unit.

    Parameters
    ----------
    counts : array-like
        Nonconformities per inspection unit (e.g. film defects per roll).
    sizes : array-like, optional
        Inspection units per sample; must be equal (else use :func:`u_chart`).
    labels, reference, limits, rules, L
        As :func:`p_chart`; ``limits.center`` is :math:`\bar c` per inspection unit.

    Notes
    -----
    Limits :math:`\bar c \pm L\sqrt{\bar c}`, LCL clipped at 0 (Montgomery [1]_ eq. 7.17).
    """
    return _poisson_set("c", counts, sizes, labels, reference, limits, rules, L)


def u_chart(
    counts: Any,
    sizes: Any,
    labels: Any = None,
    *,
    reference: Any = None,
    limits: AttributeLimits | None = None,
    rules: str | Iterable[str] | None = "nelson",
    L: float = 3.0,
) -> ChartSet:
    r"""Nonconformities-per-unit (u) chart for variable inspection sizes.

    Parameters
    ----------
    counts : array-like
        Nonconformities found in each sample.
    sizes : array-like
        Inspection units in each sample (may be fractional, e.g. m2 / 50 m2 unit).
    labels, reference, limits, rules, L
        As :func:`p_chart`; ``limits.center`` is :math:`\bar u` per inspection unit.

    Notes
    -----
    :math:`\bar u = \sum c_i / \sum n_i` and limits :math:`\bar u \pm L\sqrt{\bar u / n_i}`,
    LCL clipped at 0 (Montgomery [1]_ eq. 7.19, §7.3.2).
    """
    return _poisson_set("u", counts, sizes, labels, reference, limits, rules, L)
