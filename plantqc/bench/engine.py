"""Engine benchmark: the whole loop under the issue's load on this machine.

``tags`` scalar tags at ``interval_ms`` from the built-in simulator (every tenth with its
variance inflated so that Nelson rules keep firing), one ``image_px`` square particle
micrograph dropped into the line's image folder every ``image_every_s``, and the daemon
(ingest, durable buffer, store, SPC engine, image worker pool) in its own process.  The
baseline measured in the same window is a bare asyncua client counting what the server sends:
``ratio_vs_bare_client`` near 1 and an engine backlog that does not grow over the window
(``engine_backlog_growth_s_per_min`` near 0: the least-squares slope of the backlog sampled
every ``BACKLOG_EVERY_S``) mean the load is sustained without a backlog.

The window opens once the engine has charted every tag once and its backlog is below
`STEADY_BACKLOG_S` (`until_charting`), so the figures are those of the steady state, not of
the engine's first round.

Evaluation lag is ``violations.created_at - violations.ts`` (sample source time on loopback to
the violation committed); image latency is ``image_results.created_at`` minus the moment the
file appeared in the folder.

What the charts evaluated is read from what the engine persists, the ``engine_state`` row of
each charted tag (the source time of the last sample it consumed, ``last_ts``, and when that
row was written, ``updated_at``), polled every `POLL_S`:

- ``charted_per_s``: Good samples at or before their tag's ``last_ts``, counted at the start
  and at the end of the window, per second between the two counts.
- ``lag_p50_s`` / ``lag_p99_s``: for each Good sample whose source time falls in the window,
  the ``updated_at`` of the first polled row whose ``last_ts`` reached it, minus that source
  time.  A row rewritten twice between polls shows only its second write, so a lag can be too
  long by at most `POLL_S`, never too short; a sample still not charted `LAG_SETTLE_S` after the
  window counts with its lag so far (a lower bound), so an engine that falls behind cannot
  flatter the percentiles by leaving samples out.

``baseline_per_s`` is ``bare_client_per_s`` under the name the speed targets use; ``cpu_pct`` is
``daemon_cpu_pct_of_one_core``, and ``rss_mib`` the largest resident memory of the daemon's
process tree (daemon and engine process, and image workers when images run) sampled over the
window, where ``daemon_rss_mb`` is its value at the end.  Both are plain RSS (VmRSS) summed over
the processes, not PSS: a page two of them share counts twice, so the sum overstates rather
than understates what the tree holds.
"""

from __future__ import annotations

import asyncio
import bisect
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

import cv2
import numpy as np
from sqlalchemy import func, select

from plantqc.bench.ingest import IngestBenchResult, Marks, Window, measure_window
from plantqc.bench.line import LINE, BenchLine, bench_line, percentile, tag_name
from plantqc.quality import GOOD_BELOW
from plantqc.store.engine_state import EngineState
from plantqc.store.models import ImageResult, Sample, Violation

FAULTY_EVERY = 10
"""Every tenth tag runs with 4x its in-control sigma, so rules fire throughout the run."""
IMAGE_SETTLE_S = 60.0
"""How long the last images may take after the window before they count as missing."""
BACKLOG_EVERY_S = 5.0
"""How often the engine's backlog is sampled during the window."""
POLL_S = 0.25
"""How often the engine's persisted progress is read, s: the bound on how much a lag overstates."""
ENGINE_READY_S = 60.0
"""Bound on the wait for the engine's first round before the window (see `until_charting`)."""
STEADY_BACKLOG_S = 1.0
"""Engine backlog below which its start is taken to be over, s."""
LAG_SETTLE_S = 10.0
"""How long after the window the samples of its end may take to be charted before they count
with their lag so far."""


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
    baseline_per_s: float
    charted_per_s: float
    lag_p50_s: float | None
    lag_p99_s: float | None
    cpu_pct: float
    rss_mib: float


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


async def until_charting(line: BenchLine, timeout_s: float = ENGINE_READY_S) -> None:
    """Wait until the engine has charted every tag once and its backlog is below
    `STEADY_BACKLOG_S` (its first round is over), or ``timeout_s`` passed: the window then
    measures the steady state, not the start."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        progress = await asyncio.to_thread(_progress, line)
        if len(progress) >= line.tags:
            backlog = await asyncio.to_thread(_engine_backlog_s, line)
            if backlog is not None and backlog < STEADY_BACKLOG_S:
                return
        await asyncio.sleep(POLL_S)


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


@dataclass(frozen=True)
class Charting:
    """What the charts evaluated over the window, read from the engine's persisted state."""

    charted_per_s: float
    lags_s: list[float]


def _charted(line: BenchLine) -> int:
    """Good samples at or before their tag's ``engine_state.last_ts``: what the charts consumed."""
    query = (
        select(func.count())
        .select_from(Sample)
        .join(EngineState, EngineState.tag_id == Sample.tag_id)
        .where(Sample.ts <= EngineState.last_ts, Sample.status < GOOD_BELOW)
    )
    with line.store.connect() as connection:
        return int(connection.execute(query).scalar_one())


def _progress(line: BenchLine) -> list[tuple[int, datetime, datetime]]:
    """(tag, last sample consumed, when written) of every charted tag, now."""
    query = select(EngineState.tag_id, EngineState.last_ts, EngineState.updated_at).where(
        EngineState.last_ts.is_not(None)
    )
    with line.store.connect() as connection:
        return [(tag, last, written) for tag, last, written in connection.execute(query)]


def _window_samples(line: BenchLine, start: datetime, end: datetime) -> list[tuple[int, datetime]]:
    query = select(Sample.tag_id, Sample.ts).where(
        Sample.ts >= start, Sample.ts <= end, Sample.status < GOOD_BELOW
    )
    with line.store.connect() as connection:
        return [(tag, ts) for tag, ts in connection.execute(query)]


def chart_lags(
    samples: Sequence[tuple[int, datetime]],
    progress: dict[int, list[tuple[datetime, datetime]]],
    now: datetime,
) -> list[float]:
    """Seconds from each sample's source time to the write of the engine state that charted it.

    ``progress`` holds, per tag and in polling order, each distinct (``last_ts``,
    ``updated_at``) seen; a sample is charted by the first whose ``last_ts`` reached its time.
    A sample no state reached counts ``now`` minus its time.
    """
    lags = []
    for tag, ts in samples:
        seen = progress.get(tag, [])
        i = bisect.bisect_left(seen, ts, key=lambda p: p[0])
        charted = seen[i][1] if i < len(seen) else now
        lags.append((charted - ts).total_seconds())
    return lags


async def track_charting(line: BenchLine, marks: Marks) -> Charting:
    """Follow the engine's persisted progress from the window's start until its samples are
    charted (or `LAG_SETTLE_S` after it); the database is read in a thread, off the loop that
    the baseline client counts in."""
    progress: dict[int, list[tuple[datetime, datetime]]] = {}

    async def poll() -> None:
        for tag, last, written in await asyncio.to_thread(_progress, line):
            seen = progress.setdefault(tag, [])
            if not seen or seen[-1][0] != last:
                seen.append((last, written))

    await marks.opened.wait()
    start, started = datetime.now(UTC), time.monotonic()
    charted_0 = await asyncio.to_thread(_charted, line)
    while not marks.closed.is_set():
        await poll()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(marks.closed.wait(), POLL_S)
    end, ended = datetime.now(UTC), time.monotonic()
    charted_1 = await asyncio.to_thread(_charted, line)
    deadline = time.monotonic() + LAG_SETTLE_S
    while time.monotonic() < deadline:
        await poll()
        if progress and min(seen[-1][0] for seen in progress.values()) >= end:
            break
        await asyncio.sleep(POLL_S)
    samples = await asyncio.to_thread(_window_samples, line, start, end)
    return Charting(
        (charted_1 - charted_0) / (ended - started),
        chart_lags(samples, progress, datetime.now(UTC)),
    )


def run_engine_bench(
    tags: int = 500,
    interval_ms: int = 100,
    seconds: float = 60.0,
    *,
    image_px: int = 4096,
    image_every_s: float | None = 5.0,
) -> EngineBenchResult:
    """Run the loop for ``seconds`` after warm-up under the load; measure.

    ``image_every_s`` None runs without images: no image input, so no image workers either.
    """
    faults = [f"--fault=variance:{tag_name(i)}@0=4" for i in range(0, tags, FAULTY_EVERY)]
    with tempfile.TemporaryDirectory(prefix="plantqc-bench-engine-") as tmp:
        work = Path(tmp)
        folder, staging = work / "images", work / "staging"
        folder.mkdir()
        staging.mkdir()
        spc = ["spc: {chart: imr, rules: nelson}"]
        images = [] if image_every_s is None else [image_section(folder, 0.5)]
        with bench_line(
            tags,
            interval_ms,
            seconds,
            tag_lines=spc,
            sections=images,
            sim_args=faults,
            folder=work,
        ) as line:

            async def measure() -> tuple[
                Window, Charting, dict[str, datetime], list[tuple[float, float]]
            ]:
                stop, marks = asyncio.Event(), Marks()
                await line.running.until_storing()
                dropping = asyncio.create_task(
                    drop_images(_benchmark_png(image_px), folder, staging, image_every_s, stop)
                    if image_every_s is not None
                    else _nothing_dropped()
                )
                sampling = asyncio.create_task(
                    sample_backlog(line, min(BACKLOG_EVERY_S, seconds / 4), marks.closed)
                )
                tracking = asyncio.create_task(track_charting(line, marks))
                window = await measure_window(line, seconds, marks, lambda: until_charting(line))
                backlog = await sampling
                stop.set()
                return window, await tracking, await dropping, backlog

            since = datetime.now(UTC) + timedelta(seconds=5)
            window, charting, dropped, backlogs = asyncio.run(measure())
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
        baseline_per_s=window.baseline.notifications / window.seconds,
        charted_per_s=charting.charted_per_s,
        lag_p50_s=percentile(charting.lags_s, 50),
        lag_p99_s=percentile(charting.lags_s, 99),
        cpu_pct=window.cpu_pct,
        rss_mib=window.usage.rss_peak_mib,
    )


def _benchmark_png(side_px: int) -> bytes:
    """A synthetic particle micrograph of ``side_px`` square, PNG-encoded."""
    from vision.synthetic import particle_image

    ok, encoded = cv2.imencode(".png", particle_image((side_px, side_px), seed=1).image)
    if not ok:
        raise RuntimeError("OpenCV could not encode the benchmark image as PNG")
    return bytes(encoded.tobytes())


async def _nothing_dropped() -> dict[str, datetime]:
    return {}
