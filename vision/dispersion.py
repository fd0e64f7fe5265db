"""Spatial dispersion indices of particle centroids: quadrat Morisita index and variance-to-mean
ratio, Clark-Evans nearest-neighbour ratio with Donnelly's edge correction.

All three equal about 1 for a random (Poisson) pattern; above 1 (Morisita, VMR) or below 1
(Clark-Evans) means clustering, the reverse means a regular, well-dispersed filler.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree

from vision.errors import ImageError


@dataclass(frozen=True)
class Dispersion:
    """Dispersion indices of one point pattern (NaN when too few points)."""

    morisita_index: float
    quadrat_vmr: float
    clark_evans_r: float

    def to_dict(self) -> dict[str, float | None]:
        """JSON-ready dict; NaN becomes None."""
        return {k: _finite_or_none(v) for k, v in self.__dict__.items()}


def _finite_or_none(value: float) -> float | None:
    return float(value) if np.isfinite(value) else None


def _check_points(points: np.ndarray) -> np.ndarray:
    pts = np.asarray(points, dtype=float).reshape(-1, 2)
    if not np.all(np.isfinite(pts)):
        raise ImageError("Point coordinates must be finite numbers.")
    return pts


def quadrat_counts(
    points: np.ndarray, width: float, height: float, n_x: int, n_y: int
) -> np.ndarray:
    """Number of points in each of ``n_x * n_y`` equal quadrats covering the window.

    Parameters
    ----------
    points : numpy.ndarray
        (n, 2) x, y [px], inside ``[0, width) x [0, height)``.
    width, height : float
        Window size [px].
    n_x, n_y : int
        Quadrats along x and y.
    """
    if n_x < 1 or n_y < 1:
        raise ImageError(f"Quadrat grid must be at least 1 x 1, got {n_x} x {n_y}.")
    pts = _check_points(points)
    counts, _, _ = np.histogram2d(
        pts[:, 0], pts[:, 1], bins=(n_x, n_y), range=((0, width), (0, height))
    )
    return counts.ravel()


def morisita_index(counts: np.ndarray) -> float:
    """Morisita's index of dispersion from quadrat counts.

    Parameters
    ----------
    counts : numpy.ndarray
        Points per quadrat (Q equal quadrats).

    Returns
    -------
    float
        :math:`I_\\delta`; 1 random, > 1 clumped, < 1 regular; NaN for fewer than 2 points.

    Notes
    -----
    .. math:: I_\\delta = Q \\frac{\\sum_i n_i (n_i - 1)}{N (N - 1)}, \\quad N = \\sum_i n_i

    References
    ----------
    .. [1] M. Morisita, "Measuring of the dispersion of individuals and analysis of the
       distributional patterns", Mem. Fac. Sci. Kyushu Univ. Ser. E (Biol.) 2, 215-235 (1959).
    .. [2] C. J. Krebs, Ecological Methodology, 2nd ed., Addison-Wesley (1999), §6.5.
    """
    n = np.asarray(counts, dtype=float)
    total = n.sum()
    if total < 2:
        return float("nan")
    return float(n.size * np.sum(n * (n - 1.0)) / (total * (total - 1.0)))


def variance_to_mean_ratio(counts: np.ndarray) -> float:
    """Index of dispersion :math:`s^2 / \\bar n` of quadrat counts (sample variance, ddof = 1).

    References
    ----------
    .. [1] C. J. Krebs, Ecological Methodology, 2nd ed., Addison-Wesley (1999), §6.5.1.
    """
    n = np.asarray(counts, dtype=float)
    if n.size < 2 or n.mean() == 0:
        return float("nan")
    return float(n.var(ddof=1) / n.mean())


def clark_evans_ratio(points: np.ndarray, width: float, height: float) -> float:
    """Clark-Evans aggregation index R with Donnelly's edge correction.

    Parameters
    ----------
    points : numpy.ndarray
        (n, 2) x, y [px] inside a ``width x height`` window.
    width, height : float
        Window [px].

    Returns
    -------
    float
        :math:`R = \\bar r / E[r]`; 1 random, 0 all coincident, 2.1491 for a hexagonal lattice.
        NaN for fewer than 2 points.

    Notes
    -----
    :math:`\\bar r` is the mean nearest-neighbour distance. For a Poisson pattern of density
    :math:`\\lambda = N / A` in an unbounded plane :math:`E[r] = 1 / (2\\sqrt\\lambda)` [1]_; in a
    rectangle of perimeter P the border lengthens the distances, and Donnelly's correction
    [2]_ gives :math:`E[r] = 0.5\\sqrt{A/N} + (0.0514 + 0.041/\\sqrt N) P / N`.

    References
    ----------
    .. [1] P. J. Clark, F. C. Evans, "Distance to nearest neighbor as a measure of spatial
       relationships in populations", Ecology 35(4), 445-453 (1954).
    .. [2] K. P. Donnelly, "Simulations to determine the variance and edge effect of total
       nearest neighbour distance", in Simulation Methods in Archaeology, Cambridge University
       Press (1978), 91-95.
    """
    pts = _check_points(points)
    n = pts.shape[0]
    if width <= 0 or height <= 0:
        raise ImageError(f"The window must have a positive size, got {width} x {height}.")
    if n < 2:
        return float("nan")
    dist, _ = cKDTree(pts).query(pts, k=2)
    mean_nn = float(dist[:, 1].mean())
    area, perimeter = width * height, 2.0 * (width + height)
    expected = 0.5 * np.sqrt(area / n) + (0.0514 + 0.041 / np.sqrt(n)) * perimeter / n
    return mean_nn / expected


def dispersion_indices(
    points: np.ndarray, width: float, height: float, quadrats: int = 8
) -> Dispersion:
    """Morisita index, quadrat VMR (``quadrats x quadrats`` grid) and Clark-Evans R.

    Parameters
    ----------
    points : numpy.ndarray
        (n, 2) particle centroids [px].
    width, height : float
        Image size [px].
    quadrats : int, default 8
        Quadrats per side.
    """
    counts = quadrat_counts(points, width, height, quadrats, quadrats)
    return Dispersion(
        morisita_index=morisita_index(counts),
        quadrat_vmr=variance_to_mean_ratio(counts),
        clark_evans_r=clark_evans_ratio(points, width, height),
    )
