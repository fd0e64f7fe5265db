"""A report's content: the lot's data read once, its numbers computed, its data hash taken.

`build_content` reads the samples tag by tag, hashes each series as it is read and keeps only
the statistics and the reduced figure data, so a day of 200 tags at 1 Hz fits in a few hundred
megabytes.  `document` is the JSON form written as ``report.json`` beside the HTML.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine

from plantqc.config import PlantConfig, Product
from plantqc.errors import UserError
from plantqc.reports.compute import (
    Characteristic,
    Disposition,
    ProfileSummary,
    disposition,
    image_characteristics,
    process_characteristic,
    profile_characteristics,
)
from plantqc.reports.data import (
    DataHasher,
    LotData,
    canonical_json,
    iter_series,
    read_profiles,
)
from plantqc.reports.evidence import (
    EvidenceGroup,
    SizeDistribution,
    evidence_groups,
    size_distribution,
)
from plantqc.reports.settings import ReportSettings


def config_hash(config: PlantConfig | None, settings: ReportSettings) -> str:
    """SHA-256 of the validated config (not its formatting) and the report rules applied."""
    body = {
        "config": None if config is None else config.model_dump(mode="json"),
        "reports": settings.model_dump(mode="json"),
    }
    return hashlib.sha256(canonical_json(body)).hexdigest()


@dataclass(frozen=True)
class ReportContent:
    """Everything a report shows, computed from one lot's data."""

    data: LotData
    product: Product | None
    settings: ReportSettings
    characteristics: list[Characteristic]
    profiles: list[ProfileSummary]
    evidence: list[EvidenceGroup]
    sizes: SizeDistribution | None
    expected_images: list[tuple[str, str]]
    disposition: Disposition
    data_hash: str
    config_hash: str


def _product(config: PlantConfig | None, product_id: str | None) -> Product | None:
    if config is None or product_id is None:
        return None
    return next((p for p in config.products if p.id == product_id), None)


def build_content(engine: Engine, data: LotData, config: PlantConfig | None) -> ReportContent:
    """Read, hash and compute everything a report of ``data`` shows.

    Raises a `UserError` when the lot has no Good samples, no profiles and no image results in
    its range: there is nothing to report on.
    """
    settings = config.reports if config is not None else ReportSettings()
    product = _product(config, data.product)
    hasher = DataHasher()
    hasher.records(data)
    rows: list[Characteristic] = []
    samples = 0
    for series in iter_series(engine, data):
        hasher.series(series)
        samples += series.values.size
        rows.append(process_characteristic(series, data, settings))
    profiles: list[ProfileSummary] = []
    scans = 0
    for tag in data.profile_tags:
        profile = read_profiles(engine, data, tag)
        hasher.profiles(profile)
        scans += profile.scans.shape[0]
        profile_rows, summary = profile_characteristics(profile, data, settings)
        rows.extend(profile_rows)
        if summary is not None:
            profiles.append(summary)
    if samples == 0 and scans == 0 and not data.images:
        where = f"roll {data.roll!r} of lot {data.lot!r}" if data.roll else f"lot {data.lot!r}"
        raise UserError(
            f"{where} on line {data.line!r} has no Good samples, profiles or image results "
            f"between {_when(data.start)} and {_when(data.end)}; there is nothing to report."
        )
    expected = []
    if config is not None:
        expected = [(i.name, i.kind) for i in config.images if i.line in (None, data.line)]
    rows.extend(image_characteristics(data, expected, product, settings))
    return ReportContent(
        data=data,
        product=product,
        settings=settings,
        characteristics=rows,
        profiles=profiles,
        evidence=evidence_groups(data.images, settings.evidence_images),
        sizes=size_distribution(data.images),
        expected_images=expected,
        disposition=disposition(rows, data, settings),
        data_hash=hasher.hexdigest(),
        config_hash=config_hash(config, settings),
    )


def _when(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def document(content: ReportContent, header: dict[str, Any]) -> dict[str, Any]:
    """The ``report.json`` document: ``header`` (id, version, times, hashes) and every number."""
    data = content.data
    images = data.images
    by_input: dict[str, dict[str, int]] = {}
    for image in images:
        counts = by_input.setdefault(image.input_name, {"ok": 0, "rejected": 0})
        counts["ok" if image.status == "ok" else "rejected"] += 1
    missing = sorted(
        name for name, _ in content.expected_images if not by_input.get(name, {}).get("ok")
    )
    return {
        **header,
        "config_hash": content.config_hash,
        "data_hash": content.data_hash,
        "line": {"site": data.site, "area": data.area, "name": data.line, "kind": data.line_kind},
        "product": (
            content.product.model_dump(mode="json")
            if content.product is not None
            else {"id": data.product}
        ),
        "lot": {
            "code": data.lot,
            "started_at": _when(data.lot_started),
            "ended_at": _when(data.lot_ended),
            "open": data.open_lot,
        },
        "roll": data.roll,
        "rolls": [
            {
                "code": r.code,
                "started_at": _when(r.started_at),
                "ended_at": _when(r.ended_at),
                "length_m": r.length_m,
            }
            for r in data.rolls
        ],
        "range": {"start": _when(data.start), "end": _when(data.end)},
        "characteristics": [row.to_dict() for row in content.characteristics],
        "cd_profiles": [
            {"tag": p.tag, "lanes": p.lanes, "scans": p.scans} for p in content.profiles
        ],
        "images": {
            "total": len(images),
            "by_input": by_input,
            "missing_inputs": missing,
            "size_distribution": content.sizes.to_dict() if content.sizes else None,
        },
        "alarms": [
            {
                "id": a.id,
                "tag": a.tag,
                "kind": a.kind,
                "code": a.code,
                "priority": a.priority,
                "state": a.state,
                "count": a.count,
                "first_at": _when(a.first_at),
                "last_at": _when(a.last_at),
                "in_range": (
                    None
                    if a.in_range is None
                    else {
                        "count": a.in_range,
                        "first_at": _when(a.in_range_first),
                        "last_at": _when(a.in_range_last),
                    }
                ),
                "acked_by": a.acked_by,
                "acked_at": _when(a.acked_at),
                "cause": a.cause,
                "action": a.action,
                "unacknowledged": a.unacknowledged,
            }
            for a in data.alarms
        ],
        "disposition": content.disposition.to_dict(),
        "rules": content.settings.model_dump(mode="json"),
        "signatures": [],
    }


def document_hash(doc: dict[str, Any]) -> str:
    """SHA-256 of a report document without its signatures (which are added after issue)."""
    return hashlib.sha256(
        canonical_json({k: v for k, v in doc.items() if k != "signatures"})
    ).hexdigest()
