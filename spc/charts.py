"""Result types shared by every control chart: one plotted statistic with its limits and signals."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np

from spc.rulecodes import RULE_WINDOWS


@dataclass(frozen=True)
class Violation:
    """One run-rule signal.

    Attributes
    ----------
    code : str
        Stable rule code, ``nelson1`` ... ``nelson8`` or ``we1`` ... ``we4``.
    index : int
        0-based position of the point that completes the pattern (where the chart signals).
    indices : tuple of int
        0-based positions of every point in the pattern, ending with ``index``.
    """

    code: str
    index: int
    indices: tuple[int, ...]

    def to_dict(self) -> dict[str, Any]:
        """JSON form with 1-based indices, as the CLI prints points."""
        return {
            "code": self.code,
            "index": self.index + 1,
            "indices": [i + 1 for i in self.indices],
        }


@dataclass(frozen=True)
class ControlChart:
    """One plotted statistic with per-point center line and control limits.

    Attributes
    ----------
    name : str
        Chart name, e.g. ``xbar``, ``r``, ``i``, ``mr``, ``p``, ``ewma``, ``cusum_upper``, ``t2``.
    values : numpy.ndarray
        Plotted statistic per point, in the unit of the statistic.
    center, ucl, lcl : numpy.ndarray
        Center line and control limits per point (constant arrays when the limits are).
    sigma : numpy.ndarray
        Standard deviation of the plotted statistic per point, which sets the 1- and 2-sigma
        zones of the run rules.
    labels : numpy.ndarray
        Subgroup (or sample) label of each point.
    signals : dict of str to numpy.ndarray
        Per rule code, the 0-based positions where the rule signals (empty until rules are
        applied); :attr:`violations` expands them with the window each pattern covers.
    """

    name: str
    values: np.ndarray
    center: np.ndarray
    ucl: np.ndarray
    lcl: np.ndarray
    sigma: np.ndarray
    labels: np.ndarray
    signals: dict[str, np.ndarray] = field(default_factory=dict)

    @cached_property
    def violations(self) -> tuple[Violation, ...]:
        """Run-rule violations ordered by point, then by rule as listed in ``signals``."""
        found = [
            Violation(code, index, tuple(range(index - RULE_WINDOWS[code] + 1, index + 1)))
            for rank, (code, indices) in enumerate(self.signals.items())
            for index in indices.tolist()
        ]
        order = {code: rank for rank, code in enumerate(self.signals)}
        found.sort(key=lambda v: (v.index, order[v.code]))
        return tuple(found)

    @property
    def beyond_limits(self) -> np.ndarray:
        """Boolean mask of points above the UCL or below the LCL."""
        return (self.values > self.ucl) | (self.values < self.lcl)

    def codes_at(self) -> list[list[str]]:
        """For each point, the codes of the violations signalled at it."""
        per_point: list[list[str]] = [[] for _ in range(len(self.values))]
        for code, indices in self.signals.items():
            for index in indices.tolist():
                per_point[index].append(code)
        return per_point

    def to_dict(self) -> dict[str, Any]:
        """JSON form: limits as a number when constant, else a list per point; 1-based points."""
        codes = self.codes_at()
        points = [
            {
                "index": i + 1,
                "subgroup": _scalar(self.labels[i]),
                "value": _number(self.values[i]),
                "ucl": _number(self.ucl[i]),
                "lcl": _number(self.lcl[i]),
                "violations": codes[i],
            }
            for i in range(len(self.values))
        ]
        return {
            "center": _compact(self.center),
            "ucl": _compact(self.ucl),
            "lcl": _compact(self.lcl),
            "points": points,
        }


@dataclass(frozen=True)
class ChartSet:
    """The charts that belong together (e.g. X-bar and R) and how sigma was estimated.

    Attributes
    ----------
    chart : str
        Chart type, e.g. ``xbar-r``, ``imr``, ``p``, ``ewma``, ``t2``.
    sigma : float
        Process standard deviation used for the limits, in the unit of the measurements
        (NaN for attribute and T-squared charts, whose limits do not use one).
    sigma_method : str
        How ``sigma`` was obtained, e.g. ``rbar/d2``, ``sbar/c4``, ``mrbar/d2``, ``given``.
    charts : dict of str to ControlChart
        The charts by name.
    limits : object
        The frozen limits (phase I estimate) that reproduce these charts on new data.
    extra : dict
        Chart-specific figures (e.g. lambda and L of an EWMA), included in the JSON form.
    """

    chart: str
    sigma: float
    sigma_method: str
    charts: dict[str, ControlChart]
    limits: Any = None
    extra: dict[str, Any] = field(default_factory=dict)

    def __getitem__(self, name: str) -> ControlChart:
        return self.charts[name]

    def to_dict(self) -> dict[str, Any]:
        """JSON form of the CLI contract."""
        return {
            "chart": self.chart,
            "sigma": _number(self.sigma),
            "sigma_method": self.sigma_method,
            **{key: _jsonable(value) for key, value in self.extra.items()},
            "charts": {name: chart.to_dict() for name, chart in self.charts.items()},
        }


def constant(value: float, count: int) -> np.ndarray:
    """A read-only array of ``value`` at each of ``count`` points (no memory per point)."""
    return np.broadcast_to(np.float64(value), (count,))


def _number(value: Any) -> float | None:
    value = float(value)
    return None if np.isnan(value) else value


def _scalar(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def _compact(values: np.ndarray) -> float | list[float | None] | None:
    if values.size and np.all(values == values[0]):
        return _number(values[0])
    if values.size and np.all(np.isnan(values)):
        return None
    return [_number(v) for v in values]


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return [_jsonable(v) for v in value.tolist()]
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (np.floating, float)):
        return _number(value)
    return _scalar(value)
