"""``sampling_interval_ms: 0`` (exception-based sampling, as Telegraf and Kepware allow): the
server samples at its fastest rate and reports every change; nothing that reads an interval
divides by it."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from ingest_helpers import counter_config

from plantqc.buffer import Reading
from plantqc.charting.chart import ChartConfig
from plantqc.charting.faults import quiet_fault, silence_fault, silent_after_s
from plantqc.charting.settings import SensorFaultSettings, SpcSettings
from plantqc.config import LoadedConfig, load_config
from plantqc.connectors.opcua import OpcUaConnector
from plantqc.reports.completeness import _intervals
from plantqc.sim.server import LineSimulator


def _chart(interval_s: float, **faults: float) -> ChartConfig:
    settings = SpcSettings(faults=SensorFaultSettings(**faults))
    return ChartConfig(1, 1, "casting-1", "z", "scalar", settings, sampling_interval_s=interval_s)


def _exception_counter(tmp_path: Path, port: int) -> LoadedConfig:
    """`counter_config` with the counter tag sampled by exception."""
    path = counter_config(tmp_path, port).path
    counter = "SampleCounter\n        sampling_interval_ms: "
    path.write_text(path.read_text().replace(counter + "100", counter + "0"))
    return load_config(path, check_env=False)


def test_a_zero_ms_subscription_of_the_real_server_receives_every_change(
    tmp_path: Path, port: int
) -> None:
    # the line's SampleCounter counts ticks from 1: every tick is a change, 50 a second, while
    # the subscription publishes every 200 ms (queue 50 values, 10 changes per publish)
    loaded = _exception_counter(tmp_path, port)
    assert loaded.config.lines[0].tag("sample_counter").sampling_interval_ms == 0
    batches: list[Sequence[Reading]] = []
    connector = OpcUaConnector(
        loaded.config.lines[0], batches.append, backoff_initial_s=0.1, backoff_max_s=0.2
    )
    simulator = LineSimulator(loaded.config, tick_s=0.02)

    def counts() -> list[float]:
        return [r.value for b in batches for r in b if r.tag == "sample_counter"]  # type: ignore[misc]

    async def main() -> None:
        async with simulator:
            stop = asyncio.Event()
            task = asyncio.create_task(connector.run(stop))
            deadline = asyncio.get_running_loop().time() + 15
            while len(counts()) < 60 and asyncio.get_running_loop().time() < deadline:
                await asyncio.sleep(0.05)
            stop.set()
            await task

    asyncio.run(main())
    values = counts()
    assert len(values) >= 60
    # consecutive ticks, none skipped: the first received value onwards, every change
    assert values == [values[0] + i for i in range(len(values))]


def test_a_zero_interval_tag_is_judged_silent_only_by_a_configured_bound() -> None:
    never = _chart(0.0)
    assert silent_after_s(never) is None
    assert quiet_fault(never, 0, quiet_s=1e9) is None
    bounded = _chart(0.0, silent_after_s=60.0)
    assert quiet_fault(bounded, 0, quiet_s=59.0) is None
    assert quiet_fault(bounded, 0, quiet_s=61.0) == "silent"
    newest = datetime(2026, 12, 1, 8, tzinfo=UTC)
    message = silence_fault(bounded, {"active": {}}, "silent", newest, newest)
    assert message == "z: no sample since 2026-12-01T08:00:00+00:00 (more than 60 s)"


def test_a_sampled_tag_keeps_its_silent_bound_in_intervals() -> None:
    # 30 intervals (the default) of 0.5 s
    assert silent_after_s(_chart(0.5)) == 15.0
    assert quiet_fault(_chart(0.5), 0, quiet_s=16.0) == "silent"


def test_completeness_expects_no_sample_count_of_a_zero_interval_tag(
    tmp_path: Path, port: int
) -> None:
    loaded = _exception_counter(tmp_path, port)
    intervals = _intervals(loaded.config, "casting-1")
    assert "sample_counter" not in intervals  # so its expected count and stored % are None
    assert intervals["web_speed_m_min"] == 0.5
