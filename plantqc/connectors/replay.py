"""Replay of recorded data: a CSV or Parquet file as an `Input`, one per line of the file.

The file is long form, one sample a row, columns ``line``, ``tag``, ``source_time``,
``value`` and optionally ``status`` (`RECORDING_COLUMNS`); `plantqc.export` writes the same
format, so an export replays into a store as the same samples.  `read_recording` parses it
whole before anything is handed on: a row that names a line or tag the config does not have,
or whose time, value or status does not parse, is rejected and listed with its row number
(data rows counted from 1, the header not counted), never dropped silently.

`ReplayInput` hands the readings of its line to the daemon's sink like the OPC UA input,
with their source timestamps (``ts_origin`` SOURCE), in time order: paced at ``speed`` times
real time, or at ``max`` as fast as the daemon's durable buffer drains.  Its ``run`` returns
when the file is played, which ends the daemon's run (an input that ends stops the daemon).
"""

from __future__ import annotations

import asyncio
import csv
import math
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from plantqc.buffer import Reading
from plantqc.connectors import InputState, ReadingSink
from plantqc.errors import UserError
from plantqc.store.models import TimestampOrigin

RECORDING_COLUMNS = ("line", "tag", "source_time", "value", "status")
"""Columns of a recording, in the order `plantqc.export` writes them; ``status`` optional."""
_REQUIRED = RECORDING_COLUMNS[:4]
STATUS_SEVERITY = {"good": 0, "uncertain": 0x40000000, "bad": 0x80000000}
"""The generic codes of the three severities (OPC UA Part 4 §7.39: Good, Uncertain, Bad)."""
LISTED_REJECTIONS = 10
"""Rejected rows named one by one in a summary; the rest are counted."""


@dataclass(frozen=True)
class Rejected:
    """A row of a recording that cannot be replayed: its number (data rows from 1) and why."""

    row: int
    reason: str


@dataclass
class Recording:
    """A parsed recording: the readings to replay, oldest first, and the rows refused."""

    rows: int = 0
    readings: list[Reading] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)

    @property
    def tags(self) -> set[tuple[str, str]]:
        """The (line, tag) pairs that have readings."""
        return {(r.line, r.tag) for r in self.readings}

    @property
    def span(self) -> tuple[datetime, datetime] | None:
        """First and last source time, UTC; None without readings."""
        if not self.readings:
            return None
        return self.readings[0].ts, self.readings[-1].ts

    def summary(self) -> list[str]:
        """What was replayed, in sentences: rows, tags, time span, rejected rows."""
        lines = [f"{self.rows} row(s) read, {len(self.readings)} replayed"]
        if self.span is not None:
            first, last = self.span
            hours = (last - first).total_seconds() / 3600
            lines.append(
                f"{len(self.tags)} tag(s) on {len({line for line, _ in self.tags})} line(s), "
                f"from {first.isoformat()} to {last.isoformat()} ({hours:.2f} h)"
            )
        lines.append(f"{len(self.rejected)} row(s) rejected")
        lines += [f"  row {r.row}: {r.reason}" for r in self.rejected[:LISTED_REJECTIONS]]
        if len(self.rejected) > LISTED_REJECTIONS:
            lines.append(f"  ... and {len(self.rejected) - LISTED_REJECTIONS} more")
        return lines


def parse_status(text: object) -> int:
    """An OPC UA status code from a recording's ``status`` cell.

    ``Good`` / ``Uncertain`` / ``Bad`` (any case) are the generic codes of their severity;
    any other OPC UA name (``BadSensorFailure``) is its code; a number (decimal, or hex with
    ``0x``) is taken as the code itself.  Empty is Good.  Raises ValueError otherwise.
    """
    if text is None or (isinstance(text, float) and math.isnan(text)):
        return 0
    if isinstance(text, int) and not isinstance(text, bool):
        code = text
    else:
        word = str(text).strip()
        if not word:
            return 0
        if word.lower() in STATUS_SEVERITY:
            return STATUS_SEVERITY[word.lower()]
        try:
            code = int(word, 0)
        except ValueError:
            code = _status_by_name(word)
    if not 0 <= code <= 0xFFFFFFFF:
        raise ValueError(f"status {text!r} is not a 32-bit OPC UA StatusCode")
    return code


def _status_by_name(word: str) -> int:
    # asyncua only for its table of names, and only for a name other than the three severities
    from asyncua.ua import StatusCodes

    code = getattr(StatusCodes, word, None)
    if not isinstance(code, int) or not word[:1].isupper():
        raise ValueError(
            f"status {word!r} is not Good, Uncertain, Bad, an OPC UA status name or a number"
        )
    return code


def parse_source_time(value: object) -> datetime:
    """A timezone-aware source time from an ISO 8601 string with offset or an aware datetime.

    Returned in UTC.  A time without an offset is refused: its time zone would be a guess.
    """
    if isinstance(value, datetime):
        moment = value
    else:
        try:
            moment = datetime.fromisoformat(str(value).strip())
        except ValueError:
            raise ValueError(f"source_time {value!r} is not an ISO 8601 time") from None
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"source_time {value!r} has no UTC offset (e.g. +00:00 or Z)")
    return moment.astimezone(UTC)


def read_recording(path: Path, scalar_tags: Mapping[str, Iterable[str]]) -> Recording:
    """Parse the recording at ``path`` (``.parquet``, else CSV) against the config's tags.

    Parameters
    ----------
    path : Path
        The recorded file.
    scalar_tags : mapping
        Per line name of the config, the names of its scalar tags: the only ones a recording
        of float values can feed.

    Raises
    ------
    UserError
        The file cannot be read, or lacks one of the required columns.
    """
    known = {line: set(tags) for line, tags in scalar_tags.items()}
    recording = Recording()
    for number, row in enumerate(_rows(path), start=1):
        recording.rows += 1
        try:
            reading = _reading(row, known)
        except ValueError as exc:
            recording.rejected.append(Rejected(number, str(exc)))
            continue
        recording.readings.append(reading)
    recording.readings.sort(key=lambda r: r.ts)  # stable: equal times keep their file order
    return recording


def _reading(row: Mapping[str, object], known: Mapping[str, set[str]]) -> Reading:
    line, tag = str(row["line"] or "").strip(), str(row["tag"] or "").strip()
    if line not in known:
        raise ValueError(f"line {line!r} is not in the config")
    if tag not in known[line]:
        raise ValueError(f"tag {tag!r} is not a scalar tag of line {line!r} in the config")
    ts = parse_source_time(row["source_time"])
    raw = row["value"]
    try:
        value = float(raw) if raw is not None and str(raw).strip() != "" else math.nan
    except (TypeError, ValueError):
        raise ValueError(f"value {raw!r} is not a number") from None
    status = parse_status(row.get("status"))
    # a missing value is kept only with a status that says why (as OPC UA sends a Bad value)
    if math.isnan(value):
        if status < 0x40000000:
            raise ValueError("value is empty or NaN with a Good status")
        return Reading(line, tag, "scalar", ts, TimestampOrigin.SOURCE, status)
    return Reading(line, tag, "scalar", ts, TimestampOrigin.SOURCE, status, value)


def _rows(path: Path) -> Iterator[Mapping[str, object]]:
    if not path.is_file():
        raise UserError(f"recording {path} does not exist or is not a file.")
    if path.suffix.lower() == ".parquet":
        yield from _parquet_rows(path)
    else:
        yield from _csv_rows(path)


def _missing(path: Path, columns: Sequence[str]) -> None:
    absent = [c for c in _REQUIRED if c not in columns]
    if absent:
        raise UserError(
            f"recording {path} lacks column(s) {', '.join(absent)}; "
            f"expected {', '.join(RECORDING_COLUMNS)} (status optional)."
        )


def _csv_rows(path: Path) -> Iterator[Mapping[str, object]]:
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            _missing(path, reader.fieldnames or [])
            yield from reader
    except UnicodeDecodeError:
        raise UserError(f"recording {path} is not UTF-8 text (CSV) nor a .parquet file.") from None
    except OSError as exc:
        raise UserError(f"cannot read {path}: {exc.strerror}.") from None


def _parquet_rows(path: Path) -> Iterator[Mapping[str, object]]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except (OSError, pa.ArrowInvalid) as exc:
        raise UserError(f"cannot read {path} as Parquet: {str(exc).rstrip('.')}.") from None
    _missing(path, table.column_names)
    times = table.column("source_time")
    if pa.types.is_timestamp(times.type) and times.type.tz is None:
        raise UserError(
            f"recording {path}: column source_time is a timestamp without a time zone; "
            "write it timezone-aware (UTC)."
        )
    for batch in table.to_batches():
        yield from batch.to_pylist()


class ReplayInput:
    """The `Input` of one line of a recording.

    Parameters
    ----------
    line : str
        The line whose readings it hands on.
    sink : ReadingSink
        The daemon's sink.
    readings : sequence of Reading
        The line's readings, oldest first (`read_recording`).
    speed : float or "max"
        Factor of real time, or as fast as ``backlog`` allows.
    batch_rows : int
        Readings handed on together at most.
    backlog : callable, optional
        Readings the daemon has taken and not yet stored (`plantqc.daemon.Daemon.backlog`);
        at ``max`` the input waits while it exceeds ``max_backlog``, so a file longer than
        the buffer's bound is never refused by it.
    max_backlog : int
        See ``backlog``.
    origin : datetime, optional
        The recorded time played at the start (default: the first reading's); the inputs of
        one recording share it, so their lines keep their recorded offsets.
    together : _Together, optional
        Shared by the inputs of one recording: each ``run`` returns only when all have played
        (the daemon stops when the first input's ``run`` returns).
    """

    def __init__(
        self,
        line: str,
        sink: ReadingSink,
        readings: Sequence[Reading],
        *,
        speed: float | str = "max",
        batch_rows: int = 2_000,
        backlog: Callable[[], int] | None = None,
        max_backlog: int = 50_000,
        origin: datetime | None = None,
        together: _Together | None = None,
    ) -> None:
        self.line = line
        self.state = InputState()
        self._sink = sink
        self._readings = readings
        self._speed = None if speed == "max" else float(speed)
        self._batch_rows = batch_rows
        self._backlog = backlog
        self._max_backlog = max_backlog
        self._origin = origin or (readings[0].ts if readings else None)
        self._together = together or _Together(1)

    def resume_after(self, newest: Mapping[str, datetime]) -> None:
        """Nothing to do: the whole file is played, and the store's idempotent insert (unique
        on tag and source time) skips what an earlier replay already stored."""

    async def run(self, stop: asyncio.Event) -> None:
        """Hand the readings on in time order, paced, until played or ``stop``."""
        self.state.connected = True
        start = time.monotonic()
        first = self._origin
        i = 0
        try:
            while i < len(self._readings) and not stop.is_set():
                if self._speed is None:
                    batch = self._readings[i : i + self._batch_rows]
                    while self._backlog is not None and self._backlog() > self._max_backlog:
                        if stop.is_set():
                            return
                        await asyncio.sleep(0.05)
                else:
                    assert first is not None
                    # every reading whose recorded offset, scaled, has elapsed
                    due = first.timestamp() + (time.monotonic() - start) * self._speed
                    j = i
                    while (
                        j < len(self._readings)
                        and j - i < self._batch_rows
                        and self._readings[j].ts.timestamp() <= due
                    ):
                        j += 1
                    batch = self._readings[i:j]
                    if not batch:
                        wait = (self._readings[i].ts.timestamp() - due) / self._speed
                        await asyncio.sleep(min(max(wait, 0.001), 0.1))
                        continue
                self._sink(batch)
                self.state.handed_on(batch)
                i += len(batch)
                await asyncio.sleep(0)  # let the daemon flush and drain between batches
            self._together.done()
            await self._together.wait(stop)
        finally:
            self.state.connected = False


class _Together:
    """Counts the inputs of one recording still playing; ends their runs together."""

    def __init__(self, inputs: int) -> None:
        self._left = inputs
        self._all = asyncio.Event()

    def done(self) -> None:
        self._left -= 1
        if self._left <= 0:
            self._all.set()

    async def wait(self, stop: asyncio.Event) -> None:
        waits = [asyncio.ensure_future(self._all.wait()), asyncio.ensure_future(stop.wait())]
        _, pending = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            task.cancel()


def replay_inputs(
    recording: Recording,
    sink: ReadingSink,
    *,
    speed: float | str,
    batch_rows: int,
    backlog: Callable[[], int] | None,
    max_backlog: int,
) -> list[ReplayInput]:
    """One `ReplayInput` per line of ``recording``, all handing on to ``sink``."""
    by_line: dict[str, list[Reading]] = {}
    for reading in recording.readings:
        by_line.setdefault(reading.line, []).append(reading)
    together = _Together(len(by_line))
    origin = recording.span[0] if recording.span is not None else None
    return [
        ReplayInput(
            line,
            sink,
            readings,
            speed=speed,
            batch_rows=batch_rows,
            backlog=backlog,
            max_backlog=max_backlog,
            origin=origin,
            together=together,
        )
        for line, readings in by_line.items()
    ]
