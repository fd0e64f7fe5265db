"""Control limits: which version a chart runs on at a time (a read-only query), and the
explicit writes that add versions (learned, provisional limits; phase I freezes are in
`plantqc.charting.phase1`).

The rule, in one query (`in_force_select`), for the engine, reports, the CLI and Grafana
(`in_force_sql`) alike: at time t a chart runs on the newest frozen phase I version valid from
t or earlier; where none is, on its newest provisional version (the limits it learned from its
baseline, `plantqc.charting.runner`), else on none: it is learning.  Limits are estimated from
the process, never from the spec: rows of basis ``spec`` (center = target, sigma = (USL -
LSL) / 6), which earlier releases stored, stay readable history but are never in force.  Limits
rows are never updated, only added, so a version that judged a point stays what it was; each
violation names the version it was judged against.  The sigma-zone rules (Nelson 5-8, Western
Electric 2-3) compare points with 1- and 2-sigma lines and only mean something with a sigma
that a quality engineer accepted: they run on frozen phase I limits only (`rules_on`).

References
----------
.. [1] D. C. Montgomery, *Introduction to Statistical Quality Control*, 7th ed., Wiley, 2013,
   §5.3.7 (phase I / phase II), §6.3.2 (variable sample size), §9.1 (CUSUM), §9.2 (EWMA).
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, FromClause, Select, and_, func, literal_column, or_, select
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session

from plantqc.charting.chart import ChartConfig
from plantqc.charting.names import SeriesSpec
from plantqc.store.models import ControlLimits
from spc.rules import resolve_rules

FROZEN_BASIS = "phase1"
"""Basis of frozen phase I limits."""
PROVISIONAL_BASIS = "provisional"
"""Basis of the limits a chart learned from its baseline, in force until limits are frozen
(``spec``, the spec-derived limits of earlier releases, is never in force)."""
ZONE_RULES = frozenset({"nelson5", "nelson6", "nelson7", "nelson8", "we2", "we3"})
"""Rules that compare points with the 1- and 2-sigma lines: only on phase I limits."""
PHASE_ONE_MIN_POINTS = 20
"""Montgomery §6.2 recommends 20-25 subgroups (or individuals) for trial limits."""
_TABLE = ControlLimits.__table__


# --- the rule ----------------------------------------------------------------------------------


def in_force_select(table: FromClause, tag_id: Any, chart: Any, at: Any) -> Select[Any]:
    """The one query of the limits in force: the row of ``table`` (``control_limits`` or a
    view of it) a chart runs on at time ``at``; ``tag_id``, ``chart`` and ``at`` are values or
    SQL expressions."""
    c = table.c
    frozen = c.basis == FROZEN_BASIS
    return (
        select(table)
        .where(
            c.tag_id == tag_id,
            c.chart == chart,
            c.center.is_not(None),
            c.sigma > 0,
            or_(and_(frozen, c.valid_from <= at), c.basis == PROVISIONAL_BASIS),
        )
        .order_by(frozen.desc(), c.version.desc())
        .limit(1)
    )


def in_force_sql(table: FromClause, tag_id_sql: str, chart: str, at_sql: str) -> str:
    """`in_force_select` as PostgreSQL text, for SQL that others run (Grafana): ``tag_id_sql``
    and ``at_sql`` are SQL expressions of the enclosing query."""
    query = in_force_select(table, literal_column(tag_id_sql), chart, literal_column(at_sql))
    return str(query.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True}))


def limits_in_force(
    session: Session, tag_id: int, chart: str, at: datetime | None = None
) -> ControlLimits | None:
    """The limits version chart ``chart`` of tag ``tag_id`` runs on at ``at`` (default now);
    None when it has none yet.  Reads only."""
    query = in_force_select(_TABLE, tag_id, chart, at or datetime.now(UTC))
    return session.scalars(select(ControlLimits).from_statement(query)).one_or_none()


@dataclass(frozen=True)
class LimitsTimeline:
    """The limits versions of one chart in the order they come into force.

    ``since[i]`` is when ``rows[i]`` comes into force (None for the first: the unfrozen limits
    that apply before any frozen version, or none); each later entry is a frozen version.
    """

    since: tuple[datetime | None, ...]
    rows: tuple[ControlLimits | None, ...]

    def at(self, ts: datetime) -> ControlLimits | None:
        """The version in force at ``ts``."""
        if len(self.rows) == 1:
            return self.rows[0]
        return self.rows[bisect.bisect_right(self.since, ts, lo=1) - 1]

    def with_unfrozen(self, row: ControlLimits) -> LimitsTimeline:
        """This timeline with ``row`` (just stored) where no frozen version applies."""
        return LimitsTimeline(self.since, (row, *self.rows[1:]))

    def versions_in(self, start: datetime, end: datetime) -> list[tuple[datetime, ControlLimits]]:
        """(from, version) of every version in force at some time of ``[start, end)``."""
        found = []
        for i, row in enumerate(self.rows):
            since = self.since[i]
            later = self.since[i + 1] if i + 1 < len(self.since) else None
            if row is None or (later is not None and later <= start):
                continue
            if since is not None and since >= end:
                break
            found.append((start if since is None or since < start else since, row))
        return found


def timeline(session: Session, tag_id: int, chart: str) -> LimitsTimeline:
    """Every version chart ``chart`` of tag ``tag_id`` runs on, by when it comes into force:
    `limits_in_force` before the first frozen version and at each one's ``valid_from``."""
    starts = session.scalars(
        select(ControlLimits.valid_from)
        .where(
            ControlLimits.tag_id == tag_id,
            ControlLimits.chart == chart,
            ControlLimits.basis == FROZEN_BASIS,
        )
        .distinct()
        .order_by(ControlLimits.valid_from)
    ).all()
    # any time before the first frozen version: the unfrozen limits
    before = starts[0] - timedelta(microseconds=1) if starts else datetime.now(UTC)
    since: list[datetime | None] = [None]
    rows = [limits_in_force(session, tag_id, chart, before)]
    for start in starts:
        row = limits_in_force(session, tag_id, chart, start)
        if _id(row) != _id(rows[-1]):
            since.append(start)
            rows.append(row)
    return LimitsTimeline(tuple(since), tuple(rows))


def _id(row: ControlLimits | None) -> int | None:
    return row.id if row is not None else None


def rules_on(chart: ChartConfig, basis: str) -> tuple[str, ...]:
    """The tag's run rules that make sense on limits of ``basis``: every rule on frozen phase I
    limits; without the sigma-zone rules (`ZONE_RULES`) on provisional ones, learned without a
    quality engineer's review of the baseline."""
    rules = resolve_rules(chart.rules)
    return rules if basis == FROZEN_BASIS else tuple(r for r in rules if r not in ZONE_RULES)


def constants_of(row: ControlLimits) -> str:
    """The constant set (d2, d3, c4) limits version ``row`` was estimated with and its R, S
    and MR charts are drawn with; versions stored before charts had a choice used ``exact``."""
    return str((row.params or {}).get("constants", "exact"))


def limit_lines(
    chart: ChartConfig, series: SeriesSpec, center: float, sigma: float
) -> tuple[float, float]:
    """The stored LCL and UCL of a limits version: ``limit_sigma`` (L) sigma of a point of an
    I chart or of an X-bar chart (of a subgroup of ``subgroup_size``), the EWMA's asymptotic
    limits, the CUSUM's decision interval H, in the unit of the tag."""
    if series.xbar:
        half = chart.limit_sigma * sigma / math.sqrt(chart.subgroup_size)
    elif series.chart == "ewma":
        lam = chart.ewma.lambda_
        half = chart.ewma.L * sigma * math.sqrt(lam / (2.0 - lam))
    elif series.chart == "cusum":
        half = chart.cusum.h * sigma
    else:
        half = chart.limit_sigma * sigma
    return center - half, center + half


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


# --- writes ------------------------------------------------------------------------------------


def add_version(
    session: Session,
    chart: ChartConfig,
    name: str,
    basis: str,
    *,
    center: float,
    sigma: float,
    sigma_method: str,
    lcl: float,
    ucl: float,
    params: dict[str, Any],
    valid_from: datetime,
    **provenance: Any,
) -> ControlLimits:
    """Insert the next limits version of chart ``name`` of ``chart``'s tag, flushed so that it
    has its id; ``provenance`` are the remaining `ControlLimits` columns (phase I data, who
    froze it).  The one place a limits row is written: rows are only ever added."""
    current = session.execute(
        select(func.max(ControlLimits.version)).where(
            ControlLimits.tag_id == chart.tag_id, ControlLimits.chart == name
        )
    ).scalar()
    row = ControlLimits(
        tag_id=chart.tag_id,
        chart=name,
        version=int(current or 0) + 1,
        basis=basis,
        center=center,
        lcl=lcl,
        ucl=ucl,
        sigma=sigma,
        sigma_method=sigma_method,
        params=params,
        valid_from=valid_from,
        **provenance,
    )
    session.add(row)
    session.flush()
    return row


def store_unfrozen(
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
    """Insert the next version of a chart that is not frozen (``basis`` `PROVISIONAL_BASIS`:
    limits it learned)."""
    lcl, ucl = limit_lines(chart, series, center, sigma)
    return add_version(
        session,
        chart,
        series.name,
        basis,
        center=center,
        sigma=sigma,
        sigma_method=sigma_method,
        lcl=lcl,
        ucl=ucl,
        params={
            **chart.chart_params(series),
            "note": f"{note}: sigma-zone rules off until phase I limits are frozen",
        },
        valid_from=datetime.now(UTC),
        **provenance,
    )
