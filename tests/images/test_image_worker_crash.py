"""An analysis process that dies mid-image (killed, out of memory) costs that image only."""

from __future__ import annotations

import asyncio
import os
import signal
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest
from images_helpers import (
    drop,
    image_config,
    particles_png,
    png,
    results,
    running_daemon,
    until,
)
from ingest_helpers import free_port

from plantqc.store import connect
from plantqc.store.models import ImageResult
from vision.synthetic import particle_image

pytestmark = pytest.mark.slow

BIG = "LOT-CRASH_R01_0002.png"
AFTER = "LOT-CRASH_R01_0003.png"


@dataclass(frozen=True)
class Crash:
    root: Path
    rows: dict[str, ImageResult]
    killed: int
    workers_after: list[int]


def _workers() -> list[psutil.Process]:
    """The image pool's worker processes (spawned children running ``spawn_main``)."""
    children = psutil.Process().children(recursive=True)
    return [p for p in children if "spawn_main" in " ".join(p.cmdline())]


async def _kill_when_busy(worker: psutil.Process) -> None:
    idle = sum(worker.cpu_times()[:2])
    await until(lambda: sum(worker.cpu_times()[:2]) > idle + 0.3, timeout_s=60)
    os.kill(worker.pid, signal.SIGKILL)


@pytest.fixture(scope="module")
def crash(tmp_path_factory: pytest.TempPathFactory) -> Crash:
    root = tmp_path_factory.mktemp("image-crash")
    loaded = image_config(root, free_port())
    sem = root / "sem"
    # large enough that its analysis takes a few seconds, so the kill lands inside it
    big = png(particle_image((6144, 6144), seed=4).image)

    async def scenario() -> tuple[int, list[int]]:
        async with running_daemon(loaded) as r:
            await until(lambda: sem.is_dir())
            drop(sem, "LOT-CRASH_R01_0001.png", particles_png(seed=1))
            await until(lambda: r.images("sem").processed == 1)  # the pool is up
            (worker,) = _workers()
            drop(sem, BIG, big)
            await _kill_when_busy(worker)
            await until(lambda: r.images("sem").rejected == 1)
            drop(sem, AFTER, particles_png(seed=2))
            await until(lambda: r.images("sem").processed == 2)
            return worker.pid, [p.pid for p in _workers()]

    killed, workers_after = asyncio.run(scenario())
    engine = connect(loaded.storage_url())
    rows = {Path(row.path).name: row for row in results(engine)}
    engine.dispose()
    return Crash(root, rows, killed, workers_after)


def test_the_image_whose_worker_died_is_rejected_with_the_reason(crash: Crash) -> None:
    row = crash.rows[BIG]
    assert (row.status, row.reason) == ("rejected", "The analysis process died on it.")


def test_the_image_whose_worker_died_is_moved_aside(crash: Crash) -> None:
    assert not (crash.root / "sem" / BIG).exists()
    assert (crash.root / "rejected" / "sem" / BIG).is_file()


def test_the_next_image_is_measured_by_a_new_worker(crash: Crash) -> None:
    assert crash.rows[AFTER].status == "ok"
    assert len(crash.workers_after) == 1
    assert crash.killed not in crash.workers_after
