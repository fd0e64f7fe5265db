"""Typed results of the image analyses, each with ``to_dict()`` matching the CLI's JSON contract."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from vision.agglomerates import Agglomerate
from vision.annotations import AnnotationRegion
from vision.dispersion import Dispersion
from vision.loading import Loading
from vision.particles import Segmentation


def _num(value: float) -> float | None:
    """A JSON-safe float: NaN and infinities become None."""
    return float(value) if math.isfinite(value) else None


@dataclass(frozen=True)
class SizeSummary:
    """Particle count, area fraction and number-weighted size distribution [um]."""

    count: int
    area_fraction: float
    mean_eq_diameter_um: float
    d10_um: float
    d50_um: float
    d90_um: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict; NaN becomes None."""
        return {
            "count": self.count,
            **{k: _num(v) for k, v in self.__dict__.items() if k != "count"},
        }


@dataclass(frozen=True)
class DebrisSummary:
    """Objects far smaller than the image's particles, reported apart from them
    (:func:`vision.particles.debris_of`).

    Attributes
    ----------
    count : int
    area_fraction : float
        Their area over the measured image area [0-1].
    """

    count: int
    area_fraction: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {"count": self.count, "area_fraction": self.area_fraction}


@dataclass(frozen=True)
class AgglomerateSummary:
    """Agglomerates of one image; areas in [um^2].

    Attributes
    ----------
    count : int
    area_fraction : float
        Agglomerate area over the measured image area [0-1].
    filler_fraction : float
        Agglomerate area over the area of all particles: the share of the filler that is
        agglomerated [0-1] (0 without particles).
    largest_area_um2 : float
    items : tuple of Agglomerate
        Each with its members, indices into the segmentation's particles.
    """

    count: int
    area_fraction: float
    filler_fraction: float
    largest_area_um2: float
    items: tuple[Agglomerate, ...] = field(repr=False)
    pixel_size_um: float = field(repr=False)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict; an item's ``members`` index the document's ``objects``."""
        px2 = self.pixel_size_um**2
        return {
            "count": self.count,
            "area_fraction": self.area_fraction,
            "filler_fraction": self.filler_fraction,
            "largest_area_um2": self.largest_area_um2,
            "items": [
                {
                    "x_px": a.x_px,
                    "y_px": a.y_px,
                    "area_um2": a.area_px * px2,
                    "n_particles": a.n_particles,
                    "members": list(a.members),
                }
                for a in self.items
            ],
        }


@dataclass(frozen=True)
class ParticleAnalysis:
    """Filler particles, agglomerates, dispersion and loading of one top-view image."""

    image: str
    width_px: int
    height_px: int
    pixel_size_um: float
    particles: SizeSummary
    agglomerates: AgglomerateSummary
    dispersion: Dispersion
    loading: Loading | None
    segmentation: Segmentation = field(repr=False)
    in_agglomerate: np.ndarray = field(repr=False)
    #: Where the pixel size came from (given, a scale bar, the file's metadata).
    pixel_size_source: str = "given"
    #: Fraction of the image left out as burned-in annotations [0-1], and those regions.
    masked_fraction: float = 0.0
    annotations: tuple[AnnotationRegion, ...] = ()
    #: Debris found beside the particles; not in ``particles``, ``objects`` or the area
    #: fraction.
    debris: DebrisSummary = DebrisSummary(0, 0.0)

    def to_dict(self) -> dict[str, Any]:
        """The ``plantqc vision particles --json`` document."""
        return {
            "image": self.image,
            "width_px": self.width_px,
            "height_px": self.height_px,
            "pixel_size_um": self.pixel_size_um,
            "pixel_size_source": self.pixel_size_source,
            "masked_fraction": self.masked_fraction,
            "annotations": [r.to_dict() for r in self.annotations],
            "particles": self.particles.to_dict(),
            "debris": self.debris.to_dict(),
            "agglomerates": self.agglomerates.to_dict(),
            "dispersion": self.dispersion.to_dict(),
            "loading": None if self.loading is None else self.loading.to_dict(),
            "objects": [
                {
                    "x_px": p.x_px,
                    "y_px": p.y_px,
                    "area_px": p.area_px,
                    "eq_diameter_px": p.eq_diameter_px,
                    "in_agglomerate": bool(flag),
                }
                for p, flag in zip(self.segmentation.particles, self.in_agglomerate, strict=True)
            ],
        }
