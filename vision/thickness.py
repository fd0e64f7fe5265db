"""Film thickness from cross-section images: two boundaries traced column by column.

Burned-in annotations (data bands, scale-bar boxes, bare bars; :mod:`vision.annotations`) are
found first and left out. Each boundary is the strongest continuous path of a step response
(the difference of the mean grey levels of a few rows below and above, which averages filler
texture, curtaining and noise away) across the image, found by dynamic programming (so voids
inside the film do not break it), then refined to sub-pixel precision on the fine gradient of
the same sign. The film's tilt is the slope of a robust line through the mid-line; the local
thickness is the distance from each surface point to the interface, normal to the interface
(ISO 1463).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

from vision.annotations import AnnotationRegion, Annotations, find_annotations
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


def _num(value: float) -> float | None:
    return float(value) if np.isfinite(value) else None


@dataclass(frozen=True)
class ThicknessResult:
    """Thickness profile and statistics of one cross-section.

    Attributes
    ----------
    top_px, bottom_px : numpy.ndarray
        (W,) sub-pixel boundary rows per column, pixel centres at integer rows [px]; NaN
        where the boundary was not measured.
    thickness_um : numpy.ndarray
        (W,) local thickness normal to the interface [um]; NaN in columns not measured.
    tilt_deg : float
        Film tilt, positive descending to the right [deg].
    stats_um : dict
        mean, std (ddof=1), min, max, p2, p98 of the measured columns [um].
    coverage : float
        Fraction of the columns measured [0-1].
    masked_fraction : float
        Fraction of the image's pixels left out as annotations [0-1].
    annotations : tuple of AnnotationRegion
        The annotations left out.
    pixel_size_source : str
        Where the pixel size came from (given, a scale bar, the file's metadata).
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
    coverage: float = 1.0
    masked_fraction: float = 0.0
    annotations: tuple[AnnotationRegion, ...] = ()
    pixel_size_source: str = "given"

    def to_dict(self) -> dict[str, Any]:
        """The ``plantqc vision thickness --json`` document (profile every ``profile_step_px``;
        null where a column was not measured)."""
        xs = range(0, self.thickness_um.size, self.profile_step_px)
        return {
            "image": self.image,
            "pixel_size_um": self.pixel_size_um,
            "pixel_size_source": self.pixel_size_source,
            "tilt_deg": self.tilt_deg,
            "thickness_um": dict(self.stats_um),
            "coverage": self.coverage,
            "masked_fraction": self.masked_fraction,
            "annotations": [r.to_dict() for r in self.annotations],
            "profile": [{"x_px": x, "thickness_um": _num(self.thickness_um[x])} for x in xs],
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


def robust_line(
    x: np.ndarray, y: np.ndarray, n_iter: int = 5, k_sigma: float = 3.0
) -> tuple[float, float]:
    """Slope and intercept of ``y = a x + b`` by least squares with ``k_sigma`` robust-sigma
    (1.4826 MAD) outlier rejection."""
    keep = np.ones(x.size, dtype=bool)
    a, b = np.polyfit(x, y, 1)
    for _ in range(n_iter):
        resid = y - (a * x + b)
        mad = np.median(np.abs(resid[keep] - np.median(resid[keep])))
        new = np.abs(resid) <= max(k_sigma * 1.4826 * mad, 1e-6)
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


def layer_levels(smooth: np.ndarray, top: np.ndarray, bottom: np.ndarray) -> tuple[float, float]:
    """Median grey levels of the medium above the film (rows 4 to 12 above the surface) and
    of the film (its middle half), over the columns where both boundaries are known."""
    h = smooth.shape[0]
    ok = np.isfinite(top) & np.isfinite(bottom)
    t, b, c = top[ok], bottom[ok], np.flatnonzero(ok)
    above = [smooth[np.clip(np.rint(t - k).astype(int), 0, h - 1), c] for k in range(4, 13)]
    inside = [
        smooth[np.clip(np.rint(t + f * (b - t)).astype(int), 0, h - 1), c]
        for f in np.linspace(0.25, 0.75, 9)
    ]
    return float(np.median(above)), float(np.median(inside))


def find_delamination(
    smooth: np.ndarray,
    top: np.ndarray,
    substrate: np.ndarray,
    *,
    margin_px: int = 2,
    min_gap_px: int = 3,
    min_defect_px: int = 3,
    aspect: float = 4.0,
) -> tuple[np.ndarray, np.ndarray]:
    """The film's lower surface where a gap separates it from the substrate.

    Parameters
    ----------
    smooth : numpy.ndarray
        (H, W) smoothed normalised grey image.
    top, substrate : numpy.ndarray
        (W,) rows of the film surface and of the lower boundary found [px].
    margin_px : int, default 2
        Rows above the lower boundary skipped (its blur) [px].
    min_gap_px : int, default 3
        Thinner dark layers are not gaps [px].
    min_defect_px : int, default 3
        Fewer columns in a row are not a delamination.
    aspect : float, default 4.0
        A gap is at least this many times longer than its median height.

    Returns
    -------
    bottom : numpy.ndarray
        (W,) the film's lower surface: ``substrate`` except over a gap, where it is the top
        of the gap [px].
    gap : numpy.ndarray
        (W,) bool, the delaminated columns.

    Notes
    -----
    A gap is as dark as the medium above the film: pixels darker than half-way between
    that medium's median level (the rows 4 to 12 above the surface) and the film's (its
    middle half) that reach from the lower boundary up by at least ``min_gap_px`` rows.
    """
    h, w = smooth.shape
    cols = np.arange(w)
    ok = np.isfinite(top) & np.isfinite(substrate)
    bottom = substrate.copy()
    gap = np.zeros(w, bool)
    if np.count_nonzero(ok) < min_defect_px:
        return bottom, gap
    t, b = top[ok], substrate[ok]
    c = cols[ok]
    medium, film = layer_levels(smooth, top, substrate)
    if film <= medium:
        # The film is not brighter than what lies above it: a gap would not stand out.
        return bottom, gap
    half = 0.5 * (medium + film)
    start = np.rint(b).astype(int) - margin_px
    span = np.maximum(0, (start - np.rint(t).astype(int)) // 2)
    run = np.zeros(c.size, int)
    alive = np.ones(c.size, bool)
    for j in range(int(span.max(initial=0))):
        rows = np.clip(start - j, 0, h - 1)
        alive &= (j < span) & (smooth[rows, c] < half)
        if not alive.any():
            break
        run += alive
    found = run >= min_gap_px
    flags = np.zeros(w, bool)
    flags[c[found]] = True
    height = np.zeros(w)
    height[c] = run
    for s0, s1 in _runs(flags, min_defect_px):
        # A gap is long and thin; a pore beside the interface is about as wide as it is high.
        if s1 - s0 + 1 >= aspect * float(np.median(height[s0 : s1 + 1])):
            gap[s0 : s1 + 1] = True
    sel = gap[c]
    # Sub-pixel top of the gap: the half-level crossing between its first dark row and the
    # film row above.
    y_dark = start[sel] - run[sel] + 1
    v_dark = smooth[np.clip(y_dark, 0, h - 1), c[sel]]
    v_film = smooth[np.clip(y_dark - 1, 0, h - 1), c[sel]]
    with np.errstate(divide="ignore", invalid="ignore"):
        frac = np.where(v_film != v_dark, (v_film - half) / (v_film - v_dark), 0.5)
    bottom[c[sel]] = y_dark - 1 + np.clip(frac, 0.0, 1.0)
    return bottom, gap


def find_voids(
    smooth: np.ndarray,
    top: np.ndarray,
    bottom: np.ndarray,
    k_sigma: float = 3.0,
    margin_px: int = 5,
) -> np.ndarray:
    """Columns holding void pixels: grey levels inside the film far below the film's median.

    The film interior is the band ``margin_px`` inside both boundaries; a pixel is a void
    pixel when it is darker than the interior's median by more than ``k_sigma`` robust
    standard deviations (1.4826 MAD) and darker than half-way between the film's level and
    that of the medium above it (:func:`layer_levels`: a pore is empty, and gives as little
    signal as the resin or vacuum); a column is flagged with 2 or more void pixels.
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
    medium, _ = layer_levels(smooth, top, bottom)
    # Pores are darker than the film; a brighter pixel is a particle or the substrate beyond
    # a boundary, and a dip of the film's own texture does not reach half-way to empty.
    odd = inner & (smooth < min(med - k_sigma * sigma, 0.5 * (med + medium)))
    return odd.sum(axis=0) >= 2


def step_response(smooth: np.ndarray, half_px: int) -> np.ndarray:
    """Signed step response: mean of the ``half_px`` rows below each row minus the mean of the
    ``half_px`` rows above it (0 within ``half_px`` of the top and bottom).

    Notes
    -----
    A box-difference (Haar-like) edge operator: a step of height c gives c at the step and
    falls linearly to 0 at ``half_px`` from it, while texture finer than ``half_px`` rows
    averages out.
    """
    h, w = smooth.shape
    k = int(half_px)
    out = np.zeros((h, w), np.float32)
    if h <= 2 * k:
        return out
    kernel = np.zeros((2 * k + 1, 1), np.float32)
    kernel[:k] = -1.0 / k
    kernel[k + 1 :] = 1.0 / k
    # filter2D correlates (no kernel flip): rows below weigh +1/k, rows above -1/k.
    full = cv2.filter2D(smooth.astype(np.float32, copy=False), -1, kernel)
    out[k : h - k] = full[k : h - k]
    return out


def normal_distance(top: np.ndarray, bottom: np.ndarray, reach: int) -> np.ndarray:
    """Distance from each surface point ``(x, top[x])`` to the interface polyline
    ``(x', bottom[x'])`` [px]; NaN entries of ``bottom`` are gaps in the polyline.

    Parameters
    ----------
    top, bottom : numpy.ndarray
        (W,) rows of the two boundaries per column [px].
    reach : int
        Interface segments within this many columns are searched [px].

    Notes
    -----
    Exact point-to-segment distances. The shortest segment from a point to a smooth curve
    meets the curve at a right angle, so this is the thickness measured normal to the
    interface, as ISO 1463 (coating thickness, microscopical method of cross sections)
    prescribes; for two parallel lines at angle :math:`\theta` it is the vertical distance
    times :math:`\\cos\theta`.

    References
    ----------
    .. [1] ISO 1463:2021, Metallic and oxide coatings - Measurement of coating thickness -
       Microscopical method.
    """
    n = top.size
    x = np.arange(n, dtype=np.float64)
    best = np.abs(bottom - top).astype(np.float64)
    for k in range(-reach, reach):
        lo, hi = max(0, -k), min(n, n - k - 1)
        if hi <= lo:
            continue
        i = np.arange(lo, hi)
        # Segment from (i + k, b[i + k]) to (i + k + 1, b[i + k + 1]).
        ay = bottom[i + k]
        dy = bottom[i + k + 1] - ay
        px, py = x[i] - x[i + k], top[i] - ay
        t = np.clip((px + py * dy) / (1.0 + dy * dy), 0.0, 1.0)
        best[i] = np.fmin(best[i], np.hypot(px - t, py - t * dy))
    return best


def _trace_reduced(strength: np.ndarray, max_step_px: int) -> np.ndarray:
    """:func:`trace_boundary` of a wide strip on every ``f``-th column group (area-averaged,
    ``f = ceil(W / 1024)``), interpolated back: the path of a straightened boundary is
    smooth, and the refinement is per column anyway."""
    h, w = strength.shape
    f = max(1, -(-w // 1024))
    if f == 1:
        return trace_boundary(strength, max_step_px=max_step_px)
    small = cv2.resize(strength, (max(2, w // f), h), interpolation=cv2.INTER_AREA)
    rows = trace_boundary(small, max_step_px=max_step_px)
    centres = f * np.arange(small.shape[1]) + (f - 1) / 2.0
    return np.clip(np.rint(np.interp(np.arange(w), centres, rows)), 0, h - 1).astype(int)


def without_filler(gray: np.ndarray, filler_px: int) -> np.ndarray:
    """``gray`` with bright particles narrower than ``2 filler_px + 1`` columns removed: a
    grey erosion along the rows (after a 1 px Gaussian, so that noise does not bias the
    minimum), which replaces each pixel by the darkest of its row neighbours; ``filler_px = 0``
    returns ``gray``."""
    if filler_px <= 0:
        return gray
    out = cv2.GaussianBlur(gray, (0, 0), sigmaX=1.0)
    return cv2.erode(out, np.ones((1, 2 * filler_px + 1), np.uint8))


def refine_along(
    gray: np.ndarray,
    path: np.ndarray,
    sign: float,
    smooth_x_px: float,
    smooth_y_px: float,
    step_px: int,
    *,
    filler_px: int = 7,
    half_px: int = 12,
    shape_px: int = 61,
    passes: int = 2,
) -> np.ndarray:
    """Sub-pixel boundary rows near a traced ``path``, measured in the image straightened
    along it, with the bright filler's texture removed.

    Parameters
    ----------
    gray : numpy.ndarray
        (H, W) ``float32`` normalised grey image.
    path : numpy.ndarray
        (W,) rows of the traced boundary.
    sign : float
        +1 when the image is brighter below the boundary, -1 when darker.
    smooth_x_px, smooth_y_px : float
        Gaussian smoothing along and across the straightened boundary [px].
    step_px : int
        Rows averaged on each side by the step response [px].
    filler_px : int, default 7
        Bright particles narrower than ``2 filler_px + 1`` columns are removed (a grey
        erosion along the boundary) [px]; 0 keeps them.
    half_px : int, default 12
        Rows searched on each side of the straightened path [px].
    shape_px : int, default 61
        Running-median window that gives the path's shape, ignoring detours of up to half
        of it around particles on the boundary [columns].

    passes : int, default 2
        Straighten, trace and refine this many times, each along the last result.

    Returns
    -------
    numpy.ndarray
        (W,) rows [px], pixel centres at integers.

    Notes
    -----
    A bright particle that touches an interface continues the brighter side and pulls an
    edge detector into the film. Resampling the image along the path's running-median shape
    makes the boundary horizontal, so a grey erosion along the rows can replace each pixel by
    the darkest of its row neighbours (the polymer between particles) without moving the
    boundary itself; there the step is traced again (:func:`trace_boundary`, one row per
    column at most) and refined (:func:`refine_subpixel`).
    """
    from scipy.ndimage import median_filter

    w = gray.shape[1]
    shape = median_filter(path.astype(np.float64), size=min(shape_px, w), mode="nearest")
    shape = cv2.GaussianBlur(shape.reshape(1, -1), (0, 0), sigmaX=shape_px / 6.0).ravel()
    d = np.arange(-half_px, half_px + 1, dtype=np.float32)
    map_x = np.broadcast_to(np.arange(w, dtype=np.float32), (d.size, w)).copy()
    for _ in range(passes):
        map_y = (shape[None, :].astype(np.float32) + d[:, None]).astype(np.float32)
        strip = cv2.remap(gray, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        strip = without_filler(strip, filler_px)
        strip = cv2.GaussianBlur(strip, (0, 0), sigmaX=smooth_x_px, sigmaY=smooth_y_px)
        resp = np.maximum(np.float32(sign) * step_response(strip, step_px), 0.0)
        rows = _trace_reduced(resp, max_step_px=1)
        fine = np.zeros_like(strip)
        fine[1:-1] = (strip[2:] - strip[:-2]) * np.float32(0.5 * sign)
        # Each pass straightens along the last one's result: where the boundary bends faster
        # than the running median follows, the strip is straighter the next time.
        shape = shape + refine_subpixel(np.maximum(fine, 0.0), rows) - half_px
    return shape


def outermost(
    strength: np.ndarray,
    gap_px: int,
    *,
    from_top: bool,
    ratio: float = 0.5,
    significant: float = 0.3,
) -> np.ndarray:
    """``strength`` where no significant response lies farther out (above for ``from_top``,
    else below) by more than ``gap_px`` rows; 0 elsewhere.

    A response farther out is significant when it reaches ``significant`` times the median
    over the columns of their strongest response, or ``ratio`` times the response itself,
    whichever is less (so noise above a weak surface does not hide it).

    The film's surface is the uppermost strong edge of a column and its interface with the
    substrate the lowest: the edges of pores, filler and dents lie between them, often as
    strong, and a path through them would otherwise compete.
    """
    s = strength if from_top else strength[::-1]
    level = np.float32(significant * float(np.median(s.max(axis=0))))
    out_max = np.maximum.accumulate(s, axis=0)
    shifted = np.zeros_like(s)
    shifted[gap_px + 1 :] = out_max[: s.shape[0] - gap_px - 1]
    kept = np.where(shifted < np.minimum(level, np.float32(ratio) * s), s, np.float32(0.0))
    return kept if from_top else kept[::-1]


def _two_paths(strength: np.ndarray, separation_px: int) -> tuple[np.ndarray, np.ndarray]:
    """The surface (the strongest path of the uppermost edges, :func:`outermost`) and the
    interface (of the lowest edges, at least ``separation_px`` below the surface), traced on
    ``strength`` reduced to about 1 Mpx (area averaging) and mapped back to full size (the
    refinement then places them to sub-pixel precision)."""
    h, w = strength.shape
    f = max(1, int(np.ceil(np.sqrt(h * w / float(1 << 20)))))
    small = strength
    if f > 1:
        small = cv2.resize(strength, (max(2, w // f), max(2, h // f)), interpolation=cv2.INTER_AREA)
    gap = -(-separation_px // f)
    first = trace_boundary(outermost(small, gap, from_top=True))
    lowest = outermost(small, gap, from_top=False)
    rows = np.arange(small.shape[0])[:, None]
    lowest[rows <= first[None, :] + gap] = _FORBIDDEN
    second = trace_boundary(lowest)
    if f == 1:
        return first, second
    # Column j of the reduced image spans columns f j .. f j + f - 1; row i likewise.
    centres = f * np.arange(small.shape[1]) + (f - 1) / 2.0
    cols = np.arange(w)
    return tuple(  # type: ignore[return-value]
        np.clip(np.rint(np.interp(cols, centres, f * p + (f - 1) / 2.0)), 0, h - 1).astype(int)
        for p in (first, second)
    )


def _strength_mask(annotations: Annotations, reach_x: int, reach_y: int) -> np.ndarray:
    """Pixels whose step response an annotation's sharp edges reach."""
    kernel = np.ones((2 * reach_y + 1, 2 * reach_x + 1), np.uint8)
    return cv2.dilate(annotations.mask.astype(np.uint8), kernel) > 0


def measure_thickness(
    image: np.ndarray,
    pixel_size_um: float,
    *,
    name: str = "",
    rows: tuple[int, int] | None = None,
    annotations: Annotations | str | None = "auto",
    smooth_x_px: float = 6.0,
    smooth_y_px: float = 1.0,
    step_px: int = 4,
    min_separation_px: int = 4,
    min_strength: float = 0.25,
    filler_px: int = 7,
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
    annotations : "auto", Annotations or None
        Burned-in annotations to leave out: found by :func:`vision.annotations.find_annotations`
        (``"auto"``), given, or none. Data bands across the top or bottom are cut off; in
        other regions the step response is zero and a boundary that runs through one is not
        measured there.
    smooth_x_px, smooth_y_px : float
        Gaussian smoothing along and across the film before the gradients [px].
    step_px : int, default 4
        Rows averaged on each side by the step response that traces the boundaries [px].
    min_separation_px : int, default 4
        The two boundaries are at least this far apart [px].
    min_strength : float, default 0.25
        A column's boundary is measured when its step response is at least this fraction of
        the boundary's median response (else it is lost in a void, a gap or an annotation).
    filler_px : int, default 7
        Bright filler particles up to ``2 filler_px + 1`` px wide that touch a boundary are
        not taken for the other side (see :func:`refine_along`); 0 for unfilled films.
    thin_fraction : float, default 0.2
        Columns thinner than ``(1 - thin_fraction)`` x median thickness are local thinning.
    min_thickness_um : float, optional
        Absolute thinning threshold [um]; overrides ``thin_fraction``.
    min_defect_px : int, default 3
        Shortest defect reported [columns].
    profile_step_px : int, optional
        Column step of the JSON profile; default about 1000 points.

    Raises
    ------
    ImageError
        A bad pixel size, an image too small or without contrast, or no film found.

    Notes
    -----
    The film is taken to be the band between the two strongest continuous horizontal edges
    (:func:`trace_boundary` on :func:`step_response`), each refined on the central-difference
    gradient of the sign of its step (:func:`refine_subpixel`), so that the bright rim that
    edge brightening leaves on a film surface does not pull the boundary inside. The tilt
    :math:`\theta` is the slope of the robust line through the mid-line
    :math:`(y_t + y_b)/2`; the local thickness is :func:`normal_distance`.
    """
    if not np.isfinite(pixel_size_um) or pixel_size_um <= 0:
        raise ImageError(f"The pixel size must be a positive number of um, got {pixel_size_um}.")
    gray = to_gray(image)
    require_contrast(gray)
    if isinstance(annotations, str):
        if annotations != "auto":
            raise ImageError(
                f"annotations must be 'auto', found annotations or None, got {annotations!r}."
            )
        annotations = find_annotations(image)
    row0, row1 = 0, gray.shape[0]
    if rows is not None:
        row0, row1 = max(0, rows[0]), min(gray.shape[0], rows[1])
    if annotations is not None:
        start, stop = annotations.content_rows()
        row0, row1 = max(row0, start), min(row1, stop)
    gray = gray[row0:row1]
    h, w = gray.shape
    if h < 2 * max(min_separation_px, step_px) + 4 or w < 8:
        raise ImageError(f"The image ({w} x {h} px) is too small to hold a film cross-section.")
    blocked = np.zeros((h, w), bool)
    if annotations is not None and annotations.regions:
        reach_y = step_px + int(np.ceil(3 * smooth_y_px))
        blocked = _strength_mask(annotations, int(np.ceil(3 * smooth_x_px)), reach_y)[row0:row1]
    near_blocked = cv2.dilate(blocked.astype(np.uint8), np.ones((2 * step_px + 1, 1), np.uint8)) > 0
    free = gray[~blocked]
    if free.size == 0:
        raise ImageError("The whole image is annotations; there is no film to measure.")
    lo, hi = np.percentile(free[:: max(1, free.size // (1 << 20))], (0.1, 99.9))
    gray = normalize(gray, levels=(float(lo), float(hi)))
    smooth = cv2.GaussianBlur(gray, (0, 0), sigmaX=smooth_x_px, sigmaY=smooth_y_px)
    # The boundaries are traced with the filler's texture removed (see refine_along; the
    # shift a tilt gives an erosion along rows is the same for both boundaries and is
    # undone by the refinement).
    traced = without_filler(gray, filler_px)
    traced = cv2.GaussianBlur(traced, (0, 0), sigmaX=smooth_x_px, sigmaY=smooth_y_px)
    signed = step_response(traced, step_px)
    strength = np.abs(signed)
    strength[blocked] = 0.0
    first, second = _two_paths(strength, max(min_separation_px, step_px))
    if np.mean(second) < np.mean(first):
        first, second = second, first
    cols = np.arange(w)
    bounds = []
    # The refinement must not reach the other boundary of a thin film.
    half = int(np.clip(0.4 * float(np.median(second - first)), 2, 12))
    for path in (first, second):
        along = signed[path, cols]
        sign = 1.0 if np.median(along[~blocked[path, cols]]) >= 0 else -1.0
        refined = refine_along(
            gray,
            path,
            sign,
            smooth_x_px,
            smooth_y_px,
            max(1, min(step_px, half - 1)),
            filler_px=filler_px,
            half_px=half,
        )
        resp = strength[path, cols]
        # Where an annotation hides the boundary the path takes a detour through the film's
        # texture next to it: a boundary that comes near a masked region is not measured.
        ok = (resp >= min_strength * np.median(resp[resp > 0])) & ~near_blocked[path, cols]
        bounds.append(np.where(ok, refined, np.nan))
    top, substrate = bounds
    bottom, gap = find_delamination(smooth, top, substrate, min_defect_px=min_defect_px)
    valid = np.isfinite(top) & np.isfinite(bottom)
    if np.count_nonzero(valid) < 2:
        raise ImageError("No film with two boundaries across the image was found.")
    x = np.arange(w, dtype=np.float64)
    mid = (top + bottom) / 2.0
    # Dents and waves are the film's shape, not outliers: the line is fitted to all measured
    # columns.
    slope = float(np.polyfit(x[valid], mid[valid], 1)[0])
    tilt = float(np.degrees(np.arctan(slope)))
    # The foot of the normal can lie as far along the film as the film is thick.
    reach = int(np.ceil(float(np.nanmax(bottom - top)))) + 2
    thickness = np.where(valid, normal_distance(top, bottom, reach), np.nan) * pixel_size_um
    measured = thickness[valid]
    stats = {
        "mean": float(measured.mean()),
        "std": float(measured.std(ddof=1)) if measured.size > 1 else 0.0,
        "min": float(measured.min()),
        "max": float(measured.max()),
        "p2": float(np.percentile(measured, 2)),
        "p98": float(np.percentile(measured, 98)),
    }
    limit = (
        min_thickness_um
        if min_thickness_um is not None
        else (1.0 - thin_fraction) * float(np.median(measured))
    )
    defects = [
        FilmDefect(s, e, "thinning") for s, e in _runs(valid & (thickness < limit), min_defect_px)
    ]
    # Voids are found at the scale of their own size, not of the boundaries' smoothing.
    voids = find_voids(cv2.GaussianBlur(gray, (0, 0), sigmaX=2.0, sigmaY=1.0), top, bottom)
    defects += [FilmDefect(s, e, "void") for s, e in _runs(voids & ~gap, min_defect_px)]
    defects += [FilmDefect(s, e, "delamination") for s, e in _runs(gap, min_defect_px)]
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
        coverage=float(np.count_nonzero(valid)) / w,
        masked_fraction=0.0 if annotations is None else annotations.masked_fraction,
        annotations=() if annotations is None else annotations.regions,
    )
