"""Autocorrelation of line data: detect it, and chart residuals of a time-series model instead.

Fast line data (thickness gauges, dryer temperatures) are positively autocorrelated, which
shrinks MR-bar and makes an I chart raise a flood of false alarms.  The remedy is to fit an
ARIMA model and chart its one-step-ahead residuals, which are independent when the model is
adequate, so a drift or shift still shows up in them.

References
----------
.. [1] D. C. Montgomery, *Introduction to Statistical Quality Control*, 7th ed., Wiley, 2013,
   §10.4 (SPC with autocorrelated process data; residual charts, Example 10.3).
.. [2] G. E. P. Box, G. M. Jenkins, G. C. Reinsel and G. M. Ljung, *Time Series Analysis*,
   5th ed., Wiley, 2015, §2.1.6 (Bartlett's approximation for the standard error of r_k).
.. [3] G. M. Ljung and G. E. P. Box, "On a measure of lack of fit in time series models",
   *Biometrika* 65(2), 1978, pp. 297-303.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats
from statsmodels.stats.diagnostic import acorr_ljungbox
from statsmodels.tsa.arima.model import ARIMA

from spc.charts import ChartSet
from spc.validation import as_float_array, check_min_points
from spc.variables import imr


@dataclass(frozen=True)
class AutocorrelationTest:
    """Lag-1 autocorrelation with its significance.

    Attributes
    ----------
    r1 : float
        Lag-1 sample autocorrelation (dimensionless).
    z : float
        :math:`r_1\\sqrt{n}`, standard normal under independence.
    p_value : float
        Two-sided p-value of ``z``.
    ljung_box_p_value : float
        p-value of the Ljung-Box test over the first ``lags`` lags.
    lags : int
        Lags in the Ljung-Box test.
    significant : bool
        True when ``p_value`` is below ``alpha``.
    """

    r1: float
    z: float
    p_value: float
    ljung_box_p_value: float
    lags: int
    significant: bool


def lag1_autocorrelation(values: Any, alpha: float = 0.05, lags: int = 10) -> AutocorrelationTest:
    r"""Test a series for lag-1 autocorrelation.

    Parameters
    ----------
    values : array-like
        Observations in time order.
    alpha : float
        Significance level.
    lags : int
        Lags of the Ljung-Box portmanteau test (capped at n // 4).

    Notes
    -----
    :math:`r_1 = \sum_{t=2}^n (x_t-\bar x)(x_{t-1}-\bar x) / \sum_{t=1}^n (x_t-\bar x)^2`;
    under independence :math:`r_1 \approx N(0, 1/n)` (Bartlett [2]_), so
    :math:`z = r_1\sqrt n` (Montgomery [1]_ §10.4.1).
    """
    x = as_float_array(values)
    check_min_points(x.size, 8, "observations")
    centered = x - x.mean()
    r1 = float(np.sum(centered[1:] * centered[:-1]) / np.sum(centered**2))
    z = r1 * np.sqrt(x.size)
    p_value = float(2.0 * stats.norm.sf(abs(z)))
    lags = max(1, min(lags, x.size // 4))
    ljung_box = acorr_ljungbox(x, lags=[lags], return_df=True)
    return AutocorrelationTest(
        r1=r1,
        z=float(z),
        p_value=p_value,
        ljung_box_p_value=float(ljung_box["lb_pvalue"].iloc[0]),
        lags=lags,
        significant=p_value < alpha,
    )


@dataclass(frozen=True)
class ResidualChart:
    """I-MR charts of ARIMA one-step-ahead residuals, with the fitted model.

    Attributes
    ----------
    charts : ChartSet
        I-MR of the residuals (chart type ``imr``).
    order : tuple of int
        ARIMA (p, d, q) order.
    params : dict of str to float
        Fitted model parameters by statsmodels name (e.g. ``ar.L1``, ``const``, ``sigma2``).
    residuals : numpy.ndarray
        One-step-ahead residuals, unit of the observations.
    """

    charts: ChartSet
    order: tuple[int, int, int]
    params: dict[str, float]
    residuals: np.ndarray


def residual_chart(
    values: Any,
    order: tuple[int, int, int] = (1, 0, 0),
    *,
    labels: Any = None,
    reference: int | None = None,
    rules: str | Iterable[str] | None = "nelson",
) -> ResidualChart:
    r"""Fit an ARIMA model and chart its residuals on I-MR charts (Montgomery [1]_ §10.4.2).

    Parameters
    ----------
    values : array-like
        Observations in time order.
    order : tuple of int
        ARIMA (p, d, q); (1, 0, 0) is the first-order autoregressive model
        :math:`x_t = \xi + \phi x_{t-1} + \varepsilon_t` of Montgomery's Example 10.3.
    labels, rules
        As :func:`spc.variables.imr`, applied to the residuals.
    reference : int, optional
        Phase I length: the model is fitted on, and the residual limits estimated from, the
        first ``reference`` observations; later residuals are one-step-ahead forecast errors of
        the frozen model (default: all observations).

    Returns
    -------
    ResidualChart
    """
    x = as_float_array(values)
    check_min_points(x.size, 10, "observations")
    trend = "c" if order[1] == 0 else "n"
    fit_data = x if reference is None else x[: int(reference)]
    check_min_points(fit_data.size, 10, "observations in the phase I period")
    with warnings.catch_warnings():
        # statsmodels warns about start values on short series; the fit still converges.
        warnings.simplefilter("ignore")
        fitted = ARIMA(fit_data, order=order, trend=trend).fit()
        applied = fitted if reference is None else fitted.apply(x)
    residuals = np.asarray(applied.resid, dtype=float)
    # The first d residuals of a differenced model equal the raw level; drop them from charting.
    skip = order[1]
    names = np.arange(1, x.size + 1) if labels is None else np.asarray(labels)
    charts = imr(residuals[skip:], names[skip:], reference=reference, rules=rules)
    return ResidualChart(
        charts=charts,
        order=tuple(order),  # type: ignore[arg-type]
        params={k: float(v) for k, v in zip(fitted.param_names, fitted.params, strict=True)},
        residuals=residuals,
    )
