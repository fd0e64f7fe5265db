"""A benchmark line: the built-in simulator and the edge daemon, each in its own process.

Shared by the ingest and engine benchmarks: a one-line plant config with ``tags`` scalar
tags, the simulator serving it on a free loopback port, the daemon storing it in a temporary
SQLite file, and a bare asyncua subscription in this process that counts what the server
sends over the same window (the baseline both benchmarks report their ratio against).  On a
saturated machine that client can lose its connection; it then reconnects and goes on counting,
and the run reports how often it had to (``baseline_reconnects``) instead of failing.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
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
STORE_FILE = "bench.db"
"""The SQLite file, in the run's folder, that every benchmark config stores to."""
STARTUP_S = 90.0  # bound on daemon start + warm-up; the daemon is stopped after measuring
STOP_GRACE_S = 180.0
"""How long the daemon may take to stop on SIGTERM (drain, engine, image pool) before it is
killed; systemd's default TimeoutStopSec is 90 s."""
BARE_CLIENT_TIMEOUT_S = 60.0
"""Request timeout of the baseline client, and the period of its server-state watchdog, whose
probe may take at most that long: asyncua's 1 s default makes it declare a saturated but live
server lost."""
RECONNECT_DELAY_S = 0.5
"""Pause of the baseline client between losing its connection and connecting again."""
METER_EVERY_S = 1.0
"""How often the daemon's process tree is sampled for CPU time and resident memory."""
_CONNECTION_LOST = (OSError, TimeoutError, ua.UaError, StopAsyncIteration)
"""What a lost or refused connection raises in asyncua (ConnectionError is an OSError; a
subscription closed under the client ends its event stream)."""


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
        f"storage: {{url: 'sqlite:///{folder / STORE_FILE}'}}",
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
class Baseline:
    """What the bare client counted: notifications received inside the window, and how often
    it had to connect again after losing its connection."""

    notifications: int = 0
    reconnects: int = 0


async def count_notifications(
    endpoint: str,
    names: Sequence[str],
    interval_ms: int,
    window: asyncio.Event,
    done: asyncio.Event,
) -> Baseline:
    """Subscribe a bare asyncua client to ``names`` of the benchmark line and count the
    notifications that arrive while ``window`` is set, until ``done``.

    A lost connection (asyncua's "client is disconnected", a closed socket, a timed-out request)
    does not end the count: the client connects and subscribes again, and each time it does so
    after a loss counts as one reconnection.  What the server sent while it was away is not
    counted, so a run with reconnections understates the baseline.
    """
    baseline, subscribed_before = Baseline(), False
    while not done.is_set():
        dropped = asyncio.Event()

        async def on_lost(_exc: Exception, dropped: asyncio.Event = dropped) -> None:
            dropped.set()

        try:
            client = Client(
                endpoint, timeout=BARE_CLIENT_TIMEOUT_S, watchdog_intervall=BARE_CLIENT_TIMEOUT_S
            )
            client.connection_lost_callback = on_lost
            async with client:
                index = await client.get_namespace_index("urn:plantqc:sim")
                subscription = await client.create_subscription(
                    200, queue_maxsize=1_000_000, overflow=OverflowPolicy.WARN
                )
                nodes = [client.get_node(ua.NodeId(f"{LINE}.{name}", index)) for name in names]
                await subscription.subscribe_data_change(
                    nodes, queuesize=10, sampling_interval=interval_ms
                )
                if subscribed_before:  # a connection that worked was lost: this is a reconnection
                    baseline.reconnects += 1
                subscribed_before = True
                # consume all the time, so the window counts only what arrives in it
                while not done.is_set() and not dropped.is_set():
                    event = await subscription.next_event(timeout=0.2)
                    if isinstance(event, DataChangeEvent) and window.is_set():
                        baseline.notifications += 1
        except _CONNECTION_LOST:
            pass
        if not done.is_set():
            await asyncio.sleep(RECONNECT_DELAY_S)
    return baseline


@dataclass(frozen=True)
class Usage:
    """CPU and memory of a process tree over a window."""

    cpu_s: float
    """User + system CPU seconds used in the window, by every process of the tree."""
    rss_peak_mib: float
    """Largest resident memory of the tree, summed over its processes, of the samples taken."""
    rss_end_mib: float
    """Resident memory of the tree at the last sample, when the window ended."""
    processes: int
    """Processes seen in the tree during the window."""


class ProcessTree:
    """A process and every process it started (the daemon's engine process, image workers)."""

    def __init__(self, root: psutil.Process) -> None:
        self.root = root

    def processes(self) -> list[psutil.Process]:
        try:
            return [self.root, *self.root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    def cpu_s_by_pid(self) -> dict[int, float]:
        """User + system CPU seconds of each live process of the tree, by PID."""
        return {p.pid: sum(_cpu(p)) for p in self.processes()}

    def rss_mib(self) -> float:
        """Resident memory of the tree, MiB."""
        return sum(_rss(p) for p in self.processes()) / 2**20

    async def meter(self, every_s: float, until: asyncio.Event) -> Usage:
        """Sample the tree every ``every_s`` from now until ``until`` is set.

        A process born in the window counts all its CPU time; one that ended counts what it
        had used at the last sample before it ended.
        """
        start = self.cpu_s_by_pid()
        last = dict(start)
        rss: list[float] = []
        while True:
            last.update(self.cpu_s_by_pid())
            rss.append(self.rss_mib())
            if until.is_set():
                break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(until.wait(), every_s)
        cpu = sum(used - start.get(pid, 0.0) for pid, used in last.items())
        return Usage(cpu, max(rss), rss[-1], len(last))


@dataclass
class Running:
    """A simulator serving a config and a daemon storing it, each in its own process."""

    folder: Path
    port: int
    daemon: psutil.Process
    simulator: psutil.Process
    store: Engine
    stop_s: float | None = None
    """Seconds the daemon took to stop on SIGTERM once measured; None when it was killed."""

    @property
    def tree(self) -> ProcessTree:
        """The daemon and the processes it started."""
        return ProcessTree(self.daemon)

    def stored(self) -> int:
        with self.store.connect() as connection:
            query = select(func.count()).select_from(Sample)
            return int(connection.execute(query).scalar_one())

    async def until_storing(self, timeout_s: float = 60.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for name, process in (("daemon", self.daemon), ("simulator", self.simulator)):
                if not _alive(process):
                    log = (self.folder / f"{name}.log").read_text(errors="replace").strip()
                    last = log.splitlines()[-1] if log else "no output"
                    raise RuntimeError(f"the {name} exited before storing anything: {last}")
            try:
                if self.stored() > 0:
                    return
            except OperationalError:  # the daemon has not created the schema yet
                pass
            await asyncio.sleep(0.2)
        raise TimeoutError(f"the daemon stored nothing within {timeout_s:g} s")


@dataclass
class BenchLine:
    """The running simulator and daemon of the benchmark line."""

    running: Running
    tags: int
    interval_ms: int

    @property
    def store(self) -> Engine:
        return self.running.store

    @property
    def stop_s(self) -> float | None:
        return self.running.stop_s

    @property
    def endpoint(self) -> str:
        return f"opc.tcp://127.0.0.1:{self.running.port}/plantqc/"

    async def sample_counter(self) -> int:
        """The simulator's tick count now (its line's ``SampleCounter``), read by a client of
        its own so that the figure does not depend on the counting one staying connected."""
        async with Client(self.endpoint, timeout=BARE_CLIENT_TIMEOUT_S) as client:
            index = await client.get_namespace_index("urn:plantqc:sim")
            node = client.get_node(ua.NodeId(f"{LINE}.SampleCounter", index))
            return int(await node.read_value())

    async def count_notifications(self, window: asyncio.Event, done: asyncio.Event) -> Baseline:
        """`count_notifications` of every tag of this line."""
        names = [tag_name(i) for i in range(self.tags)]
        return await count_notifications(self.endpoint, names, self.interval_ms, window, done)


def _cpu(process: psutil.Process) -> tuple[float, float]:
    try:
        times = process.cpu_times()
        return times.user, times.system
    except psutil.NoSuchProcess:
        return 0.0, 0.0


def _alive(process: psutil.Process) -> bool:
    try:
        return process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _rss(process: psutil.Process) -> int:
    try:
        return int(process.memory_info().rss)
    except psutil.NoSuchProcess:
        return 0


@contextmanager
def launched(
    config_text: Callable[[int, Path], str],
    seconds: float,
    *,
    tick_ms: int,
    sim_args: Sequence[str] = (),
    folder: Path | None = None,
) -> Iterator[Running]:
    """Serve and run the config ``config_text(port, folder)`` for ``seconds`` of measurement.

    The config must store to `STORE_FILE` in ``folder`` (a temporary one by default); the
    simulator steps every ``tick_ms``.  Both processes are stopped on exit.
    """
    plantqc = str(Path(sys.executable).parent / "plantqc")
    with tempfile.TemporaryDirectory(prefix="plantqc-bench-") as tmp:
        work = folder or Path(tmp)
        port = free_port()
        config = work / "bench.yaml"
        config.write_text(config_text(port, work))
        total = STARTUP_S + seconds + 30
        # their logs go to files in the folder, read when one of them dies before storing
        with open(work / "simulator.log", "wb") as sim_log, open(work / "daemon.log", "wb") as log:
            sim = subprocess.Popen(
                [plantqc, "sim", "-c", str(config), "--tick-ms", str(tick_ms),
                 "--duration", str(total), *sim_args],
                stdout=sim_log, stderr=subprocess.STDOUT,
            )  # fmt: skip
            _wait_listening(port)
            daemon = subprocess.Popen(
                [plantqc, "run", "-c", str(config), "--duration", str(STARTUP_S + seconds),
                 "--log-level", "warning"],
                stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip
        store = open_engine(f"sqlite:///{work / STORE_FILE}")
        running = Running(work, port, psutil.Process(daemon.pid), psutil.Process(sim.pid), store)
        try:
            yield running
        finally:
            store.dispose()
            running.stop_s = _stop(daemon, STOP_GRACE_S)
            _stop(sim, 60.0)


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
    """Start simulator and daemon of the benchmark line for ``seconds`` of measurement."""

    def config(port: int, work: Path) -> str:
        return bench_config(tags, interval_ms, port, work, tag_lines=tag_lines, sections=sections)

    with launched(
        config, seconds, tick_ms=interval_ms, sim_args=sim_args, folder=folder
    ) as running:
        yield BenchLine(running, tags, interval_ms)


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


def free_port() -> int:
    """A TCP port free on loopback now."""
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
