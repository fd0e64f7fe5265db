"""Segmentation of filler particles in top-view images and per-particle measures.

Pipeline: grey -> percentile stretch to 8 bits -> illumination correction -> denoising ->
threshold (automatic or chosen) -> hole filling, labelling and size filter -> splitting of
touching particles at their necks (and through the gaps they enclose) -> moments, perimeter and
equivalent diameter of each particle.

Whole-image passes run on one byte per pixel up to the mask. Work per object is kept to the
objects that need it: every outline is traced once for the whole image and drawn filled to label
it, only components with a concavity deep enough to be a neck go through clump splitting (in
their bounding box, each piece traced once), and areas, centroids and second moments of all
particles come from sums over the object pixels grouped by label (``numpy.bincount``), not from
one pass per particle.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import pairwise

import cv2
import numpy as np

from vision.errors import ImageError
from vision.preprocess import (
    correct_illumination,
    denoise,
    full_scale,
    grey_channel,
    grey_percentiles,
    noise_sigma,
    require_contrast,
    stretch_to_uint8,
)
from vision.significance import background, edge_level, significant_labels
from vision.threshold import Threshold, choose_threshold


@dataclass(frozen=True)
class Particle:
    """One segmented particle (pixel units; ``y`` grows downwards).

    Attributes
    ----------
    x_px, y_px : float
        Centroid [px], pixel centres at integer coordinates.
    area_px : int
        Pixel count [px^2].
    eq_diameter_px : float
        Diameter of the disc of equal area, ``sqrt(4 A / pi)`` [px].
    circularity : float
        ``4 pi A / P^2`` with P the contour length through boundary pixel centres; about
        0.9 for digital discs, lower for elongated or rough particles.
    aspect_ratio : float
        Major / minor axis of the ellipse with the same second moments (>= 1).
    bbox : tuple of int
        ``(x, y, width, height)`` [px].
    """

    x_px: float
    y_px: float
    area_px: int
    eq_diameter_px: float
    circularity: float
    aspect_ratio: float
    bbox: tuple[int, int, int, int]


@dataclass(frozen=True)
class Segmentation:
    """Labelled particles of one image.

    Attributes
    ----------
    labels : numpy.ndarray
        ``int32`` (H, W); 0 = background, particle ``i`` of ``particles`` has label ``i + 1``.
    particles : tuple of Particle
    threshold : Threshold
        How the foreground was separated (method, level, polarity).
    illumination_corrected : bool
    """

    labels: np.ndarray = field(repr=False)
    particles: tuple[Particle, ...]
    threshold: Threshold = field(repr=False)
    illumination_corrected: bool
    #: Objects too small to be filler beside this image's particles (:func:`debris_of`),
    #: measured but left out of ``particles`` and of ``labels``.
    debris: tuple[Particle, ...] = ()

    @property
    def area_fraction(self) -> float:
        """Fraction of the image covered by particles [0-1]."""
        return float(sum(p.area_px for p in self.particles)) / self.labels.size


#: Debris is smaller than this fraction of the area-weighted median area (a tenth of its
#: diameter, a decade below the size the filler area sits in) ...
DEBRIS_SIZE = 0.01
#: ... and all of it together holds at most this share of the detected area.
DEBRIS_SHARE = 0.02


def debris_of(
    area_px: np.ndarray, size: float = DEBRIS_SIZE, share: float = DEBRIS_SHARE
) -> np.ndarray:
    """Which objects are debris beside the image's own particle population.

    Parameters
    ----------
    area_px : numpy.ndarray
        (n,) object areas [px^2].
    size : float, default 0.01
        Debris is smaller than ``size`` times the area-weighted median area.
    share : float, default 0.02
        All debris together holds at most this fraction of the total area.

    Returns
    -------
    numpy.ndarray
        (n,) bool.

    Notes
    -----
    With the areas sorted ``a_1 <= ... <= a_n``, the area-weighted median is the smallest
    ``a_m`` with ``sum_{i <= m} a_i >= (1/2) sum_i a_i``: half the detected area lies in objects
    at least that large (the median of the area-weighted distribution, ISO 9276-1 type ``Q2``,
    the image's analogue of the volume-weighted one [1]_). The debris are the ``k`` smallest
    objects for the largest ``k`` with ``a_k < size * a_m``, ``sum_{i <= k} a_i <= share *
    sum_i a_i`` and ``a_k < a_{k+1}``: one minimum size ``a_{k+1}``, as a person sets it in
    ImageJ's Analyze Particles [2]_, below the particles that carry the filler and dropping a
    negligible part of it. A number-weighted median follows the many small objects and would
    call nothing small beside them; the area-weighted one is the size of the filler. For
    lognormal primaries, ``ln a`` normal with mean ``mu`` and standard deviation ``s``
    (``s = 2 ln sigma_g`` for a geometric standard deviation ``sigma_g`` of the diameter),
    the area-weighted ``ln a`` is normal with mean ``mu + s^2`` [3]_, so
    ``a_m = exp(mu + s^2)`` and a fraction ``Phi(s + ln(size) / s)`` of the primaries lies
    below the minimum size: less than 1e-6 for ``sigma_g = 1.5`` and 0.3 % for the very
    broad ``sigma_g = 1.8``.

    References
    ----------
    .. [1] T. Allen, Particle Size Measurement, 5th ed., Vol. 1, Chapman & Hall (1997)
       (number- and volume-weighted distributions and their medians).
    .. [2] T. Ferreira, W. Rasband, ImageJ User Guide, IJ 1.46r (2012), Analyze Particles:
       Size (minimum - maximum).
    .. [3] T. Hatch, S. P. Choate, "Statistical description of the size properties of
       non-uniform particulate substances", J. Franklin Inst. 207(3), 369-387 (1929).
    """
    a = np.asarray(area_px, np.float64)
    out = np.zeros(a.size, bool)
    if a.size < 2:
        return out
    order = np.argsort(a, kind="stable")
    sa = a[order]
    cum = np.cumsum(sa)
    median = sa[np.searchsorted(cum, cum[-1] / 2.0)]
    ok = (sa < size * median) & (cum <= share * cum[-1]) & (sa < np.append(sa[1:], np.inf))
    if ok.any():
        out[order[: int(np.flatnonzero(ok)[-1]) + 1]] = True
    return out


def fill_holes(mask: np.ndarray) -> np.ndarray:
    """Fill background regions of a 0/255 mask that do not touch the image border.

    Notes
    -----
    Flood fill of the background from a padded border; whatever the flood does not reach is a
    hole. Equivalent to ``scipy.ndimage.binary_fill_holes`` and several times faster.
    """
    flood = cv2.copyMakeBorder(mask, 1, 1, 1, 1, cv2.BORDER_CONSTANT, value=0)
    ff_mask = np.zeros((flood.shape[0] + 2, flood.shape[1] + 2), np.uint8)
    cv2.floodFill(flood, ff_mask, (0, 0), 128)
    # Everything the flood did not reach (objects and their holes) becomes object.
    return cv2.compare(flood[1:-1, 1:-1], 128, cv2.CMP_NE)


def contour_concavities(contour: np.ndarray, min_depth_px: float) -> list[tuple[int, int, float]]:
    """Deepest points of the concavities of a closed contour at least ``min_depth_px`` deep.

    Parameters
    ----------
    contour : numpy.ndarray
        (n, 1, 2) ``int32`` points of an 8-connected outline, as from ``cv2.findContours``
        with ``CHAIN_APPROX_NONE``.
    min_depth_px : float
        Minimum distance from the convex hull [px].

    Returns
    -------
    list of (int, int, float)
        x, y of each concavity point and its depth [px].
    """
    defects = _convexity_defects(contour)
    if defects is None:
        return []
    # Plain Python numbers: a handful of rows, where numpy's per-call cost would dominate.
    return [
        (*contour[i, 0].tolist(), d / 256.0)
        for _, _, i, d in defects.tolist()
        if d / 256.0 >= min_depth_px
    ]


def _junction_chords(
    part: np.ndarray, labels: np.ndarray, k: int, outline: np.ndarray, min_depth_px: float
) -> list[tuple[tuple[int, int], ...]]:
    """Segments from a concavity of piece ``k`` (``part``, 0/255) at least ``min_depth_px``
    deep, along its inward normal, to where they leave the piece onto a sibling piece of
    ``labels`` (a cut made before), deepest concavity first.

    Where three particles meet, the first cut runs through their junction and leaves the
    other two joined by a boundary that reaches the outline at a single concavity; its other
    end is the junction, on that cut. The boundary between two touching convex particles is
    about normal to their common tangent, the hull edge across the concavity.
    """
    defects = _convexity_defects(outline)
    if defects is None:
        return []
    h, w = part.shape
    out = []
    for s, e, f, d in sorted(defects.tolist(), key=lambda row: -row[3]):
        if d / 256.0 < min_depth_px:
            break
        (sx, sy), (ex, ey), (fx, fy) = (outline[i, 0].tolist() for i in (s, e, f))
        if _touches(labels, fx, fy, 2, lambda v: (v > 0) & (v != k)):
            # The end of a cut made before, not a neck of the outline.
            continue
        tx, ty = ex - sx, ey - sy
        norm = math.hypot(tx, ty)
        if norm == 0:
            continue
        # The hull runs around the piece, so its inward normal points away from the
        # farthest point's foot on the hull edge towards the farthest point and on.
        t = ((fx - sx) * tx + (fy - sy) * ty) / norm**2
        nx, ny = fx - (sx + t * tx), fy - (sy + t * ty)
        length = math.hypot(nx, ny)
        nx, ny = nx / length, ny / length
        x, y = float(fx), float(fy)
        inside = False
        for _ in range(2 * (h + w)):
            x, y = x + nx * 0.5, y + ny * 0.5
            ix, iy = round(x), round(y)
            if not (0 <= ix < w and 0 <= iy < h) or not part[iy, ix]:
                break
            inside = True
        # On a cut, not at its end on the outline.
        if (
            inside
            and _touches(labels, ix, iy, 1, lambda v: (v > 0) & (v != k))
            and not _touches(labels, ix, iy, 1, lambda v: v == 0)
        ):
            # A pixel past the piece's edge, so that the cut leaves no diagonal link there.
            end = (min(max(round(x + nx), 0), w - 1), min(max(round(y + ny), 0), h - 1))
            out.append(((fx, fy), end))
    return out


def _touches(
    labels: np.ndarray, x: int, y: int, r: int, test: Callable[[np.ndarray], np.ndarray]
) -> bool:
    """Whether a pixel of ``labels`` within ``r`` px (a square) of ``(x, y)`` passes ``test``."""
    return bool(test(labels[max(y - r, 0) : y + r + 1, max(x - r, 0) : x + r + 1]).any())


def _convexity_defects(contour: np.ndarray) -> np.ndarray | None:
    """(k, 4) ``cv2.convexityDefects`` rows (start, end, farthest point, depth * 256) of a
    contour, or None when it has none."""
    if len(contour) < 5:
        return None
    hull = cv2.convexHull(contour, returnPoints=False)
    hull.sort(axis=0)
    try:
        defects = cv2.convexityDefects(contour, hull)
    except cv2.error:
        # Self-touching contours (one-pixel bridges) have no well-defined defects.
        return None
    # OpenCV 4 returns None for a contour without defects, OpenCV 5 an empty array.
    if defects is None or len(defects) == 0:
        return None
    return defects.reshape(-1, 4)


def _outline(part: np.ndarray) -> np.ndarray:
    """External outline of a single 8-connected shape (``CHAIN_APPROX_NONE``)."""
    contours, _ = cv2.findContours(part, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    return contours[0] if len(contours) == 1 else max(contours, key=cv2.contourArea)


# Clump splitting defaults, see :func:`split_touching`.
_PARTNER_DEPTH = 0.85
_RELATIVE_DEPTH = 0.03
_MAX_CUTS = 256
# Between a neck's thickness ratio (below 1) and a cut through a particle's middle (2), with
# half a pixel for digitisation; see _over_ridge.
_RIDGE_RATIO = 1.75
_RIDGE_TOL = 0.5


def neck_depth_px(
    area_px: float,
    min_depth_px: float,
    relative_depth: float = _RELATIVE_DEPTH,
    edge_sigma_px: float = 0.0,
) -> float:
    """Depth a concavity needs to count as a neck between touching particles [px].

    Digitisation roughens large outlines by more than a pixel, so the depth grows with size,
    and pixel noise moves every outline point by ``edge_sigma_px``
    (:func:`edge_sigma`): ``max(min_depth_px, relative_depth * sqrt(area_px),
    2 sqrt(2 ln P) edge_sigma_px)``, with ``P = 2 sqrt(pi area_px)`` the outline length of
    the disc of that area [px]. The hull of a noisy outline rests on its outermost points and a
    concavity reaches its innermost: each is about ``sqrt(2 ln P)`` sigma out, the expected
    extreme of ``P`` Gaussian deviations.
    """
    depth = max(min_depth_px, relative_depth * math.sqrt(area_px))
    if edge_sigma_px > 0:
        outline = max(2.0 * math.sqrt(math.pi * area_px), 3.0)
        depth = max(depth, 2.0 * math.sqrt(2.0 * math.log(outline)) * edge_sigma_px)
    return depth


def _inner_chords(
    part: np.ndarray, points: list[tuple[int, int, float]], min_depth_px: float
) -> list[tuple[tuple[int, int], ...]]:
    """Segments through the shape joining two concavity points (x, y, depth), at least one of
    them ``min_depth_px`` deep, shortest first."""
    chords: list[tuple[float, tuple[tuple[int, int], ...]]] = []
    for i, (ax, ay, a_depth) in enumerate(points):
        for bx, by, b_depth in points[i + 1 :]:
            # round() halves to even, as numpy.rint.
            if (
                max(a_depth, b_depth) >= min_depth_px
                and part[round((ay + by) / 2.0), round((ax + bx) / 2.0)]
            ):
                dx, dy = ax - bx, ay - by
                chords.append((math.sqrt(dx * dx + dy * dy), ((ax, ay), (bx, by))))
    return [c for _, c in sorted(chords)]


_NEIGHBOURS = np.ones((3, 3), np.uint8)


def _chord_length(chord: tuple[tuple[int, int], ...]) -> float:
    """Length of a two-point chord [px]."""
    (ax, ay), (bx, by) = chord
    return math.hypot(ax - bx, ay - by)


def _cut(
    part: np.ndarray,
    chord: tuple[tuple[int, int], ...],
    min_part_px: int,
    gap: np.ndarray | None = None,
) -> tuple[np.ndarray, int] | None:
    """Labels (``uint16``, 1..n) of ``part`` cut along ``chord``, the cut's pixels given back to
    a neighbouring piece; None when a piece would be a sliver.

    ``chord`` holds one segment (two points) or, with ``gap`` (a boolean crop of an enclosed
    gap, left out of every piece), two segments (four points) from the outline to the gap
    and from the gap back to the outline.
    """
    trial = part.copy()
    if gap is not None:
        trial[gap] = 0
    base = trial.copy()
    segments = list(zip(chord[::2], chord[1::2], strict=True))
    for a, b in segments:
        cv2.line(trial, a, b, 0, 1, cv2.LINE_4)
    n, lab = cv2.connectedComponents(trial, connectivity=8, ltype=cv2.CV_16U)
    if n < 3:
        return None
    # Each piece must be at least a quarter-square of the cut (a half-disc is
    # 1.57 r^2 > (2r)^2 / 4); thinner pieces are slivers along the cut, not particles.
    # Through a gap, the pieces' side along the cut runs from outline to outline across it.
    length = sum(math.dist(a, b) for a, b in pairwise(chord))
    if min(np.bincount(lab.reshape(-1))[1:].tolist()) < max(min_part_px, length**2 / 4.0):
        return None
    # The pixels of the cut: in the part, in no piece.
    orphans = base != trial
    if _over_ridge(base, trial, lab, n - 1, orphans):
        return None
    while True:
        # Each takes the largest label among its neighbours.
        lab[orphans] = cv2.dilate(lab, _NEIGHBOURS)[orphans]
        orphans &= lab == 0
        if not orphans.any():
            return lab, n - 1


def _over_ridge(
    base: np.ndarray, trial: np.ndarray, pieces: np.ndarray, m: int, cut: np.ndarray
) -> bool:
    """Whether a cut runs across the body of a particle rather than through a neck: somewhere
    on it the uncut shape is much thicker than one of the pieces it leaves.

    Notes
    -----
    With ``D`` the Euclidean distance to the background of the uncut shape ``base`` and
    ``D'`` that of the cut one ``trial`` (both 0/255), a cut is refused when
    ``max_cut D > RIDGE_RATIO max_{piece j} D' + 1/2`` [px] for some piece ``j``, half a pixel
    for the digitisation of both. A neck between two particles is a saddle of ``D``, thinner
    than either particle, and cutting it leaves each its inscribed radius: the ratio is
    below 1. A cut through the middle of a convex particle of inscribed radius ``r`` crosses
    ``D = r`` and leaves halves of inscribed radius about ``r / 2``: a ratio of 2. A disc of
    radius ``r`` with bites ``b`` deep at both ends of a diameter gives ``2 - 2 b / r``:
    ``RIDGE_RATIO = 1.75`` refuses the cut for bites shallower than ``r / 8``, which are
    roughness, not necks. It costs two distance transforms of a clump's crop per trial cut.
    The saddle of the distance transform between two of its peaks is where the
    distance-transform watershed [1]_ parts two touching convex particles.

    References
    ----------
    .. [1] S. Beucher, F. Meyer, "The morphological approach to segmentation: the watershed
       transformation", in Mathematical Morphology in Image Processing, Dekker (1993), 433-481.
    """
    dist = cv2.distanceTransform(base, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    saddle = float(dist[cut].max())
    own = cv2.distanceTransform(trial, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    for j in range(1, m + 1):
        _, peak, _, _ = cv2.minMaxLoc(own, cv2.compare(pieces, j, cv2.CMP_EQ))
        if saddle > _RIDGE_RATIO * peak + _RIDGE_TOL:
            return True
    return False


def _gap_cusps(gap: np.ndarray) -> list[tuple[int, int]]:
    """Corners of an enclosed gap (boolean crop): the vertices of its convex hull, among which
    are the cusps where the touching particles around it meet."""
    contours, _ = cv2.findContours(gap.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    hull = cv2.convexHull(max(contours, key=cv2.contourArea))
    return [tuple(p) for p in hull.reshape(-1, 2).tolist()]


def _across(gap: np.ndarray, a: tuple[int, int], b: tuple[int, int]) -> bool:
    """Whether corners ``a`` and ``b`` of a gap lie across it, not at one tip: at least 2 px
    apart with the middle of their segment in the gap."""
    return math.dist(a, b) >= 2.0 and bool(
        gap[round((a[1] + b[1]) / 2.0), round((a[0] + b[0]) / 2.0)]
    )


def _gap_cuts(
    part: np.ndarray,
    points: list[tuple[int, int, float]],
    gaps: np.ndarray,
    min_depth_px: float,
) -> list[tuple[float, tuple[tuple[int, int], ...], int]]:
    """Cuts through the enclosed gaps of ``part``: from a concavity of the outline to a corner
    of a gap and from another corner back to another concavity, at least one concavity
    ``min_depth_px`` deep, each segment's middle in the particle material, as (length of the
    two segments, the four points, gap label). The gap itself already separates the
    particles around it, so only the two necks need cutting."""
    out: list[tuple[float, tuple[tuple[int, int], ...], int]] = []
    in_part = gaps[part > 0]
    for g in np.unique(in_part[in_part > 0]).tolist():
        gap = gaps == g
        cusps = _gap_cusps(gap)
        material = (part > 0) & ~gap
        # The two nearest corners reachable through material from each concavity: the best
        # cut between two concavities uses the nearest corner of each, or the second
        # nearest of one when the nearest two are not across the gap from each other.
        near = []
        for ax, ay, a_depth in points:
            legs = sorted(
                (math.hypot(ax - cx, ay - cy), (cx, cy))
                for cx, cy in cusps
                if material[round((ay + cy) / 2.0), round((ax + cx) / 2.0)]
            )[:2]
            near.append(((ax, ay), a_depth, legs))
        for i, (a, da, legs_a) in enumerate(near):
            for b, db, legs_b in near[i + 1 :]:
                if max(da, db) < min_depth_px or not legs_a or not legs_b:
                    continue
                best = min(
                    (
                        (la + lb, ca, cb)
                        for la, ca in legs_a
                        for lb, cb in legs_b
                        if _across(gap, ca, cb)
                    ),
                    default=None,
                )
                if best is not None:
                    out.append((best[0], (a, best[1], best[2], b), g))
    return out


def _walled_in(labels: np.ndarray, part: np.ndarray, done: tuple[np.ndarray, int]) -> bool:
    """Whether a cut of ``part`` (0/255) into ``done`` leaves a wedge: a triangle or
    quadrilateral (its outline within 2 px, the digitisation of a straight cut on both sides,
    of three or four straight sides) with less than a third of its outline free, the rest
    bordering other labels of ``labels`` or its sibling pieces. Such a piece is the junction
    of three or four touching particles, bounded by the cuts between them; a particle's necks
    are narrower than it, so most of its outline is its own surface."""
    pieces, m = done
    # Outside the clump, or in the gap a cut runs through.
    empty = cv2.bitwise_or(
        cv2.compare(labels, 0, cv2.CMP_EQ),
        cv2.bitwise_and(part, cv2.compare(pieces, 0, cv2.CMP_EQ)),
    )
    background = cv2.dilate(empty, _NEIGHBOURS)
    for j in range(1, m + 1):
        piece = cv2.compare(pieces, j, cv2.CMP_EQ)
        ring = cv2.subtract(piece, cv2.erode(piece, _NEIGHBOURS))
        free = cv2.countNonZero(cv2.bitwise_and(ring, background))
        if (
            3 * free < cv2.countNonZero(ring)
            and len(cv2.approxPolyDP(_outline(piece), 2.0, closed=True)) <= 4
        ):
            return True
    return False


def _split_clump(
    component: np.ndarray,
    contour: np.ndarray | None,
    min_depth_px: float,
    min_part_px: int,
    partner_depth: float = _PARTNER_DEPTH,
    relative_depth: float = _RELATIVE_DEPTH,
    max_cuts: int = _MAX_CUTS,
    edge_sigma_px: float = 0.0,
    gaps: np.ndarray | None = None,
) -> tuple[np.ndarray, list[np.ndarray]]:
    """:func:`split_touching` that also gives the outline of every piece.

    ``contour`` is the component's outline in the crop's coordinates when already traced.
    ``gaps`` (``int32`` crop, 0 elsewhere) labels the resolved gaps enclosed by the component
    (holes of the unfilled mask, filled in ``component``): a cut may run through one
    (:func:`_gap_cuts`), which then becomes background; a gap never cut through stays filled.
    Returns the ``int32`` labels and ``outlines[j - 1]``, the external outline of piece ``j``:
    the outline each piece was last examined with, for no cut changes a piece it leaves whole.
    """
    labels = (component > 0).astype(np.int32)
    pending: list[tuple[int, np.ndarray | None]] = [(1, contour)]
    outlines: dict[int, np.ndarray] = {}
    n = 1
    while pending and n <= max_cuts:
        k, outline = pending.pop()
        part = cv2.compare(labels, k, cv2.CMP_EQ)
        if outline is None:
            outline = _outline(part)
        # Partner concavities may be shallower: blur fills one side of a neck more than the other.
        depth = neck_depth_px(cv2.countNonZero(part), min_depth_px, relative_depth, edge_sigma_px)
        points = contour_concavities(outline, partner_depth * depth)
        chords = _inner_chords(part, points, depth) if len(points) > 1 else []
        done = None
        if gaps is None or not points:
            for chord in chords[:8]:
                done = _cut(part, chord, min_part_px)
                if done is not None and not _walled_in(labels, part, done):
                    break
                done = None
        else:
            # Plain chords and cuts through a gap, shortest first.
            plain = [(_chord_length(c), c, 0) for c in chords]
            for _, chord, g in sorted(plain + _gap_cuts(part, points, gaps, depth))[:8]:
                done = _cut(part, chord, min_part_px, gaps == g if g else None)
                if done is not None and not _walled_in(labels, part, done):
                    break
                done = None
        if done is None and n > 1:
            # A piece of a clump already cut: the junction of three particles may lie on
            # that cut.
            for chord in _junction_chords(part, labels, k, outline, depth)[:4]:
                done = _cut(part, chord, min_part_px)
                if done is not None and not _walled_in(labels, part, done):
                    break
                done = None
        if done is None:
            outlines[k] = outline
            continue
        pieces, m = done
        # A gap cut through is background now.
        labels[(pieces == 0) & (part > 0)] = 0
        for j in range(2, m + 1):
            n += 1
            labels[pieces == j] = n
            pending.append((n, None))
        pending.append((k, None))
    for k, _ in pending:
        # Left by the bound on cuts, unexamined.
        outlines[k] = _outline(cv2.compare(labels, k, cv2.CMP_EQ))
    return labels, [outlines[k] for k in range(1, n + 1)]


def split_touching(
    component: np.ndarray,
    min_depth_px: float = 1.0,
    min_part_px: int = 10,
    partner_depth: float = _PARTNER_DEPTH,
    relative_depth: float = _RELATIVE_DEPTH,
    max_cuts: int = _MAX_CUTS,
) -> tuple[np.ndarray, int]:
    """Split one binary component into touching convex particles by cutting at its necks.

    Parameters
    ----------
    component : numpy.ndarray
        ``uint8`` 0/1 crop holding a single 8-connected component, with a 1-px empty margin.
    min_depth_px : float, default 1.0
        Concavities shallower than this are boundary noise, not necks [px].
    min_part_px : int, default 10
        A cut that would leave a piece smaller than this is not made [px^2].
    partner_depth : float, default 0.85
        The second concavity of a cut may be this fraction of ``min_depth_px`` deep.
    relative_depth : float, default 0.03
        The neck depth is at least this fraction of the square root of the part's area.
    max_cuts : int, default 256
        Safety bound on the number of cuts.

    Returns
    -------
    labels : numpy.ndarray
        ``int32`` crop, 0 outside, 1..n inside.
    n : int
        Number of particles (1 when the component is not split).

    Notes
    -----
    Rule-based clump splitting [1]_: while a part has two concavities (convexity defects), one
    at least ``min_depth_px`` deep and the other at least ``partner_depth * min_depth_px``, whose
    joining segment lies inside it, it is cut along the shortest such segment that leaves no
    piece smaller than ``min_part_px`` or than a quarter of the cut length squared (a sliver);
    the pixels of the cut go to a neighbouring piece. A piece of a clump already cut that has
    one such concavity and no partner is cut from it along its inward normal when that
    reaches the earlier cut: where three particles meet, the first cut runs through their
    junction (:func:`_junction_chords`). No cut is made across the body of a particle, where
    the shape is thicker than a piece left (:func:`_over_ridge`). Unlike markers from
    distance-transform maxima (the distance-transform watershed of [2]_), a neck is found
    whatever the size ratio of the two particles, because the depth of the concavity does not
    depend on it.

    References
    ----------
    .. [1] S. Kumar, S. H. Ong, S. Ranganath, T. C. Ong, F. T. Chew, "A rule-based approach for
       robust clump splitting", Pattern Recognition 39(6), 1088-1098 (2006).
    .. [2] S. Beucher, F. Meyer, "The morphological approach to segmentation: the watershed
       transformation", in Mathematical Morphology in Image Processing, Dekker (1993), 433-481.
    """
    labels, outlines = _split_clump(
        component, None, min_depth_px, min_part_px, partner_depth, relative_depth, max_cuts
    )
    return labels, len(outlines)


def measure_particle(mask: np.ndarray, x0: int, y0: int) -> Particle:
    """Measures of one particle from its binary crop whose top-left pixel is ``(x0, y0)``.

    Notes
    -----
    Centroid and equivalent ellipse from image moments (Hu 1962); aspect ratio
    ``sqrt(l1 / l2)`` of the eigenvalues of the central second-moment matrix.
    """
    m = cv2.moments(mask, binaryImage=True)
    area = m["m00"]
    mu20, mu02, mu11 = m["mu20"] / area, m["mu02"] / area, m["mu11"] / area
    root = np.sqrt(((mu20 - mu02) / 2.0) ** 2 + mu11**2)
    l1, l2 = (mu20 + mu02) / 2.0 + root, (mu20 + mu02) / 2.0 - root
    aspect = float(np.sqrt(l1 / l2)) if l2 > 1e-9 else float("inf")
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    perimeter = sum(cv2.arcLength(c, closed=True) for c in contours)
    circularity = float(4.0 * np.pi * area / perimeter**2) if perimeter > 0 else 1.0
    return Particle(
        x_px=float(x0 + m["m10"] / area),
        y_px=float(y0 + m["m01"] / area),
        area_px=int(area),
        eq_diameter_px=float(np.sqrt(4.0 * area / np.pi)),
        circularity=min(circularity, 1.0),
        aspect_ratio=aspect,
        bbox=(int(x0), int(y0), int(mask.shape[1]), int(mask.shape[0])),
    )


def segment_particles(
    image: np.ndarray,
    *,
    min_area_px: int = 10,
    threshold: str = "auto",
    bright_objects: bool | None = None,
    illumination: str | bool = "auto",
    denoise_sigma_px: float = 1.0,
    split: bool = True,
    split_depth_px: float = 1.0,
    texture_is_background: bool = True,
    separate_debris: bool = True,
) -> Segmentation:
    """Segment and measure filler particles in a top-view micrograph.

    Parameters
    ----------
    image : numpy.ndarray
        Grey, RGB or RGBA, 8- or 16-bit (or float in [0, 1]).
    min_area_px : int, default 10
        Smaller objects are noise and dropped [px^2].
    threshold : {"auto", "otsu", "triangle", "adaptive"}
        See :func:`vision.threshold.choose_threshold`.
    bright_objects : bool, optional
        Particle polarity; default: the minority phase.
    illumination : {"auto", True, False}
        Shading correction; see :func:`vision.preprocess.correct_illumination`.
    denoise_sigma_px : float, default 1.0
        Gaussian smoothing before thresholding [px].
    split : bool, default True
        Split touching particles at their necks (see :func:`split_touching`).
    split_depth_px : float, default 1.0
        Minimum depth of a neck between touching particles [px]; see :func:`split_touching`.
        Noisy images need deeper necks: the depth is raised to what pixel noise carves into
        an outline (:func:`edge_sigma`, :func:`neck_depth_px`).
    texture_is_background : bool, default True
        With a global threshold, keep only pixels whose contrast exceeds the background's
        spread (:func:`vision.significance.edge_level`) and objects that are significant at
        their own scale (:func:`vision.significance.significant_labels`), so that a granular
        or textured matrix is not counted as particles.
    separate_debris : bool, default True
        Report objects far smaller than the particles that carry the filler area, and
        negligible in area together, as ``debris`` rather than particles (:func:`debris_of`).

    Returns
    -------
    Segmentation

    Raises
    ------
    ImageError
        Bad parameters or an image without contrast.
    """
    if min_area_px < 1:
        raise ImageError(f"min_area_px must be at least 1, got {min_area_px}.")
    gray = grey_channel(image)
    lo, lo1, hi1, hi = grey_percentiles(gray, (0.1, 1.0, 99.0, 99.9))
    top = full_scale(gray)
    require_contrast(gray, levels=(lo / top, hi / top))
    # One byte per pixel from here to the mask; the stretch is affine, so the 1st and 99th
    # percentiles of its result follow from the image's.
    gray8 = stretch_to_uint8(gray, (lo, hi))
    scale = 255.0 / (hi - lo)
    gray8, corrected = correct_illumination(
        gray8, illumination, grey_range=((lo1 - lo) * scale, (hi1 - lo) * scale)
    )
    # Pixel noise left after smoothing: a 2-D Gaussian of sigma s passes white noise with
    # a gain of 1 / (2 sqrt(pi) s).
    noise = _noise_sample(gray8)
    if denoise_sigma_px > 0:
        noise /= 2.0 * math.sqrt(math.pi) * denoise_sigma_px
    gray8 = denoise(gray8, denoise_sigma_px)
    thr = choose_threshold(gray8, threshold, bright_objects)
    significant = None
    if texture_is_background and thr.method != "adaptive":
        # A global level: the background is one level with one spread (after the shading
        # correction), against which texture and particles are told apart.
        thr, significant = _against_background(gray8, thr)
    labels, contour_of = label_filled(thr.mask)
    n = len(contour_of)
    sigma_x = edge_sigma(gray8, contour_of, noise)
    # Nothing smaller than the blur's disc (radius sigma) is resolved beside a neighbour: a
    # cut may leave no piece, and a gap counts only, of at least that area.
    resolved_px = max(
        min_area_px, math.ceil(math.pi * blur_sigma_px(gray8, thr.mask, contour_of) ** 2)
    )
    del gray8
    # Only the object pixels are visited from here on: sums over them grouped by label give
    # each component's area, and later every particle's moments.
    pts = cv2.findNonZero(labels)
    xy = np.empty((0, 2), np.int32) if pts is None else pts.reshape(-1, 2)
    # Flat indices: a 1-D gather is several times faster than a 2-D fancy index.
    flat = xy[:, 1].astype(np.intp) * labels.shape[1] + xy[:, 0]
    of_pixel = labels.reshape(-1)[flat]
    area = np.bincount(of_pixel, minlength=n)
    keep = area >= min_area_px
    if significant is not None:
        keep &= significant(labels, area, (flat, of_pixel))
    del of_pixel
    keep[0] = False
    boxes = np.array(
        [(0, 0, 0, 0)] + [cv2.boundingRect(c) for c in contour_of[1:]], np.int64
    ).reshape(-1, 4)
    pieces = _split_and_trace(
        labels,
        area,
        boxes,
        contour_of,
        np.flatnonzero(keep),
        split,
        split_depth_px,
        resolved_px,
        sigma_x,
        thr.mask,
    )
    table = _measure_all(labels, xy, flat, boxes, keep, pieces)
    objects = [
        Particle(x, y, a, d, c, r, (bx, by, bw, bh))
        for x, y, a, d, c, r, bx, by, bw, bh in zip(*(col.tolist() for col in table), strict=True)
    ]
    small = debris_of(table[2]) if separate_debris else np.zeros(len(objects), bool)
    if small.any():
        # Debris leaves the labels; the particles keep consecutive ids (object pixels only).
        lut = np.zeros(len(objects) + 1, np.int32)
        lut[1:][~small] = np.arange(1, len(objects) - int(small.sum()) + 1, dtype=np.int32)
        pixels = labels.reshape(-1)
        pixels[flat] = lut[pixels[flat]]
    particles = tuple(p for p, d in zip(objects, small.tolist(), strict=True) if not d)
    debris = tuple(p for p, d in zip(objects, small.tolist(), strict=True) if d)
    return Segmentation(labels, particles, thr, corrected, debris)


def _noise_sample(gray8: np.ndarray) -> float:
    """Pixel noise sigma [grey levels] of an 8-bit image, from its central 1024 x 1024 px
    (:func:`vision.preprocess.noise_sigma`)."""
    h, w = gray8.shape
    y0, x0 = max(0, (h - 1024) // 2), max(0, (w - 1024) // 2)
    crop = gray8[y0 : y0 + 1024, x0 : x0 + 1024]
    return noise_sigma(crop) if min(crop.shape) >= 3 else 0.0


def edge_sigma(gray: np.ndarray, contours: list[np.ndarray | None], noise: float) -> float:
    """Standard deviation of an outline point's position from pixel noise [px].

    Parameters
    ----------
    gray : numpy.ndarray
        The thresholded (denoised) image.
    contours : list
        Outlines of the objects (``None`` entries skipped).
    noise : float
        Noise sigma of ``gray`` [grey levels].

    Notes
    -----
    Noise ``sigma_n`` on an edge whose grey level changes by ``g`` per pixel moves the edge by
    ``sigma_x = sigma_n / g`` [px]; ``g`` is the median gradient magnitude (central
    differences) on the outline pixels. See :func:`neck_depth_px` for the concavities it
    makes.
    """
    if noise <= 0:
        return 0.0
    grad = _edge_gradient(gray, contours)
    return noise / grad if grad > 0 else 0.0


def _edge_gradient(gray: np.ndarray, contours: list[np.ndarray | None]) -> float:
    """Median gradient magnitude (central differences) on the outline pixels [grey levels /
    px]; 0 without outlines."""
    pts = [c.reshape(-1, 2) for c in contours if c is not None]
    if not pts:
        return 0.0
    xy = np.concatenate(pts)
    h, w = gray.shape
    x, y = xy[:, 0], xy[:, 1]
    f = gray.astype(np.float32, copy=False) if gray.dtype != np.uint8 else gray
    xl, xr = np.maximum(x - 1, 0), np.minimum(x + 1, w - 1)
    yu, yd = np.maximum(y - 1, 0), np.minimum(y + 1, h - 1)
    gx = (f[y, xr].astype(np.float32) - f[y, xl]) / np.maximum(xr - xl, 1)
    gy = (f[yd, x].astype(np.float32) - f[yu, x]) / np.maximum(yd - yu, 1)
    return float(np.median(np.hypot(gx, gy)))


def blur_sigma_px(gray8: np.ndarray, mask: np.ndarray, contours: list[np.ndarray | None]) -> float:
    """Gaussian blur sigma of the object edges [px], from their contrast and steepest slope.

    Parameters
    ----------
    gray8 : numpy.ndarray
        The thresholded (denoised) ``uint8`` image.
    mask : numpy.ndarray
        ``uint8`` 0/255 object mask of ``gray8``.
    contours : list
        Outlines of the objects (``None`` entries skipped).

    Returns
    -------
    float
        ``sigma = C / (sqrt(2 pi) g)`` [px], 0 when it cannot be measured.

    Notes
    -----
    A step of height ``C`` blurred by a Gaussian of sigma ``s`` is steepest at its middle,
    where the outline lies (the 50 % edge criterion), with slope ``C / (s sqrt(2 pi))``.
    ``g`` is the median gradient on the outline pixels (:func:`edge_sigma`) and ``C`` the
    difference of the median grey levels of object and background pixels. Blur lowers the
    level inside small objects, so ``C`` and the sigma err low, never high.
    """
    grad = _edge_gradient(gray8, contours)
    if grad <= 0:
        return 0.0
    inside = cv2.calcHist([gray8], [0], mask, [256], [0, 256]).ravel()
    outside = cv2.calcHist([gray8], [0], cv2.bitwise_not(mask), [256], [0, 256]).ravel()
    if inside.sum() == 0 or outside.sum() == 0:
        return 0.0

    def median(hist: np.ndarray) -> float:
        return float(np.searchsorted(np.cumsum(hist), hist.sum() / 2.0))

    return abs(median(inside) - median(outside)) / (math.sqrt(2.0 * math.pi) * grad)


def _against_background(
    gray8: np.ndarray, thr: Threshold
) -> tuple[
    Threshold,
    Callable[[np.ndarray, np.ndarray, tuple[np.ndarray, np.ndarray]], np.ndarray] | None,
]:
    """``thr`` with no pixel within the background's own spread, and the test that tells
    which of its components are significant (see :mod:`vision.significance`); ``thr`` and
    None when no object pixel stands out of that spread."""
    bright = gray8 if thr.bright_objects else cv2.bitwise_not(gray8)
    # The threshold's level on the bright-objects scale [0-256]: bin edge k / 256.
    split = 256.0 * (thr.level if thr.bright_objects else 1.0 - thr.level)
    bg, pyramid = background(bright, split)
    edge = edge_level(bg)
    above = cv2.bitwise_and(thr.mask, cv2.compare(bright, edge, cv2.CMP_GE))
    if not cv2.countNonZero(above):
        # A bimodal histogram whose objects all lie within the background's spread: that
        # spread is shading or a second phase below the objects, not a texture among them.
        return thr, None
    mask, level = thr.mask, thr.level
    if cv2.countNonZero(above) < cv2.countNonZero(mask):
        # The level lies within the texture's spread: the edge moves up to where a pixel
        # stands out of it.
        mask = above
        level = edge / 255.0 if thr.bright_objects else 1.0 - edge / 255.0
    out = Threshold(mask, thr.method, level, thr.bright_objects, thr.separability)
    return out, lambda labels, area, objects: significant_labels(labels, area, pyramid, bg, objects)


def label_filled(mask: np.ndarray) -> tuple[np.ndarray, list[np.ndarray | None]]:
    """8-connected components of a 0/255 mask with their holes filled, and their outlines.

    Returns
    -------
    labels : numpy.ndarray
        ``int32``; 0 = background, components numbered 1, 2, ... in raster order of their first
        pixel (topmost, then leftmost).
    contours : list
        ``contours[i]`` is the external outline of component ``i`` (``None`` for 0), as from
        ``cv2.findContours`` with ``CHAIN_APPROX_NONE``.

    Notes
    -----
    Each 8-connected component has one external outline, which starts at its first pixel in
    raster order; drawing that outline filled with the component's number gives the component
    with its holes filled (the same pixels as :func:`fill_holes`), so one outline trace does the
    work of hole filling, labelling and outlining.
    """
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    first = np.array([c[0, 0] for c in contours], np.int64).reshape(-1, 2)
    order = np.lexsort((first[:, 0], first[:, 1]))
    ordered: list[np.ndarray | None] = [None]
    labels = np.zeros(mask.shape, np.int32)
    for i, k in enumerate(order.tolist(), start=1):
        c = contours[k]
        cv2.drawContours(labels, [c], 0, i, cv2.FILLED)
        ordered.append(c)
    return labels, ordered


@dataclass
class _Pieces:
    """Perimeters of all labels and the pieces split off components (label ids >= n)."""

    perimeter: list[float]
    parent: list[int]
    bbox: list[tuple[int, int, int, int]]
    first_bbox: dict[int, tuple[int, int, int, int]]


def _enclosed_gaps(comp: np.ndarray, mask: np.ndarray, min_area_px: int) -> np.ndarray | None:
    """Labels (``int32``, with ``comp``'s 1-px margin) of the holes of the unfilled ``mask``
    (crop without margin) inside the filled component ``comp`` (0/255) of at least
    ``min_area_px``, or None without any: a smaller hole is no more resolved than a particle
    of that size would be."""
    holes = cv2.bitwise_and(comp[1:-1, 1:-1], cv2.bitwise_not(mask))
    n, lab, stats, _ = cv2.connectedComponentsWithStats(holes, connectivity=4)
    resolved = np.zeros(n, np.int32)
    big = np.flatnonzero(stats[:, cv2.CC_STAT_AREA] >= min_area_px)
    big = big[big > 0]
    if big.size == 0:
        return None
    resolved[big] = np.arange(1, big.size + 1, dtype=np.int32)
    return cv2.copyMakeBorder(resolved[lab], 1, 1, 1, 1, cv2.BORDER_CONSTANT, value=0)


def _split_and_trace(
    labels: np.ndarray,
    area: np.ndarray,
    boxes: np.ndarray,
    contour_of: list[np.ndarray | None],
    kept: np.ndarray,
    split: bool,
    split_depth_px: float,
    min_area_px: int,
    edge_sigma_px: float = 0.0,
    mask: np.ndarray | None = None,
) -> _Pieces:
    """Split clumps in ``labels`` in place (new pieces get ids ``n, n + 1, ...``) and trace the
    perimeter of every kept component and piece.

    Notes
    -----
    Only a component with a concavity at least :func:`neck_depth_px` deep can be split by
    :func:`split_touching`, so that test, on the contour already traced for the whole image,
    selects the few components worth the per-object work; the others keep their traced contour.
    ``min_area_px`` is the smallest piece a cut may leave and the smallest enclosed gap of the
    unfilled ``mask`` a cut may run through (:func:`_enclosed_gaps`).
    """
    n = len(contour_of)
    out = _Pieces([0.0] * n, [], [], {})
    areas = area.tolist()
    for i in kept.tolist():
        contour = contour_of[i]
        assert contour is not None
        defects = _convexity_defects(contour) if split else None
        # The clump splitting's own first test, on the same outline.
        if defects is not None and max(defects[:, 3].tolist()) / 256.0 >= neck_depth_px(
            areas[i], split_depth_px, _RELATIVE_DEPTH, edge_sigma_px
        ):
            x, y, w, h = (int(v) for v in boxes[i])
            crop = labels[y : y + h, x : x + w]
            comp = cv2.copyMakeBorder(
                cv2.compare(crop, i, cv2.CMP_EQ), 1, 1, 1, 1, cv2.BORDER_CONSTANT, value=0
            )
            gaps = (
                None
                if mask is None
                else _enclosed_gaps(comp, mask[y : y + h, x : x + w], min_area_px)
            )
            # The crop has a 1-px margin: its origin is (x - 1, y - 1) in the image.
            parts, outlines = _split_clump(
                comp,
                contour - np.array([x - 1, y - 1], np.int32),
                split_depth_px,
                min_area_px,
                edge_sigma_px=edge_sigma_px,
                gaps=gaps,
            )
            if len(outlines) > 1:
                ids = np.array([0, i] + [n + len(out.parent) + j for j in range(len(outlines) - 1)])
                inside = crop == i
                crop[inside] = ids[parts[1:-1, 1:-1][inside]]
                for j, outline in enumerate(outlines):
                    px, py, pw, ph = cv2.boundingRect(outline)
                    box = (x + px - 1, y + py - 1, pw, ph)
                    per = cv2.arcLength(outline, closed=True)
                    if j == 0:
                        # The first piece keeps the component's id and a smaller box.
                        out.perimeter[i] = per
                        out.first_bbox[i] = box
                        continue
                    out.perimeter.append(per)
                    out.parent.append(i)
                    out.bbox.append(box)
                continue
        out.perimeter[i] = cv2.arcLength(contour, closed=True)
    return out


def _measure_all(
    labels: np.ndarray,
    xy: np.ndarray,
    flat: np.ndarray,
    boxes: np.ndarray,
    keep: np.ndarray,
    pieces: _Pieces,
) -> tuple[np.ndarray, ...]:
    """Relabel ``labels`` in place to consecutive particle ids and measure every particle at once.

    Returns
    -------
    tuple of numpy.ndarray
        x, y, area, equivalent diameter, circularity, aspect ratio, bbox x, y, w, h; one entry per
        particle, particle ``i`` having label ``i + 1``.

    Notes
    -----
    Moments are sums over the object pixels ``xy`` (flat indices ``flat``) only, grouped by label
    with ``numpy.bincount``: area ``m00``, centroid ``(m10, m01) / m00`` and the central second
    moments ``mu20, mu02, mu11`` of the equivalent ellipse [1]_, whose axis ratio is
    ``sqrt(l1 / l2)`` of the eigenvalues of the normalised central moment matrix.

    References
    ----------
    .. [1] M.-K. Hu, "Visual pattern recognition by moment invariants", IRE Trans. Information
       Theory 8(2), 179-187 (1962).
    """
    n = boxes.shape[0]
    n_extra = len(pieces.parent)
    parent = np.concatenate([np.arange(n), np.asarray(pieces.parent, np.int64)])
    valid = np.concatenate([keep, np.ones(n_extra, bool)])
    ids = np.flatnonzero(valid)
    # Pieces follow the component they were split from; a stable sort keeps their order.
    order = ids[np.argsort(parent[ids], kind="stable")]
    lut = np.zeros(n + n_extra, np.int32)
    lut[order] = np.arange(1, order.size + 1, dtype=np.int32)
    x, y = xy[:, 0], xy[:, 1]
    pixels = labels.reshape(-1)
    lab = lut[pixels[flat]]
    pixels[flat] = lab
    fg = lab > 0
    # Converted once: bincount would convert int32 labels on each of its five calls.
    x, y, lab = x[fg].astype(np.float64), y[fg].astype(np.float64), lab[fg].astype(np.intp)
    size = order.size + 1
    area = np.bincount(lab, minlength=size)[1:].astype(np.float64)
    cx = np.bincount(lab, x, size)[1:] / area
    cy = np.bincount(lab, y, size)[1:] / area
    dx, dy = x - cx[lab - 1], y - cy[lab - 1]
    mu20 = np.bincount(lab, dx * dx, size)[1:] / area
    mu02 = np.bincount(lab, dy * dy, size)[1:] / area
    mu11 = np.bincount(lab, dx * dy, size)[1:] / area
    root = np.sqrt(((mu20 - mu02) / 2.0) ** 2 + mu11**2)
    l1, l2 = (mu20 + mu02) / 2.0 + root, (mu20 + mu02) / 2.0 - root
    with np.errstate(divide="ignore", invalid="ignore"):
        aspect = np.where(l2 > 1e-9, np.sqrt(l1 / np.where(l2 > 1e-9, l2, 1.0)), np.inf)
        perimeter = np.asarray(pieces.perimeter)[order]
        circ = np.where(perimeter > 0, 4.0 * np.pi * area / perimeter**2, 1.0)
    boxes = np.concatenate([boxes, np.asarray(pieces.bbox, np.int64).reshape(-1, 4)])
    for i, box in pieces.first_bbox.items():
        boxes[i] = box
    bbox = boxes[order]
    return (
        cx,
        cy,
        area.astype(np.int64),
        np.sqrt(4.0 * area / np.pi),
        np.minimum(circ, 1.0),
        aspect,
        *bbox.T,
    )
