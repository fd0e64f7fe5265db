"""The streaming SPC engine: stored samples -> subgroups -> charts -> rules -> violations, alarms.

Per tag with SPC settings, one streaming evaluator of :mod:`spc.streaming` consumes the tag's
Good scalar samples (Bad / Uncertain excluded, DESIGN.md) in source-time order, reading them
from the store after the last sample it processed.  Subgroups are formed by count.  The
limits are the newest frozen `ControlLimits` row of (tag, chart); until limits are frozen the
chart runs on limits derived from the spec (center = target, else the spec midpoint;
sigma = (USL - LSL) / 6), stored as a ``ControlLimits`` row of basis ``spec`` so that every
violation names the limits version it was judged against.

The evaluator's state, the last sample time processed, the recent points of each chart and the
rule bookkeeping of the alarms are written to ``engine_state`` in the same transaction as the
violations and alarm changes of those samples: after a restart the engine continues exactly as
if it had not stopped, and a crash between the two cannot lose or repeat a violation.

A sample that arrives with a source time older than the last one processed is stored but not
charted (the chart is a time sequence).

References
----------
.. [1] D. C. Montgomery, *Introduction to Statistical Quality Control*, 7th ed., Wiley, 2013,
   §5.3.7 (phase I / phase II), §6.2.1 (revised trial limits), §6.4 (individuals),
   §9.1 (CUSUM), §9.2 (EWMA).
.. [2] L. S. Nelson, "The Shewhart control chart - tests for special causes", *J. Quality
   Technology* 16(4), 1984 (rule windows).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from plantqc.alarms import RTN_AFTER_POINTS, AlarmEvent, apply_events
from plantqc.buffer import Reading
from plantqc.errors import UserError
from plantqc.quality import GOOD_BELOW
from plantqc.store.engine_state import EngineState
from plantqc.store.models import AuditLog, ControlLimits, Line, Sample, Tag, Violation
from spc import (
    CUSUMParameters,
    CUSUMStream,
    EWMAParameters,
    EWMAStream,
    IMRStream,
    ShewhartLimits,
    XbarStream,
    imr,
    phase_one,
    xbar_r,
    xbar_s,
)

log = logging.getLogger(__name__)

READ_CHUNK = 20_000
"""Samples read from the store per query while catching up."""
RECENT_POINTS = 15
"""Points kept per chart for the violation records (the longest rule window, Nelson 7)."""
RULE_WINDOW = {
    "nelson1": 1, "nelson2": 9, "nelson3": 6, "nelson4": 14, "nelson5": 3, "nelson6": 5,
    "nelson7": 15, "nelson8": 8, "we1": 1, "we2": 3, "we3": 5, "we4": 8,
}  # fmt: skip
"""Points involved in a signal of each rule, the signalling point last (Nelson 1984)."""
SPEC_SIGMA_DIVISOR = 6.0
PHASE_ONE_MIN_POINTS = 20
"""Montgomery §6.2 recommends 20-25 subgroups (or individuals) for trial limits."""

Evaluator = IMRStream | XbarStream | EWMAStream | CUSUMStream


@dataclass(frozen=True)
class ChartConfig:
    """What the engine needs of one charted tag, read from its stored ``tags`` row."""

    tag_id: int
    line_id: int
    line: str
    tag: str
    chart: str  # imr | xbar-r | xbar-s | ewma | cusum
    subgroup_size: int = 1
    subgroup_by: str = "count"
    rules: str = "nelson"
    lam: float = 0.2
    ewma_L: float = 3.0
    k: float = 0.5
    h: float = 5.0
    fir: bool = False
    lsl: float | None = None
    target: float | None = None
    usl: float | None = None

    @classmethod
    def from_row(cls, tag: Tag, line: str) -> ChartConfig:
        spc = tag.spc or {}
        ewma = spc.get("ewma") or {}
        cusum = spc.get("cusum") or {}
        return cls(
            tag_id=tag.id,
            line_id=tag.line_id,
            line=line,
            tag=tag.name,
            chart=spc.get("chart", "imr"),
            subgroup_size=int(spc.get("subgroup_size") or 1),
            subgroup_by=spc.get("subgroup_by", "count"),
            rules=spc.get("rules", "nelson"),
            lam=float(ewma.get("lambda", 0.2)),
            ewma_L=float(ewma.get("L", 3.0)),
            k=float(cusum.get("k", 0.5)),
            h=float(cusum.get("h", 5.0)),
            fir=bool(cusum.get("fir", False)),
            lsl=tag.lsl,
            target=tag.target,
            usl=tag.usl,
        )

    def chart_params(self) -> dict[str, Any]:
        """The design parameters stored with a limits row."""
        params: dict[str, Any] = {"rules": self.rules, "L": 3.0}
        if self.chart.startswith("xbar"):
            params["subgroup_size"] = self.subgroup_size
        elif self.chart == "ewma":
            params.update({"lambda": self.lam, "L": self.ewma_L})
        elif self.chart == "cusum":
            params.update({"k": self.k, "h": self.h, "fir": self.fir})
        return params


def load_charts(engine: Engine) -> dict[int, ChartConfig]:
    """Every stored scalar tag with SPC settings, keyed by tag id."""
    with Session(engine) as session:
        rows = session.execute(
            select(Tag, Line.name)
            .join(Line, Line.id == Tag.line_id)
            .where(Tag.spc.is_not(None), Tag.kind == "scalar")
        ).all()
        return {tag.id: ChartConfig.from_row(tag, line) for tag, line in rows if tag.spc}


def spec_center_sigma(chart: ChartConfig) -> tuple[float, float] | None:
    """Spec-derived center and sigma, or None without both spec limits.

    center = target, else (LSL + USL) / 2; sigma = (USL - LSL) / 6, i.e. a process that just
    fills the tolerance at Cp = 1.  A placeholder until phase I limits are frozen.
    """
    if chart.lsl is None or chart.usl is None:
        return None
    center = chart.target if chart.target is not None else (chart.lsl + chart.usl) / 2.0
    return center, (chart.usl - chart.lsl) / SPEC_SIGMA_DIVISOR


def _limit_lines(chart: ChartConfig, center: float, sigma: float) -> tuple[float, float]:
    if chart.chart.startswith("xbar"):
        half = 3.0 * sigma / math.sqrt(chart.subgroup_size)
    elif chart.chart == "ewma":
        half = chart.ewma_L * sigma * math.sqrt(chart.lam / (2.0 - chart.lam))  # asymptotic
    elif chart.chart == "cusum":
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


def limits_in_force(session: Session, chart: ChartConfig) -> ControlLimits | None:
    """The newest frozen limits of the tag's chart, else spec-derived ones (written if new).

    Returns None when there are neither frozen limits nor both spec limits.
    """
    base = select(ControlLimits).where(
        ControlLimits.tag_id == chart.tag_id, ControlLimits.chart == chart.chart
    )
    frozen = session.scalars(
        base.where(ControlLimits.frozen_at.is_not(None))
        .order_by(ControlLimits.version.desc())
        .limit(1)
    ).one_or_none()
    if frozen is not None:
        return frozen
    derived = spec_center_sigma(chart)
    if derived is None:
        return None
    center, sigma = derived
    params = chart.chart_params()
    spec_row = session.scalars(
        base.where(ControlLimits.basis == "spec").order_by(ControlLimits.version.desc()).limit(1)
    ).one_or_none()
    if (
        spec_row is not None
        and spec_row.center == center
        and spec_row.sigma == sigma
        and {k: v for k, v in (spec_row.params or {}).items() if k != "note"} == params
    ):
        return spec_row
    lcl, ucl = _limit_lines(chart, center, sigma)
    row = ControlLimits(
        tag_id=chart.tag_id,
        chart=chart.chart,
        version=_next_version(session, chart.tag_id, chart.chart),
        basis="spec",
        center=center,
        lcl=lcl,
        ucl=ucl,
        sigma=sigma,
        sigma_method="(usl-lsl)/6",
        params={**params, "note": "spec-derived, not a process estimate: freeze phase I limits"},
        valid_from=datetime.now(UTC),
    )
    session.add(row)
    session.flush()
    return row


def build_evaluator(chart: ChartConfig, limits: ControlLimits) -> Evaluator:
    """A fresh streaming evaluator of the tag's chart on ``limits``."""
    center, sigma = float(limits.center or 0.0), float(limits.sigma or 0.0)
    if not sigma > 0.0:
        raise UserError(
            f"limits version {limits.version} of {chart.line}/{chart.tag} have sigma {sigma};"
            " a chart needs a positive sigma."
        )
    method = limits.sigma_method or "given"
    if chart.chart == "imr":
        return IMRStream(ShewhartLimits(center, sigma, method), chart.rules)
    if chart.chart in ("xbar-r", "xbar-s"):
        return XbarStream(
            ShewhartLimits(center, sigma, method), chart.subgroup_size, chart.chart[-1], chart.rules
        )
    if chart.chart == "ewma":
        return EWMAStream(
            EWMAParameters(center, sigma, chart.lam, chart.ewma_L, method), chart.rules
        )
    if chart.chart == "cusum":
        headstart = chart.h / 2.0 if chart.fir else 0.0
        return CUSUMStream(
            CUSUMParameters(center, sigma, chart.k, chart.h, headstart, method), chart.rules
        )
    raise UserError(f"chart {chart.chart!r} of {chart.line}/{chart.tag} is not supported.")


_RESTORE = {"imr": IMRStream, "xbar": XbarStream, "ewma": EWMAStream, "cusum": CUSUMStream}


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
    """

    def __init__(
        self,
        engine: Engine,
        *,
        rtn_after: int = RTN_AFTER_POINTS,
        charts: dict[int, ChartConfig] | None = None,
    ) -> None:
        self.engine = engine
        self.rtn_after = rtn_after
        self.charts = load_charts(engine) if charts is None else charts
        self._by_name = {(c.line, c.tag): c for c in self.charts.values()}
        skipped = [c for c in self.charts.values() if c.subgroup_by != "count"]
        for c in skipped:
            log.warning(
                "chart not evaluated: only subgroups by count are supported",
                extra={"line": c.line, "tag": c.tag, "subgroup_by": c.subgroup_by},
            )
            del self.charts[c.tag_id]
            del self._by_name[(c.line, c.tag)]

    def on_stored(self, batch: Sequence[Reading]) -> list[TagRun]:
        """The daemon's hook: bring every charted tag of ``batch`` up to date."""
        tags = {
            chart.tag_id
            for r in batch
            if r.kind == "scalar" and (chart := self._by_name.get((r.line, r.tag))) is not None
        }
        return [self.process(tag_id) for tag_id in sorted(tags)]

    def process_all(self) -> list[TagRun]:
        """Bring every charted tag up to date (e.g. at start, to catch up)."""
        return [self.process(tag_id) for tag_id in sorted(self.charts)]

    def process(self, tag_id: int) -> TagRun:
        """Evaluate the stored Good samples of one tag newer than the last one processed."""
        chart = self.charts[tag_id]
        run = TagRun(tag_id)
        while True:
            done = self._process_chunk(chart, run)
            if done:
                return run

    def _process_chunk(self, chart: ChartConfig, run: TagRun) -> bool:
        with Session(self.engine, expire_on_commit=False) as session, session.begin():
            limits = limits_in_force(session, chart)
            if limits is None:
                return True
            state_row = session.get(EngineState, chart.tag_id)
            if state_row is None:
                state_row = EngineState(tag_id=chart.tag_id, chart=chart.chart, state={})
                state_row.last_ts, state_row.points = None, 0
                session.add(state_row)
            elif state_row.chart != chart.chart:  # the config changed the chart type
                state_row.chart, state_row.state = chart.chart, {}
            book = dict(state_row.state or {})
            if state_row.limits_id != limits.id or "evaluator" not in book:
                # new limits (or chart): a fresh chart from the next sample on; the rules that
                # fired keep counting towards their alarms' return to normal
                evaluator: Evaluator = build_evaluator(chart, limits)
                book = {"recent": {}, "fired": dict(book.get("fired", {}))}
            else:
                saved = book["evaluator"]
                evaluator = _RESTORE[saved["type"]].from_state(saved)
            query = select(Sample.ts, Sample.value).where(
                Sample.tag_id == chart.tag_id,
                Sample.status < GOOD_BELOW,
                Sample.value.is_not(None),
            )
            if state_row.last_ts is not None:
                query = query.where(Sample.ts > state_row.last_ts)
            rows = session.execute(query.order_by(Sample.ts).limit(READ_CHUNK)).all()
            if not rows:
                return True
            recent: dict[str, list[list[Any]]] = book["recent"]
            fired: dict[str, int] = book["fired"]  # rule -> point number it last fired at
            points = state_row.points
            events: list[AlarmEvent] = []
            violations: list[Violation] = []
            for ts, value in rows:
                if not math.isfinite(value):
                    continue
                results = evaluator.update(value, ts)
                if not results:
                    continue
                points += 1
                stamp = ts.isoformat()
                for point in results:
                    history = recent.setdefault(point.chart, [])
                    history.append([point.index, stamp, point.value])
                    del history[:-RECENT_POINTS]
                    for rule in point.violations:
                        window = history[-RULE_WINDOW.get(rule, 1) :]
                        violations.append(
                            Violation(
                                tag_id=chart.tag_id,
                                limits_id=limits.id,
                                chart=point.chart,
                                rule=rule,
                                ts=ts,
                                value=point.value,
                                points={
                                    "points": [
                                        {"index": i, "ts": t, "value": v} for i, t, v in window
                                    ],
                                    "center": point.center,
                                    "lcl": point.lcl,
                                    "ucl": point.ucl,
                                },
                            )
                        )
                        fired[rule] = points
                        events.append(AlarmEvent("raise", rule, ts, point.chart, point.value))
                for rule in [r for r, at in fired.items() if points - at >= self.rtn_after]:
                    del fired[rule]
                    events.append(AlarmEvent("clear", rule, ts))
            session.add_all(violations)
            opened = apply_events(session, chart.line_id, chart.tag_id, chart.tag, events)
            state_row.limits_id = limits.id
            state_row.state = {**book, "evaluator": evaluator.to_state()}
            state_row.last_ts = rows[-1][0]
            state_row.points = points
            state_row.updated_at = datetime.now(UTC)
        run.samples += len(rows)
        run.violations.extend(violations)
        run.alarms_opened += len(opened)
        run.last_ts = rows[-1][0]
        return len(rows) < READ_CHUNK


# --- phase I: estimating and freezing limits ---------------------------------------------------


@dataclass(frozen=True)
class LimitsEstimate:
    """Proposed limits from a phase I study of stored data (Montgomery §6.2.1).

    ``center`` and ``sigma`` are in the tag's unit; ``excluded`` lists the points (or
    subgroups, by their first sample time) removed as out of control.
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


def estimate_limits(
    engine: Engine, chart: ChartConfig, start: datetime, end: datetime
) -> LimitsEstimate:
    """Phase I limits of a tag's chart from its Good samples in ``[start, end)``.

    Individuals-based charts (I-MR, EWMA, CUSUM) estimate the mean and
    :math:`\\overline{MR}/d_2` with iterative removal of points beyond the I-MR limits;
    X-bar charts group consecutive samples by ``subgroup_size`` (a trailing partial subgroup
    is dropped) and estimate :math:`\\bar{\\bar x}` and :math:`\\bar R/d_2` or
    :math:`\\bar s/c_4` with removal of subgroups beyond the X-bar or R / S limits
    (`spc.phases.phase_one`).
    """
    with Session(engine) as session:
        rows = session.execute(
            select(Sample.ts, Sample.value)
            .where(
                Sample.tag_id == chart.tag_id,
                Sample.status < GOOD_BELOW,
                Sample.value.is_not(None),
                Sample.ts >= start,
                Sample.ts < end,
            )
            .order_by(Sample.ts)
        ).all()
    rows = [(ts, v) for ts, v in rows if math.isfinite(v)]
    times = [ts for ts, _ in rows]
    values = np.array([v for _, v in rows], dtype=float)
    what = f"{chart.line}/{chart.tag}"
    if chart.chart.startswith("xbar"):
        n = chart.subgroup_size
        groups = values.size // n
        if groups < PHASE_ONE_MIN_POINTS:
            raise UserError(
                f"{what} has {groups} complete subgroups of {n} Good samples between "
                f"{start.isoformat()} and {end.isoformat()}; phase I needs at least "
                f"{PHASE_ONE_MIN_POINTS}."
            )
        function = xbar_r if chart.chart == "xbar-r" else xbar_s
        result = phase_one(function, values[: groups * n].reshape(groups, n), rules="none")
        excluded = [
            {"subgroup": int(label), "ts": times[(int(label) - 1) * n].isoformat()}
            for label in result.removed
        ]
        used = int(result.reference.sum()) * n
    else:
        if values.size < PHASE_ONE_MIN_POINTS:
            raise UserError(
                f"{what} has {values.size} Good samples between {start.isoformat()} and "
                f"{end.isoformat()}; phase I needs at least {PHASE_ONE_MIN_POINTS}."
            )
        result = phase_one(imr, values, rules="none")
        excluded = [
            {"ts": times[int(label) - 1].isoformat(), "value": float(values[int(label) - 1])}
            for label in result.removed
        ]
        used = int(result.reference.sum())
    limits = result.charts.limits
    lcl, ucl = _limit_lines(chart, float(limits.center), float(limits.sigma))
    return LimitsEstimate(
        chart=chart.chart,
        center=float(limits.center),
        sigma=float(limits.sigma),
        sigma_method=str(limits.sigma_method),
        lcl=lcl,
        ucl=ucl,
        n_total=int(values.size),
        n_used=used,
        excluded=excluded,
        iterations=result.iterations,
        data_from=start,
        data_to=end,
        params=chart.chart_params(),
    )


def freeze_limits(engine: Engine, chart: ChartConfig, estimate: LimitsEstimate, user: str) -> int:
    """Store ``estimate`` as the chart's new frozen limits version; return the version.

    Earlier versions are kept.  Records who froze them, when, and from which data, and
    appends the freeze to the audit log.  The engine switches to them at its next batch (the
    evaluator restarts on the new limits).
    """
    if not user.strip():
        raise UserError("freezing limits needs the name of who freezes them (--user).")
    now = datetime.now(UTC)
    with Session(engine) as session, session.begin():
        version = _next_version(session, chart.tag_id, chart.chart)
        row = ControlLimits(
            tag_id=chart.tag_id,
            chart=chart.chart,
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
                    "chart": chart.chart,
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
    """The daemon's ``on_stored`` hook: the engine on a store opened at first use.

    The daemon calls it after each stored batch (from a worker thread); the first call
    catches up every charted tag from its persisted state, later calls evaluate the tags of
    the batch.

    Parameters
    ----------
    db_url : str
        The daemon's store (already migrated and synced by the daemon when the hook first runs).
    rtn_after : int
        Chart points without a rule firing before its alarm returns to normal.
    """

    def __init__(self, db_url: str, *, rtn_after: int = RTN_AFTER_POINTS) -> None:
        self.db_url = db_url
        self.rtn_after = rtn_after
        self.engine: SpcEngine | None = None
        self.violations = 0
        self.alarms_opened = 0

    def __call__(self, batch: Sequence[Reading]) -> None:
        if self.engine is None:
            from plantqc.store import connect

            self.engine = SpcEngine(connect(self.db_url), rtn_after=self.rtn_after)
            runs = self.engine.process_all()
        else:
            runs = self.engine.on_stored(batch)
        for run in runs:
            self.violations += len(run.violations)
            self.alarms_opened += run.alarms_opened
            if run.alarms_opened:
                chart = self.engine.charts[run.tag_id]
                log.info(
                    "spc alarm raised",
                    extra={"line": chart.line, "tag": chart.tag, "alarms": run.alarms_opened},
                )

    def close(self) -> None:
        """Release the store connection."""
        if self.engine is not None:
            self.engine.engine.dispose()
