"""Filler analysis of a top-view image: particles, agglomerates, dispersion and loading."""

from __future__ import annotations

import numpy as np

from vision.agglomerates import find_agglomerates
from vision.dispersion import dispersion_indices
from vision.errors import ImageError
from vision.loading import filler_loading
from vision.particles import segment_particles
from vision.results import AgglomerateSummary, ParticleAnalysis, SizeSummary


def size_summary(eq_diameters_um: np.ndarray, area_fraction: float) -> SizeSummary:
    """Count, area fraction and number-weighted d10 / d50 / d90 of equivalent diameters.

    Parameters
    ----------
    eq_diameters_um : numpy.ndarray
        Equivalent-circle diameters [um].
    area_fraction : float
        [0-1].

    Notes
    -----
    d10, d50 and d90 are percentiles of the number-weighted distribution (ISO 9276-1 type
    ``Q0``), linearly interpolated (Hyndman & Fan type 7).
    """
    d = np.asarray(eq_diameters_um, dtype=float)
    if d.size == 0:
        nan = float("nan")
        return SizeSummary(0, area_fraction, nan, nan, nan, nan)
    d10, d50, d90 = np.percentile(d, [10.0, 50.0, 90.0])
    return SizeSummary(
        int(d.size), float(area_fraction), float(d.mean()), float(d10), float(d50), float(d90)
    )


def analyze_particles(
    image: np.ndarray,
    pixel_size_um: float,
    *,
    name: str = "",
    min_area_px: int = 10,
    agglomerate_gap_px: float = 2.0,
    blob_factor: float = 5.0,
    quadrats: int = 8,
    filler_density: float | None = None,
    polymer_density: float | None = None,
    nominal_wt_pct: float | None = None,
    **segment_options: object,
) -> ParticleAnalysis:
    """Particles, agglomerates, dispersion indices and (optionally) loading of one image.

    Parameters
    ----------
    image : numpy.ndarray
        Top-view micrograph (grey / RGB / RGBA, 8- or 16-bit).
    pixel_size_um : float
        Side of one pixel [um].
    name : str
        Image name carried into the result.
    min_area_px : int, default 10
        Smallest particle [px^2].
    agglomerate_gap_px : float, default 2.0
        Particles closer than this belong to one agglomerate [px].
    blob_factor : float, default 5.0
        Single blobs larger than this many median particles are agglomerates.
    quadrats : int, default 8
        Quadrats per side for Morisita and VMR.
    filler_density, polymer_density : float, optional
        [g/cm3]; both are needed for the loading.
    nominal_wt_pct : float, optional
        The recipe's filler loading [wt%].
    **segment_options
        Passed to :func:`vision.particles.segment_particles`.
    """
    if not np.isfinite(pixel_size_um) or pixel_size_um <= 0:
        raise ImageError(f"The pixel size must be a positive number of um, got {pixel_size_um}.")
    if (filler_density is None) != (polymer_density is None):
        raise ImageError("Give both the filler and the polymer density, or neither.")
    seg = segment_particles(image, min_area_px=min_area_px, **segment_options)  # type: ignore[arg-type]
    h, w = seg.labels.shape
    particles = seg.particles
    eq_d = np.array([p.eq_diameter_px for p in particles]) * pixel_size_um
    groups = find_agglomerates(particles, seg.labels, agglomerate_gap_px, blob_factor)
    in_agg = np.zeros(len(particles), dtype=bool)
    for g in groups:
        in_agg[list(g.members)] = True
    px2 = pixel_size_um**2
    agg = AgglomerateSummary(
        count=len(groups),
        area_fraction=float(sum(g.area_px for g in groups)) / (h * w),
        largest_area_um2=float(groups[0].area_px * px2) if groups else 0.0,
        items=groups,
        pixel_size_um=pixel_size_um,
    )
    points = np.array([(p.x_px, p.y_px) for p in particles]).reshape(-1, 2)
    loading = None
    if filler_density is not None and polymer_density is not None:
        loading = filler_loading(seg.area_fraction, filler_density, polymer_density, nominal_wt_pct)
    elif nominal_wt_pct is not None:
        raise ImageError("A nominal wt% needs the filler and polymer densities to compare with.")
    return ParticleAnalysis(
        image=name,
        width_px=w,
        height_px=h,
        pixel_size_um=float(pixel_size_um),
        particles=size_summary(eq_d, seg.area_fraction),
        agglomerates=agg,
        dispersion=dispersion_indices(points, w, h, quadrats),
        loading=loading,
        segmentation=seg,
        in_agglomerate=in_agg,
    )
