"""Statistical process control: pure statistics, arrays or DataFrames in, results out, no I/O."""

from spc.arl import (
    ARLDesign,
    cusum_arl,
    cusum_arl_one_sided,
    cusum_arl_two_sided,
    design_cusum,
    design_ewma,
    ewma_arl,
)
from spc.attributes import AttributeLimits, c_chart, np_chart, p_chart, u_chart
from spc.autocorrelation import (
    AutocorrelationTest,
    ResidualChart,
    lag1_autocorrelation,
    residual_chart,
)
from spc.capability import (
    Capability,
    PercentileCapability,
    capability,
    capability_percentile,
    cp_confidence_interval,
    cpk_confidence_interval,
    cpm_confidence_interval,
    expected_ppm,
)
from spc.charts import ChartSet, ControlChart, Violation
from spc.comparison import OneWayAnova, oneway_anova_from_summary
from spc.constants import CONSTANT_SETS, ChartConstants, c4, chart_constants, d2, d3
from spc.cusum import CUSUMParameters, cusum
from spc.errors import SPCInputError
from spc.ewma import EWMAParameters, ewma
from spc.multivariate import T2Limits, hotelling_t2, t2_phase1_ucl, t2_phase2_ucl
from spc.phases import PhaseOneResult, phase_one
from spc.profiles import ProfileCharts, profile_charts, profile_statistics
from spc.rules import RULE_DESCRIPTIONS, apply_rules, find_violations, rule_signals
from spc.streaming import CUSUMStream, EWMAStream, IMRStream, PointResult, RuleEvaluator, XbarStream
from spc.variables import SIGMA_METHODS, UNEQUAL_SIZES, ShewhartLimits, imr, xbar_r, xbar_s

__all__ = [
    "CONSTANT_SETS",
    "RULE_DESCRIPTIONS",
    "SIGMA_METHODS",
    "UNEQUAL_SIZES",
    "ARLDesign",
    "AttributeLimits",
    "AutocorrelationTest",
    "CUSUMParameters",
    "CUSUMStream",
    "Capability",
    "ChartConstants",
    "ChartSet",
    "ControlChart",
    "EWMAParameters",
    "EWMAStream",
    "IMRStream",
    "OneWayAnova",
    "PercentileCapability",
    "PhaseOneResult",
    "PointResult",
    "ProfileCharts",
    "ResidualChart",
    "RuleEvaluator",
    "SPCInputError",
    "ShewhartLimits",
    "T2Limits",
    "Violation",
    "XbarStream",
    "apply_rules",
    "c4",
    "c_chart",
    "capability",
    "capability_percentile",
    "chart_constants",
    "cp_confidence_interval",
    "cpk_confidence_interval",
    "cpm_confidence_interval",
    "cusum",
    "cusum_arl",
    "cusum_arl_one_sided",
    "cusum_arl_two_sided",
    "d2",
    "d3",
    "design_cusum",
    "design_ewma",
    "ewma",
    "ewma_arl",
    "expected_ppm",
    "find_violations",
    "hotelling_t2",
    "imr",
    "lag1_autocorrelation",
    "np_chart",
    "oneway_anova_from_summary",
    "p_chart",
    "phase_one",
    "profile_charts",
    "profile_statistics",
    "residual_chart",
    "rule_signals",
    "t2_phase1_ucl",
    "t2_phase2_ucl",
    "u_chart",
    "xbar_r",
    "xbar_s",
]
