"""The lot report's data completeness: what share of each tag's expected samples is stored.

A QC record that silently lacks ten seconds is not complete.  For each process and profile
tag of the report's range ``[start, end)`` this counts the samples stored (any status: a Bad
sample was received, it is not missing), how many of them were read back from the OPC UA
server's history after a restart or reconnect, and the data gaps the edge daemon recorded
where the server kept no history (`plantqc.store.gaps`).

Expected samples come from the tag's configured sampling interval: ``floor((end - start) /
interval)``, the number of whole intervals in the range.  A tag with a deadband, or whose
server samples slower than asked, reports fewer values by design, so its percentage is a
lower bound of completeness there; a gap is a stretch positively known to be missing.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, func, select

from plantqc.config import PlantConfig
from plantqc.reports.data import LotData
from plantqc.store.gaps import read_gaps
from plantqc.store.models import Profile, Sample


@dataclass(frozen=True)
class GapInRange:
    """One recorded data gap, clipped to the report's range."""

    start: str
    end: str
    seconds: float
    reason: str


@dataclass(frozen=True)
class TagCompleteness:
    """Completeness of one tag over the report's range.

    ``stored_pct`` is ``100 * min(stored, expected) / expected``; None without a configured
    sampling interval.  ``missing_s`` is the time inside recorded gaps, s.
    """

    tag: str
    interval_s: float | None
    expected: int | None
    stored: int
    stored_pct: float | None
    backfilled: int
    missing_s: float
    gaps: list[GapInRange]


def _intervals(config: PlantConfig | None, line: str) -> dict[str, float]:
    if config is None:
        return {}
    for entry in config.lines:
        if entry.name == line:
            # a tag sampled by exception (interval 0) sends what changes: no count to expect
            return {
                tag.name: tag.sampling_interval_ms / 1000
                for tag in entry.tags
                if tag.sampling_interval_ms > 0
            }
    return {}


def tag_completeness(
    engine: Engine,
    tag_id: int,
    name: str,
    table: type[Sample] | type[Profile],
    start: datetime,
    end: datetime,
    interval_s: float | None,
) -> TagCompleteness:
    """Completeness of one tag whose samples are in ``table``, over ``[start, end)``."""
    in_range = (table.tag_id == tag_id, table.ts >= start, table.ts < end)
    with engine.connect() as connection:
        stored, backfilled = connection.execute(
            select(func.count(), func.count().filter(table.backfilled)).where(*in_range)
        ).one()
    gaps = []
    for row in read_gaps(engine, tag_id, start, end).itertuples(index=False):
        clipped_start = max(row.start.to_pydatetime(), start)
        clipped_end = min(row.end.to_pydatetime(), end)
        gaps.append(
            GapInRange(
                clipped_start.isoformat(),
                clipped_end.isoformat(),
                (clipped_end - clipped_start).total_seconds(),
                row.reason,
            )
        )
    expected = None if interval_s is None else int((end - start).total_seconds() // interval_s)
    pct = None if not expected else 100.0 * min(stored, expected) / expected
    return TagCompleteness(
        tag=name,
        interval_s=interval_s,
        expected=expected,
        stored=int(stored),
        stored_pct=pct,
        backfilled=int(backfilled),
        missing_s=sum(g.seconds for g in gaps),
        gaps=gaps,
    )


def completeness_document(
    engine: Engine, data: LotData, config: PlantConfig | None
) -> list[dict[str, Any]]:
    """The ``completeness`` entry of ``report.json``: one `TagCompleteness` per tag."""
    intervals = _intervals(config, data.line)
    rows = [
        tag_completeness(engine, t.id, t.name, Sample, data.start, data.end, intervals.get(t.name))
        for t in data.tags
    ] + [
        tag_completeness(engine, t.id, t.name, Profile, data.start, data.end, intervals.get(t.name))
        for t in data.profile_tags
    ]
    return [asdict(row) for row in rows]
