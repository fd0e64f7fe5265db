"""A benchmark line: the built-in simulator and the edge daemon, each in its own process.

Shared by the ingest and engine benchmarks: a one-line plant config with ``tags`` scalar
tags, the simulator serving it on a free loopback port, the daemon storing it in a temporary
SQLite file, and a bare asyncua subscription in this process that counts what the server
sends over the same window (the baseline both benchmarks report their ratio against).
"""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psutil
from asyncua import Client, ua
from asyncua.common.subscription import DataChangeEvent, OverflowPolicy
from sqlalchemy import Engine, func, select
from sqlalchemy.exc import OperationalError

from plantqc.store import open_engine
from plantqc.store.models import Sample

LINE = "bench-1"
STARTUP_S = 90.0  # bound on daemon start + warm-up; the daemon is stopped after measuring
STOP_GRACE_S = 180.0
"""How long the daemon may take to stop on SIGTERM (drain, engine, image pool) before it is
killed; systemd's default TimeoutStopSec is 90 s."""
BARE_CLIENT_TIMEOUT_S = 60.0
"""Request timeout of the baseline client: on a saturated machine a shorter one makes it drop
its connection (its server-state watchdog times out) and stop counting mid-window."""


def bench_config(
    tags: int,
    interval_ms: int,
    port: int,
    folder: Path,
    *,
    tag_lines: Sequence[str] = (),
    sections: Sequence[str] = (),
) -> str:
    """A one-line plant config with ``tags`` scalar tags sampled every ``interval_ms``.

    ``tag_lines`` are added to every tag (e.g. SPC settings); ``sections`` are extra
    top-level YAML blocks (e.g. image inputs).
    """
    lines = [
        "plant: {site: bench, area: bench}",
        f"storage: {{url: 'sqlite:///{folder / 'bench.db'}'}}",
        "daemon:",
        "  metrics_port: 0",
        f"  buffer_path: {folder / 'buffer.sqlite'}",
        "  batch_size: 20000",
        "lines:",
        f"  - name: {LINE}",
        "    kind: casting",
        "    opcua:",
        f"      endpoint: opc.tcp://127.0.0.1:{port}/plantqc/",
        "      publishing_interval_ms: 200",
        "      queue_size: 10",
        "    tags:",
    ]
    for i in range(tags):
        lines += [
            f"      - name: {tag_name(i)}",
            f"        node_id: nsu=urn:plantqc:sim;s={LINE}.{tag_name(i)}",
            f"        sampling_interval_ms: {interval_ms}",
            "        spec: {lsl: 40, target: 50, usl: 60}",
            *(f"        {line}" for line in tag_lines),
        ]
    return "\n".join([*lines, *sections]) + "\n"


def tag_name(i: int) -> str:
    """The name of the benchmark line's ``i``-th tag."""
    return f"t{i:04d}"


@dataclass
class BenchLine:
    """The running simulator and daemon of one benchmark."""

    folder: Path
    port: int
    tags: int
    interval_ms: int
    daemon: psutil.Process
    store: Engine
    stop_s: float | None = None
    """Seconds the daemon took to stop on SIGTERM once measured; None when it was killed."""

    @property
    def endpoint(self) -> str:
        return f"opc.tcp://127.0.0.1:{self.port}/plantqc/"

    def daemon_cpu_s(self) -> float:
        """User + system CPU seconds of the daemon and its worker processes."""
        procs = [self.daemon, *self.daemon.children(recursive=True)]
        return sum(sum(_cpu(p)) for p in procs)

    def daemon_rss_mb(self) -> float:
        """Resident memory of the daemon and its worker processes, MiB."""
        procs = [self.daemon, *self.daemon.children(recursive=True)]
        return sum(_rss(p) for p in procs) / 2**20

    def stored(self) -> int:
        with self.store.connect() as connection:
            query = select(func.count()).select_from(Sample)
            return int(connection.execute(query).scalar_one())

    async def until_storing(self, timeout_s: float = 60.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                if self.stored() > 0:
                    return
            except OperationalError:  # the daemon has not created the schema yet
                pass
            await asyncio.sleep(0.2)
        raise TimeoutError(f"the daemon stored nothing within {timeout_s:g} s")

    async def sample_counter(self) -> int:
        """The simulator's tick count now (its line's ``SampleCounter``), read by a client of
        its own so that the figure does not depend on the counting one staying connected."""
        async with Client(self.endpoint, timeout=BARE_CLIENT_TIMEOUT_S) as client:
            index = await client.get_namespace_index("urn:plantqc:sim")
            node = client.get_node(ua.NodeId(f"{LINE}.SampleCounter", index))
            return int(await node.read_value())

    async def count_notifications(self, window: asyncio.Event, done: asyncio.Event) -> int:
        """Notifications a bare asyncua client receives while ``window`` is set."""
        async with Client(self.endpoint, timeout=BARE_CLIENT_TIMEOUT_S) as client:
            index = await client.get_namespace_index("urn:plantqc:sim")
            subscription = await client.create_subscription(
                200, queue_maxsize=1_000_000, overflow=OverflowPolicy.WARN
            )
            nodes = [
                client.get_node(ua.NodeId(f"{LINE}.{tag_name(i)}", index)) for i in range(self.tags)
            ]
            await subscription.subscribe_data_change(
                nodes, queuesize=10, sampling_interval=self.interval_ms
            )
            # consume all the time, so the window counts only what arrives in it
            count = 0
            while not done.is_set():
                event = await subscription.next_event(timeout=0.2)
                if isinstance(event, DataChangeEvent) and window.is_set():
                    count += 1
            return count


def _cpu(process: psutil.Process) -> tuple[float, float]:
    try:
        times = process.cpu_times()
        return times.user, times.system
    except psutil.NoSuchProcess:
        return 0.0, 0.0


def _rss(process: psutil.Process) -> int:
    try:
        return int(process.memory_info().rss)
    except psutil.NoSuchProcess:
        return 0


@contextmanager
def bench_line(
    tags: int,
    interval_ms: int,
    seconds: float,
    *,
    tag_lines: Sequence[str] = (),
    sections: Sequence[str] = (),
    sim_args: Sequence[str] = (),
    folder: Path | None = None,
) -> Iterator[BenchLine]:
    """Start simulator and daemon for ``seconds`` of measurement; stop both on exit."""
    plantqc = str(Path(sys.executable).parent / "plantqc")
    with tempfile.TemporaryDirectory(prefix="plantqc-bench-") as tmp:
        work = folder or Path(tmp)
        port = _free_port()
        config = work / "bench.yaml"
        config.write_text(
            bench_config(tags, interval_ms, port, work, tag_lines=tag_lines, sections=sections)
        )
        total = STARTUP_S + seconds + 30
        sim = subprocess.Popen(
            [plantqc, "sim", "-c", str(config), "--tick-ms", str(interval_ms),
             "--duration", str(total), *sim_args],
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        _wait_listening(port)
        daemon = subprocess.Popen(
            [plantqc, "run", "-c", str(config), "--duration", str(STARTUP_S + seconds),
             "--log-level", "warning"],
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        store = open_engine(f"sqlite:///{work / 'bench.db'}")
        line = BenchLine(work, port, tags, interval_ms, psutil.Process(daemon.pid), store)
        try:
            yield line
        finally:
            store.dispose()
            line.stop_s = _stop(daemon, STOP_GRACE_S)
            _stop(sim, 60.0)


def _stop(proc: subprocess.Popen[bytes], grace_s: float) -> float | None:
    """SIGTERM, then SIGKILL after ``grace_s``; the seconds it took to exit, None if killed."""
    start = time.monotonic()
    proc.terminate()
    try:
        proc.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        return None
    return time.monotonic() - start


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_listening(port: int, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise TimeoutError(f"the simulator did not listen on port {port} within {timeout_s:g} s")


def percentile(values: Sequence[float], q: float) -> float | None:
    """The ``q``-th percentile (0-100) of ``values``, None when empty."""
    if not values:
        return None
    import numpy as np

    return float(np.percentile(np.asarray(values, dtype=float), q))
