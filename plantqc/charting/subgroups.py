"""How a chart's subgroups are formed from stored samples: `spc.subgroups` on the chart's
settings, with the line's rolls from the store.

Subgroups are formed by count (consecutive samples), by time window (``subgroup_window_s``
windows aligned to the Unix epoch) or by roll (the samples between the roll's start and end,
`plantqc.store.models.Roll`).  A time or roll subgroup is complete when the first sample of a
later window or roll arrives and is stamped with its last sample's time; X-bar charts judge it
on the limits of its own size (Montgomery §6.3.2), individuals-based charts chart its mean.
The streaming runner, phase I and reports all form them here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from plantqc.charting.chart import ChartConfig
from plantqc.charting.names import SeriesSpec
from plantqc.store.models import Lot, Roll
from spc import subgroups
from spc.subgroups import SubgroupPoints

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)


def epoch_us(times: Sequence[datetime]) -> np.ndarray:
    """Whole microseconds since the Unix epoch of timezone-aware ``times`` (exact)."""
    return np.fromiter(((t - EPOCH) // _US for t in times), dtype=np.int64, count=len(times))


@dataclass(frozen=True)
class Rolls:
    """A line's rolls by start time: epoch seconds of start and end (inf while open), ids."""

    starts_s: np.ndarray
    ends_s: np.ndarray
    ids: np.ndarray

    @classmethod
    def of(
        cls, spans: Sequence[tuple[datetime, datetime | None]], ids: Sequence[int] | None = None
    ) -> Rolls:
        """From (start, end or None) per roll, in start order."""
        return cls(
            np.array([s.timestamp() for s, _ in spans], dtype=float),
            np.array([e.timestamp() if e else np.inf for _, e in spans], dtype=float),
            np.asarray(ids if ids is not None else range(len(spans)), dtype=np.int64),
        )


def read_rolls(session: Session, line_id: int, until: datetime) -> Rolls:
    """The line's rolls started by ``until``."""
    rows = session.execute(
        select(Roll.started_at, Roll.ended_at, Roll.id)
        .join(Lot, Lot.id == Roll.lot_id)
        .where(Lot.line_id == line_id, Roll.started_at <= until)
        .order_by(Roll.started_at)
    ).all()
    return Rolls.of([(start, end) for start, end, _ in rows], [roll_id for *_, roll_id in rows])


def group_keys(chart: ChartConfig, times_us: np.ndarray, rolls: Rolls | None) -> np.ndarray:
    """The time window (number since the epoch) or roll (id) of each sample;
    `spc.subgroups.OUTSIDE` for one in no roll.  Only for charts not subgrouped by count."""
    if chart.subgroup_by == "time":
        window_us = round(float(chart.subgroup_window_s or 0.0) * 1e6)
        return subgroups.window_keys(times_us, window_us)
    assert rolls is not None
    at = subgroups.span_keys(times_us / 1e6, rolls.starts_s, rolls.ends_s)
    return np.where(at == subgroups.OUTSIDE, subgroups.OUTSIDE, rolls.ids[np.clip(at, 0, None)])


def chart_points(
    chart: ChartConfig,
    series: SeriesSpec,
    times_us: np.ndarray,
    values: np.ndarray,
    rolls: Rolls | None = None,
) -> SubgroupPoints:
    """The points chart ``series`` of ``chart`` judges from time-ordered Good, finite values
    (`spc.subgroups.points`; times in epoch seconds).  A profile statistic is charted point by
    point; a trailing partial count subgroup is left out, a time or roll subgroup counts once
    it has begun (a caller that wants only complete ones ends the data where the last one
    ends)."""
    times_s = times_us / 1e6
    if chart.subgroup_by == "count" or series.statistic is not None:
        return subgroups.points(times_s, values, xbar=series.xbar, size=chart.subgroup_size)
    keys = group_keys(chart, times_us, rolls)
    return subgroups.points(times_s, values, xbar=series.xbar, keys=keys)
