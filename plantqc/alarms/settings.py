"""Settings of a line's alarm system: the ``alarming:`` section of a line in the plant config.

Pydantic only, so that reading a config never imports the alarm code.  The sample section is
``plantqc/alarms/samples/alarming.yaml``.
"""

from __future__ import annotations

from pydantic import Field

from plantqc.schema import SettingsModel


class AlarmingSettings(SettingsModel):
    """A line's false-alarm budget: at most ``budget_per_hour`` alarms per hour while the line
    is in control (EEMUA 191: about one alarm per 10 minutes is what one operator can handle;
    a line in control should raise almost none).  ``plantqc limits design`` chooses each
    chart's rules and parameters so that the line's charts together stay within it.
    """

    budget_per_hour: float = Field(1.0, gt=0, le=60)
