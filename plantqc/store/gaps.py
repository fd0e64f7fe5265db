"""Data gaps: stretches of a tag's data that the server kept no history of, stored as such.

A gap is recorded by the OPC UA connector when it comes back (after a restart or a lost
connection) to a node that does not historise, or to a stretch longer than its maximum
backfill window; it travels through the durable buffer like a sample and is written here
idempotently (unique on tag + start).  Grafana's gaps panel and the lot report's data
completeness section read it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, NamedTuple

from sqlalchemy import Engine, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from plantqc.store.models import DataGap, utcnow

if TYPE_CHECKING:
    # read_gaps returns a DataFrame; the daemon, which only writes gaps, never loads pandas
    import pandas as pd


class GapRow(NamedTuple):
    """One gap: nothing is stored for ``tag_id`` strictly between ``start`` and ``end``."""

    tag_id: int
    start: datetime
    end: datetime
    reason: str


def insert_gaps(engine: Engine, rows: Sequence[GapRow]) -> int:
    """Record ``rows``, skipping a gap of a tag already recorded from the same start."""
    if not rows:
        return 0
    now = utcnow()
    records = [
        {
            "tag_id": r.tag_id,
            "gap_from": r.start,
            "gap_to": r.end,
            "reason": r.reason,
            "recorded_at": now,
        }
        for r in rows
    ]
    with engine.begin() as connection:
        insert = pg_insert if connection.dialect.name == "postgresql" else sqlite_insert
        statement = (
            insert(DataGap.__table__).values(records).on_conflict_do_nothing().returning(DataGap.id)
        )
        return len(connection.execute(statement).all())


def read_gaps(
    engine: Engine, tag_id: int, start: datetime | None = None, end: datetime | None = None
) -> pd.DataFrame:
    """Gaps of one tag that overlap ``[start, end)``, oldest first.

    Columns: ``start``, ``end`` (UTC; the stored samples that bound the gap) and ``reason``.
    """
    query = select(DataGap.gap_from, DataGap.gap_to, DataGap.reason).where(DataGap.tag_id == tag_id)
    if start is not None:
        query = query.where(DataGap.gap_to > start)
    if end is not None:
        query = query.where(DataGap.gap_from < end)
    with engine.connect() as connection:
        rows = connection.execute(query.order_by(DataGap.gap_from)).all()
    import pandas as pd

    frame = pd.DataFrame(rows, columns=["start", "end", "reason"])
    for column in ("start", "end"):
        frame[column] = pd.to_datetime(pd.Series(frame[column], dtype=object), utc=True)
    return frame
