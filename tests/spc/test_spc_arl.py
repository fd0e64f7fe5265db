"""ARL computations and designs against published ARL tables."""

import pytest

from spc import SPCInputError, cusum_arl, cusum_arl_two_sided, design_cusum, design_ewma, ewma_arl

SHIFTS = (0.0, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 2.5, 3.0, 4.0)

# Montgomery, Intro to SQC 7th ed., Table 9.3: two-sided tabular CUSUM, k = 1/2.
CUSUM_H4 = (168, 74.2, 26.6, 13.3, 8.38, 4.75, 3.34, 2.62, 2.19, 1.71)
CUSUM_H5 = (465, 139, 38.0, 17.0, 10.4, 5.75, 4.01, 3.11, 2.57, 2.01)

# Lucas & Saccucci (1990) Table 3, reproduced as Montgomery Table 9.11 (ARL0 = 500 designs).
EWMA_TABLE = {
    (0.05, 2.615): (500, 84.1, 28.8, 16.4, 11.4, 7.1, 5.2, 4.2, 3.5, 2.7),
    (0.10, 2.814): (500, 106, 31.3, 15.9, 10.3, 6.1, 4.4, 3.4, 2.9, 2.2),
    (0.20, 2.962): (500, 150, 41.8, 18.2, 10.5, 5.5, 3.7, 2.9, 2.4, 1.9),
    (0.25, 2.998): (500, 170, 48.2, 20.1, 11.1, 5.5, 3.6, 2.7, 2.3, 1.7),
    (0.40, 3.054): (500, 224, 71.2, 28.4, 14.3, 5.9, 3.5, 2.5, 2.0, 1.4),
}


def _same_printed(value: float, printed: float) -> bool:
    """True when ``value`` rounds to ``printed`` at the printed number of significant digits."""
    digits = len(f"{printed:g}".replace(".", "").lstrip("0"))
    return f"{value:.{max(digits, 1)}g}" == f"{printed:.{max(digits, 1)}g}"


def _agrees_with_markov_table(value: float, printed: float) -> bool:
    """Printed-precision agreement, or within 0.5 %.

    Lucas & Saccucci's table comes from a finite Markov chain; the converged integral equation
    (unchanged from 60 to 480 nodes) matches 41 of the 45 out-of-control entries to every
    printed digit and the other four within 0.4 % (84.01 for 84.1, 15.85 for 15.9, 18.15 for
    18.2, 48.29 for 48.2).
    """
    return _same_printed(value, printed) or abs(value - printed) <= 5e-3 * printed


@pytest.mark.parametrize(("h", "table"), [(4.0, CUSUM_H4), (5.0, CUSUM_H5)])
def test_cusum_arl_matches_montgomery_table_9_3(h: float, table: tuple[float, ...]) -> None:
    for shift, printed in zip(SHIFTS, table, strict=True):
        assert _same_printed(cusum_arl(0.5, h, shift), printed), (shift, printed)


@pytest.mark.parametrize(("design", "table"), list(EWMA_TABLE.items()))
def test_ewma_arl_matches_lucas_saccucci(design: tuple[float, float], table: tuple) -> None:
    lam, L = design
    # The in-control designs are rounded to 3 decimals of L, so ARL0 is 500 within 0.2 %.
    assert ewma_arl(lam, L) == pytest.approx(500, rel=2e-3)
    for shift, printed in zip(SHIFTS[1:], table[1:], strict=True):
        assert _agrees_with_markov_table(ewma_arl(lam, L, shift), printed), (lam, shift)


def test_cusum_fir_arl_matches_lucas_crosier() -> None:
    # Lucas & Crosier (1982) / Montgomery Table 9.5: k = 1/2, h = 5, headstart h/2: ARL(1) = 6.35.
    assert round(cusum_arl(0.5, 5.0, 1.0, headstart=2.5), 2) == 6.35


def test_ewma_design_finds_lucas_saccucci_width() -> None:
    design = design_ewma(0.1, arl0=500)
    assert round(design.limit, 3) == 2.814
    assert design.arl0 == pytest.approx(500, rel=1e-6)
    assert round(design.arl[design.shifts.index(1.0)], 1) == 10.3


def test_cusum_design_finds_h_for_montgomery_arl0() -> None:
    # Table 9.3: ARL0 = 465 for h = 5, 168 for h = 4 (k = 1/2).
    assert round(design_cusum(0.5, arl0=465.4).limit, 2) == 5.00
    assert round(design_cusum(0.5, arl0=167.7).limit, 2) == 4.00


def test_more_nodes_do_not_change_the_arl() -> None:
    assert cusum_arl(0.5, 5.0, 0.0, nodes=60) == pytest.approx(
        cusum_arl(0.5, 5.0, 0.0, nodes=240), rel=1e-6
    )
    assert ewma_arl(0.05, 2.615, 0.0, nodes=120) == pytest.approx(
        ewma_arl(0.05, 2.615, 0.0, nodes=400), rel=1e-4
    )


def test_design_rejects_unreachable_arl() -> None:
    with pytest.raises(SPCInputError, match="in-control ARL must be between"):
        design_ewma(0.1, arl0=0.5)


# Two-sided CUSUM, k = 1/2, both sums started at the head start.  Lucas & Crosier (1982),
# Technometrics 24(3), FIR table: 148.7 (h = 4, head start 2) and 430.4 (h = 5, head start 2.5).
# R's spc 0.6.7, `xcusum.arl(k, h, mu, hs, sided = "two")`, run during development (Debian
# r-cran-spc; the tests do not need R): 148.6956, 430.3908, and 5.2869 at mu = 1 (h = 4),
# 28.6658 at mu = 0.5 (h = 5).
R_SPC_TWO_SIDED_FIR = {
    (4.0, 2.0, 0.0): 148.6956,
    (5.0, 2.5, 0.0): 430.3908,
    (4.0, 2.0, 1.0): 5.2869,
    (5.0, 2.5, 0.5): 28.6658,
}


@pytest.mark.parametrize(("case", "published"), list(R_SPC_TWO_SIDED_FIR.items()))
def test_two_sided_fir_arl_matches_r_spc_and_lucas_crosier(case: tuple, published: float) -> None:
    h, headstart, shift = case
    value = cusum_arl(0.5, h, shift, headstart=headstart)
    assert value == pytest.approx(published, rel=1e-4)
    if shift == 0.0:
        assert round(value, 1) == {4.0: 148.7, 5.0: 430.4}[h]


def test_pair_chain_from_zero_agrees_with_the_one_sided_combination() -> None:
    # From a zero start the combination 1/L = 1/L+ + 1/L- holds (Montgomery Table 9.3;
    # R's spc gives 167.6838 for h = 4); the chain on the pair of sums must agree with it.
    assert cusum_arl_two_sided(0.5, 4.0) == pytest.approx(cusum_arl(0.5, 4.0), rel=1e-4)


def test_cusum_design_with_head_start_uses_the_pair_chain() -> None:
    # R's spc: h = 5, head start 2.5 gives ARL0 430.3908, so that is the design's h.
    design = design_cusum(0.5, arl0=430.3908, shifts=(1.0,), headstart=2.5)
    assert design.limit == pytest.approx(5.0, abs=1e-3)
    assert design.arl[0] == pytest.approx(6.3469, rel=1e-3)  # R's spc at mu = 1
