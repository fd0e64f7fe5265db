"""The streaming engine: Good samples in time order, limits in force, violations, restart."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest
from engine_helpers import T0, feed, freeze, shifted_series, stored_violations
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

import plantqc.charting.runner as runner_module
import spc
from plantqc.buffer import Reading
from plantqc.charting.catalog import chart_for
from plantqc.charting.hook import StoreHook
from plantqc.charting.limits import ZONE_RULES
from plantqc.charting.phase1 import estimate_limits, freeze_limits
from plantqc.charting.runner import SpcEngine
from plantqc.store import TagRef
from plantqc.store.engine_state import EngineState
from plantqc.store.models import ControlLimits
from spc import ShewhartLimits, imr

BAD = 0x80000000
UNCERTAIN = 0x40000000


def test_cusum_signals_at_period_29_of_montgomery_example_9_1(
    sqlite_store: Engine, sqlite_tags: dict[str, TagRef], spc_data
) -> None:
    # Montgomery, Introduction to SQC 7th ed., Example 9.1 / Table 9.2 (mu0 = 10, sigma = 1,
    # K = 0.5, H = 5): C+ first exceeds H at period 29, C+_29 = 5.28
    x = spc_data("montgomery_table9_1").value.to_numpy()
    freeze(sqlite_store, sqlite_tags["x_cusum"])
    tag = sqlite_tags["x_cusum"].tag_id
    times = feed(sqlite_store, tag, x)
    SpcEngine(sqlite_store).process(tag)
    found = stored_violations(sqlite_store, tag)
    assert next((chart, rule, ts) for chart, rule, ts, *_ in found) == (
        "cusum_upper",
        "nelson1",
        times[28],
    )
    assert round(found[0][3], 2) == 5.28


def test_bad_and_uncertain_samples_are_not_charted(
    sqlite_store: Engine, sqlite_tags: dict[str, TagRef]
) -> None:
    freeze(sqlite_store, sqlite_tags["x_imr"])
    tag = sqlite_tags["x_imr"].tag_id
    values = [10.0, 10.2, 99.0, -50.0, 9.9, 10.1]
    feed(sqlite_store, tag, values, status=[0, 0, BAD, UNCERTAIN, 0, 0])
    run = SpcEngine(sqlite_store).process(tag)
    assert run.violations == []
    with Session(sqlite_store) as session:
        state = session.get(EngineState, tag)
        assert state is not None and state.points == 4


def test_a_chart_without_frozen_limits_learns_instead_of_charting_on_the_spec(
    sqlite_store: Engine, sqlite_tags: dict[str, TagRef]
) -> None:
    # x_imr has a spec (7 / 10 / 13) but no limits: 12.9 would be beyond 10 + 3 sigma of a
    # spec-derived sigma of (13 - 7) / 6 = 1 only after 2.9 sigma, here it is simply learned
    tag = sqlite_tags["x_imr"].tag_id
    feed(sqlite_store, tag, [10.0, 10.1, 12.9, 12.95])
    run = SpcEngine(sqlite_store).process(tag)
    assert run.violations == []
    with Session(sqlite_store) as session:
        assert session.scalars(select(ControlLimits).where(ControlLimits.tag_id == tag)).all() == []
        state = session.get(EngineState, tag)
        assert state is not None
        assert len(state.state["series"]["imr"]["learning"]["feeds"]) == 4


def test_a_chart_learns_limits_from_its_first_100_points_without_the_out_of_control_ones(
    sqlite_store: Engine, sqlite_tags: dict[str, TagRef]
) -> None:
    tag = sqlite_tags["no_spec"].tag_id
    first = 5.0 + 0.5 * np.random.default_rng(8).standard_normal(100)
    first[40] = 5.0 + 12 * 0.5  # an outlier in the baseline
    feed(sqlite_store, tag, first[:99])
    engine = SpcEngine(sqlite_store)
    engine.process(tag)
    with Session(sqlite_store) as session:  # 99 points: still learning
        assert session.scalars(select(ControlLimits).where(ControlLimits.tag_id == tag)).all() == []
    feed(sqlite_store, tag, [first[99], 5.0 + 10 * 0.5], start=99)
    engine.process(tag)
    with Session(sqlite_store) as session:
        limits = session.scalars(select(ControlLimits).where(ControlLimits.tag_id == tag)).one()
    # phase I of individuals (Montgomery §6.4, §6.2.1): the outlier and, through its moving
    # ranges, its neighbour are beyond the trial limits and dropped; mean and MR-bar / d2(2),
    # d2(2) = 1.128 (Montgomery Appendix VI), of the rest
    kept = spc.phase_one(spc.imr, first, rules="none")
    assert 40 + 1 in kept.removed  # phase I labels points from 1
    assert (limits.basis, limits.n_used, limits.frozen_at) == (
        "provisional",
        kept.reference.sum(),
        None,
    )
    assert limits.excluded["points"] == list(kept.removed)
    assert limits.center == pytest.approx(first[kept.reference].mean(), rel=1e-12)
    assert limits.sigma == pytest.approx(float(kept.charts.limits.sigma), rel=1e-12)
    # the baseline is not judged again; the next point is, on the learned limits
    assert [(v[0], v[1], v[5]) for v in stored_violations(sqlite_store, tag) if v[0] == "i"] == [
        ("i", "nelson1", limits.id)
    ]


def test_an_xbar_chart_learns_limits_from_its_first_25_subgroups(
    sqlite_store: Engine, sqlite_tags: dict[str, TagRef]
) -> None:
    tag = sqlite_tags["no_spec_xbar"].tag_id  # X-bar R, subgroups of 5
    first = 5.0 + 0.5 * np.random.default_rng(9).standard_normal((25, 5))
    feed(sqlite_store, tag, first.ravel()[:124])
    engine = SpcEngine(sqlite_store)
    engine.process(tag)
    with Session(sqlite_store) as session:  # 24 subgroups and 4 samples: still learning
        assert session.scalars(select(ControlLimits).where(ControlLimits.tag_id == tag)).all() == []
    shifted = [8.0, 8.1, 7.9, 8.05, 7.95]  # then a subgroup at 8
    times = feed(sqlite_store, tag, [first[24, 4], *shifted], start=124)
    engine.process(tag)
    with Session(sqlite_store) as session:
        limits = session.scalars(select(ControlLimits).where(ControlLimits.tag_id == tag)).one()
    # X-bar R estimate (Montgomery §6.2): grand mean, and sigma = mean range / d2(5), d2(5) =
    # 2.326 (Montgomery Appendix VI), of the 25 subgroups (none beyond the trial limits)
    ranges = first.max(axis=1) - first.min(axis=1)
    assert (limits.basis, limits.n_used, limits.frozen_at) == ("provisional", 125, None)
    assert limits.center == pytest.approx(first.mean(), rel=1e-12)
    assert limits.sigma == pytest.approx(ranges.mean() / 2.326, rel=1e-3)
    beyond = [(v[0], v[2], v[5]) for v in stored_violations(sqlite_store, tag) if v[1] == "nelson1"]
    assert ("xbar", times[-1], limits.id) in beyond


def test_a_learning_chart_logs_it_once(
    sqlite_store: Engine, sqlite_tags: dict[str, TagRef], caplog: pytest.LogCaptureFixture
) -> None:
    tag = sqlite_tags["no_spec_xbar"].tag_id
    caplog.set_level(logging.INFO, logger="plantqc.charting.runner")
    feed(sqlite_store, tag, [5.0, 5.2, 4.9])
    SpcEngine(sqlite_store).process(tag)
    feed(sqlite_store, tag, [5.1, 4.8], start=3)
    SpcEngine(sqlite_store).process(tag)  # a restart: the learning goes on, unannounced
    [record] = [r for r in caplog.records if "learning them from its baseline" in r.getMessage()]
    assert (record.tag, record.chart, record.needed) == (  # type: ignore[attr-defined]
        "no_spec_xbar",
        "xbar-r",
        "25 subgroups",
    )


def test_sigma_zone_rules_stay_off_on_learned_limits(
    sqlite_store: Engine, sqlite_tags: dict[str, TagRef]
) -> None:
    # Nelson 5 to 8 and WE 2, 3 judge 1- and 2-sigma zones of a sigma nobody reviewed yet; on
    # the same limits the batch chart shows how often the in-control data would signal them
    x = 10.0 + 0.2 * np.random.default_rng(12).standard_normal(2000)
    tag = sqlite_tags["x_imr"].tag_id
    feed(sqlite_store, tag, x)
    SpcEngine(sqlite_store).process(tag)
    with Session(sqlite_store) as session:
        learned = session.scalars(select(ControlLimits).where(ControlLimits.tag_id == tag)).one()
    assert learned.basis == "provisional"
    batch = imr(
        x[100:], limits=ShewhartLimits(learned.center, learned.sigma, "mr/d2"), rules="nelson"
    )
    assert any(batch["i"].signals[rule].size for rule in ZONE_RULES & set(batch["i"].signals))
    assert {v[1] for v in stored_violations(sqlite_store, tag)} & ZONE_RULES == set()


def test_sigma_zone_rules_run_on_frozen_phase_one_limits(
    sqlite_store: Engine, sqlite_tags: dict[str, TagRef]
) -> None:
    tag = sqlite_tags["x_imr"].tag_id
    feed(sqlite_store, tag, 10.0 + 0.2 * np.random.default_rng(13).standard_normal(100))
    chart = chart_for(sqlite_store, "line-1", "x_imr")
    estimate = estimate_limits(sqlite_store, chart, T0, T0 + pd.Timedelta(seconds=100))
    freeze_limits(sqlite_store, chart, estimate, "q.eng")
    # Nelson 5: two of three points beyond 2 sigma on one side, the third point signalling
    center, sigma = estimate.center, estimate.sigma
    times = feed(sqlite_store, tag, [center + 2.5 * sigma, center, center + 2.5 * sigma], start=100)
    SpcEngine(sqlite_store).process(tag)
    assert ("nelson5", times[2]) in [(v[1], v[2]) for v in stored_violations(sqlite_store, tag)]


def test_a_run_rule_violation_lists_every_point_of_its_window(
    sqlite_store: Engine, sqlite_tags: dict[str, TagRef]
) -> None:
    # Nelson rule 2: nine points in a row on one side of the center line
    freeze(sqlite_store, sqlite_tags["x_imr"])
    tag = sqlite_tags["x_imr"].tag_id
    times = feed(sqlite_store, tag, [9.0, 10.5, 10.4, 10.6, 10.3, 10.5, 10.4, 10.6, 10.2, 10.5])
    SpcEngine(sqlite_store).process(tag)
    rule2 = [v for v in stored_violations(sqlite_store, tag) if v[1] == "nelson2"]
    assert [p["ts"] for p in rule2[0][4]["points"]] == [t.isoformat() for t in times[1:]]


def test_frozen_limits_replace_learned_limits_and_keep_the_old_version(
    sqlite_store: Engine, sqlite_tags: dict[str, TagRef]
) -> None:
    tag = sqlite_tags["x_imr"].tag_id
    rng = np.random.default_rng(3)
    feed(sqlite_store, tag, 10.0 + 0.1 * rng.standard_normal(150))
    engine = SpcEngine(sqlite_store)
    engine.process(tag)  # learns version 1 from the first 100
    chart = chart_for(sqlite_store, "line-1", "x_imr")
    estimate = estimate_limits(sqlite_store, chart, T0, T0 + pd.Timedelta(seconds=150))
    assert freeze_limits(sqlite_store, chart, estimate, "q.engineer") == 2
    feed(sqlite_store, tag, [10.0, 11.0], start=150)  # 11 is 10 frozen sigmas out
    engine.process(tag)
    with Session(sqlite_store) as session:
        versions = session.execute(
            select(ControlLimits.version, ControlLimits.basis, ControlLimits.frozen_by)
            .where(ControlLimits.tag_id == tag)
            .order_by(ControlLimits.version)
        ).all()
        frozen_id = session.scalars(
            select(ControlLimits.id).where(ControlLimits.version == 2)
        ).one()
    assert [tuple(v) for v in versions] == [(1, "provisional", None), (2, "phase1", "q.engineer")]
    after = [(v[1], v[3]) for v in stored_violations(sqlite_store, tag) if v[5] == frozen_id]
    assert ("nelson1", 11.0) in after


def test_phase_one_estimate_excludes_the_out_of_control_points(
    sqlite_store: Engine, sqlite_tags: dict[str, TagRef]
) -> None:
    tag = sqlite_tags["x_imr"].tag_id
    values = 50.0 + np.random.default_rng(7).standard_normal(100)
    values[[30, 70]] = 60.0
    times = feed(sqlite_store, tag, values)
    chart = chart_for(sqlite_store, "line-1", "x_imr")
    estimate = estimate_limits(sqlite_store, chart, T0, times[-1] + pd.Timedelta(seconds=1))
    assert {times[30].isoformat(), times[70].isoformat()} <= {p["ts"] for p in estimate.excluded}
    assert abs(estimate.center - 50.0) < 0.3
    assert estimate.n_used == 100 - len(estimate.excluded)


@pytest.mark.parametrize(
    ("first", "second", "split"),
    [
        ("x_imr", "x_imr_b", 203),
        ("x_imr", "x_imr_b", 50),  # while the chart learns
        ("x_xbar", "x_xbar_b", 203),
        ("x_ewma", "x_ewma_b", 203),
        ("x_cusum", "x_cusum_b", 203),
    ],
)
def test_restart_mid_stream_gives_the_same_violations_as_one_run(
    store: Engine, tags: dict[str, TagRef], first: str, second: str, split: int
) -> None:
    x = shifted_series(11)
    whole, halves = tags[first].tag_id, tags[second].tag_id
    feed(store, whole, x)
    SpcEngine(store).process(whole)
    feed(store, halves, x[:split])
    SpcEngine(store).process(halves)
    feed(store, halves, x[split:], start=split)
    SpcEngine(store).process(halves)  # a fresh engine: only the stored state carries over
    once, twice = stored_violations(store, whole), stored_violations(store, halves)
    assert len(once) > 5
    assert [v[:5] for v in twice] == [v[:5] for v in once]


def test_an_engine_that_another_one_overtook_continues_from_the_stored_state(
    sqlite_store: Engine, sqlite_tags: dict[str, TagRef]
) -> None:
    # the first engine keeps the state it wrote; once a second engine has charted more of the
    # tag, the first must chart on from the stored state, not from its own copy
    x = shifted_series(11)
    whole, parts = sqlite_tags["x_ewma"].tag_id, sqlite_tags["x_ewma_b"].tag_id
    feed(sqlite_store, whole, x)
    SpcEngine(sqlite_store).process(whole)
    first = SpcEngine(sqlite_store)
    for start, end, engine in (
        (0, 150, first),
        (150, 260, SpcEngine(sqlite_store)),
        (260, 400, first),
    ):
        feed(sqlite_store, parts, x[start:end], start=start)
        engine.process(parts)
    once, thrice = stored_violations(sqlite_store, whole), stored_violations(sqlite_store, parts)
    assert len(once) > 5
    assert [v[:5] for v in thrice] == [v[:5] for v in once]


def _in_steps_together(store: Engine, tags: dict[str, TagRef], x: np.ndarray, step: int) -> None:
    """``x`` fed to x_ewma_b at once and to x_imr_b ``step`` samples at a time, both charted
    by one call after each step: from the second on, the samples of both are read in one
    query, which also returns x_ewma_b's samples that were charted already."""
    both = [tags["x_imr_b"].tag_id, tags["x_ewma_b"].tag_id]
    feed(store, tags["x_ewma_b"].tag_id, x)
    engine = SpcEngine(store)
    for start in range(0, len(x), step):
        feed(store, tags["x_imr_b"].tag_id, x[start : start + step], start=start)
        engine.process_tags(both)


def test_tags_charted_together_give_the_violations_of_each_charted_alone(
    store: Engine, tags: dict[str, TagRef]
) -> None:
    x = shifted_series(11)
    for name in ("x_imr", "x_ewma"):
        feed(store, tags[name].tag_id, x)
        SpcEngine(store).process(tags[name].tag_id)
    _in_steps_together(store, tags, x, 37)
    for alone, together in (("x_imr", "x_imr_b"), ("x_ewma", "x_ewma_b")):
        once = stored_violations(store, tags[alone].tag_id)
        assert len(once) > 5
        together_rows = stored_violations(store, tags[together].tag_id)
        assert [v[:5] for v in together_rows] == [v[:5] for v in once]


def test_tags_with_more_new_samples_than_one_read_holds_are_read_tag_by_tag(
    store: Engine, tags: dict[str, TagRef], monkeypatch: pytest.MonkeyPatch
) -> None:
    # a bound of 50 samples for the one query: every step exceeds it
    monkeypatch.setattr(runner_module, "PREFETCH_MAX_ROWS", 50)
    x = shifted_series(11)
    feed(store, tags["x_imr"].tag_id, x)
    SpcEngine(store).process(tags["x_imr"].tag_id)
    _in_steps_together(store, tags, x, 37)
    once = stored_violations(store, tags["x_imr"].tag_id)
    other = stored_violations(store, tags["x_imr_b"].tag_id)
    assert [v[:5] for v in other] == [v[:5] for v in once]


def test_ewma_state_after_example_9_2_matches_table_9_12(
    sqlite_store: Engine, sqlite_tags: dict[str, TagRef], spc_data
) -> None:
    # Montgomery, Introduction to SQC 7th ed., Example 9.2 (lambda = 0.1, L = 2.7, mu0 = 10,
    # sigma = 1) on the data of Table 9.1: Table 9.12 prints z_30 = 10.6341.
    freeze(sqlite_store, sqlite_tags["x_ewma"])
    tag = sqlite_tags["x_ewma"].tag_id
    feed(sqlite_store, tag, spc_data("montgomery_table9_1").value.to_numpy())
    SpcEngine(sqlite_store).process(tag)
    with Session(sqlite_store) as session:
        state = session.get(EngineState, tag)
        assert state is not None
        assert round(state.state["series"]["ewma"]["evaluator"]["z"], 4) == 10.6341


def test_the_store_hook_catches_up_then_follows_stored_batches(
    sqlite_store: Engine, sqlite_tags: dict[str, TagRef]
) -> None:
    # limits 10 +/- 3 x 0.5 inside the spec 7 / 13: beyond 11.5 is a rule hit, not a breach
    freeze(sqlite_store, sqlite_tags["x_imr"], sigma=0.5)
    tag = sqlite_tags["x_imr"].tag_id
    times = feed(sqlite_store, tag, [10.0, 11.6])  # stored before the daemon's engine started
    hook = StoreHook(sqlite_store.url.render_as_string(hide_password=False))
    hook([])
    assert hook.violations == 1
    later = feed(sqlite_store, tag, [11.7], start=2)
    hook([Reading("line-1", "x_imr", "scalar", later[0], 0, 0, 11.7)])
    hook.close()
    stored = [v[2] for v in stored_violations(sqlite_store, tag)]
    assert stored[0] == times[1] and set(stored[1:]) == {later[0]}  # Nelson 1 and 5 at 11.7
    assert hook.violations == len(stored)
