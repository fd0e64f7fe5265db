"""Runs the configured notifiers of every line: read the outbox, deliver, then move the cursor.

One asyncio task per line and notifier, so that a notifier waiting for its broker never
holds up another.  Each polls the outbox every ``notify.poll_interval_s`` (at once again
while a batch came back full), and after a failed delivery waits with capped exponential
backoff, offering the same batch again: the cursor does not move, nothing is lost.  The
database being down is waited out the same way.  No failure here stops the daemon.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from plantqc.config import Line, LoadedConfig
from plantqc.errors import UserError
from plantqc.metrics import NotifierStatus
from plantqc.notifiers import Notifier, NotifyError
from plantqc.notifiers.mqtt import MqttNotifier
from plantqc.notifiers.opcua_writeback import OpcUaWritebackNotifier
from plantqc.notifiers.outbox import LinePath, OutboxCursor, read_batch
from plantqc.store import open_engine

log = logging.getLogger(__name__)

RETRY_INITIAL_S = 0.5


@dataclass
class NotifierStats:
    """What one notifier of one line has done since the daemon started."""

    published: int = 0
    failed: int = 0
    last_error: str | None = None


@dataclass
class _Channel:
    line: str
    path: LinePath
    notifier: Notifier
    cursor: OutboxCursor
    poll_s: float
    retry_max_s: float
    stats: NotifierStats


def build_notifiers(
    line: Line, base_dir: Path, path: LinePath, endpoint: str | None = None
) -> list[tuple[Notifier, float]]:
    """The notifiers ``line.notify`` configures, each with its maximum retry wait, s."""
    notify = line.notify
    found: list[tuple[Notifier, float]] = []
    if notify is None:
        return found
    if notify.mqtt is not None:
        found.append((MqttNotifier(notify.mqtt, path, base_dir), notify.mqtt.reconnect_max_s))
    if notify.opcua_writeback is not None:
        settings = notify.opcua_writeback
        notifier = OpcUaWritebackNotifier(line, settings, base_dir, endpoint)
        found.append((notifier, settings.reconnect_max_s))
    return found


class Notifications:
    """Every notifier of a plant config, with their cursors and counters.

    Parameters
    ----------
    loaded : LoadedConfig
        The plant config; lines without ``notify`` are left out.
    db_url : str
        The store holding the outbox (``audit_log``).
    cursor_dir : Path
        Folder of the cursor files, one per line and notifier (``<line>.<notifier>.json``).
    endpoints : dict, optional
        OPC UA endpoint per line name, instead of the config's (as for the connectors).
    """

    def __init__(
        self,
        loaded: LoadedConfig,
        db_url: str,
        cursor_dir: Path,
        endpoints: dict[str, str] | None = None,
    ) -> None:
        self.db_url = db_url
        self._channels: list[_Channel] = []
        plant = loaded.config.plant
        for line in loaded.config.lines:
            if line.notify is None:
                continue
            path = LinePath(plant.site, line.area or plant.area, line.name)
            endpoint = (endpoints or {}).get(line.name)
            for notifier, retry_max_s in build_notifiers(line, loaded.base_dir, path, endpoint):
                cursor = OutboxCursor(cursor_dir / f"{line.name}.{notifier.name}.json")
                self._channels.append(
                    _Channel(
                        line.name,
                        path,
                        notifier,
                        cursor,
                        line.notify.poll_interval_s,
                        retry_max_s,
                        NotifierStats(),
                    )
                )

    def status(self) -> dict[str, NotifierStatus]:
        """A snapshot of the counters, keyed ``<line>/<notifier>``."""
        return {
            f"{c.line}/{c.notifier.name}": NotifierStatus(
                c.line, c.notifier.name, c.stats.published, c.stats.failed, c.stats.last_error
            )
            for c in self._channels
        }

    async def run(self) -> None:
        """Deliver until cancelled; returns at once when no line has notifiers."""
        if not self._channels:
            return
        engine = await asyncio.to_thread(open_engine, self.db_url)
        try:
            await asyncio.gather(*(self._run_channel(engine, c) for c in self._channels))
        finally:
            for channel in self._channels:
                await channel.notifier.close()
            engine.dispose()

    async def _run_channel(self, engine: Engine, channel: _Channel) -> None:
        delay = RETRY_INITIAL_S
        while True:
            try:
                batch = await asyncio.to_thread(
                    read_batch, engine, channel.path, channel.cursor.position
                )
                sent = await channel.notifier.deliver(batch)
                if batch.next_position != channel.cursor.position:
                    await asyncio.to_thread(channel.cursor.advance, batch.next_position)
            except Exception as exc:  # nothing stops the daemon; the batch is offered again
                await self._failed(channel, exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, channel.retry_max_s)
                continue
            channel.stats.published += sent
            channel.stats.last_error = None
            delay = RETRY_INITIAL_S
            if not batch.full:
                await asyncio.sleep(channel.poll_s)

    @staticmethod
    async def _failed(channel: _Channel, exc: Exception, retry_s: float) -> None:
        where = {"line": channel.line, "notifier": channel.notifier.name, "retry_s": retry_s}
        if isinstance(exc, SQLAlchemyError):  # the store, not the notifier, is down
            log.warning(
                "alarm outbox unreadable; will retry",
                extra={**where, "reason": str(exc).splitlines()[0]},
            )
            return
        channel.stats.failed += 1
        if isinstance(exc, NotifyError | UserError | OSError):
            channel.stats.last_error = str(exc)
            log.warning(
                "alarm notification not delivered; will retry", extra={**where, "reason": str(exc)}
            )
            return
        channel.stats.last_error = f"{type(exc).__name__}: {exc}"
        log.exception("alarm notifier failed; will retry", extra=where)
        await channel.notifier.close()
