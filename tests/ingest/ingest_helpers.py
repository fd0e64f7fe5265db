"""Helpers of the ingestion tests: free loopback ports and configs pointed at them."""

from __future__ import annotations

import asyncio
import contextlib
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


SECURITY = """policy: Basic256Sha256
        mode: {mode}
        username_env: PLANTQC_TEST_OPCUA_USER
        password_env: PLANTQC_TEST_OPCUA_PASSWORD
        certificate: pki/client-cert.der
        private_key: pki/client-key.pem
        trust_folder: pki/trusted
        trust_on_first_use: {tofu}"""


def secure_config(folder: Path, port: int, mode: str, *, tofu: bool = False) -> LoadedConfig:
    """The casting example with Basic256Sha256 ``mode``, a user from the environment and the
    client certificate ``pki/client-cert.der`` (make it with ``plantqc opcua cert``)."""
    text = (EXAMPLES / "casting.yaml").read_text()
    text = text.replace("127.0.0.1:4840", f"127.0.0.1:{port}")
    security = SECURITY.format(mode=mode, tofu=str(tofu).lower())
    text = text.replace("policy: None\n        mode: None", security)
    path = folder / "casting.yaml"
    path.write_text(text)
    return load_config(path, check_env=False)


class LoopbackProxy:
    """A TCP proxy on 127.0.0.1 to ``target`` that a test can cut and restore.

    `cut` closes the listening socket and every open connection, as a database that is
    stopped does; `restore` listens on the same port again.
    """

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = free_port()
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def restore(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)

    async def cut(self) -> None:
        assert self._server is not None
        self._server.close()
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()
        await asyncio.wait_for(self._server.wait_closed(), 5)
        self._server = None

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.wait_for(asyncio.open_connection(*self.target), 5)
        except OSError:
            writer.transport.abort()
            return
        self._writers |= {writer, up_writer}

        async def pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError, asyncio.CancelledError):
                while data := await source.read(65536):
                    sink.write(data)
                    await sink.drain()
            sink.transport.abort()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        self._writers -= {writer, up_writer}
