"""The edge daemon: inputs -> durable buffer -> store, with metrics, health and systemd.

Wiring only.  One asyncio task per input (`plantqc.connectors.Input`, made by
`plantqc.connectors.registry.build_inputs`) puts its batches of readings in memory; a flush task
appends them to the durable `SampleBuffer` every ``flush_interval_ms``; a drain task moves
the oldest batch from the buffer to the store and only then acknowledges it.  When the
database is down the drain retries with capped backoff while the buffer grows.  After a
stored batch, ``on_stored`` is called in a worker thread: that is where the streaming SPC
engine (`plantqc.charting.hook.StoreHook`) consumes data.
When the buffer depth crosses its alarm fraction, a ``buffer`` alarm is recorded in the
store's ``alarms`` table (once the database answers again) and returned when it drains.

SIGTERM / SIGINT stop the inputs, flush, drain what the database accepts within
``shutdown_drain_s`` (the rest stays in the buffer for the next start) and return.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError, OperationalError, SQLAlchemyError

from plantqc.alarms import set_line_condition
from plantqc.buffer import Reading, SampleBuffer
from plantqc.config import BUFFER_DEPTH_TAG, LoadedConfig
from plantqc.connectors import Input, ReadingSink
from plantqc.connectors.registry import build_inputs
from plantqc.errors import UserError
from plantqc.images.pipeline import ImagePipeline
from plantqc.metrics import DaemonStatus, LineStatus, serve_metrics
from plantqc.notifiers.dispatch import Notifications
from plantqc.store import (
    TagRef,
    TimestampOrigin,
    connect,
    insert_samples,
    safe_url,
    sync_config,
    upgrade,
)
from plantqc.store.db import StoreUnusable, driver_reason
from plantqc.store.gaps import GapRow, insert_gaps
from plantqc.store.lots import record_lot, record_roll
from plantqc.store.samples import ProfileRow, SampleRow, insert_profiles, newest_times
from plantqc.store.sync import register_daemon_tags

log = logging.getLogger(__name__)

DB_RETRY_INITIAL_S = 0.5
DB_RETRY_MAX_S = 15.0
IDLE_WAIT_S = 1.0
BUFFER_ALARM_KIND = "buffer"
BUFFER_ALARM_CODE = "near-full"
BUFFER_ALARM_PRIORITY = "high"
DAEMON_USER = "plantqc-daemon"


def sd_notify(message: str) -> bool:
    """Send ``message`` to systemd (``READY=1``, ``WATCHDOG=1``, ...) when run as Type=notify."""
    address = os.environ.get("NOTIFY_SOCKET")
    if not address:
        return False
    if address.startswith("@"):  # abstract namespace socket
        address = "\0" + address[1:]
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.connect(address)
        sock.sendall(message.encode())
    return True


@dataclass(frozen=True)
class WriteResult:
    """What one drained batch did, per line."""

    stored: Counter[str]
    rejected: Counter[str]
    newest: datetime | None


def write_batch(
    engine: Engine,
    refs: dict[tuple[str, str], TagRef],
    products: dict[str, str | None],
    readings: Sequence[Reading],
) -> WriteResult:
    """Write one batch of readings to the store, idempotently.

    Scalars go to samples, profiles to profiles, lot / roll ids open lots and rolls, data
    gaps to ``data_gaps``.  A reading that cannot be stored (unknown tag, a profile or id
    without a usable value) is counted as rejected.
    """
    stored: Counter[str] = Counter()
    rejected: Counter[str] = Counter()
    samples: list[SampleRow] = []
    profiles: list[ProfileRow] = []
    sample_lines: list[str] = []
    profile_lines: list[str] = []
    gaps: list[GapRow] = []
    for r in readings:
        ref = refs.get((r.line, r.tag))
        if ref is None:
            rejected[r.line] += 1
        elif r.kind == "scalar":
            samples.append(
                SampleRow(ref.tag_id, r.ts, r.value, r.status, r.ts_origin, r.backfilled)
            )
            sample_lines.append(r.line)
        elif r.kind == "profile" and r.values is not None:
            profiles.append(
                ProfileRow(ref.tag_id, r.ts, r.values, r.status, r.ts_origin, r.backfilled)
            )
            profile_lines.append(r.line)
        elif r.kind == "lot_id" and r.text:
            record_lot(engine, ref.line_id, r.text, r.ts, products.get(r.line))
            stored[r.line] += 1
        elif r.kind == "roll_id" and r.text:
            record_roll(engine, ref.line_id, r.text, r.ts)
            stored[r.line] += 1
        elif r.kind == "gap":
            gaps.append(GapRow(ref.tag_id, r.ts, r.gap_end, r.text or "unknown"))
        else:
            rejected[r.line] += 1
    # a re-sent batch inserts nothing; count what was new per line
    if insert_samples(engine, samples):
        stored.update(sample_lines)
    if insert_profiles(engine, profiles):
        stored.update(profile_lines)
    insert_gaps(engine, gaps)
    newest = max((r.ts for r in readings), default=None)
    return WriteResult(stored, rejected, newest)


def record_buffer_alarm(
    engine: Engine, line_ids: Sequence[int], active: bool, at: datetime, message: str
) -> None:
    """Bring the buffer-near-full alarm of each line in ``line_ids`` to ``active``.

    One alarm per line (kind ``buffer``, code ``near-full``, no tag), through the alarms'
    state table (`plantqc.alarms.set_line_condition`): only a change of ``active`` is an
    event, so bringing an alarm to the state it has changes nothing.  Each change is audited,
    so the notifiers publish it like any other alarm change.

    Parameters
    ----------
    engine : Engine
        The store.
    line_ids : sequence of int
        Store ids of the lines the daemon serves; the buffer is theirs in common.
    active : bool
        Whether the buffer depth is at or above the alarm fraction of its bound.
    at : datetime
        When the depth crossed the fraction (raising) or fell below it (clearing), UTC.
    message : str
        The alarm text for operators.
    """
    set_line_condition(
        engine,
        line_ids,
        kind=BUFFER_ALARM_KIND,
        code=BUFFER_ALARM_CODE,
        priority=BUFFER_ALARM_PRIORITY,
        holds=active,
        at=at,
        message=message,
        user=DAEMON_USER,
    )


class Component(Protocol):
    """A part the daemon runs beside its inputs (the controller runtime,
    `plantqc.control.runtime.ControlRuntime`): started with the inputs, asked to stop with
    them (``stop`` set), awaited before the store closes.  The daemon only wires it."""

    name: str

    async def run(self, stop: asyncio.Event) -> None: ...


def default_components(
    loaded: LoadedConfig, engine: Callable[[], Engine | None], endpoints: dict[str, str] | None
) -> list[Component]:
    """The components a config asks for: the control loops of lines with a control section."""
    if not any(line.control is not None for line in loaded.config.lines):
        return []
    from plantqc.control.runtime import ControlRuntime  # controllers only where configured

    return [ControlRuntime(loaded, engine, endpoints)]


class Daemon:
    """The edge daemon of one plant config.

    Parameters
    ----------
    loaded : LoadedConfig
        The plant config (lines, storage, daemon section).
    db_url : str, optional
        Database URL; default the config's storage.
    buffer_path : Path, optional
        The durable queue file; default the config's ``daemon.buffer_path``.
    metrics_port : int, optional
        Port of the loopback metrics / health endpoint (0: off); default the config's.
    endpoints : dict, optional
        Endpoint per line name, instead of the config's.
    on_stored : callable, optional
        Called with each batch of readings once it is in the store (the SPC engine's hook).
    on_tick : callable, optional
        Called with the time every ``alarm_check_interval_s``, after shelves expired (the SPC
        engine's silent-tag check, `plantqc.charting.hook.StoreHook.tick`).
    on_store_open : callable, optional
        Called once, when the store is first open, migrated and synced, before any
        ``on_stored`` or ``on_tick`` (the SPC engine process starts there: never on a
        store the daemon rejects).
    components : sequence of Component, optional
        Run beside the inputs; default `default_components` (the control loops).
    inputs : callable, optional
        Makes the inputs from the daemon's sink, instead of the config's (`build_inputs`):
        the replay of a recorded file (`plantqc.connectors.replay`).
    """

    def __init__(
        self,
        loaded: LoadedConfig,
        *,
        db_url: str | None = None,
        buffer_path: Path | None = None,
        metrics_port: int | None = None,
        endpoints: dict[str, str] | None = None,
        on_stored: Callable[[Sequence[Reading]], None] | None = None,
        shutdown_drain_s: float = 10.0,
        on_tick: Callable[[datetime], None] | None = None,
        components: Sequence[Component] | None = None,
        inputs: Callable[[ReadingSink], Sequence[Input]] | None = None,
        on_store_open: Callable[[], None] | None = None,
    ) -> None:
        config = loaded.config
        settings = config.daemon
        self.loaded = loaded
        self.settings = settings
        self.db_url = db_url or loaded.storage_url()
        self.buffer = SampleBuffer(
            buffer_path or loaded.resolve_path(settings.buffer_path),
            settings.buffer_max_samples,
            alarm_fraction=settings.buffer_alarm_fraction,
        )
        self.metrics_port = settings.metrics_port if metrics_port is None else metrics_port
        self.on_stored = on_stored
        self.on_tick = on_tick
        self.on_store_open = on_store_open
        self.shutdown_drain_s = shutdown_drain_s
        self.inputs: list[Input] = (
            list(inputs(self._pending_extend))
            if inputs is not None
            else build_inputs(loaded, self._pending_extend, endpoints=endpoints)
        )
        # alarm notifiers keep their outbox cursors beside the buffer of this daemon
        self.notifications = Notifications(
            loaded,
            self.db_url,
            self.buffer.path.with_name(f"{self.buffer.path.stem}.notify"),
            endpoints,
        )
        self.products = {line.name: line.product for line in config.lines}
        # image metrics enter the buffer like samples, once the store is open and synced
        self.images = (
            ImagePipeline(loaded, self._pending_append, lambda: self._engine, flush=self._flush)
            if config.images
            else None
        )
        self.components = (
            list(components)
            if components is not None
            else default_components(loaded, lambda: self._engine, endpoints)
        )
        self.stored: Counter[str] = Counter()
        self.rejected: Counter[str] = Counter()
        self.database_ok = False
        self.ingest_lag_s: float | None = None
        self.metrics_address: tuple[str, int] | None = None
        self._pending: list[Reading] = []
        self._stop = asyncio.Event()
        self._sources_stopped = asyncio.Event()
        # set by each flush into the buffer: an empty buffer is waited on, not polled
        self._buffered = asyncio.Event()
        self._engine: Engine | None = None
        self._refs: dict[tuple[str, str], TagRef] = {}
        self._near_full_logged = False
        # the buffer alarm as last written to the store (None: not yet reconciled) and when
        # the depth last crossed the alarm fraction
        self._alarm_recorded: bool | None = None
        self._near_full_since: datetime | None = (
            datetime.now(UTC) if self.buffer.near_full else None
        )

    def _pending_append(self, reading: Reading) -> None:
        self._pending.append(reading)

    def _pending_extend(self, batch: Sequence[Reading]) -> None:
        self._pending.extend(batch)

    @property
    def backlog(self) -> int:
        """Readings taken from the inputs and not yet stored: in memory or in the buffer."""
        return self.buffer.depth + len(self._pending)

    def request_stop(self) -> None:
        """Ask the daemon to flush, drain and return (what SIGTERM / SIGINT do)."""
        self._stop.set()

    def status(self) -> DaemonStatus:
        """A snapshot of every figure the metrics and health endpoints report."""
        lines = {
            c.line: LineStatus(
                connected=c.state.connected,
                received=c.state.received,
                stored=self.stored[c.line],
                rejected=self.rejected[c.line],
                reconnects=c.state.reconnects,
                last_error=c.state.last_error,
                missing_tags=dict(c.state.missing),
                last_sample_at=dict(c.state.last_sample_at),
                backfilled=c.state.backfilled,
                backfill_tags_left=c.state.backfill_tags_left,
                gaps=c.state.gaps,
            )
            for c in self.inputs
        }
        return DaemonStatus(
            lines=lines,
            buffer_depth=self.buffer.depth,
            buffer_capacity=self.buffer.max_samples,
            buffer_refused=self.buffer.refused,
            buffer_near_full=self.buffer.near_full,
            database_ok=self.database_ok,
            ingest_lag_s=self.ingest_lag_s,
            images={} if self.images is None else self.images.status(),
            notifiers=self.notifications.status(),
        )

    async def run(self, duration_s: float | None = None) -> DaemonStatus:
        """Run until stopped (signal, `request_stop`) or for ``duration_s``; return final status."""
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.add_signal_handler(sig, self.request_stop)
        metrics = None
        if self.metrics_port:
            host = self.settings.metrics_host
            try:
                metrics = await serve_metrics(self.status, host, self.metrics_port)
            except OSError as exc:
                raise UserError(
                    f"the metrics endpoint cannot listen on {host}:{self.metrics_port}: "
                    f"{exc.strerror or exc}."
                ) from None
            self.metrics_address = metrics.sockets[0].getsockname()[:2]
        try:
            await self._start_store()
        except BaseException:
            if metrics is not None:
                metrics.close()
            self.buffer.close()
            raise
        sources_stop = asyncio.Event()
        source_tasks = [asyncio.create_task(i.run(sources_stop)) for i in self.inputs]
        if self.images is not None:  # a source like the inputs: stops with them
            source_tasks.append(asyncio.create_task(self.images.run(sources_stop)))
        component_tasks = [asyncio.create_task(c.run(sources_stop)) for c in self.components]
        flushing = asyncio.create_task(self._flush_loop())
        draining = asyncio.create_task(self._drain_loop())
        workers = [
            flushing,
            draining,
            asyncio.create_task(self._depth_loop()),
            asyncio.create_task(self._watchdog_loop()),
            asyncio.create_task(self.notifications.run()),
            asyncio.create_task(self._alarm_check_loop()),
        ]
        sd_notify("READY=1")
        log.info(
            "daemon started",
            extra={"lines": len(self.loaded.config.lines), "database": safe_url(self.db_url)},
        )
        try:
            stop_wait = asyncio.create_task(self._stop.wait())
            waited = [stop_wait, *source_tasks]
            done, _ = await asyncio.wait(
                waited, timeout=duration_s, return_when=asyncio.FIRST_COMPLETED
            )
            stop_wait.cancel()
            for task in done:  # an input only ends early on a user error (e.g. a missing cert)
                if task is not stop_wait and task.exception() is not None:
                    raise task.exception()  # type: ignore[misc]
        finally:
            sd_notify("STOPPING=1")
            sources_stop.set()
            await asyncio.gather(*source_tasks, *component_tasks, return_exceptions=True)
            self._sources_stopped.set()
            self._buffered.set()
            await flushing  # the flush loop ends after its current flush
            await self._flush()
            try:
                await asyncio.wait_for(asyncio.shield(draining), self.shutdown_drain_s)
            except TimeoutError:
                log.warning(
                    "shutdown with samples still buffered", extra={"depth": self.buffer.depth}
                )
            for task in workers:
                task.cancel()
            await asyncio.gather(*workers, return_exceptions=True)
            if metrics is not None:
                metrics.close()
            status = self.status()
            self.buffer.close()
            if self._engine is not None:
                self._engine.dispose()
            log.info("daemon stopped", extra={"stored": sum(self.stored.values())})
        return status

    async def _flush(self) -> None:
        if not self._pending:
            return
        batch, self._pending = self._pending, []
        accepted = await asyncio.to_thread(self.buffer.put, batch)
        if accepted:
            self._buffered.set()
        if accepted < len(batch):
            log.error(
                "buffer full: samples refused",
                extra={"refused": len(batch) - accepted, "bound": self.buffer.max_samples},
            )
        if self.buffer.near_full and not self._near_full_logged:
            self._near_full_since = datetime.now(UTC)
            log.error(
                "buffer near its bound",
                extra={"depth": self.buffer.depth, "bound": self.buffer.max_samples},
            )
        self._near_full_logged = self.buffer.near_full

    async def _sync_buffer_alarm(self, engine: Engine) -> None:
        # written after a stored batch: while the buffer fills the database is usually down
        active = self.buffer.near_full
        if active == self._alarm_recorded:
            return
        at = (self._near_full_since or datetime.now(UTC)) if active else datetime.now(UTC)
        depth, bound = self.buffer.depth, self.buffer.max_samples
        message = (
            f"the durable buffer holds {depth} of {bound} samples "
            f"(alarm at {self.buffer.alarm_fraction:.0%}): the database is down or slower "
            "than the lines; samples are refused once it is full"
        )
        line_ids = sorted({ref.line_id for ref in self._refs.values()})
        try:
            await asyncio.to_thread(record_buffer_alarm, engine, line_ids, active, at, message)
        except SQLAlchemyError as exc:  # tried again after the next batch
            log.warning("buffer alarm not recorded", extra={"reason": driver_reason(exc)})
            return
        self._alarm_recorded = active

    async def _depth_loop(self) -> None:
        # through the buffer like any reading: recorded even while the database is down
        while not self._sources_stopped.is_set():
            now = datetime.now(UTC)
            depth = float(self.buffer.depth + len(self._pending))
            for line in self.loaded.config.lines:
                self._pending_append(
                    Reading(
                        line.name,
                        BUFFER_DEPTH_TAG,
                        "scalar",
                        now,
                        TimestampOrigin.RECEIVE,
                        0,
                        depth,
                    )
                )
            await asyncio.sleep(self.settings.buffer_depth_interval_s)

    async def _flush_loop(self) -> None:
        interval = self.settings.flush_interval_ms / 1000
        while not self._sources_stopped.is_set():
            await asyncio.sleep(interval)
            await self._flush()

    async def _start_store(self) -> None:
        """Open the store before the inputs start, and tell them what is already kept.

        A store that cannot be used (not a database, a refused login, an unknown schema
        revision) ends the daemon here with one sentence; one that cannot be reached yet is
        an outage like any later one: samples are buffered until it answers.  Each input
        resumes after the newest sample of each tag in the store or the buffer.
        """
        try:
            await self._open_store()
        except StoreUnusable:
            raise
        except (SQLAlchemyError, UserError, OSError) as exc:
            log.warning(
                "store unreachable at start; samples stay buffered until it answers",
                extra={"reason": driver_reason(exc)},
            )
        newest: dict[str, dict[str, datetime]] = {}
        if self._engine is not None:
            by_id = {ref.tag_id: ref for ref in self._refs.values()}
            stored = await asyncio.to_thread(newest_times, self._engine, list(by_id))
            for tag_id, ts in stored.items():
                newest.setdefault(by_id[tag_id].line, {})[by_id[tag_id].tag] = ts
        for (line, tag), ts in (await asyncio.to_thread(self.buffer.newest)).items():
            kept = newest.setdefault(line, {})
            if tag not in kept or ts > kept[tag]:
                kept[tag] = ts
        for source in self.inputs:
            source.resume_after(newest.get(source.line, {}))

    async def _open_store(self) -> Engine:
        def open_and_sync() -> tuple[Engine, dict[tuple[str, str], TagRef]]:
            engine = connect(self.db_url)
            try:
                try:
                    upgrade(engine)
                except DBAPIError as exc:
                    # it answered: an error that is not the connection's is the database's
                    if isinstance(exc, OperationalError):
                        raise
                    raise StoreUnusable(
                        f"the database at {safe_url(self.db_url)} cannot be used as plantqc's "
                        f"store: {driver_reason(exc)}."
                    ) from None
                refs = sync_config(engine, self.loaded.config)
                lines = {ref.line_id: ref.line for ref in refs.values()}
                for line_id, tag_id in register_daemon_tags(engine, set(lines)).items():
                    ref = TagRef(line_id, tag_id, lines[line_id], BUFFER_DEPTH_TAG)
                    refs[(ref.line, ref.tag)] = ref
                return engine, refs
            except BaseException:
                engine.dispose()
                raise

        self._engine, self._refs = await asyncio.to_thread(open_and_sync)
        if self.on_store_open is not None:
            try:
                await asyncio.to_thread(self.on_store_open)
            except Exception:  # not the store's failure: it is open and stays so
                log.exception("on_store_open consumer failed; the store is open")
        return self._engine

    async def _drain_loop(self) -> None:
        delay = DB_RETRY_INITIAL_S
        while True:
            try:
                engine = self._engine or await self._open_store()
                last_id, batch = await asyncio.to_thread(self.buffer.peek, self.settings.batch_size)
                if not batch:
                    await self._sync_buffer_alarm(engine)
                    if self._sources_stopped.is_set() and not self._pending:
                        return
                    self._buffered.clear()
                    if self.buffer.depth == 0:  # a flush between the peek and here is in depth
                        with contextlib.suppress(TimeoutError):
                            await asyncio.wait_for(self._buffered.wait(), IDLE_WAIT_S)
                    continue
                result = await asyncio.to_thread(
                    write_batch, engine, self._refs, self.products, batch
                )
            except (SQLAlchemyError, UserError, OSError) as exc:
                self.database_ok = False
                log.warning(
                    "store write failed; samples stay buffered",
                    extra={"reason": driver_reason(exc), "retry_s": delay},
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, DB_RETRY_MAX_S)
                continue
            await asyncio.to_thread(self.buffer.ack, last_id)
            await self._sync_buffer_alarm(engine)
            delay = DB_RETRY_INITIAL_S
            self.database_ok = True
            self.stored.update(result.stored)
            self.rejected.update(result.rejected)
            if result.newest is not None:
                self.ingest_lag_s = (datetime.now(UTC) - result.newest).total_seconds()
            if self.on_stored is not None:
                try:  # off the event loop; a failing consumer never stops the daemon
                    await asyncio.to_thread(self.on_stored, batch)
                except Exception:
                    log.exception("on_stored consumer failed; the samples are stored")

    async def _alarm_check_loop(self) -> None:
        # shelves expire and tags fall silent with no sample arriving: checked on a clock
        from plantqc.alarms import expire_shelves

        while True:
            await asyncio.sleep(self.settings.alarm_check_interval_s)
            if self._engine is None:
                continue
            now = datetime.now(UTC)
            try:
                await asyncio.to_thread(expire_shelves, self._engine, now)
                if self.on_tick is not None:
                    await asyncio.to_thread(self.on_tick, now)
            except (SQLAlchemyError, OSError) as exc:  # down: the next round tries again
                log.warning("alarm check failed; tried again", extra={"reason": driver_reason(exc)})
            except Exception:
                log.exception("alarm check failed")

    async def _watchdog_loop(self) -> None:
        usec = os.environ.get("WATCHDOG_USEC")
        if not usec:
            return
        while True:
            sd_notify("WATCHDOG=1")
            await asyncio.sleep(int(usec) / 2e6)
