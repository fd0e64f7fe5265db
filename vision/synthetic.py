"""Seeded synthetic micrographs with exact, known geometry, for tests and benchmarks.

Every generator returns the image together with its ground truth (labels, boundaries, defect
list), so that accuracy can be measured exactly rather than against another program.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

_SHIFT = 4  # cv2 drawing with 1/16 px sub-pixel precision
_ONE = 1 << _SHIFT


@dataclass(frozen=True)
class SyntheticParticles:
    """A top-view particle image and its truth.

    Attributes
    ----------
    image : numpy.ndarray
        (H, W) ``uint8`` or ``uint16``.
    labels : numpy.ndarray
        ``int32`` truth; particle ``i`` is label ``i + 1`` (overlaps go to the later particle).
    centers_px : numpy.ndarray
        (n, 2) x, y [px].
    radii_px : numpy.ndarray
        (n,) [px].
    group : numpy.ndarray
        (n,) index of the group (isolated particle or cluster) each particle belongs to.
    n_agglomerates : int
        Groups of two or more particles in contact.
    """

    image: np.ndarray = field(repr=False)
    labels: np.ndarray = field(repr=False)
    centers_px: np.ndarray = field(repr=False)
    radii_px: np.ndarray = field(repr=False)
    group: np.ndarray = field(repr=False)
    n_agglomerates: int

    @property
    def count(self) -> int:
        """Number of particles."""
        return int(self.radii_px.size)

    @property
    def area_fraction(self) -> float:
        """Fraction of pixels inside a particle [0-1]."""
        return float(np.count_nonzero(self.labels)) / self.labels.size


def _to_dtype(values: np.ndarray, dtype: type) -> np.ndarray:
    top = np.iinfo(dtype).max
    return np.clip(np.rint(values * top), 0, top).astype(dtype)


def shading_field(shape: tuple[int, int]) -> np.ndarray:
    """A smooth shading pattern (a ramp plus vignetting) spanning exactly [0, 1]."""
    h, w = shape
    y, x = np.ogrid[0:h, 0:w]
    f = (x / w).astype(np.float32) + (((x - w / 2) / w) ** 2 + ((y - h / 2) / h) ** 2) * 2.0
    f = f - f.min()
    return (f / f.max()).astype(np.float32)


def finish(
    clean: np.ndarray,
    rng: np.random.Generator,
    *,
    blur_sigma_px: float,
    shading: float,
    noise: float,
    dtype: type,
) -> np.ndarray:
    """Optics and sensor: Gaussian blur (PSF), additive shading and Gaussian noise, quantisation.

    ``shading`` and ``noise`` are amplitudes in grey levels of full scale [0-1].
    """
    img = clean.astype(np.float32)
    if blur_sigma_px > 0:
        img = cv2.GaussianBlur(img, (0, 0), blur_sigma_px)
    if shading:
        img += np.float32(shading) * (shading_field(img.shape) - np.float32(0.5))
    if noise:
        img += rng.standard_normal(img.shape, dtype=np.float32) * np.float32(noise)
    return _to_dtype(img, dtype)


def _place_cluster(
    rng: np.random.Generator,
    cell: tuple[float, float, float, float],
    size: int,
    rmin: float,
    rmax: float,
    overlap: float,
) -> list[tuple[float, float, float]]:
    x0, y0, x1, y1 = cell
    r = rng.uniform(rmin, rmax)
    discs = [(rng.uniform(x0 + r, x1 - r), rng.uniform(y0 + r, y1 - r), r)]
    for _ in range(40 * size):
        if len(discs) == size:
            break
        ax, ay, ar = discs[rng.integers(len(discs))]
        r = rng.uniform(rmin, rmax)
        angle = rng.uniform(0, 2 * np.pi)
        d = (ar + r) * (1.0 - overlap)
        x, y = ax + d * np.cos(angle), ay + d * np.sin(angle)
        inside = x0 + r <= x <= x1 - r and y0 + r <= y <= y1 - r
        # Each new particle touches its anchor and overlaps no other member more than the anchor.
        if inside and all(
            np.hypot(x - bx, y - by) >= (br + r) * (1.0 - overlap) - 1e-6 for bx, by, br in discs
        ):
            discs.append((x, y, r))
    return discs


def particle_image(
    shape: tuple[int, int] = (512, 512),
    *,
    cell_px: int = 64,
    fill_probability: float = 0.7,
    cluster_probability: float = 0.15,
    cluster_size: tuple[int, int] = (2, 5),
    radius_px: tuple[float, float] = (4.0, 10.0),
    gap_px: float = 8.0,
    overlap: float = 0.02,
    background: float = 0.25,
    contrast: float = 0.5,
    bright: bool = True,
    blur_sigma_px: float = 0.8,
    shading: float = 0.0,
    noise: float = 0.0,
    dtype: type = np.uint8,
    seed: int = 0,
) -> SyntheticParticles:
    """Discs on a jittered grid: isolated particles and clusters of touching particles.

    Parameters
    ----------
    shape : (int, int)
        Height, width [px].
    cell_px : int
        Grid cell [px]; each cell holds at most one isolated particle or one cluster, kept
        ``gap_px / 2`` inside the cell, so different groups are at least ``gap_px`` apart.
    fill_probability, cluster_probability : float
        Probability that a cell is occupied, and that an occupied cell holds a cluster.
    cluster_size : (int, int)
        Inclusive range of particles per cluster.
    radius_px : (float, float)
        Uniform range of radii [px].
    gap_px : float
        Minimum edge-to-edge distance between groups [px].
    overlap : float
        Touching particles' centres are ``(r1 + r2) (1 - overlap)`` apart.
    background, contrast : float
        Background grey and particle - background difference [0-1 of full scale].
    bright : bool
        Bright particles on a dark background, or the reverse.
    blur_sigma_px, shading, noise : float
        See :func:`finish`.
    dtype : numpy dtype
        ``numpy.uint8`` or ``numpy.uint16``.
    seed : int
    """
    rng = np.random.default_rng(seed)
    h, w = shape
    half = gap_px / 2.0
    discs: list[tuple[float, float, float]] = []
    groups: list[int] = []
    n_groups = n_agglomerates = 0
    for cy in range(0, h - cell_px + 1, cell_px):
        for cx in range(0, w - cell_px + 1, cell_px):
            if rng.random() >= fill_probability:
                continue
            cell = (cx + half, cy + half, cx + cell_px - half, cy + cell_px - half)
            size = 1
            if rng.random() < cluster_probability:
                size = int(rng.integers(cluster_size[0], cluster_size[1] + 1))
            members = _place_cluster(rng, cell, size, radius_px[0], radius_px[1], overlap)
            discs.extend(members)
            groups.extend([n_groups] * len(members))
            n_groups += 1
            n_agglomerates += len(members) >= 2
    labels = np.zeros(shape, np.int32)
    for i, (x, y, r) in enumerate(discs):
        cv2.circle(
            labels,
            (round(x * _ONE), round(y * _ONE)),
            round(r * _ONE),
            i + 1,
            -1,
            cv2.LINE_8,
            _SHIFT,
        )
    inside = (labels > 0).astype(np.float32)
    clean = background + contrast * inside if bright else background + contrast * (1 - inside)
    image = finish(
        clean, rng, blur_sigma_px=blur_sigma_px, shading=shading, noise=noise, dtype=dtype
    )
    arr = np.asarray(discs, dtype=float).reshape(-1, 3)
    return SyntheticParticles(
        image, labels, arr[:, :2], arr[:, 2], np.asarray(groups, int), n_agglomerates
    )


def match_f1(truth: np.ndarray, predicted: np.ndarray, min_iou: float = 0.5) -> float:
    """F1 score of object matching: a truth and a predicted object match when IoU > ``min_iou``.

    Parameters
    ----------
    truth, predicted : numpy.ndarray
        Integer label images, 0 = background.
    min_iou : float, default 0.5
        With IoU > 0.5 each object has at most one match, so no assignment step is needed.

    Returns
    -------
    float
        ``2 TP / (n_truth + n_predicted)``.
    """
    t = truth.ravel().astype(np.int64)
    p = predicted.ravel().astype(np.int64)
    area_t = np.bincount(t)
    area_p = np.bincount(p)
    both = (t > 0) & (p > 0)
    pairs, inter = np.unique(t[both] * (p.max() + 1) + p[both], return_counts=True)
    ti, pi = pairs // (p.max() + 1), pairs % (p.max() + 1)
    iou = inter / (area_t[ti] + area_p[pi] - inter)
    tp = int(np.count_nonzero(iou > min_iou))
    n_t = int(np.count_nonzero(area_t[1:]))
    n_p = int(np.count_nonzero(area_p[1:]))
    return 2.0 * tp / (n_t + n_p) if n_t + n_p else 1.0


@dataclass(frozen=True)
class SyntheticFilm:
    """A cross-section image of a film and its truth (columns x = 0 .. W-1).

    Attributes
    ----------
    image : numpy.ndarray
    top_px, bottom_px : numpy.ndarray
        (W,) boundary rows, pixel-edge coordinates (row i spans [i, i + 1)) [px].
    thickness_px : numpy.ndarray
        (W,) thickness measured perpendicular to the tilted film,
        ``(bottom - top) cos(tilt)`` [px].
    tilt_deg : float
    """

    image: np.ndarray = field(repr=False)
    top_px: np.ndarray = field(repr=False)
    bottom_px: np.ndarray = field(repr=False)
    thickness_px: np.ndarray = field(repr=False)
    tilt_deg: float


def film_image(
    shape: tuple[int, int] = (400, 800),
    *,
    thickness_px: float | np.ndarray = 60.0,
    top_px: float = 150.0,
    tilt_deg: float = 0.0,
    wave_amplitude_px: float = 0.0,
    wave_period_px: float = 300.0,
    above: float = 0.15,
    film: float = 0.6,
    below: float = 0.85,
    texture: float = 0.0,
    voids: tuple[tuple[float, float, float], ...] = (),
    blur_sigma_px: float = 0.8,
    noise: float = 0.0,
    dtype: type = np.uint8,
    seed: int = 0,
) -> SyntheticFilm:
    """A film band between a medium above and a substrate below, rendered with exact coverage.

    Parameters
    ----------
    shape : (int, int)
        Height, width [px].
    thickness_px : float or numpy.ndarray
        Perpendicular thickness, constant or per column (W,) [px].
    top_px : float
        Top boundary at the left edge [px].
    tilt_deg : float
        Film tilt; positive descends to the right (image y down) [deg].
    wave_amplitude_px, wave_period_px : float
        Sinusoidal waviness of both boundaries [px].
    above, film, below : float
        Grey levels of the three layers [0-1].
    texture : float
        Amplitude of smooth granular texture inside the film (filler) [0-1].
    voids : tuple of (x, y_fraction, radius)
        Round voids at column ``x`` [px], at ``y_fraction`` of the local thickness, of radius
        [px], filled with the ``above`` grey level.
    blur_sigma_px, noise : float
        See :func:`finish`.
    """
    rng = np.random.default_rng(seed)
    h, w = shape
    x = np.arange(w, dtype=np.float64) + 0.5
    slope = np.tan(np.radians(tilt_deg))
    t = np.broadcast_to(np.asarray(thickness_px, dtype=np.float64), (w,))
    top = top_px + x * slope + wave_amplitude_px * np.sin(2 * np.pi * x / wave_period_px)
    bottom = top + t / np.cos(np.radians(tilt_deg))
    rows = np.arange(h, dtype=np.float64)[:, None]
    f_above = np.clip(top[None, :] - rows, 0.0, 1.0)
    f_below = np.clip(rows + 1.0 - bottom[None, :], 0.0, 1.0)
    f_film = 1.0 - f_above - f_below
    film_grey = np.full((h, w), film, dtype=np.float64)
    if texture:
        grain = cv2.GaussianBlur(rng.standard_normal((h, w)).astype(np.float32), (0, 0), 2.0)
        film_grey += texture * grain / grain.std()
    clean = above * f_above + film_grey * f_film + below * f_below
    for vx, vfrac, vr in voids:
        col = min(int(vx), w - 1)
        vy = top[col] + vfrac * (bottom[col] - top[col])
        cv2.circle(
            clean,
            (round(vx * _ONE), round(vy * _ONE)),
            round(vr * _ONE),
            above,
            -1,
            cv2.LINE_AA,
            _SHIFT,
        )
    image = finish(
        clean.astype(np.float32),
        rng,
        blur_sigma_px=blur_sigma_px,
        shading=0.0,
        noise=noise,
        dtype=dtype,
    )
    return SyntheticFilm(image, top, bottom, t.copy(), float(tilt_deg))


def draw_scale_bar(
    image: np.ndarray,
    x0: int,
    y0: int,
    length_px: int,
    *,
    thickness_px: int = 3,
    tick_px: int = 10,
    value: int | None = None,
    strip: bool = True,
) -> np.ndarray:
    """A copy of ``image`` with an SEM-style scale bar (a line with end ticks) on a data strip.

    The bar covers columns ``x0 .. x0 + length_px - 1`` inclusive, so it is exactly
    ``length_px`` pixels long.
    """
    out = image.copy()
    top = np.iinfo(out.dtype).max
    value = top if value is None else value
    if strip:
        out[y0 - tick_px - 6 :, :] = 0
    half = thickness_px // 2
    out[y0 - half : y0 - half + thickness_px, x0 : x0 + length_px] = value
    for xe in (x0, x0 + length_px - thickness_px):
        out[y0 - tick_px // 2 : y0 + tick_px // 2 + 1, xe : xe + thickness_px] = value
    return out


@dataclass(frozen=True)
class SyntheticDefect:
    """A drawn surface defect: kind, centre [px] and size [px]."""

    kind: str
    x_px: float
    y_px: float
    size_px: float


def web_image(
    shape: tuple[int, int] = (600, 800),
    defects: tuple[SyntheticDefect, ...] = (),
    *,
    level: float = 0.55,
    texture: float = 0.02,
    shading: float = 0.1,
    noise: float = 0.01,
    dtype: type = np.uint8,
    seed: int = 0,
) -> np.ndarray:
    """Top view of a film web with drawn defects.

    ``pinhole``: a small dark disc of diameter ``size_px``; ``bubble``: a disc of diameter
    ``size_px`` with a bright rim and a slightly dark core; ``streak``: a dark line 3 px wide and
    ``size_px`` long along the web (y) direction.
    """
    rng = np.random.default_rng(seed)
    grain = cv2.GaussianBlur(rng.standard_normal(shape).astype(np.float32), (0, 0), 3.0)
    clean = level + texture * grain / grain.std()
    for d in defects:
        c = (round(d.x_px * _ONE), round(d.y_px * _ONE))
        r = round(d.size_px / 2 * _ONE)
        if d.kind == "pinhole":
            cv2.circle(clean, c, r, 0.1, -1, cv2.LINE_AA, _SHIFT)
        elif d.kind == "bubble":
            cv2.circle(clean, c, r, level - 0.15, -1, cv2.LINE_AA, _SHIFT)
            cv2.circle(clean, c, r, level + 0.3, 3, cv2.LINE_AA, _SHIFT)
        elif d.kind == "streak":
            y0, y1 = d.y_px - d.size_px / 2, d.y_px + d.size_px / 2
            cv2.line(
                clean,
                (c[0], round(y0 * _ONE)),
                (c[0], round(y1 * _ONE)),
                level - 0.25,
                3,
                cv2.LINE_AA,
                _SHIFT,
            )
        else:
            raise ValueError(f"unknown defect kind {d.kind!r}")
    return finish(clean, rng, blur_sigma_px=0.8, shading=shading, noise=noise, dtype=dtype)
