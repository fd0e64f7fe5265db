"""Image results in the store: what was processed, lots and rolls named by files, new rows.

Blocking SQLAlchemy calls; the pipeline runs them with ``asyncio.to_thread``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from plantqc.config import PlantConfig
from plantqc.store.lots import record_lot, record_roll
from plantqc.store.models import ImageResult, Line, Lot, Roll


def line_ids(engine: Engine, config: PlantConfig) -> dict[str, int]:
    """Store id of each line of ``config`` (synced already), by line name."""
    ids: dict[str, int] = {}
    with Session(engine) as session:
        for line in config.lines:
            row = session.scalars(
                select(Line.id).where(
                    Line.site == config.plant.site,
                    Line.area == (line.area or config.plant.area),
                    Line.name == line.name,
                )
            ).one_or_none()
            if row is not None:
                ids[line.name] = row
    return ids


def known_path(engine: Engine, input_name: str, path: str) -> bool:
    """Whether a result of the image input is stored for the file at ``path``."""
    with Session(engine) as session:
        found = session.scalars(
            select(ImageResult.id)
            .where(ImageResult.input_name == input_name, ImageResult.path == path)
            .limit(1)
        ).first()
    return found is not None


def known_status(engine: Engine, sha256: str, analysis: str) -> str | None:
    """Status (``ok`` / ``rejected``) of the stored result of this content, if any."""
    with Session(engine) as session:
        return session.scalars(
            select(ImageResult.status).where(
                ImageResult.sha256 == sha256, ImageResult.analysis == analysis
            )
        ).first()


def resolve_lot_roll(
    engine: Engine,
    line_id: int,
    lot_code: str | None,
    roll_code: str | None,
    at: datetime,
    product: str | None,
) -> tuple[int | None, int | None]:
    """Ids of the lot and roll a file name gives, recording them if they are new.

    The line's lot_id / roll_id tags usually opened them already.  A new lot is opened at
    ``at`` as the lot_id tag would open it (`plantqc.store.lots.record_lot`).  A new roll is
    opened by `plantqc.store.lots.record_roll` when its lot is the one running at ``at``;
    a roll of an earlier lot (an image taken after that lot ended, e.g. in the lab) is added to
    that lot without touching the rolls of the running one.
    """
    if lot_code is None:
        return None, None
    lot_id = _lot_id(engine, line_id, lot_code)
    if lot_id is None:
        record_lot(engine, line_id, lot_code, at, product)
        lot_id = _lot_id(engine, line_id, lot_code)
    if roll_code is None or lot_id is None:
        return lot_id, None
    roll_id = _roll_id(engine, lot_id, roll_code)
    if roll_id is not None:
        return lot_id, roll_id
    with Session(engine) as session, session.begin():
        running = session.scalars(
            select(Lot.id)
            .where(Lot.line_id == line_id, Lot.started_at <= at)
            .order_by(Lot.started_at.desc())
            .limit(1)
        ).first()
        if running != lot_id:
            lot = session.get_one(Lot, lot_id)
            session.add(Roll(lot_id=lot_id, code=roll_code, started_at=max(at, lot.started_at)))
    if running == lot_id:
        record_roll(engine, line_id, roll_code, at)
    return lot_id, _roll_id(engine, lot_id, roll_code)


def _lot_id(engine: Engine, line_id: int, code: str) -> int | None:
    with Session(engine) as session:
        return session.scalars(
            select(Lot.id).where(Lot.line_id == line_id, Lot.code == code)
        ).first()


def _roll_id(engine: Engine, lot_id: int, code: str) -> int | None:
    with Session(engine) as session:
        return session.scalars(
            select(Roll.id).where(Roll.lot_id == lot_id, Roll.code == code)
        ).first()


@dataclass(frozen=True)
class ResultRow:
    """One image result to store (`plantqc.store.models.ImageResult`)."""

    line_id: int
    lot_id: int | None
    roll_id: int | None
    input_name: str
    analysis: str
    path: str
    sha256: str
    captured_at: datetime
    status: str
    reason: str | None = None
    metrics: dict[str, Any] | None = None
    overlay_path: str | None = None


def insert_result(engine: Engine, row: ResultRow) -> bool:
    """Store ``row``; False when a result of the same content and analysis is stored already."""
    try:
        with Session(engine) as session, session.begin():
            session.add(ImageResult(**row.__dict__))
    except IntegrityError:  # unique on (sha256, analysis): a concurrent duplicate won
        return False
    return True
