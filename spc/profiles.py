"""Cross-direction (CD) thickness profiles: per-scan statistics and their charts.

A scanning gauge gives one thickness array per scan across the web.  Each scan is reduced to
mean, 2-sigma, range, coefficient of variation, wedge (linear trend across the web) and edge
effects (edge zones minus the center zone), and these are charted per scan with I-MR charts.

References
----------
.. [1] TAPPI T 550 / paper-machine CD profile practice: 2-sigma of the CD profile as the
   uniformity figure.
.. [2] D. C. Montgomery, *Introduction to Statistical Quality Control*, 7th ed., Wiley, 2013,
   §6.4 (individuals charts for the per-scan statistics).
.. [3] W. H. Woodall, "Current research on profile monitoring", *Produção* 17(3), 2007.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from spc.charts import ChartSet
from spc.errors import SPCInputError
from spc.validation import check_min_points
from spc.variables import imr

if TYPE_CHECKING:
    import pandas as pd

PROFILE_STATISTICS = ("mean", "two_sigma", "range", "cv", "wedge", "edge_left", "edge_right")


def profile_statistics(
    profiles: Any, positions: Any = None, edge_fraction: float = 0.1
) -> pd.DataFrame:
    r"""Per-scan statistics of CD profiles.

    Parameters
    ----------
    profiles : array-like
        Shape (scans, positions) or one profile (positions,); thickness, e.g. um.  NaN marks a
        missing lane and is ignored.
    positions : array-like, optional
        CD position of each lane, e.g. mm from the operator-side edge (default 0..n-1).
    edge_fraction : float
        Fraction of the width that forms each edge zone (0 < f < 0.5).

    Returns
    -------
    pandas.DataFrame
        One row per scan with columns ``mean`` (thickness unit), ``two_sigma`` (2 x sample sd),
        ``range``, ``cv`` (sd / mean, dimensionless), ``wedge`` (least-squares slope, thickness
        per position unit), ``edge_left`` and ``edge_right`` (edge-zone mean minus center-zone
        mean, thickness unit).

    Notes
    -----
    The wedge is :math:`\hat\beta_1` of :math:`y = \beta_0 + \beta_1 x`; the center zone is
    everything between the two edge zones.  The same figures as arrays, without pandas:
    :func:`profile_statistic_arrays`.
    """
    import pandas as pd

    columns = profile_statistic_arrays(profiles, positions, edge_fraction)
    scans = len(columns["mean"])
    return pd.DataFrame(columns, index=pd.RangeIndex(1, scans + 1, name="scan"))


def profile_statistic_arrays(
    profiles: Any, positions: Any = None, edge_fraction: float = 0.1
) -> dict[str, np.ndarray]:
    """The columns of :func:`profile_statistics` (same arguments, units and checks), as one
    array per statistic in `PROFILE_STATISTICS` order, one entry per scan: what a streaming
    chart needs of one scan without loading pandas."""
    data = np.atleast_2d(np.asarray(profiles, dtype=float))
    lanes = data.shape[1]
    if lanes < 5:
        raise SPCInputError(f"A profile needs at least 5 positions, got {lanes}.")
    if not 0.0 < edge_fraction < 0.5:
        raise SPCInputError(f"edge_fraction must be in (0, 0.5), got {edge_fraction}.")
    x = np.arange(lanes, dtype=float) if positions is None else np.asarray(positions, dtype=float)
    if x.shape != (lanes,):
        raise SPCInputError(f"There are {lanes} profile positions but {x.size} coordinates.")
    valid = ~np.isnan(data)
    if np.any(valid.sum(axis=1) < 3):
        raise SPCInputError("Every scan needs at least 3 measured positions.")
    mean = np.nanmean(data, axis=1)
    sd = np.nanstd(data, axis=1, ddof=1)
    xs = np.where(valid, x[None, :], np.nan)
    x_centered = xs - np.nanmean(xs, axis=1, keepdims=True)
    slope = np.nansum(x_centered * (data - mean[:, None]), axis=1) / np.nansum(
        x_centered**2, axis=1
    )
    edge = max(1, round(edge_fraction * lanes))
    center = np.nanmean(data[:, edge:-edge], axis=1)
    return {
        "mean": mean,
        "two_sigma": 2.0 * sd,
        "range": np.nanmax(data, axis=1) - np.nanmin(data, axis=1),
        "cv": sd / mean,
        "wedge": slope,
        "edge_left": np.nanmean(data[:, :edge], axis=1) - center,
        "edge_right": np.nanmean(data[:, -edge:], axis=1) - center,
    }


@dataclass(frozen=True)
class ProfileCharts:
    """Per-scan profile statistics and one I-MR chart set per statistic."""

    statistics: pd.DataFrame
    charts: dict[str, ChartSet]


def profile_charts(
    profiles: Any,
    positions: Any = None,
    *,
    edge_fraction: float = 0.1,
    statistics: Iterable[str] = PROFILE_STATISTICS,
    reference: Any = None,
    rules: str | Iterable[str] | None = "nelson",
) -> ProfileCharts:
    """Chart the per-scan profile statistics on I-MR charts (see :func:`profile_statistics`).

    ``reference`` is the phase I period in scans; ``statistics`` selects which to chart.
    """
    table = profile_statistics(profiles, positions, edge_fraction)
    check_min_points(len(table), 2, "scans")
    chosen = list(statistics)
    unknown = [name for name in chosen if name not in PROFILE_STATISTICS]
    if unknown:
        raise SPCInputError(f"Unknown profile statistic {unknown[0]!r}.")
    charts = {
        name: imr(table[name].to_numpy(), table.index.to_numpy(), reference=reference, rules=rules)
        for name in chosen
    }
    return ProfileCharts(statistics=table, charts=charts)
