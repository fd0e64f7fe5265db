"""Incremental (streaming) chart evaluators with JSON-serializable state.

Each evaluator takes one observation at a time, ``update(value, timestamp=None)``, and returns
the chart points completed by it, each with the run-rule codes it signals.  ``to_state()``
returns a plain dict (JSON-safe; floats survive ``json`` exactly) and ``from_state()``
rebuilds an evaluator that continues as if it had never stopped.  Limits are frozen (phase II):
estimate them first with the batch functions and pass their ``limits``.

On the same data the evaluators give the same points and signals as the batch charts
(:func:`spc.variables.imr`, :func:`spc.variables.xbar_r`, :func:`spc.ewma.ewma`,
:func:`spc.cusum.cusum`, :mod:`spc.rules`).

References
----------
.. [1] D. C. Montgomery, *Introduction to Statistical Quality Control*, 7th ed., Wiley, 2013,
   §6.2, §6.4, §9.1, §9.2 (the statistics); L. S. Nelson, *J. Quality Technology* 16(4), 1984
   (the rules).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any, ClassVar, NamedTuple

from spc.constants import chart_constants
from spc.cusum import CUSUMParameters
from spc.errors import SPCInputError
from spc.ewma import EWMAParameters
from spc.rules import limit_rule_code, resolve_rules
from spc.variables import ShewhartLimits

STATE_VERSION = 1


class PointResult(NamedTuple):
    """One completed chart point (a named tuple: cheap to create at line rate).

    Attributes
    ----------
    chart : str
        Chart name (``i``, ``mr``, ``xbar``, ``r``, ``s``, ``ewma``, ``cusum_upper``, ...).
    index : int
        0-based position of the point on its chart (as in the batch chart).
    value, center, ucl, lcl : float
        Plotted statistic and its limits.
    violations : tuple of str
        Rule codes signalled at this point.
    timestamp : object
        The timestamp passed with the observation that completed the point.
    """

    chart: str
    index: int
    value: float
    center: float
    ucl: float
    lcl: float
    violations: tuple[str, ...]
    timestamp: Any = None


_RUN_CAP = 1 << 20  # run counters saturate: only "at least N" matters, and state stays small


class RuleEvaluator:
    """Western Electric / Nelson rules evaluated one point at a time.

    Same definitions as :mod:`spc.rules` (patterns complete at the signalling point, persisting
    patterns signal again, k-of-m rules need the signalling point beyond the zone).
    """

    _FIELDS: ClassVar[tuple[str, ...]] = (
        "above", "below", "up", "down", "flips", "last_sign", "last_value",
        "beyond2_hi", "beyond2_lo", "beyond1_hi", "beyond1_lo", "inside1", "outside1",
        "since_hi1", "since_lo1",
    )  # fmt: skip

    def __init__(self, rules: str | Iterable[str] | None = "nelson", limit: float = 3.0) -> None:
        self.rules = resolve_rules(rules)
        # the beyond-limits test (Nelson 1, WE 1) at the chart's own width L; the zones of
        # the other rules stay at 1 and 2 sigma
        self.limit = float(limit)
        self._selected = frozenset(self.rules)
        self.above = self.below = self.up = self.down = self.flips = 0
        self.last_sign = 0
        self.last_value: float | None = None
        self.beyond2_hi = self.beyond2_lo = self.beyond1_hi = self.beyond1_lo = 0
        self.inside1 = self.outside1 = 0
        # Points since the last one above +1 sigma / below -1 sigma (Nelson's test 8 needs both
        # sides inside its window); "long ago" until one is seen.
        self.since_hi1 = self.since_lo1 = _RUN_CAP

    def update(self, value: float, z: float) -> tuple[str, ...]:
        """Codes signalled by a point with plotted ``value`` and standardized ``z``."""
        cap = _RUN_CAP
        self.above = min(self.above + 1, cap) if z > 0 else 0
        self.below = min(self.below + 1, cap) if z < 0 else 0
        last = self.last_value
        sign = 0 if last is None else (value > last) - (value < last)
        self.up = min(self.up + 1, cap) if sign > 0 else 0
        self.down = min(self.down + 1, cap) if sign < 0 else 0
        self.flips = min(self.flips + 1, cap) if sign * self.last_sign < 0 else 0
        self.last_sign = sign
        self.last_value = value
        hi2 = z > 2.0
        lo2 = z < -2.0
        hi1 = z > 1.0
        lo1 = z < -1.0
        self.beyond2_hi = ((self.beyond2_hi << 1) | hi2) & 0b111
        self.beyond2_lo = ((self.beyond2_lo << 1) | lo2) & 0b111
        self.beyond1_hi = ((self.beyond1_hi << 1) | hi1) & 0b11111
        self.beyond1_lo = ((self.beyond1_lo << 1) | lo1) & 0b11111
        inside = -1.0 < z < 1.0
        self.inside1 = min(self.inside1 + 1, cap) if inside else 0
        self.outside1 = min(self.outside1 + 1, cap) if (hi1 or lo1) else 0
        self.since_hi1 = 0 if hi1 else min(self.since_hi1 + 1, cap)
        self.since_lo1 = 0 if lo1 else min(self.since_lo1 + 1, cap)
        if not self._selected:
            return ()
        out = abs(z) > self.limit
        two_of_three = (hi2 and _BITS[self.beyond2_hi] >= 2) or (
            lo2 and _BITS[self.beyond2_lo] >= 2
        )
        four_of_five = (hi1 and _BITS[self.beyond1_hi] >= 4) or (
            lo1 and _BITS[self.beyond1_lo] >= 4
        )
        if not (
            out
            or two_of_three
            or four_of_five
            or self.above >= 8
            or self.below >= 8
            or self.up >= 5
            or self.down >= 5
            or self.flips >= 12
            or self.inside1 >= 15
            or self.outside1 >= 8
        ):
            return ()
        found = {
            "nelson1": out,
            "nelson2": self.above >= 9 or self.below >= 9,
            "nelson3": self.up >= 5 or self.down >= 5,
            "nelson4": self.flips >= 12,
            "nelson5": two_of_three,
            "nelson6": four_of_five,
            "nelson7": self.inside1 >= 15,
            "nelson8": self.outside1 >= 8 and self.since_hi1 < 8 and self.since_lo1 < 8,
            "we1": out,
            "we2": two_of_three,
            "we3": four_of_five,
            "we4": self.above >= 8 or self.below >= 8,
        }
        return tuple(code for code in self.rules if found[code])

    def to_state(self) -> dict[str, Any]:
        """Plain-dict state."""
        return {
            "rules": list(self.rules),
            "limit": self.limit,
            **{name: getattr(self, name) for name in self._FIELDS},
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> RuleEvaluator:
        """Rebuild from :meth:`to_state` output."""
        evaluator = cls(state["rules"], state.get("limit", 3.0))  # older states: 3 sigma
        for name in cls._FIELDS:
            # States saved before Nelson's test 8 tracked both sides lack the two ages.
            setattr(
                evaluator, name, state[name] if name in state or name not in _AGES else _RUN_CAP
            )
        return evaluator


_AGES = ("since_hi1", "since_lo1")

_BITS = tuple(bin(i).count("1") for i in range(32))


def _check_state(state: dict[str, Any], kind: str) -> None:
    if state.get("type") != kind or state.get("version") != STATE_VERSION:
        raise SPCInputError(
            f"The saved state is for {state.get('type')!r} version {state.get('version')!r},"
            f" not {kind!r} version {STATE_VERSION}."
        )


def _limits_state(limits: ShewhartLimits) -> dict[str, Any]:
    return {
        "center": limits.center,
        "sigma": limits.sigma,
        "sigma_method": limits.sigma_method,
        "L": limits.L,
        "constants": limits.constants,
    }


class IMRStream:
    """Streaming individuals and moving-range charts with frozen limits.

    Parameters
    ----------
    limits : ShewhartLimits
        Frozen mean and sigma (e.g. ``imr(reference_data).limits``).
    rules : str or iterable of str
        Run rules on the individuals chart; the MR chart signals beyond its limits only.
    """

    kind = "imr"

    def __init__(
        self, limits: ShewhartLimits, rules: str | Iterable[str] | None = "nelson"
    ) -> None:
        self.limits = limits
        self.rule_set = resolve_rules(rules)
        self.rules = RuleEvaluator(self.rule_set, limits.L)
        self.count = 0
        self.previous: float | None = None
        sigma = limits.sigma
        self._center = limits.center
        self._sigma = sigma
        self._ucl = limits.center + limits.L * sigma
        self._lcl = limits.center - limits.L * sigma
        k = chart_constants(limits.constants)
        self._mr_center = k.d2(2) * sigma
        # Same association as the batch chart (center + L * (d3 * sigma)), so limits match bitwise.
        self._mr_ucl = self._mr_center + limits.L * (k.d3(2) * sigma)
        self._mr_lcl = max(self._mr_center - limits.L * (k.d3(2) * sigma), 0.0)
        self._limit_code = limit_rule_code(self.rule_set)

    def update(self, value: float, timestamp: Any = None) -> list[PointResult]:
        """Add one observation; returns the I point and (from the second on) the MR point."""
        x = float(value)
        if math.isnan(x) or math.isinf(x):
            raise SPCInputError(f"Observation {self.count + 1} is not a finite number.")
        codes = self.rules.update(x, (x - self._center) / self._sigma)
        index = self.count
        results = [PointResult("i", index, x, self._center, self._ucl, self._lcl, codes, timestamp)]
        if self.previous is not None:
            mr = abs(x - self.previous)
            mr_codes: tuple[str, ...] = ()
            if self._limit_code is not None and (mr > self._mr_ucl or mr < self._mr_lcl):
                mr_codes = (self._limit_code,)
            results.append(
                PointResult(
                    "mr", index - 1, mr, self._mr_center, self._mr_ucl, self._mr_lcl, mr_codes,
                    timestamp,
                )
            )  # fmt: skip
        self.previous = x
        self.count = index + 1
        return results

    def to_state(self) -> dict[str, Any]:
        """JSON-serializable state."""
        return {
            "type": self.kind,
            "version": STATE_VERSION,
            "limits": _limits_state(self.limits),
            "count": self.count,
            "previous": self.previous,
            "rules": self.rules.to_state(),
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> IMRStream:
        """Rebuild an evaluator from :meth:`to_state` output."""
        _check_state(state, cls.kind)
        stream = cls(ShewhartLimits(**state["limits"]), state["rules"]["rules"])
        stream.count = state["count"]
        stream.previous = state["previous"]
        stream.rules = RuleEvaluator.from_state(state["rules"])
        return stream


class XbarStream:
    """Streaming X-bar with R or S charts; subgroups of fixed size assembled from the stream.

    Parameters
    ----------
    limits : ShewhartLimits
        Frozen grand mean and sigma.
    subgroup_size : int
        Observations per subgroup (at least 2).
    dispersion : {"r", "s"}
        Companion chart.
    rules : str or iterable of str
        Run rules on the X-bar chart; the dispersion chart signals beyond its limits only.
    """

    kind = "xbar"

    def __init__(
        self,
        limits: ShewhartLimits,
        subgroup_size: int,
        dispersion: str = "r",
        rules: str | Iterable[str] | None = "nelson",
    ) -> None:
        if dispersion not in ("r", "s"):
            raise SPCInputError(f"dispersion must be 'r' or 's', got {dispersion!r}.")
        if int(subgroup_size) < 2:
            raise SPCInputError("An X-bar chart needs subgroups of at least 2 observations.")
        self.limits = limits
        self.size = int(subgroup_size)
        self.dispersion = dispersion
        self.rule_set = resolve_rules(rules)
        self.rules = RuleEvaluator(self.rule_set, limits.L)
        self.buffer: list[float] = []
        self.count = 0
        n, sigma = self.size, limits.sigma
        k = chart_constants(limits.constants)
        self._sigma_mean = sigma / math.sqrt(n)
        mean_factor, sd_factor = (
            (k.d2(n), k.d3(n)) if dispersion == "r" else (k.c4(n), math.sqrt(1.0 - k.c4(n) ** 2))
        )
        self._spread = (
            mean_factor * sigma,
            mean_factor * sigma + limits.L * (sd_factor * sigma),
            max(mean_factor * sigma - limits.L * (sd_factor * sigma), 0.0),
        )
        self._limit_code = limit_rule_code(self.rule_set)

    def update(self, value: float, timestamp: Any = None) -> list[PointResult]:
        """Add one observation; returns the X-bar and R/S points when it completes a subgroup."""
        x = float(value)
        if math.isnan(x) or math.isinf(x):
            raise SPCInputError("An observation is not a finite number.")
        self.buffer.append(x)
        if len(self.buffer) < self.size:
            return []
        group, self.buffer = self.buffer, []
        n = self.size
        mean = math.fsum(group) / n
        if self.dispersion == "r":
            spread = max(group) - min(group)
        else:
            spread = math.sqrt(math.fsum((v - mean) ** 2 for v in group) / (n - 1))
        center = self.limits.center
        half = self.limits.L * self._sigma_mean
        codes = self.rules.update(mean, (mean - center) / self._sigma_mean)
        s_center, s_ucl, s_lcl = self._spread
        s_codes: tuple[str, ...] = ()
        if self._limit_code is not None and (spread > s_ucl or spread < s_lcl):
            s_codes = (self._limit_code,)
        index = self.count
        self.count += 1
        return [
            PointResult(
                "xbar", index, mean, center, center + half, center - half, codes, timestamp
            ),
            PointResult(self.dispersion, index, spread, s_center, s_ucl, s_lcl, s_codes, timestamp),
        ]

    def to_state(self) -> dict[str, Any]:
        """JSON-serializable state (including a partly filled subgroup)."""
        return {
            "type": self.kind,
            "version": STATE_VERSION,
            "limits": _limits_state(self.limits),
            "subgroup_size": self.size,
            "dispersion": self.dispersion,
            "buffer": list(self.buffer),
            "count": self.count,
            "rules": self.rules.to_state(),
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> XbarStream:
        """Rebuild an evaluator from :meth:`to_state` output."""
        _check_state(state, cls.kind)
        stream = cls(
            ShewhartLimits(**state["limits"]),
            state["subgroup_size"],
            state["dispersion"],
            state["rules"]["rules"],
        )
        stream.buffer = list(state["buffer"])
        stream.count = state["count"]
        stream.rules = RuleEvaluator.from_state(state["rules"])
        return stream


class EWMAStream:
    """Streaming EWMA with exact time-varying limits (see :func:`spc.ewma.ewma`)."""

    kind = "ewma"

    def __init__(self, parameters: EWMAParameters, rules: str | None = "nelson") -> None:
        self.parameters = parameters
        self.rule_set = resolve_rules(rules)
        self._limit_code = limit_rule_code(self.rule_set)
        self.z = parameters.target
        self.count = 0
        p = parameters
        self._lam = p.lam
        self._keep = 1.0 - p.lam
        self._ratio = p.lam / (2.0 - p.lam)
        self._half = p.L * p.sigma

    def update(self, value: float, timestamp: Any = None) -> list[PointResult]:
        """Add one observation; returns the EWMA point."""
        x = float(value)
        if math.isnan(x) or math.isinf(x):
            raise SPCInputError("An observation is not a finite number.")
        z = self._lam * x + self._keep * self.z
        self.z = z
        self.count += 1
        width = self._half * math.sqrt(self._ratio * (1.0 - self._keep ** (2.0 * self.count)))
        target = self.parameters.target
        ucl, lcl = target + width, target - width
        codes: tuple[str, ...] = ()
        if self._limit_code is not None and (z > ucl or z < lcl):
            codes = (self._limit_code,)
        return [PointResult("ewma", self.count - 1, z, target, ucl, lcl, codes, timestamp)]

    def to_state(self) -> dict[str, Any]:
        """JSON-serializable state."""
        p = self.parameters
        return {
            "type": self.kind,
            "version": STATE_VERSION,
            "parameters": {
                "target": p.target, "sigma": p.sigma, "lam": p.lam, "L": p.L,
                "sigma_method": p.sigma_method,
            },
            "rules": list(self.rule_set),
            "z": self.z,
            "count": self.count,
        }  # fmt: skip

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> EWMAStream:
        """Rebuild an evaluator from :meth:`to_state` output."""
        _check_state(state, cls.kind)
        stream = cls(EWMAParameters(**state["parameters"]), state["rules"] or "none")
        stream.z = state["z"]
        stream.count = state["count"]
        return stream


class CUSUMStream:
    """Streaming two-sided tabular CUSUM in sigma units (see :func:`spc.cusum.cusum`)."""

    kind = "cusum"

    def __init__(self, parameters: CUSUMParameters, rules: str | None = "nelson") -> None:
        self.parameters = parameters
        self.rule_set = resolve_rules(rules)
        self._limit_code = limit_rule_code(self.rule_set)
        self.upper = parameters.headstart
        self.lower = parameters.headstart
        self.count = 0
        self._target = parameters.target
        self._sigma = parameters.sigma
        self._k = parameters.k
        self._h = parameters.h

    def update(self, value: float, timestamp: Any = None) -> list[PointResult]:
        """Add one observation; returns the upper and lower CUSUM points."""
        x = float(value)
        if math.isnan(x) or math.isinf(x):
            raise SPCInputError("An observation is not a finite number.")
        y = (x - self._target) / self._sigma
        k, h = self._k, self._h
        upper = self.upper + y - k
        upper = upper if upper > 0.0 else 0.0
        lower = self.lower - y - k
        lower = lower if lower > 0.0 else 0.0
        self.upper, self.lower = upper, lower
        index = self.count
        self.count += 1
        code = self._limit_code
        return [
            PointResult(
                "cusum_upper", index, upper, 0.0, h, 0.0,
                (code,) if code is not None and upper > h else (), timestamp,
            ),
            PointResult(
                "cusum_lower", index, lower, 0.0, h, 0.0,
                (code,) if code is not None and lower > h else (), timestamp,
            ),
        ]  # fmt: skip

    def to_state(self) -> dict[str, Any]:
        """JSON-serializable state."""
        p = self.parameters
        return {
            "type": self.kind,
            "version": STATE_VERSION,
            "parameters": {
                "target": p.target, "sigma": p.sigma, "k": p.k, "h": p.h,
                "headstart": p.headstart, "sigma_method": p.sigma_method,
            },
            "rules": list(self.rule_set),
            "upper": self.upper,
            "lower": self.lower,
            "count": self.count,
        }  # fmt: skip

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> CUSUMStream:
        """Rebuild an evaluator from :meth:`to_state` output."""
        _check_state(state, cls.kind)
        stream = cls(CUSUMParameters(**state["parameters"]), state["rules"] or "none")
        stream.upper = state["upper"]
        stream.lower = state["lower"]
        stream.count = state["count"]
        return stream
