"""The lot report's thickness control section: MD and CD 2 sigma of the lot and of the lots before.

For each cross-direction profile tag (the scanning gauge) the lot's Good scans give the two
figures the thickness loops are judged by, as `plantqc bench control` computes them:

- **MD 2 sigma**: twice the root-mean-square deviation of the scan means (the MD measurement
  each traverse gives the MD loop) from the thickness target, so an offset counts against it:
  :math:`2 \\sqrt{\\overline{(\\bar y_k - r)^2}}`.  The target is the tag's spec target, else
  the centre of its spec limits, else (no spec) the lot's own mean scan mean.
- **CD 2 sigma**: twice the root-mean-square deviation of every value from its own scan's
  mean, pooled over the lot's scans: :math:`2 \\sqrt{\\overline{(y_{k,i} - \\bar y_k)^2}}`
  (TAPPI-style 2 sigma of the CD profile, `spc.profiles`, with the variance pooled rather
  than each scan's 2 sigma averaged).

The same figures of up to `PREVIOUS_LOTS` lots of the line that started before this one come
alongside, newest first, so that a change of control (or of its absence) shows against the
lots before.  Missing lanes (NaN) are left out of both.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from plantqc.reports.data import LotData, TagInfo, read_profiles
from plantqc.store.models import Lot

PREVIOUS_LOTS = 5
"""How many earlier lots of the line the section compares with."""


@dataclass(frozen=True)
class ThicknessFigures:
    """MD and CD 2 sigma of one profile tag over one range (um, the tag's unit).

    ``md_2sigma`` and ``cd_2sigma`` are None without a Good scan in the range.
    """

    lot: str
    start: str
    end: str
    scans: int
    md_2sigma: float | None
    cd_2sigma: float | None


@dataclass(frozen=True)
class TagControl:
    """The control figures of one profile tag: this lot's and the lots' before it."""

    tag: str
    unit: str
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
    engine: Engine, data: LotData, tag: TagInfo, lot: str, start: datetime, end: datetime
) -> ThicknessFigures:
    # read_profiles reads the range of the LotData it is given: the same tag over another lot
    scans = read_profiles(engine, replace(data, start=start, end=end), tag).scans
    md, cd = thickness_figures(scans, _target(tag)[0])
    return ThicknessFigures(lot, start.isoformat(), end.isoformat(), scans.shape[0], md, cd)


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


def control_document(engine: Engine, data: LotData) -> list[dict[str, Any]]:
    """The ``control`` entry of ``report.json``: one `TagControl` per profile tag."""
    previous = _previous_lots(engine, data)
    rows = []
    for tag in data.profile_tags:
        target, basis = _target(tag)
        label = data.lot if data.roll is None else f"{data.lot} roll {data.roll}"
        here = _figures(engine, data, tag, label, data.start, data.end)
        before = [_figures(engine, data, tag, code, s, e) for code, s, e in previous]
        rows.append(TagControl(tag.name, tag.unit, target, basis, here, before))
    return [asdict(row) for row in rows]
