"""Control-chart constants d2, d3 and c4: computed from their definitions, or as tables print them.

By default the constants are computed for any ``n``: ``d2`` and ``d3`` integrate the
distribution of the range of ``n`` independent standard normal variables, ``c4`` uses the gamma
function.  Published examples are worked with the printed tables (Montgomery Appendix VI, ASTM
E2587, R's qcc), whose rounding shows at about 1e-4; :class:`ChartConstants` selects either, so
that a textbook example can be reproduced to every printed digit.

References
----------
.. [1] D. C. Montgomery, *Introduction to Statistical Quality Control*, 8th ed., Wiley, 2019,
   §6.2 and Appendix Table VI.
.. [2] ASTM E2587-16, *Standard Practice for Use of Control Charts in Statistical Process
   Control*, Table 1.
.. [3] H. L. Harter, "Tables of range and studentized range", *Ann. Math. Stat.* 31 (1960).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from spc.errors import SPCInputError

_X_HALF_WIDTH = 12.0
_X_POINTS = 4801
_R_NODES = 160
_R_MAX = 20.0


def _check_size(n: int, minimum: int) -> int:
    if int(n) != n or n < minimum:
        raise SPCInputError(f"Subgroup size must be an integer of at least {minimum}, got {n}.")
    return int(n)


@lru_cache(maxsize=256)
def d2(n: int) -> float:
    r"""Mean of the range of ``n`` standard normal observations, :math:`E[R]/\sigma`.

    Parameters
    ----------
    n : int
        Subgroup size (observations per subgroup), at least 2.

    Returns
    -------
    float
        :math:`d_2(n)`, dimensionless.

    Notes
    -----
    .. math:: d_2(n) = \int_{-\infty}^{\infty} 1 - \Phi(x)^n - (1-\Phi(x))^n \, dx

    (Montgomery [1]_ §6.2; Harter [3]_).  For moving ranges of two observations, ``d2(2)``
    = 2/sqrt(pi) = 1.128.
    """
    n = _check_size(n, 2)
    return _EXACT_D2[n - 2] if n in _EXACT_SIZES else _integrated_d2(n)


def _integrated_d2(n: int) -> float:
    """:func:`d2` by adaptive quadrature of its definition."""
    from scipy import integrate, special

    def integrand(x: float) -> float:
        return 1.0 - special.ndtr(x) ** n - special.ndtr(-x) ** n

    value, _ = integrate.quad(integrand, -np.inf, np.inf, epsabs=1e-12, epsrel=1e-12)
    return float(value)


@lru_cache(maxsize=256)
def d3(n: int) -> float:
    r"""Standard deviation of the range of ``n`` standard normal observations.

    Parameters
    ----------
    n : int
        Subgroup size, at least 2.

    Returns
    -------
    float
        :math:`d_3(n)`, dimensionless.

    Notes
    -----
    .. math:: E[R^2] = 2\int_0^\infty\!\int_{-\infty}^{\infty}
              1 - \Phi(x+r)^n - (1-\Phi(x))^n + (\Phi(x+r)-\Phi(x))^n \,dx\,dr,
              \qquad d_3 = \sqrt{E[R^2] - d_2^2}

    (Harter [3]_; the double integral over x < y written with y = x + r).
    """
    n = _check_size(n, 2)
    return _EXACT_D3[n - 2] if n in _EXACT_SIZES else _integrated_d3(n)


def _integrated_d3(n: int) -> float:
    """:func:`d3` by quadrature of its definition."""
    from scipy import special

    # The inner integral over x is smooth and decays like phi, so the trapezoid rule converges
    # spectrally; the outer integral over r starts at a boundary, where Gauss-Legendre suits a
    # smooth integrand.  This gives d3 to ~1e-10 in milliseconds instead of nested quad.
    x = np.linspace(-_X_HALF_WIDTH, _X_HALF_WIDTH, _X_POINTS)
    nodes, weights = np.polynomial.legendre.leggauss(_R_NODES)
    r = (nodes + 1.0) * _R_MAX / 2.0
    weights = weights * _R_MAX / 2.0
    lower = special.ndtr(x)[None, :]
    upper = special.ndtr(x[None, :] + r[:, None])
    joint = 1.0 - upper**n - (1.0 - lower) ** n + (upper - lower) ** n
    second_moment = 2.0 * np.sum(weights * np.trapezoid(joint, x, axis=1))
    return float(np.sqrt(second_moment - d2(n) ** 2))


def c4(n: int | np.ndarray) -> float | np.ndarray:
    r"""Bias factor of the sample standard deviation, :math:`E[s]/\sigma`.

    Parameters
    ----------
    n : int or array of int
        Subgroup size(s), at least 2.

    Returns
    -------
    float or numpy.ndarray
        :math:`c_4(n)`, dimensionless.

    Notes
    -----
    .. math:: c_4(n) = \sqrt{\frac{2}{n-1}}\,\frac{\Gamma(n/2)}{\Gamma((n-1)/2)}

    (Montgomery [1]_ §6.3), evaluated through ``gammaln`` so that large ``n`` does not overflow.
    """
    sizes = np.asarray(n, dtype=float)
    if np.any(sizes < 2) or np.any(sizes != np.round(sizes)):
        raise SPCInputError("Subgroup size must be an integer of at least 2 for c4.")
    if np.all((sizes >= _EXACT_SIZES.start) & (sizes < _EXACT_SIZES.stop)):
        value = np.asarray(_EXACT_C4)[sizes.astype(int) - _EXACT_SIZES.start]
    else:
        value = _gamma_c4(sizes)
    return float(value) if np.ndim(value) == 0 else value


def _gamma_c4(sizes: np.ndarray) -> np.ndarray:
    """:func:`c4` of float ``sizes`` from the gamma function."""
    from scipy import special

    return np.sqrt(2.0 / (sizes - 1.0)) * np.exp(
        special.gammaln(sizes / 2.0) - special.gammaln((sizes - 1.0) / 2.0)
    )


def d2_array(sizes: np.ndarray) -> np.ndarray:
    """:func:`d2` for each element of ``sizes`` (each distinct size is integrated once)."""
    return _vectorized(d2, sizes)


def d3_array(sizes: np.ndarray) -> np.ndarray:
    """:func:`d3` for each element of ``sizes`` (each distinct size is integrated once)."""
    return _vectorized(d3, sizes)


def _vectorized(func: object, sizes: np.ndarray) -> np.ndarray:
    sizes = np.asarray(sizes, dtype=int)
    unique, inverse = np.unique(sizes, return_inverse=True)
    values = np.array([func(int(u)) for u in unique])  # type: ignore[operator]
    return values[inverse].reshape(sizes.shape)


# The exact constants for n = 2..50 as the definitions below compute them (d2 and d3 by
# `_integrated_d2` / `_integrated_d3`, c4 by `_gamma_c4`), written out to the last bit (`repr`
# round-trips a float exactly) as the SciPy of their day computed them, so that the streaming
# charts, which need only these sizes, do not load SciPy; tests/spc/test_spc_lazy_imports.py
# recomputes every one (newer SciPy releases agree to 1e-13).
_EXACT_SIZES = range(2, 51)
_EXACT_D2 = (
    1.1283791670955123, 1.6925687506432687, 2.058750746007928, 2.325928947281039,
    2.5344127212229424, 2.7043567512138087, 2.8472006120905546, 2.9700263244184737,
    3.077505461670345, 3.1728727038159996, 3.258455279743825, 3.335980354098254,
    3.406763108199952, 3.471826889882074, 3.5319827861095745, 3.5878839617653804,
    3.640063757937442, 3.688963023207648, 3.7349501195966397, 3.7783358298426193,
    3.8193846433628305, 3.8583234232850048, 3.8953481484513546, 3.930629219507111,
    3.9643156795226213, 3.996538604013155, 4.027413848246529, 4.057044292095184,
    4.085521688343019, 4.1129281952763845, 4.139337655857811, 4.164816671940271,
    4.1894255115369665, 4.2132188792079015, 4.236246573512981, 4.258554050746442,
    4.280182910470406, 4.301171315457524, 4.3215543563500365, 4.341364369506932,
    4.360631215038834, 4.379382520842676, 4.39764389748496, 4.415439127996883,
    4.432790336001001, 4.449718135058959, 4.466241761691596, 4.482379194158408,
    4.498147258779696,
)  # fmt: skip
_EXACT_D3 = (
    0.852502466427481, 0.8883680040452844, 0.8798082028250781, 0.86408194109961,
    0.8480396861176097, 0.8332053356224149, 0.8198314897920753, 0.807834274553457,
    0.7970506735195512, 0.7873146205504749, 0.7784783412035347, 0.7704162020639086,
    0.7630230956249497, 0.7562114297281073, 0.7499080894100836, 0.7440517839609008,
    0.7385908533783517, 0.7334814955190417, 0.7286863457074824, 0.7241733407176797,
    0.7199148084344088, 0.7158867354920028, 0.7120681751481261, 0.7084407658888482,
    0.7049883378036842, 0.7016965888639075, 0.6985528171695572, 0.6955456982563646,
    0.6926650988836281, 0.6899019205213948, 0.6872479671481355, 0.6846958330534796,
    0.6822388071874239, 0.679870791263437, 0.6775862293484468, 0.6753800470903091,
    0.6732475990664616, 0.6711846230051141, 0.6691871998453978, 0.6672517187776891,
    0.6653748465474465, 0.6635535004217362, 0.661784824313208, 0.6600661676348942,
    0.6583950665239096, 0.6567692271269135, 0.6551865106844961, 0.6536449201900564,
    0.6521425884301999,
)  # fmt: skip
_EXACT_C4 = (
    0.7978845608028655, 0.8862269254527579, 0.9213177319235613, 0.9399856029866253,
    0.9515328619481445, 0.959368788699833, 0.9650304561473718, 0.9693106997139542,
    0.9726592741215883, 0.9753500771452293, 0.9775593518547718, 0.9794056043142172,
    0.9809714367555172, 0.9823161771626508, 0.9834835316158409, 0.9845064054718305,
    0.9854100438080805, 0.9862141368601929, 0.9869342675246547, 0.9875829288261566,
    0.9881702533158317, 0.9887045452339996, 0.9891926749585043, 0.9896403755857051,
    0.9900524688409064, 0.9904330392094487, 0.990785569621731, 0.9911130482419906,
    0.9914180532926701, 0.991702821009583, 0.991969300515304, 0.9922191984572333,
    0.9924540155701355, 0.9926750768173647, 0.9928835563890126, 0.9930804985523772,
    0.9932668351357383, 0.9934434002632144, 0.9936109428318894, 0.9937701371246276,
    0.9939215918758473, 0.9940658580468476, 0.9942034355202127, 0.9943347788844648,
    0.9944603024500941, 0.9945803846135047, 0.9946953716656374, 0.9948055811259923,
    0.9949113046697232,
)  # fmt: skip

# Montgomery, *Introduction to Statistical Quality Control*, 8th ed., Wiley, 2019, Appendix
# Table VI "Factors for constructing variables control charts" (the same digits as ASTM E2587-16
# Table 1): d2 and d3 to 3 decimals, c4 to 4 decimals, for n = 2..25.  They are the exact
# values rounded, except d3(19), printed 0.734 where the integral gives 0.73348.
_TABLE_D2 = (
    1.128, 1.693, 2.059, 2.326, 2.534, 2.704, 2.847, 2.970, 3.078, 3.173, 3.258, 3.336,
    3.407, 3.472, 3.532, 3.588, 3.640, 3.689, 3.735, 3.778, 3.819, 3.858, 3.895, 3.931,
)  # fmt: skip
_TABLE_D3 = (
    0.853, 0.888, 0.880, 0.864, 0.848, 0.833, 0.820, 0.808, 0.797, 0.787, 0.778, 0.770,
    0.763, 0.756, 0.750, 0.744, 0.739, 0.734, 0.729, 0.724, 0.720, 0.716, 0.712, 0.708,
)  # fmt: skip
_TABLE_C4 = (
    0.7979, 0.8862, 0.9213, 0.9400, 0.9515, 0.9594, 0.9650, 0.9693, 0.9727, 0.9754, 0.9776,
    0.9794, 0.9810, 0.9823, 0.9835, 0.9845, 0.9854, 0.9862, 0.9869, 0.9876, 0.9882, 0.9887,
    0.9892, 0.9896,
)  # fmt: skip
# R's qcc (Scrucca 2004; qcc 2.x-3.0, `.qcc.options`): d2 as Montgomery's table
# (`exp.R.unscaled`), d3 to 7 decimals (`se.R.unscaled`, n = 2..25 of its 2..50), c4 computed.
_QCC_D3 = (
    0.8525033, 0.8883697, 0.8798108, 0.8640855, 0.8480442, 0.8332108, 0.8198378, 0.8078413,
    0.7970584, 0.7873230, 0.7784873, 0.7704257, 0.7630330, 0.7562217, 0.7499188, 0.7440627,
    0.7386021, 0.7334929, 0.7286980, 0.7241851, 0.7199267, 0.7158987, 0.7120802, 0.7084528,
)  # fmt: skip
_TABLE_SIZES = range(2, 2 + len(_TABLE_D2))

CONSTANT_SETS = ("exact", "table", "qcc")
"""``exact``: integrated d2, d3 and c4 from the gamma function, for any n (the default).
``table``: the digits Montgomery's Appendix VI and ASTM E2587 print, n = 2..25, so that a
textbook example is reproduced to the last digit.  ``qcc``: the constants R's qcc uses."""


@dataclass(frozen=True)
class ChartConstants:
    """d2, d3 and c4 of one constant set, for a subgroup size or an array of sizes.

    Attributes
    ----------
    name : str
        One of :data:`CONSTANT_SETS`.

    References
    ----------
    .. [1] D. C. Montgomery, *Introduction to Statistical Quality Control*, 8th ed., Wiley,
       2019, Appendix Table VI.
    .. [2] ASTM E2587-16, Table 1.
    .. [3] L. Scrucca, "qcc: an R package for quality control charting and statistical process
       control", *R News* 4(1), 2004, pp. 11-17.
    """

    name: str = "exact"

    def __post_init__(self) -> None:
        if self.name not in CONSTANT_SETS:
            raise SPCInputError(f"Unknown constants {self.name!r}; use {', '.join(CONSTANT_SETS)}.")

    def d2(self, n: int | np.ndarray) -> float | np.ndarray:
        """Mean of the relative range, dimensionless (see :func:`d2`)."""
        if self.name == "exact":
            return _scalar_or_array(d2, n)
        return self._printed(_TABLE_D2, n, "d2")

    def d3(self, n: int | np.ndarray) -> float | np.ndarray:
        """Standard deviation of the relative range, dimensionless (see :func:`d3`)."""
        if self.name == "exact":
            return _scalar_or_array(d3, n)
        return self._printed(_TABLE_D3 if self.name == "table" else _QCC_D3, n, "d3")

    def c4(self, n: int | np.ndarray) -> float | np.ndarray:
        """Bias factor of the sample standard deviation, dimensionless (see :func:`c4`)."""
        if self.name == "table":
            return self._printed(_TABLE_C4, n, "c4")
        return c4(n)

    def _printed(self, values: tuple[float, ...], n: int | np.ndarray, what: str) -> Any:
        sizes = np.asarray(n)
        outside = (
            (sizes < _TABLE_SIZES.start) | (sizes >= _TABLE_SIZES.stop) | (sizes != sizes.round())
        )
        if np.any(outside):
            bad = sizes[outside].ravel()[0] if sizes.ndim else sizes
            raise SPCInputError(
                f"The {self.name} constants print {what} for subgroup sizes 2 to 25 only, not"
                f" {bad:g}; use the exact constants."
            )
        table = np.asarray(values)[sizes.astype(int) - _TABLE_SIZES.start]
        return float(table) if np.ndim(table) == 0 else table


def chart_constants(constants: str | ChartConstants = "exact") -> ChartConstants:
    """The :class:`ChartConstants` named ``constants`` (an instance passes through)."""
    return constants if isinstance(constants, ChartConstants) else ChartConstants(constants)


def _scalar_or_array(func: Any, n: int | np.ndarray) -> float | np.ndarray:
    return func(int(n)) if np.ndim(n) == 0 else _vectorized(func, np.asarray(n))
