"""Alarm notifiers: each alarm change of a line, delivered to the plant's other systems.

Plugins in the manner of Telegraf's outputs: one self-contained module per notifier behind
the small `Notifier` interface, configured by its own section under a line's ``notify:``
with its settings model beside it (``<name>_settings.py``, pydantic only);
``plantqc/notifiers/samples/<name>.yaml`` shows each section, README.md beside this file
describes them.  All notifiers read the same outbox (`plantqc.notifiers.outbox`), each with
its own cursor, so a broker outage delays MQTT only, never the OPC UA write-back.

- ``mqtt`` (`plantqc.notifiers.mqtt`): JSON per change, retained active state per alarm.
- ``opcua_writeback`` (`plantqc.notifiers.opcua_writeback`): a Boolean and / or an Int32 on
  the line's OPC UA server for the PLC.

`plantqc.notifiers.dispatch.Notifications` runs them in the daemon.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:  # reading a notifier's settings (plantqc.config) needs no store
    from plantqc.notifiers.outbox import OutboxBatch


class NotifyError(Exception):
    """A delivery failed for a reason outside plantqc (broker down, server gone); the message
    is one sentence naming it.  The batch is delivered again later."""


class Notifier(Protocol):
    """What the dispatcher needs of a notifier.

    ``deliver`` is called with every batch read from the outbox, including batches without
    changes (``batch.summary`` still says which alarms are active, for state-based
    notifiers).  It delivers all of the batch or raises: `NotifyError` for an outside cause,
    after which the batch is offered again after a backoff.  The cursor moves only after it
    returns, so a change may be delivered twice, never lost.
    """

    name: str
    """Names the cursor file and the counters, e.g. ``mqtt``."""

    async def deliver(self, batch: OutboxBatch) -> int:
        """Deliver ``batch``; return how many notifications went out (0: nothing to do)."""
        ...

    async def close(self) -> None:
        """Release connections; the notifier may be used again afterwards."""
        ...
