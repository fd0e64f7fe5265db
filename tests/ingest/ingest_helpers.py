"""Helpers of the ingestion tests: free loopback ports and configs pointed at them."""

from __future__ import annotations

import socket
from pathlib import Path

from plantqc.config import LoadedConfig, load_config

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def free_port() -> int:
    """A TCP port nobody listens on right now (bound to port 0, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def write_config(folder: Path, example: str, port: int, extra: str = "") -> LoadedConfig:
    """An example config with its endpoint moved to ``port`` and SQLite in ``folder``."""
    text = (EXAMPLES / example).read_text()
    text = text.replace("127.0.0.1:4840", f"127.0.0.1:{port}")
    text = text.replace("sqlite:///plantqc.db", f"sqlite:///{folder / 'plantqc.db'}")
    path = folder / example
    path.write_text(text + extra)
    return load_config(path, check_env=False)


COUNTER_TAG = """      - name: sample_counter
        node_id: nsu=urn:plantqc:sim;s={line}.SampleCounter
        sampling_interval_ms: 100
"""


def counter_config(folder: Path, port: int, queue_size: int = 50) -> LoadedConfig:
    """The casting example plus the line's SampleCounter as a tag, published every 200 ms."""
    text = (EXAMPLES / "casting.yaml").read_text()
    text = text.replace("127.0.0.1:4840", f"127.0.0.1:{port}")
    text = text.replace(
        "publishing_interval_ms: 500",
        f"publishing_interval_ms: 200\n      queue_size: {queue_size}",
    )
    text = text.replace("sqlite:///plantqc.db", f"sqlite:///{folder / 'plantqc.db'}")
    text = text.replace("    tags:\n", "    tags:\n" + COUNTER_TAG.format(line="casting-1"), 1)
    text += "\ndaemon:\n  metrics_port: 0\n  flush_interval_ms: 50\n  reconnect_max_s: 1\n"
    text += f"  buffer_path: {folder / 'buffer.sqlite'}\n"
    path = folder / "casting.yaml"
    path.write_text(text)
    return load_config(path, check_env=False)
