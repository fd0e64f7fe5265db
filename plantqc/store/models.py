"""SQLAlchemy 2 models of the entities in DESIGN.md, portable between SQLite and PostgreSQL."""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
    true,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC timestamp on every dialect.

    PostgreSQL stores ``timestamptz``; SQLite stores the naive UTC wall time as text,
    which sorts correctly and is read back as aware UTC.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"timestamp {value.isoformat()} has no timezone; give it in UTC")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# JSON on SQLite, JSONB on PostgreSQL (indexable, and what Grafana queries expect)
JSONType = JSON().with_variant(postgresql.JSONB(), "postgresql")
# A profile's values: a float array on PostgreSQL (unnest() in SQL), JSON on SQLite
FloatArray = JSON().with_variant(postgresql.ARRAY(Float(precision=53)), "postgresql")

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSONType}


def utcnow() -> datetime:
    return datetime.now(UTC)


class TimestampOrigin(enum.IntEnum):
    """Which clock a sample's time came from (DESIGN.md: source first, the others as fallback)."""

    SOURCE = 0
    SERVER = 1
    RECEIVE = 2


class AlarmState(enum.StrEnum):
    """ISA-18.2 alarm states."""

    ACTIVE_UNACKED = "active-unacknowledged"
    ACTIVE_ACKED = "active-acknowledged"
    RTN_UNACKED = "returned-unacknowledged"
    NORMAL = "normal"
    SHELVED = "shelved"
    SUPPRESSED = "suppressed-by-design"


class Line(Base):
    """A production line at ISA-95 path site / area / line."""

    __tablename__ = "lines"
    __table_args__ = (UniqueConstraint("site", "area", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site: Mapped[str] = mapped_column(String(64))
    area: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(32))
    product: Mapped[str | None] = mapped_column(String(64))
    endpoint: Mapped[str | None] = mapped_column(String(512))


class Tag(Base):
    """A line variable with unit, spec limits and chart settings, as last synced from config."""

    __tablename__ = "tags"
    __table_args__ = (UniqueConstraint("line_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    line_id: Mapped[int] = mapped_column(ForeignKey("lines.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(64))
    node_id: Mapped[str] = mapped_column(String(512))
    kind: Mapped[str] = mapped_column(String(16), default="scalar")
    unit: Mapped[str] = mapped_column(String(32), default="")
    lsl: Mapped[float | None] = mapped_column(Float)
    target: Mapped[float | None] = mapped_column(Float)
    usl: Mapped[float | None] = mapped_column(Float)
    spc: Mapped[dict[str, Any] | None]


class Sample(Base):
    """One scalar value of a tag; unique on (tag, source time) so replays never duplicate."""

    __tablename__ = "samples"
    __table_args__ = {"sqlite_with_rowid": False}

    # no foreign key: a per-row referential check would halve bulk-insert throughput, and tags
    # are never deleted (sync_config only adds and updates them)
    tag_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ts: Mapped[datetime] = mapped_column(primary_key=True)
    value: Mapped[float | None] = mapped_column(Float(precision=53))
    # OPC UA StatusCode (Part 4 §7.39), unsigned 32-bit: Good = 0, Bad = 0x80000000...
    status: Mapped[int] = mapped_column(BigInteger, default=0)
    ts_origin: Mapped[int] = mapped_column(SmallInteger, default=TimestampOrigin.SOURCE)
    # read from the OPC UA server's history after a restart or reconnect, not from a
    # subscription (as Sparkplug B marks historical metrics)
    backfilled: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class Profile(Base):
    """An array sample, e.g. a cross-direction thickness scan, with positions across the web."""

    __tablename__ = "profiles"
    __table_args__ = {"sqlite_with_rowid": False}

    # no foreign key: a per-row referential check would halve bulk-insert throughput, and tags
    # are never deleted (sync_config only adds and updates them)
    tag_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ts: Mapped[datetime] = mapped_column(primary_key=True)
    values: Mapped[list[float]] = mapped_column(FloatArray)
    status: Mapped[int] = mapped_column(BigInteger, default=0)
    ts_origin: Mapped[int] = mapped_column(SmallInteger, default=TimestampOrigin.SOURCE)
    backfilled: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class DataGap(Base):
    """A stretch of a tag's data that is not stored and cannot be: the server kept no history.

    ``gap_from`` is the last sample stored before the stretch and ``gap_to`` the first one
    after it; any value the tag had strictly between the two is missing.  Unique on
    (tag, from), so a re-sent buffer batch records a gap once.
    """

    __tablename__ = "data_gaps"
    __table_args__ = (UniqueConstraint("tag_id", "gap_from"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tag_id: Mapped[int] = mapped_column(ForeignKey("tags.id", ondelete="CASCADE"))
    gap_from: Mapped[datetime]
    gap_to: Mapped[datetime]
    reason: Mapped[str] = mapped_column(Text)
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)


class Lot(Base):
    """A production lot (batch) on a line, for traceability and release."""

    __tablename__ = "lots"
    __table_args__ = (UniqueConstraint("line_id", "code"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    line_id: Mapped[int] = mapped_column(ForeignKey("lines.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(String(64))
    product: Mapped[str | None] = mapped_column(String(64))
    started_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]


class Roll(Base):
    """A roll wound within a lot."""

    __tablename__ = "rolls"
    __table_args__ = (UniqueConstraint("lot_id", "code"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    lot_id: Mapped[int] = mapped_column(ForeignKey("lots.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(String(64))
    started_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]
    length_m: Mapped[float | None] = mapped_column(Float)


class ImageResult(Base):
    """What `vision` measured in one image (or why the image was rejected)."""

    __tablename__ = "image_results"
    __table_args__ = (UniqueConstraint("sha256", "analysis"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    line_id: Mapped[int] = mapped_column(ForeignKey("lines.id", ondelete="CASCADE"))
    lot_id: Mapped[int | None] = mapped_column(ForeignKey("lots.id", ondelete="SET NULL"))
    roll_id: Mapped[int | None] = mapped_column(ForeignKey("rolls.id", ondelete="SET NULL"))
    input_name: Mapped[str] = mapped_column(String(64))
    analysis: Mapped[str] = mapped_column(String(16))
    path: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64))
    captured_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(16))  # "ok" or "rejected"
    reason: Mapped[str | None] = mapped_column(Text)
    metrics: Mapped[dict[str, Any] | None]
    overlay_path: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ControlLimits(Base):
    """One version of a chart's limits: learned from its baseline (``provisional``), frozen
    from phase I data (``phase1``), or spec-derived (``spec``, written by earlier releases and
    never in force now)."""

    __tablename__ = "control_limits"
    __table_args__ = (UniqueConstraint("tag_id", "chart", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tag_id: Mapped[int] = mapped_column(ForeignKey("tags.id", ondelete="CASCADE"))
    chart: Mapped[str] = mapped_column(String(16))
    version: Mapped[int] = mapped_column(Integer)
    basis: Mapped[str] = mapped_column(String(16))  # provisional | spec | phase1
    center: Mapped[float | None] = mapped_column(Float(precision=53))
    lcl: Mapped[float | None] = mapped_column(Float(precision=53))
    ucl: Mapped[float | None] = mapped_column(Float(precision=53))
    sigma: Mapped[float | None] = mapped_column(Float(precision=53))
    sigma_method: Mapped[str | None] = mapped_column(String(32))
    params: Mapped[dict[str, Any] | None]
    data_from: Mapped[datetime | None]
    data_to: Mapped[datetime | None]
    n_used: Mapped[int | None] = mapped_column(Integer)
    excluded: Mapped[dict[str, Any] | None]
    frozen_by: Mapped[str | None] = mapped_column(String(128))
    frozen_at: Mapped[datetime | None]
    valid_from: Mapped[datetime] = mapped_column(default=utcnow)


class Violation(Base):
    """A run-rule or limit violation on a chart, with the points it covers."""

    __tablename__ = "violations"
    __table_args__ = (Index("ix_violations_tag_ts", "tag_id", "ts"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tag_id: Mapped[int] = mapped_column(ForeignKey("tags.id", ondelete="CASCADE"))
    limits_id: Mapped[int | None] = mapped_column(
        ForeignKey("control_limits.id", ondelete="SET NULL")
    )
    chart: Mapped[str] = mapped_column(String(16))
    rule: Mapped[str] = mapped_column(String(16))
    ts: Mapped[datetime]
    value: Mapped[float | None] = mapped_column(Float(precision=53))
    points: Mapped[dict[str, Any]]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Alarm(Base):
    """An ISA-18.2 alarm: one row per condition, updated (not duplicated) while it chatters."""

    __tablename__ = "alarms"
    __table_args__ = (Index("ix_alarms_line_state", "line_id", "state"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    line_id: Mapped[int] = mapped_column(ForeignKey("lines.id", ondelete="CASCADE"))
    tag_id: Mapped[int | None] = mapped_column(ForeignKey("tags.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(32))  # spc | sensor-fault | buffer | ...
    code: Mapped[str] = mapped_column(String(32))
    priority: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(32), default=AlarmState.ACTIVE_UNACKED)
    message: Mapped[str] = mapped_column(Text)
    first_at: Mapped[datetime]
    last_at: Mapped[datetime]
    count: Mapped[int] = mapped_column(Integer, default=1)
    # whether the condition still holds: a shelf or suppression hides the alarm, not that
    condition_active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    acked_by: Mapped[str | None] = mapped_column(String(128))
    acked_at: Mapped[datetime | None]
    shelved_until: Mapped[datetime | None]
    cause: Mapped[str | None] = mapped_column(Text)
    action: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class ControlLoop(Base):
    """State of one thickness control loop (``<line>.md`` / ``<line>.cd``), as the daemon's
    controller runtime last saw it; ``mode`` is also where `plantqc control mode` asks for a
    new mode."""

    __tablename__ = "control_loops"

    loop: Mapped[str] = mapped_column(String(128), primary_key=True)
    line: Mapped[str] = mapped_column(String(64))
    mode: Mapped[str] = mapped_column(String(16))  # off | advisory | closed
    mode_by: Mapped[str] = mapped_column(String(128))
    setpoint: Mapped[Any] = mapped_column(JSONType, nullable=True)  # float, or list (die bolts)
    measured: Mapped[Any] = mapped_column(JSONType, nullable=True)
    hold: Mapped[str | None] = mapped_column(Text)
    updated: Mapped[datetime] = mapped_column(default=utcnow)


class ControlMove(Base):
    """One supervisor event of a loop: a proposed, accepted, rejected or applied move, a hold,
    a resume or a failed write, with its old and new setpoint."""

    __tablename__ = "control_moves"
    __table_args__ = (Index("ix_control_moves_loop_at", "loop", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    loop: Mapped[str] = mapped_column(ForeignKey("control_loops.loop", ondelete="CASCADE"))
    at: Mapped[datetime]
    kind: Mapped[str] = mapped_column(String(16))
    old: Mapped[Any] = mapped_column(JSONType, nullable=True)
    new: Mapped[Any] = mapped_column(JSONType, nullable=True)
    reason: Mapped[str] = mapped_column(Text)
    user: Mapped[str] = mapped_column(String(128))
    # proposals: pending -> accepted -> applied | failed, or rejected / superseded; else done
    status: Mapped[str] = mapped_column(String(16))


class AuditLog(Base):
    """Who changed what and when: limits frozen, alarms acknowledged, reports signed."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    user: Mapped[str] = mapped_column(String(128))
    action: Mapped[str] = mapped_column(String(64))
    entity: Mapped[str] = mapped_column(String(64))
    entity_id: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[dict[str, Any] | None]


class Report(Base):
    """One issued version of a lot (or roll) QC report: what it was computed from, its sign-offs.

    A report is never rewritten: generating again issues the next version of the same scope
    (the whole lot, ``scope = ""``, or one roll, ``scope`` = its code).  ``signatures`` lists
    the electronic signatures of this version in signing order, each
    `plantqc.users.esign.Signature.as_dict` bound to ``document_hash``.
    """

    __tablename__ = "reports"
    __table_args__ = (UniqueConstraint("lot_id", "scope", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    lot_id: Mapped[int] = mapped_column(ForeignKey("lots.id"))
    roll_id: Mapped[int | None] = mapped_column(ForeignKey("rolls.id"))
    scope: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer)
    generated_at: Mapped[datetime]
    software_version: Mapped[str] = mapped_column(String(32))
    config_hash: Mapped[str] = mapped_column(String(64))
    data_hash: Mapped[str] = mapped_column(String(64))
    document_hash: Mapped[str] = mapped_column(String(64))
    html_path: Mapped[str] = mapped_column(Text)
    disposition: Mapped[str] = mapped_column(String(16))
    # issued | authored | reviewed | approved | released | held: the last signature's meaning
    status: Mapped[str] = mapped_column(String(16))
    signatures: Mapped[list[dict[str, Any]]] = mapped_column(JSONType)


class User(Base):
    """An account of the console and the CLI: its role, its Argon2id password hash (a PHC
    string) and its lockout state (`plantqc.users.accounts`).

    ``name`` is stored in lower case, so that its unique constraint ignores case;
    ``full_name`` is the printed name its electronic signatures show (21 CFR 11.50(a)(1)).
    """

    __tablename__ = "users"
    __table_args__ = (UniqueConstraint("name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    full_name: Mapped[str] = mapped_column(String(128))
    role: Mapped[str] = mapped_column(String(16))  # operator | quality | admin
    password_hash: Mapped[str] = mapped_column(String(256))
    disabled: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    failed_logins: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    locked_until: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    password_changed_at: Mapped[datetime]
