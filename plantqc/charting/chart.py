"""A charted tag as the engine, reports and dashboards see it: `ChartConfig`, parsed once
from its stored row into typed, frozen settings (`plantqc.charting.catalog.load_charts`), with
its series and alarm priorities."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from plantqc.alarms import priority_for
from plantqc.charting.names import CD_MEAN, CUSUM_SIDES, PROFILE_SERIES, SeriesSpec
from plantqc.charting.settings import (
    CusumSettings,
    EwmaSettings,
    SensorFaultSettings,
    SpcSettings,
    SpecLimits,
)
from plantqc.errors import UserError

if TYPE_CHECKING:
    from plantqc.store.models import Tag


@dataclass(frozen=True)
class RunningTag:
    """A line's running condition resolved to the store: tag ``tag_id`` above ``above``."""

    tag_id: int
    above: float


_NO_SPEC = SpecLimits()
_EWMA, _CUSUM = EwmaSettings(), CusumSettings()


@dataclass(frozen=True)
class ChartConfig:
    """One charted tag: where it is in the store, its spec and its chart settings.

    ``sampling_interval_s`` and ``running`` come from the plant config (None without one):
    the silence check needs the first, alarm suppression the second.
    """

    tag_id: int
    line_id: int
    line: str
    tag: str
    kind: str  # scalar | profile
    settings: SpcSettings
    spec: SpecLimits = _NO_SPEC
    sampling_interval_s: float | None = None
    running: RunningTag | None = None

    @classmethod
    def from_row(
        cls,
        tag: Tag,
        line: str,
        sampling_interval_s: float | None = None,
        running: RunningTag | None = None,
    ) -> ChartConfig:
        """The chart of a stored tag row (with SPC settings), parsed once."""
        return cls(
            tag_id=tag.id,
            line_id=tag.line_id,
            line=line,
            tag=tag.name,
            kind=tag.kind,
            settings=SpcSettings.model_validate(tag.spc or {}),
            spec=SpecLimits.model_construct(lsl=tag.lsl, target=tag.target, usl=tag.usl),
            sampling_interval_s=sampling_interval_s,
            running=running,
        )

    # the settings the engine reads at every point, with their defaults resolved once
    @property
    def chart(self) -> str:
        return self.settings.chart

    @property
    def subgroup_size(self) -> int:
        return self.settings.subgroup_size

    @property
    def subgroup_by(self) -> str:
        return self.settings.subgroup_by

    @property
    def subgroup_window_s(self) -> float | None:
        return self.settings.subgroup_window_s

    @property
    def rules(self) -> str:
        return self.settings.rules

    @property
    def constants(self) -> str:
        return self.settings.constants

    @property
    def ewma(self) -> EwmaSettings:
        return self.settings.ewma or _EWMA

    @property
    def cusum(self) -> CusumSettings:
        return self.settings.cusum or _CUSUM

    @property
    def faults(self) -> SensorFaultSettings:
        return self.settings.faults

    @property
    def limit_sigma(self) -> float:
        return self.settings.limit_sigma

    @property
    def baseline(self) -> int:
        return self.settings.baseline

    @property
    def lsl(self) -> float | None:
        return self.spec.lsl

    @property
    def target(self) -> float | None:
        return self.spec.target

    @property
    def usl(self) -> float | None:
        return self.spec.usl

    @property
    def series(self) -> tuple[SeriesSpec, ...]:
        """The tag's charts: itself, or one per profile statistic (the mean on ``chart``)."""
        if self.kind != "profile":
            return (SeriesSpec(self.chart, self.chart),)
        return tuple(
            SeriesSpec(PROFILE_SERIES[s], self.chart if s == "mean" else "imr", s)
            for s in self.settings.profile_statistics
        )

    def series_of(self, statistic: str | None) -> SeriesSpec | None:
        """The chart of profile ``statistic`` (None: a scalar tag's own); None if not charted."""
        return next((s for s in self.series if s.statistic == statistic), None)

    def series_named(self, name: str | None) -> SeriesSpec:
        """The chart ``name`` of this tag (default its first); a `UserError` if it has none."""
        found = {s.name: s for s in self.series}
        if name is None:
            return self.series[0]
        if name not in found:
            raise UserError(
                f"{self.line}/{self.tag} has no chart {name!r}; its charts are: {', '.join(found)}."
            )
        return found[name]

    def chart_params(self, series: SeriesSpec) -> dict[str, Any]:
        """The design parameters stored with a limits row of ``series``."""
        params: dict[str, Any] = {
            "rules": self.rules,
            "L": self.limit_sigma,
            "constants": self.constants,
        }
        if series.xbar:
            params["subgroup_size"] = self.subgroup_size
        elif series.chart == "ewma":
            params.update({"lambda": self.ewma.lambda_, "L": self.ewma.L})
        elif series.chart == "cusum":
            params.update({"k": self.cusum.k, "h": self.cusum.h, "fir": self.cusum.fir})
        if self.subgroup_by != "count":
            params.update({"subgroup_by": self.subgroup_by, "window_s": self.subgroup_window_s})
        return params

    def alarms_on(self, code: str) -> bool:
        """Whether condition ``code`` raises an alarm (ISA-18.2) rather than an alert.

        ``code`` is an alarm code of `SeriesSpec.code` or ``spec``.  A bare entry of
        ``spc.alarms`` (``nelson1``) covers the rule on every location point of the tag's
        chart: the individuals, X-bar or EWMA point, both CUSUM sides and a profile's scan
        mean (``cd_mean:nelson1``), and ``mr:nelson1`` a profile's scan-mean MR chart as it
        does a scalar tag's; any other chart's rule alarms when its code is listed itself
        (``s:nelson1``, ``cusum_upper:nelson1``, ``cd_2sigma:nelson1``).
        """
        entries = self.settings.alarms
        if code in entries:
            return True
        prefix, _, rule = code.rpartition(":")
        if prefix in CUSUM_SIDES or prefix == CD_MEAN:
            return rule in entries
        point = prefix.removeprefix(f"{CD_MEAN}.")
        return point != prefix and f"{point}:{rule}" in entries

    def priority(self, code: str) -> str:
        """Alarm priority of ``code``: the tag's per-rule setting, its general one, the default."""
        rule = code.rpartition(":")[2]
        return (
            self.settings.rule_priority.get(rule)
            or self.settings.alarm_priority
            or priority_for(rule)
        )
