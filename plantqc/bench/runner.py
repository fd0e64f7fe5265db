"""Runner benchmark: the streaming charts' CPU cost per sample, in one process, no daemon.

``tags`` I-MR tags (Nelson rules, limits learned from each chart's first 100 points; every
tenth at 4x its in-control sigma so that rules keep firing) sampled every ``interval_ms``,
stored in batches of one OPC UA publish (``batch_ms``) in a temporary SQLite store, and
charted by
`plantqc.charting.runner.SpcEngine.process_names` after each batch, as the engine process does.
``runner_cpu_s_per_5k_samples`` is the process CPU time of the charting calls per 5,000 samples;
the baseline measured in the same run is the CPU time of storing the same batches
(``store_cpu_s_per_5k_samples``, `plantqc.store.insert_samples`), and ``runner_vs_store`` is
their ratio.  The first `WARMUP_BATCHES` batches (first states) are not counted.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from plantqc.bench.line import LINE, bench_config, tag_name

WARMUP_BATCHES = 3
FAULTY_EVERY = 10
SPEC_SIGMA = 10.0 / 6.0
"""In-control sigma of the tags: their spec (40, 60) spans six of it."""


@dataclass(frozen=True)
class RunnerBenchResult:
    """CPU seconds of charting and of storing the same samples (per 5,000 samples)."""

    tags: int
    interval_ms: int
    batch_ms: int
    samples: int
    runner_cpu_s_per_5k_samples: float
    store_cpu_s_per_5k_samples: float
    runner_vs_store: float
    violations: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def run_runner_bench(
    tags: int = 500, interval_ms: int = 100, seconds: float = 10.0, *, batch_ms: int = 200
) -> RunnerBenchResult:
    """Chart ``seconds`` of data of ``tags`` tags batch by batch; meter CPU time."""
    from plantqc.charting.runner import SpcEngine
    from plantqc.config import load_config
    from plantqc.store import SampleRow, connect, insert_samples, sync_config, upgrade

    per_batch = max(1, batch_ms // interval_ms)
    rng = np.random.default_rng(1)
    sigma = np.where(np.arange(tags) % FAULTY_EVERY == 0, 4.0, 1.0) * SPEC_SIGMA
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    spc = ["spc: {chart: imr, rules: nelson}"]
    with tempfile.TemporaryDirectory(prefix="plantqc-bench-runner-") as tmp:
        folder = Path(tmp)
        config = folder / "bench.yaml"
        config.write_text(bench_config(tags, interval_ms, 4840, folder, tag_lines=spc))
        loaded = load_config(config, check_env=False)
        store = connect(f"sqlite:///{folder / 'bench.db'}")
        try:
            upgrade(store)
            refs = sync_config(store, loaded.config)
            ids = [refs[(LINE, tag_name(i))].tag_id for i in range(tags)]
            names = [(LINE, tag_name(i)) for i in range(tags)]
            engine = SpcEngine(store, config=loaded.config)
            batches = WARMUP_BATCHES + max(1, round(seconds * 1000 / (per_batch * interval_ms)))
            chart_s = store_s = 0.0
            samples = violations = 0
            for k in range(batches):
                rows = []
                for j in range(per_batch):
                    ts = t0 + timedelta(milliseconds=interval_ms * (k * per_batch + j))
                    values = 50.0 + sigma * rng.standard_normal(tags)
                    rows += [SampleRow(t, ts, float(v)) for t, v in zip(ids, values, strict=True)]
                started = time.process_time()
                insert_samples(store, rows)
                stored = time.process_time()
                runs = engine.process_names(names)
                charted = time.process_time()
                if k >= WARMUP_BATCHES:
                    store_s += stored - started
                    chart_s += charted - stored
                    samples += len(rows)
                    violations += sum(len(run.violations) for run in runs)
        finally:
            store.dispose()
    return RunnerBenchResult(
        tags=tags,
        interval_ms=interval_ms,
        batch_ms=per_batch * interval_ms,
        samples=samples,
        runner_cpu_s_per_5k_samples=chart_s / samples * 5000,
        store_cpu_s_per_5k_samples=store_s / samples * 5000,
        runner_vs_store=chart_s / store_s if store_s > 0 else float("nan"),
        violations=violations,
    )
