"""Store benchmark: batched idempotent sample inserts against a plain driver ``executemany``.

Both paths write the same rows (tags x timestamps) in the same batches to a table with the
same primary key; the baseline has no conflict handling, so the ratio prices idempotency
and the bulk path together.  PostgreSQL runs in a scratch database dropped afterwards.
"""

from __future__ import annotations

import contextlib
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from plantqc.config import Line as LineConfig
from plantqc.config import OpcUa, Plant, PlantConfig
from plantqc.config import Tag as TagConfig
from plantqc.store import SampleRow, insert_samples, open_engine, sync_config, upgrade
from plantqc.store.db import scratch_database

_BASELINE_DDL = (
    "CREATE TABLE bench_baseline (tag_id integer NOT NULL, ts {ts} NOT NULL, value {real}, "
    "status bigint NOT NULL, ts_origin smallint NOT NULL, backfilled boolean NOT NULL, "
    "PRIMARY KEY (tag_id, ts)){suffix}"
)


@dataclass(frozen=True)
class StoreBenchResult:
    """Throughput of one dialect, in samples per second, and the ratio to the baseline."""

    dialect: str
    samples: int
    batch_size: int
    seconds: float
    samples_per_s: float
    replay_seconds: float
    replay_inserted: int
    baseline_seconds: float
    baseline_samples_per_s: float
    ratio_vs_baseline: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def synthetic_rows(tag_ids: Sequence[int], timestamps: int) -> list[SampleRow]:
    """``len(tag_ids) * timestamps`` samples, 1 s apart per tag, in time-major order."""
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    times = [t0 + timedelta(seconds=i) for i in range(timestamps)]
    return [
        SampleRow(tag_id, ts, 50.0 + (i % 97) * 0.01, 0)
        for i, ts in enumerate(times)
        for tag_id in tag_ids
    ]


def _batches(rows: list[SampleRow], size: int) -> Iterator[list[SampleRow]]:
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


def _timed(action: Callable[[], int]) -> tuple[float, int]:
    start = time.perf_counter()
    result = action()
    return time.perf_counter() - start, result


@contextmanager
def _scratch_engine(url: str | None) -> Iterator[Engine]:
    """SQLite in a temporary file, or a PostgreSQL database created and dropped around the run."""
    with contextlib.ExitStack() as stack:
        if url is None or url.startswith("sqlite"):
            folder = stack.enter_context(tempfile.TemporaryDirectory(prefix="plantqc-bench-"))
            scratch = f"sqlite:///{Path(folder) / 'bench.db'}"
        else:
            scratch = stack.enter_context(scratch_database(url, "plantqc_bench_store"))
        engine = open_engine(scratch)
        try:
            yield engine
        finally:
            engine.dispose()


def _bench_config(n_tags: int) -> PlantConfig:
    tags = [TagConfig(name=f"t{i:05d}", node_id=f"ns=2;i={i + 1}") for i in range(n_tags)]
    line = LineConfig(
        name="bench-line",
        kind="casting",
        opcua=OpcUa(endpoint="opc.tcp://127.0.0.1:4840/"),
        tags=tags,
    )
    return PlantConfig(plant=Plant(site="bench", area="bench"), lines=[line])


def _baseline(engine: Engine, rows: list[SampleRow], batch_size: int) -> int:
    sqlite = engine.dialect.name == "sqlite"
    ddl = _BASELINE_DDL.format(
        ts="text" if sqlite else "timestamptz",
        real="real" if sqlite else "float8",
        suffix=" WITHOUT ROWID" if sqlite else "",
    )
    marker = "?" if sqlite else "%s"
    # every column of a stored sample (`SampleRow`), as the store writes them
    insert = f"INSERT INTO bench_baseline VALUES ({', '.join([marker] * len(SampleRow._fields))})"
    with engine.begin() as connection:
        connection.exec_driver_sql(ddl)
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        for batch in _batches(rows, batch_size):
            if sqlite:
                # the driver cannot bind an aware datetime: convert as any caller must
                params: list[tuple[Any, ...]] = [
                    (r[0], r[1].isoformat(sep=" "), *r[2:]) for r in batch
                ]
            else:
                params = [tuple(r) for r in batch]
            cursor.executemany(insert, params)
            raw.commit()
        cursor.close()
    finally:
        raw.close()
    return len(rows)


def run_store_bench(
    url: str | None = None, *, tags: int = 1000, timestamps: int = 1000, batch_size: int = 10_000
) -> StoreBenchResult:
    """Insert ``tags * timestamps`` samples in batches, replay them, and time a baseline."""
    with _scratch_engine(url) as engine:
        upgrade(engine)
        refs = sync_config(engine, _bench_config(tags))
        rows = synthetic_rows([ref.tag_id for ref in refs.values()], timestamps)

        def insert_all() -> int:
            return sum(insert_samples(engine, batch) for batch in _batches(rows, batch_size))

        seconds, inserted = _timed(insert_all)
        if inserted != len(rows):
            raise RuntimeError(f"inserted {inserted} of {len(rows)} samples")
        replay_seconds, replay_inserted = _timed(insert_all)
        baseline_seconds, _ = _timed(lambda: _baseline(engine, rows, batch_size))
        dialect = engine.dialect.name
    return StoreBenchResult(
        dialect=dialect,
        samples=len(rows),
        batch_size=batch_size,
        seconds=seconds,
        samples_per_s=len(rows) / seconds,
        replay_seconds=replay_seconds,
        replay_inserted=replay_inserted,
        baseline_seconds=baseline_seconds,
        baseline_samples_per_s=len(rows) / baseline_seconds,
        ratio_vs_baseline=baseline_seconds / seconds,
    )
