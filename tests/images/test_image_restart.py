"""A restart loses no image: files dropped while the daemon was down are measured at start."""

from __future__ import annotations

import asyncio
from pathlib import Path

from images_helpers import (
    drop,
    film_png,
    image_config,
    particles_png,
    results,
    running_daemon,
    until,
)
from ingest_helpers import free_port

from plantqc.metrics import ImageInputStatus
from plantqc.store import connect


def test_images_dropped_while_the_daemon_was_down_are_measured_at_restart(tmp_path: Path) -> None:
    loaded = image_config(tmp_path, free_port())
    sem, xsec = tmp_path / "sem", tmp_path / "xsec"

    async def first_run() -> None:
        async with running_daemon(loaded) as r:
            await until(sem.is_dir)
            drop(sem, "LOT-A_R01_0001.png", particles_png(seed=1))
            await until(lambda: r.images("sem").processed == 1)

    async def second_run() -> dict[str, ImageInputStatus]:
        async with running_daemon(loaded) as r:
            await until(lambda: r.images("sem").processed + r.images("xsec").processed == 2)
            return r.daemon.status().images

    asyncio.run(first_run())
    down = [
        drop(sem, "LOT-A_R01_0002.png", particles_png(seed=2)),
        drop(xsec, "LOT-A_R01_20261122T090000Z.png", film_png(200.0)),
    ]
    status = asyncio.run(second_run())
    # the file measured before the restart is known by its path: not measured, not a duplicate
    assert status == {
        "sem": ImageInputStatus(processed=1, rejected=0, duplicates=0, queued=0),
        "xsec": ImageInputStatus(processed=1, rejected=0, duplicates=0, queued=0),
    }
    engine = connect(loaded.storage_url())
    stored = [(row.path, row.status) for row in results(engine)]
    engine.dispose()
    assert stored == [(str(sem / "LOT-A_R01_0001.png"), "ok")] + [(str(p), "ok") for p in down]
