"""The QC report charts the same points as the engine, for every way of forming subgroups."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest
from engine_helpers import T0, feed
from sqlalchemy import Engine

from plantqc.engine import _observations, load_charts
from plantqc.reports.compute import chart_points
from plantqc.reports.data import RollInfo
from plantqc.store import TagRef
from plantqc.store.lots import record_lot, record_roll

ROLL_STARTS_S = (5, 23, 41)


@pytest.mark.parametrize("name", ["z_time", "z_roll"])
def test_report_points_equal_the_engine_observations(
    sqlite_store: Engine, sqlite_tags: dict[str, TagRef], name: str
) -> None:
    ref = sqlite_tags[name]
    record_lot(sqlite_store, ref.line_id, "LOT-1", T0, None)
    for i, start in enumerate(ROLL_STARTS_S):
        record_roll(sqlite_store, ref.line_id, f"R{i}", T0 + timedelta(seconds=start))
    values = np.random.default_rng(3).normal(10.0, 1.0, 60)
    times = feed(sqlite_store, ref.tag_id, values.tolist())
    chart = load_charts(sqlite_store)[ref.tag_id]
    end = times[-1] + timedelta(seconds=1)
    expected = _observations(sqlite_store, chart, chart.series[0], T0, end)

    times_s = np.array([t.timestamp() for t in times])
    # roll R2 is still open; R0 and R1 end where the next begins, as record_roll closes them
    rolls = [
        RollInfo(
            f"R{i}",
            T0 + timedelta(seconds=start),
            T0 + timedelta(seconds=ROLL_STARTS_S[i + 1]) if i + 1 < len(ROLL_STARTS_S) else None,
            None,
        )
        for i, start in enumerate(ROLL_STARTS_S)
    ]
    point_times, point_values, labels = chart_points(chart, times_s, values, rolls)
    if labels is None:  # individuals: one mean per window or roll
        assert point_times.tolist() == [ts.timestamp() for ts, _ in expected]
        assert point_values == pytest.approx([vs[0] for _, vs in expected], rel=1e-12)
    else:  # X-bar: the members of each subgroup
        groups = [point_values[labels == key].tolist() for key in dict.fromkeys(labels.tolist())]
        assert len(groups) == len(expected)
        for group, (_, members) in zip(groups, expected, strict=True):
            assert group == pytest.approx(members, rel=1e-12)
