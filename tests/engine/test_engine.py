"""The streaming engine: Good samples in time order, limits in force, violations, restart."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest
from engine_helpers import T0, feed, shifted_series
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

import plantqc.charting.runner as runner_module
from plantqc.buffer import Reading
from plantqc.charting.catalog import chart_for
from plantqc.charting.hook import StoreHook
from plantqc.charting.limits import ZONE_RULES
from plantqc.charting.phase1 import estimate_limits, freeze_limits
from plantqc.charting.runner import SpcEngine
from plantqc.store import TagRef
from plantqc.store.engine_state import EngineState
from plantqc.store.models import ControlLimits, Violation
from spc import ShewhartLimits, imr

BAD = 0x80000000
UNCERTAIN = 0x40000000


def _violations(engine: Engine, tag_id: int) -> list[tuple[object, ...]]:
    with Session(engine) as session:
        rows = session.scalars(
            select(Violation).where(Violation.tag_id == tag_id).order_by(Violation.id)
        ).all()
        return [(v.chart, v.rule, v.ts, v.value, v.points, v.limits_id) for v in rows]


def test_cusum_signals_at_period_29_of_montgomery_example_9_1(
    sqlite_store: Engine, sqlite_tags: dict[str, TagRef], spc_data
) -> None:
    # Montgomery, Introduction to SQC 7th ed., Example 9.1 / Table 9.2 (mu0 = 10, sigma = 1,
    # K = 0.5, H = 5): C+ first exceeds H at period 29, C+_29 = 5.28.  The spec 7 / 13 gives
    # the engine exactly mu0 = 10 and sigma = 1.
    x = spc_data("montgomery_table9_1").value.to_numpy()
    tag = sqlite_tags["x_cusum"].tag_id
    times = feed(sqlite_store, tag, x)
    SpcEngine(sqlite_store).process(tag)
    found = _violations(sqlite_store, tag)
    assert next((chart, rule, ts) for chart, rule, ts, *_ in found) == (
        "cusum_upper",
        "nelson1",
        times[28],
    )
    assert round(found[0][3], 2) == 5.28


def test_bad_and_uncertain_samples_are_not_charted(
    sqlite_store: Engine, sqlite_tags: dict[str, TagRef]
) -> None:
    tag = sqlite_tags["x_imr"].tag_id
    values = [10.0, 10.2, 99.0, -50.0, 9.9, 10.1]
    feed(sqlite_store, tag, values, status=[0, 0, BAD, UNCERTAIN, 0, 0])
    run = SpcEngine(sqlite_store).process(tag)
    assert run.violations == []
    with Session(sqlite_store) as session:
        state = session.get(EngineState, tag)
        assert state is not None and state.points == 4


def test_spec_derived_limits_are_stored_marked_and_named_by_violations(
    sqlite_store: Engine, sqlite_tags: dict[str, TagRef]
) -> None:
    tag = sqlite_tags["x_imr"].tag_id
    feed(sqlite_store, tag, [10.0, 10.1, 14.5])
    SpcEngine(sqlite_store).process(tag)
    with Session(sqlite_store) as session:
        limits = session.scalars(select(ControlLimits).where(ControlLimits.tag_id == tag)).one()
    assert (limits.basis, limits.frozen_at) == ("spec", None)
    assert (limits.center, limits.sigma) == (10.0, 1.0)
    assert (limits.lcl, limits.ucl) == (7.0, 13.0)
    assert "spec-derived" in limits.params["note"]
    # the jump also breaks the MR chart's limit; the individuals chart's violation is checked
    [(chart, rule, _, value, points, limits_id)] = [
        v for v in _violations(sqlite_store, tag) if v[0] == "i"
    ]
    assert (chart, rule, value, limits_id) == ("i", "nelson1", 14.5, limits.id)
    assert [p["value"] for p in points["points"]] == [14.5]


def test_a_tag_without_spec_limits_runs_on_provisional_limits_from_its_first_20_points(
    sqlite_store: Engine, sqlite_tags: dict[str, TagRef]
) -> None:
    tag = sqlite_tags["no_spec"].tag_id
    first = 5.0 + 0.5 * np.random.default_rng(8).standard_normal(20)
    feed(sqlite_store, tag, first[:19])
    engine = SpcEngine(sqlite_store)
    engine.process(tag)
    with Session(sqlite_store) as session:  # 19 points: nothing to judge against yet
        assert session.scalars(select(ControlLimits).where(ControlLimits.tag_id == tag)).all() == []
    feed(sqlite_store, tag, [first[19], 5.0 + 10 * 0.5], start=19)
    engine.process(tag)
    with Session(sqlite_store) as session:
        limits = session.scalars(select(ControlLimits).where(ControlLimits.tag_id == tag)).one()
    # individuals estimate (Montgomery §6.4): mean, and sigma = mean moving range / d2(2),
    # d2(2) = 1.128 (Montgomery Appendix VI), of the 20 points (none beyond the trial limits)
    assert (limits.basis, limits.n_used, limits.frozen_at) == ("provisional", 20, None)
    assert limits.center == pytest.approx(first.mean(), rel=1e-12)
    assert limits.sigma == pytest.approx(np.abs(np.diff(first)).mean() / 1.128, rel=1e-3)
    assert [(v[0], v[1], v[5]) for v in _violations(sqlite_store, tag) if v[0] == "i"] == [
        ("i", "nelson1", limits.id)
    ]


def test_an_xbar_tag_without_spec_limits_runs_on_provisional_limits_from_its_first_20_subgroups(
    sqlite_store: Engine, sqlite_tags: dict[str, TagRef]
) -> None:
    tag = sqlite_tags["no_spec_xbar"].tag_id  # X-bar R, subgroups of 5
    first = 5.0 + 0.5 * np.random.default_rng(9).standard_normal((20, 5))
    feed(sqlite_store, tag, first.ravel()[:99])
    engine = SpcEngine(sqlite_store)
    engine.process(tag)
    with Session(sqlite_store) as session:  # 19 subgroups and 4 samples: nothing to judge on yet
        assert session.scalars(select(ControlLimits).where(ControlLimits.tag_id == tag)).all() == []
    times = feed(sqlite_store, tag, [first[19, 4]] + [8.0] * 5, start=99)  # then a subgroup at 8
    engine.process(tag)
    with Session(sqlite_store) as session:
        limits = session.scalars(select(ControlLimits).where(ControlLimits.tag_id == tag)).one()
    # X-bar R estimate (Montgomery §6.2): grand mean, and sigma = mean range / d2(5), d2(5) =
    # 2.326 (Montgomery Appendix VI), of the 20 subgroups (none beyond the trial limits)
    ranges = first.max(axis=1) - first.min(axis=1)
    assert (limits.basis, limits.n_used, limits.frozen_at) == ("provisional", 100, None)
    assert limits.center == pytest.approx(first.mean(), rel=1e-12)
    assert limits.sigma == pytest.approx(ranges.mean() / 2.326, rel=1e-3)
    beyond = [(v[0], v[2], v[5]) for v in _violations(sqlite_store, tag) if v[1] == "nelson1"]
    assert ("xbar", times[-1], limits.id) in beyond


def test_a_chart_collecting_points_for_provisional_limits_logs_it_once(
    sqlite_store: Engine, sqlite_tags: dict[str, TagRef], caplog: pytest.LogCaptureFixture
) -> None:
    tag = sqlite_tags["no_spec_xbar"].tag_id
    caplog.set_level(logging.INFO, logger="plantqc.charting.runner")
    feed(sqlite_store, tag, [5.0, 5.2, 4.9])
    SpcEngine(sqlite_store).process(tag)
    feed(sqlite_store, tag, [5.1, 4.8], start=3)
    SpcEngine(sqlite_store).process(tag)  # a restart: the collection goes on, unannounced
    [record] = [r for r in caplog.records if "provisional limits" in r.getMessage()]
    assert (record.tag, record.chart, record.needed) == (  # type: ignore[attr-defined]
        "no_spec_xbar",
        "xbar-r",
        "20 subgroups",
    )


def test_sigma_zone_rules_stay_off_on_spec_derived_limits(
    sqlite_store: Engine, sqlite_tags: dict[str, TagRef]
) -> None:
    # an in-control process with sigma 0.2 inside a spec whose derived sigma is 1: on the spec
    # sigma nearly every 15 points lie within "1 sigma" (Nelson 7), which says nothing about
    # the process; the batch chart on the same limits shows how often it would fire
    x = 10.0 + 0.2 * np.random.default_rng(12).standard_normal(2000)
    on_spec = imr(x, limits=ShewhartLimits(10.0, 1.0, "(usl-lsl)/6"), rules="nelson")
    assert on_spec["i"].signals["nelson7"].size > 1000
    tag = sqlite_tags["x_imr"].tag_id
    feed(sqlite_store, tag, x)
    SpcEngine(sqlite_store).process(tag)
    assert {v[1] for v in _violations(sqlite_store, tag)} & ZONE_RULES == set()


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
    assert ("nelson5", times[2]) in [(v[1], v[2]) for v in _violations(sqlite_store, tag)]


def test_a_run_rule_violation_lists_every_point_of_its_window(
    sqlite_store: Engine, sqlite_tags: dict[str, TagRef]
) -> None:
    # Nelson rule 2: nine points in a row on one side of the center line
    tag = sqlite_tags["x_imr"].tag_id
    times = feed(sqlite_store, tag, [9.0, 10.5, 10.4, 10.6, 10.3, 10.5, 10.4, 10.6, 10.2, 10.5])
    SpcEngine(sqlite_store).process(tag)
    rule2 = [v for v in _violations(sqlite_store, tag) if v[1] == "nelson2"]
    assert [p["ts"] for p in rule2[0][4]["points"]] == [t.isoformat() for t in times[1:]]


def test_frozen_limits_replace_spec_limits_and_keep_the_old_version(
    sqlite_store: Engine, sqlite_tags: dict[str, TagRef]
) -> None:
    tag = sqlite_tags["x_imr"].tag_id
    rng = np.random.default_rng(3)
    feed(sqlite_store, tag, 10.0 + 0.1 * rng.standard_normal(50))
    engine = SpcEngine(sqlite_store)
    engine.process(tag)
    chart = chart_for(sqlite_store, "line-1", "x_imr")
    estimate = estimate_limits(sqlite_store, chart, T0, T0 + pd.Timedelta(seconds=50))
    assert freeze_limits(sqlite_store, chart, estimate, "q.engineer") == 2
    feed(sqlite_store, tag, [10.0, 11.0], start=50)  # 11 is 10 frozen sigmas out, not 1 spec one
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
    assert [tuple(v) for v in versions] == [(1, "spec", None), (2, "phase1", "q.engineer")]
    # (on the spec sigma of 1 the tight data hugged the center: Nelson 7, judged on version 1)
    after = [(v[1], v[3]) for v in _violations(sqlite_store, tag) if v[5] == frozen_id]
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
    once, twice = _violations(store, whole), _violations(store, halves)
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
    once, thrice = _violations(sqlite_store, whole), _violations(sqlite_store, parts)
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
        once = _violations(store, tags[alone].tag_id)
        assert len(once) > 5
        assert [v[:5] for v in _violations(store, tags[together].tag_id)] == [v[:5] for v in once]


def test_tags_with_more_new_samples_than_one_read_holds_are_read_tag_by_tag(
    store: Engine, tags: dict[str, TagRef], monkeypatch: pytest.MonkeyPatch
) -> None:
    # a bound of 50 samples for the one query: every step exceeds it
    monkeypatch.setattr(runner_module, "PREFETCH_MAX_ROWS", 50)
    x = shifted_series(11)
    feed(store, tags["x_imr"].tag_id, x)
    SpcEngine(store).process(tags["x_imr"].tag_id)
    _in_steps_together(store, tags, x, 37)
    once = _violations(store, tags["x_imr"].tag_id)
    assert [v[:5] for v in _violations(store, tags["x_imr_b"].tag_id)] == [v[:5] for v in once]


def test_ewma_state_after_example_9_2_matches_table_9_12(
    sqlite_store: Engine, sqlite_tags: dict[str, TagRef], spc_data
) -> None:
    # Montgomery, Introduction to SQC 7th ed., Example 9.2 (lambda = 0.1, L = 2.7, mu0 = 10,
    # sigma = 1) on the data of Table 9.1: Table 9.12 prints z_30 = 10.6341.
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
    tag = sqlite_tags["x_imr"].tag_id
    times = feed(sqlite_store, tag, [10.0, 13.5])  # stored before the daemon's engine started
    hook = StoreHook(sqlite_store.url.render_as_string(hide_password=False))
    hook([])
    assert hook.violations == 1
    later = feed(sqlite_store, tag, [13.6], start=2)
    hook([Reading("line-1", "x_imr", "scalar", later[0], 0, 0, 13.6)])
    hook.close()
    stored = [v[2] for v in _violations(sqlite_store, tag)]
    assert stored[0] == times[1] and set(stored[1:]) == {later[0]}  # Nelson 1 and 5 at 13.6
    assert hook.violations == len(stored)
