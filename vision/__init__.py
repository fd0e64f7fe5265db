"""Image measurement for filler dispersion, film thickness and surface defects.

Numpy images in, typed measurements out: no database, no network, no files.
"""

from vision.agglomerates import Agglomerate, find_agglomerates, group_particles
from vision.annotations import AnnotationRegion, Annotations, find_annotations
from vision.decode import DEFAULT_MAX_PIXELS, decode_image, read_image_size
from vision.defects import SurfaceDefect, SurfaceDefects, find_surface_defects
from vision.dispersion import (
    Dispersion,
    clark_evans_ratio,
    dispersion_indices,
    morisita_index,
    quadrat_counts,
    variance_to_mean_ratio,
)
from vision.errors import ImageError
from vision.filler import analyze_particles, size_summary
from vision.loading import (
    Loading,
    delesse_volume_fraction,
    filler_loading,
    volume_fraction,
    weight_fraction,
)
from vision.overlay import defects_overlay, encode_png, particles_overlay, thickness_overlay
from vision.particles import (
    Particle,
    Segmentation,
    debris_of,
    segment_particles,
    split_touching,
)
from vision.results import AgglomerateSummary, DebrisSummary, ParticleAnalysis, SizeSummary
from vision.scale_bar import ScaleBar, find_scale_bar
from vision.thickness import FilmDefect, ThicknessResult, measure_thickness

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "Agglomerate",
    "AgglomerateSummary",
    "AnnotationRegion",
    "Annotations",
    "DebrisSummary",
    "Dispersion",
    "FilmDefect",
    "ImageError",
    "Loading",
    "Particle",
    "ParticleAnalysis",
    "ScaleBar",
    "Segmentation",
    "SizeSummary",
    "SurfaceDefect",
    "SurfaceDefects",
    "ThicknessResult",
    "analyze_particles",
    "clark_evans_ratio",
    "debris_of",
    "decode_image",
    "defects_overlay",
    "delesse_volume_fraction",
    "dispersion_indices",
    "encode_png",
    "filler_loading",
    "find_agglomerates",
    "find_annotations",
    "find_scale_bar",
    "find_surface_defects",
    "group_particles",
    "measure_thickness",
    "morisita_index",
    "particles_overlay",
    "quadrat_counts",
    "read_image_size",
    "segment_particles",
    "size_summary",
    "split_touching",
    "thickness_overlay",
    "variance_to_mean_ratio",
    "volume_fraction",
    "weight_fraction",
]
