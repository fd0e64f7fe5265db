"""Profiles (cross-direction thickness scans) charted through their per-scan statistics."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from engine_helpers import feed_scans
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from plantqc.charting.runner import SpcEngine
from plantqc.store import TagRef
from plantqc.store.models import Alarm, ControlLimits, Violation

LANES = 40


def _scans(seed: int, n: int, sd: float = 0.3) -> np.ndarray:
    """``n`` scans of ``LANES`` lanes around 50 um with lane-to-lane sd ``sd``."""
    return 50.0 + sd * np.random.default_rng(seed).standard_normal((n, LANES))


def _violations(engine: Engine, tag_id: int) -> list[tuple[object, ...]]:
    with Session(engine) as session:
        rows = session.scalars(
            select(Violation).where(Violation.tag_id == tag_id).order_by(Violation.id)
        ).all()
        return [(v.chart, v.rule, v.ts, v.value, v.points) for v in rows]


def _limits(engine: Engine, tag_id: int) -> dict[str, ControlLimits]:
    with Session(engine) as session:
        rows = session.scalars(select(ControlLimits).where(ControlLimits.tag_id == tag_id))
        return {row.chart: row for row in rows}


def test_each_profile_statistic_learns_its_own_named_limits(
    sqlite_store: Engine, sqlite_tags: dict[str, TagRef]
) -> None:
    tag = sqlite_tags["cd"].tag_id
    scans = _scans(1, 100)
    feed_scans(sqlite_store, tag, scans)
    SpcEngine(sqlite_store).process(tag)
    limits = _limits(sqlite_store, tag)
    # the thickness spec 47 / 50 / 53 is not a limit: each chart learns from its first 100
    assert {name: row.basis for name, row in limits.items()} == {
        "cd_mean": "provisional",
        "cd_2sigma": "provisional",
        "cd_range": "provisional",
    }
    # TAPPI 2-sigma of a scan: twice its sample standard deviation; the learned center is the
    # mean of the baseline's points that phase I kept
    two_sigma = 2.0 * scans.std(axis=1, ddof=1)
    kept = limits["cd_2sigma"].n_used
    assert kept >= 98
    if kept == 100:
        assert limits["cd_2sigma"].center == pytest.approx(two_sigma.mean(), rel=1e-12)
    assert limits["cd_mean"].center == pytest.approx(scans.mean(), abs=0.01)


def test_a_scan_with_a_wide_spread_signals_on_the_uniformity_charts(
    sqlite_store: Engine, sqlite_tags: dict[str, TagRef]
) -> None:
    tag = sqlite_tags["cd"].tag_id  # alarms: nelson1, spec, cd_2sigma:nelson1
    scans = _scans(2, 110)
    # five times the lane-to-lane spread about the same scan mean
    scans[105] = scans[105].mean() + 5.0 * (scans[105] - scans[105].mean())
    times = feed_scans(sqlite_store, tag, scans)
    SpcEngine(sqlite_store).process(tag)
    beyond = {
        (c, ts): v for c, rule, ts, v, _ in _violations(sqlite_store, tag) if rule == "nelson1"
    }
    assert beyond[("cd_2sigma.i", times[105])] == pytest.approx(2.0 * scans[105].std(ddof=1))
    assert beyond[("cd_range.i", times[105])] == pytest.approx(np.ptp(scans[105]))
    assert not any(chart.startswith("cd_mean") for chart, _ in beyond)  # the mean held
    with Session(sqlite_store) as session:
        codes = set(session.scalars(select(Alarm.code).where(Alarm.tag_id == tag)))
    assert codes == {"cd_2sigma:nelson1"}  # the range chart's signal is an alert


def test_restart_mid_stream_gives_the_same_profile_violations_as_one_run(
    store: Engine, tags: dict[str, TagRef]
) -> None:
    scans = _scans(3, 200)
    scans[130:] += 1.5  # the mean shifts
    scans[160:] = 51.5 + 3.0 * (scans[160:] - 51.5)  # and the spread widens
    whole, halves = tags["cd"].tag_id, tags["cd_b"].tag_id
    feed_scans(store, whole, scans)
    SpcEngine(store).process(whole)
    split = 53  # while the charts learn: the baseline so far is state too
    feed_scans(store, halves, scans[:split])
    SpcEngine(store).process(halves)
    feed_scans(store, halves, scans[split:], start=5 * split)
    SpcEngine(store).process(halves)
    once, twice = _violations(store, whole), _violations(store, halves)
    assert {chart for chart, *_ in once} >= {"cd_mean.ewma", "cd_2sigma.i"}
    assert twice == once


# a fresh interpreter: the engine and the phase I study imported, one scan's statistics taken
_SCAN_ALONE = """
import json, sys
import plantqc.charting.runner
from plantqc.charting.phase1 import scan_statistics
scan_statistics([40.0, 45.0, 50.0, 55.0, 60.0, 52.0])
print(json.dumps("pandas" in sys.modules))
"""


def test_a_scans_statistics_load_no_pandas() -> None:
    # the one per-scan function of the engine and the phase I study takes spc's arrays
    loaded = subprocess.run(
        [sys.executable, "-c", _SCAN_ALONE], capture_output=True, text=True, check=True
    )
    assert json.loads(loaded.stdout) is False
