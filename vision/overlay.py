"""Annotated images for a person to check a result: outlines, boxes, boundaries, a legend."""

from __future__ import annotations

import cv2
import numpy as np

from vision.annotations import AnnotationRegion
from vision.defects import SurfaceDefects
from vision.errors import ImageError
from vision.preprocess import normalize, to_gray
from vision.results import ParticleAnalysis
from vision.thickness import ThicknessResult

# RGB colours, distinguishable for the common colour-vision deficiencies (Okabe & Ito, 2008).
PARTICLE = (0, 158, 115)
AGGLOMERATE = (230, 159, 0)
BOUNDARY = (86, 180, 233)
INTERFACE = (0, 114, 178)
MASKED = (240, 228, 66)
DEBRIS = (213, 94, 0)
DEFECT = {
    "pinhole": (213, 94, 0),
    "bubble": (204, 121, 167),
    "streak": (240, 228, 66),
    "void": (213, 94, 0),
    "thinning": (204, 121, 167),
    "delamination": (230, 159, 0),
}
_FONT = cv2.FONT_HERSHEY_SIMPLEX


def display_rgb(image: np.ndarray) -> np.ndarray:
    """An 8-bit RGB copy of any grey / colour, 8- or 16-bit image, contrast-stretched."""
    gray = normalize(to_gray(image))
    grey8 = np.clip(gray * 255.0 + 0.5, 0, 255).astype(np.uint8)
    return cv2.cvtColor(grey8, cv2.COLOR_GRAY2RGB)


def _scale(rgb: np.ndarray) -> tuple[float, int]:
    font = max(0.4, max(rgb.shape[:2]) / 1500.0)
    return font, max(1, round(font * 2))


def draw_legend(rgb: np.ndarray, entries: list[tuple[str, tuple[int, int, int]]]) -> np.ndarray:
    """Draw a legend box with one coloured swatch per entry in the top-left corner, in place."""
    font, thick = _scale(rgb)
    line = int(28 * font) + 6
    width = max(cv2.getTextSize(t, _FONT, font, thick)[0][0] for t, _ in entries) + line + 16
    cv2.rectangle(rgb, (4, 4), (4 + width, 8 + line * len(entries)), (255, 255, 255), -1)
    for i, (text, colour) in enumerate(entries):
        y = 8 + line * i
        cv2.rectangle(rgb, (10, y + 4), (10 + line - 8, y + line - 4), colour, -1)
        cv2.putText(
            rgb, text, (10 + line, y + line - 8), _FONT, font, (0, 0, 0), thick, cv2.LINE_AA
        )
    return rgb


def particles_overlay(image: np.ndarray, result: ParticleAnalysis) -> np.ndarray:
    """Particles outlined, agglomerates boxed and numbered (1 = largest), debris boxed thinly,
    the annotations left out hatched, with a legend."""
    rgb = display_rgb(image)
    labels = result.segmentation.labels
    edges = (
        cv2.morphologyEx(
            (labels > 0).astype(np.uint8), cv2.MORPH_GRADIENT, np.ones((3, 3), np.uint8)
        )
        > 0
    )
    # Boundaries between touching particles, where the watershed-style cut separates labels.
    grown = cv2.dilate(labels.astype(np.float32), np.ones((3, 3), np.uint8))
    edges |= (labels > 0) & (grown != labels)
    rgb[edges] = PARTICLE
    draw_masked(rgb, result.annotations)
    font, thick = _scale(rgb)
    for d in result.segmentation.debris:
        x, y, w, h = d.bbox
        cv2.rectangle(rgb, (x - 1, y - 1), (x + w, y + h), DEBRIS, 1)
    for number, agg in enumerate(result.agglomerates.items, start=1):
        x, y, w, h = agg.bbox
        cv2.rectangle(rgb, (x - 2, y - 2), (x + w + 1, y + h + 1), AGGLOMERATE, thick)
        cv2.putText(
            rgb, str(number), (x, max(12, y - 4)), _FONT, font, AGGLOMERATE, thick, cv2.LINE_AA
        )
    return draw_legend(
        rgb,
        [
            (f"particles: {result.particles.count}", PARTICLE),
            (f"agglomerates: {result.agglomerates.count}", AGGLOMERATE),
            (f"debris, not counted: {result.debris.count}", DEBRIS),
            (f"masked annotations, {100 * result.masked_fraction:.1f} %", MASKED),
        ],
    )


def draw_masked(rgb: np.ndarray, regions: tuple[AnnotationRegion, ...]) -> np.ndarray:
    """Hatch and outline each annotation region left out of the measurement, in place."""
    _, thick = _scale(rgb)
    step = max(6, 4 * thick)
    for r in regions:
        x0, y0, x1, y1 = r.x_px, r.y_px, r.x_px + r.width_px - 1, r.y_px + r.height_px - 1
        hatch = np.zeros(rgb.shape[:2], np.uint8)
        for k in range(-r.height_px, r.width_px, step):
            cv2.line(hatch, (x0 + k, y1), (x0 + k + r.height_px, y0), 1, 1)
        inside = np.zeros_like(hatch)
        inside[y0 : y1 + 1, x0 : x1 + 1] = 1
        rgb[(hatch & inside) > 0] = MASKED
        cv2.rectangle(rgb, (x0, y0), (x1, y1), MASKED, thick)
    return rgb


def _polyline_runs(
    rgb: np.ndarray, rows: np.ndarray, colour: tuple[int, int, int], thick: int
) -> None:
    """Draw ``rows`` (NaN where not measured) as one polyline per measured run of columns."""
    x = np.arange(rows.size)
    ok = np.isfinite(rows)
    edges = np.flatnonzero(np.diff(np.concatenate(([0], ok.astype(np.int8), [0]))))
    for start, stop in zip(edges[::2], edges[1::2], strict=True):
        pts = np.stack((x[start:stop], np.rint(rows[start:stop])), axis=1)
        cv2.polylines(
            rgb, [pts.astype(np.int32).reshape(-1, 1, 2)], False, colour, thick, cv2.LINE_AA
        )


def thickness_overlay(image: np.ndarray, result: ThicknessResult) -> np.ndarray:
    """The film surface and its interface with the substrate drawn where measured, the
    annotations left out hatched, defect stretches boxed, with a legend."""
    rgb = display_rgb(image)
    _, thick = _scale(rgb)
    draw_masked(rgb, result.annotations)
    _polyline_runs(rgb, result.top_px, BOUNDARY, thick)
    _polyline_runs(rgb, result.bottom_px, INTERFACE, thick)
    for d in result.defects:
        span = slice(d.x_px_start, d.x_px_end + 1)
        top = int(np.nanmin(result.top_px[span])) - 4
        bottom = int(np.nanmax(result.bottom_px[span])) + 4
        cv2.rectangle(rgb, (d.x_px_start, top), (d.x_px_end, bottom), DEFECT[d.kind], thick)
    return draw_legend(
        rgb,
        [
            (f"surface, mean thickness {result.stats_um['mean']:.2f} um", BOUNDARY),
            (f"interface, {100 * result.coverage:.0f} % of the width measured", INTERFACE),
            (f"masked annotations, {100 * result.masked_fraction:.1f} %", MASKED),
            ("void", DEFECT["void"]),
            ("thinning", DEFECT["thinning"]),
            ("delamination", DEFECT["delamination"]),
        ],
    )


def defects_overlay(image: np.ndarray, result: SurfaceDefects) -> np.ndarray:
    """Each surface defect boxed in its kind's colour, with a legend."""
    rgb = display_rgb(image)
    _, thick = _scale(rgb)
    for d in result.defects:
        x, y, w, h = d.bbox
        cv2.rectangle(rgb, (x - 3, y - 3), (x + w + 2, y + h + 2), DEFECT[d.kind], thick)
    counts = result.to_dict()["counts"]
    return draw_legend(rgb, [(f"{k}: {counts[k]}", DEFECT[k]) for k in counts])


def encode_png(rgb: np.ndarray) -> bytes:
    """PNG bytes of an 8-bit RGB image."""
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise ImageError("An overlay must be an (H, W, 3) uint8 RGB image.")
    ok, buf = cv2.imencode(".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    if not ok:
        raise ImageError("The overlay could not be encoded as PNG.")
    return buf.tobytes()
