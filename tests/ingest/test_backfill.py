"""Read-back from a real asyncua server's history (the simulator's), in-process.

Ground truth is exact: the SampleCounter counts 100 ms ticks, so what a connector hands on
from a watermark must be every count after it once, in order.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

from ingest_helpers import counter_config
from prometheus_client import generate_latest

from plantqc.buffer import Reading
from plantqc.config import LoadedConfig, load_config
from plantqc.connectors.opcua import OpcUaConnector
from plantqc.metrics import DaemonStatus, LineStatus, registry_for
from plantqc.sim.server import LineSimulator

RUN_BEFORE_S = 3.0  # the simulator runs this long before the connector comes


def _with_backfill(folder: Path, port: int, settings: str) -> LoadedConfig:
    loaded = counter_config(folder, port)
    text = loaded.path.read_text().replace(
        "      queue_size: 50\n", f"      queue_size: 50\n      backfill: {settings}\n", 1
    )
    loaded.path.write_text(text)

    return load_config(loaded.path, check_env=False)


def _resume(loaded: LoadedConfig, back_s: float) -> tuple[list[Reading], datetime]:
    """Run a connector for 2 s whose watermark of every tag is ``back_s`` seconds ago."""
    handed: list[Reading] = []
    line = loaded.config.lines[0]

    async def main() -> datetime:
        simulator = LineSimulator(loaded.config, tick_s=0.1)
        await simulator.start()
        await asyncio.sleep(RUN_BEFORE_S)
        connector = OpcUaConnector(line, handed.extend)
        watermark = datetime.now(UTC) - timedelta(seconds=back_s)
        connector.resume_after({tag.name: watermark for tag in line.tags})
        stop = asyncio.Event()
        task = asyncio.create_task(connector.run(stop))
        await asyncio.sleep(2.0)
        stop.set()
        await task
        await simulator.stop()
        assert connector.state.backfilled == sum(r.backfilled for r in handed)
        return watermark

    return handed, asyncio.run(main())


def test_a_read_back_in_pages_smaller_than_the_stretch_hands_on_each_value_once(
    tmp_path: Path, port: int
) -> None:
    loaded = _with_backfill(tmp_path, port, "{page_values: 7}")
    handed, watermark = _resume(loaded, back_s=RUN_BEFORE_S - 0.5)
    counter = [r for r in handed if r.tag == "sample_counter" and r.kind == "scalar"]
    values = [int(r.value or 0) for r in counter]
    assert values == list(range(values[0], values[-1] + 1))
    backfilled = [r for r in counter if r.backfilled]
    assert len(backfilled) >= 20  # about 2.5 s of 100 ms counts, read 7 at a time
    assert all(r.ts > watermark for r in counter)
    # the read-back comes first, then the subscription's values
    assert counter[: len(backfilled)] == backfilled
    assert not [r for r in handed if r.kind == "gap"]


def test_a_stretch_beyond_the_maximum_window_is_read_back_in_part_and_the_rest_is_a_gap(
    tmp_path: Path, port: int
) -> None:
    loaded = _with_backfill(tmp_path, port, "{max_window_s: 1}")
    handed, watermark = _resume(loaded, back_s=RUN_BEFORE_S - 0.5)
    counter = [r for r in handed if r.tag == "sample_counter" and r.kind == "scalar"]
    (gap,) = [r for r in handed if r.kind == "gap" and r.tag == "sample_counter"]
    first_live = next(r for r in counter if not r.backfilled)
    backfilled = [r for r in counter if r.backfilled]
    # read back: the last second before the first new value, and no further
    assert backfilled and all(first_live.ts - r.ts <= timedelta(seconds=1) for r in backfilled)
    assert gap.ts == watermark
    assert gap.gap_end == backfilled[0].ts
    assert gap.text == "longer than the maximum backfill window of 1 s"
    # every count after the gap is there once
    values = [int(r.value or 0) for r in counter]
    assert values == list(range(values[0], values[-1] + 1))


def test_read_back_progress_and_gaps_are_metrics_of_their_line() -> None:
    line = LineStatus(
        connected=True,
        received=120,
        stored=118,
        rejected=0,
        reconnects=1,
        last_error=None,
        missing_tags={},
        last_sample_at={},
        backfilled=57,
        backfill_tags_left=2,
        gaps=3,
    )
    status = DaemonStatus({"casting-1": line}, 0, 10, 0, False, True, None)
    text = generate_latest(registry_for(lambda: status)).decode()
    assert 'plantqc_samples_backfilled_total{line="casting-1"} 57.0' in text
    assert 'plantqc_backfill_tags_pending{line="casting-1"} 2.0' in text
    assert 'plantqc_data_gaps_total{line="casting-1"} 3.0' in text
