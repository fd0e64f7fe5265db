"""Reads and writes of a line's control nodes over OPC UA: what the controller runtime uses.

One client per line, connected on first use with the line's endpoint and security
(`plantqc.connectors.opcua.configure_security`) and dropped on any failure, so the next call
connects afresh.  Node ids are the config's (``nsu=`` URIs resolved to today's namespace
indices, as the connector resolves a tag's).  A read returns each node's DataValue (value,
status, source time); a write sends every node in one Write service call, so a die-bolt
profile lands all at once, and returns one sentence per refused node (the server's status)
rather than raising: the caller's watchdog counts refusals and lost connections alike.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from asyncua import Client, ua

from plantqc.config import Line, Tag
from plantqc.connectors.opcua import configure_security, describe_error, resolve_node_id

REQUEST_TIMEOUT_S = 4.0


class OpcUaControlError(Exception):
    """A read or write of control nodes failed: the message is one sentence."""


@dataclass(frozen=True)
class NodeValue:
    """One node as read: value, whether its status is Good, and its source time."""

    value: object
    good: bool
    status: int
    source_time: object


class OpcUaControlClient:
    """Read and write a line's control nodes.

    Parameters
    ----------
    line : Line
        The line: endpoint (unless ``endpoint``) and security.
    base_dir : Path
        Folder relative certificate paths are taken from.
    endpoint : str, optional
        Use this endpoint instead of the config's.
    """

    def __init__(self, line: Line, base_dir: Path, endpoint: str | None = None) -> None:
        self.line = line
        self.base_dir = base_dir
        self.endpoint = endpoint or line.opcua.endpoint
        self._client: Client | None = None
        self._namespaces: list[str] = []

    async def _connected(self) -> Client:
        if self._client is not None:
            return self._client
        client = Client(self.endpoint, timeout=REQUEST_TIMEOUT_S)
        try:
            await configure_security(client, self.line.opcua.security, self.base_dir)
            await client.connect()
            self._namespaces = await client.get_namespace_array()
        except Exception as exc:
            with contextlib.suppress(Exception):
                await client.disconnect()
            raise OpcUaControlError(describe_error(exc, self.endpoint)) from None
        self._client = client
        return client

    def _node_ids(self, node_ids: Sequence[str]) -> list[ua.NodeId]:
        try:
            return [
                resolve_node_id(Tag(name="control", node_id=n), self._namespaces) for n in node_ids
            ]
        except KeyError as exc:
            raise OpcUaControlError(f"{self.endpoint}: {exc.args[0]}") from None

    async def read(self, node_ids: Sequence[str]) -> list[NodeValue]:
        """Each node's value, quality and source time, in one Read call."""
        client = await self._connected()
        ids = self._node_ids(node_ids)
        try:
            values = await client.uaclient.read_attributes(ids, ua.AttributeIds.Value)
        except Exception as exc:
            await self.close()
            raise OpcUaControlError(describe_error(exc, self.endpoint)) from None
        return [
            NodeValue(
                v.Value.Value if v.Value is not None else None,
                v.StatusCode is None or v.StatusCode.is_good(),
                int(v.StatusCode.value) if v.StatusCode is not None else 0,
                v.SourceTimestamp or v.ServerTimestamp,
            )
            for v in values
        ]

    async def write(self, node_ids: Sequence[str], values: Sequence[float]) -> list[str]:
        """Write Double values in one Write call; the refusals, one sentence each (empty: all
        taken).  A lost connection raises `OpcUaControlError`."""
        client = await self._connected()
        ids = self._node_ids(node_ids)
        try:
            results = await client.write_values(
                [client.get_node(n) for n in ids],
                [ua.DataValue(ua.Variant(float(v), ua.VariantType.Double)) for v in values],
                raise_on_partial_error=False,
            )
        except Exception as exc:
            await self.close()
            raise OpcUaControlError(describe_error(exc, self.endpoint)) from None
        return [
            f"{node} refused {value:g}: {result.name}"
            for node, value, result in zip(node_ids, values, results, strict=True)
            if not result.is_good()
        ]

    async def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(client.disconnect(), REQUEST_TIMEOUT_S)
