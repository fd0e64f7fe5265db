"""Idle benchmark: what the edge daemon costs on a quiet line.

The example casting line (``examples/casting.yaml``, read as the package data
``plantqc.examples``) served by the built-in simulator at its configured rates, and the daemon
(ingest, durable buffer, store, SPC engine process) storing it in a temporary SQLite file.
After the daemon stores its first samples and `WARMUP_S` more (the engine process has started
and caught up), its process tree is metered over the window: CPU time (% of one core) and the
largest resident memory sampled every `METER_EVERY_S`, summed over the daemon and the processes
it started (plain RSS, not PSS: pages they share count in each).  No image is dropped, so no
image worker is started.
"""

from __future__ import annotations

import asyncio
from dataclasses import asdict, dataclass
from importlib.resources import files
from pathlib import Path
from typing import Any

import yaml

from plantqc.bench.line import METER_EVERY_S, STORE_FILE, Running, Usage, launched
from plantqc.sim.server import with_port

EXAMPLE = "casting.yaml"
WARMUP_S = 15.0
SIM_TICK_MS = 100
"""The simulator's model step (its default); each tag updates at its configured rate."""


@dataclass(frozen=True)
class IdleBenchResult:
    """The idle footprint of the daemon and its engine process over one window."""

    config: str
    tags: int
    seconds: float
    stored_per_s: float
    cpu_pct: float
    """CPU of the daemon's process tree, % of one core."""
    rss_mib: float
    """Largest resident memory of the tree sampled over the window, MiB."""
    processes: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _example() -> dict[str, Any]:
    return dict(yaml.safe_load((files("plantqc.examples") / EXAMPLE).read_text(encoding="utf-8")))


def example_config(port: int, folder: Path) -> str:
    """The example casting config served on ``port`` and stored in ``folder``."""
    document = _example()
    for line in document["lines"]:
        line["opcua"]["endpoint"] = with_port(line["opcua"]["endpoint"], port)
    document["storage"] = {"url": f"sqlite:///{folder / STORE_FILE}"}
    document.setdefault("daemon", {}).update(
        {"metrics_port": 0, "buffer_path": str(folder / "buffer.sqlite")}
    )
    return yaml.safe_dump(document, sort_keys=False)


async def _measure(running: Running, seconds: float, warmup_s: float) -> tuple[int, Usage]:
    await running.until_storing()
    await asyncio.sleep(warmup_s)
    stored_0 = running.stored()
    ended = asyncio.Event()
    metering = asyncio.create_task(running.tree.meter(METER_EVERY_S, ended))
    await asyncio.sleep(seconds)
    ended.set()
    stored = running.stored() - stored_0
    return stored, await metering


def run_idle_bench(seconds: float = 60.0, *, warmup_s: float = WARMUP_S) -> IdleBenchResult:
    """Run the example casting line for ``seconds`` after ``warmup_s``; meter the daemon."""
    with launched(example_config, warmup_s + seconds, tick_ms=SIM_TICK_MS) as running:
        stored, usage = asyncio.run(_measure(running, seconds, warmup_s))
    return IdleBenchResult(
        config=f"examples/{EXAMPLE}",
        tags=sum(len(line["tags"]) for line in _example()["lines"]),
        seconds=seconds,
        stored_per_s=stored / seconds,
        cpu_pct=100 * usage.cpu_s / seconds,
        rss_mib=usage.rss_peak_mib,
        processes=usage.processes,
    )
