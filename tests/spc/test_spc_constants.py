"""Control-chart constants against Montgomery, Introduction to SQC, 7th ed., Appendix Table VI."""

import numpy as np
import pytest

from spc import SPCInputError, c4, d2, d3
from spc.constants import chart_constants

# Appendix VI, "Factors for constructing variables control charts" (3 decimals for d2, d3;
# 4 decimals for c4), also ASTM E2587 Table 1.
TABLE_VI = {
    2: (1.128, 0.853, 0.7979),
    3: (1.693, 0.888, 0.8862),
    4: (2.059, 0.880, 0.9213),
    5: (2.326, 0.864, 0.9400),
    6: (2.534, 0.848, 0.9515),
    7: (2.704, 0.833, 0.9594),
    8: (2.847, 0.820, 0.9650),
    10: (3.078, 0.797, 0.9727),
    15: (3.472, 0.756, 0.9823),
    20: (3.735, 0.729, 0.9869),
    25: (3.931, 0.708, 0.9896),
}


@pytest.mark.parametrize("n", sorted(TABLE_VI))
def test_d2_matches_table_vi(n: int) -> None:
    assert round(d2(n), 3) == TABLE_VI[n][0]


@pytest.mark.parametrize("n", sorted(TABLE_VI))
def test_d3_matches_table_vi(n: int) -> None:
    assert round(d3(n), 3) == TABLE_VI[n][1]


@pytest.mark.parametrize("n", sorted(TABLE_VI))
def test_c4_matches_table_vi(n: int) -> None:
    assert round(c4(n), 4) == TABLE_VI[n][2]


def test_d2_and_d3_for_two_observations_have_closed_forms() -> None:
    # The range of two standard normals is |X1 - X2| ~ half-normal with scale sqrt(2).
    assert d2(2) == pytest.approx(2.0 / np.sqrt(np.pi), abs=1e-10)
    assert d3(2) == pytest.approx(np.sqrt(2.0 - 4.0 / np.pi), abs=1e-8)


def test_derived_factors_for_n5_match_table_vi() -> None:
    # A2 = 0.577, D4 = 2.114, A3 = 1.427, B4 = 2.089 for n = 5 (Table VI).
    assert round(3.0 / (d2(5) * np.sqrt(5)), 3) == 0.577
    assert round(1.0 + 3.0 * d3(5) / d2(5), 3) == 2.114
    assert round(3.0 / (c4(5) * np.sqrt(5)), 3) == 1.427
    assert round(1.0 + 3.0 * np.sqrt(1.0 - c4(5) ** 2) / c4(5), 3) == 2.089


def test_c4_accepts_an_array_of_sizes() -> None:
    assert np.allclose(c4(np.array([2, 5])), [0.7979, 0.9400], atol=5e-5)


def test_subgroup_size_one_is_rejected() -> None:
    with pytest.raises(SPCInputError, match="at least 2"):
        d2(1)


def test_table_constants_are_the_exact_ones_rounded_as_printed() -> None:
    # Montgomery 8th ed. Appendix VI / ASTM E2587 Table 1 print d2 and d3 to 3 decimals and c4
    # to 4.  Every printed digit equals the integral rounded, except d3(19): printed 0.734,
    # where the integral gives 0.73348.
    table = chart_constants("table")
    for n in range(2, 26):
        assert table.d2(n) == round(d2(n), 3), n
        assert table.c4(n) == round(c4(n), 4), n
        assert table.d3(n) == (0.734 if n == 19 else round(d3(n), 3)), n


def test_qcc_constants_take_the_printed_d2_and_the_computed_c4() -> None:
    # R's qcc (`.qcc.options`): exp.R.unscaled (d2) = 2.326 for n = 5, se.R.unscaled (d3)
    # = 0.8640855, c4 from the gamma function.
    qcc = chart_constants("qcc")
    assert (qcc.d2(5), qcc.d3(5), qcc.c4(5)) == (2.326, 0.8640855, c4(5))


def test_table_constants_stop_where_the_table_does() -> None:
    with pytest.raises(SPCInputError, match="subgroup sizes 2 to 25 only, not 30"):
        chart_constants("table").d2(30)
