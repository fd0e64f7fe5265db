"""The SPC engine in a process of its own beside the daemon.

The daemon's event loop (OPC UA notifications, the durable buffer, the store writes) and the
engine (charts, rules, alarms) are both Python-bound; in one process they share one core
through the interpreter lock.  `EngineProcess` has the daemon's ``on_stored`` / ``on_tick``
interface: it hands the tags of each stored batch to a spawned process that runs
`plantqc.charting.hook.StoreHook` on them, so ingestion and charting use a core each.

The child drains whatever has queued up before it charts, so a child that falls behind charts
several batches in one call instead of queueing work; the engine reads the samples from the
store, so nothing is lost when it lags, dies or is restarted: a replacement started on the
next batch catches up from the persisted state.  `close` sends a stop behind the last batch and
waits for the child to chart everything before it.
"""

from __future__ import annotations

import logging
import multiprocessing
import queue
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from plantqc.alarms import RTN_AFTER_POINTS
from plantqc.buffer import Reading
from plantqc.config import PlantConfig

log = logging.getLogger(__name__)

STOP_TIMEOUT_S = 120.0
"""How long `EngineProcess.close` waits for the child to chart what is queued."""


class EngineProcess:
    """`StoreHook` run in a spawned process, fed by the daemon.

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
    """

    def __init__(
        self,
        db_url: str,
        *,
        rtn_after: int = RTN_AFTER_POINTS,
        config: PlantConfig | None = None,
        log_level: str | None = None,
    ) -> None:
        self._args = (db_url, rtn_after, config, log_level)
        self._context = multiprocessing.get_context("spawn")
        self._queue: Any = None
        self._process: Any = None
        self.restarts = 0
        self._start()

    def _start(self) -> None:
        self._queue = self._context.Queue()
        self._process = self._context.Process(
            target=serve, args=(*self._args, self._queue), name="plantqc-engine"
        )
        self._process.start()

    def _send(self, message: tuple[str, Any]) -> None:
        if not self._process.is_alive():
            # the engine resumes from its persisted state; what the dead one had queued is
            # read from the store by the new one
            exitcode = self._process.exitcode
            log.error("engine process ended; starting another", extra={"exit": exitcode})
            self.restarts += 1
            self._start()
        self._queue.put(message)

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
        return self._process.pid

    def close(self) -> None:
        """Let the child chart what is queued, then stop it."""
        if self._process.is_alive():
            self._queue.put(("stop", None))
            self._process.join(STOP_TIMEOUT_S)
        if self._process.is_alive():
            log.error("engine process did not stop in time; terminating it")
            self._process.terminate()
            self._process.join()
        self._queue.close()


def _drain(
    first: tuple[str, Any], source: Any
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
            message = source.get_nowait()
        except queue.Empty:
            message = None
    return names, tick, stop


def serve(
    db_url: str,
    rtn_after: int,
    config: PlantConfig | None,
    log_level: str | None,
    source: Any,
) -> None:
    """The engine process: chart what the daemon sends until it says stop."""
    if log_level is not None:
        from plantqc.logs import configure_logging

        configure_logging(log_level)
    # imported here, in the child: the daemon's process never loads SciPy and the charts
    from plantqc.charting.hook import StoreHook

    hook = StoreHook(db_url, rtn_after=rtn_after, config=config)
    stop = False
    try:
        _guarded(hook.chart_names, ())  # catch up on what was stored while no engine ran
        while not stop:
            names, tick, stop = _drain(source.get(), source)
            if names:
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
