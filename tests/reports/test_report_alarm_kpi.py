"""The lot report's alarm-system section: EEMUA 191 figures of the lot's line over its range.

Exact ground truth: a hand-built alarm history in LOT-0001 (T0 to T0 + 600 s, one 10-minute
period): Nelson 1 of dry_thickness_um raised at 10 s and again at 20 s and 40 s, each time
returned 5 s later (3 activations within 30 s: chattering); WE 2 of web_speed_m_min raised at
300 s and still active; a Nelson 1 of web_speed_m_min raised after the lot (at 700 s), which
is not counted.  4 alarms in 1/6 h: 24 per hour; peak 4 in the one period, not a flood.
The same figures must come out of `plantqc.alarms.kpi.line_kpi` on the same rows, as
`plantqc alarms kpi` reads them.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

from report_helpers import LINE, T0, store_lot
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from plantqc.alarms import AlarmEvent, apply_events
from plantqc.alarms.history import line_histories
from plantqc.alarms.kpi import line_kpi
from plantqc.config import LoadedConfig
from plantqc.reports.issue import generate_report
from plantqc.store.models import Line


def _fired(kind: str, code: str, s: float) -> AlarmEvent:
    return AlarmEvent(kind, code, T0 + timedelta(seconds=s), message=code)


def test_the_alarm_kpi_section_has_the_eemua_figures_of_the_lots_range(
    sqlite_store: Engine, config: LoadedConfig, tmp_path: Path
) -> None:
    tags = store_lot(sqlite_store, config.config)
    with Session(sqlite_store) as session, session.begin():
        line_id = session.scalars(select(Line.id).where(Line.name == LINE)).one()
        thickness, web = tags["dry_thickness_um"], tags["web_speed_m_min"]
        chatter = [
            _fired(kind, "nelson1", s)
            for s0 in (10, 20, 40)
            for kind, s in (("raise", s0), ("clear", s0 + 5))
        ]
        apply_events(session, line_id, thickness, chatter)
        apply_events(session, line_id, web, [_fired("raise", "we2", 300)])
        apply_events(session, line_id, web, [_fired("raise", "nelson1", 700)])
    report = generate_report(sqlite_store, "LOT-0001", tmp_path / "out", loaded=config)
    doc = json.loads((report.folder / "report.json").read_text())
    assert doc["alarm_kpi"] == {
        "line": LINE,
        "hours": 600 / 3600,
        "alarms": 4,
        "alarms_per_hour": 4 / (600 / 3600),
        "peak_per_10min": 4,
        "flood_pct": 0.0,
        "chattering": 1,
        "stale": 0,
        "shelved": 0,
        "top": [
            {"tag": "dry_thickness_um", "rule": "nelson1", "count": 3},
            {"tag": "web_speed_m_min", "rule": "we2", "count": 1},
        ],
    }
    end = T0 + timedelta(seconds=600)
    with Session(sqlite_store) as session:
        same = line_kpi(LINE, line_histories(session, line_id, end), T0, end)
    assert doc["alarm_kpi"] == same.as_dict()
    html = report.html.read_text()
    assert "8. Alarm system performance" in html
    assert "dry_thickness_um / nelson1 × 3" in html
