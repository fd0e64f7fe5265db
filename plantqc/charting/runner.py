"""The streaming runner: stored samples -> subgroups -> charts -> rules -> violations, alarms.

Per charted tag, streaming evaluators of :mod:`spc.streaming` consume the tag's samples in
source-time order, reading them from the store after the last sample processed.  Bad /
Uncertain samples are not charted (DESIGN.md) but feed the sensor-fault checks
(`plantqc.charting.faults`).  Each point is judged on the limits in force at its time
(`plantqc.charting.limits`); where another version comes into force the chart starts again on
it.

Learning.  A chart without limits (none frozen, none learned) learns: it collects a baseline
of ``spc.baseline_points`` points (default 100 individuals or 25 subgroups), estimates phase I
limits from them with out-of-control points excluded (`plantqc.charting.phase1.store_provisional`),
stores them as the chart's provisional version and charts every later point on them, the
sigma-zone rules off until limits are frozen (`plantqc.charting.limits.rules_on`); the baseline
itself is phase I data and is not judged again.  Limits never come from the spec.  A baseline
whose points are significantly autocorrelated (lag-1, `spc.autocorrelation.lag1_autocorrelation`)
holds less information than its count says: the chart learns on until its effective size
n (1 - r1) / (1 + r1) reaches the baseline or it has `LEARNING_CAP` times the baseline's
points, warns once that the chart should be designed for it (``plantqc limits design``), and
takes for sigma the larger of phase I's short-term estimate and the overall standard deviation
of the baseline, which positive autocorrelation does not shrink (Montgomery [1]_ §10.4); the
proposal's note says so.  While a chart learns only spec breaches and sensor faults can alarm.

Alerts and alarms (ISA-18.2).  Every rule hit is stored as a violation (an alert: charted,
annotated, reported).  Only the conditions the tag lists in ``spc.alarms`` raise an alarm and
later return it to normal, ``rtn_after`` chart points after they last fired; whether a
condition is one of them is `plantqc.charting.chart.ChartConfig.alarms_on`'s decision.
Priority comes from the rule and the tag's ``alarm_priority`` / ``rule_priority`` settings.
While a line's running condition does not hold, its tags' alarms are suppressed by design.  An
I or X-bar point is beyond its limits at ``spc.limit_sigma`` sigma of the point.

Spec breaches.  Every Good value charted of a tag with spec limits (a profile's: the scan
mean) is also judged against them from the first sample on, learning or not: one beyond the
LSL or USL is a violation of rule ``spec`` and, where ``spec`` is in the alarms (the default),
raises alarm ``spec``, which returns to normal after ``rtn_after`` values within the spec.

Sensor faults first.  While a tag has an active sensor fault (``bad-quality``, ``stuck``,
``silent``) its Good samples are not charted and not judged against the spec: the sensor-fault
alarm stands alone, with no consequential alarms on the same tag.  Bad quality and silence
end with the next Good sample, which is charted; a stuck value ends when the value changes,
and the new value is the first charted again.  A value that repeats the one before it is held
back, not charted, until the value changes (then the held run is charted, in order) or the
run becomes a stuck fault (then it is dropped): a frozen sensor does not first move an EWMA
or a CUSUM, or fill a run rule, before ``stuck`` is known.

The evaluator states, the open subgroups, the learning baselines, the held repeats, the recent
points of each chart, the rule, spec and fault bookkeeping and the last sample time processed
are written to ``engine_state`` in the same transaction as the violations and alarm changes of
those samples: after a restart the engine continues exactly as if it had not stopped, and a
crash between the two cannot lose or repeat a violation.  A sample that arrives with a source
time older than the last one processed is stored but not charted (the chart is a time
sequence).

References
----------
.. [1] D. C. Montgomery, *Introduction to Statistical Quality Control*, 7th ed., Wiley, 2013,
   §6.3.2 (variable sample size), §6.4 (individuals), §9.1 (CUSUM), §9.2 (EWMA), §10.4
   (SPC with autocorrelated process data).
.. [2] L. S. Nelson, "The Shewhart control chart - tests for special causes", *J. Quality
   Technology* 16(4), 1984 (rule windows and zones).
.. [3] ANSI/ISA-18.2-2016, *Management of Alarm Systems for the Process Industries* (alarms
   and alerts, suppression by design).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, bindparam, func, select
from sqlalchemy.orm import Session

from plantqc.alarms import (
    RTN_AFTER_POINTS,
    SENSOR_FAULT_KIND,
    SPC_KIND,
    AlarmEvent,
    apply_events,
    apply_tag_events,
)
from plantqc.charting.catalog import load_charts
from plantqc.charting.chart import ChartConfig
from plantqc.charting.design import RESTORE, ChartDesign, Evaluator, resized
from plantqc.charting.faults import (
    fault_book,
    fault_events,
    quiet_fault,
    running_lookup,
    silence_fault,
)
from plantqc.charting.limits import (
    LimitsTimeline,
    timeline,
)
from plantqc.charting.names import CD_MEAN, SeriesSpec
from plantqc.charting.phase1 import scan_statistics, store_provisional
from plantqc.charting.settings import SPEC_CODE
from plantqc.charting.subgroups import epoch_us, group_keys, read_rolls
from plantqc.config import PlantConfig
from plantqc.quality import GOOD_BELOW
from plantqc.store.engine_state import EngineState
from plantqc.store.models import ControlLimits, Profile, Sample, Violation
from spc import XbarStream
from spc.subgroups import OUTSIDE

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
LEARNING_CAP = 10
"""A chart whose baseline is autocorrelated learns until its effective size reaches the baseline
or it has this many times the baseline's points."""


class _SeriesRun:
    """One chart of a tag while the engine processes a chunk: evaluator, subgroup, rules."""

    def __init__(
        self,
        session: Session,
        chart: ChartConfig,
        series: SeriesSpec,
        saved: dict[str, Any] | None,
        rtn_after: int,
        limits: LimitsTimeline,
        first_ts: datetime,
    ) -> None:
        self.session, self.chart, self.series, self.rtn_after = session, chart, series, rtn_after
        saved = saved if saved and saved.get("chart") == series.chart else {}
        self.recent: dict[str, list[list[Any]]] = saved.get("recent", {})
        # alarm code -> the point it last fired at
        self.fired: dict[str, int] = saved.get("fired", {})
        self.points: int = saved.get("points", 0)
        self.open: dict[str, Any] | None = saved.get("open")
        if self.open is not None and not series.xbar and "values" in self.open:
            # a window of a mean chart as earlier releases kept it: its values
            values = self.open.pop("values")
            self.open.update(sum=math.fsum(values), n=len(values))
        # while the chart has no limits: {"since": iso time of its first feed, "feeds": the
        # feeds so far (values, or a time / roll subgroup's values), "need": points wanted,
        # "autocorrelated": whether the baseline was found autocorrelated}
        self.learning: dict[str, Any] | None = saved.get("learning")
        self.skipped: int = saved.get("skipped", 0)
        self.violations: list[dict[str, Any]] = []
        self.timeline = limits
        self.limits: ControlLimits | None = None
        self.evaluator: Evaluator | None = None
        # the chart goes on on the version it ran on while that is still a version of its
        # timeline, or learning if it was (a subgroup left open closes on it); `_chart` moves
        # on at its points' times
        ran_on = next(
            (r for r in limits.rows if r is not None and r.id == saved.get("limits_id")), None
        )
        in_force = limits.at(first_ts)
        if ran_on is not None and "evaluator" in saved:
            state = saved["evaluator"]
            self.limits, self.evaluator = ran_on, RESTORE[state["type"]].from_state(state)
        elif in_force is not None and self.learning is None:
            self._switch(in_force)

    def _switch(self, limits: ControlLimits) -> None:
        """Chart on ``limits`` from the next point on: a fresh evaluator (the samples of an
        X-bar subgroup begun carry over); the rules that fired keep counting towards their
        alarms' return to normal."""
        before = self.evaluator
        self.limits = limits
        self.evaluator = ChartDesign.of(self.chart, self.series, limits).stream()
        if isinstance(before, XbarStream) and isinstance(self.evaluator, XbarStream):
            self.evaluator.buffer = before.buffer
        self.recent, self.learning = {}, None

    def state(self) -> dict[str, Any]:
        """What `engine_state` keeps of this chart."""
        state: dict[str, Any] = {
            "chart": self.series.chart,
            "limits_id": self.limits.id if self.limits is not None else None,
            "recent": self.recent,
            "fired": self.fired,
            "points": self.points,
            "open": self.open,
            "skipped": self.skipped,
        }
        if self.learning is not None:
            state["learning"] = self.learning
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
        if key is None:
            self._chart(ts, value, stopped, events)
            return
        if self.open is not None and self.open["key"] != key:
            self._close(stopped, events)
        if self.open is None:
            # an X-bar chart judges the subgroup's values; the others chart its mean, for
            # which the sum and count are all the state needs (a window may last hours)
            first: dict[str, Any] = {"values": []} if self.series.xbar else {"sum": 0.0, "n": 0}
            self.open = {"key": key, **first, "last": None}
        if self.series.xbar:
            self.open["values"].append(value)
        else:
            self.open["sum"] += value
            self.open["n"] += 1
        self.open["last"] = ts.isoformat()

    def _close(self, stopped: bool, events: list[AlarmEvent]) -> None:
        assert self.open is not None
        ts = datetime.fromisoformat(self.open["last"])
        if not self.series.xbar:
            mean = self.open["sum"] / self.open["n"]
            self.open = None
            self._chart(ts, mean, stopped, events)
            return
        values: list[float] = self.open["values"]
        self.open = None
        if len(values) < 2:  # a range or standard deviation needs two values
            self.skipped += 1
        else:
            self._chart(ts, values, stopped, events)

    def _chart(
        self, ts: datetime, feed: float | list[float], stopped: bool, events: list[AlarmEvent]
    ) -> None:
        """Chart one feed (a value, or a time / roll subgroup of an X-bar chart) on the limits
        in force at its time, or keep it towards the chart's baseline while it has none."""
        if len(self.timeline.rows) > 1 or self.evaluator is None:
            in_force = self.timeline.at(ts)
            if in_force is not None and (self.limits is None or in_force.id != self.limits.id):
                self._switch(in_force)
        if self.evaluator is None:
            self._learn(ts, feed)
        else:
            self._judge(ts, feed, stopped, events)

    def _judge(
        self, ts: datetime, feed: float | list[float], stopped: bool, events: list[AlarmEvent]
    ) -> None:
        """Feed the evaluator and record what it says."""
        assert self.evaluator is not None
        if isinstance(feed, list):  # a time / roll subgroup, judged at its own size
            assert isinstance(self.evaluator, XbarStream)
            self.evaluator = resized(self.evaluator, len(feed))
            for value in feed:
                results = self.evaluator.update(value, ts)
        else:
            results = self.evaluator.update(feed, ts)
        self._record(results, ts, stopped, events)

    @property
    def _feeds_per_point(self) -> int:
        """Feeds that make one chart point: the samples of a count subgroup, else one."""
        by_count = self.series.xbar and self.chart.subgroup_by == "count"
        return self.chart.subgroup_size if by_count else 1

    def _learn(self, ts: datetime, feed: float | list[float]) -> None:
        """Keep ``feed`` towards the chart's baseline; once it is complete, propose limits."""
        learning = self.learning
        if learning is None:
            # without it a chart would look dead until it has its baseline
            log.info(
                "chart has no limits yet: learning them from its baseline",
                extra={
                    "line": self.chart.line,
                    "tag": self.chart.tag,
                    "chart": self.series.name,
                    "needed": f"{self.chart.baseline} {self.series.unit}",
                },
            )
            learning = {"since": ts.isoformat(), "feeds": [], "need": self.chart.baseline}
            self.learning = learning
        feeds: list[Any] = learning["feeds"]
        feeds.append(feed)
        step = self._feeds_per_point
        if len(feeds) < learning["need"] * step:
            return
        values = [f if isinstance(f, list) else [f] for f in feeds]
        points = [
            [v for vs in values[i : i + step] for v in vs]
            for i in range(0, len(values) - step + 1, step)
        ]
        self._propose(ts, points)

    def _propose(self, ts: datetime, points: list[list[float]]) -> None:
        """Store limits learned from the baseline ``points`` and chart on them, or learn on
        (an autocorrelated baseline too small for its correlation, or one that does not vary)."""
        # deferred: SciPy and statsmodels load once a chart has its baseline, not at start
        from spc.autocorrelation import lag1_autocorrelation

        learning = self.learning
        assert learning is not None
        location = [math.fsum(p) / len(p) for p in points]
        if max(location) == min(location):  # no sigma to chart against: without the oldest
            del learning["feeds"][: self._feeds_per_point]
            return
        test = lag1_autocorrelation(location)
        n, r1, baseline = len(points), test.r1, self.chart.baseline
        cap = LEARNING_CAP * baseline
        correlated = test.significant and r1 > 0
        if correlated and n * (1.0 - r1) / (1.0 + r1) < baseline and n < cap:
            if not learning.get("autocorrelated"):
                log.warning(
                    "chart's baseline is autocorrelated: learning on for an effective baseline;"
                    " design the chart for it with `plantqc limits design`",
                    extra={
                        "line": self.chart.line,
                        "tag": self.chart.tag,
                        "chart": self.series.name,
                        "r1": round(r1, 3),
                    },
                )
            learning["autocorrelated"] = True
            needed = math.ceil(baseline * (1.0 + r1) / (1.0 - r1)) if r1 < 1.0 else cap
            learning["need"] = min(cap, max(n + 1, needed))
            return
        span = (datetime.fromisoformat(learning["since"]), ts)
        autocorrelated = correlated or learning.get("autocorrelated")
        limits = store_provisional(
            self.session, self.chart, self.series, points, span, r1 if autocorrelated else None
        )
        if limits is None:
            del learning["feeds"][: self._feeds_per_point]
            return
        self.timeline = self.timeline.with_unfrozen(limits)
        self._switch(limits)

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
                    {
                        "tag_id": self.chart.tag_id,
                        "limits_id": self.limits.id,
                        "chart": chart_name,
                        "rule": rule,
                        "ts": ts,
                        "value": point.value,
                        "points": {
                            "points": [{"index": i, "ts": t, "value": v} for i, t, v in window],
                            "center": point.center,
                            "lcl": point.lcl,
                            "ucl": point.ucl,
                        },
                    }
                )
                code = self.series.code(point.chart, rule)
                if not self.chart.alarms_on(code):
                    continue  # an alert: the violation is all it is
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


class _SpecWatch:
    """A tag's spec-breach condition (`SPEC_CODE`) over one chunk.

    Every value judged beyond the LSL or USL is a violation of rule ``spec`` on the chart of
    its series (a profile's: ``cd_mean``), with the spec limits, kept with that chart's
    violations (here only for a profile without a scan-mean chart); where the tag alarms on
    ``spec`` it raises that alarm, which returns to normal after ``rtn_after`` values within
    the spec.
    """

    def __init__(self, chart: ChartConfig, quiet: int | None, rtn_after: int) -> None:
        self.chart, self.rtn_after = chart, rtn_after
        self.lsl = chart.lsl if chart.lsl is not None else -math.inf
        self.usl = chart.usl if chart.usl is not None else math.inf
        # values within the spec since the last breach while the alarm holds, else None
        self.quiet = quiet
        self.alarms = chart.alarms_on(SPEC_CODE)
        self.violations: list[dict[str, Any]] = []

    def active_codes(self) -> set[tuple[str, str]]:
        """The spec-breach condition while it holds."""
        return {(SPC_KIND, SPEC_CODE)} if self.quiet is not None else set()

    def judge(
        self,
        ts: datetime,
        value: float,
        run: _SeriesRun | None,
        stopped: bool,
        events: list[AlarmEvent],
    ) -> None:
        """Judge one Good value; ``run`` is its series' chart (None: a profile without a
        scan-mean chart)."""
        if self.lsl <= value <= self.usl:
            if self.quiet is not None:
                self.quiet += 1
                if self.quiet >= self.rtn_after:
                    self.quiet = None
                    events.append(AlarmEvent("clear", SPEC_CODE, ts))
            return
        name, limit = ("LSL", self.lsl) if value < self.lsl else ("USL", self.usl)
        chart = self.chart
        limits = run.limits if run is not None else None
        # in time order with the chart's own violations
        (run.violations if run is not None else self.violations).append(
            {
                "tag_id": chart.tag_id,
                "limits_id": limits.id if limits is not None else None,
                "chart": run.series.name if run is not None else CD_MEAN,
                "rule": SPEC_CODE,
                "ts": ts,
                "value": value,
                "points": {
                    "points": [{"ts": ts.isoformat(), "value": value}],
                    "lsl": chart.lsl,
                    "target": chart.target,
                    "usl": chart.usl,
                },
            }
        )
        if self.alarms:
            self.quiet = 0
            message = f"{chart.tag}: {value:.6g} beyond the {name} {limit:g}"
            priority = chart.priority(SPEC_CODE)
            events.append(AlarmEvent("raise", SPEC_CODE, ts, SPC_KIND, priority, message, stopped))


class _Chunk:
    """What one tag's Good samples go to within a chunk: the spec check and its charts."""

    def __init__(
        self,
        chart: ChartConfig,
        series: list[_SeriesRun],
        spec: _SpecWatch,
        stopped: bool,
        events: list[AlarmEvent],
    ) -> None:
        self.chart, self.series, self.spec = chart, series, spec
        self.stopped, self.events = stopped, events
        self.profile = chart.kind == "profile"
        # the chart of a profile's scan mean, which the spec judges
        self.mean_run = next((s for s in series if s.series.name == CD_MEAN), None)

    def reading(self, value: Any) -> float | dict[str, float] | None:
        """What is charted of a Good sample: a finite value, a profile's finite per-scan
        statistics; None when nothing is (not finite, a scan too short to judge)."""
        if self.profile:
            figures = scan_statistics(value)
            if figures is None:
                return None
            return {name: f for name, f in figures.items() if math.isfinite(f)}
        return value if math.isfinite(value) else None

    def sample(
        self, ts: datetime, reading: float | dict[str, float] | None, key: int | None
    ) -> None:
        """Judge one reading against the spec and chart it."""
        if reading is None:
            return
        spec, stopped, events = self.spec, self.stopped, self.events
        if isinstance(reading, dict):
            mean = reading.get("mean")
            if mean is not None and (spec.quiet is not None or not spec.lsl <= mean <= spec.usl):
                spec.judge(ts, mean, self.mean_run, stopped, events)
            for s in self.series:
                figure = reading.get(s.series.statistic)  # type: ignore[arg-type]
                if figure is not None:
                    s.feed(ts, figure, None, stopped, events)
            return
        run = self.series[0]
        if spec.quiet is not None or not spec.lsl <= reading <= spec.usl:
            spec.judge(ts, reading, run, stopped, events)
        run.feed(ts, reading, key, stopped, events)


def _state_row(session: Session, chart: ChartConfig, row: EngineState | None = None) -> EngineState:
    """The chart's state row: ``row`` when already loaded, else read, else a new one."""
    row = row or session.get(EngineState, chart.tag_id)
    if row is None:
        row = EngineState(tag_id=chart.tag_id, chart=chart.chart, state={})
        row.last_ts, row.points = None, 0
        session.add(row)
    row.chart = chart.chart
    return row


@dataclass(frozen=True)
class _Saved:
    """A tag's state row as the runner reads it: last sample processed, write time, state."""

    last_ts: datetime | None
    updated_at: datetime
    state: dict[str, Any]


_STATE_TABLE: Any = EngineState.__table__
_UPDATE_STATE = _STATE_TABLE.update().where(_STATE_TABLE.c.tag_id == bindparam("row_tag_id"))


@dataclass
class _Writes:
    """What one transaction of the runner stores, written in bulk at its end (one statement per
    table, not one ORM object per row): state rows to update and to insert, violations; and
    the alarm events of each (line id, tag id), applied with one read of the open alarms."""

    updates: list[dict[str, Any]] = field(default_factory=list)
    inserts: list[dict[str, Any]] = field(default_factory=list)
    violations: list[dict[str, Any]] = field(default_factory=list)
    runs: dict[int, list[_SeriesRun]] = field(default_factory=dict)
    """The charts as they stand after the transaction, by tag (kept once it commits)."""
    events: dict[tuple[int, int], list[AlarmEvent]] = field(default_factory=dict)

    def execute(self, session: Session) -> dict[int, int]:
        """Store it all; return how many alarms the events opened, by tag id."""
        opened = apply_tag_events(session, self.events)
        # Core statements on the tables, one executemany each: the ORM's bulk paths would
        # handle every row as a mapped object's changes first
        if self.updates:
            keyed = [
                {**{k: v for k, v in row.items() if k != "tag_id"}, "row_tag_id": row["tag_id"]}
                for row in self.updates
            ]
            session.execute(_UPDATE_STATE, keyed)
        if self.inserts:
            session.execute(_STATE_TABLE.insert(), self.inserts)
        if self.violations:
            session.execute(Violation.__table__.insert(), self.violations)
        return {tag_id: len(rows) for (_, tag_id), rows in opened.items()}


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
        # limits timelines by (tag, chart name), each valid while its tag's newest limits id
        # (the table is append-only) stays what it was when read
        self._limits: dict[tuple[int, str], LimitsTimeline] = {}
        self._limits_mark: dict[int, int | None] = {}
        # the state rows this engine wrote last, kept parsed: read again only when the row in
        # the store is no longer the one written (another writer, a restart)
        self._states: dict[int, _Saved] = {}
        # the live charts of those rows: the next chunk of a tag goes on with them instead of
        # rebuilding its evaluators from the state it just wrote (what a restart does)
        self._runs: dict[int, list[_SeriesRun]] = {}

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
        by_tag = {run.tag_id: run for run in runs}
        pending = runs
        while pending:
            try:
                with Session(self.engine, expire_on_commit=False) as session, session.begin():
                    self._refresh_limits(session, tag_ids)
                    states = self._read_states(session, tag_ids)
                    prefetched = self._prefetch(session, pending, states)
                    writes = _Writes()
                    pending = [
                        run
                        for run in pending
                        if not self._process_chunk(
                            session, states.get(run.tag_id), run, writes, prefetched.get(run.tag_id)
                        )
                    ]
                    for tag_id, opened in writes.execute(session).items():
                        by_tag[tag_id].alarms_opened += opened
                self._states.update(
                    (w["tag_id"], _Saved(w["last_ts"], w["updated_at"], w["state"]))
                    for w in (*writes.updates, *writes.inserts)
                )
                self._runs.update(writes.runs)
            except BaseException:
                # what was read or written in a rolled-back transaction is not kept
                self._states.clear()
                self._runs.clear()
                self._limits.clear()
                self._limits_mark.clear()
                raise
        return runs

    def _read_states(self, session: Session, tag_ids: Sequence[int]) -> dict[int, _Saved]:
        """The state rows of ``tag_ids``: the kept copy where the stored row is still the one
        this engine wrote (same last sample and write time), else parsed from the store."""
        marks = session.execute(
            select(EngineState.tag_id, EngineState.last_ts, EngineState.updated_at).where(
                EngineState.tag_id.in_(tag_ids)
            )
        ).all()
        found: dict[int, _Saved] = {}
        stale = []
        for tag_id, last_ts, updated_at in marks:
            kept = self._states.get(tag_id)
            if kept is not None and (kept.last_ts, kept.updated_at) == (last_ts, updated_at):
                found[tag_id] = kept
            else:
                stale.append(tag_id)
        if stale:
            query = select(
                EngineState.tag_id, EngineState.last_ts, EngineState.updated_at, EngineState.state
            ).where(EngineState.tag_id.in_(stale))
            for tag_id, last_ts, updated_at, state in session.execute(query):
                found[tag_id] = _Saved(last_ts, updated_at, state or {})
        return found

    def _refresh_limits(self, session: Session, tag_ids: Sequence[int]) -> None:
        marks = dict(
            session.execute(
                select(ControlLimits.tag_id, func.max(ControlLimits.id))
                .where(ControlLimits.tag_id.in_(tag_ids))
                .group_by(ControlLimits.tag_id)
            ).all()
        )
        for tag_id in tag_ids:
            if self._limits_mark.get(tag_id, -1) != marks.get(tag_id):
                self._limits_mark[tag_id] = marks.get(tag_id)
                for series in self.charts[tag_id].series:
                    self._limits.pop((tag_id, series.name), None)

    def _timeline(self, session: Session, chart: ChartConfig, series: SeriesSpec) -> LimitsTimeline:
        key = (chart.tag_id, series.name)
        if key not in self._limits:
            self._limits[key] = timeline(session, chart.tag_id, series.name)
        return self._limits[key]

    def _prefetch(
        self, session: Session, runs: Sequence[TagRun], states: dict[int, _Saved]
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

    def _series_runs(
        self,
        session: Session,
        chart: ChartConfig,
        stored: _Saved | None,
        state: dict[str, Any],
        first_ts: datetime,
    ) -> list[_SeriesRun]:
        """The tag's charts for its next chunk: the live ones where ``stored`` is the row they
        wrote and each still charts on, or learns on, its current timeline, else rebuilt from
        the saved state as after a restart (the two continue alike: that is what the state
        keeps)."""
        timelines = [self._timeline(session, chart, s) for s in chart.series]
        live = self._runs.get(chart.tag_id)
        if (
            live is not None
            and stored is not None
            and stored is self._states.get(chart.tag_id)
            and all(run.timeline is timeline for run, timeline in zip(live, timelines, strict=True))
        ):
            for run in live:
                run.session, run.violations = session, []
            return live
        saved = state.get("series") or {}
        return [
            _SeriesRun(session, chart, s, saved.get(s.name), self.rtn_after, timeline, first_ts)
            for s, timeline in zip(chart.series, timelines, strict=True)
        ]

    def _process_chunk(
        self,
        session: Session,
        stored: _Saved | None,
        run: TagRun,
        writes: _Writes,
        prefetched: list[Any] | None = None,
    ) -> bool:
        """Chart the next chunk of one tag's samples after ``stored`` (its state row, None
        before its first); queue its state and violations on ``writes``; whether it is done."""
        chart = self.charts[run.tag_id]
        table: Any = Profile if chart.kind == "profile" else Sample
        reading = table.values if chart.kind == "profile" else table.value
        last_ts = stored.last_ts if stored is not None else None
        state = dict(stored.state) if stored is not None else {}
        if prefetched is not None:
            rows = prefetched
        else:
            query = select(table.ts, reading, table.status).where(table.tag_id == chart.tag_id)
            if last_ts is not None:
                query = query.where(table.ts > last_ts)
            with session.no_autoflush:  # the samples do not depend on what is pending
                rows = session.execute(query.order_by(table.ts).limit(READ_CHUNK)).all()
        if not rows:
            return True
        series = self._series_runs(session, chart, stored, state, rows[0][0])
        first_ts = rows[0][0]
        running = running_lookup(session, chart, first_ts, rows[-1][0])
        keys: Any = None
        if chart.kind == "scalar" and chart.subgroup_by != "count":
            by_roll = chart.subgroup_by == "roll"
            rolls = read_rolls(session, chart.line_id, rows[-1][0]) if by_roll else None
            keys = group_keys(chart, epoch_us([r[0] for r in rows]), rolls).tolist()
        faults = fault_book(state)
        stopped = bool(state.get("stopped", False))
        spec = _SpecWatch(chart, state.get("spec"), self.rtn_after)
        # Good repeats of the value before, held back until the value changes:
        # [iso time, reading, key, whether the line was stopped then]
        held: list[list[Any]] = list(state.get("held", []))
        holds = chart.faults.stuck_run > 0
        events: list[AlarmEvent] = []
        chunk = _Chunk(chart, series, spec, stopped, events)
        for at, (ts, value, status) in enumerate(rows):
            if running is not None and running(ts) == stopped:
                stopped = chunk.stopped = not stopped
                active = {(SENSOR_FAULT_KIND, code) for code in faults["active"]}
                active |= spec.active_codes()
                for s in series:
                    active |= s.active_codes()
                kind = "suppress" if stopped else "unsuppress"
                events.append(AlarmEvent(kind, "*", ts, active=frozenset(active)))
            fault_events(chart, faults, ts, value, status, stopped, events)
            if status >= GOOD_BELOW or value is None:
                continue
            key = keys[at] if keys is not None else None
            if key == OUTSIDE:
                continue
            if faults["active"]:
                # a sensor fault stands alone (at a Good sample only `stuck` can be active: Bad
                # quality and silence end with it); the repeats held were the fault's too
                held.clear()
                continue
            if holds and faults["same"] > 1:
                held.append([ts.isoformat(), chunk.reading(value), key, stopped])
                continue
            for stamp, reading, held_key, held_stopped in held:  # as when they arrived
                chunk.stopped = held_stopped
                chunk.sample(datetime.fromisoformat(stamp), reading, held_key)
            held.clear()
            chunk.stopped = stopped
            chunk.sample(ts, chunk.reading(value), key)
        violations = [*spec.violations, *(v for s in series for v in s.violations)]
        writes.events[(chart.line_id, chart.tag_id)] = events
        new_state = {
            "tag_id": chart.tag_id,
            "chart": chart.chart,
            "limits_id": series[0].limits.id if series[0].limits is not None else None,
            "state": {
                "series": {s.series.name: s.state() for s in series},
                "faults": faults,
                "stopped": stopped,
                "spec": spec.quiet,
                "held": held,
            },
            "last_ts": rows[-1][0],
            "points": series[0].points,
            "updated_at": datetime.now(UTC),
        }
        (writes.updates if stored is not None else writes.inserts).append(new_state)
        writes.violations.extend(violations)
        writes.runs[chart.tag_id] = series
        run.samples += len(rows)
        run.violations.extend(Violation(**v) for v in violations)
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
                code = quiet_fault(chart, newest.status, quiet_s)
                if code is None:
                    continue
                state_row = _state_row(session, chart)
                state = dict(state_row.state or {})
                faults = fault_book(state)
                message = silence_fault(chart, faults, code, newest.ts, now)
                if message is None:
                    continue
                running = running_lookup(session, chart, now, now)
                stopped = running is not None and not running(now)
                faults["active"].append(code)
                event = AlarmEvent(
                    "raise", code, now, SENSOR_FAULT_KIND, chart.priority(code), message, stopped
                )
                apply_events(session, chart.line_id, chart.tag_id, [event])
                state_row.state = {**state, "faults": faults}
                state_row.updated_at = datetime.now(UTC)
                self._states.pop(chart.tag_id, None)
                self._runs.pop(chart.tag_id, None)
                raised += 1
        return raised
