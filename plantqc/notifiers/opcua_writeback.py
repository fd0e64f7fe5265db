"""OPC UA write-back: the line's alarm summary written to nodes of the line's own server.

A PLC cannot subscribe to MQTT, but it can read its own OPC UA server.  This notifier keeps
two optional nodes there up to date:

- ``active_node_id`` (Boolean): True while any alarm of the line is active (ISA-18.2
  active-unacknowledged or active-acknowledged; shelved, suppressed and returned alarms are
  not), e.g. to light a stack lamp;
- ``code_node_id`` (Int32): the highest priority among the active alarms as
  `PRIORITY_CODES` numbers it (0: none active), e.g. to slow the line on 3.

The nodes hold state, not events: after every outbox read the summary is compared with what
was last written, and written when it differs or after a reconnect (the server may have
restarted with default values).  The connection uses the line's endpoint and security
(`plantqc.connectors.opcua.configure_security`): the write-back needs a user with write
access on those nodes.  Its config section is shown in
``plantqc/notifiers/samples/opcua_writeback.yaml``.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from pathlib import Path

from asyncua import Client, ua

from plantqc.config import Line, Tag
from plantqc.connectors.opcua import configure_security, describe_error, resolve_node_id
from plantqc.errors import UserError
from plantqc.notifiers import NotifyError
from plantqc.notifiers.opcua_writeback_settings import OpcUaWriteback
from plantqc.notifiers.outbox import LineAlarmSummary, OutboxBatch

PRIORITY_CODES = {"low": 1, "medium": 2, "high": 3, "critical": 4}
"""Int32 code of each alarm priority; an active alarm of a priority not listed counts as 1."""
REQUEST_TIMEOUT_S = 4.0


def alarm_code(summary: LineAlarmSummary) -> int:
    """The Int32 written to ``code_node_id``: highest active priority, 0 when none is active."""
    return max((PRIORITY_CODES.get(p, 1) for p in summary.active_priorities), default=0)


@dataclass(frozen=True)
class _Target:
    configured: str  # the node id as the config gives it, for messages
    node: ua.NodeId
    kind: ua.VariantType
    shows: int  # 0: any alarm active, 1: the priority code


class OpcUaWritebackNotifier:
    """Writes a line's alarm summary to its OPC UA server.

    Parameters
    ----------
    line : Line
        The line: its OPC UA security and, unless ``endpoint`` is given, its endpoint.
    settings : OpcUaWriteback
        The line's ``notify.opcua_writeback`` section.
    base_dir : Path
        Folder relative certificate paths are taken from (the config file's folder).
    endpoint : str, optional
        Use this endpoint instead of the config's (as the daemon's connector does).
    """

    name = "opcua_writeback"

    def __init__(
        self, line: Line, settings: OpcUaWriteback, base_dir: Path, endpoint: str | None = None
    ) -> None:
        self.line = line
        self.settings = settings
        self.base_dir = base_dir
        self.endpoint = endpoint or line.opcua.endpoint
        self._client: Client | None = None
        self._nodes: list[_Target] = []
        self._written: tuple[bool, int] | None = None
        self._lost = asyncio.Event()

    async def _connect(self) -> Client:
        client = Client(self.endpoint, timeout=REQUEST_TIMEOUT_S, watchdog_intervall=1.0)
        lost = asyncio.Event()

        async def on_lost(_exc: Exception) -> None:
            lost.set()

        # unchanged state means no traffic, so only the client's watchdog notices a server
        # that went away, and a restarted server holds its defaults until written again
        client.connection_lost_callback = on_lost
        try:
            await configure_security(client, self.line.opcua.security, self.base_dir)
            await client.connect()
            namespaces = await client.get_namespace_array()
            # each node with its type and which element of the summary it shows; a node is
            # resolved as the connector resolves a tag's (nsu= URIs to today's indices)
            wanted = (
                (self.settings.active_node_id, ua.VariantType.Boolean, 0),
                (self.settings.code_node_id, ua.VariantType.Int32, 1),
            )
            self._nodes = [
                _Target(
                    node, resolve_node_id(Tag(name="alarm", node_id=node), namespaces), kind, at
                )
                for node, kind, at in wanted
                if node is not None
            ]
        except UserError:
            await _disconnect(client)
            raise
        except KeyError as exc:  # a namespace URI of a node id is not on the server
            await _disconnect(client)
            raise NotifyError(f"OPC UA write-back to {self.endpoint}: {exc.args[0]}") from None
        except Exception as exc:
            await _disconnect(client)
            raise NotifyError(describe_error(exc, self.endpoint)) from None
        self._client, self._lost, self._written = client, lost, None
        return client

    async def deliver(self, batch: OutboxBatch) -> int:
        """Write the summary if it differs from what the nodes hold; return 1 if written."""
        wanted = (batch.summary.any_active, alarm_code(batch.summary))
        if self._lost.is_set():
            await self.close()
        if self._client is not None and wanted == self._written:
            return 0
        client = self._client or await self._connect()
        try:  # one Write service call, so the PLC never sees one node new and one old
            results = await client.write_values(
                [client.get_node(t.node) for t in self._nodes],
                [ua.DataValue(ua.Variant(wanted[t.shows], t.kind)) for t in self._nodes],
                raise_on_partial_error=False,
            )
        except Exception as exc:
            await self.close()
            raise NotifyError(describe_error(exc, self.endpoint)) from None
        refused = [(t, r) for t, r in zip(self._nodes, results, strict=True) if not r.is_good()]
        if refused:
            await self.close()
            named = ", ".join(f"{t.configured} ({r.name})" for t, r in refused)
            raise NotifyError(
                f"the OPC UA server at {self.endpoint} refused the write-back of {named}"
            )
        self._written = wanted
        return 1

    async def close(self) -> None:
        """Disconnect (if connected); the next `deliver` connects and writes again."""
        client, self._client, self._written = self._client, None, None
        if client is not None:
            await _disconnect(client)


async def _disconnect(client: Client) -> None:
    # the connection is being given up: whatever the server answers changes nothing
    with contextlib.suppress(Exception):
        await asyncio.wait_for(client.disconnect(), REQUEST_TIMEOUT_S)
