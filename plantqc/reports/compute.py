"""The numbers of a report: spec table, capability, control charts and disposition.

Every statistic comes from `spc` (capability: Montgomery §8.2-8.3 with the chi-square and
Bissell intervals and Anderson-Darling, within sigma as the characteristic's chart estimates it;
charts: the chart's design (`plantqc.charting.design`) on the limits stored in force at each
point, with the signals the engine stored; CD profiles: `spc.profile_statistics`) applied to
exactly the rows of `plantqc.reports.data`.  A characteristic's measured value is its mean over
the lot; it passes when that mean lies within the spec limits and no more than
``max_out_of_spec_pct`` percent of its individual values lie outside them
(`plantqc.reports.settings.ReportSettings`).  Arrays are reduced here to what a figure needs
(at most `PLOT_BUCKETS` points, `HISTOGRAM_BINS` bins), so the full series can be dropped.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import numpy as np

import spc
from plantqc.charting.chart import ChartConfig
from plantqc.charting.design import ChartDesign
from plantqc.charting.limits import rules_on
from plantqc.charting.names import LOCATION_CHARTS, SeriesSpec, image_metric_tag
from plantqc.charting.subgroups import Rolls, chart_points, epoch_us
from plantqc.config import IMAGE_METRICS, Product
from plantqc.reports.data import (
    ImageRecord,
    LimitsInForce,
    LimitsSchedule,
    LotData,
    ProfileSeries,
    RollInfo,
    Series,
    series_chart,
)
from plantqc.reports.settings import ReportSettings
from spc import SPCInputError

PLOT_BUCKETS = 400
"""Most points a chart draws: longer series are drawn as min / mean / max per bucket."""
HISTOGRAM_BINS = 40
NORMALITY_ALPHA = 0.05
"""Anderson-Darling p-value below which the data are called not normal."""
UNIT_SYMBOLS = {"um": "µm", "degC": "°C", "mPa.s": "mPa·s", "1/m2": "1/m²", "m2": "m²"}
"""How a report prints the plain-text units of the config; ``report.json`` keeps them as given."""


def unit_symbol(unit: str) -> str:
    """``unit`` as a report prints it (``um`` -> ``µm``, see `UNIT_SYMBOLS`)."""
    return UNIT_SYMBOLS.get(unit, unit)


@dataclass(frozen=True)
class Histogram:
    """Bin counts and edges of a characteristic's values, with the fitted normal's parameters."""

    counts: list[int]
    edges: list[float]
    mean: float | None = None
    sigma: float | None = None


@dataclass(frozen=True)
class ChartPlot:
    """A chart reduced for drawing: per point or per bucket, x in epoch seconds.

    ``lines`` maps a statistic name to (mean, min, max) per x; ``ucl`` / ``lcl`` are the widest
    limits and ``center`` the mean center line per x; ``marks`` are (x, value) of points where
    a rule signalled; ``changes`` are (x, label) where another limits version came into force.
    """

    x: list[float]
    lines: dict[str, tuple[list[float], list[float], list[float]]]
    ucl: list[float]
    lcl: list[float]
    center: list[float]
    marks: list[tuple[float, float]]
    changes: list[tuple[float, str]]
    unit: str


def _when(epoch_s: float) -> str:
    return datetime.fromtimestamp(epoch_s, UTC).isoformat()


@dataclass(frozen=True)
class LimitsSegment:
    """The points of a chart that ran on one limits version, with that version's lines.

    ``first_s`` / ``last_s`` are the times of its first and last point (epoch seconds);
    ``center`` / ``lcl`` / ``ucl`` those of its last point, in the unit of the chart.
    """

    limits: LimitsInForce
    rules: str
    points: int
    first_s: float
    last_s: float
    center: float
    lcl: float
    ucl: float
    violations: dict[str, int]

    @property
    def label(self) -> str:
        """``v2``: the stored version."""
        return f"v{self.limits.version}"

    def to_dict(self) -> dict[str, Any]:
        limits = self.limits
        return {
            "version": limits.version,
            "basis": limits.basis,
            "frozen": limits.frozen,
            "frozen_by": limits.frozen_by,
            "frozen_at": limits.frozen_at.isoformat() if limits.frozen_at else None,
            "valid_from": limits.valid_from.isoformat() if limits.valid_from else None,
            "sigma": limits.sigma,
            "sigma_method": limits.sigma_method,
            "rules": self.rules,
            "points": self.points,
            "first_at": _when(self.first_s),
            "last_at": _when(self.last_s),
            "center": self.center,
            "lcl": self.lcl,
            "ucl": self.ucl,
            "violations": dict(self.violations),
        }


@dataclass(frozen=True)
class ChartResult:
    """A characteristic's control chart over the lot: one segment per limits version in force.

    ``uncharted`` counts the points that are not charted: before any limits were in force, or
    in a segment of one point, too short for a chart.
    """

    chart: str
    segments: list[LimitsSegment]
    uncharted: int
    plot: ChartPlot

    @property
    def points(self) -> int:
        return sum(segment.points for segment in self.segments)

    @property
    def violations(self) -> dict[str, int]:
        """Signals per rule code over every segment."""
        total: dict[str, int] = {}
        for segment in self.segments:
            for code, count in segment.violations.items():
                total[code] = total.get(code, 0) + count
        return total

    def to_dict(self) -> dict[str, Any]:
        return {
            "chart": self.chart,
            "points": self.points,
            "uncharted": self.uncharted,
            "violations": self.violations,
            "limits": [segment.to_dict() for segment in self.segments],
        }


@dataclass(frozen=True)
class Characteristic:
    """One row of the specification table with its capability and chart.

    ``verdict`` is ``pass``, ``fail`` (a reason in ``failures``: the lot mean outside the spec,
    or more than the allowed share of individual values outside it), ``no spec`` or ``no
    data``.  ``out_of_spec`` counts the individual values outside the spec limits and
    ``out_of_spec_pct`` is their share of ``n`` in percent.  ``capability_indicative`` marks
    a study of fewer values than ``ReportSettings.capability_min_n``: shown, not decisive.
    """

    key: str
    name: str
    source: str  # process | image | profile
    unit: str
    lsl: float | None
    target: float | None
    usl: float | None
    spec_basis: str
    n: int
    mean: float | None
    std: float | None
    minimum: float | None
    maximum: float | None
    out_of_spec: int
    out_of_spec_pct: float | None
    verdict: str
    failures: tuple[str, ...] = ()
    capability: spc.Capability | None = None
    capability_note: str | None = None
    capability_indicative: bool = False
    chart: ChartResult | None = None
    histogram: Histogram | None = field(default=None, repr=False)

    @property
    def has_spec(self) -> bool:
        return self.lsl is not None or self.usl is not None

    @property
    def normal(self) -> bool | None:
        """Anderson-Darling verdict at `NORMALITY_ALPHA`; None without a capability study."""
        if self.capability is None:
            return None
        return self.capability.normality["p_value"] >= NORMALITY_ALPHA

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "name": self.name,
            "source": self.source,
            "unit": self.unit,
            "lsl": self.lsl,
            "target": self.target,
            "usl": self.usl,
            "spec_basis": self.spec_basis,
            "n": self.n,
            "mean": self.mean,
            "std": self.std,
            "min": self.minimum,
            "max": self.maximum,
            "out_of_spec": self.out_of_spec,
            "out_of_spec_pct": self.out_of_spec_pct,
            "verdict": self.verdict,
            "failures": list(self.failures),
            "capability": self.capability.to_dict() if self.capability else None,
            "capability_indicative": self.capability_indicative,
            "normal": self.normal,
            "capability_note": self.capability_note,
            "chart": self.chart.to_dict() if self.chart else None,
        }


def _finite(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


def _spec_text(lsl: float | None, usl: float | None, unit: str) -> str:
    """``[47, 53] µm``: the spec interval as reasons print it (an open side as -inf / +inf)."""
    low = f"{lsl:g}" if lsl is not None else "-inf"
    high = f"{usl:g}" if usl is not None else "+inf"
    return f"[{low}, {high}] {unit_symbol(unit)}".rstrip()


def _failures(
    mean: float,
    n: int,
    out_of_spec: int,
    lsl: float | None,
    usl: float | None,
    unit: str,
    max_out_of_spec_pct: float,
) -> tuple[str, ...]:
    """Why a characteristic with a spec fails: its mean, its share of values out of spec."""
    failures = []
    if (lsl is not None and mean < lsl) or (usl is not None and mean > usl):
        failures.append(f"lot mean {mean:.4g} is outside the spec {_spec_text(lsl, usl, unit)}")
    pct = 100.0 * out_of_spec / n
    if pct > max_out_of_spec_pct:
        failures.append(
            f"{out_of_spec} of {n} values ({pct:.3g} %) are outside the spec "
            f"{_spec_text(lsl, usl, unit)}, more than the {max_out_of_spec_pct:g} % allowed"
        )
    return tuple(failures)


def characteristic(
    key: str,
    name: str,
    source: str,
    unit: str,
    values: np.ndarray,
    spec: tuple[float | None, float | None, float | None],
    spec_basis: str,
    settings: ReportSettings,
    *,
    subgroups: np.ndarray | None = None,
    within: str = "range",
    constants: str = "exact",
    chart: ChartResult | None = None,
) -> Characteristic:
    r"""The spec-table row, capability study and histogram of ``values`` against ``spec``.

    ``spec`` is (LSL, target, USL); every value is an individual value (a sample, a scan's
    statistic, an image's result) that must lie within it, up to ``settings``'
    ``max_out_of_spec_pct``.  ``subgroups`` labels rational subgroups for the within sigma of
    the capability study (``within``: ``range`` :math:`\bar R/d_2`, ``std``
    :math:`\bar s/c_4`), else it is :math:`\overline{MR}/d_2`, with d2 and c4 of the
    constant set ``constants`` (the chart's `plantqc.charting.settings.SpcSettings.constants`).
    """
    lsl, target, usl = spec
    n = int(values.size)
    if n == 0:
        return Characteristic(
            key, name, source, unit, lsl, target, usl, spec_basis, 0, None, None, None, None,
            0, None, "no data", capability_note="no data in the lot", chart=chart,
        )  # fmt: skip
    mean = float(np.mean(values))
    below = int(np.sum(values < lsl)) if lsl is not None else 0
    above = int(np.sum(values > usl)) if usl is not None else 0
    out_of_spec = below + above
    has_spec = lsl is not None or usl is not None
    failures = (
        _failures(mean, n, out_of_spec, lsl, usl, unit, settings.max_out_of_spec_pct)
        if has_spec
        else ()
    )
    verdict = "fail" if failures else "pass" if has_spec else "no spec"
    capability, note = None, None
    if not has_spec:
        note = "no spec limits"
    elif n < 3:
        note = f"{n} value(s); a capability study needs at least 3"
    else:
        try:
            capability = spc.capability(
                values,
                subgroups,
                lsl=lsl,
                usl=usl,
                target=target,
                within=within,
                constants=constants,
            )
        except SPCInputError as exc:
            note = str(exc)
    return Characteristic(
        key=key,
        name=name,
        source=source,
        unit=unit,
        lsl=lsl,
        target=target,
        usl=usl,
        spec_basis=spec_basis,
        n=n,
        mean=mean,
        std=_finite(float(np.std(values, ddof=1))) if n > 1 else None,
        minimum=float(np.min(values)),
        maximum=float(np.max(values)),
        out_of_spec=out_of_spec,
        out_of_spec_pct=100.0 * out_of_spec / n if has_spec else None,
        verdict=verdict,
        failures=failures,
        capability=capability,
        capability_note=note,
        capability_indicative=capability is not None and n < settings.capability_min_n,
        chart=chart,
        histogram=_histogram(values, lsl, usl, capability),
    )


def _histogram(
    values: np.ndarray, lsl: float | None, usl: float | None, capability: spc.Capability | None
) -> Histogram:
    low = min(float(np.min(values)), lsl if lsl is not None else math.inf)
    high = max(float(np.max(values)), usl if usl is not None else -math.inf)
    if high <= low:
        low, high = low - 0.5, high + 0.5
    margin = 0.05 * (high - low)
    counts, edges = np.histogram(values, bins=HISTOGRAM_BINS, range=(low - margin, high + margin))
    if capability is None:
        return Histogram(counts.tolist(), edges.tolist())
    return Histogram(counts.tolist(), edges.tolist(), capability.mean, capability.sigma_overall)


def subgroup_labels(count: int, size: int) -> np.ndarray:
    """Consecutive subgroups of ``size``; a single trailing value joins the last subgroup."""
    labels = np.arange(count) // size
    if count > size and count % size == 1:
        labels[-1] = labels[-2]
    return labels


def _rolls(rolls: Sequence[RollInfo]) -> Rolls:
    return Rolls.of([(r.started_at, r.ended_at) for r in rolls])


def _joined(parts: list[spc.ControlChart]) -> spc.ControlChart:
    """The charts of consecutive segments as one chart (signal positions shifted to match)."""
    offsets = np.cumsum([0, *(len(part.values) for part in parts[:-1])])
    signals: dict[str, np.ndarray] = {}
    for part, offset in zip(parts, offsets, strict=True):
        for code, indices in part.signals.items():
            signals[code] = np.concatenate([signals.get(code, np.empty(0, int)), indices + offset])
    return spc.ControlChart(
        name=parts[0].name,
        **{
            name: np.concatenate([np.asarray(getattr(part, name)) for part in parts])
            for name in ("values", "center", "ucl", "lcl", "sigma", "labels")
        },
        signals=signals,
    )


def _stored_signals(
    schedule: LimitsSchedule, names: Sequence[str], times_s: np.ndarray
) -> dict[str, np.ndarray]:
    """The stored signals on the charts ``names`` as indices of the points at ``times_s``
    (epoch seconds, ascending) they were signalled at, by rule."""
    found: dict[str, list[int]] = {}
    for signal in schedule.signals:
        if signal.point in names:
            at = bisect.bisect_left(times_s.tolist(), signal.ts.timestamp() - 5e-7)
            found.setdefault(signal.rule, []).append(min(at, times_s.size - 1))
    return {rule: np.array(sorted(set(at)), dtype=int) for rule, at in found.items()}


def control_chart(
    chart: ChartConfig,
    series: SeriesSpec,
    schedule: LimitsSchedule,
    times_us: np.ndarray,
    values: np.ndarray,
    unit: str,
    rolls: Sequence[RollInfo] = (),
) -> ChartResult | None:
    """The chart of a characteristic over the lot and its plot; None with too few points.

    Points are formed as the engine forms them (`plantqc.charting.subgroups`); each is drawn
    on the limits stored in force at its time (`LimitsSchedule.at`), with the chart starting
    again where the version changes, as the engine's evaluator does.  The signals counted and
    marked are the ones the engine stored against each version.
    """
    by_roll = chart.subgroup_by == "roll" and series.statistic is None
    found = chart_points(chart, series, times_us, values, _rolls(rolls) if by_roll else None)
    values, labels, point_times = found.values, found.labels, found.point_times
    if values.size < 2:
        return None
    if labels is None:
        point_of_value = np.arange(values.size)
    else:
        point_of_value = np.cumsum(np.r_[True, labels[1:] != labels[:-1]]) - 1
    in_force = schedule.at(point_times)
    names = LOCATION_CHARTS[series.chart]  # drawn; the spread charts are counted only
    segments, parts, part_times = [], [], []
    for position, limits in enumerate(schedule.versions):
        at_points = in_force == position
        if at_points.sum() < 2:
            continue
        members = at_points[point_of_value]
        design = ChartDesign(
            chart,
            series,
            limits.center,
            limits.sigma,
            limits.sigma_method,
            limits.basis,
            limits.constants,
        )
        charts = design.batch(values[members], None if labels is None else labels[members])
        primary = charts[names[0]]
        violations: dict[str, int] = {}
        for signal in schedule.signals:
            if signal.limits_id == limits.id:
                violations[signal.rule] = violations.get(signal.rule, 0) + 1
        times = point_times[at_points]
        segments.append(
            LimitsSegment(
                limits=limits,
                rules=", ".join(rules_on(chart, limits.basis)) or "none",
                points=len(primary.values),
                first_s=float(times[0]),
                last_s=float(times[-1]),
                center=float(primary.center[-1]),
                lcl=float(primary.lcl[-1]),
                ucl=float(primary.ucl[-1]),
                violations=violations,
            )
        )
        parts.append(charts)
        part_times.append(times)
    if not segments:
        return None
    drawn = np.concatenate(part_times)
    marks = _stored_signals(schedule, names, drawn)
    joined = {
        name: replace(_joined([charts[name] for charts in parts]), signals=marks) for name in names
    }
    changes = [(segment.first_s, f"limits {segment.label}") for segment in segments[1:]]
    plot = _reduce(drawn, joined, changes, unit)
    uncharted = point_times.size - sum(segment.points for segment in segments)
    return ChartResult(series.chart, segments, uncharted, plot)


def _buckets(count: int) -> np.ndarray:
    """Start index of each of at most `PLOT_BUCKETS` equal-count buckets."""
    return np.linspace(0, count, min(count, PLOT_BUCKETS) + 1).astype(int)[:-1]


def _reduce(
    times_s: np.ndarray,
    charts: dict[str, spc.ControlChart],
    changes: list[tuple[float, str]],
    unit: str,
) -> ChartPlot:
    starts = _buckets(times_s.size)
    bucket_of = np.searchsorted(starts, np.arange(times_s.size), side="right") - 1
    sizes = np.diff(np.r_[starts, times_s.size])
    x = np.add.reduceat(times_s, starts) / sizes
    lines = {}
    marks: dict[int, tuple[float, float]] = {}
    upper = lower = None
    for name, chart in charts.items():
        values = np.asarray(chart.values, dtype=float)
        lines[name] = (
            (np.add.reduceat(values, starts) / sizes).tolist(),
            np.minimum.reduceat(values, starts).tolist(),
            np.maximum.reduceat(values, starts).tolist(),
        )
        ucl = np.maximum.reduceat(np.asarray(chart.ucl, dtype=float), starts)
        lcl = np.minimum.reduceat(np.asarray(chart.lcl, dtype=float), starts)
        upper = ucl if upper is None else np.maximum(upper, ucl)
        lower = lcl if lower is None else np.minimum(lower, lcl)
        for index in sorted({int(i) for v in chart.signals.values() for i in v.tolist()}):
            marks.setdefault(int(bucket_of[index]), (float(x[bucket_of[index]]), values[index]))
    assert upper is not None and lower is not None
    center = np.asarray(next(iter(charts.values())).center, dtype=float)
    return ChartPlot(
        x=x.tolist(),
        lines=lines,
        ucl=upper.tolist(),
        lcl=lower.tolist(),
        center=(np.add.reduceat(center, starts) / sizes).tolist(),
        marks=list(marks.values()),
        changes=changes,
        unit=unit,
    )


def process_characteristic(
    series: Series, data: LotData, settings: ReportSettings
) -> Characteristic:
    r"""A process tag's row: its Good samples against the tag's spec, charted when configured.

    The capability study's within sigma is the chart's: :math:`\bar s/c_4` of the subgroups
    of an X-bar/S chart, :math:`\bar R/d_2` of an X-bar/R chart's (subgroups by count), else
    :math:`\overline{MR}/d_2` (Montgomery §6.2-6.4).
    """
    tag = series.tag
    chart = labels = None
    within = "range"
    found = series_chart(data, tag)
    if found is not None:
        chart = control_chart(*found, series.times_us, series.values, tag.unit, data.rolls)
    config = tag.chart
    by_count = config is not None and config.subgroup_by == "count"
    if by_count and config.chart.startswith("xbar") and series.values.size > config.subgroup_size:
        labels = subgroup_labels(series.values.size, config.subgroup_size)
        within = "std" if config.chart == "xbar-s" else "range"
    return characteristic(
        f"tag:{tag.name}",
        tag.name,
        "process",
        tag.unit,
        series.values,
        (tag.lsl, tag.target, tag.usl),
        "tag spec",
        settings,
        subgroups=labels,
        within=within,
        constants=tag.constants,
        chart=chart,
    )


# --- images ------------------------------------------------------------------------------------


def _nested(*path: str) -> Callable[[dict[str, Any]], Any]:
    def get(document: dict[str, Any]) -> Any:
        value: Any = document
        for key in path:
            value = value.get(key) if isinstance(value, dict) else None
        return value

    return get


IMAGE_CHARACTERISTICS: dict[str, dict[str, tuple[str, Callable[[dict[str, Any]], Any]]]] = {
    "particles": {
        "filler_wt_pct": ("Filler loading from images (Delesse)", _nested("loading", "wt_pct")),
        "agglomerate_area_fraction": (
            "Agglomerate area fraction",
            _nested("agglomerates", "area_fraction"),
        ),
        "dispersion_index": (
            "Dispersion index (Morisita)",
            _nested("dispersion", "morisita_index"),
        ),
    },
    "thickness": {
        "mean_thickness_um": ("Cross-section thickness", _nested("thickness_um", "mean")),
    },
    "defects": {"defects_per_m2": ("Surface defect density", _nested("defects_per_m2"))},
}
"""Per analysis, the image metrics a report checks: display name and where the vision document
(`vision` results' ``to_dict()``) holds the value; `plantqc.images` also stores each metric
under its own key, which is read first."""


def image_metric(image: ImageRecord, metric: str) -> float | None:
    """The finite value of ``metric`` in an image result's document, if it has one."""
    document = image.metrics or {}
    value = document.get(metric)
    if value is None:
        value = IMAGE_CHARACTERISTICS[image.analysis][metric][1](document)
    return float(value) if isinstance(value, int | float) and math.isfinite(value) else None


def _recipe_spec(
    metric: str, product: Product | None, settings: ReportSettings
) -> tuple[tuple[float | None, float | None, float | None], str]:
    if product is None:
        return (None, None, None), ""
    if metric == "filler_wt_pct":
        nominal, tolerance = product.filler_wt_pct, settings.loading_tolerance_wt_pct
        return (
            (max(nominal - tolerance, 0.0), nominal, min(nominal + tolerance, 100.0)),
            f"recipe {nominal:g} wt% ± {tolerance:g}",
        )
    if metric == "mean_thickness_um":
        target, tolerance = product.thickness_target_um, product.thickness_tolerance_um
        return (target - tolerance, target, target + tolerance), "recipe thickness"
    return (None, None, None), ""


def image_characteristics(
    data: LotData,
    expected: list[tuple[str, str]],
    product: Product | None,
    settings: ReportSettings,
) -> list[Characteristic]:
    """One row per image input and metric: ``expected`` (input, analysis) pairs from the config
    plus whatever inputs have results; an expected input without results is a ``no data`` row.

    The spec is the metric tag's (``images[].metrics`` in the config), else the recipe's.
    """
    inputs = list(dict.fromkeys([*expected, *((i.input_name, i.analysis) for i in data.images)]))
    rows = []
    for input_name, analysis in inputs:
        ok = [i for i in data.images if i.input_name == input_name and i.status == "ok"]
        for metric, (label, _) in IMAGE_CHARACTERISTICS.get(analysis, {}).items():
            pairs = [(i, v) for i in ok if (v := image_metric(i, metric)) is not None]
            values = np.array([v for _, v in pairs], dtype=float)
            tag = data.image_tags.get(image_metric_tag(input_name, metric))
            if tag is not None and (tag.lsl is not None or tag.usl is not None):
                spec, basis = (tag.lsl, tag.target, tag.usl), "config spec"
            else:
                spec, basis = _recipe_spec(metric, product, settings)
            chart = None
            found = series_chart(data, tag) if tag is not None else None
            if found is not None:
                times = epoch_us([i.captured_at for i, _ in pairs])
                chart = control_chart(
                    *found, times, values, IMAGE_METRICS[analysis][metric], data.rolls
                )
            rows.append(
                characteristic(
                    f"image:{input_name}.{metric}",
                    f"{label} [{input_name}]",
                    "image",
                    IMAGE_METRICS[analysis][metric],
                    values,
                    spec,
                    basis,
                    settings,
                    constants=tag.constants if tag is not None else "exact",
                    chart=chart,
                )
            )
    return rows


# --- cross-direction profiles ------------------------------------------------------------------


@dataclass(frozen=True)
class ProfileSummary:
    """The lot's mean CD profile of one profile tag (per lane: mean, min, max over scans)."""

    tag: str
    unit: str
    lanes: int
    scans: int
    mean: list[float]
    minimum: list[float]
    maximum: list[float]
    lsl: float | None
    usl: float | None


def profile_characteristics(
    profiles: ProfileSeries, data: LotData, settings: ReportSettings
) -> tuple[list[Characteristic], ProfileSummary | None]:
    """CD uniformity (2-sigma per scan, `spc.profile_statistics`) and the scan means of one
    profile tag, with the lot's mean profile; no rows when the tag has no scans in the lot."""
    tag = profiles.tag
    if profiles.scans.shape[0] == 0:
        return [], None
    try:
        statistics = spc.profile_statistics(profiles.scans)
    except SPCInputError:
        return [], None
    width = None
    if tag.lsl is not None and tag.usl is not None:
        width = (tag.usl - tag.lsl) / 2.0
    limit = settings.cd_two_sigma_max_um or width
    basis = "reports.cd_two_sigma_max_um" if settings.cd_two_sigma_max_um else "half spec width"

    def chart_of(statistic: str) -> ChartResult | None:
        found = series_chart(data, tag, statistic)
        if found is None:
            return None
        return control_chart(
            *found, profiles.times_us, statistics[statistic].to_numpy(), tag.unit, data.rolls
        )

    rows = [
        characteristic(
            f"profile:{tag.name}.two_sigma",
            f"CD uniformity 2σ [{tag.name}]",
            "profile",
            tag.unit,
            statistics["two_sigma"].to_numpy(),
            (None, None, limit),
            basis if limit is not None else "",
            settings,
            constants=tag.constants,
            chart=chart_of("two_sigma"),
        ),
        characteristic(
            f"profile:{tag.name}.mean",
            f"CD scan mean [{tag.name}]",
            "profile",
            tag.unit,
            statistics["mean"].to_numpy(),
            (tag.lsl, tag.target, tag.usl),
            "tag spec",
            settings,
            constants=tag.constants,
            chart=chart_of("mean"),
        ),
    ]
    scans = profiles.scans
    summary = ProfileSummary(
        tag=tag.name,
        unit=tag.unit,
        lanes=scans.shape[1],
        scans=scans.shape[0],
        mean=np.nanmean(scans, axis=0).tolist(),
        minimum=np.nanmin(scans, axis=0).tolist(),
        maximum=np.nanmax(scans, axis=0).tolist(),
        lsl=tag.lsl,
        usl=tag.usl,
    )
    return rows, summary


# --- disposition -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Disposition:
    """Release / hold / reject with every reason (``(decision, sentence)``), reject first."""

    decision: str
    reasons: list[tuple[str, str]]

    def to_dict(self) -> dict[str, Any]:
        return {
            "decision": self.decision,
            "reasons": [{"decision": d, "reason": r} for d, r in self.reasons],
        }


def disposition(rows: list[Characteristic], data: LotData, settings: ReportSettings) -> Disposition:
    """Apply the report rules of ``settings`` (`plantqc.reports.settings.ReportSettings`)."""
    reasons: list[tuple[str, str]] = []
    fail = "reject" if settings.reject_on_spec_fail else "hold"
    for row in rows:
        reasons += [(fail, f"{row.name}: {failure}") for failure in row.failures]
    if settings.hold_on_unacknowledged_alarm:
        for alarm in data.alarms:
            if alarm.unacknowledged:
                what = f"{alarm.tag} {alarm.code}" if alarm.tag else alarm.code
                reasons.append(("hold", f"alarm {alarm.id} ({what}) is not acknowledged"))
    if settings.hold_on_alerts:
        for row in rows:
            hits = row.chart.violations if row.chart is not None else {}
            if hits:
                listed = ", ".join(f"{code} x{n}" for code, n in sorted(hits.items()))
                reasons.append(("hold", f"{row.name}: rule violations (alerts) {listed}"))
    if settings.hold_on_low_cpk:
        for row in rows:
            cap = row.capability
            if cap is None or row.capability_indicative or not math.isfinite(cap.cpk):
                continue
            if cap.cpk < settings.cpk_min:
                reasons.append(
                    ("hold", f"{row.name}: Cpk {cap.cpk:.2f} is below {settings.cpk_min:g}")
                )
    if settings.hold_on_missing_data:
        for row in rows:
            if row.verdict == "no data":
                reasons.append(("hold", f"{row.name}: no data in the lot"))
    if data.open_lot:
        reasons.append(("hold", "the lot is still open (no end time recorded)"))
    reasons.sort(key=lambda r: r[0] != "reject")
    decisions = {d for d, _ in reasons}
    decision = "reject" if "reject" in decisions else "hold" if decisions else "release"
    return Disposition(decision, reasons)
