"""The daemon against PostgreSQL through a loopback proxy that the test cuts and restores."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest
from ingest_helpers import LoopbackProxy, counter_config
from sqlalchemy.engine import make_url

from plantqc.daemon import Daemon
from plantqc.sim.server import LineSimulator
from plantqc.store import find_tag, open_engine, read_samples

OUTAGE_S = 3.0


async def wait_until(condition: Callable[[], bool], timeout_s: float) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while not condition():
        assert loop.time() < deadline, "timed out"
        await asyncio.sleep(0.05)


@pytest.mark.slow
def test_database_outage_mid_run_loses_no_sample_and_stores_none_twice(
    tmp_path: Path, port: int, pg_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    loaded = counter_config(tmp_path, port)
    url = make_url(pg_url)
    proxy = LoopbackProxy(url.host or "127.0.0.1", url.port or 5432)
    via_proxy = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)

    async def main() -> tuple[int, int]:
        await proxy.restore()
        simulator = LineSimulator(loaded.config, tick_s=0.1)
        await simulator.start()
        daemon = Daemon(loaded, db_url=via_proxy)
        run = asyncio.create_task(daemon.run())
        await wait_until(lambda: daemon.stored["casting-1"] > 0, 20)
        await proxy.cut()
        await asyncio.sleep(OUTAGE_S)
        depth_in_outage = daemon.buffer.depth
        await proxy.restore()
        await wait_until(lambda: daemon.database_ok and daemon.buffer.depth < 50, 20)
        await asyncio.sleep(1.0)
        await simulator.stop()
        daemon.request_stop()
        status = await asyncio.wait_for(run, 30)
        assert status.buffer_depth == 0
        return simulator.published_count("casting-1"), depth_in_outage

    published, depth_in_outage = asyncio.run(main())
    assert depth_in_outage >= 10 * OUTAGE_S  # the counter alone queues 10 samples a second
    engine = open_engine(pg_url)
    ref = find_tag(engine, "casting-1", "sample_counter")
    counters = read_samples(engine, ref.tag_id)["value"].astype(int).tolist()
    engine.dispose()
    # every count from the first one the subscription delivered to the last one published,
    # once each and in order
    assert counters == list(range(counters[0], published + 1))
    # the outage is logged as one line per retry with the driver's reason, no traceback
    retries = [r for r in caplog.records if r.getMessage().startswith("store write failed")]
    assert retries
    assert all(r.exc_info is None and r.reason for r in retries)  # type: ignore[attr-defined]
    assert not [r for r in caplog.records if r.name.startswith("plantqc") and r.exc_info]
