"""Surface defects of a film web (top view): pinholes, bubbles and streaks, as connected
anomalies against the local background."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

from vision.errors import ImageError
from vision.particles import fill_holes, measure_particle
from vision.preprocess import denoise, estimate_background, require_contrast, to_gray

KINDS = ("pinhole", "bubble", "streak")


@dataclass(frozen=True)
class SurfaceDefect:
    """One defect; position in pixels, sizes in micrometres."""

    kind: str
    x_px: float
    y_px: float
    area_um2: float
    eq_diameter_um: float
    length_um: float
    bbox: tuple[int, int, int, int] = field(repr=False)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (without the bounding box)."""
        return {k: v for k, v in self.__dict__.items() if k != "bbox"}


@dataclass(frozen=True)
class SurfaceDefects:
    """All defects of one web image and their areal density."""

    image: str
    width_px: int
    height_px: int
    pixel_size_um: float
    inspected_area_m2: float
    defects: tuple[SurfaceDefect, ...]

    @property
    def defects_per_m2(self) -> float:
        """Defects per square metre of inspected web [1/m^2]."""
        return len(self.defects) / self.inspected_area_m2

    def to_dict(self) -> dict[str, Any]:
        """The ``plantqc vision defects --json`` document."""
        counts = {k: sum(d.kind == k for d in self.defects) for k in KINDS}
        return {
            "image": self.image,
            "width_px": self.width_px,
            "height_px": self.height_px,
            "pixel_size_um": self.pixel_size_um,
            "inspected_area_m2": self.inspected_area_m2,
            "defects_per_m2": self.defects_per_m2,
            "counts": counts,
            "defects": [d.to_dict() for d in self.defects],
        }


def robust_sigma(values: np.ndarray) -> float:
    """Standard deviation from the median absolute deviation, ``1.4826 MAD`` (exact for a normal
    distribution; Rousseeuw & Croux, JASA 88 (1993) 1273)."""
    med = np.median(values)
    return float(1.4826 * np.median(np.abs(values - med)))


def classify_defect(
    eq_diameter_um: float, aspect_ratio: float, pinhole_max_um: float, streak_aspect: float
) -> str:
    """``"streak"`` when elongated, else ``"pinhole"`` when small, else ``"bubble"``."""
    if aspect_ratio >= streak_aspect:
        return "streak"
    return "pinhole" if eq_diameter_um <= pinhole_max_um else "bubble"


def find_surface_defects(
    image: np.ndarray,
    pixel_size_um: float,
    *,
    name: str = "",
    k_sigma: float = 6.0,
    min_area_px: int = 6,
    pinhole_max_um: float = 100.0,
    streak_aspect: float = 4.0,
) -> SurfaceDefects:
    """Defects of a web image: pixels far from the local background, grouped and classified.

    Parameters
    ----------
    image : numpy.ndarray
        Top view of the web (grey / RGB, 8- or 16-bit).
    pixel_size_um : float
        [um / px].
    name : str
        Image name carried into the result.
    k_sigma : float, default 6.0
        A pixel is anomalous when it differs from the background by more than ``k_sigma``
        robust standard deviations of the residual.
    min_area_px : int, default 6
        Smaller anomalies are noise [px^2].
    pinhole_max_um : float, default 100
        Compact defects up to this equivalent diameter are pinholes, larger ones bubbles [um].
    streak_aspect : float, default 4.0
        Defects with an equivalent-ellipse aspect ratio at least this are streaks.

    Notes
    -----
    residual = denoised image - polynomial background; the noise level is the robust sigma of
    the residual, so texture of the web sets the detection limit. Anomalous pixels are
    closed (3 x 3) and hole-filled so that a bubble's bright rim and dark core form one defect.
    """
    if not np.isfinite(pixel_size_um) or pixel_size_um <= 0:
        raise ImageError(f"The pixel size must be a positive number of um, got {pixel_size_um}.")
    if k_sigma <= 0:
        raise ImageError(f"k_sigma must be positive, got {k_sigma}.")
    # Not normalised: a stretch would clip exactly the rare extreme pixels that are defects.
    gray = to_gray(image)
    require_contrast(gray)
    residual = denoise(gray, 1.0) - estimate_background(gray)
    step = max(1, int(np.sqrt(residual.size / 1e6)))
    sigma = max(robust_sigma(residual[::step, ::step]), 1e-4)
    anomalous = (np.abs(residual) > k_sigma * sigma).astype(np.uint8) * 255
    anomalous = fill_holes(cv2.morphologyEx(anomalous, cv2.MORPH_CLOSE, np.ones((3, 3), np.uint8)))
    n, labels, stats, _ = cv2.connectedComponentsWithStats(anomalous, connectivity=8)
    found = []
    for i in range(1, n):
        if stats[i, cv2.CC_STAT_AREA] < min_area_px:
            continue
        x, y, w, h = (int(v) for v in stats[i, :4])
        shape = measure_particle((labels[y : y + h, x : x + w] == i).astype(np.uint8), x, y)
        d_um = shape.eq_diameter_px * pixel_size_um
        found.append(
            SurfaceDefect(
                kind=classify_defect(d_um, shape.aspect_ratio, pinhole_max_um, streak_aspect),
                x_px=shape.x_px,
                y_px=shape.y_px,
                area_um2=shape.area_px * pixel_size_um**2,
                eq_diameter_um=d_um,
                length_um=float(max(w, h)) * pixel_size_um,
                bbox=shape.bbox,
            )
        )
    hh, ww = gray.shape
    return SurfaceDefects(
        image=name,
        width_px=ww,
        height_px=hh,
        pixel_size_um=float(pixel_size_um),
        inspected_area_m2=ww * hh * (pixel_size_um * 1e-6) ** 2,
        defects=tuple(found),
    )
