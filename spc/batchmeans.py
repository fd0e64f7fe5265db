"""Batch means of autocorrelated data: how large a batch makes its means nearly independent.

A Shewhart chart of batch means (the mean of each b consecutive observations, one point per
batch) keeps the false-alarm rate of independent data when the batch is long enough that the
means are nearly uncorrelated; Runger & Willemain [1]_ take a lag-1 autocorrelation of the
means of at most 0.1 as long enough.  For the first-order autoregressive process (AR(1)),
and for AR(1) seen through independent measurement noise, the lag-1 autocorrelation and the
variance of the batch means are closed form (:func:`batch_means_lag1`,
:func:`batch_means_variance`).  From data (:func:`batch_size_from_data`) the autocorrelation
of the means is estimated from the batches themselves where there are enough of them, and
from a fitted AR(1)-plus-noise model beyond.

References
----------
.. [1] G. C. Runger and T. R. Willemain, "Batch-means control charts for autocorrelated
   data", *IIE Transactions* 28(6), 1996, pp. 483-487.
.. [2] D. C. Montgomery, *Introduction to Statistical Quality Control*, 8th ed., Wiley, 2019,
   §10.3 (SPC with autocorrelated process data: batch means charts).
.. [3] G. E. P. Box, G. M. Jenkins, G. C. Reinsel and G. M. Ljung, *Time Series Analysis*,
   5th ed., Wiley, 2015, §3.4.6 (AR(1) plus white noise is an ARMA(1, 1)).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import optimize

from spc.errors import SPCInputError
from spc.validation import as_float_array, check_min_points

TARGET_LAG1 = 0.1
"""Largest lag-1 autocorrelation of batch means taken as independent (Runger & Willemain)."""
MIN_BATCHES = 30
"""Batches needed to estimate their lag-1 autocorrelation from the data (its standard error
is then about 1/sqrt(30) = 0.18, and its bias -1/30)."""
_MAX_BATCH = 1_000_000


def _check(phi: float, ar_fraction: float) -> None:
    if not -1.0 < phi < 1.0:
        raise SPCInputError(f"phi must be in (-1, 1), got {phi}.")
    if not 0.0 <= ar_fraction <= 1.0:
        raise SPCInputError(f"ar_fraction must be in [0, 1], got {ar_fraction}.")


def _sums(phi: float, ar_fraction: float, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Variance of a batch sum and covariance of adjacent sums, in units of sigma_x^2."""
    power = phi**b
    ar_var = b * (1.0 + phi) / (1.0 - phi) - 2.0 * phi * (1.0 - power) / (1.0 - phi) ** 2
    variance = ar_fraction * ar_var + (1.0 - ar_fraction) * b
    covariance = ar_fraction * phi * ((1.0 - power) / (1.0 - phi)) ** 2
    return variance, covariance


def batch_means_lag1(phi: float, b: Any, ar_fraction: float = 1.0) -> np.ndarray | float:
    r"""Lag-1 autocorrelation of the means of batches of ``b`` observations of an AR(1).

    Parameters
    ----------
    phi : float
        AR(1) coefficient of the process per observation interval (dimensionless).
    b : int or array-like of int
        Batch size, in observations.
    ar_fraction : float
        Share of the observations' variance in the AR(1) part; the rest is independent
        measurement noise (1: a pure AR(1)).

    Notes
    -----
    For :math:`x_t = \phi x_{t-1} + a_t` with variance :math:`\sigma_x^2`, a batch sum has
    variance and adjacent sums covariance (Runger & Willemain [1]_)

    .. math:: V_b = \sigma_x^2\left[\frac{b(1+\phi)}{1-\phi}
              - \frac{2\phi(1-\phi^b)}{(1-\phi)^2}\right], \qquad
              C_b = \sigma_x^2\,\phi\left(\frac{1-\phi^b}{1-\phi}\right)^2,

    so :math:`\rho_b = C_b / V_b = \phi(1-\phi^b)^2 / [b(1-\phi^2) - 2\phi(1-\phi^b)]`.
    Independent noise carrying the share :math:`1-f` of the variance adds :math:`(1-f) b`
    to :math:`V_b / \sigma_x^2` and nothing to :math:`C_b`.
    """
    _check(phi, ar_fraction)
    sizes = np.asarray(b, dtype=float)
    if np.any(sizes < 1):
        raise SPCInputError("A batch holds at least one observation.")
    variance, covariance = _sums(phi, ar_fraction, sizes)
    rho = covariance / variance
    return float(rho) if rho.ndim == 0 else rho


def batch_means_variance(phi: float, b: Any, ar_fraction: float = 1.0) -> np.ndarray | float:
    r"""Variance of a batch mean of ``b`` observations, in units of the observations' variance.

    :math:`\operatorname{Var}(\bar x_b) / \sigma_x^2 = V_b / (b^2 \sigma_x^2)` with
    :math:`V_b` of :func:`batch_means_lag1` (1/b for independent data).
    """
    _check(phi, ar_fraction)
    sizes = np.asarray(b, dtype=float)
    variance, _ = _sums(phi, ar_fraction, sizes)
    ratio = variance / sizes**2
    return float(ratio) if ratio.ndim == 0 else ratio


def smallest_batch(phi: float, ar_fraction: float = 1.0, target: float = TARGET_LAG1) -> int:
    """The smallest batch size whose means have a lag-1 autocorrelation of at most ``target``
    (:func:`batch_means_lag1`; 1 when the observations already meet it)."""
    _check(phi, ar_fraction)
    if batch_means_lag1(phi, 1, ar_fraction) <= target:
        return 1
    # rho_b falls monotonically in b for phi > 0: double, then bisect
    low, high = 1, 2
    while batch_means_lag1(phi, high, ar_fraction) > target:
        low, high = high, high * 2
        if high > _MAX_BATCH:
            raise SPCInputError(f"No batch up to {_MAX_BATCH} observations brings phi={phi} down.")
    while high - low > 1:
        middle = (low + high) // 2
        if batch_means_lag1(phi, middle, ar_fraction) > target:
            low = middle
        else:
            high = middle
    return high


def sample_autocorrelation(values: Any, max_lag: int) -> np.ndarray:
    r"""Sample autocorrelations :math:`r_1 .. r_K` of ``values`` (Box et al. [3]_ §2.1.5).

    :math:`r_k = \sum_{t=1}^{n-k}(x_t-\bar x)(x_{t+k}-\bar x) / \sum_{t=1}^n (x_t-\bar x)^2`,
    computed by FFT.
    """
    x = as_float_array(values)
    centered = x - x.mean()
    size = 1 << int(np.ceil(np.log2(2 * x.size)))
    spectrum = np.fft.rfft(centered, size)
    acov = np.fft.irfft(spectrum * np.conj(spectrum), size)[: max_lag + 1]
    return acov[1:] / acov[0]


@dataclass(frozen=True)
class AR1NoiseFit:
    """An AR(1) process seen through independent noise, fitted to a series' autocorrelations.

    Attributes
    ----------
    phi : float
        AR(1) coefficient per observation interval.
    ar_fraction : float
        Share of the variance in the AR(1) part (the rest is noise).
    lags : int
        Lags of the sample autocorrelation function the fit used.
    """

    phi: float
    ar_fraction: float
    lags: int


def fit_ar1_noise(values: Any, max_lag: int | None = None) -> AR1NoiseFit:
    r"""Fit :math:`r_k = f\,\phi^k + c` to the sample autocorrelations of ``values``.

    Parameters
    ----------
    values : array-like
        Observations in time order, equally spaced.
    max_lag : int, optional
        Largest lag fitted (default n // 4).

    Notes
    -----
    An AR(1) with share f of the variance, plus independent noise, has
    :math:`\rho_k = f\phi^k` for :math:`k \ge 1` (an ARMA(1, 1), Box et al. [3]_).  The
    constant c absorbs the negative bias that removing the sample mean gives every
    :math:`r_k` of a slowly varying series (about :math:`-2f/(n(1-\phi))`), which would
    otherwise make the wander look faster than it is and the batches too short.  A series
    without positive lag-1 autocorrelation is taken as independent (f = 0).
    """
    x = as_float_array(values)
    check_min_points(x.size, 20, "observations")
    lags = int(max_lag or x.size // 4)
    lags = max(3, min(lags, x.size - 2))
    r = sample_autocorrelation(x, lags)
    if not r[0] > 0.0:
        return AR1NoiseFit(0.0, 0.0, lags)
    k = np.arange(1, lags + 1, dtype=float)

    def model(k: np.ndarray, fraction: float, phi: float, offset: float) -> np.ndarray:
        return fraction * phi**k + offset

    # start from the first two lags: r_2 / r_1 = phi, r_1 = f phi
    phi0 = float(np.clip(r[1] / r[0], 0.01, 0.999))
    start = (float(np.clip(r[0] / phi0, 1e-3, 1.0)), phi0, 0.0)
    (fraction, phi, _), _ = optimize.curve_fit(
        model, k, r, p0=start, bounds=([0.0, 0.0, -0.5], [1.0, 0.999999, 0.5])
    )
    return AR1NoiseFit(float(phi), float(fraction), lags)


@dataclass(frozen=True)
class BatchSize:
    """A batch size for a batch-means chart, and what it rests on.

    Attributes
    ----------
    size : int
        Observations per batch.
    lag1 : float
        Lag-1 autocorrelation of the batch means at ``size``.
    method : str
        ``empirical`` (from the batch means of the data) or ``model`` (from the AR(1)-plus-
        noise fit, where the data hold fewer than `MIN_BATCHES` batches of that size).
    variance_ratio : float
        Variance of a batch mean over the observations' variance (1/size when independent).
    fit : AR1NoiseFit
        The fitted model.
    """

    size: int
    lag1: float
    method: str
    variance_ratio: float
    fit: AR1NoiseFit


def batch_size_from_data(
    values: Any, target: float = TARGET_LAG1, min_batches: int = MIN_BATCHES
) -> BatchSize:
    r"""The smallest batch size whose means of ``values`` have lag-1 autocorrelation at most
    ``target``.

    Parameters
    ----------
    values : array-like
        Observations in time order, equally spaced.
    target : float
        Largest lag-1 autocorrelation of the means (Runger & Willemain [1]_: 0.1).
    min_batches : int
        Batches a size must give for its means' autocorrelation to be read from the data.

    Notes
    -----
    Sizes are tried in increasing order (1, then about 10 % larger each step).  While the
    data hold at least ``min_batches`` batches of a size, :math:`r_1` of the batch means is
    computed from them and must be at most ``target`` under both the data and the fitted
    model (:func:`fit_ar1_noise`, :func:`batch_means_lag1`) — the sample :math:`r_1` of few
    batches is biased low by about :math:`-1/m`; beyond, the model decides alone.
    """
    x = as_float_array(values)
    fit = fit_ar1_noise(x)
    size = 1
    while True:
        model = float(batch_means_lag1(fit.phi, size, fit.ar_fraction))
        batches = x.size // size
        if batches >= min_batches:
            means = x[: batches * size].reshape(batches, size).mean(axis=1)
            centered = means - means.mean()
            empirical = float(np.sum(centered[1:] * centered[:-1]) / np.sum(centered**2))
            if max(empirical, model) <= target:
                return BatchSize(size, empirical, "empirical", _ratio(fit, size), fit)
        elif model <= target:
            return BatchSize(size, model, "model", _ratio(fit, size), fit)
        if size > _MAX_BATCH:
            raise SPCInputError(f"No batch up to {_MAX_BATCH} observations meets {target}.")
        size = max(size + 1, int(np.ceil(size * 1.1)))


def _ratio(fit: AR1NoiseFit, size: int) -> float:
    return float(batch_means_variance(fit.phi, size, fit.ar_fraction))
