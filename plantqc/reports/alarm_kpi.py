"""The lot report's alarm-system figures: EEMUA 191's alarms per hour, peak per 10 minutes,
flood %, chattering, stale and shelved alarms and the most frequent alarms of the lot's line
over the report's range, as `plantqc alarms kpi` computes them (`plantqc.alarms.kpi` on the
histories `plantqc.alarms.history` reads from the audit trail).

The 10-minute periods are fixed from the range's start; the kpi counts an alarm at the
range's end too (its period is closed), the one instant the report's end-exclusive range
leaves out elsewhere.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from plantqc.alarms.history import line_histories
from plantqc.alarms.kpi import line_kpi
from plantqc.reports.data import LotData


def alarm_kpi_document(engine: Engine, data: LotData) -> dict[str, Any]:
    """The ``alarm_kpi`` entry of ``report.json``: `LineKpi.as_dict` of the lot's line over
    ``[data.start, data.end]``."""
    with Session(engine) as session:
        histories = line_histories(session, data.line_id, data.end)
    return line_kpi(data.line, histories, data.start, data.end).as_dict()
