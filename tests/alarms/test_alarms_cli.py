"""`plantqc alarms list`: every column whole when piped, and every field with ``--json``."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from alarm_store import AlarmStore
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from plantqc import alarms
from plantqc.alarms import AlarmEvent, apply_events
from plantqc.cli import app

runner = CliRunner()
AT = datetime(2026, 11, 22, 8, 30, 15, tzinfo=UTC)
CAUSE = "slot-die shim worn on the operator side, replaced from stock by the night shift"


def _alarm_with_a_long_note(store: AlarmStore) -> int:
    """A Nelson 1 alarm acknowledged and commented with a note longer than 80 columns."""
    event = AlarmEvent("raise", "i:nelson1", AT, priority="high", message="beyond the UCL")
    with Session(store.engine) as session, session.begin():
        [row] = apply_events(session, store.line_id, store.tag_id, [event])
        alarm_id = row.id
    alarms.ack(store.engine, alarm_id, "operator.a")
    alarms.comment(store.engine, alarm_id, "q.eng", cause=CAUSE)
    return alarm_id


def test_alarms_list_piped_prints_each_alarm_on_one_line_with_every_cell_whole(
    sqlite_alarms: AlarmStore,
) -> None:
    alarm_id = _alarm_with_a_long_note(sqlite_alarms)
    result = runner.invoke(app, ["alarms", "list", "--db", sqlite_alarms.url])
    assert result.exit_code == 0, result.output
    [line] = [text for text in result.output.splitlines() if CAUSE in text]
    cells = [cell.strip() for cell in line.strip("│ ").split("│")]
    assert cells == [
        str(alarm_id),
        "line-1/thickness_um",
        "i:nelson1",
        "high",
        "active-acknowledged",
        "1",
        "2026-11-22T08:30:15+00:00",
        CAUSE,
    ]


def test_alarms_list_json_gives_every_field_with_iso_times(sqlite_alarms: AlarmStore) -> None:
    alarm_id = _alarm_with_a_long_note(sqlite_alarms)
    result = runner.invoke(app, ["alarms", "list", "--db", sqlite_alarms.url, "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == [
        {
            "id": alarm_id,
            "line": "line-1",
            "tag": "thickness_um",
            "kind": "spc",
            "code": "i:nelson1",
            "priority": "high",
            "state": "active-acknowledged",
            "count": 1,
            "first_at": "2026-11-22T08:30:15+00:00",
            "last_at": "2026-11-22T08:30:15+00:00",
            "acked_by": "operator.a",
            "shelved_until": None,
            "cause": CAUSE,
            "action": None,
            "message": "beyond the UCL",
        }
    ]
