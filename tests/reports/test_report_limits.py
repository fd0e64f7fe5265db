"""Control charts of a report show what the engine stored when the line ran: the limits in
force at each point's time (the newest frozen version valid from then, else the limits the
chart learned from its baseline) and the signals judged against each; a lot that spans two
versions shows both, and a version frozen after the lot never charts it."""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from report_helpers import T0, store_lot
from sqlalchemy import Engine
from sqlalchemy.orm import Session

import spc
from plantqc.charting.runner import SpcEngine
from plantqc.config import LoadedConfig
from plantqc.reports.issue import generate_report
from plantqc.store import read_samples
from plantqc.store.models import ControlLimits
from spc.rules import resolve_rules

SPEED_SIGMA = (2.2 - 1.8) / 12
"""The simulated web speed's sigma (report_helpers: (USL - LSL) / 12)."""


def _freeze(engine: Engine, tag_id: int, version: int, center: float, valid_from: datetime) -> None:
    """Store frozen phase I limits of the web speed's I-MR chart, valid from ``valid_from``."""
    with Session(engine) as session, session.begin():
        session.add(
            ControlLimits(
                tag_id=tag_id,
                chart="imr",
                version=version,
                basis="phase1",
                center=center,
                lcl=center - 3 * SPEED_SIGMA,
                ucl=center + 3 * SPEED_SIGMA,
                sigma=SPEED_SIGMA,
                sigma_method="mrbar/d2",
                frozen_by="qe.lee",
                frozen_at=valid_from,
                valid_from=valid_from,
            )
        )


def _speed_chart(
    engine: Engine, config: LoadedConfig, out: Path
) -> tuple[dict[str, Any], list[str]]:
    """The web speed's chart in report.json and its header in the HTML, once the engine has
    charted the lot."""
    SpcEngine(engine).process_all()
    report = generate_report(engine, "LOT-0001", out, loaded=config)
    doc = json.loads((report.folder / "report.json").read_text())
    row = next(r for r in doc["characteristics"] if r["key"] == "tag:web_speed_m_min")
    html = report.html.read_text()
    return row["chart"], [line for line in html.splitlines() if line.startswith("<h3>web_speed")]


def _violations(
    values: np.ndarray, center: float, rules: tuple[str, ...], sigma: float = SPEED_SIGMA
) -> dict[str, int]:
    """Signals per rule of `spc.imr` on given limits, the I and the MR chart together."""
    charts = spc.imr(values, limits=spc.ShewhartLimits(center, sigma, "given"), rules=rules)
    return dict(Counter(v.code for chart in charts.charts.values() for v in chart.violations))


@pytest.fixture
def speed(sqlite_store: Engine, config: LoadedConfig) -> tuple[int, np.ndarray]:
    """LOT-0001 (T0 to T0 + 600 s at 1 Hz): the web speed's tag id and its 600 values."""
    tag_id = store_lot(sqlite_store, config.config)["web_speed_m_min"]
    return tag_id, read_samples(sqlite_store, tag_id)["value"].to_numpy()


def test_a_lot_spanning_two_frozen_versions_is_charted_on_each_in_its_time(
    sqlite_store: Engine, config: LoadedConfig, speed: tuple[int, np.ndarray], tmp_path: Path
) -> None:
    # v1 frozen the day before, v2 from the lot's 300th second, v3 two hours after the lot
    tag_id, values = speed
    _freeze(sqlite_store, tag_id, 1, 2.00, T0 - timedelta(days=1))
    _freeze(sqlite_store, tag_id, 2, 2.01, T0 + timedelta(seconds=300))
    _freeze(sqlite_store, tag_id, 3, 2.05, T0 + timedelta(hours=2))
    chart, header = _speed_chart(sqlite_store, config, tmp_path / "out")
    first, second = chart["limits"]
    assert (first["version"], first["points"], first["first_at"], first["last_at"]) == (
        1, 300, T0.isoformat(), (T0 + timedelta(seconds=299)).isoformat(),
    )  # fmt: skip
    middle = (T0 + timedelta(seconds=300)).isoformat()
    assert (second["version"], second["points"], second["first_at"], second["valid_from"]) == (
        2, 300, middle, middle,
    )  # fmt: skip
    for segment, center in ((first, 2.00), (second, 2.01)):
        assert (segment["center"], segment["frozen"], segment["frozen_by"]) == (
            center,
            True,
            "qe.lee",
        )
        assert segment["ucl"] == pytest.approx(center + 3 * SPEED_SIGMA, rel=1e-12)
    # frozen phase I limits: every rule of the tag (we), each half on its own limits
    we = resolve_rules("we")
    assert first["violations"] == _violations(values[:300], 2.00, we)
    assert second["violations"] == _violations(values[300:], 2.01, we)
    assert chart["points"] == 600 and chart["uncharted"] == 0
    assert header and "limits version 1 then version 2)" in header[0]


def test_a_version_frozen_mid_lot_follows_the_learned_limits_before_it(
    sqlite_store: Engine, config: LoadedConfig, speed: tuple[int, np.ndarray], tmp_path: Path
) -> None:
    # nothing frozen at the lot's start: the chart learns from its first 100 points, proposes
    # phase I limits from them (stored by the engine as v2, sigma-zone rules off) and judges
    # the later points on them until v1, frozen from the 300th second; the report draws the
    # baseline on the limits it gave, with the signals the engine stored (none before them)
    tag_id, values = speed
    _freeze(sqlite_store, tag_id, 1, 2.01, T0 + timedelta(seconds=300))
    chart, header = _speed_chart(sqlite_store, config, tmp_path / "out")
    learned, frozen = chart["limits"]
    assert (learned["version"], learned["basis"], learned["frozen"], learned["points"]) == (
        2,
        "provisional",
        False,
        300,
    )
    # Montgomery §6.2.1: the baseline's phase I (MR-bar / d2, points beyond the trial limits
    # removed) is what the learned version carries
    phase_one = spc.phase_one(spc.imr, values[:100], rules="none").charts.limits
    assert learned["sigma"] == pytest.approx(phase_one.sigma, rel=1e-12)
    assert learned["rules"] == "we1, we4"
    center = phase_one.center
    expected = _violations(values[100:300], center, ("we1", "we4"), phase_one.sigma)
    assert learned["violations"] == expected
    assert (frozen["version"], frozen["points"], frozen["rules"]) == (1, 300, "we1, we2, we3, we4")
    assert frozen["violations"] == _violations(values[300:], 2.01, resolve_rules("we"))
    assert "limits version 2 then version 1)" in header[0]


def test_a_version_in_force_for_one_point_only_leaves_that_point_uncharted(
    sqlite_store: Engine, config: LoadedConfig, speed: tuple[int, np.ndarray], tmp_path: Path
) -> None:
    # an individuals chart needs two points: the lot's last second alone on v2 is not charted
    tag_id, _ = speed
    _freeze(sqlite_store, tag_id, 1, 2.00, T0 - timedelta(days=1))
    _freeze(sqlite_store, tag_id, 2, 2.01, T0 + timedelta(seconds=599))
    chart, _ = _speed_chart(sqlite_store, config, tmp_path / "out")
    assert [(s["version"], s["points"]) for s in chart["limits"]] == [(1, 599)]
    assert chart["uncharted"] == 1
