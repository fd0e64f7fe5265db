"""What a lot report is computed from, read from the store, and the hash of exactly those rows.

A report covers one lot, or one roll of it, over the lot's (roll's) time range: the Good
samples of every scalar tag with a spec or chart settings, the cross-direction profiles, the
image results filed under the lot (and roll), the control limits in force over the range
(`LimitsSchedule`) with the chart signals stored against them, and the line's alarms active in
the range with their signals in it.  Limits and signals are those stored when the line ran
(what the operator saw), not a recomputation.  The data hash is a SHA-256 over a canonical
byte form of all of them (`DataHasher`), so anyone can recompute it from the store and check
that a report was computed from the data it claims (`plantqc report verify`).
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import numpy as np
from sqlalchemy import BigInteger, Connection, Engine, String, cast, func, select, type_coerce
from sqlalchemy.orm import Session

from plantqc.alarms import SPC_KIND
from plantqc.charting.catalog import chart_of_row
from plantqc.charting.chart import ChartConfig
from plantqc.charting.limits import FROZEN_BASIS, constants_of, timeline
from plantqc.charting.names import IMAGE_NODE_PREFIX, SeriesSpec, code_charts
from plantqc.errors import UserError
from plantqc.quality import GOOD_BELOW
from plantqc.store.models import (
    Alarm,
    AlarmState,
    ControlLimits,
    ImageResult,
    Line,
    Lot,
    Profile,
    Roll,
    Sample,
    Tag,
    Violation,
)

CHARTED_STATISTICS = (None, "mean", "two_sigma")
"""Charts a report draws: a scalar tag's own (statistic None) and, of a profile tag, those of
the scan mean and the CD 2-sigma (`plantqc.charting.names.PROFILE_SERIES`)."""


@dataclass(frozen=True)
class TagInfo:
    """A tag as the report sees it: spec limits, unit and (when charted) its chart settings."""

    id: int
    name: str
    kind: str
    unit: str
    lsl: float | None
    target: float | None
    usl: float | None
    chart: ChartConfig | None

    @property
    def constants(self) -> str:
        """The constant set its capability is estimated with: its chart's, else ``exact``."""
        return self.chart.constants if self.chart is not None else "exact"


@dataclass(frozen=True)
class Series:
    """The Good, finite samples of one tag in the report's range, oldest first.

    ``times_us`` are microseconds since the Unix epoch (UTC); ``values`` in the tag's unit.
    """

    tag: TagInfo
    times_us: np.ndarray
    values: np.ndarray


@dataclass(frozen=True)
class ProfileSeries:
    """The Good cross-direction scans of one profile tag: one row per scan (NaN-padded)."""

    tag: TagInfo
    times_us: np.ndarray
    scans: np.ndarray


@dataclass(frozen=True)
class LimitsInForce:
    """One stored version of the control limits a tag's chart runs on.

    ``valid_from`` is when frozen limits came into force (None for the learned, provisional
    ones, which apply wherever no frozen version does); ``id`` is the row that
    the chart's stored signals name; ``constants`` the set of d2, d3 and c4 it was estimated
    and is drawn with (`plantqc.charting.limits.constants_of`).
    """

    id: int
    chart: str
    version: int
    basis: str
    center: float
    sigma: float
    sigma_method: str
    frozen_by: str | None
    frozen_at: datetime | None
    valid_from: datetime | None
    constants: str

    @property
    def frozen(self) -> bool:
        return self.frozen_at is not None


@dataclass(frozen=True)
class Signal:
    """A violation the engine stored: the limits row it was judged against, the evaluator's
    chart point (``i``, ``mr``, ``xbar``, ...), the rule and the point's time."""

    limits_id: int | None
    point: str
    rule: str
    ts: datetime


@dataclass(frozen=True)
class LimitsSchedule:
    """The limits versions in force over a report's range, in the order they come into force
    (`plantqc.charting.limits.LimitsTimeline`), and the signals stored against them.

    At a time t the newest frozen version with ``valid_from <= t`` is in force, else the
    limits the chart learned (first in ``versions`` when some part of the range
    has no frozen version), as the engine charted the lot when its data arrived.
    """

    versions: tuple[LimitsInForce, ...]
    signals: tuple[Signal, ...] = ()
    """The violations the engine stored on this chart in the range, oldest first."""

    def at(self, times_s: np.ndarray) -> np.ndarray:
        """Index in ``versions`` of the limits in force at each time (epoch seconds); -1
        where none is."""
        index = np.full(times_s.shape, -1, dtype=int)
        for position, limits in enumerate(self.versions):  # frozen by ascending version
            since = limits.valid_from.timestamp() if limits.valid_from else -math.inf
            index[times_s >= since] = position
        return index


@dataclass(frozen=True)
class ImageRecord:
    """One image result filed under the lot: its analysis document, overlay and roll."""

    id: int
    input_name: str
    analysis: str
    path: str
    sha256: str
    captured_at: datetime
    status: str
    reason: str | None
    metrics: dict[str, Any] | None
    overlay_path: str | None
    roll: str | None


@dataclass(frozen=True)
class AlarmRecord:
    """An alarm of the line active at some time in the report's range."""

    id: int
    tag: str | None
    kind: str
    code: str
    priority: str
    state: str
    message: str
    first_at: datetime
    last_at: datetime
    count: int
    acked_by: str | None
    acked_at: datetime | None
    cause: str | None
    action: str | None
    in_range: int | None
    in_range_first: datetime | None
    in_range_last: datetime | None
    """Its signals (violations) inside the report's range, with the first and last; None for
    an alarm that is not raised by chart signals (a sensor fault)."""

    @property
    def unacknowledged(self) -> bool:
        """Nobody has acknowledged it (ISA-18.2: an unacknowledged or shelved-unacked alarm)."""
        if self.state in (AlarmState.ACTIVE_UNACKED, AlarmState.RTN_UNACKED):
            return True
        return self.state == AlarmState.SHELVED and self.acked_at is None


@dataclass(frozen=True)
class RollInfo:
    """A roll of the lot."""

    code: str
    started_at: datetime
    ended_at: datetime | None
    length_m: float | None


@dataclass(frozen=True)
class LotData:
    """Everything about one lot (or roll) a report needs except the samples, read lazily.

    Samples are read tag by tag (`read_series`), so a report over millions of samples holds
    one tag's worth at a time.
    """

    line_id: int
    line: str
    site: str
    area: str
    line_kind: str
    product: str | None
    lot_id: int
    lot: str
    lot_started: datetime
    lot_ended: datetime | None
    roll_id: int | None
    roll: str | None
    rolls: list[RollInfo]
    start: datetime
    end: datetime
    tags: list[TagInfo]
    profile_tags: list[TagInfo]
    image_tags: dict[str, TagInfo]
    limits: dict[tuple[int, str], LimitsSchedule]
    images: list[ImageRecord]
    alarms: list[AlarmRecord]
    open_lot: bool = field(default=False)

    @property
    def scope(self) -> str:
        """``""`` for the whole lot, else the roll's code."""
        return self.roll or ""


def find_lot(
    engine: Engine,
    lot: str,
    *,
    line: str | None = None,
    roll: str | None = None,
    until: datetime | None = None,
) -> LotData:
    """The lot ``lot`` (on ``line`` when given; a roll of it when ``roll`` is given).

    The range ends at the lot's (roll's) end, or for one still open at ``until`` (default now,
    as when the report was generated; verification passes the report's own end).  Raises a
    `UserError` naming what exists when the lot or roll is unknown or ambiguous.
    """
    with Session(engine) as session:
        query = select(Lot, Line).join(Line, Line.id == Lot.line_id).where(Lot.code == lot)
        if line is not None:
            query = query.where(Line.name == line)
        found = session.execute(query).all()
        if not found:
            known = sorted(session.scalars(select(Lot.code)).all())
            listed = ", ".join(known[:20]) + (" ..." if len(known) > 20 else "") or "none"
            where = f" on line {line!r}" if line is not None else ""
            raise UserError(f"the database has no lot {lot!r}{where}; its lots are: {listed}.")
        if len(found) > 1:
            lines = ", ".join(sorted(row.Line.name for row in found))
            raise UserError(f"lot {lot!r} exists on several lines ({lines}); name one with --line.")
        lot_row, line_row = found[0]
        rolls = session.scalars(
            select(Roll).where(Roll.lot_id == lot_row.id).order_by(Roll.started_at)
        ).all()
        now = until or datetime.now(UTC)
        start, end = lot_row.started_at, lot_row.ended_at or now
        roll_row = None
        if roll is not None:
            roll_row = next((r for r in rolls if r.code == roll), None)
            if roll_row is None:
                codes = ", ".join(r.code for r in rolls) or "none"
                raise UserError(f"lot {lot!r} has no roll {roll!r}; its rolls are: {codes}.")
            start, end = roll_row.started_at, roll_row.ended_at or end
        tags = session.scalars(
            select(Tag).where(Tag.line_id == line_row.id).order_by(Tag.name, Tag.id)
        ).all()
        infos = [_tag_info(tag, line_row.name) for tag in tags]
        reported = [
            t
            for t, row in zip(infos, tags, strict=True)
            if row.kind in ("scalar", "profile") and (_has_spec(t) or t.chart is not None)
        ]
        image_tags = {
            t.name: t
            for t, row in zip(infos, tags, strict=True)
            if row.node_id.startswith(IMAGE_NODE_PREFIX)
        }
        process = [t for t in reported if t.kind == "scalar" and t.name not in image_tags]
        profiles = [t for t in reported if t.kind == "profile"]
        limits = {
            (t.id, series.name): found
            for t in [*process, *image_tags.values(), *profiles]
            if t.chart is not None
            for series in t.chart.series
            if series.statistic in CHARTED_STATISTICS
            and (found := _limits_schedule(session, t.chart, series, start, end))
        }
        _attach_signals(session, limits, start, end)
        images = _images(session, lot_row.id, roll_row.id if roll_row else None)
        alarms = _alarms(session, line_row.id, start, end)
        return LotData(
            line_id=line_row.id,
            line=line_row.name,
            site=line_row.site,
            area=line_row.area,
            line_kind=line_row.kind,
            product=lot_row.product or line_row.product,
            lot_id=lot_row.id,
            lot=lot_row.code,
            lot_started=lot_row.started_at,
            lot_ended=lot_row.ended_at,
            roll_id=roll_row.id if roll_row else None,
            roll=roll_row.code if roll_row else None,
            rolls=[RollInfo(r.code, r.started_at, r.ended_at, r.length_m) for r in rolls],
            start=start,
            end=end,
            tags=process,
            profile_tags=profiles,
            image_tags=image_tags,
            limits=limits,
            images=images,
            alarms=alarms,
            open_lot=lot_row.ended_at is None,
        )


def _has_spec(tag: TagInfo) -> bool:
    return tag.lsl is not None or tag.usl is not None


def _tag_info(tag: Tag, line: str) -> TagInfo:
    chart = chart_of_row(tag, line)
    return TagInfo(tag.id, tag.name, tag.kind, tag.unit, tag.lsl, tag.target, tag.usl, chart)


def _limits_row(series: SeriesSpec, row: ControlLimits) -> LimitsInForce:
    assert row.center is not None and row.sigma is not None
    frozen = row.basis == FROZEN_BASIS
    return LimitsInForce(
        id=row.id,
        chart=series.chart,
        version=row.version,
        basis=row.basis,
        center=float(row.center),
        sigma=float(row.sigma),
        sigma_method=row.sigma_method or "given",
        frozen_by=row.frozen_by,
        frozen_at=row.frozen_at,
        valid_from=row.valid_from if frozen else None,
        constants=constants_of(row),
    )


def _limits_schedule(
    session: Session, chart: ChartConfig, series: SeriesSpec, start: datetime, end: datetime
) -> LimitsSchedule | None:
    """The stored limits versions one chart of a tag ran on over ``[start, end)``
    (`plantqc.charting.limits.timeline`); None when it had none."""
    versions = timeline(session, chart.tag_id, series.name).versions_in(start, end)
    if not versions:
        return None
    return LimitsSchedule(tuple(_limits_row(series, row) for _, row in versions))


def _attach_signals(
    session: Session,
    schedules: dict[tuple[int, str], LimitsSchedule],
    start: datetime,
    end: datetime,
) -> None:
    """Give each schedule the violations stored on its chart in ``[start, end)``: a profile
    statistic's points are named ``<chart>.<point>`` (`SeriesSpec.point_chart`)."""
    if not schedules:
        return
    rows = session.execute(
        select(Violation.tag_id, Violation.chart, Violation.rule, Violation.ts, Violation.limits_id)
        .where(
            Violation.tag_id.in_(sorted({tag_id for tag_id, _ in schedules})),
            Violation.ts >= start,
            Violation.ts < end,
        )
        .order_by(Violation.ts, Violation.id)
    ).all()
    found: dict[tuple[int, str], list[Signal]] = {key: [] for key in schedules}
    scalar_chart = {tag_id: name for tag_id, name in schedules}
    for tag_id, point_chart, rule, ts, limits_id in rows:
        name, _, point = point_chart.rpartition(".")
        key = (tag_id, name or scalar_chart[tag_id])
        if key in found:
            found[key].append(Signal(limits_id, point, rule, ts))
    for key, signals in found.items():
        schedules[key] = replace(schedules[key], signals=tuple(signals))


def series_chart(
    data: LotData, tag: TagInfo, statistic: str | None = None
) -> tuple[ChartConfig, SeriesSpec, LimitsSchedule] | None:
    """The chart settings, series and limits schedule of ``tag``'s chart of ``statistic``
    (None: the tag's own values); None when that chart is not configured or had no limits."""
    if tag.chart is None:
        return None
    series = tag.chart.series_of(statistic)
    if series is None:
        return None
    schedule = data.limits.get((tag.id, series.name))
    return None if schedule is None else (tag.chart, series, schedule)


def _images(session: Session, lot_id: int, roll_id: int | None) -> list[ImageRecord]:
    query = (
        select(ImageResult, Roll.code)
        .outerjoin(Roll, Roll.id == ImageResult.roll_id)
        .where(ImageResult.lot_id == lot_id)
        .order_by(ImageResult.captured_at, ImageResult.id)
    )
    if roll_id is not None:
        query = query.where(ImageResult.roll_id == roll_id)
    return [
        ImageRecord(
            id=r.id,
            input_name=r.input_name,
            analysis=r.analysis,
            path=r.path,
            sha256=r.sha256,
            captured_at=r.captured_at,
            status=r.status,
            reason=r.reason,
            metrics=r.metrics,
            overlay_path=r.overlay_path,
            roll=roll_code,
        )
        for r, roll_code in session.execute(query).all()
    ]


def _signals_in_range(
    session: Session, alarm: Alarm, start: datetime, end: datetime
) -> tuple[int | None, datetime | None, datetime | None]:
    """Count, first and last time of the violations that raised ``alarm`` inside
    ``[start, end)``: its tag's violations of its rule between its first and last time, on
    the charts its code names (`plantqc.charting.names.code_charts`).  (None, None, None) for an
    alarm not raised by chart signals."""
    if alarm.kind != SPC_KIND or alarm.tag_id is None:
        return None, None, None
    charts, rule = code_charts(alarm.code)
    count, first, last = session.execute(
        select(func.count(), func.min(Violation.ts), func.max(Violation.ts)).where(
            Violation.tag_id == alarm.tag_id,
            Violation.rule == rule,
            Violation.chart.in_(sorted(charts)),
            Violation.ts >= max(alarm.first_at, start),
            Violation.ts <= alarm.last_at,
            Violation.ts < end,
        )
    ).one()
    return int(count), first, last


def _alarms(session: Session, line_id: int, start: datetime, end: datetime) -> list[AlarmRecord]:
    rows = session.execute(
        select(Alarm, Tag.name)
        .outerjoin(Tag, Tag.id == Alarm.tag_id)
        .where(Alarm.line_id == line_id, Alarm.first_at < end, Alarm.last_at >= start)
        .order_by(Alarm.first_at, Alarm.id)
    ).all()
    records = []
    for a, tag in rows:
        in_range, in_range_first, in_range_last = _signals_in_range(session, a, start, end)
        records.append(
            AlarmRecord(
                id=a.id,
                tag=tag,
                kind=a.kind,
                code=a.code,
                priority=a.priority,
                state=str(a.state),
                message=a.message,
                first_at=a.first_at,
                last_at=a.last_at,
                count=a.count,
                acked_by=a.acked_by,
                acked_at=a.acked_at,
                cause=a.cause,
                action=a.action,
                in_range=in_range,
                in_range_first=in_range_first,
                in_range_last=in_range_last,
            )
        )
    return records


def _time_column(connection: Connection, column: Any) -> Any:
    # the timestamps as text (SQLite's storage) or epoch microseconds (PostgreSQL): both turn
    # into numpy datetimes without a Python datetime per row, which a 17-million-row lot needs
    if connection.dialect.name == "sqlite":
        return type_coerce(column, String())
    return cast(func.extract("epoch", column) * 1_000_000, BigInteger)


def _epoch_us(values: list[Any]) -> np.ndarray:
    if values and isinstance(values[0], str):
        return np.array(values, dtype="datetime64[us]").astype(np.int64)
    return np.array(values, dtype=np.int64)


_SERIES_SQL = {
    # timestamps as stored text (SQLite) or epoch microseconds (PostgreSQL): both become numpy
    # datetimes without a Python object per row, which a lot of 17 million samples needs
    "sqlite": "SELECT ts, value FROM samples WHERE tag_id = ? AND status < ? "
    "AND value IS NOT NULL AND ts >= ? AND ts < ? ORDER BY ts",
    "postgresql": "SELECT (extract(epoch FROM ts) * 1000000)::bigint, value FROM samples "
    "WHERE tag_id = %s AND status < %s AND value IS NOT NULL AND ts >= %s AND ts < %s ORDER BY ts",
}


def read_series(engine: Engine, data: LotData, tag: TagInfo) -> Series:
    """The Good, finite samples of ``tag`` in the report's range ``[start, end)``.

    Reads through the driver's own cursor: SQLAlchemy's row objects would triple the time of
    a day of 1 Hz samples.
    """
    with engine.connect() as connection:
        dialect = connection.dialect
        bind = Sample.__table__.c.ts.type.bind_processor(dialect)
        start, end = (bind(t) if bind else t for t in (data.start, data.end))
        driver = connection.connection.driver_connection
        assert driver is not None
        cursor = driver.cursor()
        try:
            cursor.execute(_SERIES_SQL[dialect.name], (tag.id, GOOD_BELOW, start, end))
            rows = cursor.fetchall()
        finally:
            cursor.close()
    time_type = "datetime64[us]" if dialect.name == "sqlite" else "int64"
    table = np.array(rows, dtype=[("t", time_type), ("v", "float64")])
    finite = np.isfinite(table["v"])
    return Series(tag, table["t"][finite].astype(np.int64), table["v"][finite])


def read_profiles(engine: Engine, data: LotData, tag: TagInfo) -> ProfileSeries:
    """The Good scans of profile tag ``tag`` in the report's range, NaN-padded to equal width."""
    with engine.connect() as connection:
        rows = connection.execute(
            select(_time_column(connection, Profile.ts), Profile.values)
            .where(
                Profile.tag_id == tag.id,
                Profile.status < GOOD_BELOW,
                Profile.ts >= data.start,
                Profile.ts < data.end,
            )
            .order_by(Profile.ts)
        ).all()
    width = max((len(r[1]) for r in rows), default=0)
    scans = np.full((len(rows), width), np.nan)
    for i, (_, values) in enumerate(rows):
        scans[i, : len(values)] = [math.nan if v is None else v for v in values]
    return ProfileSeries(tag, _epoch_us([r[0] for r in rows]), scans)


def canonical_json(value: Any) -> bytes:
    """Sorted-key, compact JSON: the form every hash of a report is taken over."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str).encode()


class DataHasher:
    """SHA-256 of the rows a report was computed from, in a canonical, dialect-free form.

    Every part is fed as a one-byte kind and length-prefixed chunks: series as tag name,
    int64 little-endian epoch microseconds and float64 little-endian values; profiles as tag
    name, times and the scan matrix; limits, signals, image results and alarms as canonical
    JSON.
    """

    def __init__(self) -> None:
        self._hash = hashlib.sha256()

    def _feed(self, kind: bytes, *chunks: bytes) -> None:
        self._hash.update(kind)
        for chunk in chunks:
            self._hash.update(len(chunk).to_bytes(8, "little"))
            self._hash.update(chunk)

    def series(self, series: Series) -> None:
        self._feed(
            b"S",
            series.tag.name.encode(),
            series.times_us.astype("<i8").tobytes(),
            series.values.astype("<f8").tobytes(),
        )

    def profiles(self, profiles: ProfileSeries) -> None:
        self._feed(
            b"P",
            profiles.tag.name.encode(),
            canonical_json(list(profiles.scans.shape)),
            profiles.times_us.astype("<i8").tobytes(),
            profiles.scans.astype("<f8").tobytes(),
        )

    def records(self, data: LotData) -> None:
        """The lot, limits and signals, image results and alarms (all but samples and profiles)."""
        self._feed(b"R", canonical_json([data.line, data.lot, data.scope, data.start, data.end]))
        for key in sorted(data.limits):
            schedule = data.limits[key]
            versions = [limits.__dict__ for limits in schedule.versions]
            self._feed(b"L", canonical_json([*key, versions]))
            self._feed(b"V", canonical_json([*key, [s.__dict__ for s in schedule.signals]]))
        for image in data.images:
            self._feed(b"I", canonical_json(image.__dict__))
        for alarm in data.alarms:
            self._feed(b"A", canonical_json(alarm.__dict__))

    def hexdigest(self) -> str:
        return self._hash.hexdigest()


def iter_series(engine: Engine, data: LotData) -> Iterator[Series]:
    """`read_series` of every process tag of the lot, in the order the report lists them."""
    for tag in data.tags:
        yield read_series(engine, data, tag)


def data_hash(engine: Engine, data: LotData) -> str:
    """Recompute the data hash of ``data`` from the store (what `plantqc report verify` does)."""
    hasher = DataHasher()
    hasher.records(data)
    for series in iter_series(engine, data):
        hasher.series(series)
    for tag in data.profile_tags:
        hasher.profiles(read_profiles(engine, data, tag))
    return hasher.hexdigest()
