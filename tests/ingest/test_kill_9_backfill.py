"""Done-when test of issue 20: ``kill -9`` of real daemons leaves no gap the server can fill.

The simulator (``plantqc sim``, a real asyncua server) historises its SampleCounter (one count
every 100 ms) and serves a second 100 ms tag without history.  ``plantqc run`` is started,
killed with SIGKILL three times while the counter runs, and started again each time.  Ground
truth is exact: the counter counts ticks, so the stored values must be every integer from the
first stored to the last once; the tag without history must show each hole in its stored
series recorded as a data gap whose bounds are the samples on either side of the hole; and no
process of a killed daemon (its SPC engine) may outlive it by more than 5 s.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import psutil
import pytest
from ingest_helpers import counter_config, free_port
from sqlalchemy import Engine, select

from plantqc.store import find_tag, open_engine, read_samples
from plantqc.store.gaps import read_gaps
from plantqc.store.models import Sample

PLANTQC = str(Path(sys.executable).parent / "plantqc")
KILLS = 3
LIVE_SAMPLES_PER_RUN = 15  # counter values a run stores live before it is killed
NO_HISTORY_TAG = """      - name: speed_no_history
        node_id: nsu=urn:plantqc:sim;s=casting-1.speed_no_history
        sampling_interval_ms: 100
"""
SCENARIO = "history:\n  keep_s: 300\n  without: [speed_no_history]\n"


def _config(folder: Path, port: int) -> Path:
    loaded = counter_config(folder, port)
    text = loaded.path.read_text().replace("    tags:\n", "    tags:\n" + NO_HISTORY_TAG, 1)
    loaded.path.write_text(text)
    return loaded.path


def _stored(engine: Engine, tag: str) -> int:
    try:
        return len(read_samples(engine, find_tag(engine, "casting-1", tag).tag_id))
    except Exception:  # not created yet by the first daemon, or locked for a moment
        return 0


def _samples(engine: Engine, tag: str) -> pd.DataFrame:
    """A tag's samples in time order: ``time``, ``value`` and ``backfilled``."""
    tag_id = find_tag(engine, "casting-1", tag).tag_id
    query = (
        select(Sample.ts, Sample.value, Sample.backfilled)
        .where(Sample.tag_id == tag_id)
        .order_by(Sample.ts)
    )
    with engine.connect() as connection:
        rows = connection.execute(query).all()
    frame = pd.DataFrame(rows, columns=["time", "value", "backfilled"])
    frame["time"] = pd.to_datetime(pd.Series(frame["time"], dtype=object), utc=True)
    return frame


def _wait_for_live_samples(engine: Engine, before: int, daemon: subprocess.Popen[bytes]) -> int:
    deadline = time.monotonic() + 45.0  # a loaded machine starts the daemon slowly
    while time.monotonic() < deadline:
        assert daemon.poll() is None, "the daemon ended on its own"
        count = _stored(engine, "sample_counter")
        if count >= before + LIVE_SAMPLES_PER_RUN:
            return count
        time.sleep(0.2)
    raise AssertionError("the daemon stored no new samples in 45 s")


def _kill_9(daemon: subprocess.Popen[bytes]) -> list[int]:
    """SIGKILL the daemon; the pids of its descendants still running 5 s later."""
    children = psutil.Process(daemon.pid).children(recursive=True)
    os.kill(daemon.pid, signal.SIGKILL)
    daemon.wait()
    _, alive = psutil.wait_procs(children, timeout=5.0)
    return [p.pid for p in alive]


@pytest.mark.slow
def test_kill_9_three_times_leaves_no_gap_where_the_server_keeps_history(tmp_path: Path) -> None:
    config = _config(tmp_path, free_port())
    (tmp_path / "scenario.yaml").write_text(SCENARIO)
    db = f"sqlite:///{tmp_path / 'plantqc.db'}"
    run = [PLANTQC, "run", "-c", str(config), "--db", db]
    sim = subprocess.Popen(
        [PLANTQC, "sim", "-c", str(config), "--scenario", str(tmp_path / "scenario.yaml")],
        stderr=subprocess.DEVNULL,
    )
    engine = open_engine(db)
    orphans: list[int] = []
    try:
        stored = 0
        for _ in range(KILLS):
            daemon = subprocess.Popen(run, stderr=subprocess.DEVNULL)
            stored = _wait_for_live_samples(engine, stored, daemon)
            orphans += _kill_9(daemon)
        subprocess.run([*run, "--duration", "4"], check=True, stderr=subprocess.DEVNULL)
    finally:
        sim.terminate()
        sim.wait()
        for pid in orphans:  # the engines the killed daemons left behind, if any
            with contextlib.suppress(psutil.NoSuchProcess):
                psutil.Process(pid).kill()

    counter = _samples(engine, "sample_counter")
    values = [int(v) for v in counter["value"]]
    assert len(values) > (KILLS + 1) * LIVE_SAMPLES_PER_RUN
    # 0 missing and 0 duplicated: every count from the first stored to the last, once each
    assert sorted(values) == list(range(values[0], values[-1] + 1))
    assert values == sorted(values)  # in time order too
    # what each restart read back is marked: one run of backfilled samples per restart
    flags = counter["backfilled"].tolist()
    assert sum(1 for i, f in enumerate(flags) if f and (i == 0 or not flags[i - 1])) == KILLS

    # without history, each hole is a recorded gap, bounded by the samples around it
    plain = _samples(engine, "speed_no_history")
    times = list(plain["time"])
    holes = {
        (a.to_pydatetime(), b.to_pydatetime())
        for a, b in itertools.pairwise(times)
        if (b - a).total_seconds() > 0.2  # more than two sampling intervals
    }
    tag_id = find_tag(engine, "casting-1", "speed_no_history").tag_id
    gaps = read_gaps(engine, tag_id)
    recorded = {
        (s.to_pydatetime(), e.to_pydatetime())
        for s, e in zip(gaps["start"], gaps["end"], strict=True)
    }
    assert len(holes) == KILLS
    assert recorded == holes
    assert set(gaps["reason"]) == {"the server keeps no history of this node"}
    assert not plain["backfilled"].any()
    engine.dispose()
    # no process left: each killed daemon's engine died with it (engine_process, item 4)
    assert orphans == []
