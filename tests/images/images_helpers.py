"""Helpers of the image-loop tests: a config with image folders in a temp dir, seeded image
files of known geometry, and a real daemon (with the SPC engine) beside the line simulator."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from ingest_helpers import EXAMPLES
from sqlalchemy import Engine, select

from plantqc.charting.hook import StoreHook
from plantqc.config import LoadedConfig, load_config
from plantqc.daemon import Daemon
from plantqc.metrics import ImageInputStatus
from plantqc.sim.server import LineSimulator
from plantqc.store import connect
from plantqc.store.models import ImageResult
from vision.synthetic import film_image, particle_image

PARTICLE_PIXEL_UM = 0.5
FILM_PIXEL_UM = 0.25
# mean thickness spec 47 / 50 / 53 um: spec-derived limits center 50, sigma (53 - 47) / 6 = 1,
# so LCL = 47 um and a 15 um film (60 px at 0.25 um/px) is a Nelson 1 point
IMAGES = """
images:
  - name: sem
    kind: particles
    line: casting-1
    folder: {root}/sem
    pattern: '(?P<lot>[^_]+)_(?P<roll>[^_]+)_.*\\.png$'
    pixel_size_um: {particle_um}
  - name: xsec
    kind: thickness
    line: casting-1
    folder: {root}/xsec
    pattern: '(?P<lot>[^_]+)_(?P<roll>[^_]+)_(?P<time>\\d{{8}}T\\d{{6}}Z)\\.png$'
    pixel_size_um: {film_um}
    metrics:
      mean_thickness_um:
        spec: {{lsl: 47, target: 50, usl: 53}}
        spc: {{chart: imr}}
daemon:
  metrics_port: 0
  flush_interval_ms: 50
  reconnect_max_s: 1
  buffer_depth_interval_s: 0.5
  image_settle_s: 0.3
  buffer_path: {root}/buffer.sqlite
  image_overlay_folder: {root}/overlays
  image_rejected_folder: {root}/rejected
"""


def image_config(root: Path, port: int) -> LoadedConfig:
    """The casting example served on ``port``, with SQLite, buffer and image folders in
    ``root``: particle images in ``root/sem``, cross-sections in ``root/xsec``."""
    text = (EXAMPLES / "casting.yaml").read_text()
    text = text[: text.index("\nimages:\n")]
    text = text.replace("127.0.0.1:4840", f"127.0.0.1:{port}")
    text = text.replace("sqlite:///plantqc.db", f"sqlite:///{root / 'plantqc.db'}")
    text += IMAGES.format(root=root, particle_um=PARTICLE_PIXEL_UM, film_um=FILM_PIXEL_UM)
    path = root / "plant.yaml"
    path.write_text(text)
    return load_config(path, check_env=False)


def png(image: np.ndarray) -> bytes:
    ok, data = cv2.imencode(".png", image)
    assert ok
    return data.tobytes()


def particles_png(seed: int) -> bytes:
    """A 512 x 512 seeded particle image (`vision.synthetic.particle_image`)."""
    return png(particle_image((512, 512), seed=seed).image)


def film_png(thickness_px: float, seed: int = 0) -> bytes:
    """A 300 x 600 cross-section of a film ``thickness_px`` thick."""
    return png(film_image((300, 600), thickness_px=thickness_px, top_px=100, seed=seed).image)


def drop(folder: Path, name: str, data: bytes) -> Path:
    """Write ``data`` as the file ``name`` of ``folder``, as a camera does."""
    path = folder / name
    path.write_bytes(data)
    return path


def results(engine: Engine) -> list[ImageResult]:
    """Every stored image result, in the order stored."""
    with engine.connect() as connection:
        return list(connection.execute(select(ImageResult).order_by(ImageResult.id)).all())


async def until(condition: Callable[[], bool], timeout_s: float = 60.0) -> None:
    """Wait until ``condition()`` holds; fail the test after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout_s} s")
        await asyncio.sleep(0.1)


@dataclass
class Running:
    """A daemon running with the SPC engine, and its store."""

    daemon: Daemon
    engine: Engine

    def images(self, name: str) -> ImageInputStatus:
        return self.daemon.status().images[name]


@asynccontextmanager
async def running_daemon(loaded: LoadedConfig) -> AsyncIterator[Running]:
    """The line simulator and a daemon with the SPC engine's store hook, stopped on exit."""
    url = loaded.storage_url()
    simulator = LineSimulator(loaded.config)
    await simulator.start()
    hook = StoreHook(url)
    daemon = Daemon(loaded, on_stored=hook)
    run = asyncio.create_task(daemon.run())
    engine = connect(url)
    try:
        yield Running(daemon, engine)
    finally:
        daemon.request_stop()
        await run
        await simulator.stop()
        hook.close()
        engine.dispose()
