"""The lot report's thickness control section: MD and CD 2 sigma of the lot and of the lots before.

For each cross-direction profile tag (the scanning gauge) the lot's Good scans give the two
figures the thickness loops are judged by, as `plantqc bench control` computes them:

- **MD 2 sigma**: twice the root-mean-square deviation of the MD measurement from the
  thickness target, so an offset counts against it: :math:`2 \\sqrt{\\overline{(y - r)^2}}`.
  Where the line's config has an MD loop, the measurement is the Good samples of the loop's
  ``measurement_tag`` and the target the loop's ``target_um`` (what the loop controls, and what
  the Grafana MD 2 sigma trend shows); otherwise the scan means (the MD measurement each
  traverse gives) about the tag's spec target, else the centre of its spec limits, else (no
  spec) the lot's own mean scan mean.
- **CD 2 sigma**: twice the root-mean-square deviation of every value from its own scan's
  mean, pooled over the lot's scans: :math:`2 \\sqrt{\\overline{(y_{k,i} - \\bar y_k)^2}}`
  (TAPPI-style 2 sigma of the CD profile, `spc.profiles`, with the variance pooled rather
  than each scan's 2 sigma averaged).

For each control loop of the line (``control_loops``, `plantqc.control.records`) it gives the
time in closed loop, the part of it the loop was held by an interlock, and its moves by kind
(proposed, accepted, rejected, applied, failed writes) with the total travel of the applied
ones (the sum of ``|new - old|``, over every die bolt for a CD loop, in the setpoint's unit).
The mode over time comes from the audit trail's ``control.mode`` entries (who changed it,
from what, to what); before a loop's first recorded change it was in the mode that change
left, and a loop never changed was in its stored mode throughout.  Holds come from the
``held`` / ``resumed`` moves the same way.

The same figures of up to `PREVIOUS_LOTS` lots of the line that started before this one come
alongside, newest first, so that a change of control (or of its absence) shows against the
lots before.  Missing lanes (NaN) are left out of both.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from typing import Any

import numpy as np
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from plantqc.config import PlantConfig
from plantqc.control.records import ENTITY
from plantqc.reports.data import LotData, TagInfo, read_profiles, read_series
from plantqc.store.models import AuditLog, ControlLoop, ControlMove, Lot

PREVIOUS_LOTS = 5
"""How many earlier lots of the line the section compares with."""


@dataclass(frozen=True)
class ThicknessFigures:
    """MD and CD 2 sigma of one profile tag over one range (um, the tag's unit).

    ``md_points`` are the MD measurements counted (samples of the MD loop's measurement tag,
    else scans); ``md_2sigma`` and ``cd_2sigma`` are None without one in the range.
    """

    lot: str
    start: str
    end: str
    scans: int
    md_points: int
    md_2sigma: float | None
    cd_2sigma: float | None


@dataclass(frozen=True)
class TagControl:
    """The control figures of one profile tag: this lot's and the lots' before it."""

    tag: str
    unit: str
    md_tag: str | None
    """The tag whose Good samples give the MD 2 sigma; None: the profile's scan means."""
    target: float | None
    target_basis: str
    lot: ThicknessFigures
    before: list[ThicknessFigures]


def _target(tag: TagInfo) -> tuple[float | None, str]:
    if tag.target is not None:
        return tag.target, "spec target"
    if tag.lsl is not None and tag.usl is not None:
        return (tag.lsl + tag.usl) / 2.0, "spec centre"
    return None, "lot mean"


def thickness_figures(scans: np.ndarray, target: float | None) -> tuple[float | None, float | None]:
    """MD and CD 2 sigma of scans (one row per scan, NaN for a missing lane).

    ``target`` None measures the MD deviation from the mean of the scan means.  Scans with no
    value are left out.
    """
    if scans.size == 0:
        return None, None
    measured = scans[~np.all(np.isnan(scans), axis=1)]
    if measured.shape[0] == 0:
        return None, None
    means = np.nanmean(measured, axis=1)
    centre = float(np.mean(means)) if target is None else target
    md = 2.0 * math.sqrt(float(np.mean((means - centre) ** 2)))
    cd = 2.0 * math.sqrt(float(np.nanmean((measured - means[:, None]) ** 2)))
    return md, cd


def _figures(
    engine: Engine,
    data: LotData,
    tag: TagInfo,
    md: tuple[TagInfo, float] | None,
    lot: str,
    start: datetime,
    end: datetime,
) -> ThicknessFigures:
    # read_profiles / read_series read the range of the LotData given: the tag over another lot
    in_range = replace(data, start=start, end=end)
    scans = read_profiles(engine, in_range, tag).scans
    md_2sigma, cd_2sigma = thickness_figures(scans, _target(tag)[0])
    points = int(np.sum(~np.all(np.isnan(scans), axis=1))) if scans.size else 0
    if md is not None:
        values = read_series(engine, in_range, md[0]).values
        points = values.size
        md_2sigma = 2.0 * math.sqrt(float(np.mean((values - md[1]) ** 2))) if points else None
    return ThicknessFigures(
        lot, start.isoformat(), end.isoformat(), scans.shape[0], points, md_2sigma, cd_2sigma
    )


def _md_loop(data: LotData, config: PlantConfig | None) -> tuple[TagInfo, float] | None:
    """The MD loop's measurement tag and target, when the line's config has an MD loop whose
    measurement tag the report reads."""
    if config is None:
        return None
    line = next((entry for entry in config.lines if entry.name == data.line), None)
    if line is None or line.control is None or line.control.md is None:
        return None
    md = line.control.md
    tag = next((t for t in data.tags if t.name == md.measurement_tag), None)
    return None if tag is None else (tag, md.target_um)


def _previous_lots(engine: Engine, data: LotData) -> list[tuple[str, datetime, datetime]]:
    with Session(engine) as session:
        rows = session.execute(
            select(Lot.code, Lot.started_at, Lot.ended_at)
            .where(Lot.line_id == data.line_id, Lot.started_at < data.lot_started)
            .order_by(Lot.started_at.desc())
            .limit(PREVIOUS_LOTS)
        ).all()
    # a lot still open when a later one started ended there (`plantqc.store.lots.record_lot`)
    return [(code, start, end or data.lot_started) for code, start, end in rows]


MOVE_KINDS = ("proposed", "accepted", "rejected", "applied", "failed")
"""The ``control_moves`` kinds counted as moves (holds and resumes are counted as time)."""


@dataclass(frozen=True)
class LoopFigures:
    """One loop over one range: seconds in closed mode, of them held, and its moves."""

    lot: str
    seconds: float
    closed_s: float
    closed_pct: float | None
    held_in_closed_s: float
    moves: dict[str, int]
    travel: float


@dataclass(frozen=True)
class LoopControl:
    """The figures of one control loop: this lot's and the lots' before it."""

    loop: str
    mode_now: str
    lot: LoopFigures
    before: list[LoopFigures]


def _steps(changes: list[tuple[datetime, str, str]], initial: str) -> list[tuple[datetime, str]]:
    """A piecewise-constant state from ``(time, old, new)`` changes, oldest first: the state
    before the first change is that change's ``old`` (``initial`` with no change)."""
    first = changes[0][1] if changes else initial
    return [(datetime.min.replace(tzinfo=UTC), first)] + [(t, new) for t, _, new in changes]


def _seconds_where(
    steps: list[tuple[datetime, str]], wanted: str, start: datetime, end: datetime
) -> list[tuple[datetime, datetime]]:
    """The stretches of ``[start, end)`` in which the state is ``wanted``."""
    spans = []
    for i, (since, state) in enumerate(steps):
        until = steps[i + 1][0] if i + 1 < len(steps) else end
        lo = start if i == 0 else max(since, start)
        hi = min(until, end)
        if state == wanted and hi > lo:
            spans.append((lo, hi))
    return spans


def _overlap(a: list[tuple[datetime, datetime]], b: list[tuple[datetime, datetime]]) -> float:
    return sum(
        max((min(a1, b1) - max(a0, b0)).total_seconds(), 0.0) for a0, a1 in a for b0, b1 in b
    )


def _travel(old: Any, new: Any) -> float:
    if isinstance(old, list) and isinstance(new, list):
        return float(np.sum(np.abs(np.asarray(new, float) - np.asarray(old, float))))
    if isinstance(old, (int, float)) and isinstance(new, (int, float)):
        return abs(float(new) - float(old))
    return 0.0


def _loop_figures(
    session: Session,
    loop: ControlLoop,
    modes: list[tuple[datetime, str]],
    holds: list[tuple[datetime, str]],
    lot: str,
    start: datetime,
    end: datetime,
) -> LoopFigures:
    closed = _seconds_where(modes, "closed", start, end)
    held = _seconds_where(holds, "held", start, end)
    closed_s = sum((hi - lo).total_seconds() for lo, hi in closed)
    seconds = (end - start).total_seconds()
    rows = session.execute(
        select(ControlMove.kind, ControlMove.old, ControlMove.new).where(
            ControlMove.loop == loop.loop,
            ControlMove.at >= start,
            ControlMove.at < end,
            ControlMove.kind.in_(MOVE_KINDS),
        )
    ).all()
    moves = dict.fromkeys(MOVE_KINDS, 0)
    for kind, _, _ in rows:
        moves[kind] += 1
    travel = sum(_travel(old, new) for kind, old, new in rows if kind == "applied")
    return LoopFigures(
        lot=lot,
        seconds=seconds,
        closed_s=closed_s,
        closed_pct=100.0 * closed_s / seconds if seconds > 0 else None,
        held_in_closed_s=_overlap(closed, held),
        moves=moves,
        travel=travel,
    )


def loop_document(
    engine: Engine, data: LotData, label: str, previous: list[tuple[str, datetime, datetime]]
) -> list[LoopControl]:
    """`LoopControl` of every control loop of the lot's line, by loop name."""
    with Session(engine) as session:
        loops = session.scalars(
            select(ControlLoop).where(ControlLoop.line == data.line).order_by(ControlLoop.loop)
        ).all()
        out = []
        for loop in loops:
            changes = [
                (at, str(detail.get("old")), str(detail.get("new")))
                for at, detail in session.execute(
                    select(AuditLog.at, AuditLog.detail)
                    .where(
                        AuditLog.entity == ENTITY,
                        AuditLog.entity_id == loop.loop,
                        AuditLog.action == "control.mode",
                    )
                    .order_by(AuditLog.at, AuditLog.id)
                )
                if detail is not None
            ]
            modes = _steps(changes, loop.mode)
            hold_rows = session.execute(
                select(ControlMove.at, ControlMove.kind)
                .where(ControlMove.loop == loop.loop, ControlMove.kind.in_(("held", "resumed")))
                .order_by(ControlMove.at, ControlMove.id)
            ).all()
            holds = _steps(
                [(at, "resumed" if kind == "held" else "held", kind) for at, kind in hold_rows],
                "resumed",
            )
            ranges = [(label, data.start, data.end), *previous]
            here, *before = (
                _loop_figures(session, loop, modes, holds, name, s, e) for name, s, e in ranges
            )
            out.append(LoopControl(loop.loop, loop.mode, here, before))
        return out


def control_document(
    engine: Engine, data: LotData, config: PlantConfig | None = None
) -> dict[str, list[dict[str, Any]]]:
    """The ``control`` entry of ``report.json``: ``thickness``, one `TagControl` per profile
    tag, and ``loops``, one `LoopControl` per control loop of the line."""
    previous = _previous_lots(engine, data)
    label = data.lot if data.roll is None else f"{data.lot} roll {data.roll}"
    md = _md_loop(data, config)
    rows = []
    for tag in data.profile_tags:
        target, basis = _target(tag) if md is None else (md[1], "MD loop target")
        ranges = [(label, data.start, data.end), *previous]
        here, *before = (_figures(engine, data, tag, md, name, s, e) for name, s, e in ranges)
        md_tag = None if md is None else md[0].name
        rows.append(TagControl(tag.name, tag.unit, md_tag, target, basis, here, before))
    loops = loop_document(engine, data, label, previous)
    return {"thickness": [asdict(r) for r in rows], "loops": [asdict(r) for r in loops]}
