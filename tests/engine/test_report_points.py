"""The streaming runner, phase I and reports form the same chart points, for every way of
forming subgroups (`plantqc.charting.subgroups`)."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest
from engine_helpers import T0, feed, freeze
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from plantqc.charting.catalog import load_charts
from plantqc.charting.phase1 import observations
from plantqc.charting.runner import SpcEngine
from plantqc.charting.subgroups import Rolls, chart_points, epoch_us
from plantqc.store import TagRef
from plantqc.store.engine_state import EngineState
from plantqc.store.lots import record_lot, record_roll

ROLL_STARTS_S = (5, 23, 41)


@pytest.mark.parametrize("name", ["z_time", "z_roll"])
def test_the_runner_charts_the_points_that_reports_and_phase_one_form(
    sqlite_store: Engine, sqlite_tags: dict[str, TagRef], name: str
) -> None:
    ref = sqlite_tags[name]
    freeze(sqlite_store, ref)
    record_lot(sqlite_store, ref.line_id, "LOT-1", T0, None)
    for i, start in enumerate(ROLL_STARTS_S):
        record_roll(sqlite_store, ref.line_id, f"R{i}", T0 + timedelta(seconds=start))
    values = np.random.default_rng(3).normal(10.0, 1.0, 60)
    times = feed(sqlite_store, ref.tag_id, values.tolist())
    chart = load_charts(sqlite_store)[ref.tag_id]
    series = chart.series[0]
    # roll R2 is still open; R0 and R1 end where the next begins, as record_roll closes them
    ends = [T0 + timedelta(seconds=s) for s in ROLL_STARTS_S[1:]]
    rolls = Rolls.of(
        list(zip([T0 + timedelta(seconds=s) for s in ROLL_STARTS_S], [*ends, None], strict=True))
    )
    found = chart_points(chart, series, epoch_us(times), values, rolls)
    phase_one = observations(sqlite_store, chart, series, T0, times[-1] + timedelta(seconds=1))
    assert [ts.timestamp() for ts, _ in phase_one] == found.point_times.tolist()
    if found.labels is None:  # individuals: one mean per window or roll
        assert [vs[0] for _, vs in phase_one] == pytest.approx(found.values, rel=1e-12)
    else:  # X-bar: the members of each subgroup
        cuts = np.flatnonzero(np.diff(found.labels)) + 1
        members = [group.tolist() for group in np.split(found.values, cuts)]
        assert [vs for _, vs in phase_one] == members

    SpcEngine(sqlite_store).process(ref.tag_id)
    with Session(sqlite_store) as session:
        state = session.get(EngineState, ref.tag_id)
        assert state is not None
        charted = state.state["series"][series.name]
    # the last window or roll is still open: the runner has judged every point before it
    assert charted["points"] == found.point_times.size - 1
    assert charted["open"]["last"] == times[-1].isoformat()
    if found.labels is not None:
        recent = charted["recent"]["xbar"]
        means = [float(np.mean(vs)) for _, vs in phase_one[:-1]]
        assert [v for _, _, v in recent] == pytest.approx(means[-len(recent) :], rel=1e-12)
        stamps = [ts.isoformat() for ts, _ in phase_one[:-1]]
        assert [t for _, t, _ in recent] == stamps[-len(recent) :]
