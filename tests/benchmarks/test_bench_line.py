"""The benchmark line's instruments: the reconnecting baseline client and the process meter."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from plantqc.bench.line import (
    Baseline,
    ProcessTree,
    Usage,
    bench_config,
    count_notifications,
    free_port,
    tag_name,
)
from plantqc.config import load_config
from plantqc.sim.server import LineSimulator

TAGS = 3
INTERVAL_MS = 100


async def _count_across_a_server_restart(config: Path, endpoint: str) -> Baseline:
    simulator = LineSimulator(load_config(config).config, tick_s=INTERVAL_MS / 1000)
    await simulator.start()
    window, done = asyncio.Event(), asyncio.Event()
    names = [tag_name(i) for i in range(TAGS)]
    counting = asyncio.create_task(count_notifications(endpoint, names, INTERVAL_MS, window, done))
    try:
        await asyncio.sleep(2.0)
        await simulator.stop()  # the client loses its connection
        await asyncio.sleep(1.5)
        await simulator.start()
        await asyncio.sleep(3.0)  # reconnected and subscribed again
        window.set()  # count only after the restart
        await asyncio.sleep(2.0)
        window.clear()
    finally:
        done.set()
        baseline = await counting
        await simulator.stop()
    return baseline


@pytest.mark.slow
def test_bare_client_reconnects_after_losing_its_server_and_counts_on(tmp_path: Path) -> None:
    port = free_port()
    config = tmp_path / "bench.yaml"
    config.write_text(bench_config(TAGS, INTERVAL_MS, port, tmp_path))
    baseline = asyncio.run(
        _count_across_a_server_restart(config, f"opc.tcp://127.0.0.1:{port}/plantqc/")
    )
    assert baseline.reconnects == 1
    # 3 tags updated every 100 ms over the 2 s window after the restart: 60 notifications
    assert 30 <= baseline.notifications <= 90


_BURNER = """
import subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", '''
import time
while time.process_time() < 0.6:
    pass
time.sleep(30)
'''])
time.sleep(30)
"""


def test_meter_counts_the_cpu_of_the_processes_a_process_started() -> None:
    parent = subprocess.Popen([sys.executable, "-c", _BURNER])
    try:
        tree = ProcessTree(psutil.Process(parent.pid))

        async def meter() -> Usage:
            until = asyncio.Event()
            metering = asyncio.create_task(tree.meter(0.2, until))
            while len(tree.processes()) < 2 or sum(tree.cpu_s_by_pid().values()) < 0.6:
                await asyncio.sleep(0.1)
            await asyncio.sleep(0.3)  # a sample after the child's busy loop ended
            until.set()
            return await metering

        usage = asyncio.run(meter())
    finally:
        for process in psutil.Process(parent.pid).children(recursive=True):
            process.kill()
        parent.kill()
        parent.wait()
    # the child burns 0.6 CPU-s by its own clock; the parent and both interpreters' start-up
    # add a little (each well under 0.5 s)
    assert usage.processes == 2
    assert 0.55 <= usage.cpu_s <= 1.6
    assert usage.rss_peak_mib > 0
