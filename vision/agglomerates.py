"""Agglomerates: groups of particles in contact or closer than a gap (their contact graph), and
single blobs whose shape shows unresolved members.

As in practice (ISO 18553 and ASTM D2663 method B count a group of touching filler particles
as one agglomerate), size alone does not make an agglomerate: a large convex particle is one
particle. A blob that could not be split counts only when it is large and concave.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from vision.errors import ImageError
from vision.particles import Particle


@dataclass(frozen=True)
class Agglomerate:
    """One agglomerate (pixel units).

    Attributes
    ----------
    x_px, y_px : float
        Area-weighted centroid of its particles [px].
    area_px : int
        Summed particle area [px^2].
    n_particles : int
        Segmented particles in the group; for a single concave blob, its area divided by the
        median particle area (rounded, at least 2).
    bbox : tuple of int
        ``(x, y, width, height)`` [px].
    members : tuple of int
        Indices of its particles in the segmentation.
    """

    x_px: float
    y_px: float
    area_px: int
    n_particles: int
    bbox: tuple[int, int, int, int]
    members: tuple[int, ...]


def group_particles(labels: np.ndarray, boxes: np.ndarray, gap_px: float) -> np.ndarray:
    """Group index of every particle: particles closer than ``gap_px`` share a group.

    Parameters
    ----------
    labels : numpy.ndarray
        ``int32`` particle labels, particle ``i`` = label ``i + 1``.
    boxes : numpy.ndarray
        (n_particles, 4) bounding box ``(x, y, width, height)`` of each particle [px], as
        :attr:`vision.particles.Particle.bbox`.
    gap_px : float
        Largest edge-to-edge gap that still joins two particles [px]; 0 = touching only.

    Returns
    -------
    numpy.ndarray
        (n_particles,) group index (``int``), numbered from 0.

    Notes
    -----
    Each particle is dilated by a digital disc of radius ``floor(gap_px / 2)``; two particles
    whose dilations are 8-connected are at most ``gap_px`` background pixels apart along a row,
    column or diagonal (for ``gap_px = 2``: one pixel from each side).
    """
    if gap_px < 0:
        raise ImageError(f"The agglomerate gap must be >= 0 px, got {gap_px}.")
    radius = int(np.floor(gap_px / 2.0 + 1e-9))
    grown = cv2.compare(labels, 0, cv2.CMP_GT)
    if radius > 0:
        disc = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
        cv2.dilate(grown, disc, dst=grown)
    # Each grown region holds a particle, so 16-bit labels do while particles are fewer than
    # 2^16: half the memory of 32-bit ones on large images.
    ltype = cv2.CV_16U if len(boxes) < 1 << 16 else cv2.CV_32S
    _, regions = cv2.connectedComponents(grown, connectivity=8, ltype=ltype)
    # Every pixel of a particle lies in the same grown region, so one pixel of each will do.
    group = regions.reshape(-1)[_first_pixels(labels, np.asarray(boxes, np.int64))]
    _, compact = np.unique(group, return_inverse=True)
    return compact


def _first_pixels(labels: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """Flat index of one pixel of each particle: its leftmost pixel on its bounding box's top
    row, which holds at least one of its pixels."""
    n = boxes.shape[0]
    if n == 0:
        return np.empty(0, np.intp)
    width = boxes[:, 2]
    start = np.cumsum(width) - width
    # Flat indices of the top rows of all boxes, one box after the other.
    owner = np.repeat(np.arange(n), width)
    flat = (boxes[:, 1] * labels.shape[1] + boxes[:, 0] - start)[owner] + np.arange(width.sum())
    hits = np.flatnonzero(labels.reshape(-1)[flat] == owner + 1)
    # The first hit of each box (hits are in box order).
    first = np.unique(owner[hits], return_index=True)[1]
    return flat[hits[first]]


def solidity(labels: np.ndarray, index: int, bbox: tuple[int, int, int, int]) -> float:
    """Area over convex-hull area of particle ``index`` (label ``index + 1``) [0-1]."""
    x, y, w, h = bbox
    part = (labels[y : y + h, x : x + w] == index + 1).astype(np.uint8)
    contours, _ = cv2.findContours(part, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    if not contours:
        return 1.0
    hull = cv2.contourArea(cv2.convexHull(np.concatenate(contours)))
    # Pixel areas against polygon areas through pixel centres: a digital disc of area A has a
    # hull of about A - P / 2 (half a pixel inside along the perimeter P).
    perimeter = sum(cv2.arcLength(c, True) for c in contours)
    return min(1.0, float(part.sum()) / (hull + perimeter / 2.0)) if hull > 0 else 1.0


def find_agglomerates(
    particles: tuple[Particle, ...],
    labels: np.ndarray,
    gap_px: float = 2.0,
    blob_factor: float = 2.0,
    min_solidity: float = 0.85,
) -> tuple[Agglomerate, ...]:
    """Agglomerates among segmented particles.

    Parameters
    ----------
    particles : tuple of Particle
    labels : numpy.ndarray
        Their label image (particle ``i`` = label ``i + 1``).
    gap_px : float, default 2.0
        Particles in contact or closer than this belong to one agglomerate [px].
    blob_factor : float, default 2.0
        A single particle larger than ``blob_factor`` times the median particle area whose
        solidity is below ``min_solidity`` is an unresolved cluster, and an agglomerate.
    min_solidity : float, default 0.85
        Solidity (area over convex-hull area) below which a large blob is concave, i.e.
        made of several members; two tangent equal discs have 0.88 before blur merges them
        further, a convex particle about 1.

    Returns
    -------
    tuple of Agglomerate
        Sorted by decreasing area.

    Notes
    -----
    Groups are the connected components of the particles' contact graph
    (:func:`group_particles`): two particles are joined when they are at most ``gap_px``
    apart. A large convex particle is one particle whatever its size.
    """
    if blob_factor <= 1:
        raise ImageError(f"blob_factor must be > 1, got {blob_factor}.")
    if not particles:
        return ()
    area = np.array([p.area_px for p in particles], dtype=float)
    median = float(np.median(area))
    all_boxes = np.array([p.bbox for p in particles], dtype=np.int64)
    group = group_particles(labels, all_boxes, gap_px)
    size = np.bincount(group)
    big = np.zeros(len(particles), bool)
    for i in np.flatnonzero((area > blob_factor * median) & (size[group] == 1)).tolist():
        big[i] = solidity(labels, i, particles[i].bbox) < min_solidity
    chosen = np.flatnonzero((size[group] >= 2) | big)
    if chosen.size == 0:
        return ()
    # Members of each group side by side (stable: increasing particle index within a group).
    chosen = chosen[np.argsort(group[chosen], kind="stable")]
    starts = np.flatnonzero(np.r_[True, np.diff(group[chosen]) != 0])
    xy = np.array([(p.x_px, p.y_px) for p in particles])[chosen]
    boxes = all_boxes[chosen]
    a = area[chosen]
    total = np.add.reduceat(a, starts)
    cx = np.add.reduceat(a * xy[:, 0], starts) / total
    cy = np.add.reduceat(a * xy[:, 1], starts) / total
    x0 = np.minimum.reduceat(boxes[:, 0], starts)
    y0 = np.minimum.reduceat(boxes[:, 1], starts)
    x1 = np.maximum.reduceat(boxes[:, 0] + boxes[:, 2], starts)
    y1 = np.maximum.reduceat(boxes[:, 1] + boxes[:, 3], starts)
    members = np.split(chosen, starts[1:])
    found = []
    for k, m in enumerate(members):
        single = m.size == 1
        count = max(2, round(a[starts[k]] / median)) if single else int(m.size)
        found.append(
            Agglomerate(
                x_px=float(cx[k]),
                y_px=float(cy[k]),
                area_px=int(total[k]),
                n_particles=count,
                bbox=(int(x0[k]), int(y0[k]), int(x1[k] - x0[k]), int(y1[k] - y0[k])),
                members=tuple(m.tolist()),
            )
        )
    return tuple(sorted(found, key=lambda g: -g.area_px))
