"""Process capability and performance indices with confidence intervals and expected ppm.

The Taguchi index on the within sigma is ``cpm`` (Montgomery, qcc); on the overall sigma it is
``ppm`` (Minitab's Cpm of its overall block).  Expected nonconforming parts per million are
``nonconforming_ppm``.

References
----------
.. [1] D. C. Montgomery, *Introduction to Statistical Quality Control*, 7th ed., Wiley, 2013,
   §8.2-8.3: Cp, Cpk, Cpm (eq. 8.5-8.13), confidence intervals (§8.3.5, eq. 8.19, 8.20
   Bissell); §6.2-6.4: the within-subgroup sigma estimates R-bar/d2, s-bar/c4 and MR-bar/d2.
.. [2] A. F. Bissell, "How reliable is your capability index?", *Applied Statistics* 39(3),
   1990, pp. 331-340.
.. [3] ISO 22514-2:2017, *Statistical methods in process management - Capability and
   performance - Part 2*, percentile (quantile) method for non-normal distributions.
.. [4] J. A. Clements, "Process capability calculations for non-normal distributions",
   *Quality Progress* 22(9), 1989, pp. 95-100.
.. [5] M. A. Stephens, "EDF statistics for goodness of fit", *JASA* 69, 1974 (Anderson-Darling).
.. [6] R. A. Boyles, "The Taguchi capability index", *J. Quality Technology* 23(1), 1991,
   pp. 17-26 (Cpm and its confidence interval).
.. [7] Y.-M. Chou, D. B. Owen and S. A. Borrego, "Lower confidence limits on process
   capability indices", *J. Quality Technology* 22(3), 1990, pp. 223-229.
.. [8] L. Scrucca, "qcc: an R package for quality control charting and statistical process
   control", *R News* 4(1), 2004, pp. 11-17 (``process.capability``: Cpm on the within sigma).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from spc.constants import ChartConstants, chart_constants
from spc.errors import SPCInputError
from spc.validation import as_float_array, as_subgroups, check_min_points
from spc.variables import imr_limits, within_sigma

WITHIN_ESTIMATORS = ("range", "std")
"""Within-subgroup sigma estimators of :func:`capability`: R-bar/d2 (``range``, as the X-bar/R
chart) or s-bar/c4 (``std``, as the X-bar/S chart)."""


def _check_specs(lsl: float | None, usl: float | None) -> None:
    if lsl is None and usl is None:
        raise SPCInputError("Give at least one specification limit (lsl or usl).")
    if lsl is not None and usl is not None and not lsl < usl:
        raise SPCInputError(f"The lower spec limit ({lsl}) must be below the upper ({usl}).")


def _check_confidence(confidence: float) -> None:
    if not 0.0 < confidence < 1.0:
        raise SPCInputError(f"The confidence level must be in (0, 1), got {confidence}.")


def _check_interval_inputs(n: int, confidence: float) -> None:
    if n < 2:
        raise SPCInputError(f"A confidence interval needs at least 2 measurements, got {n}.")
    _check_confidence(confidence)


def cp_confidence_interval(cp: float, n: int, confidence: float = 0.95) -> tuple[float, float]:
    r"""Two-sided confidence interval on Cp (or Pp) from the chi-square distribution of s².

    Parameters
    ----------
    cp : float
        Estimated index :math:`\hat C_p` (or :math:`\hat P_p`), dimensionless.
    n : int
        Number of measurements the sigma was estimated from.
    confidence : float
        Confidence level :math:`1-\alpha`, in (0, 1).

    Returns
    -------
    tuple of float
        Lower and upper bound, dimensionless.

    Notes
    -----
    Montgomery [1]_ §8.3.5, eq. 8.19, with :math:`\chi^2_{a,\,n-1}` the upper-a point:

    .. math:: \hat C_p\sqrt{\frac{\chi^2_{1-\alpha/2,\,n-1}}{n-1}} \le C_p \le
              \hat C_p\sqrt{\frac{\chi^2_{\alpha/2,\,n-1}}{n-1}}

    The interval is exact for an index built on the sample standard deviation s of n normal
    measurements, as :math:`P_p` is; for a within-subgroup estimate (:math:`C_p`) it is the
    usual approximation with n - 1 degrees of freedom.
    """
    from scipy import stats

    _check_interval_inputs(n, confidence)
    alpha = 1.0 - confidence
    df = n - 1
    return (
        float(cp * np.sqrt(stats.chi2.ppf(alpha / 2.0, df) / df)),
        float(cp * np.sqrt(stats.chi2.ppf(1.0 - alpha / 2.0, df) / df)),
    )


def cpk_confidence_interval(cpk: float, n: int, confidence: float = 0.95) -> tuple[float, float]:
    r"""Approximate two-sided confidence interval on Cpk (or Ppk) by Bissell's normal
    approximation.

    Parameters
    ----------
    cpk : float
        Estimated index :math:`\hat C_{pk}` (or :math:`\hat P_{pk}`), dimensionless, not 0.
    n : int
        Number of measurements the index was estimated from.
    confidence : float
        Confidence level :math:`1-\alpha`, in (0, 1).

    Returns
    -------
    tuple of float
        Lower and upper bound, dimensionless.

    Notes
    -----
    Bissell [2]_; Montgomery [1]_ §8.3.5, eq. 8.20, with :math:`Z_{\alpha/2}` the upper
    :math:`\alpha/2` point of the standard normal distribution:

    .. math:: \hat C_{pk}\left[1 \mp Z_{\alpha/2}\sqrt{\frac{1}{9n\hat C_{pk}^2}
              + \frac{1}{2(n-1)}}\right]

    :math:`P_{pk}` takes the same interval with the overall sample standard deviation in
    place of the within-subgroup sigma.
    """
    from scipy import stats

    _check_interval_inputs(n, confidence)
    z = stats.norm.ppf(1.0 - (1.0 - confidence) / 2.0)
    half = z * np.sqrt(1.0 / (9.0 * n * cpk**2) + 1.0 / (2.0 * (n - 1)))
    return float(cpk * (1.0 - half)), float(cpk * (1.0 + half))


def cpm_confidence_interval(
    cpm: float, n: int, mean: float, sigma: float, target: float, confidence: float = 0.95
) -> tuple[float, float]:
    r"""Two-sided confidence interval on Cpm (or Ppm) by Boyles' chi-square approximation.

    Parameters
    ----------
    cpm : float
        Estimated index, dimensionless.
    n : int
        Number of measurements.
    mean, sigma, target : float
        Process mean, the sigma the index uses, and the target (unit of the measurements).
    confidence : float
        Confidence level :math:`1-\alpha`, in (0, 1).

    Returns
    -------
    tuple of float
        Lower and upper bound, dimensionless.

    Notes
    -----
    Boyles [6]_: with :math:`\xi = (\bar x - T)/\sigma` and
    :math:`\nu = n(1+\xi^2)^2/(1+2\xi^2)`,

    .. math:: \hat C_{pm}\sqrt{\chi^2_{1-\alpha/2,\,\nu}/\nu} \le C_{pm} \le
              \hat C_{pm}\sqrt{\chi^2_{\alpha/2,\,\nu}/\nu}

    (the interval qcc's ``process.capability`` prints).
    """
    from scipy import stats

    _check_interval_inputs(n, confidence)
    alpha = 1.0 - confidence
    xi = (mean - target) / sigma
    dof = n * (1.0 + xi * xi) ** 2 / (1.0 + 2.0 * xi * xi)
    return (
        float(cpm * np.sqrt(stats.chi2.ppf(alpha / 2.0, dof) / dof)),
        float(cpm * np.sqrt(stats.chi2.ppf(1.0 - alpha / 2.0, dof) / dof)),
    )


def _indices(
    mean: float, sigma: float, lsl: float | None, usl: float | None
) -> tuple[float, float, float]:
    """(Cp or Pp, lower one-sided index, upper one-sided index); NaN where a limit is absent."""
    spread = (usl - lsl) / (6.0 * sigma) if lsl is not None and usl is not None else np.nan
    lower = (mean - lsl) / (3.0 * sigma) if lsl is not None else np.nan
    upper = (usl - mean) / (3.0 * sigma) if usl is not None else np.nan
    return float(spread), float(lower), float(upper)


def expected_ppm(
    mean: float, sigma: float, lsl: float | None, usl: float | None
) -> dict[str, float]:
    """Expected parts per million below LSL, above USL and in total for a normal process."""
    from scipy import stats

    below = stats.norm.cdf((lsl - mean) / sigma) * 1e6 if lsl is not None else 0.0
    above = stats.norm.sf((usl - mean) / sigma) * 1e6 if usl is not None else 0.0
    return {"below_lsl": float(below), "above_usl": float(above), "total": float(below + above)}


INDEX_SIGMA = {
    "cp": "within", "cpk": "within", "cpl": "within", "cpu": "within", "cpm": "within",
    "pp": "overall", "ppk": "overall", "ppm": "overall",
}  # fmt: skip
"""The sigma each index uses.  ``cpm`` takes the within sigma (Montgomery §8.2.3, qcc);
Minitab's Cpm in its overall block is ``ppm`` here."""


@dataclass(frozen=True)
class Capability:
    """Capability (within) and performance (overall) indices of a process against its specs.

    All indices are dimensionless; means and sigmas are in the unit of the measurements.
    ``cp``, ``cpk``, ``cpl``, ``cpu`` and ``cpm`` use the within sigma, ``pp``, ``ppk`` and
    ``ppm`` the overall sample standard deviation (:data:`INDEX_SIGMA`).  ``ci`` holds two-sided
    confidence intervals at ``confidence`` for every index that is defined with the given spec
    limits; ``nonconforming_ppm`` the expected parts per million out of spec from the within
    sigma (``within_*``), from the overall sigma (``overall_*``) and the observed ppm.
    """

    n: int
    mean: float
    sigma_within: float
    sigma_overall: float
    sigma_method: str
    lsl: float | None
    usl: float | None
    target: float | None
    cp: float
    cpk: float
    cpl: float
    cpu: float
    pp: float
    ppk: float
    cpm: float
    confidence: float
    ci: dict[str, tuple[float, float]]
    normality: dict[str, Any]
    nonconforming_ppm: dict[str, float]
    ppm: float = float("nan")
    constants: str = "exact"

    def to_dict(self) -> dict[str, Any]:
        """JSON form of the CLI contract (NaN becomes null)."""

        def clean(value: Any) -> Any:
            if isinstance(value, float):
                return None if np.isnan(value) else value
            if isinstance(value, dict):
                return {k: clean(v) for k, v in value.items()}
            if isinstance(value, tuple):
                return [clean(v) for v in value]
            return value

        out = {
            key: clean(getattr(self, key))
            for key in (
                "n", "mean", "sigma_within", "sigma_overall", "sigma_method", "constants", "lsl",
                "usl", "target", "cp", "cpk", "cpl", "cpu", "cpm", "pp", "ppk", "ppm", "ci",
                "confidence", "normality", "nonconforming_ppm",
            )
        }  # fmt: skip
        return {**out, "index_sigma": dict(INDEX_SIGMA)}


def _within_sigma(
    x: np.ndarray,
    subgroup: Any,
    method: str,
    constants: str | ChartConstants,
    unequal: str,
) -> tuple[float, str]:
    if subgroup is None:
        if method not in ("mr", "sd"):
            raise SPCInputError(
                f"Without subgroups the within sigma is mr or sd, not {method!r}; give the"
                " subgroup labels for rbar, sbar or pooled."
            )
        limits = imr_limits(x, sigma_method=method, constants=constants)
        return limits.sigma, limits.sigma_method
    groups = as_subgroups(x, subgroup, min_size=1 if method == "sd" else 2)
    return within_sigma(groups, np.ones(len(groups.sizes), dtype=bool), method, constants, unequal)


def capability(
    values: Any,
    subgroup: Any = None,
    *,
    lsl: float | None = None,
    usl: float | None = None,
    target: float | None = None,
    confidence: float = 0.95,
    within: str = "range",
    sigma_method: str | None = None,
    constants: str | ChartConstants = "exact",
    unequal: str = "weighted",
) -> Capability:
    r"""Cp, Cpk, Cpl, Cpu, Cpm (within), Pp, Ppk, Ppm (overall), with CIs, normality and ppm.

    Parameters
    ----------
    values : array-like
        Measurements, any unit (same as the spec limits).
    subgroup : array-like, optional
        Subgroup label of each measurement; the within sigma then comes from the subgroups
        (see ``within``), otherwise it is :math:`\overline{MR}/d_2` of consecutive values.
    lsl, usl : float, optional
        Specification limits (at least one).
    target : float, optional
        Target for Cpm and Ppm (default: the spec midpoint when both limits are given).
    confidence : float
        Level of the confidence intervals, in (0, 1).
    within : {"range", "std"}
        Within-subgroup sigma with ``subgroup``: :math:`\bar R/d_2` (``range``, the X-bar/R
        chart's estimate) or :math:`\bar s/c_4` (``std``, the X-bar/S chart's), weighted
        for unequal subgroup sizes as the charts weight them (Montgomery [1]_ §6.2-6.3).
    sigma_method : str, optional
        Any of :data:`spc.variables.SIGMA_METHODS`; overrides ``within`` (``mr`` and ``sd``
        without subgroups, ``rbar``, ``sbar``, ``pooled`` and ``sd`` with them).
    constants, unequal
        Constant set and unequal-size convention of the within estimate, as the charts.

    Returns
    -------
    Capability
        Indices, their confidence intervals, the Anderson-Darling normality test and ppm.

    Notes
    -----
    .. math:: C_p = \frac{USL-LSL}{6\sigma_w},\; C_{pu} = \frac{USL-\bar x}{3\sigma_w},\;
              C_{pl} = \frac{\bar x-LSL}{3\sigma_w},\; C_{pk} = \min(C_{pu}, C_{pl}),\;
              C_{pm} = \frac{USL-LSL}{6\sqrt{\sigma_w^2+(\bar x-T)^2}}

    :math:`P_p, P_{pk}, P_{pm}` are the same ratios with the overall sample standard deviation
    s in place of :math:`\sigma_w` (Montgomery [1]_ §8.2).  Intervals: :math:`C_p, P_p` by the
    chi-square interval (:func:`cp_confidence_interval`), :math:`C_{pk}, C_{pl}, C_{pu},
    P_{pk}` by Bissell's normal approximation (:func:`cpk_confidence_interval`; Chou et al.
    [7]_ give the one-sided limits of the same estimators), :math:`C_{pm}, P_{pm}` by Boyles
    (:func:`cpm_confidence_interval`), all with n the number of measurements, as qcc [8]_.
    Normality: Anderson-Darling with Stephens' p-value [5]_.
    """
    from statsmodels.stats.diagnostic import normal_ad

    _check_specs(lsl, usl)
    _check_confidence(confidence)
    if within not in WITHIN_ESTIMATORS:
        raise SPCInputError(
            f"Unknown within-subgroup estimator {within!r}; use {' or '.join(WITHIN_ESTIMATORS)}."
        )
    x = as_float_array(values)
    check_min_points(x.size, 3, "measurements")
    if sigma_method is None:
        sigma_method = "mr" if subgroup is None else {"range": "rbar", "std": "sbar"}[within]
    sigma_within, method = _within_sigma(x, subgroup, sigma_method, constants, unequal)
    mean = float(np.mean(x))
    sigma_overall = float(np.std(x, ddof=1))
    if sigma_within <= 0 or sigma_overall <= 0:
        raise SPCInputError("The measurements do not vary, so capability is undefined.")
    cp, cpl, cpu = _indices(mean, sigma_within, lsl, usl)
    pp, ppl, ppu = _indices(mean, sigma_overall, lsl, usl)
    cpk = float(np.nanmin([cpl, cpu]))
    ppk = float(np.nanmin([ppl, ppu]))
    if target is None and lsl is not None and usl is not None:
        target = (lsl + usl) / 2.0
    two_sided = target is not None and lsl is not None and usl is not None

    def taguchi(sigma: float) -> float:
        if not two_sided:
            return float("nan")
        return float((usl - lsl) / (6.0 * np.sqrt(sigma**2 + (mean - target) ** 2)))

    cpm, ppm_index = taguchi(sigma_within), taguchi(sigma_overall)
    n = int(x.size)
    ci: dict[str, tuple[float, float]] = {}
    if not np.isnan(cp):
        ci["cp"] = cp_confidence_interval(cp, n, confidence)
        ci["pp"] = cp_confidence_interval(pp, n, confidence)
    for key, index in (("cpk", cpk), ("cpl", cpl), ("cpu", cpu), ("ppk", ppk)):
        if not np.isnan(index):
            ci[key] = cpk_confidence_interval(index, n, confidence)
    if two_sided:
        ci["cpm"] = cpm_confidence_interval(cpm, n, mean, sigma_within, target, confidence)
        ci["ppm"] = cpm_confidence_interval(ppm_index, n, mean, sigma_overall, target, confidence)
    statistic, p_value = normal_ad(x)
    observed_below = np.sum(x < lsl) if lsl is not None else 0
    observed_above = np.sum(x > usl) if usl is not None else 0
    within_ppm = expected_ppm(mean, sigma_within, lsl, usl)
    overall_ppm = expected_ppm(mean, sigma_overall, lsl, usl)
    nonconforming = {
        **{f"within_{k}": v for k, v in within_ppm.items()},
        **{f"overall_{k}": v for k, v in overall_ppm.items()},
        "observed_total": float((observed_below + observed_above) / x.size * 1e6),
    }
    return Capability(
        n=n, mean=mean, sigma_within=float(sigma_within), sigma_overall=sigma_overall,
        sigma_method=method, lsl=lsl, usl=usl, target=target, cp=cp, cpk=cpk, cpl=cpl, cpu=cpu,
        pp=pp, ppk=ppk, cpm=cpm, confidence=confidence, ci=ci,
        normality={"test": "anderson-darling", "statistic": float(statistic),
                   "p_value": float(p_value)},
        nonconforming_ppm=nonconforming, ppm=ppm_index,
        constants=chart_constants(constants).name,
    )  # fmt: skip


@dataclass(frozen=True)
class PercentileCapability:
    """Capability by the ISO 22514-2 percentile method (non-normal data).

    ``cp``/``cpk`` use the 0.135 %, 50 % and 99.865 % points of the data's distribution in place
    of :math:`\\mu \\pm 3\\sigma`; ``method`` says how those points were obtained.
    """

    cp: float
    cpk: float
    cpl: float
    cpu: float
    q_low: float
    median: float
    q_high: float
    method: str


def capability_percentile(
    values: Any, *, lsl: float | None = None, usl: float | None = None, method: str = "boxcox"
) -> PercentileCapability:
    r"""Non-normal capability by the percentile method (ISO 22514-2 [3]_, Clements [4]_).

    Parameters
    ----------
    values : array-like
        Measurements (strictly positive for ``boxcox``).
    lsl, usl : float, optional
        Specification limits.
    method : {"boxcox", "empirical"}
        ``boxcox``: fit a Box-Cox transform by maximum likelihood, take the normal quantiles in
        the transformed scale and map them back.  ``empirical``: sample quantiles (needs many
        thousands of points to resolve 0.135 %).

    Notes
    -----
    .. math:: C_p = \frac{USL-LSL}{X_{0.99865}-X_{0.00135}},\quad
              C_{pu} = \frac{USL-X_{0.5}}{X_{0.99865}-X_{0.5}},\quad
              C_{pl} = \frac{X_{0.5}-LSL}{X_{0.5}-X_{0.00135}}
    """
    from scipy import stats

    _check_specs(lsl, usl)
    x = as_float_array(values)
    check_min_points(x.size, 10, "measurements")
    probabilities = np.array([stats.norm.cdf(-3.0), 0.5, stats.norm.cdf(3.0)])
    if method == "boxcox":
        if np.any(x <= 0):
            raise SPCInputError("The Box-Cox method needs strictly positive measurements.")
        transformed, lam = stats.boxcox(x)
        quantile_t = np.mean(transformed) + stats.norm.ppf(probabilities) * np.std(
            transformed, ddof=1
        )
        q = _inverse_boxcox(quantile_t, lam)
    elif method == "empirical":
        q = np.quantile(x, probabilities)
    else:
        raise SPCInputError(f"Unknown percentile method {method!r}; use boxcox or empirical.")
    low, median, high = (float(v) for v in q)
    cp = (usl - lsl) / (high - low) if lsl is not None and usl is not None else float("nan")
    cpl = (median - lsl) / (median - low) if lsl is not None else float("nan")
    cpu = (usl - median) / (high - median) if usl is not None else float("nan")
    return PercentileCapability(
        cp=float(cp), cpk=float(np.nanmin([cpl, cpu])), cpl=float(cpl), cpu=float(cpu),
        q_low=low, median=median, q_high=high, method=method,
    )  # fmt: skip


def _inverse_boxcox(y: np.ndarray, lam: float) -> np.ndarray:
    return np.exp(y) if abs(lam) < 1e-12 else np.power(lam * y + 1.0, 1.0 / lam)
