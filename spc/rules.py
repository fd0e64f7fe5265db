"""Run rules (Western Electric and Nelson) that flag non-random patterns on a control chart.

Each rule has a stable code (``we1`` ... ``we4``, ``nelson1`` ... ``nelson8``) and a window: the
number of consecutive points the pattern spans.  A violation is reported at the point that
completes the pattern, together with the indices of the whole window.  A pattern that persists
signals again at every further point (as Minitab and qcc do).  For the "k of m beyond a zone"
rules, the signalling point must itself be one of the k points beyond the zone.

Zones are in units of the plotted statistic's own standard deviation, ``z = (x - center) /
sigma``, so the rules apply unchanged to charts with per-point limits.

References
----------
.. [1] Western Electric Company, *Statistical Quality Control Handbook*, 1956, pp. 25-28.
.. [2] L. S. Nelson, "The Shewhart control chart - tests for special causes",
   *J. Quality Technology* 16(4), 1984, pp. 237-239.
.. [3] D. C. Montgomery, *Introduction to Statistical Quality Control*, 7th ed., Wiley, 2013,
   §5.3.6 and Table 5.1.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import replace

import numpy as np

from spc.charts import ControlChart, Violation
from spc.errors import SPCInputError
from spc.rulecodes import RULE_DESCRIPTIONS, RULE_SETS, RULE_WINDOWS

__all__ = [
    "RULE_DESCRIPTIONS",
    "RULE_SETS",
    "RULE_WINDOWS",
    "apply_limit_rule",
    "apply_rules",
    "find_violations",
    "limit_rule_code",
    "limit_violations",
    "resolve_rules",
    "rule_signals",
    "signal_indices",
]


def resolve_rules(rules: str | Iterable[str] | None) -> tuple[str, ...]:
    """Rule codes selected by a set name (``nelson``, ``we``, ``none``) or a list of codes."""
    if rules is None:
        return ()
    if isinstance(rules, str):
        if rules in RULE_SETS:
            return RULE_SETS[rules]
        rules = [rules]
    codes = tuple(rules)
    unknown = [code for code in codes if code not in RULE_WINDOWS]
    if unknown:
        raise SPCInputError(
            f"Unknown run rule {unknown[0]!r}; use nelson, we, none or codes nelson1..8, we1..4."
        )
    return codes


def _run(condition: np.ndarray, length: int) -> np.ndarray:
    """True where ``condition`` held at this point and the ``length - 1`` points before it."""
    counts = _window_count(condition, length)
    return counts == length


def _window_count(condition: np.ndarray, length: int) -> np.ndarray:
    """Number of True among this point and the ``length - 1`` before it (partial at the start)."""
    cumulative = np.empty(condition.size + 1, dtype=np.int32)
    cumulative[0] = 0
    np.cumsum(condition, dtype=np.int32, out=cumulative[1:])
    counts = np.empty(condition.size, dtype=np.int32)
    head = min(length - 1, condition.size)
    counts[:head] = cumulative[1 : head + 1]
    if condition.size >= length:
        counts[head:] = cumulative[length:] - cumulative[: condition.size + 1 - length]
    return counts


def _k_of_m(z: np.ndarray, zone: float, k: int, m: int) -> np.ndarray:
    above = z > zone
    below = z < -zone
    return (above & (_window_count(above, m) >= k)) | (below & (_window_count(below, m) >= k))


def _same_side(z: np.ndarray, length: int) -> np.ndarray:
    return _run(z > 0, length) | _run(z < 0, length)


def _trend(values: np.ndarray, points: int) -> np.ndarray:
    step = np.diff(values, prepend=np.nan)
    return _run(step > 0, points - 1) | _run(step < 0, points - 1)


def _alternating(values: np.ndarray, points: int) -> np.ndarray:
    step = np.sign(np.diff(values, prepend=np.nan))
    flips = np.concatenate(([False], step[1:] * step[:-1] < 0))
    return _run(flips, points - 2)


def _both_sides_outside_one_sigma(z: np.ndarray, length: int) -> np.ndarray:
    """Nelson's test 8: ``length`` points in a row beyond 1 sigma, on both sides of the center.

    Nelson [2]_ writes "eight points in a row on both sides of the centerline with none in
    zone C": none within 1 sigma, and at least one point above and one below.
    """
    above = _window_count(z > 1.0, length) > 0
    below = _window_count(z < -1.0, length) > 0
    return _run(np.abs(z) > 1.0, length) & above & below


_LIMIT_RULES = frozenset({"nelson1", "we1"})
"""The beyond-limits tests: at the chart's own width L (3 on a Shewhart chart)."""
_DETECTORS: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "nelson2": lambda z, x: _same_side(z, 9),
    "nelson3": lambda z, x: _trend(x, 6),
    "nelson4": lambda z, x: _alternating(x, 14),
    "nelson5": lambda z, x: _k_of_m(z, 2.0, 2, 3),
    "nelson6": lambda z, x: _k_of_m(z, 1.0, 4, 5),
    "nelson7": lambda z, x: _run(np.abs(z) < 1.0, 15),
    "nelson8": lambda z, x: _both_sides_outside_one_sigma(z, 8),
    "we2": lambda z, x: _k_of_m(z, 2.0, 2, 3),
    "we3": lambda z, x: _k_of_m(z, 1.0, 4, 5),
    "we4": lambda z, x: _same_side(z, 8),
}


def rule_signals(
    values: np.ndarray,
    center: np.ndarray | float,
    sigma: np.ndarray | float,
    rules: str | Iterable[str] | None = "nelson",
    limit: float = 3.0,
) -> dict[str, np.ndarray]:
    """Boolean mask, per rule code, of the points at which each rule signals.

    Parameters
    ----------
    values : numpy.ndarray
        Plotted statistic per point.
    center : float or numpy.ndarray
        Center line (per point or constant), same unit as ``values``.
    sigma : float or numpy.ndarray
        Standard deviation of the plotted statistic (per point or constant), same unit.
    rules : str or iterable of str
        ``"nelson"``, ``"we"``, ``"none"`` or a list of rule codes.
    limit : float, default 3
        Width L of the chart's limits in sigma of the statistic: Nelson's test 1 and Western
        Electric's rule 1 signal beyond it; the zone rules keep their 1- and 2-sigma lines.

    Returns
    -------
    dict of str to numpy.ndarray of bool
        One mask per selected rule, True where that rule's pattern is completed.
    """
    values = np.asarray(values, dtype=float)
    z = (values - center) / sigma
    return {
        code: np.abs(z) > limit if code in _LIMIT_RULES else _DETECTORS[code](z, values)
        for code in resolve_rules(rules)
    }


def signal_indices(
    values: np.ndarray,
    center: np.ndarray | float,
    sigma: np.ndarray | float,
    rules: str | Iterable[str] | None = "nelson",
    limit: float = 3.0,
) -> dict[str, np.ndarray]:
    """0-based positions where each selected rule signals; see :func:`rule_signals`."""
    return {
        code: np.flatnonzero(mask)
        for code, mask in rule_signals(values, center, sigma, rules, limit).items()
    }


def find_violations(
    values: np.ndarray,
    center: np.ndarray | float,
    sigma: np.ndarray | float,
    rules: str | Iterable[str] | None = "nelson",
) -> tuple[Violation, ...]:
    """Run-rule violations with their windows, ordered by point then rule."""
    chart = ControlChart("", values, center, center, center, sigma, np.arange(len(values)))
    return apply_rules(chart, rules).violations


def apply_rules(
    chart: ControlChart, rules: str | Iterable[str] | None = "nelson", limit: float = 3.0
) -> ControlChart:
    """``chart`` with its ``signals`` (and so ``violations``) set by the selected run rules,
    its beyond-limits test at width ``limit`` (the L of its limits)."""
    signals = signal_indices(chart.values, chart.center, chart.sigma, rules, limit)
    return replace(chart, signals=signals)


def limit_violations(chart: ControlChart, code: str = "nelson1") -> ControlChart:
    """``chart`` with a signal ``code`` at each point beyond its own limits.

    Used for charts whose limits are not symmetric 3-sigma bands (CUSUM, T-squared, R and S
    with a zero lower limit), where only the beyond-limits test is meaningful.
    """
    return replace(chart, signals={code: np.flatnonzero(chart.beyond_limits)})


def limit_rule_code(rules: str | Iterable[str] | None) -> str | None:
    """Code for a point beyond the limits in the selected rule set, or None when rules are off."""
    codes = resolve_rules(rules)
    if "we1" in codes:
        return "we1"
    return "nelson1" if codes else None


def apply_limit_rule(chart: ControlChart, rules: str | Iterable[str] | None) -> ControlChart:
    """:func:`limit_violations` with the beyond-limits code of ``rules`` (nothing when off)."""
    code = limit_rule_code(rules)
    return chart if code is None else limit_violations(chart, code)
