"""Phase I: estimating limits from a chart's points, and the writes that store them (frozen
by a quality engineer, or provisional: learned by a chart from its baseline, with a sigma that
does not understate the spread when the baseline is autocorrelated, `store_provisional`).

Individuals-based charts (I-MR, EWMA, CUSUM and every profile statistic) estimate the mean and
:math:`\\overline{MR}/d_2` with removal of points beyond the I-MR limits; X-bar charts
:math:`\\bar{\\bar x}` and :math:`\\bar R/d_2` or :math:`\\bar s/c_4` (weighted for unequal
sizes) with removal of subgroups beyond the X-bar or R / S limits (Montgomery §6.2.1,
`spc.phases.phase_one`).  Points are formed as the engine forms them
(`plantqc.charting.subgroups`), by one function (`points_of`) whether the samples come from
the store (`estimate_limits`) or from a recorded in-control period in the replay format
(`estimate_recording`).

References
----------
.. [1] D. C. Montgomery, *Introduction to Statistical Quality Control*, 7th ed., Wiley, 2013,
   §5.3.7 (phase I / phase II), §6.2.1 (revised trial limits).
"""

from __future__ import annotations

import hashlib
import json
import math
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import numpy as np
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from plantqc.alarms import require_user
from plantqc.charting.chart import ChartConfig
from plantqc.charting.limits import (
    FROZEN_BASIS,
    PHASE_ONE_MIN_POINTS,
    PROVISIONAL_BASIS,
    add_version,
    limit_lines,
    store_unfrozen,
)
from plantqc.charting.names import SeriesSpec
from plantqc.charting.settings import SpecLimits
from plantqc.charting.subgroups import Rolls, chart_points, epoch_us, read_rolls
from plantqc.errors import UserError
from plantqc.quality import GOOD_BELOW
from plantqc.store.audit import record_audit
from plantqc.store.engine_state import EngineState
from plantqc.store.models import ControlLimits, Profile, Sample
from spc import PhaseOneResult, SPCInputError, imr, phase_one, xbar_r, xbar_s
from spc.profiles import profile_statistic_arrays

if TYPE_CHECKING:
    from plantqc.config import PlantConfig
    from plantqc.connectors.replay import Recording


def phase_one_of(
    series: SeriesSpec, groups: Sequence[Sequence[float]], constants: str = "exact"
) -> tuple[PhaseOneResult, int, int]:
    """Phase I of one chart over its points (each a list of values: one for individuals-based
    charts, a subgroup of any size for X-bar) with d2, d3 and c4 of ``constants``
    (`spc.constants.CONSTANT_SETS`); with the Good samples used and in all."""
    if series.xbar:
        matrix = np.full((len(groups), max(len(vs) for vs in groups)), np.nan)
        for row, vs in enumerate(groups):
            matrix[row, : len(vs)] = vs
        function = xbar_r if series.chart == "xbar-r" else xbar_s
        result = phase_one(function, matrix, rules="none", constants=constants)
    else:
        individuals = np.array([vs[0] for vs in groups], dtype=float)
        result = phase_one(imr, individuals, rules="none", constants=constants)
    used = sum(len(groups[i]) for i in np.flatnonzero(result.reference))
    return result, used, sum(len(vs) for vs in groups)


def store_provisional(
    session: Session,
    chart: ChartConfig,
    series: SeriesSpec,
    groups: Sequence[Sequence[float]],
    span: tuple[datetime, datetime],
    r1: float | None = None,
) -> ControlLimits | None:
    """Store the limits a chart learned from its first points ``groups`` (see `phase_one_of`),
    taken in ``span``; None when they do not vary (no sigma to chart against).

    ``r1`` is the lag-1 autocorrelation of an autocorrelated baseline: positive
    autocorrelation shrinks the moving ranges (and the ranges within a time subgroup) against
    the spread the process shows over time, so MR-bar / d2 understates sigma and the chart
    alarms too often (Montgomery §10.4).  Sigma is then the larger of phase I's estimate and
    the overall standard deviation of the kept points: of the individuals, or for an X-bar
    chart of the subgroup means times the square root of the mean subgroup size (the sigma
    whose X-bar limits hold the means' own spread).
    """
    result, used, total = phase_one_of(series, groups, chart.constants)
    limits = result.charts.limits
    within, method = float(limits.sigma), str(limits.sigma_method)
    sigma = within
    note = f"provisional, from the chart's first {len(groups)} {series.unit}"
    if r1 is not None:
        kept = [groups[i] for i in np.flatnonzero(result.reference).tolist()]
        if series.xbar:
            size = math.fsum(len(p) for p in kept) / len(kept)
            overall = statistics.stdev(math.fsum(p) / len(p) for p in kept) * math.sqrt(size)
            overall_method = "sd(xbar)*sqrt(n)"
        else:
            overall, overall_method = statistics.stdev(p[0] for p in kept), "sd"
        if overall > within:
            sigma, method = overall, overall_method
        effective = len(groups) * (1.0 - r1) / (1.0 + r1)
        note += (
            f"; the baseline was autocorrelated (lag-1 r1 = {r1:.2f}, effective size "
            f"{effective:.0f}), so sigma is the larger of {limits.sigma_method} ({within:.6g}) "
            f"and the overall standard deviation ({overall:.6g}), Montgomery §10.4"
        )
    if not sigma > 0.0:
        return None
    return store_unfrozen(
        session,
        chart,
        series,
        PROVISIONAL_BASIS,
        float(limits.center),
        sigma,
        method,
        note,
        data_from=span[0],
        data_to=span[1],
        n_used=used,
        excluded={"n_total": total, "points": [int(i) for i in result.removed]},
    )


def scan_statistics(values: Sequence[float]) -> dict[str, float] | None:
    """The per-scan statistics of one profile (`spc.profiles.profile_statistic_arrays`), or
    None when the scan is too short to judge; for the phase I study and the streaming engine
    alike, neither of which loads pandas for it."""
    try:
        columns = profile_statistic_arrays(values)
    except SPCInputError:
        return None
    return {name: float(column[0]) for name, column in columns.items()}


@dataclass(frozen=True)
class LimitsEstimate:
    """Proposed limits from a phase I study of stored or recorded data (Montgomery §6.2.1).

    ``chart`` is the chart's name in ``control_limits.chart``; ``center`` and ``sigma`` are in
    the unit of what it charts; ``excluded`` lists the points (or subgroups, by their last
    sample time) removed as out of control.  ``lag1`` is the lag-1 autocorrelation of the
    points' locations in time order (as the engine tests its baseline) and ``autocorrelated``
    whether it is significantly positive (`spc.autocorrelation.lag1_autocorrelation`): then the
    short-term sigma understates the spread over time and the limits alarm more often than
    designed (Montgomery §10.4), the condition under which the engine's learning widens its
    sigma.  None and False for limits given rather than estimated.
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
    lag1: float | None = None
    autocorrelated: bool = False


def points_of(
    chart: ChartConfig,
    series: SeriesSpec,
    samples: Iterable[tuple[datetime, Any, int]],
    rolls: Rolls | None = None,
) -> list[tuple[datetime, list[float]]]:
    """What the chart judges from time-ordered samples (time, value, OPC UA status), as
    (point time, values) per point, formed as the streaming engine forms them.

    Only Good samples with a finite value count (Bad and Uncertain ones are stored, not
    charted); a profile's value is its scan, charted through ``series``' scan statistic.
    Individuals-based charts get one value per point (a sample, a scan statistic or a time /
    roll subgroup's mean), X-bar charts the values of each subgroup (by count, time or roll;
    a roll subgroup needs the line's ``rolls``).
    """
    good = [(ts, v) for ts, v, status in samples if status < GOOD_BELOW and v is not None]
    if chart.kind == "profile":
        scans = [(ts, scan_statistics(v)) for ts, v in good]
        good = [(ts, s[series.statistic]) for ts, s in scans if s is not None]  # type: ignore[index]
    good = [(ts, v) for ts, v in good if math.isfinite(v)]
    found = chart_points(
        chart,
        series,
        epoch_us([ts for ts, _ in good]),
        np.array([v for _, v in good], dtype=float),
        rolls,
    )
    # epoch seconds as float64 keep a 2026 time to 0.2 us: it rounds back to the microsecond
    when = [datetime.fromtimestamp(t, UTC) for t in found.point_times.tolist()]
    if found.labels is None or not when:
        return [(ts, [v]) for ts, v in zip(when, found.values.tolist(), strict=True)]
    members = np.split(found.values, np.flatnonzero(np.diff(found.labels)) + 1)
    return [(ts, vs.tolist()) for ts, vs in zip(when, members, strict=True)]


def observations(
    engine: Engine, chart: ChartConfig, series: SeriesSpec, start: datetime, end: datetime
) -> list[tuple[datetime, list[float]]]:
    """What the chart judges in ``[start, end)`` of the store (`points_of`)."""
    table: Any = Profile if chart.kind == "profile" else Sample
    reading = table.values if chart.kind == "profile" else table.value
    with Session(engine) as session:
        rows = session.execute(
            select(table.ts, reading, table.status)
            .where(table.tag_id == chart.tag_id, table.ts >= start, table.ts < end)
            .order_by(table.ts)
        ).all()
        rolls = read_rolls(session, chart.line_id, end) if chart.subgroup_by == "roll" else None
    return points_of(chart, series, rows, rolls)


def estimate_limits(
    engine: Engine,
    chart: ChartConfig,
    start: datetime,
    end: datetime,
    series: SeriesSpec | None = None,
) -> LimitsEstimate:
    """Phase I limits of one of a tag's charts from its Good samples in ``[start, end)`` of
    the store (`estimate_of`)."""
    series = series or chart.series[0]
    points = observations(engine, chart, series, start, end)
    where = f"between {start.isoformat()} and {end.isoformat()}"
    return estimate_of(chart, series, points, (start, end), where)


def estimate_of(
    chart: ChartConfig,
    series: SeriesSpec,
    points: Sequence[tuple[datetime, list[float]]],
    span: tuple[datetime, datetime],
    where: str,
) -> LimitsEstimate:
    """Phase I limits of one of a tag's charts from its ``points`` (`points_of`), taken in
    ``span`` (described as ``where`` in the sentences refusing too few points or points that
    do not vary).

    Estimated as `phase_one_of` does, with the chart's constant set (recorded in ``params``);
    a trailing partial count subgroup is dropped.
    """
    what = f"{chart.line}/{chart.tag} ({series.name})"
    if len(points) < PHASE_ONE_MIN_POINTS:
        unit = series.unit.removesuffix("s") if len(points) == 1 else series.unit
        raise UserError(
            f"{what} has {len(points)} {unit} of Good samples {where}; "
            f"phase I needs at least {PHASE_ONE_MIN_POINTS}."
        )
    with np.errstate(divide="ignore", invalid="ignore"):  # points that do not vary: below
        result, used, total = phase_one_of(series, [vs for _, vs in points], chart.constants)
    limits = result.charts.limits
    if not float(limits.sigma) > 0.0:
        raise UserError(
            f"{what}: its {len(points)} {series.unit} {where} do not vary (sigma 0), so they "
            "give no limits to chart against."
        )
    removed = [(int(label), *points[int(label) - 1]) for label in result.removed]
    if series.xbar:
        excluded = [{"subgroup": label, "ts": ts.isoformat()} for label, ts, _ in removed]
    else:
        excluded = [{"ts": ts.isoformat(), "value": float(vs[0])} for _, ts, vs in removed]
    lcl, ucl = limit_lines(chart, series, float(limits.center), float(limits.sigma))
    # deferred: SciPy and statsmodels load with a phase I study, not with the engine
    from spc.autocorrelation import lag1_autocorrelation

    test = lag1_autocorrelation([math.fsum(vs) / len(vs) for _, vs in points])
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
        data_from=span[0],
        data_to=span[1],
        params=chart.chart_params(series),
        lag1=float(test.r1),
        autocorrelated=bool(test.significant and test.r1 > 0),
    )


def recorded_charts(config: PlantConfig) -> list[ChartConfig]:
    """The charts a recording (`plantqc.connectors.replay`) can feed: every scalar tag of the
    config's lines with SPC settings, as the store would hold it, without one (ids 0)."""
    return [
        ChartConfig(
            tag_id=0,
            line_id=0,
            line=line.name,
            tag=tag.name,
            kind=tag.kind,
            settings=tag.spc,
            spec=tag.spec or SpecLimits(),
        )
        for line in config.lines
        for tag in line.tags
        if tag.kind == "scalar" and tag.spc is not None
    ]


def estimate_recording(
    recording: Recording, charts: Sequence[ChartConfig], source: str, chart_name: str | None = None
) -> list[tuple[ChartConfig, LimitsEstimate | UserError]]:
    """Phase I limits of each of ``charts`` found in ``recording`` (read from ``source``),
    each chart's estimate or the sentence saying why it has none.

    Points are formed from the tag's rows as from the store (`points_of`).  Every estimate
    spans the whole recording: from its first source time to just after its last, so limits
    frozen from it are valid from the end of the file's data (`freeze_limits`).  A chart
    subgrouped by roll has none: a recording holds no rolls.  ``chart_name`` picks one chart
    of a tag (`ChartConfig.series_named`).
    """
    if recording.span is None:
        raise UserError(f"{source} has no readable row.")
    span = (recording.span[0], recording.span[1] + timedelta(microseconds=1))
    rows: dict[tuple[str, str], list[tuple[datetime, Any, int]]] = {}
    for r in recording.readings:
        rows.setdefault((r.line, r.tag), []).append((r.ts, r.value, r.status))
    found: list[tuple[ChartConfig, LimitsEstimate | UserError]] = []
    for chart in charts:
        samples = rows.get((chart.line, chart.tag))
        if samples is None:
            continue
        series = chart.series_named(chart_name)
        if chart.subgroup_by == "roll":
            found.append(
                (
                    chart,
                    UserError(
                        f"{chart.line}/{chart.tag} ({series.name}) is subgrouped by roll and "
                        f"{source} holds no rolls; estimate it from the store (--from, --to)."
                    ),
                )
            )
            continue
        points = points_of(chart, series, samples)
        try:
            found.append((chart, estimate_of(chart, series, points, span, f"in {source}")))
        except UserError as exc:
            found.append((chart, exc))
    return found


def estimate_hash(chart: ChartConfig, estimate: LimitsEstimate) -> str:
    """The SHA-256 (hex) of what approving ``estimate`` freezes: its chart, line and tag, its
    center, sigma and limit lines, the data span it was estimated over and the points used.

    What an electronic signature of the approval binds (`freeze_limits`): the numbers are
    written as JSON with sorted keys, floats in their shortest round-trip form and times as
    UTC ISO 8601, so the same estimate always hashes the same and any other estimate does not.
    """
    canonical = {
        "chart": estimate.chart,
        "line": chart.line,
        "tag": chart.tag,
        "center": estimate.center,
        "sigma": estimate.sigma,
        "lcl": estimate.lcl,
        "ucl": estimate.ucl,
        "data_from": estimate.data_from.astimezone(UTC).isoformat(),
        "data_to": estimate.data_to.astimezone(UTC).isoformat(),
        "n_used": estimate.n_used,
    }
    text = json.dumps(canonical, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(text.encode()).hexdigest()


def freeze_limits(
    engine: Engine,
    chart: ChartConfig,
    estimate: LimitsEstimate,
    user: str,
    signature: Mapping[str, Any] | None = None,
) -> int:
    """Store ``estimate`` as its chart's new frozen limits version; return the version.

    Earlier versions are kept.  Records who froze them, when, and from which data, and
    appends the freeze to the audit log.  They are valid from the end of the phase I data, or
    just after the last sample the engine has charted when that is later (a point charted
    stays charted on the limits it was judged against): the engine charts every later sample
    on them, restarting the evaluator with every rule of the tag, and a report of any range
    shows the same (phase II, Montgomery §5.3.7).

    ``signature`` is the approver's electronic signature
    (`plantqc.users.esign.Signature.as_dict`) of `estimate_hash`: it is stored in the
    version's ``params`` and in the audit entry, in the same transaction as the version, so
    there is no signed approval without its limits nor frozen limits that lose their
    signature.  A signature of other numbers is a `ValueError`: it does not sign these.
    """
    user = require_user(user, "freezing limits")
    signed: dict[str, Any] = {}
    if signature is not None:
        if signature.get("content_hash") != estimate_hash(chart, estimate):
            raise ValueError("the signature is not of this estimate (estimate_hash differs)")
        signed = {"signature": dict(signature)}
    now = datetime.now(UTC)
    with Session(engine) as session, session.begin():
        charted = session.scalar(
            select(EngineState.last_ts).where(EngineState.tag_id == chart.tag_id)
        )
        valid_from = estimate.data_to
        if charted is not None and charted >= valid_from:
            valid_from = charted + timedelta(microseconds=1)
        row = add_version(
            session,
            chart,
            estimate.chart,
            FROZEN_BASIS,
            center=estimate.center,
            sigma=estimate.sigma,
            sigma_method=estimate.sigma_method,
            lcl=estimate.lcl,
            ucl=estimate.ucl,
            params={**estimate.params, "iterations": estimate.iterations, **signed},
            valid_from=valid_from,
            data_from=estimate.data_from,
            data_to=estimate.data_to,
            n_used=estimate.n_used,
            excluded={"n_total": estimate.n_total, "points": estimate.excluded},
            frozen_by=user,
            frozen_at=now,
        )
        version = row.version
        record_audit(
            session,
            user,
            "limits-freeze",
            "control_limits",
            row.id,
            {
                "line": chart.line,
                "tag": chart.tag,
                "chart": estimate.chart,
                "version": version,
                "center": estimate.center,
                "sigma": estimate.sigma,
                "data_from": estimate.data_from.isoformat(),
                "data_to": estimate.data_to.isoformat(),
                "valid_from": valid_from.isoformat(),
                **signed,
            },
            at=now,
        )
    return version
