"""The store the alarm tests drive: a migrated database with one line and one tag."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine


@dataclass(frozen=True)
class AlarmStore:
    """A store and the line and tag its alarms belong to."""

    engine: Engine
    url: str
    line_id: int
    tag_id: int
