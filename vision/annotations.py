"""Burned-in annotations of micrographs: SEM data bands, scale-bar boxes and bare scale bars.

SEM programs draw their annotations after acquisition in pure black and white: unlike image
content, which carries shot noise and blur, an annotation is a region of one exact grey level
(the image's minimum or maximum) with sharp, axis-aligned edges, and it holds marks (text, the
bar) in the opposite extreme. Those two properties find it without knowing the vendor's layout.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

from vision.preprocess import grey_channel, to_gray

#: Grey levels (of 255) an annotation pixel may differ from the image's extreme: lossless files
#: hold the exact value; JPEG ringing and rounding stay within a few levels inside flat areas.
EXTREME_TOLERANCE = 3
#: Share of a data band's row at an extreme (its colour or its text's), see :func:`_edge_bands`.
BAND_ROW_FRACTION = 0.7
BAND_MARKS_FRACTION = 0.002
"""Least share of a data band's pixels at each extreme: its own, and its marks' (the same
floor as the marks enclosed by a scale-bar box)."""


@dataclass(frozen=True)
class AnnotationRegion:
    """One burned-in region ``(x, y, width, height)`` [px] and its kind: ``"band"`` (a data
    band across the image), ``"box"`` (a filled box holding a scale bar or text) or ``"bar"``
    (a bare scale bar with its label)."""

    x_px: int
    y_px: int
    width_px: int
    height_px: int
    kind: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return dict(self.__dict__)


@dataclass(frozen=True)
class Annotations:
    """The annotations found in one image.

    Attributes
    ----------
    regions : tuple of AnnotationRegion
    mask : numpy.ndarray
        (H, W) bool: the regions, grown by ``margin_px`` so that their sharp edges do not
        reach the measurements' filters.
    margin_px : int
    """

    regions: tuple[AnnotationRegion, ...]
    mask: np.ndarray = field(repr=False)
    margin_px: int

    @property
    def masked_fraction(self) -> float:
        """Fraction of the image's pixels excluded from measurement [0-1]."""
        return float(np.count_nonzero(self.mask)) / self.mask.size if self.mask.size else 0.0

    def content_rows(self) -> tuple[int, int]:
        """Rows ``(start, stop)`` left when the bands across the image's top or bottom are cut
        off."""
        h = self.mask.shape[0]
        start, stop = 0, h
        for r in self.regions:
            if r.kind != "band":
                continue
            if r.y_px + r.height_px >= h - 1:
                stop = min(stop, max(0, r.y_px - self.margin_px))
            elif r.y_px <= 1:
                start = max(start, min(h, r.y_px + r.height_px + self.margin_px))
        return start, stop

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {
            "masked_fraction": self.masked_fraction,
            "regions": [r.to_dict() for r in self.regions],
        }


def gray8(image: np.ndarray) -> np.ndarray:
    """The image's grey level on 0-255 (its type's full range), rounded to ``uint8``."""
    gray = grey_channel(image)
    if gray.dtype == np.uint8:
        return gray
    if gray.dtype == np.uint16:
        return cv2.convertScaleAbs(gray, alpha=1.0 / 257.0)
    return np.clip(np.rint(to_gray(gray) * np.float32(255.0)), 0, 255).astype(np.uint8)


def extreme_masks(
    g8: np.ndarray, tolerance: int = EXTREME_TOLERANCE
) -> list[tuple[bool, np.ndarray]]:
    """``(bright, mask)`` of the pixels within ``tolerance`` of the image's maximum and of its
    minimum (``uint8`` 0/1): where burned-in annotations can be."""
    lo, hi = int(g8.min()), int(g8.max())
    return [
        (True, cv2.compare(g8, hi - tolerance, cv2.CMP_GE) // 255),
        (False, cv2.compare(g8, lo + tolerance, cv2.CMP_LE) // 255),
    ]


def _holes(part: np.ndarray) -> np.ndarray:
    """``uint8`` 0/1 background pixels of ``part`` (0/1) that do not reach its border."""
    flood = cv2.copyMakeBorder(part, 1, 1, 1, 1, cv2.BORDER_CONSTANT, value=0)
    cv2.floodFill(flood, None, (0, 0), 1)
    return (1 - flood[1:-1, 1:-1]).astype(np.uint8)


def _boxes(ext: np.ndarray, marks: np.ndarray, h: int, w: int) -> list[AnnotationRegion]:
    """Filled rectangles of one extreme (``ext``, ``uint8`` 0/1) holding marks of the other
    (``marks``); a band (90 % of the width) at most a quarter of the height, a box at most a
    fifth of the image: larger ones are content (a binary image's background)."""
    solid = cv2.morphologyEx(ext, cv2.MORPH_OPEN, np.ones((5, 5), np.uint8))
    near = cv2.dilate(solid, np.ones((7, 7), np.uint8))
    # Text and bar join their box; the anti-aliased rims between them are closed over.
    joined = cv2.morphologyEx(solid | (marks & near), cv2.MORPH_CLOSE, np.ones((3, 3), np.uint8))
    n, lab, stats, _ = cv2.connectedComponentsWithStats(joined, connectivity=8)
    found = []
    for i, (x, y, bw, bh, area) in enumerate(stats[1:n].tolist(), start=1):
        band = bw >= 0.9 * w
        if bw < 16 or bh < 8 or (bh > h // 4 if band else bw * bh > h * w // 5):
            continue
        part = (lab[y : y + bh, x : x + bw] == i).astype(np.uint8)
        # A rectangle fills its bounding box; a disc or a blob about pi / 4 of it.
        if area + np.count_nonzero(_holes(part)) < 0.9 * bw * bh:
            continue
        inside = part > 0
        # Marks enclosed by the box, not the rim of the other extreme that the joining added
        # (around a bright blob on a black background, that rim fills the box's corners).
        enclosed = _holes(solid[y : y + bh, x : x + bw] & part)
        core = (marks[y : y + bh, x : x + bw] & enclosed)[4:-4, 4:-4]
        n_solid = np.count_nonzero(solid[y : y + bh, x : x + bw][inside])
        if np.count_nonzero(core) < 0.002 * bw * bh or n_solid < 0.5 * area:
            continue
        # The region is the box itself: marks of the content that touch it are left out.
        sx, sy, sw, sh = cv2.boundingRect(solid[y : y + bh, x : x + bw] * part)
        found.append(AnnotationRegion(x + sx, y + sy, sw, sh, "band" if band else "box"))
    return found


def _edge_bands(
    masks: list[tuple[bool, np.ndarray]], h: int, w: int, taken: np.ndarray
) -> list[AnnotationRegion]:
    """Data bands drawn across the image's bottom or top edge, found row by row: the rows
    from the edge inwards whose pixels are mostly at an extreme from one side of the image
    to the other, as many as a quarter of the height at most and 8 at least, while the other
    rows are on average less than half as much at an extreme, and the rows hold at least
    `BAND_MARKS_FRACTION` of their pixels at each extreme (the band's own and its marks').

    A band split into cells by separator lines of the other extreme, or touched by dark
    content of its own extreme (voids, pores), is no single filled rectangle for
    :func:`_boxes`; its rows still are: in JPEG files ringing leaves about 80 % of a text
    row's pixels at an extreme, where content rows reach a third.
    """
    either = cv2.bitwise_or(masks[0][1], masks[1][1])
    total = cv2.countNonZero(either)
    found = []
    for rows in (range(h - 1, -1, -1), range(h)):
        n, in_run = 0, 0
        for r in rows:
            xs = np.flatnonzero(either[r])
            if (
                xs.size < BAND_ROW_FRACTION * w
                or xs[0] > 0.05 * w
                or xs[-1] < 0.95 * w
                or taken[r].any()
            ):
                break
            n, in_run = n + 1, in_run + xs.size
        y = h - n if rows.start == h - 1 else 0
        # The rest of the image must not be at that extreme as well: a flat background at
        # the image's minimum is content.
        rest = (total - in_run) / ((h - n) * w) if n < h else 1.0
        if not (8 <= n <= h // 4 and rest < BAND_ROW_FRACTION / 2):
            continue
        # A band carries marks (text, a bar, separator lines) of the other extreme; rows
        # flat at one extreme are content: a synthetic film's uniform backing or background.
        bright, dark = (cv2.countNonZero(mask[y : y + n]) for _, mask in masks)
        if min(bright, dark) >= BAND_MARKS_FRACTION * n * w:
            found.append(AnnotationRegion(0, y, w, n, "band"))
    return found


def _straight(part: np.ndarray) -> bool:
    """Whether a thin component (0/1 crop) is a drawn rectangle: the same top and bottom row
    in at least 95 % of its columns (a thin bright layer of the content is ragged)."""
    cols = part.any(axis=0)
    top = np.argmax(part, axis=0)[cols]
    bottom = part.shape[0] - 1 - np.argmax(part[::-1], axis=0)[cols]
    pairs, counts = np.unique(np.stack([top, bottom]), axis=1, return_counts=True)
    return bool(counts.max() >= 0.95 * cols.sum()) if pairs.size else False


def _bare_bars(
    ext: np.ndarray, taken: np.ndarray, min_len: int, max_thickness_px: int
) -> list[AnnotationRegion]:
    """Straight thin horizontal lines of one exact extreme outside ``taken``, each with room for
    its label above and below (a third of its length) and at its ends (a sixth)."""
    h, w = ext.shape
    runs = cv2.morphologyEx(ext, cv2.MORPH_OPEN, np.ones((1, min_len | 1), np.uint8))
    thick = cv2.morphologyEx(ext, cv2.MORPH_OPEN, np.ones((max_thickness_px + 1, 1), np.uint8))
    line = runs & (1 - thick) & (1 - taken)
    n, lab, stats, _ = cv2.connectedComponentsWithStats(line, connectivity=8)
    found = []
    for i, (x, y, bw, bh, _) in enumerate(stats[1:n].tolist(), start=1):
        part = lab[y : y + bh, x : x + bw] == i
        # A drawn bar is at least 2 px thick, straight, and stands out from the rows next to
        # it; a sliver of a saturated blob is none of these.
        above = ext[y - 1, x : x + bw] if y > 0 else np.zeros(bw, np.uint8)
        below = ext[y + bh, x : x + bw] if y + bh < h else np.zeros(bw, np.uint8)
        if bw < min_len or bh < 2 or not _straight(part):
            continue
        if max(np.count_nonzero(above), np.count_nonzero(below)) > 0.1 * bw:
            continue
        # The label: marks of the bar's own extreme within a third of its length above or
        # below it and a sixth beyond its ends (a bar's end ticks and label are drawn in its
        # colour); the bar alone when there are none.
        dy, dx = max(bw // 3, 3 * bh), bw // 6
        wx0, wy0 = max(0, x - dx), max(0, y - dy)
        wx1, wy1 = min(w, x + bw + dx), min(h, y + bh + dy)
        near = ext[wy0:wy1, wx0:wx1]
        ys, xs = np.nonzero(near)
        x0, y0, x1, y1 = x, y, x + bw, y + bh
        if ys.size:
            x0, x1 = min(x0, wx0 + int(xs.min())), max(x1, wx0 + int(xs.max()) + 1)
            y0, y1 = min(y0, wy0 + int(ys.min())), max(y1, wy0 + int(ys.max()) + 1)
        found.append(AnnotationRegion(x0, y0, x1 - x0, y1 - y0, "bar"))
    return found


def find_annotations(
    image: np.ndarray,
    *,
    margin_px: int = 4,
    min_bar_fraction: float = 0.04,
    max_thickness_px: int = 8,
) -> Annotations:
    """Data bands, scale-bar boxes and bare scale bars burned into a micrograph.

    Parameters
    ----------
    image : numpy.ndarray
        Micrograph (grey / RGB, 8- or 16-bit).
    margin_px : int, default 4
        The mask is grown by this much around every region [px].
    min_bar_fraction : float, default 0.04
        Shortest bare bar as a fraction of the image width.
    max_thickness_px : int, default 8
        Thickest bare bar [px].

    Returns
    -------
    Annotations

    Notes
    -----
    For each extreme (the image's maximum and minimum grey level, within
    :data:`EXTREME_TOLERANCE`): the solid part of its pixels (a 5 x 5 opening: noisy content
    almost never holds 25 neighbouring pixels at one exact extreme) is split into connected
    components; a component is a box (or a band, when it spans 90 % of the width) when, with
    the marks of the other extreme inside its bounding box, it fills at least 90 % of that box
    and the marks cover at least 0.2 % of it. Outside the boxes, runs of the extreme at least
    ``min_bar_fraction`` of the width long and at most ``max_thickness_px`` thick, straight
    and standing out from the rows beside them, are bare scale bars; each region spans the bar
    and the pixels of its extreme within a third of its length above or below (its label and
    end ticks).
    """
    g8 = gray8(image)
    h, w = g8.shape
    masks = extreme_masks(g8)
    regions: list[AnnotationRegion] = []
    # Fewer pixels at an extreme than the smallest bar (2 rows of min_len) hold no annotation.
    min_len = max(15, int(min_bar_fraction * w))
    present = [cv2.countNonZero(ext) >= 2 * min_len for _, ext in masks]
    for k, (_, ext) in enumerate(masks):
        if present[k]:
            regions += _boxes(ext, masks[1 - k][1], h, w)
    taken = np.zeros((h, w), np.uint8)
    for r in regions:
        taken[r.y_px : r.y_px + r.height_px, r.x_px : r.x_px + r.width_px] = 1
    for r in _edge_bands(masks, h, w, taken):
        regions.append(r)
        taken[r.y_px : r.y_px + r.height_px, :] = 1
    for k, (_, ext) in enumerate(masks):
        if present[k]:
            regions += _bare_bars(ext, taken, min_len, max_thickness_px)
    mask = np.zeros((h, w), bool)
    for r in regions:
        mask[
            max(0, r.y_px - margin_px) : r.y_px + r.height_px + margin_px,
            max(0, r.x_px - margin_px) : r.x_px + r.width_px + margin_px,
        ] = True
    return Annotations(tuple(regions), mask, margin_px)
