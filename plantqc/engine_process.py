"""The SPC engine in a process of its own beside the daemon.

The daemon's event loop (OPC UA notifications, the durable buffer, the store writes) and the
engine (charts, rules, alarms) are both Python-bound; in one process they share one core
through the interpreter lock.  `EngineProcess` has the daemon's ``on_stored`` / ``on_tick``
interface: it hands the tags of each stored batch over a pipe to a child process that runs
`plantqc.charting.hook.StoreHook` on them, so ingestion and charting use a core each.

The child is a plain ``python -c`` process fed through its stdin: no multiprocessing queue, so
no semaphore and no resource-tracker process beside it.  A reader thread in the child takes
what arrives off the pipe at once (the daemon never blocks on a slow engine), and the engine
drains whatever has queued up before it charts, so a child that falls behind charts several
batches in one call instead of queueing work.  The engine reads the samples from the store, so
nothing is lost when it lags, dies or is restarted: a replacement catches up from the
persisted state.  `close` sends a stop behind the last batch and waits for the child to chart
everything before it.

The engine dies with the daemon: on Linux the child asks the kernel for SIGKILL when its parent
dies (``prctl(PR_SET_PDEATHSIG)``); everywhere, the pipe closes when the parent dies and the
child's reader thread then ends the process.  A kill is safe: the engine's state and its
violations are committed together.

One engine per database: the child holds an advisory lock for as long as it charts
(`engine_lock`), so a second engine started on the same database (an old daemon's engine still
catching up, a second daemon) logs that it waits and charts only once the first has stopped;
two engines never chart the same tags at once.  Before each charting round the child checks
that it still holds the lock (a PostgreSQL lock lives as long as its connection: a server
restart or a terminated backend releases it); one that lost it exits, and the replacement the
keeper starts waits for the lock like any second engine.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import signal
import subprocess
import sys
import threading
import time
import zlib
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from multiprocessing.connection import Connection
from pathlib import Path
from typing import TYPE_CHECKING, Any

from plantqc.alarms import RTN_AFTER_POINTS
from plantqc.buffer import Reading
from plantqc.config import PlantConfig

if TYPE_CHECKING:
    from sqlalchemy import Connection as DbConnection

log = logging.getLogger(__name__)

STOP_TIMEOUT_S = 120.0
"""How long `EngineProcess.close` waits for the child to chart what is queued."""
RESTART_BACKOFF_S = (0.0, 1.0, 5.0, 30.0)
"""Pause before restarting an engine that ended young (see `STEADY_S`): none the first time,
then longer for each further one in a row."""
STEADY_S = 60.0
"""An engine that ran this long before it ended is restarted at once, its backoff reset."""
LOCK_KEY = zlib.crc32(b"plantqc.engine") - 2**31
"""The PostgreSQL advisory lock key (bigint) of the engine; advisory locks are per database."""
LOCK_RETRY_S = 1.0
"""How often an engine waiting for the lock tries again."""
LOCK_SUFFIX = ".engine-lock"
"""Beside a SQLite file ``plant.db``, the engine's lock file is ``plant.db.engine-lock``."""
ORPHANED_EXIT = 3
"""Exit code of a child whose parent went away."""
LOCK_LOST_EXIT = 4
"""Exit code of a child whose lock connection broke: its replacement waits for the lock."""
_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>

_CHILD = "from plantqc.engine_process import main; main()"


class EngineProcess:
    """`StoreHook` run in a child process, fed by the daemon.

    A keeper thread starts the child, waits for it and starts another when it ends before
    `close` (after `RESTART_BACKOFF_S` when it keeps dying young); on Linux a child's
    parent-death signal follows the thread that started it, so one long-lived thread starts
    them all.

    Parameters
    ----------
    db_url : str
        The daemon's store.
    rtn_after : int
        Chart points without a rule firing before its alarm returns to normal.
    config : PlantConfig, optional
        The plant config (sampling intervals, running conditions).
    log_level : str, optional
        Level of the child's JSON-lines log on stderr (`plantqc.logs.configure_logging`);
        None leaves the child's logging unconfigured.
    start : bool, optional
        Start the child now (default); False leaves that to `start`, so that a daemon starts
        it only once it has opened the store (``Daemon(on_store_open=...)``): a store it
        rejects is never touched by an engine.
    """

    def __init__(
        self,
        db_url: str,
        *,
        rtn_after: int = RTN_AFTER_POINTS,
        config: PlantConfig | None = None,
        log_level: str | None = None,
        start: bool = True,
    ) -> None:
        self._setup = (db_url, rtn_after, config, log_level)
        self._lock = threading.Lock()  # one writer on the pipe at a time
        self._closing = threading.Event()
        self._started = threading.Event()
        self._process: subprocess.Popen[bytes] | None = None
        self._channel: Connection | None = None
        self.restarts = 0
        self._failure: BaseException | None = None
        self._keeper = threading.Thread(target=self._keep, name="plantqc-engine", daemon=True)
        if start:
            self.start()

    def start(self) -> None:
        """Start the child (once)."""
        self._keeper.start()
        self._started.wait()
        if self._failure is not None:
            raise self._failure

    def _spawn(self) -> tuple[subprocess.Popen[bytes], Connection]:
        read, write = os.pipe()
        try:
            process = subprocess.Popen(
                [sys.executable, "-c", _CHILD, str(os.getpid())], stdin=read, close_fds=True
            )
        finally:
            os.close(read)
        channel = Connection(write, readable=False)
        channel.send(self._setup)
        return process, channel

    def _keep(self) -> None:
        young = 0  # engines in a row that ended before running `STEADY_S`
        while True:
            with self._lock:  # `close` cannot slip in between: it stops this child or none
                if self._closing.is_set():
                    return
                try:
                    process, channel = self._spawn()
                except BaseException as exc:
                    self._failure = exc
                    self._started.set()
                    return
                self._process, self._channel = process, channel
            self._started.set()
            started = time.monotonic()
            exitcode = process.wait()
            if self._closing.is_set():
                return
            # the engine resumes from its persisted state; what the dead one had queued is
            # read from the store by the next one
            log.error("engine process ended; starting another", extra={"exit": exitcode})
            young = young + 1 if time.monotonic() - started < STEADY_S else 0
            if self._closing.wait(
                RESTART_BACKOFF_S[min(max(young - 1, 0), len(RESTART_BACKOFF_S) - 1)]
            ):
                return
            with self._lock:
                channel.close()
                self.restarts += 1

    def _send(self, message: tuple[str, Any]) -> None:
        with self._lock:
            assert self._channel is not None
            # a child that died drops the message: the keeper's next one catches up from the store
            with contextlib.suppress(OSError):
                self._channel.send(message)

    def __call__(self, batch: Sequence[Reading]) -> None:
        """Chart ``batch`` (already stored) in the engine process."""
        # the engine reads the samples from the store: it needs only which tags have new ones
        self._send(("stored", list({(r.line, r.tag) for r in batch})))

    def tick(self, now: datetime) -> None:
        """The daemon's periodic check, in the engine process (`StoreHook.tick`)."""
        self._send(("tick", now))

    @property
    def pid(self) -> int | None:
        """The engine process's id."""
        return self._process.pid if self._process is not None else None

    def alive(self) -> bool:
        """Whether the current engine process is running."""
        return self._process is not None and self._process.poll() is None

    def close(self, timeout_s: float | None = STOP_TIMEOUT_S) -> None:
        """Let the child chart what is queued, then stop it; past ``timeout_s`` (None: no
        bound, as a replay that must return charted waits) it is killed.  An engine never
        started has nothing to stop."""
        with self._lock:
            self._closing.set()
            process, channel = self._process, self._channel
            if process is None or channel is None:
                return
            with contextlib.suppress(OSError):  # a dead child: nothing of it to wait for
                channel.send(("stop", None))
        try:
            process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            log.error("engine process did not stop in time; killing it")
            process.kill()
            process.wait()
        self._keeper.join()
        channel.close()


def die_with_parent(parent: int) -> None:
    """End this process when ``parent`` dies: SIGKILL from the kernel on Linux; and, where the
    parent is already gone (it died before the request took effect), at once."""
    if sys.platform.startswith("linux"):
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
            error = ctypes.get_errno()
            log.warning("parent-death signal unavailable", extra={"errno": error})
    if os.getppid() != parent:
        os._exit(ORPHANED_EXIT)


def lock_path(database: str) -> Path:
    """The engine's lock file beside the SQLite file ``database``."""
    path = Path(database).expanduser()
    return path.with_name(path.name + LOCK_SUFFIX)


@contextlib.contextmanager
def engine_lock(db_url: str, stop: threading.Event) -> Iterator[Callable[[], bool] | None]:
    """Hold the database's engine lock for the block: once held, a check whether it still is;
    while another engine holds it, say so once and try again every `LOCK_RETRY_S`, or give up
    (None) when ``stop`` is set.

    PostgreSQL: the session advisory lock `LOCK_KEY` on a connection of its own, released by
    the server when the holder's connection ends (a killed engine included).  SQLite: an
    exclusive ``flock`` on the lock file beside the database (`lock_path`), released by the
    kernel when the holder's process ends.  An in-memory SQLite database is one process's
    own and needs none.
    """
    from sqlalchemy import make_url

    url = make_url(db_url)
    if url.get_backend_name() == "sqlite":
        if not url.database or url.database == ":memory:":
            yield lambda: True
            return
        lock: Any = _file_lock(lock_path(url.database))
    else:
        lock = _advisory_lock(db_url)
    from sqlalchemy.exc import SQLAlchemyError

    from plantqc.store.db import driver_reason

    with lock as (where, attempt, still_held):
        said = ""
        while True:
            try:
                if attempt():
                    break
                why = "another SPC engine is charting this database; waiting until it stops"
            except SQLAlchemyError as exc:  # a store not up yet: the daemon buffers meanwhile
                why = f"the store does not answer ({driver_reason(exc)}); the engine waits for it"
            if why != said:
                log.warning(why, extra={"lock": where})
                said = why
            if stop.wait(LOCK_RETRY_S):
                yield None
                return
        yield still_held


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[tuple[str, Callable[[], bool], Callable[[], bool]]]:
    import fcntl

    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)

    def attempt() -> bool:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    try:  # an flock is the process's until it closes the descriptor: never lost before
        yield str(path), attempt, lambda: True
    finally:
        os.close(fd)  # closing the descriptor releases the lock


@contextlib.contextmanager
def _advisory_lock(
    db_url: str,
) -> Iterator[tuple[str, Callable[[], bool], Callable[[], bool]]]:
    from sqlalchemy import text

    from plantqc.store import open_engine

    engine = open_engine(db_url)
    connection: DbConnection | None = None

    def attempt() -> bool:
        nonlocal connection
        try:
            connection = connection or engine.connect()
            query = text("SELECT pg_try_advisory_lock(:key)")
            held = bool(connection.execute(query, {"key": LOCK_KEY}).scalar_one())
            # a session lock outlives the transaction: no connection left idle in one
            connection.commit()
        except Exception:
            if connection is not None:  # a broken connection: the next attempt opens another
                with contextlib.suppress(Exception):
                    connection.close()
                connection = None
            raise
        return held

    def still_held() -> bool:
        # a bigint advisory key shows in pg_locks as classid (high half) and objid (low half)
        query = text(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"
            " AND pid = pg_backend_pid() AND objsubid = 1"
            " AND classid::bigint = :high AND objid::bigint = :low"
        )
        key = {"high": (LOCK_KEY >> 32) & 0xFFFFFFFF, "low": LOCK_KEY & 0xFFFFFFFF}
        try:
            assert connection is not None
            held = connection.execute(query, key).scalar_one() > 0
            connection.commit()
        except Exception:  # a broken connection took the lock with it
            return False
        return held

    try:
        yield f"pg_advisory_lock({LOCK_KEY})", attempt, still_held
    finally:
        if connection is not None:
            with contextlib.suppress(Exception):  # a lost connection released it already
                connection.execute(text("SELECT pg_advisory_unlock_all()"))
                connection.commit()
                connection.close()
        engine.dispose()


def _drain(
    first: tuple[str, Any], inbox: queue.SimpleQueue[tuple[str, Any]]
) -> tuple[set[tuple[str, str]], datetime | None, bool]:
    """``first`` and every message queued behind it: the (line, tag) names of all their
    batches, the newest tick, whether a stop came."""
    names: set[tuple[str, str]] = set()
    tick, stop = None, False
    message: tuple[str, Any] | None = first
    while message is not None:
        kind, payload = message
        if kind == "stored":
            names.update(payload)
        elif kind == "tick":
            tick = payload
        else:
            stop = True
        try:
            message = inbox.get_nowait()
        except queue.Empty:
            message = None
    return names, tick, stop


def _read(
    channel: Connection, inbox: queue.SimpleQueue[tuple[str, Any]], stopped: threading.Event
) -> None:
    """Move what the daemon sends into ``inbox`` until its stop; a pipe that closes before it
    means the daemon is gone, and so is the engine."""
    while True:
        try:
            message = channel.recv()
        except (EOFError, OSError):
            os._exit(ORPHANED_EXIT)
        inbox.put(message)
        if message[0] == "stop":
            stopped.set()
            return


def main() -> None:
    """The engine process (``sys.argv[1]``: the daemon's pid; the pipe on stdin)."""
    die_with_parent(int(sys.argv[1]))
    # Ctrl-C reaches the whole process group: the daemon stops, then stops its engine
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    channel = Connection(sys.stdin.fileno(), writable=False)
    try:
        db_url, rtn_after, config, log_level = channel.recv()
    except (EOFError, OSError):  # the daemon died before it sent the setup
        os._exit(ORPHANED_EXIT)
    if log_level is not None:
        from plantqc.logs import configure_logging

        configure_logging(log_level)
    inbox: queue.SimpleQueue[tuple[str, Any]] = queue.SimpleQueue()
    stopped = threading.Event()
    threading.Thread(target=_read, args=(channel, inbox, stopped), daemon=True).start()
    # an engine stopped while another holds the lock has nothing of its own to chart
    with engine_lock(db_url, stopped) as still_held:
        if still_held is not None:
            serve(db_url, rtn_after, config, inbox, still_held)


def serve(
    db_url: str,
    rtn_after: int,
    config: PlantConfig | None,
    inbox: queue.SimpleQueue[tuple[str, Any]],
    still_held: Callable[[], bool] = lambda: True,
) -> None:
    """Chart what arrives in ``inbox`` until a stop; blocks between messages (no polling).
    Each round first checks ``still_held`` (the engine lock); without it the process exits."""
    # imported here, in the child: the daemon's process never loads the charts
    from plantqc.charting.hook import StoreHook

    hook = StoreHook(db_url, rtn_after=rtn_after, config=config)
    stop = False
    try:
        while not stop:
            names, tick, stop = _drain(inbox.get(), inbox)
            if not still_held():
                log.error(
                    "the engine lost its database lock (its connection ended); it stops, and "
                    "the engine started in its place waits for the lock"
                )
                hook.close()
                os._exit(LOCK_LOST_EXIT)
            # the hook's first call catches up on every charted tag (what was stored while no
            # engine ran); made on the daemon's first message, which it sends only once it has
            # migrated the store and synced the config's tags: a child that reads the tags
            # before would chart none of them
            if names or hook.engine is None:
                _guarded(hook.chart_names, names)
            if tick is not None:
                _guarded(hook.tick, tick)
    finally:
        hook.close()


def _guarded(call: Callable[..., None], *args: Any) -> None:
    # a failing call (the store down, say) must not end the engine: the next batch catches up
    try:
        call(*args)
    except Exception:
        log.exception("SPC engine call failed; the next batch catches up")
