"""One-way ANOVA from group summaries (spc.comparison)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from spc import SPCInputError, oneway_anova_from_summary

# Montgomery, Design and Analysis of Experiments, 8th ed., Example 3.1: etch rate (A/min) of
# a plasma etcher at four RF power settings (160, 180, 200, 220 W), five wafers each.
ETCH = [
    [575, 542, 530, 539, 570],
    [565, 593, 590, 579, 610],
    [600, 651, 610, 637, 629],
    [725, 700, 715, 685, 710],
]


def _summary(groups: list[list[float]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    arrays = [np.asarray(g, dtype=float) for g in groups]
    return (
        np.array([a.mean() for a in arrays]),
        np.array([a.std(ddof=1) for a in arrays]),
        np.array([a.size for a in arrays]),
    )


def test_etch_rate_example_gives_the_books_anova_table() -> None:
    # Table 3.4: SS treatments 66,870.55 (3 df), SS error 5,339.20 (16 df), F0 = 66.80
    result = oneway_anova_from_summary(*_summary(ETCH))
    assert result.ss_between == pytest.approx(66870.55, abs=0.005)
    assert result.ss_within == pytest.approx(5339.20, abs=0.005)
    assert (result.df_between, result.df_within) == (3, 16)
    assert round(result.f, 2) == 66.80
    assert result.p_value < 1e-8


def test_summary_anova_equals_scipys_anova_of_the_raw_data() -> None:
    rng = np.random.default_rng(3)
    groups = [
        list(rng.normal(50 + shift, 1.0, size)) for shift, size in ((0, 12), (0.4, 30), (0.1, 7))
    ]
    raw = stats.f_oneway(*groups)
    result = oneway_anova_from_summary(*_summary(groups))
    assert result.f == pytest.approx(raw.statistic, rel=1e-10)
    assert result.p_value == pytest.approx(raw.pvalue, rel=1e-8)


def test_one_group_is_refused() -> None:
    with pytest.raises(SPCInputError, match="at least 2 groups"):
        oneway_anova_from_summary([1.0], [0.5], [10])


def test_groups_without_variation_are_refused() -> None:
    with pytest.raises(SPCInputError, match="no variation"):
        oneway_anova_from_summary([1.0, 2.0], [0.0, 0.0], [5, 5])


def test_mismatched_lengths_are_refused() -> None:
    with pytest.raises(SPCInputError, match="one entry per group"):
        oneway_anova_from_summary([1.0, 2.0], [0.5], [5, 5])
