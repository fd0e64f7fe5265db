"""The lot report's thickness control section: loops' time in closed loop and moves, MD and CD
2 sigma, for the lot and the lots before.

Exact ground truth: the profile tag's scans are replaced by ones built to known figures.  Each
scan is ``50 + m_k + c * s_i`` with the scan offsets ``m_k`` alternating +/- a (so MD 2 sigma
about the 50 um target is exactly 2a) and a zero-mean +/- 1 pattern across the 40 lanes (so CD
2 sigma is exactly 2c).  The loop's history is filed through the control store as the
daemon's runtime files it, so its seconds and moves are known exactly.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from report_helpers import CONFIG, T0, store_lot
from sqlalchemy import Engine, delete
from sqlalchemy.orm import Session

from plantqc.config import LoadedConfig, load_config
from plantqc.control.loop import Event, Mode
from plantqc.control.records import ensure_loop, record_events
from plantqc.reports.control import thickness_figures
from plantqc.reports.issue import generate_report
from plantqc.store import SampleRow, insert_profiles, insert_samples
from plantqc.store.models import Profile, Sample
from plantqc.store.samples import ProfileRow

PATTERN = np.tile([1.0, -1.0], 20)


def _scans(engine: Engine, tag_id: int, start: datetime, md: float, cd: float) -> None:
    """Replace the tag's scans of the 600 s from ``start`` with 120 built ones."""
    with engine.begin() as connection:
        connection.execute(
            delete(Profile).where(
                Profile.tag_id == tag_id,
                Profile.ts >= start,
                Profile.ts < start + timedelta(seconds=600),
            )
        )
    rows = [
        ProfileRow(
            tag_id, start + timedelta(seconds=5 * k), list(50 + md * (-1) ** k + cd * PATTERN)
        )
        for k in range(120)
    ]
    insert_profiles(engine, rows)


def test_md_2sigma_counts_an_offset_from_target_and_cd_2sigma_pools_the_scans():
    scans = np.array([[51.0, 52.0, 53.0], [49.0, 50.0, 51.0]])  # means 52 and 50
    md, cd = thickness_figures(scans, 50.0)
    assert md == pytest.approx(2 * np.sqrt((2.0**2 + 0.0**2) / 2), rel=1e-15)
    assert cd == pytest.approx(2 * np.sqrt(4 / 6), rel=1e-15)
    # no target: about the mean scan mean, 51
    assert thickness_figures(scans, None)[0] == pytest.approx(2.0, rel=1e-15)


def test_missing_lanes_and_empty_scans_are_left_out():
    scans = np.array([[50.0, np.nan, 52.0], [np.nan, np.nan, np.nan]])
    assert thickness_figures(scans, 51.0) == (0.0, 2.0)
    assert thickness_figures(np.empty((0, 0)), 50.0) == (None, None)


def test_the_control_section_gives_the_lots_figures_beside_the_lots_before(
    sqlite_store: Engine, config: LoadedConfig, tmp_path: Path
) -> None:
    before = T0 - timedelta(seconds=600)
    store_lot(sqlite_store, config.config, "LOT-0000", start=before, close=False)
    tags = store_lot(sqlite_store, config.config, "LOT-0001")
    profile = tags["dry_thickness_profile_um"]
    _scans(sqlite_store, profile, before, md=0.8, cd=0.5)
    _scans(sqlite_store, profile, T0, md=0.2, cd=0.25)
    report = generate_report(sqlite_store, "LOT-0001", tmp_path / "out", loaded=config)
    doc = json.loads((report.folder / "report.json").read_text())
    (row,) = doc["control"]["thickness"]
    assert (row["tag"], row["target"], row["target_basis"]) == (
        "dry_thickness_profile_um",
        50.0,
        "spec target",
    )
    assert row["lot"]["lot"] == "LOT-0001"
    assert row["lot"]["scans"] == 120
    assert row["lot"]["md_2sigma"] == pytest.approx(0.4, rel=1e-12)
    assert row["lot"]["cd_2sigma"] == pytest.approx(0.5, rel=1e-12)
    (previous,) = row["before"]
    assert (previous["lot"], previous["start"], previous["end"]) == (
        "LOT-0000",
        before.isoformat(),
        T0.isoformat(),
    )
    assert previous["md_2sigma"] == pytest.approx(1.6, rel=1e-12)
    assert previous["cd_2sigma"] == pytest.approx(1.0, rel=1e-12)
    html = report.html.read_text()
    assert "7. Thickness control" in html
    assert "9. Disposition" in html


def test_the_control_section_gives_each_loops_time_in_closed_loop_holds_and_moves(
    sqlite_store: Engine, config: LoadedConfig, tmp_path: Path
) -> None:
    before = T0 - timedelta(seconds=600)
    store_lot(sqlite_store, config.config, "LOT-0000", start=before, close=False)
    store_lot(sqlite_store, config.config, "LOT-0001")
    loop = "casting-1.md"

    def at(seconds: int) -> datetime:
        return T0 + timedelta(seconds=seconds)

    events = [
        Event(at(100), loop, "mode", "alice", "off", "closed", "commissioned"),
        Event(at(120), loop, "applied", "plantqc", 400.0, 404.0, "controller"),
        Event(at(200), loop, "hold", "plantqc", None, None, "gauge sensor fault"),
        Event(at(260), loop, "resume", "plantqc", None, None, "gauge sensor fault"),
        Event(at(300), loop, "applied", "plantqc", 404.0, 401.0, "controller"),
        Event(at(500), loop, "mode", "bob", "closed", "advisory", "new recipe"),
        Event(at(520), loop, "proposed", "plantqc", 401.0, 402.5, "controller"),
    ]
    with Session(sqlite_store) as session, session.begin():
        ensure_loop(session, loop, "casting-1", Mode.OFF, at=before)
        record_events(session, events)
    report = generate_report(sqlite_store, "LOT-0001", tmp_path / "out", loaded=config)
    (row,) = json.loads((report.folder / "report.json").read_text())["control"]["loops"]
    assert (row["loop"], row["mode_now"]) == (loop, "advisory")
    assert row["lot"] == {
        "lot": "LOT-0001",
        "seconds": 600.0,
        "closed_s": 400.0,
        "closed_pct": pytest.approx(100 * 400 / 600, rel=1e-12),
        "held_in_closed_s": 60.0,
        "moves": {"proposed": 1, "accepted": 0, "rejected": 0, "applied": 2, "failed": 0},
        "travel": 7.0,
    }
    # the lot before ran with the loop off: the mode the first change left
    (previous,) = row["before"]
    assert (previous["lot"], previous["closed_s"], previous["moves"]["applied"]) == (
        "LOT-0000",
        0.0,
        0,
    )
    assert 'data-key="casting-1.md LOT-0001"' in report.html.read_text()


MD_LOOP = """    control:
      md: {mode: closed, target_um: 50.0, measurement_tag: dry_thickness_um,
           model: {gain_um_per_ml_min: 2.5, deadtime_s: 200.0},
           supervisor: {engineering_low: 10, engineering_high: 30, operator_low: 15,
                        operator_high: 25, max_move_per_step: 1, max_move_per_minute: 2}}
"""


def test_with_an_md_loop_md_2sigma_is_its_measurement_about_its_target(
    sqlite_store: Engine, tmp_path: Path
) -> None:
    path = tmp_path / "plant.yaml"
    path.write_text(CONFIG.replace("    opcua:", MD_LOOP + "    opcua:", 1), encoding="utf-8")
    loaded = load_config(path)
    tags = store_lot(sqlite_store, loaded.config, "LOT-0001")
    md = tags["dry_thickness_um"]
    with sqlite_store.begin() as connection:
        connection.execute(delete(Sample).where(Sample.tag_id == md))
    # 50.4 +/- 0.3 about a 50 um target: 2 sqrt(0.4^2 + 0.3^2) = 1.0 um
    values = [50.4 + 0.3 * (-1) ** i for i in range(600)]
    insert_samples(
        sqlite_store,
        [SampleRow(md, T0 + timedelta(seconds=i), v) for i, v in enumerate(values)],
    )
    _scans(sqlite_store, tags["dry_thickness_profile_um"], T0, md=0.2, cd=0.25)
    report = generate_report(sqlite_store, "LOT-0001", tmp_path / "out", loaded=loaded)
    (row,) = json.loads((report.folder / "report.json").read_text())["control"]["thickness"]
    assert (row["md_tag"], row["target"], row["target_basis"]) == (
        "dry_thickness_um",
        50.0,
        "MD loop target",
    )
    assert row["lot"]["md_points"] == 600
    assert row["lot"]["md_2sigma"] == pytest.approx(1.0, rel=1e-12)
    assert row["lot"]["cd_2sigma"] == pytest.approx(0.5, rel=1e-12)  # still the profile's
    assert "the Good values of dry_thickness_um" in report.html.read_text()
