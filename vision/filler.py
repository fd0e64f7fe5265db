"""Filler analysis of a top-view image: particles, agglomerates, dispersion and loading."""

from __future__ import annotations

import cv2
import numpy as np

from vision.agglomerates import find_agglomerates
from vision.annotations import Annotations, find_annotations
from vision.dispersion import dispersion_indices
from vision.errors import ImageError
from vision.loading import filler_loading
from vision.particles import Segmentation, segment_particles
from vision.results import AgglomerateSummary, DebrisSummary, ParticleAnalysis, SizeSummary


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


def _without_annotations(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """A copy of ``image`` whose masked pixels hold the median of the others: flat, so that
    neither the threshold nor the segmentation sees the annotations' pure black and white."""
    out = image.copy()
    out[mask] = np.median(image[~mask], axis=0).astype(image.dtype)
    return out


def drop_masked(seg: Segmentation, mask: np.ndarray) -> Segmentation:
    """``seg`` without the particles and debris that touch ``mask`` (a particle cut by an
    annotation's edge is not measured whole), relabelled consecutively; a debris object (not
    in the labels) is dropped when its bounding box touches it."""
    if not mask.any() or not (seg.particles or seg.debris):
        return seg
    grown = cv2.dilate(mask.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
    touched = np.zeros(len(seg.particles) + 1, bool)
    touched[np.unique(seg.labels[grown])] = True
    keep = ~touched[1:]
    lut = np.zeros(len(seg.particles) + 1, np.int32)
    lut[1:][keep] = np.arange(1, int(keep.sum()) + 1, dtype=np.int32)
    particles = tuple(p for p, k in zip(seg.particles, keep.tolist(), strict=True) if k)
    debris = tuple(
        d
        for d in seg.debris
        if not grown[d.bbox[1] : d.bbox[1] + d.bbox[3], d.bbox[0] : d.bbox[0] + d.bbox[2]].any()
    )
    return Segmentation(
        lut[seg.labels], particles, seg.threshold, seg.illumination_corrected, debris
    )


def analyze_particles(
    image: np.ndarray,
    pixel_size_um: float,
    *,
    name: str = "",
    min_area_px: int = 10,
    agglomerate_gap_px: float = 2.0,
    blob_factor: float = 2.0,
    quadrats: int = 8,
    filler_density: float | None = None,
    polymer_density: float | None = None,
    nominal_wt_pct: float | None = None,
    annotations: Annotations | str | None = "auto",
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
    blob_factor : float, default 2.0
        Single concave blobs larger than this many median particles are agglomerates (see
        :func:`vision.agglomerates.find_agglomerates`); large convex particles are not.
    quadrats : int, default 8
        Quadrats per side for Morisita and VMR.
    filler_density, polymer_density : float, optional
        [g/cm3]; both are needed for the loading.
    nominal_wt_pct : float, optional
        The recipe's filler loading [wt%].
    annotations : "auto", Annotations or None
        Burned-in annotations (data bands, scale-bar boxes) to leave out: found by
        :func:`vision.annotations.find_annotations` (``"auto"``), given, or none. Their pixels
        are filled flat before segmentation, particles touching them are dropped, and the
        area fraction is of the pixels outside them.
    **segment_options
        Passed to :func:`vision.particles.segment_particles`.
    """
    if not np.isfinite(pixel_size_um) or pixel_size_um <= 0:
        raise ImageError(f"The pixel size must be a positive number of um, got {pixel_size_um}.")
    if (filler_density is None) != (polymer_density is None):
        raise ImageError("Give both the filler and the polymer density, or neither.")
    if isinstance(annotations, str):
        if annotations != "auto":
            raise ImageError(
                f"annotations must be 'auto', found annotations or None, got {annotations!r}."
            )
        annotations = find_annotations(image)
    mask = None if annotations is None or not annotations.regions else annotations.mask
    if mask is not None and mask.all():
        raise ImageError("The whole image is annotations; there are no particles to measure.")
    source = image if mask is None else _without_annotations(image, mask)
    seg = segment_particles(source, min_area_px=min_area_px, **segment_options)  # type: ignore[arg-type]
    if mask is not None:
        seg = drop_masked(seg, mask)
    h, w = seg.labels.shape
    measured_px = h * w if mask is None else int(np.count_nonzero(~mask))
    area_fraction = float(sum(p.area_px for p in seg.particles)) / measured_px
    particles = seg.particles
    eq_d = np.array([p.eq_diameter_px for p in particles]) * pixel_size_um
    groups = find_agglomerates(particles, seg.labels, agglomerate_gap_px, blob_factor)
    in_agg = np.zeros(len(particles), dtype=bool)
    for g in groups:
        in_agg[list(g.members)] = True
    px2 = pixel_size_um**2
    agg_px = float(sum(g.area_px for g in groups))
    filler_px = float(sum(p.area_px for p in particles))
    agg = AgglomerateSummary(
        count=len(groups),
        area_fraction=agg_px / measured_px,
        filler_fraction=agg_px / filler_px if filler_px else 0.0,
        largest_area_um2=float(groups[0].area_px * px2) if groups else 0.0,
        items=groups,
        pixel_size_um=pixel_size_um,
    )
    points = np.array([(p.x_px, p.y_px) for p in particles]).reshape(-1, 2)
    loading = None
    if filler_density is not None and polymer_density is not None:
        loading = filler_loading(area_fraction, filler_density, polymer_density, nominal_wt_pct)
    elif nominal_wt_pct is not None:
        raise ImageError("A nominal wt% needs the filler and polymer densities to compare with.")
    return ParticleAnalysis(
        image=name,
        width_px=w,
        height_px=h,
        pixel_size_um=float(pixel_size_um),
        particles=size_summary(eq_d, area_fraction),
        agglomerates=agg,
        dispersion=dispersion_indices(points, w, h, quadrats),
        loading=loading,
        segmentation=seg,
        in_agglomerate=in_agg,
        masked_fraction=0.0 if annotations is None else annotations.masked_fraction,
        annotations=() if annotations is None else annotations.regions,
        debris=DebrisSummary(
            len(seg.debris), float(sum(d.area_px for d in seg.debris)) / measured_px
        ),
    )
