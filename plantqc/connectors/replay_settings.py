"""Settings of the replay input: how fast a recorded file is played, in what batches.

Pydantic only.  The plant config's optional top-level ``replay:`` section; ``plantqc replay
FILE --speed N|max`` overrides its speed.  The sample is
``plantqc/connectors/samples/replay.yaml``.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from plantqc.schema import SettingsModel


class Replay(SettingsModel):
    """How ``plantqc replay`` plays a recorded file through the daemon as if its lines were live.

    ``speed`` is a factor of real time (2: a recorded hour in 30 minutes) or ``max``: as fast
    as the buffer, store and engine take it.  ``batch_rows`` readings at most are handed on
    together; at ``max`` the input waits while the daemon holds more than ``max_backlog``
    readings not yet stored, so a long file never fills the durable buffer to its bound.
    """

    speed: float | Literal["max"] = "max"
    batch_rows: int = Field(2_000, ge=1, le=1_000_000)
    max_backlog: int = Field(50_000, ge=1)

    @field_validator("speed")
    @classmethod
    def _positive(cls, value: float | str) -> float | str:
        if value != "max" and not float(value) > 0:
            raise ValueError(f"speed must be a positive factor of real time or 'max', not {value}")
        return value
