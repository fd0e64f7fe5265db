"""Ingest benchmark: simulator -> daemon -> SQLite end to end, against a bare asyncua client.

The simulator serves ``tags`` scalar tags updated every ``interval_ms`` on loopback (its own
process).  The daemon (its own process, so its CPU and RSS are its own) subscribes to all of
them and stores them in a temporary SQLite file.  In the same run and over the same window a
bare asyncua subscription client in this process only counts notifications; the ratio of
the daemon's stored rate to that count says what buffering and storing cost.  What the
simulator itself produced over the window (its ``SampleCounter`` ticks, read at both ends,
times the tags) is the second baseline: on a saturated machine the simulator falls short of
the nominal load, and the bare client, one more process on the same cores, can lose its
connection; it then reconnects and goes on counting (``baseline_reconnects`` says how often),
and what the server sent while it was away is missing from ``bare_client_per_s``.

The daemon's CPU and memory are those of its whole process tree (the daemon, its SPC engine
process and any image workers), sampled every `METER_EVERY_S` over the window.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from plantqc.bench.line import METER_EVERY_S, Baseline, BenchLine, Usage, bench_line

WARMUP_S = 3.0


@dataclass(frozen=True)
class IngestBenchResult:
    """End-to-end ingest figures of one run; rates in samples per second."""

    tags: int
    interval_ms: int
    offered_per_s: float
    seconds: float
    stored_per_s: float
    produced_per_s: float
    ratio_vs_produced: float
    bare_client_per_s: float
    ratio_vs_bare_client: float
    baseline_reconnects: int
    daemon_cpu_pct_of_one_core: float
    daemon_rss_mb: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Window:
    """What one measured window saw: stored samples, the baseline's count, the daemon's usage."""

    seconds: float
    stored: int
    baseline: Baseline
    usage: Usage
    ticks: int

    @property
    def cpu_pct(self) -> float:
        """CPU of the daemon's process tree, % of one core."""
        return 100 * self.usage.cpu_s / self.seconds

    def figures(self, tags: int, interval_ms: int) -> dict[str, Any]:
        """The ingest figures of this window (`IngestBenchResult`'s fields)."""
        bare = self.baseline.notifications
        return {
            "tags": tags,
            "interval_ms": interval_ms,
            "offered_per_s": tags * 1000 / interval_ms,
            "seconds": self.seconds,
            "stored_per_s": self.stored / self.seconds,
            "produced_per_s": self.ticks * tags / self.seconds,
            "ratio_vs_produced": self.stored / (self.ticks * tags) if self.ticks else float("nan"),
            "bare_client_per_s": bare / self.seconds,
            "ratio_vs_bare_client": self.stored / bare if bare else float("nan"),
            "baseline_reconnects": self.baseline.reconnects,
            "daemon_cpu_pct_of_one_core": self.cpu_pct,
            "daemon_rss_mb": self.usage.rss_end_mib,
        }


@dataclass
class Marks:
    """Set when the measured window opens and once its figures are read, for work alongside."""

    opened: asyncio.Event = field(default_factory=asyncio.Event)
    closed: asyncio.Event = field(default_factory=asyncio.Event)


async def measure_window(
    line: BenchLine,
    seconds: float,
    marks: Marks | None = None,
    ready: Callable[[], Awaitable[None]] | None = None,
) -> Window:
    """Wait until the daemon stores (and ``ready`` returns), warm up, then count over
    ``seconds``."""
    marks = marks or Marks()
    window, done = asyncio.Event(), asyncio.Event()
    counting = asyncio.create_task(line.count_notifications(window, done))
    await line.running.until_storing()
    if ready is not None:
        await ready()
    await asyncio.sleep(WARMUP_S)
    ticks_0 = await line.sample_counter()
    stored_0 = line.running.stored()
    ended = asyncio.Event()
    metering = asyncio.create_task(line.running.tree.meter(METER_EVERY_S, ended))
    window.set()
    marks.opened.set()
    await asyncio.sleep(seconds)
    window.clear()
    ended.set()
    stored_1 = line.running.stored()
    usage = await metering
    ticks_1 = await line.sample_counter()
    done.set()
    baseline = await counting
    marks.closed.set()
    return Window(seconds, stored_1 - stored_0, baseline, usage, ticks_1 - ticks_0)


def run_ingest_bench(tags: int, interval_ms: int, seconds: float) -> IngestBenchResult:
    """Run simulator, daemon and bare client for ``seconds`` after warm-up; measure."""
    with bench_line(tags, interval_ms, seconds) as line:
        window = asyncio.run(measure_window(line, seconds))
    return IngestBenchResult(**window.figures(tags, interval_ms))
