"""Which thresholded objects stand out of the background: texture is background.

A granular or textured matrix (sputter-coat grain, polymer texture, substrate roughness)
crosses any global threshold in many small places. Whether an object is a particle is decided
against the background's own spread, measured on the background side of its level, where no
particle lies, and at the object's own scale, where a particle keeps its contrast while the
texture averages out.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

#: A pixel is attributed to a particle only when its contrast exceeds this many background
#: standard deviations: a Gaussian background passes it with probability 0.13 %.
EDGE_SIGMAS = 3.0
#: Pyramid levels searched for a significant peak (scales 1, 2, 4, 8, 16 px).
LEVELS = 5
#: Smallest background spread [grey levels of 255]: the 8-bit quantisation step's own
#: standard deviation, 1 / sqrt(12), rounded up.
MIN_SIGMA = 0.5


@dataclass(frozen=True)
class Background:
    """Level and spread of the background of a denoised 8-bit image, objects made bright.

    Attributes
    ----------
    level : float
        Most frequent grey level [0-255].
    sigma : tuple of float
        Root mean square of the below-level deviations at each pyramid level ``L`` (the image
        smoothed and decimated ``L`` times by ``cv2.pyrDown``) [grey levels].
    """

    level: float
    sigma: tuple[float, ...]


def _histogram(image: np.ndarray) -> np.ndarray:
    return cv2.calcHist([image], [0], None, [256], [0, 256]).ravel().astype(np.float64)


def _dark_side_sigma(hist: np.ndarray, level: float) -> float:
    """RMS of the deviations below ``level`` from a 256-bin histogram: the half-normal
    estimate of the spread of a background whose other side holds the objects."""
    below = np.arange(256) < level
    count = hist[below].sum()
    if count == 0:
        return MIN_SIGMA
    d = np.arange(256)[below] - level
    return max(float(np.sqrt(np.sum(hist[below] * d * d) / count)), MIN_SIGMA)


def _pyramid(bright: np.ndarray, levels: int) -> list[np.ndarray]:
    out = [bright]
    for _ in range(1, levels):
        if min(out[-1].shape) < 8:
            break
        out.append(cv2.pyrDown(out[-1]))
    return out


def background(
    bright: np.ndarray, split: float = 256.0, levels: int = LEVELS
) -> tuple[Background, list[np.ndarray]]:
    """Background level and spread at each scale of a denoised ``uint8`` image whose objects
    are bright, and the image's Gaussian pyramid.

    Parameters
    ----------
    bright : numpy.ndarray
        ``uint8``, objects bright.
    split : float, default 256
        Grey level [0-256] that separates background (below) from objects (the threshold's);
        by default the whole histogram is background's.
    levels : int
        Pyramid levels.

    Notes
    -----
    The level is the mode of the background side of the 256-bin histogram smoothed over 5
    bins: objects may cover most of the image, but not the grey levels below ``split``. Its
    spread is taken from the pixels below it only (:func:`_dark_side_sigma`), which bright
    objects never reach, so that particles do not inflate it whatever their number.
    """
    hist = _histogram(bright)
    smooth = np.convolve(hist, np.ones(5) / 5.0, mode="same")
    k = int(np.clip(math.ceil(split), 1, 256))
    level = float(np.argmax(smooth[:k]))
    pyramid = _pyramid(bright, levels)
    sigma = tuple(_dark_side_sigma(_histogram(p), level) for p in pyramid)
    return Background(level, sigma), pyramid


def edge_level(bg: Background) -> float:
    """Lowest grey level [0-255] a particle pixel may have: ``level + EDGE_SIGMAS * sigma_0``.

    Where the background is flat this lies below the half-way level between background and
    particles, which then sets the edge; on a textured background it is above it, and the
    texture, not the particle's blurred edge, is what a lower level would add.
    """
    return bg.level + EDGE_SIGMAS * bg.sigma[0]


def significant_labels(
    labels: np.ndarray,
    area: np.ndarray,
    pyramid: list[np.ndarray],
    bg: Background,
    objects: tuple[np.ndarray, np.ndarray] | None = None,
) -> np.ndarray:
    """Which labels (0 = background) of ``labels`` are significant objects.

    Parameters
    ----------
    labels : numpy.ndarray
        ``int32`` components of the thresholded image.
    area : numpy.ndarray
        (n,) pixel count of each label [px^2].
    pyramid : list of numpy.ndarray
        Gaussian pyramid of the denoised image, objects bright (:func:`background`).
    bg : Background
    objects : (numpy.ndarray, numpy.ndarray), optional
        Flat indices of the object pixels and their labels, when already gathered.

    Returns
    -------
    numpy.ndarray
        (n,) bool; entry 0 is False.

    Notes
    -----
    An object is significant when, at some scale ``2^L`` px at most half its equivalent
    radius (so that the smoothing does not reach beyond it), its contrast over the background
    level exceeds ``k_L sigma_L`` somewhere inside it, with ``sigma_L`` the background's
    spread at that scale and ``k_L = sqrt(2 ln N_L)`` the universal threshold of [1]_ for the
    ``N_L`` pixels of that level: the largest of ``N`` independent Gaussian deviations
    stays below ``sigma sqrt(2 ln N)`` with probability tending to 1, so pure background
    yields no significant object at any level. Texture grains are significant at no scale (at
    their own scale their contrast is the background's spread; at larger ones they average
    out), a particle is at its own scale even when its brightness is within the texture's
    range pixel by pixel.

    References
    ----------
    .. [1] D. L. Donoho, I. M. Johnstone, "Ideal spatial adaptation by wavelet shrinkage",
       Biometrika 81(3), 425-455 (1994).
    """
    n = area.size
    radius = np.sqrt(area / np.pi)
    keep = np.zeros(n, bool)
    h, w = labels.shape
    if objects is None:
        flat = np.flatnonzero(labels)
        objects = (flat, labels.reshape(-1)[flat])
    flat, lab = objects
    for lvl, (image, sigma) in enumerate(zip(pyramid, bg.sigma, strict=False)):
        level = bg.level + math.sqrt(2.0 * math.log(image.size)) * sigma
        if lvl == 0:
            # Only object pixels can make their object significant.
            keep[lab[image.reshape(-1)[flat] >= level]] = True
            continue
        pts = cv2.findNonZero(cv2.compare(image, level, cv2.CMP_GE))
        if pts is None:
            continue
        xy = pts.reshape(-1, 2)
        f = 1 << lvl
        # The centre of each low-resolution pixel in full-resolution coordinates.
        ids = labels[
            np.minimum(xy[:, 1] * f + f // 2, h - 1), np.minimum(xy[:, 0] * f + f // 2, w - 1)
        ]
        keep[ids[radius[ids] >= 2 * f]] = True
    keep[0] = False
    return keep
