"""Grey conversion, illumination (shading) correction and denoising before segmentation."""

from __future__ import annotations

import cv2
import numpy as np

from vision.errors import ImageError
from vision.threshold import threshold_otsu

# Rec. 601 luma weights (ITU-R BT.601), the same as OpenCV's and ImageJ's weighted conversion.
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)


def grey_channel(image: np.ndarray) -> np.ndarray:
    """Grey level of an image in its own pixel type: ``uint8``, ``uint16`` or ``float32``.

    Parameters
    ----------
    image : numpy.ndarray
        (H, W) grey, (H, W, 3) RGB or (H, W, 4) RGBA; ``uint8``, ``uint16``, bool or float in
        [0, 1]. Alpha is ignored: micrographs carry it only as an opaque layer.

    Returns
    -------
    numpy.ndarray
        (H, W); the input itself when it is already a 2-D ``uint8`` or ``uint16`` image, bool as
        ``uint8`` 0 / 255, other floats as ``float32``.

    Raises
    ------
    ImageError
        Wrong number of dimensions or channels, an empty array or an unsupported pixel type.
    """
    image = np.asarray(image)
    if image.size == 0:
        raise ImageError("The image is empty (no pixels).")
    if image.ndim == 3 and image.shape[2] in (3, 4):
        if image.dtype in (np.uint8, np.uint16, np.float32):
            gray = cv2.cvtColor(image[..., :3], cv2.COLOR_RGB2GRAY)
        else:
            gray = image[..., :3].astype(np.float32) @ _LUMA
    elif image.ndim == 3 and image.shape[2] in (1, 2):
        gray = image[..., 0]
    elif image.ndim == 2:
        gray = image
    else:
        raise ImageError(
            f"An image must be (H, W), (H, W, 3) or (H, W, 4); got shape {image.shape}."
        )
    if gray.dtype in (np.uint8, np.uint16):
        return gray
    if gray.dtype == np.bool_:
        return gray.view(np.uint8) * np.uint8(255)
    if np.issubdtype(gray.dtype, np.floating):
        return gray.astype(np.float32, copy=False)
    raise ImageError(f"Pixel type {gray.dtype} is not supported; use 8- or 16-bit images.")


def full_scale(gray: np.ndarray) -> float:
    """The grey value that stands for full scale in an image of this pixel type (1 for floats)."""
    if gray.dtype == np.uint8:
        return 255.0
    if gray.dtype == np.uint16:
        return 65535.0
    return 1.0


def to_gray(image: np.ndarray) -> np.ndarray:
    """Grey level of an image as ``float32`` in [0, 1], the dtype's full range mapped to [0, 1].

    Parameters
    ----------
    image : numpy.ndarray
        As for :func:`grey_channel`.

    Returns
    -------
    numpy.ndarray
        (H, W) ``float32``.

    Raises
    ------
    ImageError
        Wrong number of dimensions or channels, or an empty array.
    """
    gray = grey_channel(image)
    top = full_scale(gray)
    if top == 1.0:
        return gray
    return gray.astype(np.float32) * np.float32(1 / top)


def stretch_to_uint8(gray: np.ndarray, levels: tuple[float, float]) -> np.ndarray:
    """Map grey levels ``levels = (lo, hi)`` of an image to 0 and 255, saturating outside.

    Parameters
    ----------
    gray : numpy.ndarray
        2-D ``uint8``, ``uint16`` or ``float32`` image (see :func:`grey_channel`).
    levels : (float, float)
        Grey levels, in the image's own units, that become 0 and 255; ``lo < hi``.

    Returns
    -------
    numpy.ndarray
        ``uint8``, rounded to the nearest level.

    Notes
    -----
    Segmentation then runs on one byte per pixel: a quarter of the memory traffic of
    ``float32``, and OpenCV's fixed-point 8-bit filters. Stretching first spends the 256 levels
    on the image's own grey range, so a low-contrast or 16-bit image keeps its resolution.
    """
    lo, hi = levels
    scale = 255.0 / (hi - lo)
    if gray.dtype == np.uint8:
        lut = np.clip(np.rint((np.arange(256) - lo) * scale), 0, 255).astype(np.uint8)
        return cv2.LUT(gray, lut)
    if gray.dtype == np.uint16:
        # Saturating subtraction clips below ``lo`` (rounded: at most half an input level off);
        # the scaled result saturates at 255.
        return cv2.convertScaleAbs(cv2.subtract(gray, float(lo)), alpha=scale)
    out = np.subtract(gray, np.float32(lo), dtype=np.float32)
    out *= np.float32(scale)
    np.clip(out, 0.0, 255.0, out=out)
    return np.rint(out, out=out).astype(np.uint8)


def require_contrast(
    gray: np.ndarray, min_range: float = 1e-3, *, levels: tuple[float, float] | None = None
) -> tuple[float, float]:
    """Refuse an image whose pixels are all (nearly) one value.

    Parameters
    ----------
    gray : numpy.ndarray
        Grey image in [0, 1].
    min_range : float, default 1e-3
        Smallest accepted difference between the 0.1th and 99.9th percentile [grey, 0-1].
    levels : (float, float), optional
        Those two percentiles when already known (see :func:`grey_percentiles`).

    Returns
    -------
    (float, float)
        The 0.1th and 99.9th percentiles [grey, 0-1].
    """
    lo, hi = levels if levels is not None else _robust_range(gray, 0.1)
    if not np.isfinite(lo) or hi - lo < min_range:
        raise ImageError(
            f"The image has no contrast (grey levels {lo:.4f} to {hi:.4f} of full scale); "
            "there is nothing to measure."
        )
    return lo, hi


def grey_percentiles(gray: np.ndarray, pcts: tuple[float, ...]) -> tuple[float, ...]:
    """Grey-level percentiles of an image, from a regular sub-grid of about 1 Mpx.

    Parameters
    ----------
    gray : numpy.ndarray
        Grey image.
    pcts : tuple of float
        Percentiles [%], computed in one pass.

    Notes
    -----
    On a regular sub-grid of ~1 Mpx the percentiles agree with the full image's to well under a
    grey level and cost a fraction of the time on 8192 x 8192 images; several percentiles in one
    call share one partial sort. For 8- and 16-bit images the same percentiles (numpy's
    default linear interpolation between order statistics) are read from the sample's
    histogram instead, without sorting.
    """
    sample = _subsample(gray)
    if sample.dtype not in (np.uint8, np.uint16):
        return tuple(float(v) for v in np.percentile(sample, pcts))
    cum = np.cumsum(np.bincount(sample.ravel()))
    n = int(cum[-1])
    # Order statistic k (from 0) is the smallest value whose cumulative count exceeds k.
    rank = (n - 1) * np.asarray(pcts, dtype=np.float64) / 100.0
    below = np.floor(rank)
    v0 = np.searchsorted(cum, below, side="right")
    v1 = np.searchsorted(cum, np.minimum(below + 1, n - 1), side="right")
    return tuple(float(v) for v in v0 + (rank - below) * (v1 - v0))


def _robust_range(gray: np.ndarray, pct: float) -> tuple[float, float]:
    lo, hi = grey_percentiles(gray, (pct, 100.0 - pct))
    return lo, hi


def _subsample(gray: np.ndarray, target: int = 1 << 20) -> np.ndarray:
    step = max(1, int(np.sqrt(gray.size / target)))
    return gray[::step, ::step]


def normalize(
    gray: np.ndarray,
    pct: float = 0.1,
    *,
    levels: tuple[float, float] | None = None,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """Stretch grey levels so that the ``pct`` and ``100 - pct`` percentiles map to 0 and 1.

    16-bit detectors rarely fill their range; stretching makes thresholds and tolerances
    comparable across 8- and 16-bit images.

    Parameters
    ----------
    gray : numpy.ndarray
        Grey image, float32.
    pct : float, default 0.1
        Percentile clipped at each end [%].
    levels : (float, float), optional
        The two percentiles when already known.
    out : numpy.ndarray, optional
        Where to write the result (may be ``gray`` itself: no full-size temporary).
    """
    lo, hi = levels if levels is not None else _robust_range(gray, pct)
    scale = 1.0 / (hi - lo) if hi > lo else 1.0
    out = np.subtract(gray, np.float32(lo), out=out, dtype=np.float32)
    out *= np.float32(scale)
    return np.clip(out, 0.0, 1.0, out=out)


def _inliers(resid: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """Residuals within 2.5 robust sigma (1.4826 MAD of the current inliers, at least 1 % of
    full scale so that a noiseless background is not cut to single pixels)."""
    sigma = 1.4826 * np.median(np.abs(resid[keep] - np.median(resid[keep])))
    return np.abs(resid) <= 2.5 * max(float(sigma), 0.01)


def _least_squares(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Least-squares solution of ``a x = b`` by the normal equations.

    A handful of monomials on [-1, 1] keep ``a.T a`` well conditioned; the 10 x 10 solve
    avoids the threaded SVD of ``numpy.linalg.lstsq``, which on a busy machine can cost ten
    times its own work waiting for a second core. Degenerate grids (an image a few pixels
    high) make ``a.T a`` singular; they fall back to the SVD's minimum-norm solution.
    """
    ata = a.T @ a
    if np.linalg.cond(ata) < 1e10:
        return np.linalg.solve(ata, a.T @ b)
    return np.linalg.lstsq(a, b, rcond=None)[0]


def background_surface(gray: np.ndarray, degree: int = 3, n_iter: int = 5) -> np.ndarray:
    """Slowly varying background (shading) of an image, on a grid of at most 128 x 128 points.

    Parameters
    ----------
    gray : numpy.ndarray
        Grey image: ``float32`` in [0, 1], or ``uint8`` / ``uint16``.
    degree : int, default 3
        Total degree of the polynomial in x and y (3: ramps, vignetting and their asymmetry).
    n_iter : int, default 5
        Reweighting passes; pixels more than 2.5 robust sigma from the surface (particles,
        bright or dark) are left out of the next fit.

    Returns
    -------
    numpy.ndarray
        ``float32`` robust 2-D polynomial surface in the image's grey units, sampled on the
        image reduced to at most 128 px per side (area averaging, over a regular sub-grid of
        about 8 x 8 pixels per point on large images); enlarge it bilinearly to the image size
        (:func:`estimate_background`).

    Notes
    -----
    Fitting a low-order polynomial to the background, with the objects excluded, is the
    classical shading correction for microscope and SEM images [1]_; unlike a median or
    rolling-ball filter its result does not depend on the object size.

    References
    ----------
    .. [1] J. C. Russ, The Image Processing Handbook, 6th ed., CRC Press (2011), §4.1
       ("Fitting a background function").
    """
    h, w = gray.shape
    factor = max(1.0, max(h, w) / 128.0)
    size = (max(2, round(w / factor)), max(2, round(h / factor)))
    top = full_scale(gray)
    # Area averaging over a regular sub-grid that leaves about 8 x 8 pixels per grid point:
    # the fit averages thousands of points anyway, and the whole image costs several times more.
    step = max(1, int(factor) // 8)
    sample = gray[::step, ::step]
    small = cv2.resize(sample, size, interpolation=cv2.INTER_AREA).astype(np.float64) / top
    yy, xx = np.mgrid[0 : size[1], 0 : size[0]]
    u, v = (xx / (size[0] - 1) * 2 - 1).ravel(), (yy / (size[1] - 1) * 2 - 1).ravel()
    terms = np.stack([u**i * v**j for i in range(degree + 1) for j in range(degree + 1 - i)], 1)
    z = small.ravel()
    # Start from the median level, so that objects covering up to half the image are
    # excluded before the first fit can bend towards them.
    keep = _inliers(z - np.median(z), np.ones(z.size, dtype=bool))
    coef = _least_squares(terms[keep], z[keep])
    for _ in range(n_iter):
        new = _inliers(z - terms @ coef, keep)
        if new.sum() <= terms.shape[1] or np.array_equal(new, keep):
            break
        keep = new
        coef = _least_squares(terms[keep], z[keep])
    return (terms @ coef * top).reshape(size[1], size[0]).astype(np.float32)


def estimate_background(gray: np.ndarray, degree: int = 3, n_iter: int = 5) -> np.ndarray:
    """Slowly varying background (shading) of an image: a robust 2-D polynomial surface.

    Parameters
    ----------
    gray : numpy.ndarray
        Grey image in [0, 1], float32.
    degree, n_iter : int
        See :func:`background_surface`.

    Returns
    -------
    numpy.ndarray
        Background, ``float32``, same shape as ``gray``: :func:`background_surface` enlarged
        bilinearly.
    """
    h, w = gray.shape
    surface = background_surface(gray, degree, n_iter)
    return cv2.resize(surface, (w, h), interpolation=cv2.INTER_LINEAR)


def correct_illumination(
    gray: np.ndarray,
    mode: str | bool = "auto",
    *,
    grey_range: tuple[float, float] | None = None,
) -> tuple[np.ndarray, bool]:
    """Subtract uneven shading (SEM / microscope) so a single threshold fits the whole image.

    Parameters
    ----------
    gray : numpy.ndarray
        Grey image, ``float32`` in [0, 1] or ``uint8``.
    mode : {"auto", True, False}
        ``"auto"`` corrects only when the background varies by more than 5 % of the image's
        grey range (1st to 99th percentile) and the correction raises Otsu's effectiveness
        (:func:`vision.threshold.threshold_otsu`: the two phases become more separable);
        ``True`` always; ``False`` never.
    grey_range : (float, float), optional
        Those two percentiles of ``gray`` when already known (in its grey units).

    Returns
    -------
    corrected : numpy.ndarray
        ``gray - background + mean(background)``, same dtype as ``gray`` (``uint8``: rounded
        and saturated).
    applied : bool
        Whether a correction was made.

    Notes
    -----
    For ``uint8`` the correction is added as whole grey levels: the surface is enlarged as
    ``int16``, half the size of ``float32``, and added with saturation in one integer pass; its
    rounding (half a level) is that of the 8-bit image itself.
    """
    if mode is False:
        return gray, False
    if mode not in ("auto", True):
        raise ImageError(f"illumination must be 'auto', True or False, got {mode!r}.")
    surface = background_surface(gray)
    if mode == "auto":
        lo, hi = grey_range if grey_range is not None else _robust_range(gray, 1.0)
        spread = float(surface.max() - surface.min())
        if spread <= 0.05 * (hi - lo):
            return gray, False
    h, w = gray.shape
    offset = np.float32(surface.mean()) - surface
    if gray.dtype == np.uint8:
        offset16 = np.rint(offset).astype(np.int16)
        full = cv2.resize(offset16, (w, h), interpolation=cv2.INTER_LINEAR)
        corrected = cv2.add(gray, full, dtype=cv2.CV_8U)
    else:
        corrected = cv2.resize(offset, (w, h), interpolation=cv2.INTER_LINEAR)
        # In place: on 8192 x 8192 images every full-size temporary costs 256 MB.
        corrected += gray
    # Compared on the images smoothed and halved (cv2.pyrDown): pixel noise lowers both
    # effectivenesses, and more so for sparse small objects.
    if (
        mode == "auto"
        and min(h, w) >= 16
        and threshold_otsu(cv2.pyrDown(corrected))[1] < threshold_otsu(cv2.pyrDown(gray))[1]
    ):
        # Shading spreads each phase's level over the image and so lowers the between-class
        # share of the variance; a correction that lowers it further has bent towards the
        # objects (large particles covering one side of the image) and is not one.
        return gray, False
    return corrected, True


def denoise(gray: np.ndarray, sigma_px: float = 1.0) -> np.ndarray:
    """Gaussian smoothing that suppresses pixel noise before thresholding.

    Parameters
    ----------
    gray : numpy.ndarray
        Grey image, ``float32`` or ``uint8`` (OpenCV's fixed-point 8-bit filter, rounded).
    sigma_px : float, default 1.0
        Standard deviation of the Gaussian [px]; 0 returns the image unchanged.
    """
    if sigma_px < 0:
        raise ImageError(f"denoise sigma must be >= 0 px, got {sigma_px}.")
    if sigma_px == 0:
        return gray
    return cv2.GaussianBlur(gray, (0, 0), sigmaX=sigma_px)


def noise_sigma(gray: np.ndarray) -> float:
    """Standard deviation of additive Gaussian noise, by Immerkær's fast estimator.

    Notes
    -----
    :math:`\\sigma = \\sqrt{\\pi/2}\\,\\frac{1}{6(W-2)(H-2)}\\sum |I * N|` with the 3 x 3 mask
    N = [[1,-2,1],[-2,4,-2],[1,-2,1]], which cancels smooth structure and edges to first order.

    References
    ----------
    .. [1] J. Immerkær, "Fast noise variance estimation", Computer Vision and Image
       Understanding 64(2), 300-302 (1996).
    """
    kernel = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], dtype=np.float32)
    response = cv2.filter2D(gray.astype(np.float32, copy=False), -1, kernel)[1:-1, 1:-1]
    h, w = gray.shape
    return float(np.sqrt(np.pi / 2.0) * np.abs(response).sum() / (6.0 * (w - 2) * (h - 2)))
