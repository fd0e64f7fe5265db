"""The `Input` protocol, as the daemon relies on it, met by the OPC UA connector against the
simulator's real asyncua server: batches to the sink, counters that match them, a clean stop,
and a lost source retried and reported."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from pathlib import Path

from ingest_helpers import counter_config

from plantqc.buffer import Reading
from plantqc.connectors import Input, ReadingSink
from plantqc.connectors.opcua import OpcUaConnector
from plantqc.sim.server import LineSimulator

STOP_WITHIN_S = 5.0  # the client's request timeout (4 s) bounds its disconnect


def _opcua_input(tmp_path: Path, port: int, sink: ReadingSink) -> tuple[Input, LineSimulator]:
    """The connector of the casting line (14 tags, published every 200 ms) and its server."""
    loaded = counter_config(tmp_path, port)
    line = loaded.config.lines[0]
    connector = OpcUaConnector(line, sink, backoff_initial_s=0.1, backoff_max_s=0.2)
    return connector, LineSimulator(loaded.config, tick_s=0.05)


async def _until(condition: Callable[[], bool], timeout_s: float) -> bool:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            return False
        await asyncio.sleep(0.05)
    return True


def test_an_input_hands_batches_of_its_line_and_counts_what_it_handed(
    tmp_path: Path, port: int
) -> None:
    batches: list[Sequence[Reading]] = []
    source, simulator = _opcua_input(tmp_path, port, batches.append)
    seen: dict[str, bool] = {}

    async def main() -> float:
        async with simulator:
            stop = asyncio.Event()
            task = asyncio.create_task(source.run(stop))
            assert await _until(lambda: len(batches) >= 10, 15)
            seen["connected"] = source.state.connected
            stop.set()
            started = asyncio.get_running_loop().time()
            await task
            return asyncio.get_running_loop().time() - started

    stopping_s = asyncio.run(main())
    readings = [r for batch in batches for r in batch]
    assert all(len(batch) > 0 for batch in batches)
    assert {r.line for r in readings} == {source.line} == {"casting-1"}
    assert max(len(batch) for batch in batches) > 1  # a publish response is one batch
    assert source.state.received == len(readings)
    assert source.state.last_sample_at == {r.tag: r.ts for r in readings}  # the last handed
    assert seen["connected"] and not source.state.connected
    assert stopping_s < STOP_WITHIN_S


def test_an_input_hands_nothing_after_run_returns(tmp_path: Path, port: int) -> None:
    batches: list[Sequence[Reading]] = []
    source, simulator = _opcua_input(tmp_path, port, batches.append)

    async def main() -> int:
        async with simulator:
            stop = asyncio.Event()
            task = asyncio.create_task(source.run(stop))
            assert await _until(lambda: len(batches) >= 3, 15)
            stop.set()
            await task
            handed = len(batches)
            await asyncio.sleep(1.0)  # the server goes on publishing
            return handed

    handed = asyncio.run(main())
    assert len(batches) == handed
    assert source.state.received == sum(len(batch) for batch in batches)


def test_an_input_retries_a_lost_source_says_why_and_resumes(tmp_path: Path, port: int) -> None:
    batches: list[Sequence[Reading]] = []
    source, simulator = _opcua_input(tmp_path, port, batches.append)
    down: dict[str, object] = {}

    async def main() -> None:
        await simulator.start()
        stop = asyncio.Event()
        task = asyncio.create_task(source.run(stop))
        assert await _until(lambda: source.state.connected, 15)
        await simulator.stop()
        assert await _until(lambda: source.state.reconnects >= 2, 15)
        down.update(connected=source.state.connected, error=source.state.last_error)
        before = source.state.received
        await simulator.start()
        assert await _until(lambda: source.state.received > before, 15)
        down["error_after"] = source.state.last_error
        stop.set()
        await task
        await simulator.stop()

    asyncio.run(main())
    assert down["connected"] is False
    assert down["error"] == (
        f"cannot reach the OPC UA server at opc.tcp://127.0.0.1:{port}/plantqc/: connection refused"
    )
    assert down["error_after"] is None
