"""Inputs: where readings come from, behind one small interface.

Plugins in the manner of Telegraf's inputs: one self-contained module per input behind the
`Input` protocol, configured by its own settings model beside its code (``*_settings.py``,
pydantic only) with a sample section in ``plantqc/connectors/samples/<name>.yaml``.

- ``opcua`` (`plantqc.connectors.opcua`, settings `plantqc.connectors.opcua_settings`): a
  subscription per line on its OPC UA server.
- ``replay`` (`plantqc.connectors.replay`, settings `plantqc.connectors.replay_settings`): a
  recorded CSV / Parquet file played with its source times (``plantqc replay``), one input
  per line of the file.

`plantqc.connectors.registry.build_inputs` makes the inputs of a plant config; the daemon
runs them and takes their batches into its durable buffer, knowing nothing else of them.
Nothing heavy is imported here, so reading a config never loads an input's client library.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from plantqc.buffer import Reading

ReadingSink = Callable[[Sequence[Reading]], None]
"""Where an input hands its readings: one call per batch, on the event loop, never blocking."""


@dataclass
class InputState:
    """What an input has done, for metrics, health and tests.

    Attributes
    ----------
    connected : bool
        Whether the input is receiving now (connected and subscribed, file open, ...).
    received : int
        Readings handed to the sink since start.
    reconnects : int
        Times the input lost or failed to open its source and tried again.
    last_error : str or None
        Why the last attempt failed, in one sentence; None once it works again.
    missing : dict
        Tags the source does not have, with the reason; the others keep flowing.
    last_sample_at : dict
        The newest sample time handed on, per tag, UTC.
    backfilled : int
        Readings read back from the source's history (after a restart or reconnect) and
        handed on, since start.
    backfill_tags_left : int
        Tags whose read-back of the current (re)connection is not finished.
    gaps : int
        Data gaps recorded since start: stretches the source kept no history of.
    """

    connected: bool = False
    received: int = 0
    reconnects: int = 0
    last_error: str | None = None
    missing: dict[str, str] = field(default_factory=dict)
    last_sample_at: dict[str, datetime] = field(default_factory=dict)
    backfilled: int = 0
    backfill_tags_left: int = 0
    gaps: int = 0

    def handed_on(self, batch: Sequence[Reading]) -> None:
        """Count a batch given to the sink."""
        for reading in batch:
            if reading.kind == "gap":
                self.gaps += 1
                continue
            self.received += 1
            self.backfilled += reading.backfilled
            newest = self.last_sample_at.get(reading.tag)
            if newest is None or reading.ts > newest:
                self.last_sample_at[reading.tag] = reading.ts


class Input(Protocol):
    """What the daemon needs of an input: the readings of one line, in batches.

    An input is made with its settings and a `ReadingSink`.  ``run`` hands every reading to
    the sink, in batches of whatever arrived together, until ``stop`` is set; it handles a
    lost or failing source itself (retrying with backoff, counting ``state.reconnects`` and
    saying why in ``state.last_error``) and returns soon after ``stop``, having handed on
    what it had already received.  It raises only for a mistake in the config
    (`plantqc.errors.UserError`, e.g. a missing certificate), which stops the daemon.
    """

    line: str
    """The name of the line whose readings it yields."""
    state: InputState
    """Its counters and health, read at any time."""

    def resume_after(self, newest: Mapping[str, datetime]) -> None:
        """Before ``run``: the newest sample already kept (stored or buffered) per tag name.

        An input whose source keeps history reads back from there what it missed while the
        daemon was away; one whose source does not records the stretch as a data gap.
        """
        ...

    async def run(self, stop: asyncio.Event) -> None:
        """Hand readings to the sink until ``stop`` is set."""
        ...
