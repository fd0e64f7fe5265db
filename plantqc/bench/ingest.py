"""Ingest benchmark: simulator -> daemon -> SQLite end to end, against a bare asyncua client.

The simulator serves ``tags`` scalar tags updated every ``interval_ms`` on loopback (its own
process).  The daemon (its own process, so its CPU and RSS are its own) subscribes to all of
them and stores them in a temporary SQLite file.  In the same run and over the same window a
bare asyncua subscription client in this process only counts notifications; the ratio of
the daemon's stored rate to that count says what buffering and storing cost.
"""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import psutil
from asyncua import Client, ua
from asyncua.common.subscription import DataChangeEvent, OverflowPolicy
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from plantqc.store import open_engine
from plantqc.store.models import Sample

WARMUP_S = 3.0
STARTUP_S = 90.0  # bound on daemon start + warm-up; the daemon is stopped after measuring


@dataclass(frozen=True)
class IngestBenchResult:
    """End-to-end ingest figures of one run; rates in samples per second."""

    tags: int
    interval_ms: int
    offered_per_s: float
    seconds: float
    stored_per_s: float
    bare_client_per_s: float
    ratio_vs_bare_client: float
    daemon_cpu_pct_of_one_core: float
    daemon_rss_mb: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def bench_config(tags: int, interval_ms: int, port: int, folder: Path) -> str:
    """A one-line plant config with ``tags`` scalar tags sampled every ``interval_ms``."""
    lines = [
        "plant: {site: bench, area: bench}",
        f"storage: {{url: 'sqlite:///{folder / 'bench.db'}'}}",
        "daemon:",
        "  metrics_port: 0",
        f"  buffer_path: {folder / 'buffer.sqlite'}",
        "  batch_size: 20000",
        "lines:",
        "  - name: bench-1",
        "    kind: casting",
        "    opcua:",
        f"      endpoint: opc.tcp://127.0.0.1:{port}/plantqc/",
        "      publishing_interval_ms: 200",
        "      queue_size: 10",
        "    tags:",
    ]
    for i in range(tags):
        lines += [
            f"      - name: t{i:04d}",
            f"        node_id: nsu=urn:plantqc:sim;s=bench-1.t{i:04d}",
            f"        sampling_interval_ms: {interval_ms}",
            "        spec: {lsl: 40, target: 50, usl: 60}",
        ]
    return "\n".join(lines) + "\n"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _count_notifications(
    endpoint: str, tags: int, interval_ms: int, window: asyncio.Event, done: asyncio.Event
) -> int:
    """Notifications received while ``window`` is set, until ``done`` is set."""
    async with Client(endpoint, timeout=10) as client:
        index = await client.get_namespace_index("urn:plantqc:sim")
        subscription = await client.create_subscription(
            200, queue_maxsize=1_000_000, overflow=OverflowPolicy.WARN
        )
        nodes = [client.get_node(ua.NodeId(f"bench-1.t{i:04d}", index)) for i in range(tags)]
        await subscription.subscribe_data_change(nodes, queuesize=10, sampling_interval=interval_ms)
        # consume all the time, so the window counts only what arrives in it
        count = 0
        while not done.is_set():
            event = await subscription.next_event(timeout=0.2)
            if isinstance(event, DataChangeEvent) and window.is_set():
                count += 1
        return count


def run_ingest_bench(tags: int, interval_ms: int, seconds: float) -> IngestBenchResult:
    """Run simulator, daemon and bare client for ``seconds`` after warm-up; measure."""
    plantqc = str(Path(sys.executable).parent / "plantqc")
    with tempfile.TemporaryDirectory(prefix="plantqc-bench-ingest-") as tmp:
        folder = Path(tmp)
        port = _free_port()
        config = folder / "bench.yaml"
        config.write_text(bench_config(tags, interval_ms, port, folder))
        total = STARTUP_S + seconds + 30
        sim = subprocess.Popen(
            [plantqc, "sim", "-c", str(config), "--tick-ms", str(interval_ms),
             "--duration", str(total)],
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        _wait_listening(port)
        daemon = subprocess.Popen(
            [plantqc, "run", "-c", str(config), "--duration", str(STARTUP_S + seconds),
             "--log-level", "warning"],
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            process = psutil.Process(daemon.pid)
            endpoint = f"opc.tcp://127.0.0.1:{port}/plantqc/"
            engine = open_engine(f"sqlite:///{folder / 'bench.db'}")

            async def measure() -> tuple[int, int, float, float]:
                window, done = asyncio.Event(), asyncio.Event()
                counting = asyncio.create_task(
                    _count_notifications(endpoint, tags, interval_ms, window, done)
                )
                await _until_storing(engine)
                await asyncio.sleep(WARMUP_S)
                stored_0 = _stored(engine)
                cpu_0 = sum(process.cpu_times()[:2])
                window.set()
                await asyncio.sleep(seconds)
                window.clear()
                stored_1 = _stored(engine)
                cpu = sum(process.cpu_times()[:2]) - cpu_0
                rss = process.memory_info().rss / 2**20
                done.set()
                return await counting, stored_1 - stored_0, cpu, rss

            bare, stored, cpu_s, rss_mb = asyncio.run(measure())
            engine.dispose()
        finally:
            for proc in (daemon, sim):
                proc.terminate()
                proc.wait(timeout=30)
    return IngestBenchResult(
        tags=tags,
        interval_ms=interval_ms,
        offered_per_s=tags * 1000 / interval_ms,
        seconds=seconds,
        stored_per_s=stored / seconds,
        bare_client_per_s=bare / seconds,
        ratio_vs_bare_client=(stored / bare) if bare else float("nan"),
        daemon_cpu_pct_of_one_core=100 * cpu_s / seconds,
        daemon_rss_mb=rss_mb,
    )


def _wait_listening(port: int, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise TimeoutError(f"the simulator did not listen on port {port} within {timeout_s:g} s")


async def _until_storing(engine: Any, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if _stored(engine) > 0:
                return
        except OperationalError:  # the daemon has not created the schema yet
            pass
        await asyncio.sleep(0.2)
    raise TimeoutError(f"the daemon stored nothing within {timeout_s:g} s")


def _stored(engine: Any) -> int:
    with engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(Sample)).scalar_one())
