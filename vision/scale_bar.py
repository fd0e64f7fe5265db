"""Detection of a micrograph's scale bar (a thin horizontal line, often with end ticks and a
label in a gap) and the pixel size it implies."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

from vision.annotations import extreme_masks, gray8
from vision.errors import ImageError
from vision.preprocess import normalize, require_contrast, to_gray


@dataclass(frozen=True)
class ScaleBar:
    """A detected scale bar.

    Attributes
    ----------
    x_start_px, x_end_px : float
        Sub-pixel outer ends (half-contrast crossings), pixel centres at integers [px].
    y_px : int
        Row of the bar's line [px].
    top_px : int
        Highest row of the bar including its ticks [px].
    bright : bool
        Bright bar on a dark strip (else dark on bright).
    """

    x_start_px: float
    x_end_px: float
    y_px: int
    top_px: int
    bright: bool

    @property
    def content_bottom_px(self) -> int:
        """First row that may belong to the data strip holding the bar: the bar's top less
        twice its tick height for a label above it, less 4 px (a heuristic) [px]."""
        return max(0, self.top_px - 2 * (self.y_px - self.top_px) - 4)

    @property
    def length_px(self) -> float:
        """Outer length of the bar [px]."""
        return self.x_end_px - self.x_start_px

    def pixel_size_um(self, length_um: float) -> float:
        """Pixel size [um/px] given the bar's printed length [um]."""
        if not np.isfinite(length_um) or length_um <= 0:
            raise ImageError(
                f"The scale bar length must be a positive number of um, got {length_um}."
            )
        return float(length_um) / self.length_px


def _segments(line: np.ndarray) -> list[tuple[int, int, int, int]]:
    n, _, stats, _ = cv2.connectedComponentsWithStats(line, connectivity=8)
    return [(int(s[0]), int(s[0] + s[2] - 1), int(s[1] + s[3] // 2), int(s[1])) for s in stats[1:n]]


def _extend(binary_row: np.ndarray, x0: int, x1: int, limit: int) -> tuple[int, int] | None:
    """Grow a segment through its end ticks (removed as thick) by at most ``limit`` pixels;
    None when either end does not reach background within that, i.e. it is no bar end."""
    last = binary_row.size - 1
    for _ in range(limit):
        if x0 == 0 or not binary_row[x0 - 1]:
            break
        x0 -= 1
    for _ in range(limit):
        if x1 == last or not binary_row[x1 + 1]:
            break
        x1 += 1
    if x0 == 0 or x1 == last or binary_row[x0 - 1] or binary_row[x1 + 1]:
        return None
    return x0, x1


def _half_crossing(profile: np.ndarray, inside: int, step: int) -> float:
    """Sub-pixel position where ``profile`` crosses half-way between bar and outside levels."""
    i = inside
    while 0 <= i + step < profile.size and profile[i + step] > 0.5:
        i += step
    j = i + step
    if not 0 <= j < profile.size:
        return float(i) + 0.5 * step
    a, b = profile[i], profile[j]
    return float(i + step * (a - 0.5) / (a - b)) if a != b else float(i) + 0.5 * step


def _candidates(
    min_len: int, max_thickness_px: int, binary: np.ndarray
) -> list[tuple[int, int, int, int]]:
    """Bars in one binarisation: long thin runs, merged across label gaps, ending in
    background on both sides."""
    tall = (max_thickness_px + 1) | 1
    runs = cv2.morphologyEx(binary, cv2.MORPH_OPEN, np.ones((1, min_len), np.uint8))
    thick = cv2.morphologyEx(binary, cv2.MORPH_OPEN, np.ones((tall, 1), np.uint8))
    found = []
    for x0, x1, y, top in _merge_rows(_segments(runs & (1 - thick))):
        if x1 - x0 + 1 < min_len:
            continue
        ends = _extend(binary[y], x0, x1, max_thickness_px + 1)
        if ends is not None:
            found.append((*ends, y, top))
    return found


def _lone(binary: np.ndarray, max_thickness_px: int) -> Callable[[int, int, int], bool]:
    """Test that a run is a bar of its own: its 8-connected component in ``binary`` (bar, end
    ticks) holds at most twice the pixels of a ``max_thickness_px + 1`` thick band of its
    length. A strip of a box's own colour left beside a bar of the other colour is part of the
    whole box, and fails."""
    _, lab, stats, _ = cv2.connectedComponentsWithStats(binary, connectivity=8)

    def lone(x0: int, x1: int, y: int) -> bool:
        area = int(stats[lab[y, (x0 + x1) // 2], cv2.CC_STAT_AREA])
        return area <= 2 * (x1 - x0 + 1) * (max_thickness_px + 1)

    return lone


def _sharp(
    gray: np.ndarray, x0: int, x1: int, y: int, top: int, bright: bool, binary: np.ndarray
) -> bool:
    """Whether both ends of a bar step straight from its level to below half-way towards the
    level three pixels out, as burned-in pixels do."""
    row = gray[y] if bright else 1.0 - gray[y]
    n = row.size
    level = float(np.median(row[x0 : x1 + 1]))
    for end, step in ((x0, -1), (x1, 1)):
        nxt, out = end + step, min(max(end + 3 * step, 0), n - 1)
        if not 0 <= nxt < n:
            continue
        if row[nxt] > 0.5 * (level + float(row[out])):
            return False
    return True


def find_scale_bar(
    image: np.ndarray, min_length_fraction: float = 0.05, max_thickness_px: int = 6
) -> ScaleBar:
    """Find the scale bar: the longest thin horizontal line (possibly broken by its label).

    Parameters
    ----------
    image : numpy.ndarray
        Micrograph with its data strip.
    min_length_fraction : float, default 0.05
        Shortest bar as a fraction of the image width.
    max_thickness_px : int, default 6
        Thickest bar line [px]; thicker structures are image content.

    Returns
    -------
    ScaleBar

    Raises
    ------
    ImageError
        No scale bar found.

    Notes
    -----
    Bars are looked for first among the pixels at the image's exact extremes
    (:func:`vision.annotations.extreme_masks`: SEM programs burn bars in pure white or black,
    in a data band, a box or straight over the content), then, when there is none, in the
    image binarised at half its (0.1-99.9 percentile) range. In each binarisation a horizontal
    opening of the minimum length keeps long runs, and a vertical opening of
    ``max_thickness_px + 1`` rows removes thick regions. Segments on the same row (within
    2 px) with gaps shorter than the longer segment form one bar (the label often sits in a
    gap). The ends are extended through the end ticks; a burned-in bar ends at the outer edges
    of its end pixels, a soft one at the half-contrast crossing of the row profile. A line that
    does not end in background within ``max_thickness_px + 1`` pixels on both sides (a frame, a
    strip edge) is not a bar.
    """
    gray = normalize(to_gray(image))
    require_contrast(gray)
    w = gray.shape[1]
    # Odd kernels: OpenCV does not reflect the kernel in dilation, so even ones shift by 1 px.
    min_len = max(15, int(min_length_fraction * w)) | 1
    exact = [
        (bright, binary, _lone(binary, max_thickness_px))
        for bright, binary in extreme_masks(gray8(image))
    ]
    halves = [
        (b, ((gray > 0.5) if b else (gray < 0.5)).astype(np.uint8), None) for b in (True, False)
    ]
    best: tuple[int, int, int, int, bool, np.ndarray] | None = None
    for binarisations in (exact, halves):
        for bright, binary, lone in binarisations:
            for x0, x1, y, top in _candidates(min_len, max_thickness_px, binary):
                if lone is not None and not lone(x0, x1, y):
                    continue
                if best is None or x1 - x0 > best[1] - best[0]:
                    best = (x0, x1, y, top, bright, binary)
        if best is not None and (binarisations is halves or _sharp(gray, *best)):
            break
        # A bar of exact pixels with soft ends was blurred (JPEG): the half-level pass finds it.
        best = None
    if best is None:
        raise ImageError("No scale bar was found in the image; give the pixel size instead.")
    x0, x1, y, top, bright, binary = best
    ticks = _tick_top(gray, x0, x1, y, bright)
    if binarisations is exact:
        # Burned-in pixels: the bar ends at the edges of its first and last pixels.
        start, end = x0 - 0.5, x1 + 0.5
    else:
        profile = gray[y] if bright else 1.0 - gray[y]
        start, end = _half_crossing(profile, x0, -1), _half_crossing(profile, x1, +1)
    return ScaleBar(start, end, y, min(top, ticks), bright)


def _tick_top(gray: np.ndarray, x0: int, x1: int, y: int, bright: bool) -> int:
    """Highest row of the bar's end ticks: the bar-coloured runs up from the bar's end columns,
    at most 30 % of the image height."""
    limit = max(0, y - 3 * gray.shape[0] // 10)
    tops = []
    for x in (x0, x1):
        column = gray[limit:y, x] > 0.5 if bright else gray[limit:y, x] < 0.5
        off = np.flatnonzero(~column[::-1])
        tops.append(y - (int(off[0]) if off.size else column.size))
    return min(tops)


def _merge_rows(segments: list[tuple[int, int, int, int]]) -> list[tuple[int, int, int, int]]:
    merged: list[tuple[int, int, int, int]] = []
    for x0, x1, y, top in sorted(segments, key=lambda s: (s[2], s[0])):
        if merged:
            m0, m1, my, mt = merged[-1]
            gap = x0 - m1
            if abs(y - my) <= 2 and 0 < gap <= max(m1 - m0, x1 - x0):
                merged[-1] = (m0, max(m1, x1), my, min(mt, top))
                continue
        merged.append((x0, x1, y, top))
    return merged
