"""Subgroups by time window and by roll: membership, limits per subgroup size, restart."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pytest
from engine_helpers import T0, feed, freeze, shifted_series
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from plantqc.charting.runner import SpcEngine
from plantqc.store import TagRef
from plantqc.store.lots import record_lot, record_roll
from plantqc.store.models import ControlLimits, Violation


def _violations(engine: Engine, tag_id: int) -> list[tuple[object, ...]]:
    with Session(engine) as session:
        rows = session.scalars(
            select(Violation).where(Violation.tag_id == tag_id).order_by(Violation.id)
        ).all()
        return [(v.chart, v.rule, v.ts, v.value, v.points) for v in rows]


def _rolls(engine: Engine, line_id: int, every_s: int, count: int) -> None:
    """One lot from T0 and a new roll every ``every_s`` seconds from T0 on."""
    record_lot(engine, line_id, "LOT-1", T0, None)
    for i in range(count):
        record_roll(engine, line_id, f"R{i:03d}", T0 + timedelta(seconds=every_s * i))


def test_time_window_subgroups_are_judged_on_the_limits_of_their_size(
    sqlite_store: Engine, sqlite_tags: dict[str, TagRef]
) -> None:
    # X-bar limits with variable subgroup size n_i: 10 +/- 3 sigma / sqrt(n_i) (Montgomery
    # §6.3.2) on limits frozen at sigma 1.  Both windows average 11.8: beyond the UCL of a
    # subgroup of 4 (11.5), inside that of a subgroup of 2 (12.12)
    freeze(sqlite_store, sqlite_tags["z_time"])
    tag = sqlite_tags["z_time"].tag_id
    first = feed(sqlite_store, tag, [11.6, 12.0, 11.7, 11.9])  # 10 s window from T0
    feed(sqlite_store, tag, [11.3, 12.3], start=10)  # the next window
    feed(sqlite_store, tag, [10.0], start=20)  # opens a third window, closing the second
    SpcEngine(sqlite_store).process(tag)
    # (the second window is the second of Nelson 5's two beyond 2 sigma)
    [(chart, rule, ts, value, points)] = [
        v for v in _violations(sqlite_store, tag) if v[1] == "nelson1"
    ]
    assert (chart, rule, ts) == ("xbar", "nelson1", first[-1])
    assert value == pytest.approx(11.8)
    assert points["ucl"] == pytest.approx(10.0 + 3.0 / 2.0)


def test_a_time_window_is_charted_once_a_later_window_begins(
    sqlite_store: Engine, sqlite_tags: dict[str, TagRef]
) -> None:
    freeze(sqlite_store, sqlite_tags["z_time"])
    tag = sqlite_tags["z_time"].tag_id
    feed(sqlite_store, tag, [12.0, 12.1, 11.9])
    engine = SpcEngine(sqlite_store)
    engine.process(tag)
    assert _violations(sqlite_store, tag) == []  # the window is still open
    feed(sqlite_store, tag, [10.0], start=10)
    engine.process(tag)
    assert [v[:2] for v in _violations(sqlite_store, tag)] == [("xbar", "nelson1")]


def test_time_window_subgroups_are_charted_on_limits_learned_from_the_first_25(
    sqlite_store: Engine, sqlite_tags: dict[str, TagRef]
) -> None:
    # 25 windows of 3 samples estimate X-bar S limits (Montgomery §6.3): the grand mean, and
    # sigma = mean s / c4(3), c4(3) = 0.8862 (Montgomery Appendix VI); a 26th window at 8 is
    # charted on them once the 27th begins
    tag = sqlite_tags["z_time_no_spec"].tag_id
    first = 5.0 + 0.5 * np.random.default_rng(10).standard_normal((25, 3))
    for window, values in enumerate(first):
        feed(sqlite_store, tag, values, start=10 * window)
    shifted = feed(sqlite_store, tag, [8.0, 8.1, 7.9], start=250)
    feed(sqlite_store, tag, [5.0], start=260)
    SpcEngine(sqlite_store).process(tag)
    with Session(sqlite_store) as session:
        limits = session.scalars(select(ControlLimits).where(ControlLimits.tag_id == tag)).one()
    assert (limits.basis, limits.n_used) == ("provisional", 75)
    assert limits.center == pytest.approx(first.mean(), rel=1e-12)
    assert limits.sigma == pytest.approx(first.std(axis=1, ddof=1).mean() / 0.8862, rel=1e-3)
    beyond = [(v[0], v[2]) for v in _violations(sqlite_store, tag) if v[1] == "nelson1"]
    assert ("xbar", shifted[-1]) in beyond


def test_a_roll_subgroup_charts_the_roll_mean_when_the_next_roll_starts(
    sqlite_store: Engine, sqlite_tags: dict[str, TagRef]
) -> None:
    # EWMA of roll means, lambda 0.2, L 2.86, mu0 10, sigma 0.5 (Montgomery §9.2): the first
    # roll's mean 11.75 gives z1 = 0.2 * 11.75 + 0.8 * 10 = 10.35, beyond the exact first
    # limit 10 + 2.86 * 0.5 * sqrt(0.2 / 1.8 * (1 - 0.8 ** 2)) = 10.286
    tag = sqlite_tags["z_roll"]
    freeze(sqlite_store, tag, sigma=0.5)
    _rolls(sqlite_store, tag.line_id, every_s=10, count=2)
    first = feed(sqlite_store, tag.tag_id, [11.5, 12.0, 11.75])
    feed(sqlite_store, tag.tag_id, [10.0], start=10)
    SpcEngine(sqlite_store).process(tag.tag_id)
    [(chart, rule, ts, value, points)] = _violations(sqlite_store, tag.tag_id)
    assert (chart, rule, ts) == ("ewma", "nelson1", first[-1])
    assert value == pytest.approx(10.35)
    assert points["ucl"] == pytest.approx(10.0 + 2.86 * 0.5 * (0.2 / 1.8 * (1 - 0.8**2)) ** 0.5)


def test_samples_outside_every_roll_are_not_charted(
    sqlite_store: Engine, sqlite_tags: dict[str, TagRef]
) -> None:
    tag = sqlite_tags["z_roll"]
    freeze(sqlite_store, tag)
    feed(sqlite_store, tag.tag_id, [30.0, 31.0], start=-5)  # before the first roll
    _rolls(sqlite_store, tag.line_id, every_s=10, count=2)
    feed(sqlite_store, tag.tag_id, [10.0, 10.1])
    feed(sqlite_store, tag.tag_id, [9.9], start=10)
    SpcEngine(sqlite_store).process(tag.tag_id)
    assert _violations(sqlite_store, tag.tag_id) == []


@pytest.mark.parametrize(("first", "second"), [("z_time", "z_time_b"), ("z_roll", "z_roll_b")])
def test_restart_mid_subgroup_gives_the_same_violations_as_one_run(
    store: Engine, tags: dict[str, TagRef], first: str, second: str
) -> None:
    x = shifted_series(21)
    _rolls(store, tags[first].line_id, every_s=10, count=len(x) // 10)
    for name in (first, second):
        freeze(store, tags[name])
    whole, halves = tags[first].tag_id, tags[second].tag_id
    feed(store, whole, x)
    SpcEngine(store).process(whole)
    split = 205  # in the middle of a 10 s window and of a roll
    feed(store, halves, x[:split])
    SpcEngine(store).process(halves)
    feed(store, halves, x[split:], start=split)
    SpcEngine(store).process(halves)  # a fresh engine: only the stored state carries over
    once, twice = _violations(store, whole), _violations(store, halves)
    assert len(once) > 5
    assert twice == once


def _frozen(engine: Engine, tag_id: int, valid_from: datetime) -> None:
    """Frozen X-bar S limits (center 10.2, sigma 1) of ``tag_id``, valid from ``valid_from``."""
    with Session(engine) as session, session.begin():
        session.add(
            ControlLimits(
                tag_id=tag_id,
                chart="xbar-s",
                version=99,
                basis="phase1",
                center=10.2,
                lcl=10.2 - 3.0,
                ucl=10.2 + 3.0,
                sigma=1.0,
                sigma_method="sbar/c4",
                frozen_by="qe.lee",
                frozen_at=valid_from,
                valid_from=valid_from,
            )
        )


def test_limits_frozen_while_a_window_is_open_judge_only_the_later_windows(
    sqlite_store: Engine, sqlite_tags: dict[str, TagRef]
) -> None:
    # frozen just after the last sample charted (as a freeze is) while its window is open: that
    # window closes on the limits it ran on, the later ones on the frozen ones, as in one run
    x = shifted_series(21)
    whole, halves = sqlite_tags["z_time"].tag_id, sqlite_tags["z_time_b"].tag_id
    split = 210  # the next sample opens a new window: it closes the open one
    valid_from = T0 + timedelta(seconds=split - 1, microseconds=1)
    feed(sqlite_store, whole, x)
    _frozen(sqlite_store, whole, valid_from)
    SpcEngine(sqlite_store).process(whole)
    feed(sqlite_store, halves, x[:split])
    SpcEngine(sqlite_store).process(halves)
    _frozen(sqlite_store, halves, valid_from)
    feed(sqlite_store, halves, x[split:], start=split)
    SpcEngine(sqlite_store).process(halves)
    once, twice = _violations(sqlite_store, whole), _violations(sqlite_store, halves)
    assert {rule for _, rule, *_ in once} - {"nelson1", "nelson4"}  # sigma-zone rules ran
    assert twice == once
