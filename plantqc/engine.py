"""The streaming SPC engine: stored samples -> subgroups -> charts -> rules -> violations, alarms.

Per tag with SPC settings, streaming evaluators of :mod:`spc.streaming` consume the tag's
samples in source-time order, reading them from the store after the last sample processed.
Bad / Uncertain samples are not charted (DESIGN.md) but feed the sensor-fault checks.

Series.  A scalar tag is one chart, named in ``control_limits.chart`` by its chart type
(``imr``, ``xbar-r``, ...), its points in ``violations.chart`` by the evaluator's chart names
(``i``, ``mr``, ``xbar``, ``r``, ``s``, ``ewma``, ``cusum_upper``, ``cusum_lower``).  A profile
tag (cross-direction thickness scans) is charted through per-scan statistics
(`spc.profiles.profile_statistics`), each its own chart with its own limits, named
``cd_mean``, ``cd_2sigma``, ``cd_range``, ``cd_cv``, ``cd_wedge``, ``cd_edge_l``, ``cd_edge_r``
(`PROFILE_SERIES`) in ``control_limits.chart``, with points ``cd_mean.i``, ``cd_mean.mr``,
``cd_mean.ewma``, ``cd_2sigma.i`` ... in ``violations.chart`` and alarm codes
``cd_2sigma:nelson1`` ...

Subgroups are formed by count (consecutive samples), by time window (``subgroup_window_s``
windows aligned to the Unix epoch) or by roll (the samples between the roll's start and end,
`plantqc.store.models.Roll`).  A time or roll subgroup is complete when the first sample of a
later window or roll arrives; X-bar charts judge it on the limits of its own size
(Montgomery §6.3.2), individuals-based charts chart its mean.  The open subgroup is part of the
persisted state.

Limits.  The newest frozen (phase I) `ControlLimits` row of the chart; until limits are
frozen, limits derived from the spec (center = target, else the spec midpoint;
sigma = (USL - LSL) / 6, for scalar tags and the scan mean); without spec limits, provisional
limits estimated from the chart's first `PROVISIONAL_POINTS` points (subgroups of an X-bar
chart), which are then charted on them; until then the chart collects them (logged once).
Every version is a stored row, so each violation names the limits it was judged against.  The
sigma-zone rules (Nelson 5-8, Western Electric 2-3) compare points with 1- and 2-sigma lines
and only mean something with a sigma estimated from the process: they run on frozen phase I
limits only.  On spec-derived or provisional limits the rules that need only the center line,
the control limits and the order of points run (Nelson 1-4, Western Electric 1 and 4).

Alarms.  Rules that fire raise SPC alarms (`plantqc.alarms`), with priority from the rule and
the tag's ``alarm_priority`` / ``rule_priority`` settings.  Sensor faults are alarms of kind
``sensor-fault``: ``bad-quality`` (a run of Bad samples), ``stuck`` (identical consecutive
Good values) and ``silent`` (no sample for too long, `SpcEngine.check_silence`); each returns
to normal when good data resumes.  While a line's running condition does not hold, its tags'
alarms are suppressed by design.

The evaluator states, the open subgroups, the recent points of each chart, the rule and fault
bookkeeping and the last sample time processed are written to ``engine_state`` in the same
transaction as the violations and alarm changes of those samples: after a restart the engine
continues exactly as if it had not stopped, and a crash between the two cannot lose or repeat
a violation.  A sample that arrives with a source time older than the last one processed is
stored but not charted (the chart is a time sequence).

References
----------
.. [1] D. C. Montgomery, *Introduction to Statistical Quality Control*, 7th ed., Wiley, 2013,
   §5.3.7 (phase I / phase II), §6.2.1 (revised trial limits), §6.3.2 (variable sample size),
   §6.4 (individuals), §9.1 (CUSUM), §9.2 (EWMA).
.. [2] L. S. Nelson, "The Shewhart control chart - tests for special causes", *J. Quality
   Technology* 16(4), 1984 (rule windows and zones).
.. [3] ANSI/ISA-18.2-2016 (alarm states, suppression by design).
"""

from __future__ import annotations

import bisect
import logging
import math
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from plantqc.alarms import (
    RTN_AFTER_POINTS,
    SENSOR_FAULT_KIND,
    SPC_KIND,
    AlarmEvent,
    apply_events,
    priority_for,
    require_user,
)
from plantqc.buffer import Reading
from plantqc.config import PlantConfig, SensorFaultSettings
from plantqc.errors import UserError
from plantqc.quality import GOOD_BELOW
from plantqc.store.engine_state import EngineState
from plantqc.store.models import (
    AuditLog,
    ControlLimits,
    Line,
    Lot,
    Profile,
    Roll,
    Sample,
    Tag,
    Violation,
)
from spc import (
    CUSUMParameters,
    CUSUMStream,
    EWMAParameters,
    EWMAStream,
    IMRStream,
    PhaseOneResult,
    ShewhartLimits,
    SPCInputError,
    XbarStream,
    imr,
    phase_one,
    profile_statistics,
    xbar_r,
    xbar_s,
)
from spc.rules import resolve_rules

log = logging.getLogger(__name__)

READ_CHUNK = 20_000
"""Samples read from the store per query while catching up."""
PREFETCH_MAX_ROWS = 200_000
"""Bound on the samples read at once for all the caught-up scalar tags of a call; a call with
more (the engine catching up after an outage) reads tag by tag in `READ_CHUNK` chunks."""
RECENT_POINTS = 15
"""Points kept per chart for the violation records (the longest rule window, Nelson 7)."""
RULE_WINDOW = {
    "nelson1": 1, "nelson2": 9, "nelson3": 6, "nelson4": 14, "nelson5": 3, "nelson6": 5,
    "nelson7": 15, "nelson8": 8, "we1": 1, "we2": 3, "we3": 5, "we4": 8,
}  # fmt: skip
"""Points involved in a signal of each rule, the signalling point last (Nelson 1984)."""
ZONE_RULES = frozenset({"nelson5", "nelson6", "nelson7", "nelson8", "we2", "we3"})
"""Rules that compare points with the 1- and 2-sigma lines: only on phase I limits."""
SPEC_SIGMA_DIVISOR = 6.0
PHASE_ONE_MIN_POINTS = 20
"""Montgomery §6.2 recommends 20-25 subgroups (or individuals) for trial limits."""
PROVISIONAL_POINTS = PHASE_ONE_MIN_POINTS
"""Points (X-bar: subgroups) a chart without spec limits collects before it estimates
provisional limits."""
BAD_FROM = 0x80000000
"""OPC UA severity Bad (Part 4 §7.39): status codes from here on."""
PROFILE_SERIES = {
    "mean": "cd_mean", "two_sigma": "cd_2sigma", "range": "cd_range", "cv": "cd_cv",
    "wedge": "cd_wedge", "edge_left": "cd_edge_l", "edge_right": "cd_edge_r",
}  # fmt: skip
"""Chart name (``control_limits.chart``) of each per-scan statistic of a profile tag."""

LOCATION_POINTS = frozenset({"i", "xbar", "ewma"})
"""Evaluator chart points that chart the process location; their rules' alarm codes are the
bare rule codes (`SeriesSpec.code`)."""

Evaluator = IMRStream | XbarStream | EWMAStream | CUSUMStream


@dataclass(frozen=True)
class SeriesSpec:
    """One chart of a tag with its own limits: the tag's values, or a per-scan statistic.

    ``name`` is the chart's name in ``control_limits.chart``, ``chart`` its type and
    ``statistic`` the profile statistic it charts (None for a scalar tag).
    """

    name: str
    chart: str
    statistic: str | None = None

    def point_chart(self, point: str) -> str:
        """The name of an evaluator's chart point in ``violations.chart``."""
        return point if self.statistic is None else f"{self.name}.{point}"

    def code(self, point: str, rule: str) -> str:
        """The alarm code of ``rule`` signalled by an evaluator's chart point ``point``.

        A rule on the location chart is an alarm of its own, named for the rule (prefixed with
        the chart's name for a profile statistic); the same rule on the spread chart (MR, R, S)
        or on one side of a CUSUM is another condition, so another alarm, prefixed with that
        chart (``mr:nelson1``, ``cd_2sigma.mr:nelson1``).
        """
        if point not in LOCATION_POINTS:
            return f"{self.point_chart(point)}:{rule}"
        return rule if self.statistic is None else f"{self.name}:{rule}"


def code_charts(code: str) -> tuple[frozenset[str], str]:
    """The ``violations.chart`` names whose signals raise the SPC alarm ``code``, and its
    rule: the inverse of `SeriesSpec.code`."""
    prefix, _, rule = code.rpartition(":")
    if not prefix:
        return LOCATION_POINTS, rule
    if prefix in PROFILE_SERIES.values():
        return frozenset(f"{prefix}.{point}" for point in LOCATION_POINTS), rule
    return frozenset({prefix}), rule


@dataclass(frozen=True)
class RunningTag:
    """A line's running condition resolved to the store: tag ``tag_id`` above ``above``."""

    tag_id: int
    above: float


@dataclass(frozen=True)
class ChartConfig:
    """What the engine needs of one charted tag, read from its stored ``tags`` row.

    ``sampling_interval_s`` and ``running`` come from the plant config (None without one):
    the silence check needs the first, alarm suppression the second.
    """

    tag_id: int
    line_id: int
    line: str
    tag: str
    chart: str  # imr | xbar-r | xbar-s | ewma | cusum
    kind: str = "scalar"  # scalar | profile
    subgroup_size: int = 1
    subgroup_by: str = "count"
    subgroup_window_s: float | None = None
    rules: str = "nelson"
    lam: float = 0.2
    ewma_L: float = 3.0
    k: float = 0.5
    h: float = 5.0
    fir: bool = False
    lsl: float | None = None
    target: float | None = None
    usl: float | None = None
    statistics: tuple[str, ...] = ("mean", "two_sigma")
    alarm_priority: str | None = None
    rule_priority: Mapping[str, str] = field(default_factory=dict)
    faults: SensorFaultSettings = field(default_factory=SensorFaultSettings)
    sampling_interval_s: float | None = None
    running: RunningTag | None = None

    @classmethod
    def from_row(
        cls,
        tag: Tag,
        line: str,
        sampling_interval_s: float | None = None,
        running: RunningTag | None = None,
    ) -> ChartConfig:
        spc = tag.spc or {}
        ewma = spc.get("ewma") or {}
        cusum = spc.get("cusum") or {}
        return cls(
            tag_id=tag.id,
            line_id=tag.line_id,
            line=line,
            tag=tag.name,
            chart=spc.get("chart", "imr"),
            kind=tag.kind,
            subgroup_size=int(spc.get("subgroup_size") or 1),
            subgroup_by=spc.get("subgroup_by", "count"),
            subgroup_window_s=spc.get("subgroup_window_s"),
            rules=spc.get("rules", "nelson"),
            lam=float(ewma.get("lambda", 0.2)),
            ewma_L=float(ewma.get("L", 3.0)),
            k=float(cusum.get("k", 0.5)),
            h=float(cusum.get("h", 5.0)),
            fir=bool(cusum.get("fir", False)),
            lsl=tag.lsl,
            target=tag.target,
            usl=tag.usl,
            statistics=tuple(spc.get("profile_statistics") or ("mean", "two_sigma")),
            alarm_priority=spc.get("alarm_priority"),
            rule_priority=dict(spc.get("rule_priority") or {}),
            faults=SensorFaultSettings.model_validate(spc.get("faults") or {}),
            sampling_interval_s=sampling_interval_s,
            running=running,
        )

    @property
    def series(self) -> tuple[SeriesSpec, ...]:
        """The tag's charts: itself, or one per profile statistic (the mean on ``chart``)."""
        if self.kind != "profile":
            return (SeriesSpec(self.chart, self.chart),)
        return tuple(
            SeriesSpec(PROFILE_SERIES[s], self.chart if s == "mean" else "imr", s)
            for s in self.statistics
        )

    def series_named(self, name: str | None) -> SeriesSpec:
        """The chart ``name`` of this tag (default its first); a `UserError` if it has none."""
        found = {s.name: s for s in self.series}
        if name is None:
            return self.series[0]
        if name not in found:
            raise UserError(
                f"{self.line}/{self.tag} has no chart {name!r}; its charts are: {', '.join(found)}."
            )
        return found[name]

    def chart_params(self, series: SeriesSpec) -> dict[str, Any]:
        """The design parameters stored with a limits row of ``series``."""
        params: dict[str, Any] = {"rules": self.rules, "L": 3.0}
        if series.chart.startswith("xbar"):
            params["subgroup_size"] = self.subgroup_size
        elif series.chart == "ewma":
            params.update({"lambda": self.lam, "L": self.ewma_L})
        elif series.chart == "cusum":
            params.update({"k": self.k, "h": self.h, "fir": self.fir})
        if self.subgroup_by != "count":
            params.update({"subgroup_by": self.subgroup_by, "window_s": self.subgroup_window_s})
        return params

    def priority(self, code: str) -> str:
        """Alarm priority of ``code``: the tag's per-rule setting, its general one, the default."""
        rule = code.rpartition(":")[2]
        return self.rule_priority.get(rule) or self.alarm_priority or priority_for(rule)


def load_charts(engine: Engine, config: PlantConfig | None = None) -> dict[int, ChartConfig]:
    """Every stored scalar or profile tag with SPC settings, keyed by tag id.

    With ``config`` the charts know their tags' sampling intervals and their lines' running
    conditions.
    """
    with Session(engine) as session:
        rows = session.execute(
            select(Tag, Line.name)
            .join(Line, Line.id == Tag.line_id)
            .where(Tag.spc.is_not(None), Tag.kind.in_(("scalar", "profile")))
        ).all()
        intervals: dict[tuple[str, str], float] = {}
        running: dict[str, RunningTag] = {}
        if config is not None:
            for line in config.lines:
                for tag in line.tags:
                    intervals[(line.name, tag.name)] = tag.sampling_interval_ms / 1000.0
                if line.running is not None:
                    tag_id = session.scalar(
                        select(Tag.id)
                        .join(Line, Line.id == Tag.line_id)
                        .where(Line.name == line.name, Tag.name == line.running.tag)
                    )
                    if tag_id is not None:
                        running[line.name] = RunningTag(tag_id, line.running.above)
        return {
            tag.id: ChartConfig.from_row(
                tag, line, intervals.get((line, tag.name)), running.get(line)
            )
            for tag, line in rows
            if tag.spc
        }


def spec_center_sigma(chart: ChartConfig, series: SeriesSpec) -> tuple[float, float] | None:
    """Spec-derived center and sigma, or None without both spec limits or for a spread chart.

    center = target, else (LSL + USL) / 2; sigma = (USL - LSL) / 6, i.e. a process that just
    fills the tolerance at Cp = 1.  A placeholder until phase I limits are frozen.
    """
    if chart.lsl is None or chart.usl is None or series.statistic not in (None, "mean"):
        return None
    center = chart.target if chart.target is not None else (chart.lsl + chart.usl) / 2.0
    return center, (chart.usl - chart.lsl) / SPEC_SIGMA_DIVISOR


def _limit_lines(
    chart: ChartConfig, series: SeriesSpec, center: float, sigma: float
) -> tuple[float, float]:
    if series.chart.startswith("xbar"):
        half = 3.0 * sigma / math.sqrt(chart.subgroup_size)
    elif series.chart == "ewma":
        half = chart.ewma_L * sigma * math.sqrt(chart.lam / (2.0 - chart.lam))  # asymptotic
    elif series.chart == "cusum":
        half = chart.h * sigma  # the decision interval H in the unit of the tag
    else:
        half = 3.0 * sigma
    return center - half, center + half


def _next_version(session: Session, tag_id: int, chart: str) -> int:
    current = session.execute(
        select(func.max(ControlLimits.version)).where(
            ControlLimits.tag_id == tag_id, ControlLimits.chart == chart
        )
    ).scalar()
    return int(current or 0) + 1


def limits_in_force(
    session: Session, chart: ChartConfig, series: SeriesSpec | None = None
) -> ControlLimits | None:
    """The limits a chart runs on: newest frozen, else spec-derived (written if new), else the
    newest provisional ones; None when there are none of these yet."""
    series = series or chart.series[0]
    base = select(ControlLimits).where(
        ControlLimits.tag_id == chart.tag_id, ControlLimits.chart == series.name
    )
    newest = base.order_by(ControlLimits.version.desc()).limit(1)
    frozen = session.scalars(newest.where(ControlLimits.frozen_at.is_not(None))).one_or_none()
    if frozen is not None:
        return frozen
    derived = spec_center_sigma(chart, series)
    if derived is None:
        return session.scalars(newest.where(ControlLimits.basis == "provisional")).one_or_none()
    center, sigma = derived
    params = chart.chart_params(series)
    spec_row = session.scalars(newest.where(ControlLimits.basis == "spec")).one_or_none()
    if (
        spec_row is not None
        and spec_row.center == center
        and spec_row.sigma == sigma
        and {k: v for k, v in (spec_row.params or {}).items() if k != "note"} == params
    ):
        return spec_row
    return _stored_limits(
        session,
        chart,
        series,
        "spec",
        center,
        sigma,
        "(usl-lsl)/6",
        "spec-derived, not a process estimate",
    )


def _stored_limits(
    session: Session,
    chart: ChartConfig,
    series: SeriesSpec,
    basis: str,
    center: float,
    sigma: float,
    sigma_method: str,
    note: str,
    **provenance: Any,
) -> ControlLimits:
    """Insert the next limits version of a chart that is not frozen (spec or provisional)."""
    lcl, ucl = _limit_lines(chart, series, center, sigma)
    row = ControlLimits(
        tag_id=chart.tag_id,
        chart=series.name,
        version=_next_version(session, chart.tag_id, series.name),
        basis=basis,
        center=center,
        lcl=lcl,
        ucl=ucl,
        sigma=sigma,
        sigma_method=sigma_method,
        params={
            **chart.chart_params(series),
            "note": f"{note}: sigma-zone rules off until phase I limits are frozen",
        },
        valid_from=datetime.now(UTC),
        **provenance,
    )
    session.add(row)
    session.flush()
    return row


def _unit(series: SeriesSpec) -> str:
    """What one point of the chart is, in words."""
    return "subgroups" if series.chart.startswith("xbar") else "points"


def _phase_one(
    series: SeriesSpec, groups: Sequence[Sequence[float]]
) -> tuple[PhaseOneResult, int, int]:
    """Phase I of one chart over its points (each a list of values: one for individuals-based
    charts, a subgroup of any size for X-bar); with the Good samples used and in all.

    Individuals-based charts estimate the mean and :math:`\\overline{MR}/d_2` with removal of
    points beyond the I-MR limits; X-bar charts :math:`\\bar{\\bar x}` and :math:`\\bar R/d_2`
    or :math:`\\bar s/c_4` (weighted for unequal sizes) with removal of subgroups beyond the
    X-bar or R / S limits (Montgomery §6.2.1, `spc.phases.phase_one`).
    """
    if series.chart.startswith("xbar"):
        matrix = np.full((len(groups), max(len(vs) for vs in groups)), np.nan)
        for row, vs in enumerate(groups):
            matrix[row, : len(vs)] = vs
        function = xbar_r if series.chart == "xbar-r" else xbar_s
        result = phase_one(function, matrix, rules="none")
    else:
        result = phase_one(imr, np.array([vs[0] for vs in groups], dtype=float), rules="none")
    used = sum(len(groups[i]) for i in np.flatnonzero(result.reference))
    return result, used, sum(len(vs) for vs in groups)


def _provisional_limits(
    session: Session,
    chart: ChartConfig,
    series: SeriesSpec,
    groups: Sequence[Sequence[float]],
    span: tuple[datetime, datetime],
) -> ControlLimits | None:
    """Provisional limits from a chart's first points ``groups`` (see `_phase_one`), taken in
    ``span``; None when they do not vary (no sigma to chart against)."""
    result, used, total = _phase_one(series, groups)
    limits = result.charts.limits
    center, sigma = float(limits.center), float(limits.sigma)
    if not sigma > 0.0:
        return None
    return _stored_limits(
        session,
        chart,
        series,
        "provisional",
        center,
        sigma,
        str(limits.sigma_method),
        f"provisional, from the chart's first {len(groups)} {_unit(series)}",
        data_from=span[0],
        data_to=span[1],
        n_used=used,
        excluded={"n_total": total, "points": [int(i) for i in result.removed]},
    )


def rules_on(chart: ChartConfig, basis: str) -> tuple[str, ...]:
    """The tag's run rules that make sense on limits of ``basis``: every rule on frozen phase I
    limits; without the sigma-zone rules (`ZONE_RULES`) on spec-derived or provisional ones,
    whose sigma is not a process estimate."""
    rules = resolve_rules(chart.rules)
    return rules if basis == "phase1" else tuple(r for r in rules if r not in ZONE_RULES)


def build_evaluator(chart: ChartConfig, series: SeriesSpec, limits: ControlLimits) -> Evaluator:
    """A fresh streaming evaluator of one of the tag's charts on ``limits``."""
    center, sigma = float(limits.center or 0.0), float(limits.sigma or 0.0)
    if not sigma > 0.0:
        raise UserError(
            f"limits version {limits.version} of {chart.line}/{chart.tag} ({series.name}) have"
            f" sigma {sigma}; a chart needs a positive sigma."
        )
    method = limits.sigma_method or "given"
    rules = rules_on(chart, limits.basis)
    if series.chart == "imr":
        return IMRStream(ShewhartLimits(center, sigma, method), rules)
    if series.chart in ("xbar-r", "xbar-s"):
        size = max(chart.subgroup_size, 2)  # time / roll subgroups resize per subgroup
        return XbarStream(ShewhartLimits(center, sigma, method), size, series.chart[-1], rules)
    if series.chart == "ewma":
        return EWMAStream(EWMAParameters(center, sigma, chart.lam, chart.ewma_L, method), rules)  # type: ignore[arg-type]
    if series.chart == "cusum":
        headstart = chart.h / 2.0 if chart.fir else 0.0
        return CUSUMStream(
            CUSUMParameters(center, sigma, chart.k, chart.h, headstart, method),
            rules,  # type: ignore[arg-type]
        )
    raise UserError(f"chart {series.chart!r} of {chart.line}/{chart.tag} is not supported.")


_RESTORE = {"imr": IMRStream, "xbar": XbarStream, "ewma": EWMAStream, "cusum": CUSUMStream}


def _sized(stream: XbarStream, size: int) -> XbarStream:
    """``stream`` judging subgroups of ``size`` from now on, its rule state and count kept."""
    if stream.size == size:
        return stream
    sized = XbarStream(stream.limits, size, stream.dispersion, stream.rule_set)
    sized.rules, sized.count = stream.rules, stream.count
    return sized


# --- subgroups by time window and by roll ------------------------------------------------------

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class _Rolls:
    """A line's rolls by start time: ``starts`` and, at the same index, (end, roll id)."""

    starts: list[datetime]
    spans: list[tuple[datetime | None, int]]


def _rolls(session: Session, line_id: int, until: datetime) -> _Rolls:
    """The line's rolls started by ``until``."""
    rows = session.execute(
        select(Roll.started_at, Roll.ended_at, Roll.id)
        .join(Lot, Lot.id == Roll.lot_id)
        .where(Lot.line_id == line_id, Roll.started_at <= until)
        .order_by(Roll.started_at)
    ).all()
    return _Rolls([start for start, _, _ in rows], [(end, roll_id) for _, end, roll_id in rows])


def _group_key(chart: ChartConfig, ts: datetime, rolls: _Rolls | None) -> int | None:
    """The time window (number since the epoch) or roll (id) of a sample; None in no roll."""
    if chart.subgroup_by == "time":
        window_us = round(float(chart.subgroup_window_s or 0.0) * 1e6)
        return ((ts - _EPOCH) // timedelta(microseconds=1)) // window_us
    at = bisect.bisect_right(rolls.starts, ts) - 1 if rolls is not None else -1
    if at < 0:
        return None
    end, roll_id = rolls.spans[at]  # type: ignore[union-attr]
    return roll_id if end is None or ts < end else None


# --- one chart of a tag over one chunk of samples ----------------------------------------------


class _SeriesRun:
    """One chart of a tag while the engine processes a chunk: evaluator, subgroup, rules."""

    def __init__(
        self,
        session: Session,
        chart: ChartConfig,
        series: SeriesSpec,
        saved: dict[str, Any] | None,
        rtn_after: int,
        limits: ControlLimits | None,
    ) -> None:
        self.session, self.chart, self.series, self.rtn_after = session, chart, series, rtn_after
        saved = saved if saved and saved.get("chart") == series.chart else {}
        self.recent: dict[str, list[list[Any]]] = saved.get("recent", {})
        # alarm code -> the point it last fired at
        self.fired: dict[str, int] = saved.get("fired", {})
        self.points: int = saved.get("points", 0)
        self.open: dict[str, Any] | None = saved.get("open")
        # the feeds kept while the chart has no limits: [iso time, value or subgroup values]
        self.warmup: list[list[Any]] = saved.get("warmup", [])
        self.skipped: int = saved.get("skipped", 0)
        self.violations: list[Violation] = []
        self.limits = limits
        self.evaluator: Evaluator | None = None
        if self.limits is not None:
            if saved.get("limits_id") == self.limits.id and "evaluator" in saved:
                state = saved["evaluator"]
                self.evaluator = _RESTORE[state["type"]].from_state(state)
            else:
                # new limits: a fresh chart from the next point on; the rules that fired keep
                # counting towards their alarms' return to normal
                self.evaluator = build_evaluator(chart, series, self.limits)
                self.recent, self.warmup = {}, []

    def state(self) -> dict[str, Any]:
        """What `engine_state` keeps of this chart."""
        state: dict[str, Any] = {
            "chart": self.series.chart,
            "limits_id": self.limits.id if self.limits is not None else None,
            "recent": self.recent,
            "fired": self.fired,
            "points": self.points,
            "open": self.open,
            "warmup": self.warmup,
            "skipped": self.skipped,
        }
        if self.evaluator is not None:
            state["evaluator"] = self.evaluator.to_state()
        return state

    def active_codes(self) -> set[tuple[str, str]]:
        """The alarm conditions of this chart that still hold (fired within `rtn_after`)."""
        return {(SPC_KIND, code) for code in self.fired}

    def feed(
        self,
        ts: datetime,
        value: float,
        key: int | None,
        stopped: bool,
        events: list[AlarmEvent],
    ) -> None:
        """Add one Good observation; ``key`` is its time window or roll (None: by count)."""
        if self.chart.subgroup_by == "count":
            self._chart(ts, value, stopped, events)
            return
        if self.open is not None and self.open["key"] != key:
            self._close(stopped, events)
        if self.open is None:
            self.open = {"key": key, "values": [], "last": None}
        self.open["values"].append(value)
        self.open["last"] = ts.isoformat()

    @property
    def _xbar(self) -> bool:
        return self.series.chart.startswith("xbar")

    def _close(self, stopped: bool, events: list[AlarmEvent]) -> None:
        assert self.open is not None
        values: list[float] = self.open["values"]
        ts = datetime.fromisoformat(self.open["last"])
        self.open = None
        if not self._xbar:
            self._chart(ts, math.fsum(values) / len(values), stopped, events)
        elif len(values) < 2:  # a range or standard deviation needs two values
            self.skipped += 1
        else:
            self._chart(ts, values, stopped, events)

    def _chart(
        self, ts: datetime, feed: float | list[float], stopped: bool, events: list[AlarmEvent]
    ) -> None:
        """Chart one feed (a value, or a time / roll subgroup of an X-bar chart), or keep it
        towards provisional limits while the chart has none."""
        if self.evaluator is None:
            self._warm_up(ts, feed, stopped, events)
        else:
            self._judge(ts, feed, stopped, events)

    def _judge(
        self, ts: datetime, feed: float | list[float], stopped: bool, events: list[AlarmEvent]
    ) -> None:
        """Feed the evaluator and record what it says."""
        assert self.evaluator is not None
        if isinstance(feed, list):  # a time / roll subgroup, judged at its own size
            assert isinstance(self.evaluator, XbarStream)
            self.evaluator = _sized(self.evaluator, len(feed))
            for value in feed:
                results = self.evaluator.update(value, ts)
        else:
            results = self.evaluator.update(feed, ts)
        self._record(results, ts, stopped, events)

    @property
    def _feeds_per_point(self) -> int:
        """Feeds that make one chart point: the samples of a count subgroup, else one."""
        by_count = self._xbar and self.chart.subgroup_by == "count"
        return self.chart.subgroup_size if by_count else 1

    def _warmup_points(self) -> list[list[float]]:
        """The complete chart points kept so far, each as its values."""
        step = self._feeds_per_point
        values = [feed if isinstance(feed, list) else [feed] for _, feed in self.warmup]
        return [
            [v for feed in values[i : i + step] for v in feed]
            for i in range(0, len(values) - step + 1, step)
        ]

    def _warm_up(
        self, ts: datetime, feed: float | list[float], stopped: bool, events: list[AlarmEvent]
    ) -> None:
        if not self.warmup:
            # without it a chart with no spec limits would look dead until it has its points
            log.info(
                "chart has no limits yet: collecting points for provisional limits",
                extra={
                    "line": self.chart.line,
                    "tag": self.chart.tag,
                    "chart": self.series.name,
                    "needed": f"{PROVISIONAL_POINTS} {_unit(self.series)}",
                },
            )
        self.warmup.append([ts.isoformat(), feed])
        points = self._warmup_points()
        if len(points) < PROVISIONAL_POINTS:
            return
        span = (datetime.fromisoformat(self.warmup[0][0]), ts)
        self.limits = _provisional_limits(self.session, self.chart, self.series, points, span)
        if self.limits is None:
            del self.warmup[: self._feeds_per_point]
            return
        self.evaluator = build_evaluator(self.chart, self.series, self.limits)
        replay, self.warmup = self.warmup, []
        for stamp, earlier in replay:
            self._judge(datetime.fromisoformat(stamp), earlier, stopped, events)

    def _record(
        self, results: Sequence[Any], ts: datetime, stopped: bool, events: list[AlarmEvent]
    ) -> None:
        if not results:
            return
        assert self.limits is not None
        self.points += 1
        stamp = ts.isoformat()
        for point in results:
            history = self.recent.setdefault(point.chart, [])
            history.append([point.index, stamp, point.value])
            del history[:-RECENT_POINTS]
            for rule in point.violations:
                window = history[-RULE_WINDOW.get(rule, 1) :]
                chart_name = self.series.point_chart(point.chart)
                self.violations.append(
                    Violation(
                        tag_id=self.chart.tag_id,
                        limits_id=self.limits.id,
                        chart=chart_name,
                        rule=rule,
                        ts=ts,
                        value=point.value,
                        points={
                            "points": [{"index": i, "ts": t, "value": v} for i, t, v in window],
                            "center": point.center,
                            "lcl": point.lcl,
                            "ucl": point.ucl,
                        },
                    )
                )
                code = self.series.code(point.chart, rule)
                self.fired[code] = self.points
                message = (
                    f"{self.chart.tag}: rule {rule} on chart {chart_name} at value "
                    f"{point.value:.6g}"
                )
                events.append(
                    AlarmEvent(
                        "raise", code, ts, SPC_KIND, self.chart.priority(code), message, stopped
                    )
                )
        for code in [c for c, at in self.fired.items() if self.points - at >= self.rtn_after]:
            del self.fired[code]
            events.append(AlarmEvent("clear", code, ts))


# --- sensor faults and the running condition ---------------------------------------------------


def _fault_events(
    chart: ChartConfig,
    faults: dict[str, Any],
    ts: datetime,
    value: Any,
    status: int,
    stopped: bool,
    events: list[AlarmEvent],
) -> None:
    """Update the tag's fault bookkeeping with one sample; append the alarm changes."""
    active: list[str] = faults["active"]
    settings = chart.faults

    def change(kind: str, code: str, message: str = "") -> None:
        if kind == "raise":
            active.append(code)
        else:
            active.remove(code)
        priority = chart.priority(code)
        events.append(AlarmEvent(kind, code, ts, SENSOR_FAULT_KIND, priority, message, stopped))

    if "silent" in active:
        change("clear", "silent")
    if status >= BAD_FROM:
        faults["bad"] += 1
        faults["bad_since"] = faults["bad_since"] or ts.isoformat()
        if settings.bad_run and faults["bad"] >= settings.bad_run and "bad-quality" not in active:
            change(
                "raise", "bad-quality", f"{chart.tag}: {faults['bad']} Bad-quality samples in a row"
            )
        return
    faults["bad"], faults["bad_since"] = 0, None
    if status >= GOOD_BELOW or value is None:
        return
    if "bad-quality" in active:
        change("clear", "bad-quality")
    if value == faults["last"]:
        faults["same"] += 1
    else:
        faults["last"], faults["same"] = value, 1
        if "stuck" in active:
            change("clear", "stuck")
    if settings.stuck_run and faults["same"] >= settings.stuck_run and "stuck" not in active:
        shown = f"{value:.6g}" if isinstance(value, float) else "profile"
        change("raise", "stuck", f"{chart.tag}: {faults['same']} identical values ({shown})")


def _running_lookup(
    session: Session, chart: ChartConfig, start: datetime, end: datetime
) -> Callable[[datetime], bool] | None:
    """Whether the tag's line runs at a time in ``[start, end]``; None without a condition.

    The line runs while the newest Good sample of its running tag at or before that time is
    above the threshold; before any such sample it is taken to run (nothing says otherwise).
    """
    if chart.running is None:
        return None
    good = (Sample.tag_id == chart.running.tag_id, Sample.status < GOOD_BELOW)
    before = session.execute(
        select(Sample.ts, Sample.value)
        .where(*good, Sample.ts < start)
        .order_by(Sample.ts.desc())
        .limit(1)
    ).all()
    during = session.execute(
        select(Sample.ts, Sample.value)
        .where(*good, Sample.ts >= start, Sample.ts <= end)
        .order_by(Sample.ts)
    ).all()
    rows = [*before, *during]
    times = [ts for ts, _ in rows]
    above = chart.running.above
    runs = [value is None or value > above for _, value in rows]

    def running(ts: datetime) -> bool:
        at = bisect.bisect_right(times, ts) - 1
        return at < 0 or runs[at]

    return running


def _scan_statistics(values: Sequence[float]) -> dict[str, float] | None:
    """The per-scan statistics of one profile, or None when the scan is too short to judge."""
    try:
        table = profile_statistics(np.asarray(values, dtype=float))
    except SPCInputError:
        return None
    return {name: float(v) for name, v in table.iloc[0].items()}


def _state_row(session: Session, chart: ChartConfig, row: EngineState | None = None) -> EngineState:
    """The chart's state row: ``row`` when already loaded, else read, else a new one."""
    row = row or session.get(EngineState, chart.tag_id)
    if row is None:
        row = EngineState(tag_id=chart.tag_id, chart=chart.chart, state={})
        row.last_ts, row.points = None, 0
        session.add(row)
    row.chart = chart.chart
    return row


def _fault_book(state: dict[str, Any]) -> dict[str, Any]:
    saved = state.get("faults") or {}
    return {
        "bad": saved.get("bad", 0),
        "same": saved.get("same", 0),
        "last": saved.get("last"),
        "bad_since": saved.get("bad_since"),
        "active": list(saved.get("active", [])),
    }


@dataclass
class TagRun:
    """The outcome of one `SpcEngine.process` call for one tag."""

    tag_id: int
    samples: int = 0
    violations: list[Violation] = field(default_factory=list)
    alarms_opened: int = 0
    last_ts: datetime | None = None


class SpcEngine:
    """Streaming SPC over the store, for every charted tag.

    Parameters
    ----------
    engine : Engine
        The store (migrated).
    rtn_after : int
        Chart points (subgroups) without a rule firing before its alarm returns to normal.
    charts : dict, optional
        Charted tags by id; default every stored tag with SPC settings (`load_charts`).
    config : PlantConfig, optional
        The plant config: sampling intervals (silence check) and running conditions (alarm
        suppression while a line is stopped).  Ignored when ``charts`` is given.
    """

    def __init__(
        self,
        engine: Engine,
        *,
        rtn_after: int = RTN_AFTER_POINTS,
        charts: dict[int, ChartConfig] | None = None,
        config: PlantConfig | None = None,
    ) -> None:
        self.engine = engine
        self.rtn_after = rtn_after
        self.charts = load_charts(engine, config) if charts is None else charts
        self._by_name = {(c.line, c.tag): c for c in self.charts.values()}
        self.started_at = datetime.now(UTC)
        self._limits: dict[tuple[int, str], ControlLimits | None] = {}
        self._limits_mark: int | None = -1

    def process_names(self, names: Iterable[tuple[str, str]]) -> list[TagRun]:
        """Bring the charted ones of the (line, tag) ``names`` up to date."""
        tags = {chart.tag_id for name in names if (chart := self._by_name.get(name)) is not None}
        return self.process_tags(sorted(tags))

    def process_all(self) -> list[TagRun]:
        """Bring every charted tag up to date (e.g. at start, to catch up)."""
        return self.process_tags(sorted(self.charts))

    def process(self, tag_id: int) -> TagRun:
        """Evaluate the stored samples of one tag newer than the last one processed."""
        return self.process_tags([tag_id])[0]

    def process_tags(self, tag_ids: Sequence[int]) -> list[TagRun]:
        """Evaluate the new samples of ``tag_ids``, chunk by chunk, each chunk of all the tags
        in one transaction (states, violations and alarms stored together)."""
        runs = [TagRun(tag_id) for tag_id in tag_ids]
        pending = runs
        while pending:
            try:
                with Session(self.engine, expire_on_commit=False) as session, session.begin():
                    self._refresh_limits(session)
                    query = select(EngineState).where(EngineState.tag_id.in_(tag_ids))
                    states = {row.tag_id: row for row in session.scalars(query)}
                    prefetched = self._prefetch(session, pending, states)
                    pending = [
                        run
                        for run in pending
                        if not self._process_chunk(
                            session, states.get(run.tag_id), run, prefetched.get(run.tag_id)
                        )
                    ]
            except BaseException:
                self._limits_mark = -1  # limits read in a rolled-back transaction are not kept
                raise
        return runs

    def _refresh_limits(self, session: Session) -> None:
        # limits rows are never updated, only added (a new version), so the table's newest id
        # says whether anything a cached version depends on has changed
        mark = session.execute(select(func.max(ControlLimits.id))).scalar_one()
        if mark != self._limits_mark:
            self._limits.clear()
            self._limits_mark = mark

    def _limits_for(
        self, session: Session, chart: ChartConfig, series: SeriesSpec
    ) -> ControlLimits | None:
        key = (chart.tag_id, series.name)
        if key not in self._limits:
            self._limits[key] = limits_in_force(session, chart, series)
        return self._limits[key]

    def _prefetch(
        self, session: Session, runs: Sequence[TagRun], states: dict[int, EngineState]
    ) -> dict[int, list[Any]]:
        """The next chunk of samples of every scalar tag of ``runs`` that has been charted
        before, read in one query rather than one per tag (the daemon's every-batch case); {}
        when they are more than `PREFETCH_MAX_ROWS`."""
        last = {
            run.tag_id: row.last_ts
            for run in runs
            if (row := states.get(run.tag_id)) is not None
            and row.last_ts is not None
            and self.charts[run.tag_id].kind == "scalar"
        }
        if len(last) < 2:
            return {}
        query = (
            select(Sample.tag_id, Sample.ts, Sample.value, Sample.status)
            .where(Sample.tag_id.in_(sorted(last)), Sample.ts > min(last.values()))
            .order_by(Sample.tag_id, Sample.ts)
            .limit(PREFETCH_MAX_ROWS)
        )
        with session.no_autoflush:  # the samples do not depend on what is pending
            rows = session.execute(query).all()
        if len(rows) == PREFETCH_MAX_ROWS:
            return {}
        chunks: dict[int, list[Any]] = {tag_id: [] for tag_id in last}
        for tag_id, ts, value, status in rows:
            if ts > last[tag_id]:
                chunks[tag_id].append((ts, value, status))
        return {tag_id: chunk[:READ_CHUNK] for tag_id, chunk in chunks.items()}

    def _process_chunk(
        self,
        session: Session,
        stored: EngineState | None,
        run: TagRun,
        prefetched: list[Any] | None = None,
    ) -> bool:
        chart = self.charts[run.tag_id]
        table: Any = Profile if chart.kind == "profile" else Sample
        reading = table.values if chart.kind == "profile" else table.value
        state_row = _state_row(session, chart, stored)
        state = dict(state_row.state or {})
        if prefetched is not None:
            rows = prefetched
        else:
            query = select(table.ts, reading, table.status).where(table.tag_id == chart.tag_id)
            if state_row.last_ts is not None:
                query = query.where(table.ts > state_row.last_ts)
            with session.no_autoflush:  # the samples do not depend on what is pending
                rows = session.execute(query.order_by(table.ts).limit(READ_CHUNK)).all()
        if not rows:
            return True
        saved = state.get("series") or {}
        series = [
            _SeriesRun(
                session,
                chart,
                s,
                saved.get(s.name),
                self.rtn_after,
                self._limits_for(session, chart, s),
            )
            for s in chart.series
        ]
        running = _running_lookup(session, chart, rows[0][0], rows[-1][0])
        rolls = _rolls(session, chart.line_id, rows[-1][0]) if chart.subgroup_by == "roll" else None
        faults = _fault_book(state)
        stopped = bool(state.get("stopped", False))
        events: list[AlarmEvent] = []
        for ts, value, status in rows:
            if running is not None and running(ts) == stopped:
                stopped = not stopped
                active = {(SENSOR_FAULT_KIND, code) for code in faults["active"]}
                for s in series:
                    active |= s.active_codes()
                kind = "suppress" if stopped else "unsuppress"
                events.append(AlarmEvent(kind, "*", ts, active=frozenset(active)))
            _fault_events(chart, faults, ts, value, status, stopped, events)
            if status >= GOOD_BELOW or value is None:
                continue
            if chart.kind == "profile":
                statistics = _scan_statistics(value)
                for s in series if statistics is not None else ():
                    figure = statistics[s.series.statistic]  # type: ignore[index]
                    if math.isfinite(figure):
                        s.feed(ts, figure, None, stopped, events)
            elif not math.isfinite(value):
                continue
            elif chart.subgroup_by == "count":
                series[0].feed(ts, value, None, stopped, events)
            elif (key := _group_key(chart, ts, rolls)) is not None:
                series[0].feed(ts, value, key, stopped, events)
        violations = [v for s in series for v in s.violations]
        session.add_all(violations)
        opened = apply_events(session, chart.line_id, chart.tag_id, events)
        state_row.limits_id = series[0].limits.id if series[0].limits is not None else None
        state_row.state = {
            "series": {s.series.name: s.state() for s in series},
            "faults": faults,
            "stopped": stopped,
        }
        state_row.last_ts = rows[-1][0]
        state_row.points = series[0].points
        state_row.updated_at = datetime.now(UTC)
        run.samples += len(rows)
        run.violations.extend(violations)
        run.alarms_opened += len(opened)
        run.last_ts = rows[-1][0]
        return len(rows) < READ_CHUNK

    def check_silence(self, now: datetime | None = None) -> int:
        """Raise the sensor-fault alarms that show as samples not arriving; return how many.

        An OPC UA subscription reports a change, not a repetition: a sensor that stays Bad
        sends one Bad sample and then nothing, a dead one nothing at all.  So, per charted
        tag: ``bad-quality`` when its newest sample is Bad and has been for ``bad_run``
        sampling intervals, else ``silent`` when it has sent nothing for more than
        ``silent_intervals`` sampling intervals, counted from its newest stored sample or from
        the engine's start, whichever is later (a daemon that just started has not heard from
        anyone yet).  Tags without a known sampling interval (no plant config) or never
        sampled are not judged.  ``silent`` returns to normal with the tag's next sample,
        ``bad-quality`` with its next Good one.
        """
        now = now or datetime.now(UTC)
        raised = 0
        with Session(self.engine) as session, session.begin():
            for chart in self.charts.values():
                if chart.sampling_interval_s is None:
                    continue
                table: Any = Profile if chart.kind == "profile" else Sample
                newest = session.execute(
                    select(table.ts, table.status)
                    .where(table.tag_id == chart.tag_id)
                    .order_by(table.ts.desc())
                    .limit(1)
                ).first()
                if newest is None:
                    continue
                quiet_s = (now - max(newest.ts, self.started_at)).total_seconds()
                silent_after_s = chart.faults.silent_intervals * chart.sampling_interval_s
                if newest.status < BAD_FROM and not (silent_after_s and quiet_s > silent_after_s):
                    continue  # the usual case, decided without reading the chart's state
                state_row = _state_row(session, chart)
                state = dict(state_row.state or {})
                faults = _fault_book(state)
                if newest.status >= BAD_FROM:
                    since = faults["bad_since"] or newest.ts.isoformat()
                    bad_s = (now - datetime.fromisoformat(since)).total_seconds()
                    due = bool(chart.faults.bad_run) and (
                        bad_s >= chart.faults.bad_run * chart.sampling_interval_s
                    )
                    code, message = "bad-quality", f"{chart.tag}: Bad quality since {since}"
                else:
                    due, code = True, "silent"
                    message = (
                        f"{chart.tag}: no sample since {newest.ts.isoformat()} (more than "
                        f"{chart.faults.silent_intervals:g} sampling intervals)"
                    )
                if not due or code in faults["active"]:
                    continue
                running = _running_lookup(session, chart, now, now)
                stopped = running is not None and not running(now)
                faults["active"].append(code)
                event = AlarmEvent(
                    "raise", code, now, SENSOR_FAULT_KIND, chart.priority(code), message, stopped
                )
                apply_events(session, chart.line_id, chart.tag_id, [event])
                state_row.state = {**state, "faults": faults}
                raised += 1
        return raised


# --- phase I: estimating and freezing limits ---------------------------------------------------


@dataclass(frozen=True)
class LimitsEstimate:
    """Proposed limits from a phase I study of stored data (Montgomery §6.2.1).

    ``chart`` is the chart's name in ``control_limits.chart``; ``center`` and ``sigma`` are in
    the unit of what it charts; ``excluded`` lists the points (or subgroups, by their first
    sample time) removed as out of control.
    """

    chart: str
    center: float
    sigma: float
    sigma_method: str
    lcl: float
    ucl: float
    n_total: int
    n_used: int
    excluded: list[dict[str, Any]]
    iterations: int
    data_from: datetime
    data_to: datetime
    params: dict[str, Any]


def _observations(
    engine: Engine, chart: ChartConfig, series: SeriesSpec, start: datetime, end: datetime
) -> list[tuple[datetime, list[float]]]:
    """What the chart judges in ``[start, end)``, as (first sample time, values) per point.

    Individuals-based charts get one value per point (a sample, a scan statistic or a time /
    roll subgroup's mean), X-bar charts the values of each subgroup (by count, time or roll).
    """
    table: Any = Profile if chart.kind == "profile" else Sample
    reading = table.values if chart.kind == "profile" else table.value
    with Session(engine) as session:
        rows = session.execute(
            select(table.ts, reading)
            .where(
                table.tag_id == chart.tag_id,
                table.status < GOOD_BELOW,
                reading.is_not(None),
                table.ts >= start,
                table.ts < end,
            )
            .order_by(table.ts)
        ).all()
        rolls = _rolls(session, chart.line_id, end) if chart.subgroup_by == "roll" else None
    if chart.kind == "profile":
        scans = [(ts, _scan_statistics(v)) for ts, v in rows]
        figures = [(ts, s[series.statistic]) for ts, s in scans if s is not None]  # type: ignore[index]
        return [(ts, [v]) for ts, v in figures if math.isfinite(v)]
    good = [(ts, v) for ts, v in rows if math.isfinite(v)]
    xbar = series.chart.startswith("xbar")
    if chart.subgroup_by == "count":
        n = chart.subgroup_size if xbar else 1
        return [
            (good[i][0], [v for _, v in good[i : i + n]]) for i in range(0, len(good) - n + 1, n)
        ]
    groups: dict[int, tuple[datetime, list[float]]] = {}
    for ts, v in good:
        key = _group_key(chart, ts, rolls)
        if key is not None:
            groups.setdefault(key, (ts, []))[1].append(v)
    if xbar:
        return [group for group in groups.values() if len(group[1]) >= 2]
    return [(ts, [math.fsum(vs) / len(vs)]) for ts, vs in groups.values()]


def estimate_limits(
    engine: Engine,
    chart: ChartConfig,
    start: datetime,
    end: datetime,
    series: SeriesSpec | None = None,
) -> LimitsEstimate:
    """Phase I limits of one of a tag's charts from its Good samples in ``[start, end)``.

    Estimated as `_phase_one` does (I-MR for individuals-based charts: I-MR, EWMA, CUSUM and
    every profile statistic; X-bar with R or S).  Subgroups are formed as the engine forms
    them; a trailing partial count subgroup is dropped.
    """
    series = series or chart.series[0]
    points = _observations(engine, chart, series, start, end)
    what = f"{chart.line}/{chart.tag} ({series.name})"
    if len(points) < PHASE_ONE_MIN_POINTS:
        raise UserError(
            f"{what} has {len(points)} {_unit(series)} of Good samples between "
            f"{start.isoformat()} and {end.isoformat()}; phase I needs at least "
            f"{PHASE_ONE_MIN_POINTS}."
        )
    result, used, total = _phase_one(series, [vs for _, vs in points])
    removed = [(int(label), *points[int(label) - 1]) for label in result.removed]
    if series.chart.startswith("xbar"):
        excluded = [{"subgroup": label, "ts": ts.isoformat()} for label, ts, _ in removed]
    else:
        excluded = [{"ts": ts.isoformat(), "value": float(vs[0])} for _, ts, vs in removed]
    limits = result.charts.limits
    lcl, ucl = _limit_lines(chart, series, float(limits.center), float(limits.sigma))
    return LimitsEstimate(
        chart=series.name,
        center=float(limits.center),
        sigma=float(limits.sigma),
        sigma_method=str(limits.sigma_method),
        lcl=lcl,
        ucl=ucl,
        n_total=total,
        n_used=used,
        excluded=excluded,
        iterations=result.iterations,
        data_from=start,
        data_to=end,
        params=chart.chart_params(series),
    )


def freeze_limits(engine: Engine, chart: ChartConfig, estimate: LimitsEstimate, user: str) -> int:
    """Store ``estimate`` as its chart's new frozen limits version; return the version.

    Earlier versions are kept.  Records who froze them, when, and from which data, and
    appends the freeze to the audit log.  The engine switches to them at its next batch (the
    evaluator restarts on the new limits, with every rule of the tag).
    """
    user = require_user(user, "freezing limits")
    now = datetime.now(UTC)
    with Session(engine) as session, session.begin():
        version = _next_version(session, chart.tag_id, estimate.chart)
        row = ControlLimits(
            tag_id=chart.tag_id,
            chart=estimate.chart,
            version=version,
            basis="phase1",
            center=estimate.center,
            lcl=estimate.lcl,
            ucl=estimate.ucl,
            sigma=estimate.sigma,
            sigma_method=estimate.sigma_method,
            params={**estimate.params, "iterations": estimate.iterations},
            data_from=estimate.data_from,
            data_to=estimate.data_to,
            n_used=estimate.n_used,
            excluded={"n_total": estimate.n_total, "points": estimate.excluded},
            frozen_by=user,
            frozen_at=now,
            valid_from=now,
        )
        session.add(row)
        session.flush()
        session.add(
            AuditLog(
                at=now,
                user=user,
                action="limits-freeze",
                entity="control_limits",
                entity_id=str(row.id),
                detail={
                    "line": chart.line,
                    "tag": chart.tag,
                    "chart": estimate.chart,
                    "version": version,
                    "center": estimate.center,
                    "sigma": estimate.sigma,
                    "data_from": estimate.data_from.isoformat(),
                    "data_to": estimate.data_to.isoformat(),
                },
            )
        )
    return version


def chart_for(engine: Engine, line: str, tag: str) -> ChartConfig:
    """The chart settings of one stored tag; a `UserError` if it has none."""
    from plantqc.store import find_tag

    ref = find_tag(engine, line, tag)
    charts = load_charts(engine)
    if ref.tag_id not in charts:
        raise UserError(f"tag {line}/{tag} has no SPC settings (spc:) in the config.")
    return charts[ref.tag_id]


def limit_versions(engine: Engine, tag_ids: Iterable[int]) -> list[ControlLimits]:
    """Every stored limits version of the tags, oldest first."""
    with Session(engine) as session:
        return list(
            session.scalars(
                select(ControlLimits)
                .where(ControlLimits.tag_id.in_(list(tag_ids)))
                .order_by(ControlLimits.tag_id, ControlLimits.chart, ControlLimits.version)
            )
        )


class StoreHook:
    """The daemon's ``on_stored`` hook and periodic ``tick``: the engine on a store opened at
    first use.

    The daemon calls it after each stored batch (from a worker thread); the first call
    catches up every charted tag from its persisted state, later calls evaluate the tags of
    the batch.  `tick` (the daemon's periodic alarm check, another thread) looks for silent
    tags; a lock keeps the two from updating one tag's state at the same time.

    Parameters
    ----------
    db_url : str
        The daemon's store (already migrated and synced by the daemon when the hook first runs).
    rtn_after : int
        Chart points without a rule firing before its alarm returns to normal.
    config : PlantConfig, optional
        The plant config (sampling intervals, running conditions), see `SpcEngine`.
    """

    def __init__(
        self, db_url: str, *, rtn_after: int = RTN_AFTER_POINTS, config: PlantConfig | None = None
    ) -> None:
        self.db_url = db_url
        self.rtn_after = rtn_after
        self.config = config
        self.engine: SpcEngine | None = None
        self.violations = 0
        self.alarms_opened = 0
        self._lock = threading.Lock()

    def _engine(self) -> SpcEngine:
        if self.engine is None:
            from plantqc.store import connect

            self.engine = SpcEngine(
                connect(self.db_url), rtn_after=self.rtn_after, config=self.config
            )
        return self.engine

    def __call__(self, batch: Sequence[Reading]) -> None:
        self.chart_names({(r.line, r.tag) for r in batch})

    def chart_names(self, names: Iterable[tuple[str, str]]) -> None:
        """Chart the new samples of the (line, tag) ``names``; the first call catches up every
        charted tag instead."""
        with self._lock:
            first = self.engine is None
            engine = self._engine()
            runs = engine.process_all() if first else engine.process_names(names)
        for run in runs:
            self.violations += len(run.violations)
            self.alarms_opened += run.alarms_opened
            if run.alarms_opened:
                chart = engine.charts[run.tag_id]
                log.info(
                    "alarm raised",
                    extra={"line": chart.line, "tag": chart.tag, "alarms": run.alarms_opened},
                )

    def tick(self, now: datetime) -> None:
        """The daemon's periodic check: sensor faults that show as samples not arriving."""
        with self._lock:
            raised = self._engine().check_silence(now)
        if raised:
            log.warning(
                "sensor-fault alarm raised: no Good sample arriving", extra={"tags": raised}
            )

    def close(self) -> None:
        """Release the store connection."""
        if self.engine is not None:
            self.engine.engine.dispose()
