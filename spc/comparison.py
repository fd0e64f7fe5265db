"""Comparing groups (lots, lines, shifts) from their summary statistics: one-way ANOVA.

References
----------
.. [1] D. C. Montgomery, *Design and Analysis of Experiments*, 8th ed., Wiley, 2013, §3.3:
   the fixed-effects one-way analysis of variance (eq. 3.6-3.10, Table 3.3).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy import stats

from spc.errors import SPCInputError
from spc.validation import as_float_array


@dataclass(frozen=True)
class OneWayAnova:
    """A one-way ANOVA: sums of squares in the squared unit of the measurements, degrees of
    freedom, the F statistic and its p-value (dimensionless)."""

    ss_between: float
    ss_within: float
    df_between: int
    df_within: int
    f: float
    p_value: float

    def to_dict(self) -> dict[str, float | int]:
        """The figures as a flat dict."""
        return asdict(self)


def oneway_anova_from_summary(
    means: np.ndarray, stds: np.ndarray, counts: np.ndarray
) -> OneWayAnova:
    r"""One-way ANOVA of k groups given only each group's mean, standard deviation and size.

    Parameters
    ----------
    means : array-like
        Group means, in the unit of the measurements.
    stds : array-like
        Group sample standard deviations (ddof = 1), same unit.
    counts : array-like
        Group sizes, each at least 1; at least one group must have 2 or more.

    Returns
    -------
    OneWayAnova

    Notes
    -----
    With :math:`N = \sum n_i` and the grand mean :math:`\bar x = \sum n_i \bar x_i / N`
    (Montgomery [1]_ §3.3):

    .. math:: SS_B = \sum n_i(\bar x_i - \bar x)^2,\quad SS_W = \sum (n_i - 1)s_i^2,\quad
              F_0 = \frac{SS_B/(k-1)}{SS_W/(N-k)}

    and the p-value is :math:`P(F_{k-1,\,N-k} > F_0)`.  These are exactly the sums of squares
    of the raw measurements, so the result equals an ANOVA of the data themselves.
    """
    m, s, n = (
        as_float_array(a, name)
        for a, name in ((means, "means"), (stds, "stds"), (counts, "counts"))
    )
    if not m.size == s.size == n.size:
        raise SPCInputError("means, stds and counts must have one entry per group.")
    if m.size < 2:
        raise SPCInputError(f"An ANOVA compares at least 2 groups, got {m.size}.")
    if np.any(n < 1) or np.any(n != np.round(n)):
        raise SPCInputError("Every group size must be a whole number of at least 1.")
    if np.any(s < 0):
        raise SPCInputError("A standard deviation cannot be negative.")
    total = float(n.sum())
    df_between, df_within = m.size - 1, int(total) - m.size
    if df_within < 1:
        raise SPCInputError("An ANOVA needs more measurements than groups.")
    grand = float(np.sum(n * m) / total)
    ss_between = float(np.sum(n * (m - grand) ** 2))
    ss_within = float(np.sum((n - 1) * s**2))
    if ss_within == 0.0:
        raise SPCInputError("The groups have no variation within them; F is undefined.")
    f = (ss_between / df_between) / (ss_within / df_within)
    return OneWayAnova(
        ss_between, ss_within, df_between, df_within, f, float(stats.f.sf(f, df_between, df_within))
    )
