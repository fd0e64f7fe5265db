"""The streaming SPC engine's persisted state: one row per charted tag.

Registered on `plantqc.store.models.Base` (the migrations' ``env.py`` imports this module), so the
schema test compares it like every other model.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from plantqc.store.models import Base, utcnow


class EngineState(Base):
    """Where a tag's chart stands: evaluator state, limits in force, last sample time processed.

    Written in the same transaction as the violations and alarm changes of the samples it
    covers, so that after a restart the engine continues exactly where it stopped.
    """

    __tablename__ = "engine_state"

    tag_id: Mapped[int] = mapped_column(ForeignKey("tags.id", ondelete="CASCADE"), primary_key=True)
    chart: Mapped[str] = mapped_column(String(16))
    limits_id: Mapped[int | None] = mapped_column(
        ForeignKey("control_limits.id", ondelete="SET NULL")
    )
    # evaluator.to_state() plus the engine's own bookkeeping (recent points, rule history)
    state: Mapped[dict[str, Any]]
    last_ts: Mapped[datetime | None]
    points: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
