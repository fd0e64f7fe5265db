"""Filler loading from an image: area fraction -> volume fraction (Delesse) -> weight fraction."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vision.errors import ImageError


@dataclass(frozen=True)
class Loading:
    """Filler loading estimated from a section image, beside the recipe's nominal value [%]."""

    vol_pct: float
    wt_pct: float
    nominal_wt_pct: float | None

    def to_dict(self) -> dict[str, float | None]:
        """JSON-ready dict."""
        return dict(self.__dict__)


def _check(name: str, value: float, lo: float, hi: float) -> float:
    if not np.isfinite(value) or not lo <= value <= hi:
        raise ImageError(f"{name} must be between {lo} and {hi}, got {value}.")
    return float(value)


def _check_density(name: str, value: float) -> float:
    if not np.isfinite(value) or value <= 0:
        raise ImageError(f"{name} must be a positive density in g/cm3, got {value}.")
    return float(value)


def delesse_volume_fraction(area_fraction: float) -> float:
    """Volume fraction of a phase from its area fraction in a random plane section.

    Parameters
    ----------
    area_fraction : float
        :math:`A_A` [0-1].

    Returns
    -------
    float
        :math:`V_V = A_A` [0-1].

    References
    ----------
    .. [1] A. Delesse, "Procédé mécanique pour déterminer la composition des roches", Comptes
       Rendus Acad. Sci. Paris 25, 544-545 (1847).
    .. [2] E. E. Underwood, Quantitative Stereology, Addison-Wesley (1970), ch. 2.
    """
    return _check("The area fraction", area_fraction, 0.0, 1.0)


def weight_fraction(vol_fraction: float, filler_density: float, polymer_density: float) -> float:
    """Weight fraction of filler from its volume fraction.

    Parameters
    ----------
    vol_fraction : float
        Filler volume fraction [0-1].
    filler_density, polymer_density : float
        [g/cm3], e.g. LLZTO 5.1, PEO 1.2.

    Notes
    -----
    .. math:: w = \\frac{v \\rho_f}{v \\rho_f + (1 - v) \\rho_p}
    """
    v = _check("The volume fraction", vol_fraction, 0.0, 1.0)
    rf = _check_density("The filler density", filler_density)
    rp = _check_density("The polymer density", polymer_density)
    return v * rf / (v * rf + (1.0 - v) * rp)


def volume_fraction(wt_fraction: float, filler_density: float, polymer_density: float) -> float:
    """Volume fraction of filler from its weight fraction (the inverse of :func:`weight_fraction`).

    Notes
    -----
    .. math:: v = \\frac{w / \\rho_f}{w / \\rho_f + (1 - w) / \\rho_p}
    """
    w = _check("The weight fraction", wt_fraction, 0.0, 1.0)
    rf = _check_density("The filler density", filler_density)
    rp = _check_density("The polymer density", polymer_density)
    return (w / rf) / (w / rf + (1.0 - w) / rp)


def filler_loading(
    area_fraction: float,
    filler_density: float,
    polymer_density: float,
    nominal_wt_pct: float | None = None,
) -> Loading:
    """Filler vol% and wt% from an image's area fraction, for comparison with the recipe.

    Parameters
    ----------
    area_fraction : float
        Particle area fraction of the section [0-1].
    filler_density, polymer_density : float
        [g/cm3].
    nominal_wt_pct : float, optional
        The recipe's filler loading [wt%].
    """
    if nominal_wt_pct is not None:
        _check("The nominal loading", nominal_wt_pct, 0.0, 100.0)
    v = delesse_volume_fraction(area_fraction)
    w = weight_fraction(v, filler_density, polymer_density)
    return Loading(vol_pct=100.0 * v, wt_pct=100.0 * w, nominal_wt_pct=nominal_wt_pct)
