"""Phase I (estimate limits from a reference period) and phase II (apply frozen limits).

Phase I may remove out-of-control subgroups iteratively: chart the reference period, drop every
reference point beyond the limits of any of the charts (assumed to have an assignable cause),
re-estimate from the rest, and repeat until no reference point is beyond the limits or the
iteration budget is spent (Montgomery §6.2.1, "revised control limits"; ISO 7870-2 §8).  The
dropped points stay on the chart; they only stop contributing to the estimate.  The resulting
``ChartSet.limits`` are then passed as ``limits=`` to chart new data (phase II).

References
----------
.. [1] D. C. Montgomery, *Introduction to Statistical Quality Control*, 7th ed., Wiley, 2013,
   §5.3.7 (phase I and phase II), §6.2.1 (revision of trial limits, Example 6.1).
.. [2] ISO 7870-2:2023, *Control charts - Part 2: Shewhart control charts*.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from spc.charts import ChartSet
from spc.validation import reference_mask


@dataclass(frozen=True)
class PhaseOneResult:
    """Outcome of a phase I study.

    Attributes
    ----------
    charts : ChartSet
        All points charted against the final limits (``charts.limits`` are the frozen limits).
    reference : numpy.ndarray
        Boolean mask of the points that the final limits were estimated from.
    removed : tuple
        Labels of the reference points removed as out of control, in removal order.
    iterations : int
        Number of estimate-and-remove rounds performed.
    """

    charts: ChartSet
    reference: np.ndarray
    removed: tuple[Any, ...]
    iterations: int


def _out_of_control(charts: ChartSet, labels: np.ndarray) -> np.ndarray:
    """Mask over ``labels`` of points beyond the limits on any chart of the set."""
    position = {label: i for i, label in enumerate(labels.tolist())}
    beyond = np.zeros(labels.size, dtype=bool)
    for chart in charts.charts.values():
        for label in chart.labels[chart.beyond_limits].tolist():
            beyond[position[label]] = True
    return beyond


def phase_one(
    chart_function: Callable[..., ChartSet],
    *args: Any,
    reference: Any = None,
    remove_out_of_control: bool = True,
    max_iterations: int = 10,
    **kwargs: Any,
) -> PhaseOneResult:
    """Estimate limits from a reference period, optionally removing out-of-control points.

    Parameters
    ----------
    chart_function : callable
        A chart of this package (``xbar_r``, ``xbar_s``, ``imr``, ``p_chart``, ``np_chart``,
        ``c_chart``, ``u_chart``, ``ewma``, ``cusum``, ``hotelling_t2``) that accepts
        ``reference=`` as a boolean mask over its points.
    *args, **kwargs
        Passed to ``chart_function`` (data, labels, rules, ...).
    reference : int or array of bool, optional
        Initial reference period (first N points, or a mask); default all points.
    remove_out_of_control : bool
        Iteratively drop reference points beyond the limits and re-estimate.
    max_iterations : int
        Maximum number of removal rounds.

    Returns
    -------
    PhaseOneResult
    """
    charts = chart_function(*args, **kwargs)
    labels = next(iter(charts.charts.values())).labels
    mask = reference_mask(reference, labels.size)
    removed: list[Any] = []
    iterations = 0
    while True:
        charts = chart_function(*args, reference=mask, **kwargs)
        if not remove_out_of_control or iterations >= max_iterations:
            break
        drop = _out_of_control(charts, labels) & mask
        if not drop.any() or mask.sum() - drop.sum() < 2:
            break
        removed.extend(labels[drop].tolist())
        mask = mask & ~drop
        iterations += 1
    return PhaseOneResult(
        charts=charts, reference=mask, removed=tuple(removed), iterations=iterations
    )
