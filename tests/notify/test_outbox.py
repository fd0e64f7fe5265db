"""The alarm outbox: audit rows after a durable cursor, as documents, exactly the line's."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from notify_helpers import T0, Plant, change, make_plant
from sqlalchemy import text
from sqlalchemy.orm import Session

from plantqc import alarms
from plantqc.notifiers.outbox import (
    GAP_WAIT_S,
    LinePath,
    OutboxCursor,
    Position,
    read_batch,
)
from plantqc.store import connect, sync_config, upgrade
from plantqc.store.models import AuditLog

LINE_1 = LinePath("test-site", "films", "line-1")


def _plant(tmp_path: Path) -> Plant:
    return make_plant(tmp_path, "      poll_interval_s: 0.1")


def test_a_raised_alarm_becomes_one_document_naming_the_alarm_and_the_change(
    tmp_path: Path,
) -> None:
    plant = _plant(tmp_path)
    alarm_id = change(plant.engine, plant.gap, "raise")
    [raised] = read_batch(plant.engine, LINE_1, Position()).changes
    document = raised.document()
    at = document["change"].pop("at")
    assert document == {
        "alarm_id": alarm_id,
        "site": "test-site",
        "area": "films",
        "line": "line-1",
        "tag": "gap_um",
        "kind": "spc",
        "code": "we1",
        "priority": "high",
        "state": "active-unacknowledged",
        "message": "gap_um: rule we1 on chart imr at value 14",
        "first_at": T0.isoformat(),
        "last_at": T0.isoformat(),
        "count": 1,
        "acked_by": None,
        "acked_at": None,
        "shelved_until": None,
        "cause": None,
        "action": None,
        "change": {
            "id": raised.audit_id,
            "action": "alarm-raise",
            "by": "plantqc-engine",
            "state": "active-unacknowledged",
            "detail": {"rule": "we1"},
        },
    }
    assert datetime.fromisoformat(at).tzinfo == UTC


def test_a_change_carries_its_own_state_and_the_alarm_as_it_is_now(tmp_path: Path) -> None:
    plant = _plant(tmp_path)
    alarm_id = change(plant.engine, plant.gap, "raise")
    alarms.ack(plant.engine, alarm_id, "operator.a", "gauge checked")
    raised, acked = read_batch(plant.engine, LINE_1, Position()).changes
    assert (raised.change_state, raised.alarm.state) == (
        "active-unacknowledged",
        "active-acknowledged",
    )
    assert acked.document()["change"]["detail"] == {"note": "gauge checked"}
    assert (acked.by, acked.document()["acked_by"]) == ("operator.a", "operator.a")


def test_changes_of_another_line_only_move_the_cursor(tmp_path: Path) -> None:
    plant = _plant(tmp_path)
    change(plant.engine, plant.refs[("line-2", "gap_um")], "raise")
    batch = read_batch(plant.engine, LINE_1, Position())
    assert (batch.changes, batch.next_position) == ((), Position(last_id=1))


def test_a_read_from_the_moved_cursor_gives_only_later_changes(tmp_path: Path) -> None:
    plant = _plant(tmp_path)
    alarm_id = change(plant.engine, plant.gap, "raise")
    first = read_batch(plant.engine, LINE_1, Position())
    alarms.ack(plant.engine, alarm_id, "operator.a")
    later = read_batch(plant.engine, LINE_1, first.next_position)
    assert [c.action for c in later.changes] == ["alarm-ack"]


def test_the_cursor_file_gives_the_same_position_after_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "var" / "line-1.mqtt.json"
    OutboxCursor(path).advance(Position(41, {38: 1_700_000_000.0}))
    assert OutboxCursor(path).position == Position(41, {38: 1_700_000_000.0})


def test_a_cursor_beyond_the_newest_change_starts_over_on_a_new_database(
    tmp_path: Path,
) -> None:
    plant = _plant(tmp_path)
    change(plant.engine, plant.gap, "raise")
    batch = read_batch(plant.engine, LINE_1, Position(last_id=50))  # the cursor of another store
    assert ([c.action for c in batch.changes], batch.next_position) == (
        ["alarm-raise"],
        Position(last_id=1),
    )


def test_an_unreadable_cursor_file_starts_over_rather_than_skipping(tmp_path: Path) -> None:
    path = tmp_path / "line-1.mqtt.json"
    path.write_text("{not json", encoding="utf-8")
    assert OutboxCursor(path).position == Position()


def test_a_batch_that_reached_its_limit_says_more_may_be_waiting(tmp_path: Path) -> None:
    plant = _plant(tmp_path)
    alarm_id = change(plant.engine, plant.gap, "raise")
    alarms.comment(plant.engine, alarm_id, "operator.a", cause="die lip worn")
    assert read_batch(plant.engine, LINE_1, Position(), limit=1).full
    assert not read_batch(plant.engine, LINE_1, Position(), limit=3).full


def test_the_summary_counts_active_alarms_but_not_shelved_ones(tmp_path: Path) -> None:
    plant = _plant(tmp_path)
    high = change(plant.engine, plant.gap, "raise", rule="we1")
    change(plant.engine, plant.gap, "raise", rule="we2")
    assert read_batch(plant.engine, LINE_1, Position()).summary.active_priorities == (
        "high",
        "medium",
    )
    alarms.shelve(plant.engine, high, "operator.a", datetime.now(UTC) + timedelta(hours=1))
    assert read_batch(plant.engine, LINE_1, Position()).summary.active_priorities == ("medium",)


def test_an_id_missing_below_the_cursor_is_waited_for_then_given_up(tmp_path: Path) -> None:
    # a PostgreSQL sequence leaves a hole when a transaction rolls back: id 2 here
    plant = _plant(tmp_path)
    change(plant.engine, plant.gap, "raise")
    with plant.engine.begin() as db:
        db.execute(
            text(
                "INSERT INTO audit_log (id, at, user, action, entity) "
                "VALUES (3, '2026-11-22 08:00:00', 'x', 'limits-freeze', 'limits')"
            )
        )
    first = read_batch(plant.engine, LINE_1, Position(), now=1000.0)
    assert first.next_position == Position(3, {2: 1000.0})
    kept = read_batch(plant.engine, LINE_1, first.next_position, now=1000.0 + GAP_WAIT_S)
    assert kept.next_position == first.next_position
    given_up = read_batch(plant.engine, LINE_1, first.next_position, now=1001.0 + GAP_WAIT_S)
    assert given_up.next_position == Position(3, {})


def test_a_change_committed_after_a_later_one_is_still_delivered(
    pg_url: str, tmp_path: Path
) -> None:
    # PostgreSQL draws ids at insert, not at commit: the ack (id 2) commits after the comment
    # (id 3) was read, and must still go out
    plant = make_plant(tmp_path, "      poll_interval_s: 0.1")
    engine = connect(pg_url)
    upgrade(engine)
    refs = sync_config(engine, plant.loaded.config)
    try:
        alarm_id = change(engine, refs[("line-1", "gap_um")], "raise")
        raised = read_batch(engine, LINE_1, Position())
        with Session(engine) as slow, slow.begin():
            slow.add(
                AuditLog(user="op", action="alarm-ack", entity="alarm", entity_id=str(alarm_id))
            )
            slow.flush()  # id 2 drawn, not yet visible
            alarms.comment(engine, alarm_id, "operator.b", cause="die lip worn")  # id 3
            early = read_batch(engine, LINE_1, raised.next_position)
        late = read_batch(engine, LINE_1, early.next_position)
        assert [c.action for c in early.changes] == ["alarm-comment"]
        assert 2 in early.next_position.pending
        assert [(c.audit_id, c.action) for c in late.changes] == [(2, "alarm-ack")]
        assert late.next_position == Position(3, {})
    finally:
        engine.dispose()
