"""Learning: a chart without frozen limits collects its baseline, then proposes phase I limits;
an autocorrelated baseline is learned on until it holds as much as an independent one."""

from __future__ import annotations

import logging
import statistics

import numpy as np
import pytest
from engine_helpers import feed
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

import spc
from plantqc.charting.runner import LEARNING_CAP, SpcEngine
from plantqc.store import TagRef
from plantqc.store.models import Alarm, ControlLimits, Violation

SMALL = 20  # x_small's baseline_points
BASELINE = 100  # no_spec's, the default for individuals


def _ar1(seed: int, phi: float, n: int) -> np.ndarray:
    """AR(1) around 5 (unit innovations): lag-1 autocorrelation phi (Box and Jenkins §3.2)."""
    rng = np.random.default_rng(seed)
    x = np.empty(n)
    x[0] = rng.standard_normal() / np.sqrt(1 - phi**2)
    for t in range(1, n):
        x[t] = phi * x[t - 1] + rng.standard_normal()
    return 5.0 + x


def _limits(engine: Engine, tag_id: int) -> list[ControlLimits]:
    with Session(engine) as session:
        return list(session.scalars(select(ControlLimits).where(ControlLimits.tag_id == tag_id)))


def test_only_spec_breaches_and_sensor_faults_alarm_while_a_chart_learns(
    sqlite_store: Engine, sqlite_tags: dict[str, TagRef]
) -> None:
    tag = sqlite_tags["x_imr"].tag_id  # baseline 100, spec 7 / 13, stuck after 30 repeats
    x = list(10.0 + 0.2 * np.random.default_rng(1).standard_normal(60))
    x[10] = 12.5  # 12 sigma out, inside the spec
    x[20] = 13.6  # beyond the USL
    x[30:40] = [10.6 + 0.01 * i for i in range(10)]  # a run and a trend
    feed(sqlite_store, tag, [*x, *[10.1] * 30])
    SpcEngine(sqlite_store).process(tag)
    with Session(sqlite_store) as session:
        codes = set(session.scalars(select(Alarm.code).where(Alarm.tag_id == tag)))
        rules = set(session.scalars(select(Violation.rule).where(Violation.tag_id == tag)))
    assert (codes, rules) == ({"spec", "stuck"}, {"spec"})
    assert _limits(sqlite_store, tag) == []


def test_a_restart_mid_learning_goes_on_with_the_baseline_collected(
    sqlite_store: Engine, sqlite_tags: dict[str, TagRef]
) -> None:
    tag = sqlite_tags["x_small"].tag_id
    x = 5.0 + np.random.default_rng(2).standard_normal(SMALL)
    first = feed(sqlite_store, tag, x[:12])
    SpcEngine(sqlite_store).process(tag)
    last = feed(sqlite_store, tag, x[12:], start=12)
    SpcEngine(sqlite_store).process(tag)  # a fresh engine: only the stored state carries over
    [limits] = _limits(sqlite_store, tag)
    expected = spc.phase_one(spc.imr, x, rules="none")
    assert (limits.data_from, limits.data_to) == (first[0], last[-1])
    assert limits.excluded["n_total"] == SMALL
    assert limits.center == pytest.approx(float(expected.charts.limits.center), rel=1e-12)
    assert limits.sigma == pytest.approx(float(expected.charts.limits.sigma), rel=1e-12)


def test_an_autocorrelated_baseline_is_learned_on_with_a_sigma_that_holds_its_spread(
    sqlite_store: Engine, sqlite_tags: dict[str, TagRef], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="plantqc.charting.runner")
    tag = sqlite_tags["no_spec"].tag_id
    x = _ar1(3, 0.8, 10 * BASELINE)
    engine = SpcEngine(sqlite_store)
    for start in range(0, x.size, BASELINE):  # in steps of one baseline
        feed(sqlite_store, tag, x[start : start + BASELINE], start=start)
        engine.process(tag)
    [limits] = _limits(sqlite_store, tag)
    n = limits.excluded["n_total"]
    r1 = spc.lag1_autocorrelation(x[:n]).r1
    # learned on until the effective size n (1 - r1) / (1 + r1) reached the baseline
    # (Montgomery §10.4; Box and Jenkins §2.1.6 for the variance of a mean of AR(1) data)
    assert BASELINE < n < LEARNING_CAP * BASELINE
    assert n * (1 - r1) / (1 + r1) >= BASELINE
    # sigma: the larger of MR-bar / d2 and the standard deviation of the points phase I kept
    study = spc.phase_one(spc.imr, x[:n], rules="none")
    overall = statistics.stdev(x[:n][study.reference])
    assert overall > float(study.charts.limits.sigma)  # positive autocorrelation shrinks MR-bar
    assert (limits.sigma, limits.sigma_method) == (pytest.approx(overall, rel=1e-12), "sd")
    assert "the baseline was autocorrelated" in limits.params["note"]
    [warning] = [r for r in caplog.records if "autocorrelated" in r.getMessage()]
    assert "plantqc limits design" in warning.getMessage()
    assert (warning.tag, warning.chart) == ("no_spec", "imr")  # type: ignore[attr-defined]


def test_an_autocorrelated_baseline_is_learned_on_for_at_most_ten_times_its_size(
    sqlite_store: Engine, sqlite_tags: dict[str, TagRef]
) -> None:
    tag = sqlite_tags["no_spec"].tag_id
    # r1 near 0.99: an effective size of the baseline would take some 20000 points
    feed(sqlite_store, tag, _ar1(4, 0.99, 12 * BASELINE))
    SpcEngine(sqlite_store).process(tag)
    [limits] = _limits(sqlite_store, tag)
    assert limits.excluded["n_total"] == LEARNING_CAP * BASELINE
    assert "the baseline was autocorrelated" in limits.params["note"]
