"""MQTT notifier: each alarm change as JSON, and the open state of each alarm retained.

Topics, with ``<path>`` = ``<topic_prefix>/<site>/<area>/<line>``:

- ``<path>/<tag>/alarms/<code>``: retained, the alarm's current document while it is open
  (any state but normal); an empty retained message when it returns to normal, which makes
  the broker forget it (MQTT 3.1.1 §3.3.1.3).  A client subscribing to
  ``<prefix>/+/+/+/+/alarms/#`` gets every open alarm of the plant at once.  Alarms that
  belong to the line, not to a tag (e.g. the daemon's buffer alarm), use ``_line`` as tag.
- ``<path>/events`` (with ``events: true``): every change, not retained, for historians.

Both are published with QoS 1 (or 2): `Client.publish` returns once the broker has
acknowledged the message (PUBACK), and only then does the outbox cursor move.  The
connection is kept open between batches and opened again, with the dispatcher's backoff,
after any failure.

Its config section is shown in ``plantqc/notifiers/samples/mqtt.yaml``.
"""

from __future__ import annotations

import contextlib
import json
import ssl
from pathlib import Path

import aiomqtt

from plantqc.errors import UserError
from plantqc.notifiers import NotifyError
from plantqc.notifiers.mqtt_settings import MqttNotify
from plantqc.notifiers.outbox import AlarmChange, LinePath, OutboxBatch
from plantqc.schema import env_secret

LINE_SEGMENT = "_line"
"""Topic level used instead of a tag name for alarms of the line itself (not a valid tag name)."""
_NOT_IN_TOPIC = str.maketrans({"/": "_", "+": "_", "#": "_", "\0": "_"})


def topic_level(text: str) -> str:
    """``text`` as one MQTT topic level: no level separator, no wildcards (MQTT 3.1.1 §4.7)."""
    return text.translate(_NOT_IN_TOPIC) or "_"


def line_topic(prefix: str, path: LinePath) -> str:
    """``<prefix>/<site>/<area>/<line>``."""
    return "/".join([prefix, *(topic_level(p) for p in (path.site, path.area, path.line))])


def state_topic(prefix: str, change: AlarmChange) -> str:
    """The retained topic of the alarm in ``change``: ``<line topic>/<tag>/alarms/<code>``."""
    tag = topic_level(change.tag) if change.tag is not None else LINE_SEGMENT
    return f"{line_topic(prefix, change.path)}/{tag}/alarms/{topic_level(change.alarm.code)}"


class MqttNotifier:
    """Publishes a line's alarm changes to an MQTT broker.

    Parameters
    ----------
    settings : MqttNotify
        The line's ``notify.mqtt`` section.
    path : LinePath
        The line's ISA-95 path, for the topics.
    base_dir : Path
        Folder a relative ``ca_file`` is taken from (the config file's folder).
    """

    name = "mqtt"

    def __init__(self, settings: MqttNotify, path: LinePath, base_dir: Path) -> None:
        self.settings = settings
        self.path = path
        self.base_dir = base_dir
        self.events_topic = f"{line_topic(settings.topic_prefix, path)}/events"
        self._client: aiomqtt.Client | None = None
        self._stack = contextlib.AsyncExitStack()

    @property
    def address(self) -> str:
        scheme = "mqtts" if self.settings.tls else "mqtt"
        return f"{scheme}://{self.settings.host}:{self.settings.port}"

    def _tls_context(self) -> ssl.SSLContext | None:
        if not self.settings.tls:
            return None
        ca = self.settings.ca_file
        if ca is None:
            return ssl.create_default_context()
        path = ca if ca.is_absolute() else self.base_dir / ca
        try:
            return ssl.create_default_context(cafile=str(path))
        except (OSError, ssl.SSLError) as exc:
            raise UserError(f"the MQTT CA file {path} cannot be used: {exc}.") from None

    async def _connected(self) -> aiomqtt.Client:
        if self._client is not None:
            return self._client
        s = self.settings
        user = password = None
        if s.username_env and s.password_env:
            user = env_secret(s.username_env, "notify.mqtt.username_env")
            password = env_secret(s.password_env, "notify.mqtt.password_env")
        client = aiomqtt.Client(
            s.host,
            s.port,
            username=user,
            password=password,
            identifier=s.client_id,
            timeout=s.timeout_s,
            keepalive=30,
            tls_context=self._tls_context(),
        )
        try:
            self._client = await self._stack.enter_async_context(client)
        except (aiomqtt.MqttError, OSError) as exc:
            raise NotifyError(
                f"cannot connect to the MQTT broker at {self.address}: {exc}"
            ) from None
        return self._client

    async def deliver(self, batch: OutboxBatch) -> int:
        """Publish each change: its retained state (or the clearing of it), then its event."""
        if not batch.changes:
            return 0
        client = await self._connected()
        qos = self.settings.qos
        try:
            for change in batch.changes:
                document = json.dumps(change.document()).encode()
                retained = document if change.is_open else b""
                topic = state_topic(self.settings.topic_prefix, change)
                await client.publish(topic, retained, qos=qos, retain=True)
                if self.settings.events:
                    await client.publish(self.events_topic, document, qos=qos)
        except aiomqtt.MqttError as exc:
            await self.close()
            raise NotifyError(
                f"publishing to the MQTT broker at {self.address} failed: {exc}"
            ) from None
        return len(batch.changes)

    async def close(self) -> None:
        """Disconnect (if connected); the next `deliver` connects again."""
        self._client = None
        with contextlib.suppress(aiomqtt.MqttError, OSError):
            await self._stack.aclose()
        self._stack = contextlib.AsyncExitStack()
