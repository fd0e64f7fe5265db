"""Helpers of the notification tests: a plant with notifiers, alarm changes, an MQTT listener."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiomqtt
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from plantqc.alarms import AlarmEvent, apply_events
from plantqc.config import LoadedConfig, load_config
from plantqc.notifiers.dispatch import Notifications
from plantqc.store import TagRef, connect, sync_config, upgrade
from plantqc.store.models import Alarm

MQTT_HOST, MQTT_PORT = "127.0.0.1", 1883
T0 = datetime(2026, 11, 22, 8, 0, tzinfo=UTC)
SITE, AREA = "test-site", "films"

PLANT = """
plant: {{site: test-site, area: films}}
storage: {{url: "sqlite:///store.db"}}
daemon: {{metrics_port: 0, flush_interval_ms: 50, reconnect_max_s: 1}}
lines:
  - name: line-1
    kind: casting
    opcua: {{endpoint: "opc.tcp://127.0.0.1:{opcua_port}/", publishing_interval_ms: 200}}
    tags:
      - {{name: gap_um, node_id: "ns=2;s=line-1.gap_um", sampling_interval_ms: 100,
         spec: {{lsl: 7, target: 10, usl: 13}}, spc: {{chart: imr, rules: we}}}}
    notify:
{notify}
  - name: line-2
    kind: casting
    opcua: {{endpoint: "opc.tcp://127.0.0.1:{opcua_port}/"}}
    tags:
      - {{name: gap_um, node_id: "ns=2;s=line-2.gap_um", spec: {{lsl: 7, target: 10, usl: 13}}}}
"""
"""Two lines; line-1 has the notifiers given.  With spec 7 / 10 / 13 the simulator runs the
gap at 10 with sigma (13 - 7) / 12 = 0.5 (Cp = 2) and the spec-derived chart has UCL 13."""


def mqtt_section(prefix: str, port: int = MQTT_PORT, **extra: Any) -> str:
    """A ``notify`` body (indented for `PLANT`) with an MQTT notifier on ``prefix``."""
    lines = [
        "      poll_interval_s: 0.1",
        "      mqtt:",
        f"        host: {MQTT_HOST}",
        f"        port: {port}",
        f"        topic_prefix: {prefix}",
        "        timeout_s: 2",
        "        reconnect_max_s: 0.5",
        *(f"        {key}: {json.dumps(value)}" for key, value in extra.items()),
    ]
    return "\n".join(lines)


WRITEBACK_SECTION = """      poll_interval_s: 0.1
      opcua_writeback:
        active_node_id: ns=2;s=line-1.AlarmActive
        code_node_id: ns=2;s=line-1.AlarmCode
        reconnect_max_s: 0.5"""


@dataclass
class Plant:
    """A plant config with its SQLite store, migrated and synced."""

    loaded: LoadedConfig
    url: str
    engine: Engine
    refs: dict[tuple[str, str], TagRef]

    @property
    def gap(self) -> TagRef:
        return self.refs[("line-1", "gap_um")]

    def notifications(self, cursor_dir: Path | None = None) -> Notifications:
        """The daemon's dispatcher for this plant, cursors in ``cursor_dir`` (default beside
        the store)."""
        folder = cursor_dir or self.loaded.base_dir / "cursors"
        return Notifications(self.loaded, self.url, folder)


def make_plant(folder: Path, notify: str, opcua_port: int = 4840) -> Plant:
    """`PLANT` with ``notify`` under line-1, written to ``folder``, and its store."""
    path = folder / "plant.yaml"
    path.write_text(PLANT.format(notify=notify, opcua_port=opcua_port), encoding="utf-8")
    loaded = load_config(path, check_env=False)
    url = loaded.storage_url()
    engine = connect(url)
    upgrade(engine)
    return Plant(loaded, url, engine, sync_config(engine, loaded.config))


def change(engine: Engine, ref: TagRef, kind: str, rule: str = "we1", value: float = 14.0) -> int:
    """Apply one engine event (``raise`` / ``clear``) to ``ref``'s SPC alarm of ``rule``, as
    the engine does (``we1``: high priority, others medium); return the alarm's id."""
    event = AlarmEvent(
        kind,
        rule,
        T0,
        priority="high" if rule == "we1" else "medium",
        message=f"{ref.tag}: rule {rule} on chart imr at value {value:g}",
    )
    with Session(engine) as session, session.begin():
        apply_events(session, ref.line_id, ref.tag_id, [event])
    with Session(engine) as session:
        return session.scalars(
            select(Alarm.id).where(Alarm.tag_id == ref.tag_id, Alarm.code == rule)
        ).one()


@contextlib.asynccontextmanager
async def running(notifications: Notifications) -> AsyncIterator[Notifications]:
    """``notifications.run()`` as a task for the duration of the block, as the daemon runs it."""
    task = asyncio.create_task(notifications.run())
    try:
        yield notifications
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def until(condition: Callable[[], bool], timeout_s: float = 10.0, what: str = "") -> None:
    """Wait until ``condition()`` holds; fail naming ``what`` after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout_s} s: {what}")
        await asyncio.sleep(0.05)


@dataclass(frozen=True)
class Received:
    topic: str
    payload: bytes
    retain: bool

    @property
    def document(self) -> dict[str, Any]:
        return json.loads(self.payload)


@dataclass
class Listener:
    """Every message received on ``<prefix>/#`` since subscribing."""

    prefix: str
    messages: list[Received] = field(default_factory=list)

    def on(self, suffix: str) -> list[Received]:
        """Messages on topic ``<prefix>/<suffix>``."""
        return [m for m in self.messages if m.topic == f"{self.prefix}/{suffix}"]

    def events(self) -> list[dict[str, Any]]:
        """The documents of the line-1 event stream."""
        return [m.document for m in self.on(f"{SITE}/{AREA}/line-1/events")]

    async def wait_events(self, count: int, timeout_s: float = 10.0) -> list[dict[str, Any]]:
        await until(lambda: len(self.events()) >= count, timeout_s, f"{count} events")
        return self.events()


STATE_TOPIC = f"{SITE}/{AREA}/line-1/gap_um/alarms/we1"


@contextlib.asynccontextmanager
async def listening(prefix: str) -> AsyncIterator[Listener]:
    """A subscriber on ``<prefix>/#`` (QoS 1), collecting into a `Listener`."""
    listener = Listener(prefix)
    async with aiomqtt.Client(MQTT_HOST, MQTT_PORT) as client:
        await client.subscribe(f"{prefix}/#", qos=1)

        async def collect() -> None:
            async for message in client.messages:
                payload = message.payload if isinstance(message.payload, bytes) else b""
                listener.messages.append(Received(str(message.topic), payload, message.retain))

        task = asyncio.create_task(collect())
        try:
            yield listener
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


async def retained(prefix: str, settle_s: float = 1.0) -> dict[str, bytes]:
    """The retained messages under ``<prefix>/`` as a new subscriber gets them.

    The broker sends retained messages right after the subscription is acknowledged
    (MQTT 3.1.1 §3.3.1.3); ``settle_s`` is ample for a broker on loopback."""
    async with listening(prefix) as listener:
        await asyncio.sleep(settle_s)
    return {m.topic: m.payload for m in listener.messages if m.retain}
