"""Rational subgroups: which observations a chart judges together, and what one point is.

Three ways of forming them (Montgomery §5.3.4, rational subgroups): by count (``size``
consecutive observations), by time window (windows of a fixed width aligned to the Unix epoch)
and by span (the observations between a span's start and end: a roll of film, a batch).  A
subgroup by time or span is complete when an observation of a later window or span arrives;
it is stamped with the time of its last member, the moment it could first be judged.

An X-bar chart judges each subgroup's members (a range or standard deviation needs two, so a
time or span subgroup of one is not charted); an individuals-based chart (I-MR, EWMA, CUSUM)
judges one value per subgroup: the observation itself by count, the subgroup mean by time or
span.  The functions are pure: times in, labels and points out.

References
----------
.. [1] D. C. Montgomery, *Introduction to Statistical Quality Control*, 7th ed., Wiley, 2013,
   §5.3.4 (rational subgroups), §6.3.2 (variable sample size), §6.4 (individuals).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = ["SubgroupPoints", "count_labels", "points", "span_keys", "window_keys"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

OUTSIDE = -1
"""Key of an observation that lies in no span (not charted)."""


def window_keys(times_us: npt.ArrayLike, window_us: int) -> IntArray:
    """The epoch-aligned time window of each observation.

    Parameters
    ----------
    times_us : array_like of int
        Observation times in whole microseconds since the Unix epoch (UTC).
    window_us : int
        Window width in microseconds (> 0).

    Returns
    -------
    ndarray of int64
        Window number since the epoch, ``floor(t / window)``.
    """
    if window_us <= 0:
        raise ValueError(f"window_us must be positive, got {window_us}")
    return np.floor_divide(np.asarray(times_us, dtype=np.int64), np.int64(window_us))


def span_keys(times: npt.ArrayLike, starts: npt.ArrayLike, ends: npt.ArrayLike) -> IntArray:
    """The span (index into ``starts``) holding each observation, `OUTSIDE` where none does.

    Parameters
    ----------
    times : array_like of float
        Observation times (any unit, the same as ``starts`` and ``ends``).
    starts : array_like of float
        Span start times, ascending; a span holds ``start <= t < end``.
    ends : array_like of float
        Span end times (``inf`` for a span still open), at the same index as ``starts``.

    Returns
    -------
    ndarray of int64
        The index of the latest span started at or before each time, when that span has not
        ended by then; else `OUTSIDE`.
    """
    t = np.asarray(times, dtype=float)
    start = np.asarray(starts, dtype=float)
    end = np.asarray(ends, dtype=float)
    if start.size == 0:
        return np.full(t.shape, OUTSIDE, dtype=np.int64)
    at = np.searchsorted(start, t, side="right") - 1
    inside = (at >= 0) & (t < end[np.clip(at, 0, None)])
    return np.where(inside, at, OUTSIDE).astype(np.int64)


def count_labels(count: int, size: int) -> IntArray:
    """Labels of the complete subgroups of ``size`` consecutive observations out of ``count``.

    A trailing incomplete subgroup is left out: the result has ``count // size * size``
    labels, ``0, 0, ..., 1, 1, ...``.
    """
    if size < 1:
        raise ValueError(f"size must be at least 1, got {size}")
    return np.arange(count // size * size, dtype=np.int64) // size


@dataclass(frozen=True)
class SubgroupPoints:
    """What a chart judges, from time-ordered observations.

    ``times`` and ``values`` are per charted observation: for an X-bar chart every member of
    every charted subgroup, with ``labels`` numbering the subgroups ``0, 1, ...``; for an
    individuals-based chart one value per point and ``labels`` None.  ``point_times`` holds
    the time of each point (a subgroup's last member).
    """

    times: FloatArray
    values: FloatArray
    labels: IntArray | None
    point_times: FloatArray


def points(
    times: npt.ArrayLike,
    values: npt.ArrayLike,
    *,
    xbar: bool,
    size: int = 1,
    keys: npt.ArrayLike | None = None,
) -> SubgroupPoints:
    """The points a chart judges from time-ordered observations.

    Parameters
    ----------
    times, values : array_like of float
        Observation times (ascending) and values, Good and finite.
    xbar : bool
        True for an X-bar chart (subgroup members), False for an individuals-based chart.
    size : int
        Subgroup size by count (X-bar charts; ignored otherwise and when ``keys`` is given).
    keys : array_like of int, optional
        The time window (`window_keys`) or span (`span_keys`) of each observation; None
        forms subgroups by count.  Observations keyed `OUTSIDE` are not charted.  Every
        subgroup counts, the last one too: a caller that streams leaves out the subgroup
        still open.

    Returns
    -------
    SubgroupPoints
        By count: the complete subgroups of ``size`` (X-bar), or each observation.  By key:
        every subgroup with at least two members (X-bar), or each subgroup's mean.
    """
    t = np.asarray(times, dtype=float)
    v = np.asarray(values, dtype=float)
    if keys is None:
        if not xbar:
            return SubgroupPoints(t, v, None, t)
        labels = count_labels(v.size, size)
        n = labels.size
        return SubgroupPoints(t[:n], v[:n], labels, t[size - 1 : n : size])
    k = np.asarray(keys, dtype=np.int64)
    keep = k != OUTSIDE
    t, v, k = t[keep], v[keep], k[keep]
    if k.size == 0:
        empty = np.empty(0)
        return SubgroupPoints(empty, empty, np.empty(0, np.int64) if xbar else None, empty)
    # keys run in time order; a new subgroup starts wherever the key changes
    first = np.flatnonzero(np.r_[True, k[1:] != k[:-1]])
    counts = np.diff(np.r_[first, k.size])
    last = first + counts - 1
    if xbar:
        group = np.repeat(np.arange(first.size), counts)
        charted = counts >= 2
        members = charted[group]
        labels = (np.cumsum(charted) - 1)[group[members]].astype(np.int64)
        return SubgroupPoints(t[members], v[members], labels, t[last[charted]])
    means = np.add.reduceat(v, first) / counts
    return SubgroupPoints(t[last], means, None, t[last])
