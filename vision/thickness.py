"""Film thickness from cross-section images: two boundaries traced column by column.

Each boundary is the strongest continuous vertical-gradient path across the image, found by
dynamic programming (so texture, noise and voids inside the film do not break it), refined to
sub-pixel precision by a parabola through the gradient peak. The film's tilt is the slope of a
robust line through the mid-line; thickness is measured perpendicular to that line.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

from vision.errors import ImageError
from vision.preprocess import normalize, require_contrast, to_gray

_FORBIDDEN = np.float32(-1e6)


@dataclass(frozen=True)
class FilmDefect:
    """A stretch of film columns with a defect: ``"void"`` or ``"thinning"`` [px, inclusive]."""

    x_px_start: int
    x_px_end: int
    kind: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return dict(self.__dict__)


@dataclass(frozen=True)
class ThicknessResult:
    """Thickness profile and statistics of one cross-section.

    Attributes
    ----------
    top_px, bottom_px : numpy.ndarray
        (W,) sub-pixel boundary rows per column, pixel centres at integer rows [px].
    thickness_um : numpy.ndarray
        (W,) perpendicular thickness [um].
    tilt_deg : float
        Film tilt, positive descending to the right [deg].
    stats_um : dict
        mean, std (ddof=1), min, max, p2, p98 [um].
    """

    image: str
    pixel_size_um: float
    tilt_deg: float
    top_px: np.ndarray = field(repr=False)
    bottom_px: np.ndarray = field(repr=False)
    thickness_um: np.ndarray = field(repr=False)
    stats_um: dict[str, float]
    defects: tuple[FilmDefect, ...]
    profile_step_px: int = 1

    def to_dict(self) -> dict[str, Any]:
        """The ``plantqc vision thickness --json`` document (profile every ``profile_step_px``)."""
        xs = range(0, self.thickness_um.size, self.profile_step_px)
        return {
            "image": self.image,
            "pixel_size_um": self.pixel_size_um,
            "tilt_deg": self.tilt_deg,
            "thickness_um": dict(self.stats_um),
            "profile": [{"x_px": x, "thickness_um": float(self.thickness_um[x])} for x in xs],
            "defects": [d.to_dict() for d in self.defects],
        }


def trace_boundary(
    strength: np.ndarray, max_step_px: int = 3, move_penalty: float = 0.05
) -> np.ndarray:
    """Row per column of the path of largest total ``strength``, moving at most ``max_step_px``
    rows from one column to the next.

    Parameters
    ----------
    strength : numpy.ndarray
        (H, W) float32 edge strength.
    max_step_px : int, default 3
        Largest row change between neighbouring columns [px]; steeper boundaries are not
        followed.
    move_penalty : float, default 0.05
        Cost of each row of change, relative to the median of the column maxima of
        ``strength``; it favours straight paths through texture.

    Returns
    -------
    numpy.ndarray
        (W,) ``int`` rows.

    Notes
    -----
    Viterbi recursion :math:`S(y, x) = s(y, x) + \\max_{|d| \\le k} [S(y + d, x - 1) - c|d|]`
    and back-tracking: the dynamic-programming boundary search of [1]_.

    References
    ----------
    .. [1] D. H. Ballard, C. M. Brown, Computer Vision, Prentice-Hall (1982), §4.4.
    """
    h, w = strength.shape
    penalty = np.float32(move_penalty * float(np.median(strength.max(axis=0))))
    steps = np.arange(-max_step_px, max_step_px + 1)
    cost = np.abs(steps).astype(np.float32)[:, None] * penalty
    back = np.empty((h, w), np.int8)
    score = strength[:, 0].copy()
    padded = np.full(h + 2 * max_step_px, _FORBIDDEN, np.float32)
    rows = np.arange(h)
    for x in range(1, w):
        padded[max_step_px : max_step_px + h] = score
        # Candidate predecessors y + d for every row y, one line per step d.
        cand = padded[rows[None, :] + max_step_px + steps[:, None]] - cost
        choice = np.argmax(cand, axis=0)
        back[:, x] = steps[choice]
        score = cand[choice, rows] + strength[:, x]
    path = np.empty(w, np.int64)
    path[-1] = int(np.argmax(score))
    for x in range(w - 1, 0, -1):
        path[x - 1] = path[x] + back[path[x], x]
    return path


def refine_subpixel(strength: np.ndarray, rows: np.ndarray, search_px: int = 2) -> np.ndarray:
    """Sub-pixel peak of ``strength`` near ``rows`` in each column (parabola through 3 samples).

    Notes
    -----
    Offset :math:`\\delta = \\frac{1}{2}\\frac{s_{-1} - s_{+1}}{s_{-1} - 2 s_0 + s_{+1}}`, exact for
    a parabolic peak and within about 0.05 px for a Gaussian-blurred step edge.
    """
    h, w = strength.shape
    cols = np.arange(w)
    offsets = np.arange(-search_px, search_px + 1)
    cand = np.clip(rows[None, :] + offsets[:, None], 1, h - 2)
    peak = cand[np.argmax(strength[cand, cols], axis=0), cols]
    s0 = strength[peak, cols].astype(np.float64)
    sm = strength[peak - 1, cols].astype(np.float64)
    sp = strength[peak + 1, cols].astype(np.float64)
    denom = sm - 2.0 * s0 + sp
    with np.errstate(divide="ignore", invalid="ignore"):
        delta = np.where(denom < 0, 0.5 * (sm - sp) / denom, 0.0)
    return peak + np.clip(delta, -0.5, 0.5)


def robust_line(x: np.ndarray, y: np.ndarray, n_iter: int = 5) -> tuple[float, float]:
    """Slope and intercept of ``y = a x + b`` by least squares with 3-MAD outlier rejection."""
    keep = np.ones(x.size, dtype=bool)
    a, b = np.polyfit(x, y, 1)
    for _ in range(n_iter):
        resid = y - (a * x + b)
        mad = np.median(np.abs(resid[keep] - np.median(resid[keep])))
        new = np.abs(resid) <= max(3.0 * 1.4826 * mad, 1e-6)
        if new.sum() < 2 or np.array_equal(new, keep):
            break
        keep = new
        a, b = np.polyfit(x[keep], y[keep], 1)
    return float(a), float(b)


def _runs(flags: np.ndarray, min_len: int) -> list[tuple[int, int]]:
    padded = np.concatenate(([0], flags.astype(np.int8), [0]))
    edges = np.flatnonzero(np.diff(padded))
    return [
        (int(s), int(e - 1))
        for s, e in zip(edges[::2], edges[1::2], strict=True)
        if e - s >= min_len
    ]


def find_voids(
    smooth: np.ndarray,
    top: np.ndarray,
    bottom: np.ndarray,
    k_sigma: float = 5.0,
    margin_px: int = 5,
) -> np.ndarray:
    """Columns holding void pixels: grey levels inside the film far from the film's median.

    The film interior is the band ``margin_px`` inside both boundaries; a pixel is a void
    pixel when it differs from the interior's median by more than ``k_sigma`` robust standard
    deviations (1.4826 MAD); a column is flagged with 2 or more void pixels.
    """
    h, w = smooth.shape
    rows = np.arange(h)[:, None]
    inner = (rows >= np.ceil(top + margin_px)) & (rows <= np.floor(bottom - margin_px))
    values = smooth[inner]
    if values.size == 0:
        return np.zeros(w, dtype=bool)
    med = float(np.median(values))
    sigma = 1.4826 * float(np.median(np.abs(values - med)))
    sigma = max(sigma, 0.01)
    odd = inner & (np.abs(smooth - med) > k_sigma * sigma)
    return odd.sum(axis=0) >= 2


def measure_thickness(
    image: np.ndarray,
    pixel_size_um: float,
    *,
    name: str = "",
    rows: tuple[int, int] | None = None,
    smooth_x_px: float = 3.0,
    smooth_y_px: float = 1.0,
    min_separation_px: int = 4,
    thin_fraction: float = 0.2,
    min_thickness_um: float | None = None,
    min_defect_px: int = 3,
    profile_step_px: int | None = None,
) -> ThicknessResult:
    """Thickness profile of a film band crossing a cross-section image from left to right.

    Parameters
    ----------
    image : numpy.ndarray
        Cross-section (grey / RGB, 8- or 16-bit) with the film roughly horizontal.
    pixel_size_um : float
        [um / px].
    name : str
        Image name carried into the result.
    rows : (int, int), optional
        Only rows ``rows[0] .. rows[1] - 1`` are searched (e.g. above an SEM data strip).
    smooth_x_px, smooth_y_px : float
        Gaussian smoothing along and across the film before the gradient [px].
    min_separation_px : int, default 4
        The two boundaries are at least this far apart [px].
    thin_fraction : float, default 0.2
        Columns thinner than ``(1 - thin_fraction)`` x median thickness are local thinning.
    min_thickness_um : float, optional
        Absolute thinning threshold [um]; overrides ``thin_fraction``.
    min_defect_px : int, default 3
        Shortest defect reported [columns].
    profile_step_px : int, optional
        Column step of the JSON profile; default about 1000 points.

    Notes
    -----
    The film is taken to be the band between the two strongest continuous horizontal edges.
    Thickness per column is :math:`(y_b - y_t)\\cos\\theta`, with :math:`\\theta` the tilt of the
    robust line through the mid-line :math:`(y_t + y_b)/2`.
    """
    if not np.isfinite(pixel_size_um) or pixel_size_um <= 0:
        raise ImageError(f"The pixel size must be a positive number of um, got {pixel_size_um}.")
    gray = to_gray(image)
    require_contrast(gray)
    row0 = 0
    if rows is not None:
        row0, row1 = max(0, rows[0]), min(gray.shape[0], rows[1])
        gray = gray[row0:row1]
    h, w = gray.shape
    if h < 2 * min_separation_px + 4 or w < 8:
        raise ImageError(f"The image ({w} x {h} px) is too small to hold a film cross-section.")
    gray = normalize(gray)
    smooth = cv2.GaussianBlur(gray, (0, 0), sigmaX=smooth_x_px, sigmaY=smooth_y_px)
    strength = np.zeros_like(smooth)
    strength[1:-1] = np.abs(smooth[2:] - smooth[:-2]) * np.float32(0.5)
    first = trace_boundary(strength)
    masked = strength.copy()
    band = np.abs(np.arange(h)[:, None] - first[None, :]) <= min_separation_px
    masked[band] = _FORBIDDEN
    second = trace_boundary(masked)
    if np.mean(second) < np.mean(first):
        first, second = second, first
    top = refine_subpixel(strength, first)
    bottom = refine_subpixel(strength, second)
    x = np.arange(w, dtype=np.float64)
    slope, _ = robust_line(x, (top + bottom) / 2.0)
    tilt = float(np.degrees(np.arctan(slope)))
    thickness = (bottom - top) * np.cos(np.radians(tilt)) * pixel_size_um
    stats = {
        "mean": float(thickness.mean()),
        "std": float(thickness.std(ddof=1)),
        "min": float(thickness.min()),
        "max": float(thickness.max()),
        "p2": float(np.percentile(thickness, 2)),
        "p98": float(np.percentile(thickness, 98)),
    }
    limit = (
        min_thickness_um
        if min_thickness_um is not None
        else (1.0 - thin_fraction) * float(np.median(thickness))
    )
    defects = [FilmDefect(s, e, "thinning") for s, e in _runs(thickness < limit, min_defect_px)]
    voids = find_voids(smooth, top, bottom)
    defects += [FilmDefect(s, e, "void") for s, e in _runs(voids, min_defect_px)]
    return ThicknessResult(
        image=name,
        pixel_size_um=float(pixel_size_um),
        tilt_deg=tilt,
        top_px=top + row0,
        bottom_px=bottom + row0,
        thickness_um=thickness,
        stats_um=stats,
        defects=tuple(sorted(defects, key=lambda d: d.x_px_start)),
        profile_step_px=profile_step_px or max(1, w // 1000),
    )
