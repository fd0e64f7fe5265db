"""Image evidence of a report: which overlays to show, the size distribution, a thickness profile.

The overlays shown are the worst of the lot: the images with the largest agglomerate area
fraction, the thinnest cross-sections (smallest minimum thickness) and the highest defect
densities.  The size distribution pools the equivalent diameters of every particle measured
in the lot's top-view images.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from plantqc.reports.compute import HISTOGRAM_BINS, Histogram, image_metric
from plantqc.reports.data import ImageRecord


@dataclass(frozen=True)
class EvidenceGroup:
    """A titled selection of image results, worst first, with the figure each is ranked by."""

    title: str
    metric: str
    unit: str
    images: list[tuple[ImageRecord, float]]


@dataclass(frozen=True)
class SizeDistribution:
    """Pooled particle equivalent diameters [um]: count, d10 / d50 / d90 and a histogram."""

    count: int
    images: int
    d10_um: float
    d50_um: float
    d90_um: float
    histogram: Histogram

    def to_dict(self) -> dict[str, Any]:
        return {
            "count": self.count,
            "images": self.images,
            "d10_um": self.d10_um,
            "d50_um": self.d50_um,
            "d90_um": self.d90_um,
        }


def _ok(images: list[ImageRecord], analysis: str) -> list[ImageRecord]:
    return [i for i in images if i.analysis == analysis and i.status == "ok" and i.metrics]


def _min_thickness(image: ImageRecord) -> float | None:
    stats = (image.metrics or {}).get("thickness_um") or {}
    value = stats.get("min")
    return float(value) if isinstance(value, int | float) else None


def evidence_groups(images: list[ImageRecord], count: int) -> list[EvidenceGroup]:
    """The ``count`` worst images of each analysis present in the lot."""
    groups = []
    ranked: list[tuple[str, str, str, str, Any, bool]] = [
        ("Worst agglomeration", "particles", "agglomerate area fraction", "",
         lambda i: image_metric(i, "agglomerate_area_fraction"), True),
        ("Thinnest cross-sections", "thickness", "minimum thickness", "um", _min_thickness, False),
        ("Highest defect density", "defects", "defects", "1/m2",
         lambda i: image_metric(i, "defects_per_m2"), True),
    ]  # fmt: skip
    for title, analysis, metric, unit, key, worst_high in ranked:
        scored = [(i, v) for i in _ok(images, analysis) if (v := key(i)) is not None]
        scored.sort(key=lambda pair: -pair[1] if worst_high else pair[1])
        if scored:
            groups.append(EvidenceGroup(title, metric, unit, scored[:count]))
    return groups


def size_distribution(images: list[ImageRecord]) -> SizeDistribution | None:
    """Equivalent diameters of every particle in the lot's particle images, pooled."""
    diameters = []
    used = 0
    for image in _ok(images, "particles"):
        document = image.metrics or {}
        objects, pixel = document.get("objects") or [], document.get("pixel_size_um")
        if not objects or not pixel:
            continue
        used += 1
        diameters.append(np.array([o["eq_diameter_px"] for o in objects], dtype=float) * pixel)
    if not diameters:
        return None
    pooled = np.concatenate(diameters)
    d10, d50, d90 = np.percentile(pooled, [10, 50, 90])
    counts, edges = np.histogram(pooled, bins=HISTOGRAM_BINS)
    return SizeDistribution(
        int(pooled.size), used, float(d10), float(d50), float(d90),
        Histogram(counts.tolist(), edges.tolist()),
    )  # fmt: skip


def thickness_profile(image: ImageRecord) -> tuple[list[float], list[float]] | None:
    """Position along the cross-section [um] and thickness [um] of one thickness result."""
    document = image.metrics or {}
    profile, pixel = document.get("profile") or [], document.get("pixel_size_um")
    if len(profile) < 2 or not pixel:
        return None
    return (
        [p["x_px"] * pixel for p in profile],
        [p["thickness_um"] for p in profile],
    )
