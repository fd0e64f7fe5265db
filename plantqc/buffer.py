"""The durable store-and-forward buffer: an on-disk queue between the connectors and the store.

Samples are appended to a SQLite file in WAL mode with ``synchronous=FULL``, so a commit is
on disk before `SampleBuffer.put` returns: a ``kill -9`` of the daemon loses nothing that
reached the queue.  The drain reads the oldest rows, writes them to the store and only then
deletes them (`SampleBuffer.ack`); a crash between the two re-sends rows that the store's
idempotent insert (unique on tag + time) then skips, so nothing is stored twice.

A reading of kind ``gap`` is not a sample but the record of a data gap (the stretch from
``ts`` lasting ``value`` seconds that the OPC UA server kept no history of, ``text`` saying
why); it travels the same way so that it is recorded even when the database is down.

The queue is bounded by a number of samples.  Past the bound new samples are refused and
counted; `SampleBuffer.near_full` says when the depth passes the alarm fraction.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal, NamedTuple

ReadingKind = Literal["scalar", "profile", "lot_id", "roll_id", "gap"]
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS queue (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    line TEXT NOT NULL,
    tag TEXT NOT NULL,
    kind TEXT NOT NULL,
    ts_us INTEGER NOT NULL,
    ts_origin INTEGER NOT NULL,
    status INTEGER NOT NULL,
    value REAL,
    payload TEXT,
    backfilled INTEGER NOT NULL DEFAULT 0
)
"""
# a queue file written before readings could be backfilled lacks the column
_ADD_BACKFILLED = "ALTER TABLE queue ADD COLUMN backfilled INTEGER NOT NULL DEFAULT 0"


class Reading(NamedTuple):
    """One sample as received: scalar ``value``, profile ``values`` or id ``text``.

    ``ts`` is timezone-aware UTC; ``ts_origin`` says which clock it came from
    (`plantqc.store.TimestampOrigin`); ``status`` is the OPC UA status code; ``backfilled``
    says it was read from the server's history rather than received on a subscription.
    A ``gap`` reading records a data gap instead (see `gap_reading`).
    """

    line: str
    tag: str
    kind: ReadingKind
    ts: datetime
    ts_origin: int
    status: int
    value: float | None = None
    values: tuple[float, ...] | None = None
    text: str | None = None
    backfilled: bool = False

    @property
    def gap_end(self) -> datetime:
        """Where a ``gap`` reading's gap ends (its first sample after the gap), UTC."""
        assert self.kind == "gap" and self.value is not None
        return self.ts + timedelta(microseconds=round(self.value * 1e6))


def gap_reading(line: str, tag: str, start: datetime, end: datetime, reason: str) -> Reading:
    """The `Reading` that records a data gap of ``tag`` from ``start`` to ``end``.

    The length goes in ``value`` in seconds: a float64 holds any gap up to about 285 years
    to the microsecond, so `Reading.gap_end` gives ``end`` back exactly.
    """
    length = end - start
    seconds = (length.days * 86_400 + length.seconds) + length.microseconds / 1e6
    return Reading(line, tag, "gap", start, 0, 0, seconds, None, reason)


def _to_us(ts: datetime) -> int:
    # integer microseconds: exact, unlike a float of seconds, so dedup on time stays exact
    delta = ts - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def _from_us(us: int) -> datetime:
    return _EPOCH + timedelta(microseconds=us)


def _encode(r: Reading) -> tuple[object, ...]:
    if r.ts.tzinfo is None:
        raise ValueError(f"reading of {r.line}.{r.tag} has a naive timestamp; give it in UTC")
    payload = json.dumps(r.values) if r.values is not None else r.text
    return (
        r.line,
        r.tag,
        r.kind,
        _to_us(r.ts),
        r.ts_origin,
        r.status,
        r.value,
        payload,
        int(r.backfilled),
    )


def _decode(row: tuple[object, ...]) -> Reading:
    line, tag, kind, ts_us, origin, status, value, payload, backfilled = row
    values = tuple(json.loads(payload)) if kind == "profile" and payload is not None else None
    return Reading(
        line=str(line),
        tag=str(tag),
        kind=kind,  # type: ignore[arg-type]
        ts=_from_us(int(ts_us)),  # type: ignore[call-overload]
        ts_origin=int(origin),  # type: ignore[call-overload]
        status=int(status),  # type: ignore[call-overload]
        value=value,  # type: ignore[arg-type]
        values=values,
        text=str(payload) if kind in ("lot_id", "roll_id", "gap") and payload is not None else None,
        backfilled=bool(backfilled),
    )


class SampleBuffer:
    """A bounded, durable FIFO of `Reading` in one SQLite file.

    Parameters
    ----------
    path : Path
        The queue file; its folder is created.
    max_samples : int
        Bound on the queue depth, in samples.
    alarm_fraction : float
        Depth, as a fraction of the bound, from which `near_full` is true.
    """

    def __init__(self, path: Path, max_samples: int, *, alarm_fraction: float = 0.8) -> None:
        if max_samples < 1:
            raise ValueError(f"buffer bound must be at least 1 sample, got {max_samples}")
        if not 0 < alarm_fraction <= 1:
            raise ValueError(f"alarm fraction must be in (0, 1], got {alarm_fraction}")
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.max_samples = max_samples
        self.alarm_fraction = alarm_fraction
        self.refused = 0
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        # FULL: the WAL is fsync'd at every commit, so an acknowledged put survives power loss
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute(_SCHEMA)
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(queue)")}
        if "backfilled" not in columns:
            self._db.execute(_ADD_BACKFILLED)
        self._depth = int(self._db.execute("SELECT COUNT(*) FROM queue").fetchone()[0])

    @property
    def depth(self) -> int:
        """Samples waiting in the queue."""
        return self._depth

    @property
    def near_full(self) -> bool:
        """Whether the depth has reached the alarm fraction of the bound."""
        return self._depth >= self.alarm_fraction * self.max_samples

    def put(self, readings: Sequence[Reading]) -> int:
        """Append ``readings`` durably, as many as the bound allows; return how many."""
        with self._lock:
            room = max(0, self.max_samples - self._depth)
            accepted = readings[:room]
            self.refused += len(readings) - len(accepted)
            if accepted:
                with self._db:
                    self._db.execute("BEGIN")
                    self._db.executemany(
                        "INSERT INTO queue (line, tag, kind, ts_us, ts_origin, status, value, "
                        "payload, backfilled) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        [_encode(r) for r in accepted],
                    )
                self._depth += len(accepted)
            return len(accepted)

    def peek(self, limit: int) -> tuple[int, list[Reading]]:
        """The oldest ``limit`` readings and the queue id of the last one (0 when empty)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT id, line, tag, kind, ts_us, ts_origin, status, value, payload, "
                "backfilled FROM queue ORDER BY id LIMIT ?",
                (limit,),
            ).fetchall()
        if not rows:
            return 0, []
        return int(rows[-1][0]), [_decode(row[1:]) for row in rows]

    def ack(self, last_id: int) -> int:
        """Delete every reading up to queue id ``last_id`` (stored); return how many."""
        with self._lock, self._db:
            self._db.execute("BEGIN")
            removed = self._db.execute("DELETE FROM queue WHERE id <= ?", (last_id,)).rowcount
            self._depth -= removed
            return removed

    def newest(self) -> dict[tuple[str, str], datetime]:
        """The newest queued sample time per (line, tag), data gaps left out."""
        with self._lock:
            rows = self._db.execute(
                "SELECT line, tag, MAX(ts_us) FROM queue WHERE kind != 'gap' GROUP BY line, tag"
            ).fetchall()
        return {(str(line), str(tag)): _from_us(int(us)) for line, tag, us in rows}

    def close(self) -> None:
        with self._lock:
            self._db.close()
