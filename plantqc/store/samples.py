"""Samples and profiles: bulk idempotent writes and the time-series queries built on them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from operator import itemgetter
from typing import TYPE_CHECKING, Any, NamedTuple

from sqlalchemy import Connection, Engine, Integer, Select, and_, cast, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from plantqc.quality import GOOD_BELOW
from plantqc.store.models import Profile, Sample, Tag, TimestampOrigin

if TYPE_CHECKING:
    # the readers below return DataFrames; the daemon, which only writes, never loads pandas
    import pandas as pd


class SampleRow(NamedTuple):
    """One scalar sample as written to the store."""

    tag_id: int
    ts: datetime
    value: float | None
    status: int = 0
    ts_origin: int = TimestampOrigin.SOURCE
    backfilled: bool = False


class ProfileRow(NamedTuple):
    """One array sample (e.g. a cross-direction scan) as written to the store."""

    tag_id: int
    ts: datetime
    values: Sequence[float]
    status: int = 0
    ts_origin: int = TimestampOrigin.SOURCE
    backfilled: bool = False


def _sqlite_text(ts: datetime) -> str:
    # SQLAlchemy's SQLite DATETIME storage format, so rows written here and by the ORM compare equal
    if ts.tzinfo is None:
        raise ValueError(f"sample timestamp {ts.isoformat()} has no timezone; give it in UTC")
    if ts.utcoffset():
        ts = ts.astimezone(UTC)
    return ts.replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")


_KEY = itemgetter(0, 1)
_SQLITE_INSERT = (
    "INSERT INTO samples (tag_id, ts, value, status, ts_origin, backfilled) "
    "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (tag_id, ts) DO NOTHING"
)
# samples_in2: the staging table gained the backfilled column; a new name, so a session that
# still holds the old temporary table (pooled connection) never copies into the wrong shape
_PG_STAGE = (
    "CREATE TEMP TABLE IF NOT EXISTS samples_in2 (tag_id integer, ts timestamptz, "
    "value float8, status bigint, ts_origin smallint, backfilled boolean) ON COMMIT DELETE ROWS"
)
_PG_COPY = (
    "COPY samples_in2 (tag_id, ts, value, status, ts_origin, backfilled) FROM STDIN (FORMAT BINARY)"
)
_PG_MERGE = (
    "INSERT INTO samples (tag_id, ts, value, status, ts_origin, backfilled) "
    "SELECT tag_id, ts, value, status, ts_origin, backfilled FROM samples_in2 "
    "ON CONFLICT (tag_id, ts) DO NOTHING"
)


def insert_samples(engine: Engine, rows: Sequence[SampleRow]) -> int:
    """Write ``rows`` in one transaction, skipping any (tag, time) already stored.

    Returns the number of rows actually inserted, so a re-sent batch reports 0.
    SQLite takes one ``executemany`` of ``INSERT ... ON CONFLICT DO NOTHING``; PostgreSQL
    takes a binary ``COPY`` into a temporary table merged with ``ON CONFLICT DO NOTHING``,
    which is several times faster than row-wise inserts.
    """
    if not rows:
        return 0
    with engine.begin() as connection:
        if connection.dialect.name == "sqlite":
            # rows of one scan share timestamps: convert each distinct time once
            texts: dict[datetime, str] = {}
            params = [
                (r[0], texts.get(r[1]) or texts.setdefault(r[1], _sqlite_text(r[1])), *r[2:])
                for r in rows
            ]
            params.sort(key=_KEY)  # key order: each B-tree page is visited once per batch
            return connection.exec_driver_sql(_SQLITE_INSERT, params).rowcount
        return _pg_copy_merge(connection, rows)


def _pg_copy_merge(connection: Connection, rows: Sequence[SampleRow]) -> int:
    driver = connection.connection.driver_connection
    assert driver is not None
    with driver.cursor() as cursor:
        cursor.execute(_PG_STAGE)
        with cursor.copy(_PG_COPY) as copy:
            copy.set_types(["int4", "timestamptz", "float8", "int8", "int2", "bool"])
            for row in rows:
                if row[1].tzinfo is None:
                    raise ValueError(f"sample timestamp {row[1].isoformat()} has no timezone")
                copy.write_row(row)
        cursor.execute(_PG_MERGE)
        inserted = cursor.rowcount
        cursor.execute("TRUNCATE samples_in2")
    return inserted


_PROFILE_CHUNK = 500  # rows per statement, well below SQLite's bound-parameter limit


def _insert_ignore(connection: Connection, table: Any, records: list[dict[str, Any]]) -> Any:
    insert = pg_insert if connection.dialect.name == "postgresql" else sqlite_insert
    return insert(table).values(records).on_conflict_do_nothing()


def insert_profiles(engine: Engine, rows: Sequence[ProfileRow]) -> int:
    """Write array samples idempotently (unique on tag + time); return how many were new."""
    if not rows:
        return 0
    records = [
        {
            "tag_id": r.tag_id,
            "ts": r.ts,
            "values": [float(v) for v in r.values],
            "status": r.status,
            "ts_origin": r.ts_origin,
            "backfilled": r.backfilled,
        }
        for r in rows
    ]
    inserted = 0
    with engine.begin() as connection:
        for start in range(0, len(records), _PROFILE_CHUNK):
            chunk = records[start : start + _PROFILE_CHUNK]
            # RETURNING counts what was new on both dialects; rowcount of a batch does not
            statement = _insert_ignore(connection, Profile.__table__, chunk).returning(
                Profile.tag_id
            )
            inserted += len(connection.execute(statement).all())
    return inserted


def newest_times(engine: Engine, tag_ids: Sequence[int]) -> dict[int, datetime]:
    """The newest stored sample time of each tag in ``tag_ids`` that has one, UTC.

    Samples and profiles alike (a tag is one or the other); one index lookup per tag, as
    ``MAX(ts)`` of one tag is the last entry of its (tag, ts) key range on both dialects.
    """
    newest: dict[int, datetime] = {}
    with engine.connect() as connection:
        for table in (Sample, Profile):
            for tag_id in tag_ids:
                ts = connection.execute(
                    select(func.max(table.ts)).where(table.tag_id == tag_id)
                ).scalar()
                if ts is not None:
                    # MAX() loses the column type on SQLite: it comes back as text
                    ts = ts if isinstance(ts, datetime) else datetime.fromisoformat(ts)
                    newest[tag_id] = ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts
    return newest


def _window(query: Select[Any], start: datetime | None, end: datetime | None) -> Select[Any]:
    if start is not None:
        query = query.where(Sample.ts >= start)
    if end is not None:
        query = query.where(Sample.ts < end)
    return query


def _utc_column(values: Any) -> pd.Series:
    import pandas as pd

    return pd.to_datetime(pd.Series(values, dtype=object), utc=True)


def read_samples(
    engine: Engine,
    tag_id: int,
    start: datetime | None = None,
    end: datetime | None = None,
    *,
    good_only: bool = False,
) -> pd.DataFrame:
    """Samples of one tag in ``[start, end)``, oldest first.

    Columns: ``time`` (UTC), ``value``, ``status`` (OPC UA code), ``ts_origin``.
    """
    query = select(Sample.ts, Sample.value, Sample.status, Sample.ts_origin).where(
        Sample.tag_id == tag_id
    )
    if good_only:
        query = query.where(Sample.status < GOOD_BELOW)
    query = _window(query, start, end).order_by(Sample.ts)
    with engine.connect() as connection:
        rows = connection.execute(query).all()
    import pandas as pd

    frame = pd.DataFrame(rows, columns=["time", "value", "status", "ts_origin"])
    frame["time"] = _utc_column(frame["time"])
    return frame.astype({"value": "float64", "status": "int64", "ts_origin": "int64"})


def _bucket_epoch(connection: Connection, bucket_s: int) -> Any:
    if connection.dialect.name == "sqlite":
        return cast(func.strftime("%s", Sample.ts), Integer) // bucket_s * bucket_s
    return func.floor(func.extract("epoch", Sample.ts) / bucket_s) * bucket_s


def downsample(
    engine: Engine,
    tag_id: int,
    start: datetime,
    end: datetime,
    bucket_s: int,
) -> pd.DataFrame:
    """Good samples of a tag in time buckets of ``bucket_s`` seconds: min, mean, max, count.

    Buckets are aligned to the Unix epoch, so the same bucket has the same start on every
    query; empty buckets are absent.  Columns: ``time`` (bucket start, UTC), ``min``,
    ``mean``, ``max``, ``count``.
    """
    if bucket_s <= 0:
        raise ValueError(f"bucket width must be a positive number of seconds, got {bucket_s}")
    with engine.connect() as connection:
        bucket = _bucket_epoch(connection, bucket_s).label("bucket")
        query = (
            select(
                bucket,
                func.min(Sample.value),
                func.avg(Sample.value),
                func.max(Sample.value),
                func.count(Sample.value),
            )
            .where(Sample.tag_id == tag_id, Sample.status < GOOD_BELOW)
            .group_by(bucket)
            .order_by(bucket)
        )
        rows = connection.execute(_window(query, start, end)).all()
    import pandas as pd

    frame = pd.DataFrame(rows, columns=["time", "min", "mean", "max", "count"])
    frame["time"] = pd.to_datetime(frame["time"].astype("float64"), unit="s", utc=True)
    return frame.astype({"min": "float64", "mean": "float64", "max": "float64", "count": "int64"})


def latest_values(engine: Engine, line_id: int) -> pd.DataFrame:
    """Newest sample of each tag of a line: columns ``tag``, ``time``, ``value``, ``status``."""
    newest = (
        select(Sample.tag_id, func.max(Sample.ts).label("ts"))
        .join(Tag, Tag.id == Sample.tag_id)
        .where(Tag.line_id == line_id)
        .group_by(Sample.tag_id)
        .subquery()
    )
    query = (
        select(Tag.name, Sample.ts, Sample.value, Sample.status)
        .join(newest, and_(Sample.tag_id == newest.c.tag_id, Sample.ts == newest.c.ts))
        .join(Tag, Tag.id == Sample.tag_id)
        .order_by(Tag.name)
    )
    with engine.connect() as connection:
        rows = connection.execute(query).all()
    import pandas as pd

    frame = pd.DataFrame(rows, columns=["tag", "time", "value", "status"])
    frame["time"] = _utc_column(frame["time"])
    return frame
