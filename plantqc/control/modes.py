"""Modes and supervisor limits of a control loop: settings only (pydantic, no numpy), so that
reading a config stays light.  `plantqc.control.loop` re-exports both."""

from __future__ import annotations

from enum import StrEnum
from typing import Self

from pydantic import Field, PositiveFloat, PositiveInt, model_validator

from plantqc.schema import SettingsModel


class Mode(StrEnum):
    """Operating mode of a loop."""

    OFF = "off"
    ADVISORY = "advisory"
    CLOSED = "closed"


class SupervisorSettings(SettingsModel):
    """Limits and interlocks of one loop (setpoint unit: the actuator's, e.g. mL/min or %).

    Attributes
    ----------
    engineering_low, engineering_high : float
        Range the process engineer allows the actuator, set at commissioning.
    operator_low, operator_high : float
        Range the operator allows now; must lie inside the engineering range.
    max_move_per_step : float
        Largest change of any setpoint element in one control period.
    max_move_per_minute : float
        Largest sum of absolute changes of any element over a sliding minute.
    settling_s : float
        Hold after a roll or lot change, s (new material, splice, web tension).
    stale_deadtimes : float
        Hold when the measurement is older than this many die-to-gauge dead times.
    die_to_gauge_m : float
        Web path from die to gauge, m: the dead time is ``die_to_gauge_m / speed``.
    watchdog_failures : int
        Consecutive failed writes after which the loop drops to advisory.
    """

    engineering_low: float
    engineering_high: float
    operator_low: float
    operator_high: float
    max_move_per_step: PositiveFloat
    max_move_per_minute: PositiveFloat
    settling_s: float = Field(default=300.0, ge=0)
    stale_deadtimes: PositiveFloat = 3.0
    die_to_gauge_m: PositiveFloat = 6.0
    watchdog_failures: PositiveInt = 3

    @model_validator(mode="after")
    def _operator_inside_engineering(self) -> Self:
        if not (
            self.engineering_low <= self.operator_low < self.operator_high <= self.engineering_high
        ):
            raise ValueError(
                "operator limits must lie inside the engineering limits "
                "(engineering_low <= operator_low < operator_high <= engineering_high)"
            )
        return self
