"""Engine benchmark: the whole loop under the issue's load on this machine.

``tags`` scalar tags at ``interval_ms`` from the built-in simulator (every tenth with its
variance inflated so that Nelson rules keep firing), one ``image_px`` square particle
micrograph dropped into the line's image folder every ``image_every_s``, and the daemon
(ingest, durable buffer, store, SPC engine, image worker pool) in its own process.  The
baseline measured in the same window is a bare asyncua client counting what the server sends:
``ratio_vs_bare_client`` near 1 and an engine backlog that does not grow over the window
(``engine_backlog_growth_s_per_min`` near 0: the least-squares slope of the backlog sampled
every ``BACKLOG_EVERY_S``) mean the load is sustained without a backlog.

Evaluation lag is ``violations.created_at - violations.ts`` (sample source time on loopback to
the violation committed); image latency is ``image_results.created_at`` minus the moment the
file appeared in the folder.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import struct
import tempfile
import time
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from sqlalchemy import func, select

from plantqc.bench.ingest import IngestBenchResult, measure_window
from plantqc.bench.line import LINE, BenchLine, bench_line, percentile, tag_name
from plantqc.store.engine_state import EngineState
from plantqc.store.models import ImageResult, Violation

FAULTY_EVERY = 10
"""Every tenth tag runs with 4x its in-control sigma, so rules fire throughout the run."""
IMAGE_SETTLE_S = 60.0
"""How long the last images may take after the window before they count as missing."""
BACKLOG_EVERY_S = 5.0
"""How often the engine's backlog is sampled during the window."""


@dataclass(frozen=True)
class EngineBenchResult(IngestBenchResult):
    """The ingest figures plus the engine's and the image pool's (times in seconds)."""

    engine_backlog_s: float | None
    engine_backlog_max_s: float | None
    engine_backlog_growth_s_per_min: float | None
    violations: int
    eval_lag_p50_s: float | None
    eval_lag_p99_s: float | None
    images_dropped: int
    images_stored: int
    image_latency_p50_s: float | None
    image_latency_p99_s: float | None
    daemon_stop_s: float | None


def png_with_text(png: bytes, text: str) -> bytes:
    """The PNG ``png`` with a tEXt chunk inserted before IEND: same pixels, new SHA-256.

    Chunk layout per the PNG specification (ISO/IEC 15948:2004, §5.3): length, type, data,
    CRC-32 of type and data.
    """
    data = b"Comment\x00" + text.encode("latin-1")
    chunk = struct.pack(">I", len(data)) + b"tEXt" + data
    chunk += struct.pack(">I", zlib.crc32(b"tEXt" + data) & 0xFFFFFFFF)
    iend = png.rindex(b"IEND") - 4
    return png[:iend] + chunk + png[iend:]


def image_section(folder: Path, pixel_size_um: float) -> str:
    """The plant config's image input watching ``folder`` for the benchmark line."""
    return "\n".join(
        [
            "images:",
            "  - name: bench-cam",
            "    kind: particles",
            f"    folder: {folder}",
            f"    line: {LINE}",
            f"    pixel_size_um: {pixel_size_um}",
        ]
    )


async def drop_images(
    png: bytes, folder: Path, staging: Path, every_s: float, stop: asyncio.Event
) -> dict[str, datetime]:
    """Move a new copy of ``png`` into ``folder`` every ``every_s``; return name -> time."""
    dropped: dict[str, datetime] = {}
    n = 0
    while not stop.is_set():
        name = f"LOT1_R{n // 10 + 1}_{n:05d}.png"
        staged = staging / name
        staged.write_bytes(png_with_text(png, name))
        os.replace(staged, folder / name)  # atomic: the watcher never sees a partial file
        dropped[name] = datetime.now(UTC)
        n += 1
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), every_s)
    return dropped


def _lags(line: BenchLine, since: datetime) -> list[float]:
    with line.store.connect() as connection:
        rows = connection.execute(
            select(Violation.ts, Violation.created_at).where(Violation.ts >= since)
        ).all()
    return [(created - ts).total_seconds() for ts, created in rows]


def _image_latencies(line: BenchLine, dropped: dict[str, datetime]) -> list[float]:
    deadline = time.monotonic() + IMAGE_SETTLE_S
    while True:
        with line.store.connect() as connection:
            rows = connection.execute(select(ImageResult.path, ImageResult.created_at)).all()
        done = {Path(path).name: created for path, created in rows}
        if set(dropped) <= set(done) or time.monotonic() > deadline:
            return [(done[n] - t).total_seconds() for n, t in dropped.items() if n in done]
        time.sleep(1.0)


def _engine_backlog_s(line: BenchLine) -> float | None:
    with line.store.connect() as connection:
        oldest = connection.execute(select(func.min(EngineState.last_ts))).scalar_one()
    if oldest is None:
        return None
    if oldest.tzinfo is None:
        oldest = oldest.replace(tzinfo=UTC)
    return (datetime.now(UTC) - oldest).total_seconds()


async def sample_backlog(
    line: BenchLine, every_s: float, stop: asyncio.Event
) -> list[tuple[float, float]]:
    """(monotonic time, engine backlog) every ``every_s`` until ``stop``."""
    samples: list[tuple[float, float]] = []
    while not stop.is_set():
        backlog = _engine_backlog_s(line)
        if backlog is not None:
            samples.append((time.monotonic(), backlog))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), every_s)
    return samples


def backlog_growth_s_per_min(samples: Sequence[tuple[float, float]]) -> float | None:
    """Least-squares slope of the backlog over time, seconds of backlog per minute; None with
    fewer than two samples."""
    if len(samples) < 2:
        return None
    t, backlog = np.asarray(samples, dtype=float).T
    return float(np.polyfit(t - t[0], backlog, 1)[0] * 60.0)


def run_engine_bench(
    tags: int = 500,
    interval_ms: int = 100,
    seconds: float = 60.0,
    *,
    image_px: int = 4096,
    image_every_s: float = 5.0,
) -> EngineBenchResult:
    """Run the loop for ``seconds`` after warm-up under the load; measure."""
    from vision.synthetic import particle_image

    synthetic = particle_image((image_px, image_px), seed=1)
    ok, encoded = cv2.imencode(".png", synthetic.image)
    if not ok:
        raise RuntimeError("OpenCV could not encode the benchmark image as PNG")
    faults = [f"--fault=variance:{tag_name(i)}@0=4" for i in range(0, tags, FAULTY_EVERY)]
    with tempfile.TemporaryDirectory(prefix="plantqc-bench-engine-") as tmp:
        work = Path(tmp)
        folder, staging = work / "images", work / "staging"
        folder.mkdir()
        staging.mkdir()
        spc = ["spc: {chart: imr, rules: nelson}"]
        with bench_line(
            tags,
            interval_ms,
            seconds,
            tag_lines=spc,
            sections=[image_section(folder, 0.5)],
            sim_args=faults,
            folder=work,
        ) as line:

            async def measure() -> tuple[Any, dict[str, datetime], list[tuple[float, float]]]:
                stop, window_ends = asyncio.Event(), asyncio.Event()
                await line.until_storing()
                dropping = asyncio.create_task(
                    drop_images(encoded.tobytes(), folder, staging, image_every_s, stop)
                )
                sampling = asyncio.create_task(
                    sample_backlog(line, min(BACKLOG_EVERY_S, seconds / 4), window_ends)
                )
                window = await measure_window(line, seconds)
                window_ends.set()
                backlog = await sampling
                stop.set()
                return window, await dropping, backlog

            since = datetime.now(UTC) + timedelta(seconds=5)
            window, dropped, backlogs = asyncio.run(measure())
            lags = _lags(line, since)
            latencies = _image_latencies(line, dropped)
    return EngineBenchResult(
        **window.figures(tags, interval_ms),
        engine_backlog_s=backlogs[-1][1] if backlogs else None,
        engine_backlog_max_s=max(b for _, b in backlogs) if backlogs else None,
        engine_backlog_growth_s_per_min=backlog_growth_s_per_min(backlogs),
        violations=len(lags),
        eval_lag_p50_s=percentile(lags, 50),
        eval_lag_p99_s=percentile(lags, 99),
        images_dropped=len(dropped),
        images_stored=len(latencies),
        image_latency_p50_s=percentile(latencies, 50),
        image_latency_p99_s=percentile(latencies, 99),
        daemon_stop_s=line.stop_s,
    )
