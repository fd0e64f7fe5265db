"""`plantqc alarms list`: every column whole when piped, and every field with ``--json``."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from alarm_store import AlarmStore
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from plantqc import alarms
from plantqc.alarms import AlarmEvent, apply_events
from plantqc.cli import app
from plantqc.store.models import Sample

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


# --- alarms kpi ---------------------------------------------------------------------------

T0 = datetime(2026, 11, 22, 6, 0, tzinfo=UTC)


def _replayed_history(store: AlarmStore) -> None:
    """Two hours of recorded samples (first and last at T0 and T0 + 2 h) and, in the samples'
    time: Nelson 1 raised at 60 s and raised again at 80 s and 100 s, each time returned 10 s
    later, then acknowledged (now); WE 2 raised at 1 h and still active."""

    def fired(kind: str, code: str, s: float) -> AlarmEvent:
        return AlarmEvent(kind, code, T0 + timedelta(seconds=s), message=code)

    with Session(store.engine) as session, session.begin():
        session.add_all(
            Sample(tag_id=store.tag_id, ts=T0 + timedelta(hours=h), value=50.0) for h in (0, 2)
        )
        events = [
            fired(kind, "nelson1", s)
            for s0 in (60, 80, 100)
            for kind, s in (("raise", s0), ("clear", s0 + 10))
        ]
        [nelson1] = apply_events(session, store.line_id, store.tag_id, events)
        apply_events(session, store.line_id, store.tag_id, [fired("raise", "we2", 3600)])
        nelson1_id = nelson1.id
    alarms.ack(store.engine, nelson1_id, "operator.a")


def test_alarms_kpi_json_counts_a_replayed_history_in_the_samples_time(
    either_alarms: AlarmStore,
) -> None:
    _replayed_history(either_alarms)
    result = runner.invoke(app, ["alarms", "kpi", "--db", either_alarms.url, "--json"])
    assert result.exit_code == 0, result.output
    # 4 alarms in 2 h; 3 of them in the first 10-minute period and within 40 s (chattering)
    assert json.loads(result.output) == {
        "lines": [
            {
                "line": "line-1",
                "hours": 2.0,
                "alarms": 4,
                "alarms_per_hour": 2.0,
                "peak_per_10min": 3,
                "flood_pct": 0.0,
                "chattering": 1,
                "stale": 0,
                "shelved": 0,
                "top": [
                    {"tag": "thickness_um", "rule": "nelson1", "count": 3},
                    {"tag": "thickness_um", "rule": "we2", "count": 1},
                ],
            }
        ]
    }


def test_alarms_kpi_counts_only_the_period_given(sqlite_alarms: AlarmStore) -> None:
    _replayed_history(sqlite_alarms)
    period = ["--from", "2026-11-22T06:00:00Z", "--to", "2026-11-22T06:01:30Z"]
    result = runner.invoke(app, ["alarms", "kpi", "--db", sqlite_alarms.url, *period, "--json"])
    [line] = json.loads(result.output)["lines"]
    assert (line["hours"], line["alarms"], line["chattering"]) == (0.025, 2, 0)


def test_alarms_kpi_prints_a_table_of_the_figures(sqlite_alarms: AlarmStore) -> None:
    _replayed_history(sqlite_alarms)
    result = runner.invoke(app, ["alarms", "kpi", "--db", sqlite_alarms.url])
    assert result.exit_code == 0, result.output
    [row] = [text for text in result.output.splitlines() if "line-1" in text]
    cells = [cell.strip() for cell in row.strip("│ ").split("│")]
    assert cells[:9] == ["line-1", "2.00", "4", "2.00", "3", "0.0", "1", "0", "0"]


def test_alarms_kpi_of_an_unknown_line_is_one_sentence(sqlite_alarms: AlarmStore) -> None:
    result = runner.invoke(app, ["alarms", "kpi", "--db", sqlite_alarms.url, "--line", "nope"])
    assert (result.exit_code, result.output.strip()) == (
        2,
        "error: the store has no line 'nope' (lines: line-1).",
    )


def test_alarms_kpi_of_a_period_that_ends_before_it_starts_is_one_sentence(
    sqlite_alarms: AlarmStore,
) -> None:
    period = ["--from", "2026-11-22T08:00:00Z", "--to", "2026-11-22T06:00:00Z"]
    result = runner.invoke(app, ["alarms", "kpi", "--db", sqlite_alarms.url, *period])
    assert result.exit_code == 2
    assert "--to 2026-11-22T06:00:00Z is before --from 2026-11-22T08:00:00Z." in result.output
