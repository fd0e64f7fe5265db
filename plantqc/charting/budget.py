"""A line's false-alarm budget shared among its charts, and chart designs that keep to it.

A line in control should raise at most ``alarming.budget_per_hour`` alarms an hour (EEMUA
191).  The conditions that can alarm a line in control are each chart's location signal
(``spc.alarms``: a point beyond the limits, an EWMA or CUSUM signal, or another run rule
listed there); the spread charts (MR, R, S) and the other rule hits are alerts.  A spec
breach is an alarm too, but a capable process in control breaches its spec about never
(Cpk 1.67: 0.6 ppm of samples, 0.002 an hour at one sample a second), so it takes no share;
from data, a tag whose normal fit says otherwise is named with its expected breaches per hour
(`spec_breaches_per_hour`).  Sensor faults are not process alarms.

The budget is shared equally among the charts with an alarmable condition: each may raise
``budget / charts`` alarms an hour, so its in-control ARL must be at least its points per
hour over that share.  A chart's points per hour come from its tag's data when given (Good
samples over the span), else from the config (one sample per ``sampling_interval_ms``; a tag
behind a deadband reports at most that often, which is taken; a tag sampled by exception and
an image metric, whose rate the config does not state, take `EXCEPTION_INTERVAL_S` and
`IMAGE_INTERVAL_S`), then from its subgrouping (an X-bar subgroup of n, one time window).

A chart learns its limits from its first ``baseline`` points by phase I, so its false-alarm
rate is averaged over the limits that baseline may give (`spc.arl.estimated_limits_rate`):
the learnt sigma varies, and the revision of the trial limits makes it about 5 % low
(`learnt_sigma_law`), which together raise the rate at 4 sigma several times over that of
known limits.

From data, a chart's points are formed as the engine forms them and their sigma estimated as
phase I estimates it (MR-bar / d2 for individuals, S-bar / c4 within X-bar subgroups):
where autocorrelation makes that sigma clearly smaller than the points' own standard
deviation, the limits sit nearer than their nominal width, by the ratio of the two.  Where
the points' lag-1 autocorrelation exceeds 0.1, the design charts batch means instead
(Runger & Willemain; `spc.batchmeans`): a time window of the smallest batch whose means are
nearly independent.  Without data the points are assumed independent, and said so.

A chart that meets its share is left as it is.  One that misses it learns from up to half an
hour of points (at most `FAST_BASELINE`) and gets the width that meets it, never narrower
than an in-control ARL of `FLOOR_ARL0` points: ``limit_sigma`` of an I-MR or X-bar chart
with only the beyond-limits rule as an alarm, the EWMA L for its lambda, the CUSUM h for its
k.  Each design reports the ARL of a 1-sigma shift of the individual values, in points and
seconds, at the limits its baseline should give.

References
----------
.. [1] EEMUA Publication 191, *Alarm systems: a guide to design, management and
   procurement*, 3rd ed., 2013, §6 (alarm rates an operator can handle).
.. [2] G. C. Runger and T. R. Willemain, "Batch-means control charts for autocorrelated
   data", *IIE Transactions* 28(6), 1996, pp. 483-487.
.. [3] D. C. Montgomery, *Introduction to Statistical Quality Control*, 8th ed., Wiley, 2019,
   §6.2.6, §9.1, §9.2, §10.3.
.. [4] W. A. Jensen, L. A. Jones-Farmer, C. W. Champ and W. H. Woodall, "Effects of
   parameter estimation on control chart properties: a literature review", *J. Quality
   Technology* 38(4), 2006, pp. 349-364.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import optimize, special

from plantqc.charting.chart import ChartConfig
from plantqc.charting.names import CD_MEAN, SeriesSpec, image_metric_tag
from plantqc.charting.settings import (
    SPEC_CODE,
    CusumSettings,
    EwmaSettings,
    SpcSettings,
    SpecLimits,
)
from plantqc.config import Line, PlantConfig
from plantqc.errors import UserError
from spc.arl import (
    cusum_arl,
    design_cusum,
    design_ewma,
    estimated_limits_rate,
    ewma_arl,
    rules_arl,
    shewhart_arl,
    sigma_estimate_dof,
)
from spc.batchmeans import (
    TARGET_LAG1,
    batch_means_lag1,
    batch_means_variance,
    batch_size_from_data,
    fit_ar1_noise,
)
from spc.constants import c4, d2
from spc.rules import limit_rule_code, resolve_rules
from spc.subgroups import points as subgroup_points
from spc.subgroups import window_keys

EXCEPTION_INTERVAL_S = 0.1
"""Assumed interval of a tag sampled by exception without data: the fastest rate OPC UA
servers commonly sample at (100 ms), so the design errs towards more points."""
IMAGE_INTERVAL_S = 60.0
"""Assumed interval of an image metric without data: one image a minute."""
ROLL_INTERVAL_S = 3600.0
"""Assumed length of a roll, for a chart subgrouped by roll."""
FAST_BASELINE = 1000
BASELINE_HOURS = 0.5
"""A chart is proposed a learning baseline of up to `FAST_BASELINE` points, as many as it
charts in `BASELINE_HOURS`, when that is more than its own."""
MIN_POINTS = 30
"""Points of a chart in the data below which its sigma ratio and autocorrelation are not
read from them."""
FLOOR_ARL0 = 370.4
"""Shortest in-control ARL proposed, in points: that of Shewhart's 3-sigma limits, so a chart
with few points an hour is never given limits narrower than the textbook designs."""
SLOW_DETECTION = 100.0
"""ARL of a 1-sigma shift, in points, beyond which an I-MR chart is proposed an EWMA of lambda
`ALTERNATIVE_LAMBDA` in the same share when that detects the shift sooner: wide Shewhart limits
on a fast tag miss the small sustained shifts an EWMA is made for (Montgomery §9.2)."""
ALTERNATIVE_LAMBDA = 0.1
_NODES = 60
"""Quadrature nodes of the ARL integral equations in the design's searches (as exact as 120
to the printed digits of the ARL tables)."""
_CERTAIN_SHIFT = 8.0
"""A shift, in sigma of a point, beyond which a chart signals at the first point."""


@dataclass(frozen=True)
class Series:
    """A tag's Good samples in time order: times in epoch seconds and values."""

    times_s: np.ndarray
    values: np.ndarray


@dataclass(frozen=True)
class Design:
    """One design of a chart and what it does in control and at a 1-sigma shift.

    ``parameters`` are the settings that define it (``limit_sigma``, ``lambda`` and ``L``,
    ``k`` and ``h``, ``subgroup_window_s``); ARLs are in the chart's points, ``arl0_hours``
    and ``arl1_s`` in time; ``arl1`` is for a shift of one standard deviation of the
    individual values; ``method`` says how the ARLs were computed.
    """

    chart: str
    parameters: dict[str, Any]
    alarms: tuple[str, ...]
    points_per_hour: float
    arl0: float
    arl1: float
    method: str

    @property
    def arl0_hours(self) -> float:
        return float(self.arl0 / self.points_per_hour)

    @property
    def alarms_per_hour(self) -> float:
        return float(self.points_per_hour / self.arl0)

    @property
    def arl1_s(self) -> float:
        return float(self.arl1 * 3600.0 / self.points_per_hour)

    def to_dict(self) -> dict[str, Any]:
        return {
            "chart": self.chart,
            "parameters": self.parameters,
            "alarms": list(self.alarms),
            "points_per_hour": self.points_per_hour,
            "arl0_points": self.arl0,
            "arl0_hours": self.arl0_hours,
            "alarms_per_hour": self.alarms_per_hour,
            "arl1_points": self.arl1,
            "arl1_s": self.arl1_s,
            "method": self.method,
        }


@dataclass(frozen=True)
class ChartBudget:
    """A chart's share of its line's budget, its current design and the proposed one.

    ``settings`` are the tag's proposed ``spc:`` settings for this chart (its current ones,
    ``was``, when it meets its share); ``notes`` state the assumptions made for it.
    """

    tag: str
    series: str
    share_per_hour: float
    current: Design
    proposed: Design
    settings: SpcSettings
    was: SpcSettings
    notes: tuple[str, ...] = ()

    @property
    def meets(self) -> bool:
        return bool(self.current.alarms_per_hour <= self.share_per_hour * (1.0 + 1e-6))

    def to_dict(self) -> dict[str, Any]:
        return {
            "tag": self.tag,
            "series": self.series,
            "share_per_hour": self.share_per_hour,
            "meets": self.meets,
            "current": self.current.to_dict(),
            "proposed": self.proposed.to_dict(),
            "notes": list(self.notes),
        }


@dataclass(frozen=True)
class LineBudget:
    """A line's budget and its charts' designs; ``quiet`` lists the charted series that have
    no alarmable condition (only alerts) and take no share."""

    line: str
    budget_per_hour: float
    charts: tuple[ChartBudget, ...]
    quiet: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        return {
            "line": self.line,
            "budget_per_hour": self.budget_per_hour,
            "charts": [c.to_dict() for c in self.charts],
            "quiet": list(self.quiet),
            "notes": list(self.notes),
        }


# --- what a line charts ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Charted:
    """A charted tag of a line with what its rate rests on."""

    name: str
    kind: str
    spc: SpcSettings
    spec: SpecLimits | None
    interval_s: float
    interval_note: str | None


def _charted(config: PlantConfig, line: Line) -> list[_Charted]:
    found = []
    for tag in line.tags:
        if tag.spc is None or tag.kind not in ("scalar", "profile"):
            continue
        interval, note = tag.sampling_interval_ms / 1000.0, None
        if interval == 0:
            interval = EXCEPTION_INTERVAL_S
            note = f"sampled by exception: assumed one sample every {interval:g} s"
        elif tag.deadband is not None:
            note = f"deadband: assumed to report every {interval:g} s (at most that often)"
        found.append(_Charted(tag.name, tag.kind, tag.spc, tag.spec, interval, note))
    for image in config.images:
        if line not in config.image_lines(image):
            continue
        for metric, settings in image.metrics.items():
            if settings.spc is not None:
                note = f"image metric: assumed one image every {IMAGE_INTERVAL_S:g} s"
                name = image_metric_tag(image.name, metric)
                found.append(
                    _Charted(name, "scalar", settings.spc, settings.spec, IMAGE_INTERVAL_S, note)
                )
    return found


def _chart(charted: _Charted, line: str, settings: SpcSettings) -> ChartConfig:
    return ChartConfig(
        0, 0, line, charted.name, charted.kind, settings, charted.spec or SpecLimits()
    )


def alarm_codes(settings: SpcSettings, series: SeriesSpec) -> tuple[str, ...]:
    """The rules of ``series``' location points that raise an alarm: those it runs that
    ``settings.alarms`` lists (`alarm_entry`); an EWMA or CUSUM chart runs its limit rule
    only.  Spread charts (MR, R, S) and single CUSUM sides listed there are not designed."""
    if series.chart in ("ewma", "cusum"):
        code = limit_rule_code(settings.rules)
        run: tuple[str, ...] = (code,) if code else ()
    else:
        run = resolve_rules(settings.rules)
    return tuple(c for c in run if alarm_entry(series, c) in settings.alarms)


def alarm_entry(series: SeriesSpec, rule: str) -> str:
    """The ``spc.alarms`` entry of ``rule`` on ``series``' location points: the bare rule on a
    tag's own chart and a profile's scan mean, ``cd_2sigma:nelson1`` on another profile
    statistic."""
    own = series.statistic is None or series.name == CD_MEAN
    return rule if own else f"{series.name}:{rule}"


# --- points and their sigma from data -------------------------------------------------------------


@dataclass(frozen=True)
class _Points:
    """A chart's points: per hour, the chart's sigma estimate over their standard deviation
    (``ratio``), their lag-1 autocorrelation, and a 1-sigma shift of the values in sigma of
    a point (``shift``)."""

    per_hour: float
    ratio: float
    lag1: float | None
    shift: float


def _lag1(x: np.ndarray) -> float:
    c = x - x.mean()
    denominator = float(np.sum(c**2))
    return float(np.sum(c[1:] * c[:-1]) / denominator) if denominator > 0 else 0.0


def _data_points(settings: SpcSettings, series: SeriesSpec, data: Series) -> _Points | None:
    t, x = data.times_s, data.values
    span_h = (t[-1] - t[0]) / 3600.0 if t.size > 1 else 0.0
    if span_h <= 0:
        return None
    sd = float(np.std(x, ddof=1))
    if settings.subgroup_by == "time":
        window_us = round(float(settings.subgroup_window_s or 1.0) * 1e6)
        keys = window_keys(np.round(t * 1e6).astype(np.int64), window_us)
        formed = subgroup_points(t, x, xbar=series.xbar, keys=keys)
    else:
        formed = subgroup_points(t, x, xbar=series.xbar, size=settings.subgroup_size)
    if series.xbar:
        assert formed.labels is not None
        groups = [formed.values[formed.labels == g] for g in np.unique(formed.labels)]
        means = np.array([g.mean() for g in groups])
        sizes = np.array([g.size for g in groups])
        n = int(np.median(sizes))
        within = np.array([g.std(ddof=1) for g in groups if g.size > 1])
        sigma_x = float(within.mean() / c4(n)) if within.size else sd
        chart_sigma = sigma_x / math.sqrt(n)
    else:
        means = formed.values
        moving = np.abs(np.diff(means))
        chart_sigma = float(moving.mean() / d2(2)) if moving.size else sd
    count = means.size
    per_hour = count / span_h
    if count < MIN_POINTS and settings.subgroup_by == "time" and not series.xbar:
        # too few windows to read: the batch-means model of the samples tells
        return _model_points(per_hour, settings, data)
    if count < MIN_POINTS:
        return _Points(per_hour, 1.0, None, _nominal_shift(settings, series, data))
    spread = float(np.std(means, ddof=1))
    ratio = min(chart_sigma / spread, 1.0) if spread > 0 else 1.0
    # both sigmas are estimates: a ratio within two standard errors of 1 is sampling noise,
    # not autocorrelation, and a design tuned to it would miss on the next history
    if series.xbar and settings.subgroup_by == "count":
        dof = sigma_estimate_dof(count, settings.subgroup_size, "s")
    else:
        dof = sigma_estimate_dof(max(count, 3))
    error = math.sqrt(1.0 / (2.0 * dof) + 1.0 / (2.0 * (count - 1)))
    if ratio > 1.0 - 2.0 * error:
        ratio = 1.0
    return _Points(per_hour, ratio, _lag1(means), sd / spread if spread > 0 else 1.0)


def _model_points(per_hour: float, settings: SpcSettings, data: Series) -> _Points:
    """Batch means of a time window from the AR(1)-plus-noise fit of the samples."""
    interval = float(np.median(np.diff(data.times_s)))
    size = max(round(float(settings.subgroup_window_s or interval) / interval), 1)
    fit = fit_ar1_noise(data.values)
    lag1 = float(batch_means_lag1(fit.phi, size, fit.ar_fraction))
    ratio = math.sqrt(max(1.0 - lag1, 0.0))
    variance = float(batch_means_variance(fit.phi, size, fit.ar_fraction))
    return _Points(per_hour, ratio, None, 1.0 / math.sqrt(variance))


def _nominal_shift(settings: SpcSettings, series: SeriesSpec, data: Series | None) -> float:
    """A 1-sigma shift of the values in sigma of a point, for independent values."""
    if series.xbar and settings.subgroup_by == "count":
        return math.sqrt(settings.subgroup_size)
    if settings.subgroup_by == "time" and data is not None and data.times_s.size > 1:
        per_window = settings.subgroup_window_s or 1.0
        interval = float(np.median(np.diff(data.times_s)))
        return math.sqrt(max(per_window / interval, 1.0)) if interval > 0 else 1.0
    return 1.0


def _config_points(settings: SpcSettings, series: SeriesSpec, interval_s: float) -> _Points:
    if settings.subgroup_by == "time":
        window = float(settings.subgroup_window_s or interval_s)
        return _Points(3600.0 / window, 1.0, None, math.sqrt(max(window / interval_s, 1.0)))
    if settings.subgroup_by == "roll":
        return _Points(3600.0 / ROLL_INTERVAL_S, 1.0, None, 1.0)
    if series.xbar:
        n = settings.subgroup_size
        return _Points(3600.0 / (interval_s * n), 1.0, None, math.sqrt(n))
    return _Points(3600.0 / interval_s, 1.0, None, 1.0)


# --- ARLs of a design -----------------------------------------------------------------------------


def _estimate_of(settings: SpcSettings, series: SeriesSpec) -> tuple[int, float, float]:
    """Phase I points of the chart's learning baseline, and the degrees of freedom and mean
    (over the true sigma) of the sigma it learns from them (`learnt_sigma_law`)."""
    points = settings.baseline
    n = settings.subgroup_size if series.xbar and settings.subgroup_by == "count" else 1
    chart = series.chart if n > 1 else "imr"
    dof, bias = learnt_sigma_law(chart, points, n, settings.constants)
    return points, dof, bias


LAW_RUNS = 400
"""Simulated baselines behind `learnt_sigma_law` (standard error of its mean about 0.2 %)."""


@functools.lru_cache(maxsize=64)
def learnt_sigma_law(
    chart: str, points: int, n: int = 1, constants: str = "exact"
) -> tuple[float, float]:
    """Degrees of freedom and mean of the sigma (in units of the true one) that a chart learns
    by phase I (`plantqc.charting.phase1.phase_one_of`: trial limits, points beyond them
    dropped, re-estimated) from ``points`` independent normal points or subgroups of ``n``:
    from `LAW_RUNS` simulated baselines with a fixed seed, :math:`\\nu = b^2 / (2 s_u^2)`.

    The drops are the largest deviations and moving ranges, so the learnt sigma is low: by
    about 5 % from 100 or 1000 individuals, which raises the false-alarm rate at 4 sigma about
    twice; no closed form covers the iterated revision.
    """
    from plantqc.charting.phase1 import phase_one_of

    rng = np.random.default_rng(20_240_601)
    series = SeriesSpec(chart, chart)
    sigmas = np.empty(LAW_RUNS)
    for run in range(LAW_RUNS):
        values = rng.standard_normal((points, n))
        result, _, _ = phase_one_of(series, values.tolist(), constants)
        limits = result.charts.limits
        sigmas[run] = float(limits.sigma)  # type: ignore[union-attr]
    bias = float(sigmas.mean())
    return bias**2 / (2.0 * float(sigmas.var(ddof=1))), bias


def _width_of(settings: SpcSettings, series: SeriesSpec) -> tuple[str, float]:
    if series.chart == "ewma":
        return "L", (settings.ewma or EwmaSettings()).L
    if series.chart == "cusum":
        return "h", (settings.cusum or CusumSettings()).h
    return "limit_sigma", settings.limit_sigma


def _rate(settings: SpcSettings, series: SeriesSpec, f: float) -> Callable[..., float]:
    """``rate(width, u, e)``: in-control signals per point of the chart at ``width`` (L or h)
    with sigma estimated as u times the true one and the center off by e sigma of a point;
    the limits narrowed by the ratio ``f`` of the chart's sigma to the points' own."""
    if series.chart == "ewma":
        lam = (settings.ewma or EwmaSettings()).lambda_
        return lambda w, u, e: 1.0 / ewma_arl(lam, w * f * u, e, nodes=_NODES)
    if series.chart == "cusum":
        cusum = settings.cusum or CusumSettings()

        def cusum_rate(w: float, u: float, e: float) -> float:
            return 1.0 / cusum_arl(cusum.k * f * u, w * f * u, e, nodes=_NODES)

        if not cusum.fir:
            return cusum_rate

        @functools.lru_cache(maxsize=64)
        def headstart_factor(w: float) -> float:
            return cusum_arl(cusum.k * f, w * f) / cusum_arl(cusum.k * f, w * f, 0.0, w * f / 2)

        def with_headstart(w: float, u: float, e: float) -> float:
            # the head start h/2 shortens the in-control ARL by about the same factor at
            # every estimate (the pair-of-sums chain is too slow to run at each)
            return cusum_rate(w, u, e) * headstart_factor(w)

        return with_headstart
    return lambda w, u, e: float(special.ndtr(-(e + w * f * u)) + special.ndtr(e - w * f * u))


def _arl1(settings: SpcSettings, series: SeriesSpec, width: float, f: float, shift: float) -> float:
    if series.chart == "ewma":
        return ewma_arl((settings.ewma or EwmaSettings()).lambda_, width * f, shift)
    if series.chart == "cusum":
        cusum = settings.cusum or CusumSettings()
        start = width * f / 2.0 if cusum.fir else 0.0
        return cusum_arl(cusum.k * f, width * f, shift, start)
    return shewhart_arl(width * f, shift)


def _evaluate(
    settings: SpcSettings, series: SeriesSpec, codes: tuple[str, ...], points: _Points
) -> Design:
    """The design ``settings`` of ``series`` with its ARLs: the in-control ARL averaged over
    the limits its learning baseline may give (`spc.arl.estimated_limits_rate`), the ARL of a
    1-sigma shift at the limits it should give; its limits narrowed by ``points.ratio``."""
    # in sigma of the points: the limits sit at L * ratio, a 1-sigma shift of the values
    # moves a point by points.shift (capped: a shift of many sigma of a point signals at the
    # first point, and would make the integral equations singular)
    f, shift = points.ratio, min(points.shift, _CERTAIN_SHIFT)
    name, width = _width_of(settings, series)
    params: dict[str, Any] = {name: width}
    if series.chart == "ewma":
        params = {"lambda": (settings.ewma or EwmaSettings()).lambda_, "L": width}
    elif series.chart == "cusum":
        cusum = settings.cusum or CusumSettings()
        params = {"k": cusum.k, "h": width, "fir": cusum.fir}
    m, dof, bias = _estimate_of(settings, series)
    zone = [c for c in codes if c not in ("nelson1", "we1")]
    if not codes:
        arl0 = arl1 = math.inf
        method = "no alarm"
    elif zone:
        estimate = rules_arl(codes, width * f, runs=4_000)
        arl0, arl1 = estimate.arl, rules_arl(codes, width * f, shift, runs=4_000).arl
        method = f"simulation of the rules, 4000 runs, s.e. {estimate.standard_error:.3g}"
    else:
        rate = _rate(settings, series, f)
        arl0 = 1.0 / estimated_limits_rate(lambda u, e: rate(width, u, e), m, dof, bias=bias)
        arl1 = _arl1(settings, series, width, f, shift)
        method = f"averaged over limits learnt from {m} points"
    if settings.subgroup_by == "time":
        params["subgroup_window_s"] = settings.subgroup_window_s
    if settings.baseline_points is not None:
        params["baseline_points"] = settings.baseline_points
    return Design(settings.chart, params, (*codes, SPEC_CODE), points.per_hour, arl0, arl1, method)


def _solve(
    settings: SpcSettings, series: SeriesSpec, target: float, ratio: float
) -> dict[str, Any]:
    """The settings changes that give ``series`` an in-control ARL of ``target`` points,
    averaged over the limits its baseline may give, with its limits narrowed by ``ratio``."""
    rate = _rate(settings, series, ratio)
    m, dof, bias = _estimate_of(settings, series)

    def gap(width: float) -> float:
        average = estimated_limits_rate(lambda u, e: rate(width, u, e), m, dof, bias=bias)
        return math.log(average) + math.log(target)

    # from the width of known limits, widened until the average rate keeps to the target
    if series.chart == "ewma":
        low = design_ewma((settings.ewma or EwmaSettings()).lambda_, target, shifts=()).limit
    elif series.chart == "cusum":
        low = design_cusum((settings.cusum or CusumSettings()).k * ratio, target, ()).limit
    else:
        low = -float(special.ndtri(0.5 / target))
    low /= ratio
    high = low * 1.1
    while gap(high) > 0:
        low, high = high, high * 1.1
    width = optimize.brentq(gap, low, high, xtol=1e-4) if gap(low) > 0 else low
    if series.chart == "ewma":
        ewma = settings.ewma or EwmaSettings()
        return {"ewma": {"lambda": ewma.lambda_, "L": math.ceil(width * 1000) / 1000}}
    if series.chart == "cusum":
        cusum = settings.cusum or CusumSettings()
        return {"cusum": {"k": cusum.k, "h": math.ceil(width * 100) / 100, "fir": cusum.fir}}
    return {"limit_sigma": min(math.ceil(width * 100) / 100, 6.0)}


def _with(settings: SpcSettings, changes: Mapping[str, Any]) -> SpcSettings:
    merged = {**settings.model_dump(by_alias=True), **changes}
    return SpcSettings.model_validate(merged)


def _window_s(batch: int, data: Series) -> float:
    """A batch of ``batch`` samples as a time window, rounded up to whole seconds (to whole
    minutes beyond a minute)."""
    interval = float(np.median(np.diff(data.times_s)))
    seconds = batch * interval
    step = 60.0 if seconds > 60.0 else 1.0
    return max(step, math.ceil(seconds / step) * step)


# --- the design -----------------------------------------------------------------------------------


def design_line(
    config: PlantConfig,
    line_name: str,
    data: Mapping[str, Series] | None = None,
    tag: str | None = None,
) -> LineBudget:
    """Share line ``line_name``'s budget among its charts and design each to keep its share.

    ``data`` holds Good samples per tag name (an in-control history); tags without it are
    designed from the config and the assumptions stated in the module docstring.  ``tag``
    limits the report to one tag's charts (shares are still those of the whole line).
    """
    line = config.line(line_name)
    data = data or {}
    budget = line.alarming.budget_per_hour
    charted = _charted(config, line)
    if tag is not None and tag not in {c.name for c in charted}:
        raise UserError(f"line {line_name!r} has no charted tag {tag!r}.")
    entries = []
    quiet = []
    for item in charted:
        chart = _chart(item, line_name, item.spc)
        for series in chart.series:
            codes = alarm_codes(item.spc, series)
            label = item.name if series.statistic is None else f"{item.name}.{series.name}"
            if codes:
                entries.append((item, series, codes))
            else:
                quiet.append(label)
    if not entries:
        return LineBudget(line_name, budget, (), tuple(quiet))
    share = budget / len(entries)
    results = [
        _design_chart(item, series, codes, share, data.get(item.name))
        for item, series, codes in entries
        if tag is None or item.name == tag
    ]
    notes = (
        f"budget {budget:g} alarm(s)/h shared equally among {len(entries)} chart(s) with an "
        f"alarmable condition: {share:.3g} alarm(s)/h each",
        "spec breaches take no share: a capable process in control breaches its spec about never",
    )
    return LineBudget(line_name, budget, tuple(results), tuple(quiet), notes)


def _design_chart(
    item: _Charted,
    series: SeriesSpec,
    codes: tuple[str, ...],
    share: float,
    data: Series | None,
) -> ChartBudget:
    notes = [item.interval_note] if item.interval_note and data is None else []
    usable = data is not None and series.statistic is None and data.values.size >= MIN_POINTS
    measured = _data_points(item.spc, series, data) if usable and data is not None else None
    if measured is None:
        points = _config_points(item.spc, series, item.interval_s)
        notes.append("no data: points assumed independent, rate from the config")
    else:
        points = measured
        notes.append(f"from data: {points.per_hour:.4g} points/h, sigma ratio {points.ratio:.3f}")
    if data is not None and series.statistic is None and SPEC_CODE in item.spc.alarms:
        breaches = spec_breaches_per_hour(item.spec, data)
        if breaches > share / 100.0:
            notes.append(
                f"spec breaches expected at {breaches:.3g}/h (normal fit of the data): not a "
                "capable process; breaches are not counted in the budget"
            )
    current = _evaluate(item.spc, series, codes, points)
    settings, proposed = item.spc, current
    if current.alarms_per_hour > share:
        settings, points, codes, extra = _redesign(item, series, codes, share, points, data)
        notes += extra
        proposed = _evaluate(settings, _series_of(settings, series), codes, points)
    if proposed.chart == "imr" and proposed.arl1 > SLOW_DETECTION and codes:
        ewma, design = _ewma_design(settings, points, share)
        if design.arl1 < proposed.arl1 and design.alarms_per_hour <= share * (1.0 + 1e-6):
            notes.append(
                f"an EWMA (lambda {ALTERNATIVE_LAMBDA:g}, L {design.parameters['L']:.4g}) "
                f"detects a 1-sigma shift in {design.arl1:.3g} points ({design.arl1_s:.3g} s)"
                f" where I-MR at L {proposed.parameters['limit_sigma']:.4g} takes "
                f"{proposed.arl1:.3g} ({proposed.arl1_s:.3g} s), within the same share"
            )
            settings, proposed = ewma, design
    return ChartBudget(
        item.name, series.name, share, current, proposed, settings, item.spc, tuple(notes)
    )


def _ewma_design(
    settings: SpcSettings, points: _Points, share: float
) -> tuple[SpcSettings, Design]:
    """An EWMA of lambda `ALTERNATIVE_LAMBDA` on the same points, its L solved for the share
    (the I-MR chart's width, ``limit_sigma``, back at its default: an EWMA has its own)."""
    changes = {"chart": "ewma", "ewma": {"lambda": ALTERNATIVE_LAMBDA}, "limit_sigma": 3.0}
    ewma = _with(settings, changes)
    series = SeriesSpec("ewma", "ewma")
    target = max(points.per_hour / share, FLOOR_ARL0)
    ewma = _with(ewma, _solve(ewma, series, target, points.ratio))
    return ewma, _evaluate(ewma, series, ("nelson1",), points)


def _series_of(settings: SpcSettings, series: SeriesSpec) -> SeriesSpec:
    if series.statistic is not None:
        return series
    return SeriesSpec(settings.chart, settings.chart)


def _redesign(
    item: _Charted,
    series: SeriesSpec,
    codes: tuple[str, ...],
    share: float,
    points: _Points,
    data: Series | None,
) -> tuple[SpcSettings, _Points, tuple[str, ...], list[str]]:
    settings, notes = item.spc, []
    if points.lag1 is not None and points.lag1 > TARGET_LAG1 and data is not None:
        batch = batch_size_from_data(data.values)
        window = _window_s(batch.size, data)
        chart = "imr" if series.xbar else settings.chart
        settings = _with(
            settings,
            {"chart": chart, "subgroup_by": "time", "subgroup_window_s": window,
             "subgroup_size": 1},
        )  # fmt: skip
        series = SeriesSpec(chart, chart)
        lag1 = float(batch_means_lag1(batch.fit.phi, batch.size, batch.fit.ar_fraction))
        notes.append(
            f"autocorrelated (lag-1 {points.lag1:.2f}): batch means of {batch.size} samples "
            f"({window:g} s windows), lag-1 of the means {batch.lag1:.3f} ({batch.method}); "
            f"AR(1) fit phi {batch.fit.phi:.5f} carrying {batch.fit.ar_fraction:.0%} of the "
            "variance"
        )
        measured = _data_points(settings, series, data)
        model_ratio = math.sqrt(max(1.0 - lag1, 0.0))
        shift = 1.0 / math.sqrt(batch.variance_ratio)
        per_hour = 3600.0 / window
        if measured is not None and measured.lag1 is not None:
            points = _Points(per_hour, min(measured.ratio, model_ratio), measured.lag1, shift)
        else:
            points = _Points(per_hour, model_ratio, lag1, shift)
        codes = alarm_codes(settings, series)
    if series.chart in ("imr", "xbar-r", "xbar-s"):
        limit = limit_rule_code(settings.rules) or "nelson1"
        dropped = {alarm_entry(series, c) for c in codes if c != limit}
        alarms = [c for c in settings.alarms if c not in dropped]
        codes = (limit,)
        alarms = tuple(dict.fromkeys([*alarms, alarm_entry(series, limit)]))
        settings = _with(settings, {"alarms": alarms})
    baseline = int(min(FAST_BASELINE, points.per_hour * BASELINE_HOURS))
    if baseline > settings.baseline:
        # limits learnt from 100 points vary so much that their average false-alarm rate at
        # 4.35 sigma is about 4 times the nominal one (1.2 from 1000 points)
        settings = _with(settings, {"baseline_points": baseline})
        notes.append(f"learns its limits from {baseline} points (was {item.spc.baseline})")
    target = max(points.per_hour / share, FLOOR_ARL0)
    settings = _with(settings, _solve(settings, series, target, points.ratio))
    return settings, points, codes, notes


# --- what the engine reads: data of a recording ---------------------------------------------------


def proposed_settings(budget: LineBudget) -> dict[str, SpcSettings]:
    """The proposed ``spc:`` settings of each tag of ``budget`` that changes: the changes of
    its charts together (a profile tag's statistics share its ``limit_sigma``: the widest)."""
    merged: dict[str, dict[str, Any]] = {}
    for chart in budget.charts:
        was = chart.was.model_dump(by_alias=True)
        now = chart.settings.model_dump(by_alias=True)
        changes = {k: v for k, v in now.items() if v != was[k]}
        if not changes:
            continue
        tag = merged.setdefault(chart.tag, dict(was))
        if "limit_sigma" in changes and tag["limit_sigma"] != was["limit_sigma"]:
            changes["limit_sigma"] = max(changes["limit_sigma"], tag["limit_sigma"])
        if "alarms" in changes:  # each chart drops or adds its own entries
            dropped = set(was["alarms"]) - set(now["alarms"])
            added = [c for c in now["alarms"] if c not in was["alarms"]]
            kept = [c for c in tag["alarms"] if c not in dropped]
            changes["alarms"] = tuple(dict.fromkeys([*kept, *added]))
        tag.update(changes)
    return {tag: SpcSettings.model_validate(values) for tag, values in merged.items()}


def spec_breaches_per_hour(spec: SpecLimits | None, data: Series) -> float:
    """Samples beyond ``spec`` an hour that a normal fit of ``data`` expects (mean and standard
    deviation of the samples, their rate over the data's span)."""
    if spec is None or data.values.size < 2 or data.times_s[-1] <= data.times_s[0]:
        return 0.0
    mean, sd = float(np.mean(data.values)), float(np.std(data.values, ddof=1))
    if not sd > 0:
        return 0.0
    beyond = 0.0
    if spec.lsl is not None:
        beyond += float(special.ndtr((spec.lsl - mean) / sd))
    if spec.usl is not None:
        beyond += float(special.ndtr((mean - spec.usl) / sd))
    per_hour = data.values.size / ((data.times_s[-1] - data.times_s[0]) / 3600.0)
    return beyond * per_hour


def series_from_readings(readings: Any, line: str) -> dict[str, Series]:
    """Good, finite samples of line ``line`` per tag from replay readings
    (`plantqc.connectors.replay.Recording.readings`)."""
    from plantqc.quality import GOOD_BELOW

    times: dict[str, list[float]] = {}
    values: dict[str, list[float]] = {}
    for r in readings:
        if r.line != line or not 0 <= r.status < GOOD_BELOW or not math.isfinite(r.value):
            continue
        times.setdefault(r.tag, []).append(r.ts.timestamp())
        values.setdefault(r.tag, []).append(float(r.value))
    return {tag: Series(np.asarray(times[tag]), np.asarray(values[tag])) for tag in times}
