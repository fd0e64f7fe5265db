"""Lots and rolls opened from the line's lot_id / roll_id tags, for traceability.

A new lot code on a line closes the line's open lot at that time and opens the new one; a
new roll code does the same within the lot that is open at that time.  Both are idempotent:
a code already recorded is left as it is, so a replayed notification changes nothing.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from plantqc.store.models import Lot, Roll


def record_lot(engine: Engine, line_id: int, code: str, at: datetime, product: str | None) -> bool:
    """Open lot ``code`` on line ``line_id`` at ``at``; return whether it was new."""
    with Session(engine) as session, session.begin():
        if session.scalars(select(Lot).where(Lot.line_id == line_id, Lot.code == code)).first():
            return False
        for lot in session.scalars(
            select(Lot).where(Lot.line_id == line_id, Lot.ended_at.is_(None), Lot.started_at <= at)
        ):
            lot.ended_at = at
        session.add(Lot(line_id=line_id, code=code, product=product, started_at=at))
    return True


def record_roll(engine: Engine, line_id: int, code: str, at: datetime) -> bool:
    """Open roll ``code`` in the lot open on line ``line_id`` at ``at``; return whether it was new.

    A roll seen before any lot of its line is not recorded (there is no lot to hold it).
    """
    with Session(engine) as session, session.begin():
        lot = session.scalars(
            select(Lot)
            .where(Lot.line_id == line_id, Lot.started_at <= at)
            .order_by(Lot.started_at.desc())
            .limit(1)
        ).first()
        if lot is None:
            return False
        if session.scalars(select(Roll).where(Roll.lot_id == lot.id, Roll.code == code)).first():
            return False
        for roll in session.scalars(
            select(Roll).where(
                Roll.lot_id == lot.id, Roll.ended_at.is_(None), Roll.started_at <= at
            )
        ):
            roll.ended_at = at
        session.add(Roll(lot_id=lot.id, code=code, started_at=at))
    return True
