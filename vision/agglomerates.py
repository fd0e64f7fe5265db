"""Agglomerates: groups of particles in contact or closer than a gap, and oversized blobs."""

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
        Segmented particles in the group; for a single oversized blob, its area divided by the
        median particle area (rounded, at least 1).
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


def find_agglomerates(
    particles: tuple[Particle, ...],
    labels: np.ndarray,
    gap_px: float = 2.0,
    blob_factor: float = 5.0,
) -> tuple[Agglomerate, ...]:
    """Agglomerates among segmented particles.

    Parameters
    ----------
    particles : tuple of Particle
    labels : numpy.ndarray
        Their label image (particle ``i`` = label ``i + 1``).
    gap_px : float, default 2.0
        Particles in contact or closer than this belong to one agglomerate [px].
    blob_factor : float, default 5.0
        A single particle larger than ``blob_factor`` times the median particle area is also
        an agglomerate (an unresolved cluster).

    Returns
    -------
    tuple of Agglomerate
        Sorted by decreasing area.
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
    big = area > blob_factor * median
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
        count = max(1, round(a[starts[k]] / median)) if single else int(m.size)
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
