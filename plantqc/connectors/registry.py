"""The inputs of a plant config: one `Input` per line and source, ready for the daemon to run."""

from __future__ import annotations

from collections.abc import Mapping

from plantqc.config import LoadedConfig
from plantqc.connectors import Input, ReadingSink
from plantqc.connectors.opcua import OpcUaConnector


def build_inputs(
    loaded: LoadedConfig, sink: ReadingSink, *, endpoints: Mapping[str, str] | None = None
) -> list[Input]:
    """The inputs of every line of ``loaded``, all handing their batches to ``sink``.

    ``endpoints`` replaces the OPC UA endpoint of the lines it names (tests, benchmarks).
    """
    reconnect_max_s = loaded.config.daemon.reconnect_max_s
    return [
        OpcUaConnector(
            line,
            sink,
            base_dir=loaded.base_dir,
            backoff_max_s=reconnect_max_s,
            endpoint=(endpoints or {}).get(line.name),
        )
        for line in loaded.config.lines
    ]
