"""A chart's design on one limits version: the `spc` parameters and rules it runs with, as a
streaming evaluator (the engine) or over a whole series (reports).

The two are built from the same `ChartDesign`, so a report draws a chart with exactly the
parameters and rules the engine judged it with.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

import spc
from plantqc.charting.chart import ChartConfig
from plantqc.charting.limits import constants_of, rules_on
from plantqc.charting.names import SeriesSpec
from plantqc.errors import UserError
from plantqc.store.models import ControlLimits
from spc import CUSUMStream, EWMAStream, IMRStream, XbarStream

Evaluator = IMRStream | XbarStream | EWMAStream | CUSUMStream
RESTORE = {"imr": IMRStream, "xbar": XbarStream, "ewma": EWMAStream, "cusum": CUSUMStream}
"""Evaluator class by the ``type`` of its saved state."""


@dataclass(frozen=True)
class ChartDesign:
    """Chart ``series`` of a tag on one limits version: center and sigma in the unit of what it
    charts, the sigma estimator's name, the limits' basis, the constant set (d2, d3, c4) of its
    R, S and MR charts and the rules that run on it; an I or X-bar chart's width L (of its
    MR, R and S charts too) is the tag's ``limit_sigma``."""

    chart: ChartConfig
    series: SeriesSpec
    center: float
    sigma: float
    sigma_method: str
    basis: str
    constants: str

    @classmethod
    def of(cls, chart: ChartConfig, series: SeriesSpec, limits: ControlLimits) -> ChartDesign:
        """The design on stored ``limits``; a `UserError` when they have no positive sigma."""
        center, sigma = float(limits.center or 0.0), float(limits.sigma or 0.0)
        if not sigma > 0.0:
            raise UserError(
                f"limits version {limits.version} of {chart.line}/{chart.tag} ({series.name})"
                f" have sigma {sigma}; a chart needs a positive sigma."
            )
        return cls(
            chart,
            series,
            center,
            sigma,
            limits.sigma_method or "given",
            limits.basis,
            constants_of(limits),
        )

    @property
    def rules(self) -> tuple[str, ...]:
        return rules_on(self.chart, self.basis)

    def _shewhart(self) -> spc.ShewhartLimits:
        return spc.ShewhartLimits(
            self.center,
            self.sigma,
            self.sigma_method,
            L=self.chart.limit_sigma,
            constants=self.constants,
        )

    def _ewma(self) -> spc.EWMAParameters:
        ewma = self.chart.ewma
        return spc.EWMAParameters(self.center, self.sigma, ewma.lambda_, ewma.L, self.sigma_method)

    def _cusum(self) -> spc.CUSUMParameters:
        cusum = self.chart.cusum
        headstart = cusum.h / 2.0 if cusum.fir else 0.0
        return spc.CUSUMParameters(
            self.center, self.sigma, cusum.k, cusum.h, headstart, self.sigma_method
        )

    def stream(self) -> Evaluator:
        """A fresh streaming evaluator of the chart."""
        kind = self.series.chart
        if kind == "imr":
            return IMRStream(self._shewhart(), self.rules)
        if kind in ("xbar-r", "xbar-s"):
            size = max(self.chart.subgroup_size, 2)  # time / roll subgroups resize per subgroup
            return XbarStream(self._shewhart(), size, kind[-1], self.rules)
        if kind == "ewma":
            return EWMAStream(self._ewma(), self.rules)  # type: ignore[arg-type]
        if kind == "cusum":
            return CUSUMStream(self._cusum(), self.rules)  # type: ignore[arg-type]
        raise UserError(f"chart {kind!r} of {self.chart.line}/{self.chart.tag} is not supported.")

    def batch(self, values: np.ndarray, labels: np.ndarray | None) -> spc.ChartSet:
        """The chart over a whole series (phase II): ``values`` with subgroup ``labels`` for an
        X-bar chart."""
        kind = self.series.chart
        if kind == "imr":
            return spc.imr(values, limits=self._shewhart(), rules=self.rules)
        if kind in ("xbar-r", "xbar-s"):
            function = spc.xbar_r if kind == "xbar-r" else spc.xbar_s
            return function(values, labels, limits=self._shewhart(), rules=self.rules)
        if kind == "ewma":
            return spc.ewma(values, parameters=self._ewma(), rules=self.rules)
        return spc.cusum(values, parameters=self._cusum(), rules=self.rules)


def resized(stream: XbarStream, size: int) -> XbarStream:
    """``stream`` judging subgroups of ``size`` from now on, its rule state and count kept."""
    if stream.size == size:
        return stream
    sized = XbarStream(stream.limits, size, stream.dispersion, stream.rule_set)
    sized.rules, sized.count = stream.rules, stream.count
    return sized
