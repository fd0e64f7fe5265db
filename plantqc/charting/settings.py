"""Chart settings: the ``spec:`` and ``spc:`` schema of a tag.

The pydantic models (`SpecLimits`, `SpcSettings` with `EwmaSettings`, `CusumSettings` and
`SensorFaultSettings`) are the plant config's schema of a chart; the config composes them
into its tags and image metrics, the store keeps them on the tag row (`plantqc.store.sync`)
and `plantqc.charting.chart.ChartConfig` holds them, parsed once, for every chart.
"""

from __future__ import annotations

from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from plantqc.charting.names import ALARM_PREFIXES

ChartType = Literal["imr", "xbar-r", "xbar-s", "ewma", "cusum"]
RuleSet = Literal["nelson", "we", "none"]
ConstantSet = Literal["exact", "table", "qcc"]
"""The constant sets of `spc.constants.CONSTANT_SETS` a chart may estimate its limits with."""
AlarmPriority = Literal["low", "medium", "high", "critical"]
SENSOR_FAULT_CODES = ("bad-quality", "stuck", "silent")
"""Codes of the sensor-fault alarms (`SensorFaultSettings`)."""
ALARM_CODES = (*(f"nelson{i}" for i in range(1, 9)), *(f"we{i}" for i in range(1, 5)))
SPEC_CODE = "spec"
"""Condition of a value beyond the tag's spec limits (a spec breach)."""
DEFAULT_ALARMS = ("nelson1", "we1", SPEC_CODE)
"""Conditions that raise an alarm unless ``spc.alarms`` says otherwise: a point beyond the
control limits (on an EWMA or CUSUM chart, its signal: a sustained shift) and a spec breach.
Every other rule hit is an alert: stored, charted and reported as a violation, not alarmed."""
BASELINE_INDIVIDUALS = 100
BASELINE_SUBGROUPS = 25
"""Default learning baselines: individuals of an I-MR / EWMA / CUSUM chart, subgroups of an
X-bar chart or of any chart whose points are time or roll windows."""
PROFILE_CHARTS = ("imr", "ewma")
"""Charts of a profile's scan mean; its other per-scan statistics are on I-MR charts."""
_PRINTED_SIZES = 25
"""Largest subgroup size of the printed constant tables (Montgomery Appendix VI)."""
ProfileStatistic = Literal["mean", "two_sigma", "range", "cv", "wedge", "edge_left", "edge_right"]


class _Settings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class SpecLimits(_Settings):
    """Specification limits of a characteristic, in the tag's unit."""

    lsl: float | None = None
    target: float | None = None
    usl: float | None = None

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.lsl is not None and self.usl is not None and self.lsl >= self.usl:
            raise ValueError(f"lsl ({self.lsl:g}) must be below usl ({self.usl:g})")
        if self.target is not None:
            if self.lsl is not None and self.target < self.lsl:
                raise ValueError(f"target ({self.target:g}) is below lsl ({self.lsl:g})")
            if self.usl is not None and self.target > self.usl:
                raise ValueError(f"target ({self.target:g}) is above usl ({self.usl:g})")
        return self


class EwmaSettings(_Settings):
    """EWMA chart parameters (Montgomery, Introduction to SQC, 8th ed., §9.2)."""

    lambda_: float = Field(0.2, alias="lambda", gt=0, le=1)
    L: float = Field(3.0, gt=0)


class CusumSettings(_Settings):
    """Tabular CUSUM parameters in sigma units (Montgomery, 8th ed., §9.1)."""

    k: float = Field(0.5, ge=0)
    h: float = Field(5.0, gt=0)
    fir: bool = False


class SensorFaultSettings(_Settings):
    """When a tag's samples raise a sensor-fault alarm; 0 turns a check off.

    ``bad_run`` consecutive Bad-quality samples, ``stuck_run`` identical consecutive Good
    values, or no sample for more than ``silent_intervals`` sampling intervals.  A tag
    sampled by exception (``sampling_interval_ms: 0``: the server reports every change, so
    a steady value sends nothing) has no interval to count: it is silent after
    ``silent_after_s`` seconds without a sample, and never judged silent without it.
    ``silent_after_s``, when set, is the bound on any tag.
    """

    bad_run: int = Field(5, ge=0)
    stuck_run: int = Field(30, ge=0)
    silent_intervals: float = Field(30.0, ge=0)
    silent_after_s: float | None = Field(None, gt=0)


class SpcSettings(_Settings):
    """How a tag is charted: chart type, subgrouping, run rules and time-weighted parameters.

    Alarm priority: ``rule_priority`` per rule or sensor-fault code, else ``alarm_priority``
    for every alarm of the tag, else the engine's default (high beyond the limits and for
    Bad quality or silence, medium otherwise).  A profile tag charts ``profile_statistics``
    of each scan, the mean on ``chart`` (`PROFILE_CHARTS`), the others on I-MR charts.
    ``constants`` is the set of d2, d3 and c4 its limits and capability are estimated with
    (`spc.constants.ChartConstants`): ``exact`` (computed), ``table`` (Montgomery Appendix VI
    / ASTM E2587 digits, subgroups of 2 to 25) or ``qcc`` (R's qcc).

    Alerts and alarms (ISA-18.2): every rule hit is a violation; only the conditions in
    ``alarms`` (default `DEFAULT_ALARMS`) raise an alarm that asks an operator to respond;
    sensor faults always do.  An entry is a rule code on the chart's location points (the
    individuals, X-bar, EWMA, either CUSUM side, a profile's scan mean), ``spec`` (a value
    beyond the spec limits), or a rule after the chart it watches: a spread chart
    (``mr:nelson1``, ``r:nelson1``, ``s:nelson1``), one CUSUM side (``cusum_upper:nelson1``)
    or another profile statistic (``cd_2sigma:nelson1``, ``cd_2sigma.mr:nelson1``).
    ``limit_sigma`` is the width L of an I-MR or X-bar chart's limits, in sigma of the
    plotted point (3: Shewhart's), chosen with the line's false-alarm budget (``plantqc
    limits design``).  A chart without frozen
    limits learns: it collects ``baseline`` points (default `BASELINE_INDIVIDUALS` or
    `BASELINE_SUBGROUPS`), estimates phase I limits from them with outliers excluded and
    proposes them; until then only spec limits and sensor faults can alarm.
    """

    chart: ChartType = "imr"
    subgroup_size: int = Field(1, ge=1, le=100)
    subgroup_by: Literal["count", "time", "roll"] = "count"
    subgroup_window_s: float | None = Field(None, gt=0)
    rules: RuleSet = "nelson"
    constants: ConstantSet = "exact"
    ewma: EwmaSettings | None = None
    cusum: CusumSettings | None = None
    alarm_priority: AlarmPriority | None = None
    rule_priority: dict[str, AlarmPriority] = {}
    profile_statistics: list[ProfileStatistic] = Field(["mean", "two_sigma"], min_length=1)
    faults: SensorFaultSettings = SensorFaultSettings()
    alarms: tuple[str, ...] = DEFAULT_ALARMS
    limit_sigma: float = Field(3.0, gt=0, le=6)
    baseline_points: int | None = Field(None, ge=20, le=100_000)

    @property
    def baseline(self) -> int:
        """Points the chart collects in its learning state before it proposes limits."""
        if self.baseline_points is not None:
            return self.baseline_points
        windowed = self.chart in ("xbar-r", "xbar-s") or self.subgroup_by != "count"
        return BASELINE_SUBGROUPS if windowed else BASELINE_INDIVIDUALS

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        subgrouped = self.chart in ("xbar-r", "xbar-s") and self.subgroup_by == "count"
        if subgrouped and self.subgroup_size < 2:
            raise ValueError(f"chart {self.chart} needs subgroup_size of at least 2")
        if self.subgroup_by == "time" and self.subgroup_window_s is None:
            raise ValueError("subgroup_by 'time' needs subgroup_window_s")
        # the printed tables stop at n = 25 (qcc computes c4), and a time or roll subgroup has
        # any size: an X-bar chart on them would fail on the first subgroup they do not cover
        printed = self.constants == "table" or (self.constants == "qcc" and self.chart == "xbar-r")
        sizes_covered = self.subgroup_by == "count" and self.subgroup_size <= _PRINTED_SIZES
        if printed and self.chart in ("xbar-r", "xbar-s") and not sizes_covered:
            raise ValueError(
                f"constants {self.constants!r} print d2, d3 and c4 for subgroups of 2 to "
                f"{_PRINTED_SIZES} only, so chart {self.chart} needs subgroups by count of at"
                " most that size or constants 'exact'"
            )
        unknown = sorted(set(self.rule_priority) - {*ALARM_CODES, *SENSOR_FAULT_CODES, SPEC_CODE})
        if unknown:
            raise ValueError(
                f"rule_priority names {unknown[0]!r}; expected nelson1..8, we1..4, {SPEC_CODE}"
                f" or {', '.join(SENSOR_FAULT_CODES)}"
            )
        unknown = sorted(code for code in self.alarms if not _alarm_entry(code))
        if unknown:
            raise ValueError(
                f"alarms names {unknown[0]!r}; expected nelson1..8, we1..4 or {SPEC_CODE}, a"
                " rule may follow a spread chart (mr:, r:, s:) or a profile chart (cd_2sigma:,"
                " cd_2sigma.mr:, ...); sensor faults always alarm"
            )
        return self


def _alarm_entry(code: str) -> bool:
    """Whether ``code`` may be an entry of ``spc.alarms``: a rule, `SPEC_CODE`, or a rule after
    a chart that is not the location chart (`plantqc.charting.names.ALARM_PREFIXES`)."""
    prefix, _, rule = code.rpartition(":")
    if not prefix:
        return rule in ALARM_CODES or rule == SPEC_CODE
    return prefix in ALARM_PREFIXES and rule in ALARM_CODES
