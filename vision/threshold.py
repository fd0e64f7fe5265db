"""Global (Otsu, triangle) and adaptive thresholds, with an automatic choice between them."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from vision.errors import ImageError

METHODS = ("auto", "otsu", "triangle", "adaptive")
_BINS = 256


@dataclass(frozen=True)
class Threshold:
    """A binary segmentation and how it was made.

    Attributes
    ----------
    mask : numpy.ndarray
        ``uint8`` 0/255, 255 = object (after polarity).
    method : str
        ``"otsu"``, ``"triangle"`` or ``"adaptive"``.
    level : float
        Global grey level in [0, 1]; for ``"adaptive"`` the Otsu level used to pick polarity.
    bright_objects : bool
        True when objects are brighter than the background.
    separability : float
        Otsu's effectiveness ``sigma_B^2 / sigma_T^2`` in [0, 1].
    """

    mask: np.ndarray
    method: str
    level: float
    bright_objects: bool
    separability: float


def _histogram(gray: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    # A regular sub-grid of ~4 Mpx gives the same 256-bin histogram shape on large images.
    step = max(1, int(np.sqrt(gray.size / 4e6)))
    sample = np.ascontiguousarray(gray[::step, ::step])
    # 8-bit level v is grey v / 255, which falls in bin v of the 256 bins over [0, 1]: both
    # histograms are the same, and so are the levels found on them.
    span = [0.0, 256.0] if gray.dtype == np.uint8 else [0.0, 1.0 + 1e-6]
    hist = cv2.calcHist([sample], [0], None, [_BINS], span).ravel().astype(np.float64)
    centers = (np.arange(_BINS) + 0.5) / _BINS
    return hist, centers


def _at_least(gray: np.ndarray, level: float) -> np.ndarray:
    """``uint8`` 0/255 mask of the pixels whose grey (in [0, 1]) is at least ``level``."""
    if gray.dtype == np.uint8:
        # Levels are bin edges k / 256; 8-bit level v reaches k / 256 exactly when v >= k.
        return cv2.compare(gray, float(np.ceil(level * 255.0 - 1e-9)), cv2.CMP_GE)
    return cv2.compare(gray, level, cv2.CMP_GE)


def threshold_otsu(gray: np.ndarray) -> tuple[float, float]:
    """Otsu's threshold and its effectiveness.

    Parameters
    ----------
    gray : numpy.ndarray
        Grey image: ``float32`` in [0, 1], or ``uint8`` (level v = grey v / 255).

    Returns
    -------
    level : float
        Grey level [0-1] maximising the between-class variance.
    separability : float
        :math:`\\eta = \\sigma_B^2(k^*) / \\sigma_T^2`, 1 for two delta peaks.

    Notes
    -----
    :math:`\\sigma_B^2(k) = [\\mu_T\\omega(k) - \\mu(k)]^2 / (\\omega(k)[1-\\omega(k)])` on a
    256-bin histogram.

    References
    ----------
    .. [1] N. Otsu, "A threshold selection method from gray-level histograms", IEEE Trans.
       Systems, Man, and Cybernetics 9(1), 62-66 (1979).
    """
    hist, centers = _histogram(gray)
    p = hist / hist.sum()
    omega = np.cumsum(p)
    mu = np.cumsum(p * centers)
    mu_t = mu[-1]
    with np.errstate(divide="ignore", invalid="ignore"):
        sigma_b = (mu_t * omega - mu) ** 2 / (omega * (1.0 - omega))
    sigma_b[~np.isfinite(sigma_b)] = 0.0
    k = int(np.argmax(sigma_b))
    sigma_t = float(np.sum(p * (centers - mu_t) ** 2))
    separability = float(sigma_b[k] / sigma_t) if sigma_t > 0 else 0.0
    # Class 1 is bins 0..k; the level is the upper edge of bin k.
    return (k + 1) / _BINS, separability


def threshold_midpoint(gray: np.ndarray, split: float) -> float:
    """Grey level half-way between the background's and the objects' most frequent levels.

    Parameters
    ----------
    gray : numpy.ndarray
        Grey image: ``float32`` in [0, 1], or ``uint8`` (level v = grey v / 255).
    split : float
        A level between the two classes (Otsu's), in [0, 1].

    Returns
    -------
    float
        The level in [0, 1]; ``split`` when either class has no pixels.

    Notes
    -----
    A blurred step edge crosses half-way between its two plateau levels exactly at the
    edge, so thresholding there measures areas without the bias that a threshold nearer one
    class gives (Otsu's moves towards the larger class when the classes are unequal): the
    edge-position convention of SEM dimensional metrology (the 50 % criterion, e.g. ISO
    16700 for the calibration of image magnification, where lengths are taken between
    half-height crossings). The modes are the peaks of the 256-bin histogram smoothed over 5
    bins on each side of ``split``.
    """
    hist, _ = _histogram(gray)
    k = int(np.clip(round(split * _BINS), 1, _BINS - 1))
    if hist[:k].sum() == 0 or hist[k:].sum() == 0:
        return split
    smooth = np.convolve(hist, np.ones(5) / 5.0, mode="same")
    # The larger class's plateau is its mode; the smaller one's, often without a peak of its
    # own (a spread of particle brightness), its median.
    below_larger = hist[:k].sum() >= hist[k:].sum()
    if below_larger:
        lo = float(np.argmax(smooth[:k]))
        cum = np.cumsum(hist[k:])
        hi = k + float(np.searchsorted(cum, 0.5 * cum[-1]))
    else:
        hi = k + float(np.argmax(smooth[k:]))
        cum = np.cumsum(hist[:k])
        lo = float(np.searchsorted(cum, 0.5 * cum[-1]))
    # As a bin edge, like Otsu's: the first bin at or above the midpoint.
    return float(np.ceil(0.5 * (lo + hi))) / _BINS


def threshold_triangle(gray: np.ndarray) -> float:
    """Triangle (Zack) threshold, suited to a small object fraction (skewed histogram).

    Notes
    -----
    The level is the histogram bin farthest from the line joining the histogram's peak to its
    far end on the longer tail.

    References
    ----------
    .. [1] G. W. Zack, W. E. Rogers, S. A. Latt, "Automatic measurement of sister chromatid
       exchange frequency", J. Histochem. Cytochem. 25(7), 741-753 (1977).
    """
    hist, _ = _histogram(gray)
    nz = np.flatnonzero(hist)
    first, last, peak = int(nz[0]), int(nz[-1]), int(np.argmax(hist))
    flip = (peak - first) > (last - peak)
    if flip:
        hist = hist[::-1]
        first, last, peak = _BINS - 1 - last, _BINS - 1 - first, _BINS - 1 - peak
    bins = np.arange(peak, last + 1)
    # Distance (up to a constant) from each bin top to the line (peak, h_peak) - (last, 0).
    dist = hist[peak] * (bins - peak) / max(last - peak, 1) + hist[bins] - hist[peak]
    k = int(bins[np.argmin(dist)]) if bins.size > 1 else peak
    if flip:
        k = _BINS - 1 - k
        return k / _BINS
    return (k + 1) / _BINS


def threshold_adaptive(
    gray: np.ndarray, bright_objects: bool, block_px: int, offset: float = 0.02
) -> np.ndarray:
    """Local mean threshold: a pixel is object when it differs from its neighbourhood mean.

    Parameters
    ----------
    gray : numpy.ndarray
        Grey image: ``float32`` in [0, 1], or ``uint8`` (level v = grey v / 255).
    bright_objects : bool
        Polarity of the objects.
    block_px : int
        Side of the square neighbourhood [px]; it must exceed the object size.
    offset : float, default 0.02
        Margin above (bright) or below (dark) the local mean [grey, 0-1].

    Returns
    -------
    numpy.ndarray
        ``uint8`` mask, 255 = object.
    """
    block_px = max(3, int(block_px))
    if gray.dtype == np.uint8:
        # The offset is a fraction of a grey level apart: compare unrounded means.
        gray = gray.astype(np.float32) * np.float32(1 / 255)
    local = cv2.boxFilter(gray, -1, (block_px, block_px), borderType=cv2.BORDER_REFLECT)
    mask = gray > local + offset if bright_objects else gray < local - offset
    return mask.astype(np.uint8) * 255


def choose_threshold(
    gray: np.ndarray,
    method: str = "auto",
    bright_objects: bool | None = None,
    block_px: int | None = None,
) -> Threshold:
    """Threshold an image, choosing the method and polarity automatically unless given.

    Parameters
    ----------
    gray : numpy.ndarray
        Grey image, illumination-corrected and denoised: ``float32`` in [0, 1], or ``uint8``
        (level v = grey v / 255).
    method : {"auto", "otsu", "triangle", "adaptive"}
        ``"auto"``: Otsu's split when the histogram is clearly bimodal (effectiveness >= 0.5),
        thresholded half-way between the two classes' modes (:func:`threshold_midpoint`); the
        triangle method when objects are a small, skewed minority (Otsu puts < 2 % of pixels
        in the minority class), otherwise adaptive.
    bright_objects : bool, optional
        Object polarity; by default the minority class of the Otsu split.
    block_px : int, optional
        Adaptive neighbourhood [px]; default 1/8 of the longer side.
    """
    if method not in METHODS:
        raise ImageError(f"Threshold method must be one of {', '.join(METHODS)}, got {method!r}.")
    otsu, eta = threshold_otsu(gray)
    # One uint8 comparison serves both the polarity choice and, for Otsu, the mask itself.
    above = _at_least(gray, otsu)
    frac_above = float(cv2.countNonZero(above)) / gray.size
    if bright_objects is None:
        bright_objects = frac_above <= 0.5
    if method == "auto":
        minority = min(frac_above, 1.0 - frac_above)
        if eta >= 0.5:
            method = "otsu"
        elif minority < 0.02:
            method = "triangle"
        else:
            method = "adaptive"
    if method == "adaptive":
        block = block_px or max(gray.shape) // 8
        return Threshold(
            threshold_adaptive(gray, bright_objects, block), method, otsu, bright_objects, eta
        )
    if method == "otsu":
        level = threshold_midpoint(gray, otsu)
        mask = _at_least(gray, level)
        if not bright_objects:
            mask = cv2.bitwise_not(mask, dst=mask)
    else:
        level = threshold_triangle(gray)
        mask = _at_least(gray, level)
        if not bright_objects:
            mask = cv2.bitwise_not(mask, dst=mask)
    return Threshold(mask, method, level, bright_objects, eta)
