"""An operator's acknowledgement and the engine's changes to the same alarm never overwrite
each other (issue 16, item 8).

The engine changes a tag's alarms with `plantqc.alarms.apply_events` inside the transaction
that stores its chunk: it reads the open alarms, decides their transitions and writes them
when the chunk commits.  An operator acknowledges with `plantqc.alarms.ack`, a transaction of
its own.  Each of the first tests forces one interleaving on the real PostgreSQL with two
threads: one side stops at a given point inside its transaction (events, no sleeps), the other
side starts, and the first goes on only once the second has committed or waits on a row lock
(read from ``pg_stat_activity``), so a change that could slip in between the other's read and
write does.  The last tests let 100 acknowledgements race an engine that raises and returns
the same alarm, and check every version of the alarm rows (a trigger records them) against
the state table (`plantqc.alarms.states.TABLE`) and the audit trail.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import pytest
from alarm_store import AlarmStore
from sqlalchemy import Engine, event, func, select, text
from sqlalchemy.orm import Session

from plantqc import alarms
from plantqc.alarms import AlarmEvent, apply_events
from plantqc.alarms.states import TABLE, Effect, Transition
from plantqc.errors import UserError
from plantqc.store import connect
from plantqc.store.db import open_engine
from plantqc.store.models import Alarm, AlarmState, AuditLog

AU = AlarmState.ACTIVE_UNACKED
AA = AlarmState.ACTIVE_ACKED
RU = AlarmState.RTN_UNACKED
N = AlarmState.NORMAL
TIMEOUT_S = 30.0
CODE = "nelson1"


def _fired(kind: str) -> AlarmEvent:
    """The engine's raise or clear of the tag's Nelson 1 condition, now."""
    return AlarmEvent(kind, CODE, datetime.now(UTC), priority="high", message="beyond the UCL")


def _engine_commits(store: AlarmStore, kind: str) -> None:
    """One engine transaction applying a raise or a clear."""
    with Session(store.engine) as session, session.begin():
        apply_events(session, store.line_id, store.tag_id, [_fired(kind)])


def _raised(store: AlarmStore) -> int:
    _engine_commits(store, "raise")
    [alarm_id] = _alarm_ids(store)
    return alarm_id


def _alarm_ids(store: AlarmStore) -> list[int]:
    with Session(store.engine) as session:
        return list(session.scalars(select(Alarm.id).order_by(Alarm.id)))


def _alarm(store: AlarmStore, alarm_id: int) -> tuple[str, str | None, bool]:
    with Session(store.engine) as session:
        row = session.get(Alarm, alarm_id)
        assert row is not None
        return row.state, row.acked_by, row.condition_active


def _trail(store: AlarmStore, alarm_id: int) -> list[tuple[str, str]]:
    """The alarm's audit trail as (action, state the action left it in)."""
    with Session(store.engine) as session:
        rows = session.scalars(
            select(AuditLog)
            .where(AuditLog.entity == "alarm", AuditLog.entity_id == str(alarm_id))
            .order_by(AuditLog.id)
        )
        return [(row.action, (row.detail or {})["state"]) for row in rows]


def _until(done: threading.Event, future: Future[Any]) -> None:
    """Wait until ``done`` is set; fail at once with the thread's error if it ended first."""
    deadline = time.monotonic() + TIMEOUT_S
    while not done.wait(0.01):
        if future.done():
            future.result()  # raises what the thread raised
            pytest.fail("the thread ended without reaching its stop")
        assert time.monotonic() < deadline, "the thread did not reach its stop"


def _settled(store: AlarmStore, future: Future[Any]) -> None:
    """Wait until ``future``'s transaction has committed or waits on a lock another holds."""
    deadline = time.monotonic() + TIMEOUT_S
    waiting = text(
        "SELECT count(*) FROM pg_stat_activity"
        " WHERE datname = current_database() AND wait_event_type = 'Lock'"
    )
    # autocommit: pg_stat_activity is a snapshot taken once per transaction
    with store.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        while not future.done() and not conn.execute(waiting).scalar_one():
            assert time.monotonic() < deadline, "neither committed nor waiting on a lock"
            time.sleep(0.002)


@contextmanager
def _engine_stopped(store: AlarmStore, kind: str, *, written: bool) -> Iterator[None]:
    """An engine transaction that has read the tag's open alarms and applied a raise or a
    clear (``written``: and sent the change to the database, as a flush mid-chunk does),
    stopped before its commit while the block runs; it commits when the block ends."""
    stopped, go = threading.Event(), threading.Event()

    def run() -> None:
        with Session(store.engine) as session, session.begin():
            apply_events(session, store.line_id, store.tag_id, [_fired(kind)])
            if written:
                session.flush()
            stopped.set()
            assert go.wait(TIMEOUT_S)

    with ThreadPoolExecutor(1) as pool:
        engine_side = pool.submit(run)
        _until(stopped, engine_side)
        try:
            yield
        finally:
            go.set()
        engine_side.result(TIMEOUT_S)


@contextmanager
def _operator_stopped_after_reading(
    url: str,
) -> Iterator[tuple[Engine, Callable[[float], bool], Callable[[], None]]]:
    """An engine for the operator whose first read of an alarm stops until it is let go:
    yields the engine, a wait for that read and the function that lets it go."""
    operator = connect(url)
    read, go = threading.Event(), threading.Event()

    @event.listens_for(operator, "after_cursor_execute")
    def _stop(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        reads_alarms = statement.lstrip().startswith("SELECT") and "FROM alarms" in statement
        if reads_alarms and not read.is_set():
            read.set()
            assert go.wait(TIMEOUT_S)

    try:
        yield operator, read.wait, go.set
    finally:
        go.set()
        operator.dispose()


@pytest.mark.postgres
def test_an_ack_committed_between_the_engines_read_and_its_return_is_not_lost(
    pg_alarms: AlarmStore,
) -> None:
    alarm_id = _raised(pg_alarms)
    with ThreadPoolExecutor(1) as pool:
        with _engine_stopped(pg_alarms, "clear", written=False):
            acked = pool.submit(alarms.ack, pg_alarms.engine, alarm_id, "operator.a")
            _settled(pg_alarms, acked)
        assert acked.result(TIMEOUT_S).state == N
    assert _alarm(pg_alarms, alarm_id) == (N, "operator.a", False)
    assert _trail(pg_alarms, alarm_id) == [
        ("alarm-raise", AU),
        ("alarm-return", RU),
        ("alarm-ack", N),
    ]


@pytest.mark.postgres
def test_an_ack_waiting_on_the_engines_return_does_not_pre_acknowledge_the_next_activation(
    pg_alarms: AlarmStore,
) -> None:
    alarm_id = _raised(pg_alarms)
    with ThreadPoolExecutor(1) as pool:
        with _engine_stopped(pg_alarms, "clear", written=True):
            acked = pool.submit(alarms.ack, pg_alarms.engine, alarm_id, "operator.a")
            _settled(pg_alarms, acked)
        acked.result(TIMEOUT_S)
    _engine_commits(pg_alarms, "raise")
    first, second = _alarm_ids(pg_alarms)
    assert first == alarm_id
    assert (_alarm(pg_alarms, first), _alarm(pg_alarms, second)) == (
        (N, "operator.a", False),
        (AU, None, True),
    )
    assert _trail(pg_alarms, first) == [
        ("alarm-raise", AU),
        ("alarm-return", RU),
        ("alarm-ack", N),
    ]
    assert _trail(pg_alarms, second) == [("alarm-raise", AU)]


@pytest.mark.postgres
def test_an_ack_racing_a_re_raise_acknowledges_the_active_alarm_and_closes_nothing(
    pg_alarms: AlarmStore,
) -> None:
    alarm_id = _raised(pg_alarms)
    _engine_commits(pg_alarms, "clear")
    with ThreadPoolExecutor(1) as pool:
        with _engine_stopped(pg_alarms, "raise", written=False):
            acked = pool.submit(alarms.ack, pg_alarms.engine, alarm_id, "operator.a")
            _settled(pg_alarms, acked)
        acked.result(TIMEOUT_S)
    assert _alarm_ids(pg_alarms) == [alarm_id]
    assert _alarm(pg_alarms, alarm_id) == (AA, "operator.a", True)
    assert _trail(pg_alarms, alarm_id) == [
        ("alarm-raise", AU),
        ("alarm-return", RU),
        ("alarm-reactivate", AU),
        ("alarm-ack", AA),
    ]


@pytest.mark.postgres
def test_a_re_raise_waiting_on_an_ack_to_normal_opens_a_new_alarm_instead_of_reopening(
    pg_alarms: AlarmStore,
) -> None:
    alarm_id = _raised(pg_alarms)
    _engine_commits(pg_alarms, "clear")
    with (
        _operator_stopped_after_reading(pg_alarms.url) as (operator, wait_read, let_go),
        ThreadPoolExecutor(2) as pool,
    ):
        acked = pool.submit(alarms.ack, operator, alarm_id, "operator.a")
        assert wait_read(TIMEOUT_S)
        raised = pool.submit(_engine_commits, pg_alarms, "raise")
        _settled(pg_alarms, raised)
        let_go()
    acked.result(TIMEOUT_S)
    raised.result(TIMEOUT_S)
    first, second = _alarm_ids(pg_alarms)
    assert (_alarm(pg_alarms, first), _alarm(pg_alarms, second)) == (
        (N, "operator.a", False),
        (AU, None, True),
    )
    assert _trail(pg_alarms, first) == [
        ("alarm-raise", AU),
        ("alarm-return", RU),
        ("alarm-ack", N),
    ]


def test_on_sqlite_an_ack_cannot_change_an_alarm_the_engine_has_read_until_it_commits(
    sqlite_alarms: AlarmStore,
) -> None:
    alarm_id = _raised(sqlite_alarms)
    impatient = open_engine(sqlite_alarms.url)
    # after the store's own pragmas: give up at once instead of waiting for the write lock
    event.listen(impatient, "connect", lambda conn, _r: conn.execute("PRAGMA busy_timeout=0"))
    try:
        with (
            _engine_stopped(sqlite_alarms, "clear", written=False),
            pytest.raises(UserError, match="another writer kept the store locked"),
        ):
            alarms.ack(impatient, alarm_id, "operator.a")
        assert alarms.ack(impatient, alarm_id, "operator.a").state == N
    finally:
        impatient.dispose()
    assert _trail(sqlite_alarms, alarm_id) == [
        ("alarm-raise", AU),
        ("alarm-return", RU),
        ("alarm-ack", N),
    ]


# --- 100 acknowledgements racing the engine ----------------------------------------------

VERSIONS_DDL = {
    "postgresql": [
        "CREATE TABLE alarm_versions (seq bigserial PRIMARY KEY, alarm_id integer,"
        " old_state text, new_state text, acked_by text)",
        "CREATE FUNCTION record_alarm_version() RETURNS trigger AS $$ BEGIN"
        " INSERT INTO alarm_versions (alarm_id, old_state, new_state, acked_by) VALUES"
        " (NEW.id, CASE WHEN TG_OP = 'UPDATE' THEN OLD.state END, NEW.state, NEW.acked_by);"
        " RETURN NEW; END $$ LANGUAGE plpgsql",
        "CREATE TRIGGER alarm_version AFTER INSERT OR UPDATE ON alarms"
        " FOR EACH ROW EXECUTE FUNCTION record_alarm_version()",
    ],
    "sqlite": [
        "CREATE TABLE alarm_versions (seq INTEGER PRIMARY KEY AUTOINCREMENT, alarm_id integer,"
        " old_state text, new_state text, acked_by text)",
        "CREATE TRIGGER alarm_opened AFTER INSERT ON alarms BEGIN INSERT INTO alarm_versions"
        " (alarm_id, old_state, new_state, acked_by)"
        " VALUES (NEW.id, NULL, NEW.state, NEW.acked_by); END",
        "CREATE TRIGGER alarm_changed AFTER UPDATE ON alarms BEGIN INSERT INTO alarm_versions"
        " (alarm_id, old_state, new_state, acked_by)"
        " VALUES (NEW.id, OLD.state, NEW.state, NEW.acked_by); END",
    ],
}
ACKS = 100
OPERATORS = 8


def _legal(old: str | None, new: str) -> bool:
    """Whether one event of the state table takes a row from ``old`` to ``new``: an insert
    (``old`` None) is an event that opens an alarm from normal, an update one that does not."""
    start = AlarmState.NORMAL if old is None else AlarmState(old)
    return any(
        isinstance(step, Transition)
        and step.state == new
        and (Effect.OPEN in step.effects) == (old is None)
        for (state, _event), step in TABLE.items()
        if state == start
    )


def _race(store: AlarmStore) -> tuple[dict[str, str], int]:
    """The engine raises (twice: chattering) and clears the tag's alarm, one transaction per
    event, while 100 operators, 8 at a time, each try to acknowledge its newest row, four per
    engine cycle (operator k starts once the engine has begun cycle k // 4, so the acks spread
    over the cycles rather than all landing on one); return the state each successful ack left
    its alarm in, by user, and the engine's cycles."""
    done = threading.Event()
    progress = threading.Condition()
    cycles = 0

    def engine_side() -> int:
        nonlocal cycles
        while not done.is_set() or cycles < 10:
            for kind in ("raise", "raise", "clear"):
                _engine_commits(store, kind)
            with progress:
                cycles += 1
                progress.notify_all()
        return cycles

    def operator(number: int) -> tuple[str, str | None]:
        with progress:
            assert progress.wait_for(lambda: cycles >= number // 4, TIMEOUT_S)
        user = f"operator.{number}"
        with Session(store.engine) as session:
            newest = session.scalar(select(func.max(Alarm.id)))
        assert newest is not None
        try:
            return user, alarms.ack(store.engine, newest, user).state
        except UserError:  # refused: it was acknowledged or closed already
            return user, None

    _engine_commits(store, "raise")
    with ThreadPoolExecutor(1) as engine_pool, ThreadPoolExecutor(OPERATORS) as operators:
        engine_run = engine_pool.submit(engine_side)
        try:
            outcomes = list(operators.map(operator, range(ACKS)))
        finally:
            done.set()
        return {user: state for user, state in outcomes if state is not None}, engine_run.result()


@pytest.fixture(params=["postgresql", "sqlite"])
def raced(request: pytest.FixtureRequest) -> Iterator[AlarmStore]:
    """A store whose alarm row versions are recorded by a trigger in ``alarm_versions``."""
    store: AlarmStore = request.getfixturevalue(
        "pg_alarms" if request.param == "postgresql" else "sqlite_alarms"
    )
    with store.engine.begin() as conn:
        for statement in VERSIONS_DDL[request.param]:
            conn.exec_driver_sql(statement)
    yield store


def test_100_acks_racing_raises_and_returns_of_one_alarm_lose_nothing(
    raced: AlarmStore,
) -> None:
    acked, cycles = _race(raced)
    with Session(raced.engine) as session:
        versions = session.execute(
            text("SELECT alarm_id, old_state, new_state, acked_by FROM alarm_versions ORDER BY seq")
        ).all()
        audits = session.execute(
            select(AuditLog.entity_id, AuditLog.user, AuditLog.action, AuditLog.detail)
            .where(AuditLog.entity == "alarm")
            .order_by(AuditLog.id)
        ).all()
        rows = {a.id: (a.state, a.acked_by) for a in session.scalars(select(Alarm))}
    assert acked, "no acknowledgement got through: the race did not happen"
    assert cycles >= ACKS // 4
    # every row change is one legal transition of the state table
    assert [v for v in versions if not _legal(v.old_state, v.new_state)] == []
    # no activation pre-acknowledged: only an acknowledged (or closed) alarm names its acker
    assert [v for v in versions if v.new_state in (AU, RU) and v.acked_by is not None] == []
    # no ack lost: each successful ack is written once, with its user, as the state it reported
    ack_trail = {user: (d or {})["state"] for _, user, what, d in audits if what == "alarm-ack"}
    assert ack_trail == acked
    ack_writes = [v for v in versions if v.acked_by is not None and v.old_state in (AU, RU)]
    assert sorted(v.acked_by for v in ack_writes) == sorted(acked)
    # the audit trail is the alarm rows' history: every change of state, in order, and the
    # state each alarm is in now
    for alarm_id, (state, acked_by) in rows.items():
        changes = [
            v.new_state
            for v in versions
            if v.alarm_id == alarm_id and (v.old_state is None or v.old_state != v.new_state)
        ]
        trail = [(d or {})["state"] for entity, _, _, d in audits if entity == str(alarm_id)]
        assert trail == changes
        assert changes[-1] == state
        acks = [u for e, u, what, _ in audits if e == str(alarm_id) and what == "alarm-ack"]
        assert acked_by == (acks[-1] if acks else None)
