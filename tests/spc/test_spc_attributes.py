"""p, np, c and u charts against Montgomery's worked examples (Intro to SQC 7th ed., ch. 7)."""

import numpy as np
import pytest

from spc import SPCInputError, c_chart, np_chart, p_chart, u_chart
from spc.attributes import AttributeLimits


def test_orange_juice_p_chart_matches_montgomery_example_7_1(spc_data) -> None:
    # Example 7.1: 30 samples of 50 cans, p-bar = 0.2313, UCL = 0.4102,
    # LCL = 0.0524; samples 15 and 23 are above the UCL.
    d = spc_data("orangejuice")
    p = p_chart(d.value, d["size"], d["sample"], reference=30)["p"]
    assert round(p.center[0], 4) == 0.2313
    assert round(p.ucl[0], 4) == 0.4102
    assert round(p.lcl[0], 4) == 0.0524
    first30 = [v.index + 1 for v in p.violations if v.code == "nelson1" and v.index < 30]
    assert first30 == [15, 23]


def test_np_chart_is_the_p_chart_scaled_by_sample_size(spc_data) -> None:
    # Montgomery eq. 7.13: np limits = n x p limits for constant n.
    d = spc_data("orangejuice")
    p = p_chart(d.value, 50, reference=30)["p"]
    np_ = np_chart(d.value, 50, reference=30)["np"]
    assert np.allclose(np_.ucl, 50 * p.ucl)
    assert np.allclose(np_.center, 50 * p.center)


def test_circuit_board_c_chart_matches_montgomery_example_7_3(spc_data) -> None:
    # Example 7.3: 26 samples of 100 boards, c-bar = 19.85, UCL = 33.22, LCL = 6.48;
    # samples 6 and 20 are outside.  Montgomery computes the limits from c-bar rounded to
    # 19.85; the unrounded c-bar = 516/26 gives UCL 33.21.
    d = spc_data("circuit")
    c = c_chart(d.value, reference=26)["c"]
    assert round(c.center[0], 2) == 19.85
    assert round(c.lcl[0], 2) == 6.48
    assert round(c.ucl[0], 2) == 33.21
    outside = [v.index + 1 for v in c.violations if v.code == "nelson1" and v.index < 26]
    assert outside == [6, 20]
    book = c_chart(d.value, limits=AttributeLimits(19.85))["c"]
    assert round(book.ucl[0], 2) == 33.22
    assert round(book.lcl[0], 2) == 6.48


def test_dyed_cloth_u_chart_matches_montgomery_per_point_limits(spc_data) -> None:
    # Montgomery §7.3.2, dyed-cloth example (variable sample size): 10 rolls, inspection
    # unit 50 m2, u-bar = 153/107.5 = 1.42; per-roll limits printed to 2 decimals, computed
    # by Montgomery from u-bar = 1.42.
    d = spc_data("dyedcloth")
    u = u_chart(d.value, d["size"])["u"]
    assert round(u.center[0], 2) == 1.42
    assert u.center[0] == pytest.approx(153 / 107.5)
    book = u_chart(d.value, d["size"], limits=AttributeLimits(1.42))["u"]
    expected_ucl = [2.55, 2.68, 2.41, 2.55, 2.58, 2.55, 2.45, 2.52, 2.45, 2.43]
    expected_lcl = [0.29, 0.16, 0.43, 0.29, 0.26, 0.29, 0.39, 0.32, 0.39, 0.41]
    assert np.round(book.ucl, 2).tolist() == expected_ucl
    assert np.round(book.lcl, 2).tolist() == expected_lcl
    assert not book.violations


def test_attribute_lower_limit_is_clipped_at_zero() -> None:
    c = c_chart([1, 0, 2, 1, 0])["c"]
    assert c.lcl[0] == 0.0


def test_negative_count_is_rejected_with_its_sample() -> None:
    with pytest.raises(SPCInputError, match="sample 2 has -1"):
        p_chart([3, -1, 2], [50, 50, 50])


def test_count_above_sample_size_is_rejected() -> None:
    with pytest.raises(SPCInputError, match="cannot exceed the sample size"):
        p_chart([3, 60, 2], [50, 50, 50])


def test_c_chart_refuses_unequal_inspection_units() -> None:
    with pytest.raises(SPCInputError, match="use a u chart"):
        c_chart([3, 4, 2], [1, 2, 1])
