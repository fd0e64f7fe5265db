"""Ingest benchmark: simulator -> daemon -> SQLite end to end, against a bare asyncua client.

The simulator serves ``tags`` scalar tags updated every ``interval_ms`` on loopback (its own
process).  The daemon (its own process, so its CPU and RSS are its own) subscribes to all of
them and stores them in a temporary SQLite file.  In the same run and over the same window a
bare asyncua subscription client in this process only counts notifications; the ratio of
the daemon's stored rate to that count says what buffering and storing cost.  What the
simulator itself produced over the window (its ``SampleCounter`` ticks, read at both ends,
times the tags) is the second baseline: on a saturated machine the simulator falls short of
the nominal load, and the bare client, one more process on the same cores, can lose its
connection, which ``bare_client_per_s`` then shows far below the others.
"""

from __future__ import annotations

import asyncio
from dataclasses import asdict, dataclass
from typing import Any

from plantqc.bench.line import BenchLine, bench_line

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
    daemon_cpu_pct_of_one_core: float
    daemon_rss_mb: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Window:
    """What one measured window saw: stored samples, bare-client notifications, daemon CPU."""

    seconds: float
    stored: int
    bare: int
    cpu_s: float
    rss_mb: float
    ticks: int

    def figures(self, tags: int, interval_ms: int) -> dict[str, Any]:
        """The ingest figures of this window (`IngestBenchResult`'s fields)."""
        return {
            "tags": tags,
            "interval_ms": interval_ms,
            "offered_per_s": tags * 1000 / interval_ms,
            "seconds": self.seconds,
            "stored_per_s": self.stored / self.seconds,
            "produced_per_s": self.ticks * tags / self.seconds,
            "ratio_vs_produced": self.stored / (self.ticks * tags) if self.ticks else float("nan"),
            "bare_client_per_s": self.bare / self.seconds,
            "ratio_vs_bare_client": self.stored / self.bare if self.bare else float("nan"),
            "daemon_cpu_pct_of_one_core": 100 * self.cpu_s / self.seconds,
            "daemon_rss_mb": self.rss_mb,
        }


async def measure_window(line: BenchLine, seconds: float) -> Window:
    """Wait until the daemon stores, warm up, then count over ``seconds``."""
    window, done = asyncio.Event(), asyncio.Event()
    counting = asyncio.create_task(line.count_notifications(window, done))
    await line.until_storing()
    await asyncio.sleep(WARMUP_S)
    ticks_0 = await line.sample_counter()
    stored_0, cpu_0 = line.stored(), line.daemon_cpu_s()
    window.set()
    await asyncio.sleep(seconds)
    window.clear()
    stored_1, cpu_1 = line.stored(), line.daemon_cpu_s()
    ticks_1 = await line.sample_counter()
    rss = line.daemon_rss_mb()
    done.set()
    return Window(
        seconds, stored_1 - stored_0, await counting, cpu_1 - cpu_0, rss, ticks_1 - ticks_0
    )


def run_ingest_bench(tags: int, interval_ms: int, seconds: float) -> IngestBenchResult:
    """Run simulator, daemon and bare client for ``seconds`` after warm-up; measure."""
    with bench_line(tags, interval_ms, seconds) as line:
        window = asyncio.run(measure_window(line, seconds))
    return IngestBenchResult(**window.figures(tags, interval_ms))
