"""Statistical process control: pure statistics, arrays or DataFrames in, results out, no I/O.

The names below are loaded on first use (PEP 562): ``from spc import IMRStream`` imports
`spc.streaming` and what it needs, not the whole package, so that a streaming engine does not
pay for SciPy's optimisers or statsmodels (the ARL, capability and autocorrelation modules) it
never calls.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# three functions share their module's name: bound now, else importing the module (which any
# spc module may do) would make the package attribute the module; these modules load no SciPy
from spc.capability import capability
from spc.cusum import cusum
from spc.ewma import ewma

if TYPE_CHECKING:
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
        capability_percentile,
        cp_confidence_interval,
        cpk_confidence_interval,
        cpm_confidence_interval,
        expected_ppm,
    )
    from spc.charts import ChartSet, ControlChart, Violation
    from spc.comparison import OneWayAnova, oneway_anova_from_summary
    from spc.constants import CONSTANT_SETS, ChartConstants, c4, chart_constants, d2, d3
    from spc.cusum import CUSUMParameters
    from spc.errors import SPCInputError
    from spc.ewma import EWMAParameters
    from spc.multivariate import T2Limits, hotelling_t2, t2_phase1_ucl, t2_phase2_ucl
    from spc.phases import PhaseOneResult, phase_one
    from spc.profiles import (
        ProfileCharts,
        profile_charts,
        profile_statistic_arrays,
        profile_statistics,
    )
    from spc.rules import RULE_DESCRIPTIONS, apply_rules, find_violations, rule_signals
    from spc.streaming import (
        CUSUMStream,
        EWMAStream,
        IMRStream,
        PointResult,
        RuleEvaluator,
        XbarStream,
    )
    from spc.variables import SIGMA_METHODS, UNEQUAL_SIZES, ShewhartLimits, imr, xbar_r, xbar_s

_MODULE_OF = {
    "ARLDesign": "arl",
    "cusum_arl": "arl",
    "cusum_arl_one_sided": "arl",
    "cusum_arl_two_sided": "arl",
    "design_cusum": "arl",
    "design_ewma": "arl",
    "ewma_arl": "arl",
    "AttributeLimits": "attributes",
    "c_chart": "attributes",
    "np_chart": "attributes",
    "p_chart": "attributes",
    "u_chart": "attributes",
    "AutocorrelationTest": "autocorrelation",
    "ResidualChart": "autocorrelation",
    "lag1_autocorrelation": "autocorrelation",
    "residual_chart": "autocorrelation",
    "Capability": "capability",
    "PercentileCapability": "capability",
    "capability_percentile": "capability",
    "cp_confidence_interval": "capability",
    "cpk_confidence_interval": "capability",
    "cpm_confidence_interval": "capability",
    "expected_ppm": "capability",
    "ChartSet": "charts",
    "ControlChart": "charts",
    "Violation": "charts",
    "OneWayAnova": "comparison",
    "oneway_anova_from_summary": "comparison",
    "CONSTANT_SETS": "constants",
    "ChartConstants": "constants",
    "c4": "constants",
    "chart_constants": "constants",
    "d2": "constants",
    "d3": "constants",
    "CUSUMParameters": "cusum",
    "SPCInputError": "errors",
    "EWMAParameters": "ewma",
    "T2Limits": "multivariate",
    "hotelling_t2": "multivariate",
    "t2_phase1_ucl": "multivariate",
    "t2_phase2_ucl": "multivariate",
    "PhaseOneResult": "phases",
    "phase_one": "phases",
    "ProfileCharts": "profiles",
    "profile_charts": "profiles",
    "profile_statistic_arrays": "profiles",
    "profile_statistics": "profiles",
    "RULE_DESCRIPTIONS": "rules",
    "apply_rules": "rules",
    "find_violations": "rules",
    "rule_signals": "rules",
    "CUSUMStream": "streaming",
    "EWMAStream": "streaming",
    "IMRStream": "streaming",
    "PointResult": "streaming",
    "RuleEvaluator": "streaming",
    "XbarStream": "streaming",
    "SIGMA_METHODS": "variables",
    "UNEQUAL_SIZES": "variables",
    "ShewhartLimits": "variables",
    "imr": "variables",
    "xbar_r": "variables",
    "xbar_s": "variables",
}

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
    "profile_statistic_arrays",
    "profile_statistics",
    "residual_chart",
    "rule_signals",
    "t2_phase1_ucl",
    "t2_phase2_ucl",
    "u_chart",
    "xbar_r",
    "xbar_s",
]


def __getattr__(name: str) -> Any:
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module 'spc' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"spc.{module}"), name)
    globals()[name] = value  # looked up once: later accesses are plain module attributes
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
