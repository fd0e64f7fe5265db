"""Reference suite: every chart family through `plantqc spc`, against published numbers.

Each case runs the CLI on a classic dataset (../shared/data/spc-datasets) and compares with
the numbers its source prints.  Sources:

- qcc vignette: L. Scrucca, "A quick tour of qcc" (qcc 3.0, 19 Feb 2018), the R package's
  vignette `qcc_a_quick_tour` (printed output of `qcc`, `ewma`, `cusum`, `process.capability`
  and `mqcc`), after Scrucca, *R News* 4(1), 2004, pp. 11-17.
- Montgomery: D. C. Montgomery, *Introduction to Statistical Quality Control*, 7th/8th ed.,
  Wiley (chapter and example numbers are the same in both).

`_printed` asserts that a value equals the printed figure to every digit printed (half a unit
in the last place).  Where a source prints seven significant digits (qcc's summaries) that is
1e-6 relative or better; with ``--constants table`` (Montgomery / ASTM digits) or ``qcc``
(qcc's own constants) the CLI reproduces the printed figures exactly, and with ``exact``
they differ only by the constants, which the last test shows.
"""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from typer.testing import CliRunner

from plantqc.cli import app

runner = CliRunner()


def _json(*args: str) -> dict:
    result = runner.invoke(app, ["spc", *args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def _printed(value: float, printed: str) -> None:
    """``value`` agrees with the figure ``printed`` to every printed decimal."""
    decimals = len(printed.split(".")[1]) if "." in printed else 0
    assert abs(value - float(printed)) <= 0.5 * 10.0**-decimals * (1 + 1e-9), (value, printed)


def _flagged(chart: dict, code: str = "nelson1") -> list[int]:
    return [p["index"] for p in chart["points"] if code in p["violations"]]


def _points(chart: dict, key: str) -> list[float]:
    return [p[key] for p in chart["points"]]


# --- X-bar / R and X-bar / S: piston rings (Montgomery Example 6.1, Table 6.3; qcc vignette) --


def test_xbar_r_phase_one_and_two_reproduce_qcc_and_montgomery(spc_csv) -> None:
    # qcc vignette, `qcc(diameter[1:25,], type="xbar", newdata=diameter[26:40,])`: center
    # 74.00118, std. dev. 0.009785039, limits 73.98805 / 74.0143.  Montgomery Example 6.1:
    # limits 74.014 / 73.988 from the 25 trial subgroups; subgroups 37, 38 and 39 of the new
    # data plot above the UCL (Example 6.1 continued, Fig. 6.5).
    out = _json("chart", str(spc_csv("pistonrings_phase1_phase2")), "--chart", "xbar-r",
                "--value", "value", "--subgroup", "subgroup", "--phase1", "25",
                "--constants", "table")  # fmt: skip
    xbar = out["charts"]["xbar"]
    _printed(xbar["center"], "74.00118")
    _printed(out["sigma"], "0.009785039")
    _printed(xbar["lcl"], "73.98805")
    _printed(xbar["ucl"], "74.0143")
    _printed(xbar["ucl"], "74.014")
    assert _flagged(xbar) == [37, 38, 39]
    assert out["settings"]["constants"] == "table" and out["sigma_method"] == "rbar/d2"


def test_r_chart_reproduces_qcc_with_qcc_constants(spc_csv) -> None:
    # qcc vignette, `qcc(diameter[1:25,], type="R")`: center 0.02276, UCL 0.04812533 (qcc's
    # d3(5) = 0.8640855, `se.R.unscaled`).
    out = _json("chart", str(spc_csv("pistonrings_phase1_phase2")), "--chart", "xbar-r",
                "--value", "value", "--subgroup", "subgroup", "--phase1", "25",
                "--constants", "qcc")  # fmt: skip
    r = out["charts"]["r"]
    _printed(r["center"], "0.02276")
    _printed(r["ucl"], "0.04812533")
    assert r["lcl"] == 0.0


def test_xbar_s_reproduces_qcc(spc_csv) -> None:
    # qcc vignette, `qcc(diameter[1:25,], type="S")`: center 0.009240037, std. dev.
    # 0.009829977 (s-bar / c4 with c4 computed), UCL 0.01930242.
    out = _json("chart", str(spc_csv("pistonrings_phase1_phase2")), "--chart", "xbar-s",
                "--value", "value", "--subgroup", "subgroup", "--phase1", "25",
                "--constants", "qcc")  # fmt: skip
    s = out["charts"]["s"]
    _printed(s["center"], "0.009240037")
    _printed(out["sigma"], "0.009829977")
    _printed(s["ucl"], "0.01930242")
    assert out["sigma_method"] == "sbar/c4"


def test_xbar_r_with_unequal_sizes_uses_the_unweighted_qcc_convention(spc_csv) -> None:
    # qcc vignette, "Variable control limits": 12 rings removed, sizes 3, 4 and 5;
    # center 74.00075, std. dev. 0.009856701 (mean of R_i / d2(n_i), `UWAVE-R`), limits
    # 73.98753 / 74.01398 for subgroup 1 (n = 5) and 73.98368 / 74.01782 for subgroup 2 (n = 3).
    out = _json("chart", str(spc_csv("pistonrings_varn_phase1_phase2")), "--chart", "xbar-r",
                "--value", "value", "--subgroup", "subgroup", "--phase1", "25",
                "--constants", "table", "--unequal-sizes", "unweighted")  # fmt: skip
    xbar = out["charts"]["xbar"]
    _printed(out["sigma"], "0.009856701")
    _printed(xbar["center"], "74.00075")
    assert out["sigma_method"] == "mean of r/d2"
    printed = [("73.98753", "74.01398"), ("73.98368", "74.01782")]
    for point, (lcl, ucl) in zip(xbar["points"][:2], printed, strict=True):
        _printed(point["lcl"], lcl)
        _printed(point["ucl"], ucl)


# --- Individuals: the 15 viscosity batches of the qcc vignette (Montgomery p. 242) -----------

# The vignette types these values in its code (`x <- c(33.75, ...)`, "viscosity data
# (Montgomery, pag. 242)"); they are not one of the shared datasets.
VIGNETTE_VISCOSITY = (33.75, 33.05, 34, 33.81, 33.46, 34.02, 33.68, 33.27, 33.49, 33.20,
                      33.62, 33.00, 33.54, 33.12, 33.84)  # fmt: skip


@pytest.fixture
def viscosity15(tmp_path: Path) -> Path:
    path = tmp_path / "viscosity15.csv"
    pd.DataFrame({"batch": range(1, 16), "value": VIGNETTE_VISCOSITY}).to_csv(path, index=False)
    return path


@pytest.mark.parametrize(
    ("method", "constants", "sigma", "lcl", "ucl"),
    [
        ("mr", "table", "0.4261651", "32.24484", "34.80183"),
        ("sd", "qcc", "0.3415928", "32.49855", "34.54811"),
    ],
)
def test_individuals_chart_reproduces_qcc_xbar_one(
    viscosity15: Path, method: str, constants: str, sigma: str, lcl: str, ucl: str
) -> None:
    # qcc vignette, `qcc(x, type="xbar.one")` (MR-bar / d2(2), d2 = 1.128) and
    # `std.dev = "SD"` (s / c4(15), c4 computed, not Table VI's 0.9823): center 33.52333.
    out = _json("chart", str(viscosity15), "--chart", "imr", "--value", "value", "--subgroup",
                "batch", "--sigma-method", method, "--constants", constants)  # fmt: skip
    i = out["charts"]["i"]
    _printed(i["center"], "33.52333")
    _printed(out["sigma"], sigma)
    _printed(i["lcl"], lcl)
    _printed(i["ucl"], ucl)


# --- EWMA ------------------------------------------------------------------------------------


def test_ewma_on_subgroup_means_reproduces_qcc_phase_one_and_two(spc_csv) -> None:
    # qcc vignette, `ewma(diameter[1:25,], lambda=0.2, nsigmas=3)`: limits 73.99855 / 74.00380
    # at subgroup 1 and 73.99680 / 74.00555 at 25; `ewma(..., nsigmas=2.7,
    # newdata=diameter[26:40,])`: 73.99881 / 74.00354 at 1 and 73.99724 / 74.00511 at 40.
    path = str(spc_csv("pistonrings_phase1_phase2"))
    base = ("chart", path, "--chart", "ewma", "--value", "value", "--subgroup", "subgroup",
            "--phase1", "25", "--lambda", "0.2", "--constants", "table")  # fmt: skip
    three = _json(*base, "--L", "3")["charts"]["ewma"]
    _printed(three["center"], "74.00118")
    for index, lcl, ucl in ((0, "73.99855", "74.00380"), (24, "73.99680", "74.00555")):
        _printed(three["lcl"][index], lcl)
        _printed(three["ucl"][index], ucl)
    out = _json(*base, "--L", "2.7")
    narrow = out["charts"]["ewma"]
    assert len(narrow["points"]) == 40  # 40 subgroup means, not 200 readings
    for index, lcl, ucl in ((0, "73.99881", "74.00354"), (39, "73.99724", "74.00511")):
        _printed(narrow["lcl"][index], lcl)
        _printed(narrow["ucl"][index], ucl)
    _printed(out["sigma"], "0.009785039")
    assert out["settings"]["phase1_subgroups"] == 25


def test_ewma_on_individuals_reproduces_qcc(viscosity15: Path) -> None:
    # qcc vignette, `ewma(x, lambda=0.2, nsigmas=2.7)`: std. dev. 0.4261651; limits
    # 33.29320 / 33.75346, 33.22862 / 33.81804, ..., 33.14002 / 33.90664 at batch 15.
    out = _json("chart", str(viscosity15), "--chart", "ewma", "--value", "value",
                "--lambda", "0.2", "--L", "2.7", "--constants", "table")  # fmt: skip
    chart = out["charts"]["ewma"]
    _printed(out["sigma"], "0.4261651")
    for index, lcl, ucl in ((0, "33.29320", "33.75346"), (1, "33.22862", "33.81804"),
                            (14, "33.14002", "33.90664")):  # fmt: skip
        _printed(chart["lcl"][index], lcl)
        _printed(chart["ucl"][index], ucl)


def test_ewma_with_given_parameters_reproduces_montgomery_example_9_2(spc_csv) -> None:
    # Montgomery Example 9.2 (Table 9.12): mu0 = 10, sigma = 1, lambda = 0.1, L = 2.7;
    # UCL 10.27 at period 1, 10.36 at 2, 10.62 in steady state; z_29 = 10.6468 signals first.
    out = _json("chart", str(spc_csv("montgomery_table9_1")), "--chart", "ewma", "--value",
                "value", "--center", "10", "--sigma", "1", "--lambda", "0.1",
                "--L", "2.7")  # fmt: skip
    chart = out["charts"]["ewma"]
    for index, ucl in ((0, "10.27"), (1, "10.36"), (29, "10.62")):
        _printed(chart["ucl"][index], ucl)
    _printed(chart["points"][28]["value"], "10.6468")
    assert _flagged(chart)[0] == 29
    assert out["sigma_method"] == "given" and out["settings"]["center"] == 10.0


# --- CUSUM -----------------------------------------------------------------------------------


def test_cusum_with_given_parameters_reproduces_montgomery_table_9_2(spc_csv) -> None:
    # Montgomery Example 9.1 (Table 9.2): mu0 = 10, sigma = 1, K = 0.5, H = 5; C+_29 = 5.28
    # is the first signal, C+_28 = 4.47, C-_3 = 1.77.
    out = _json("chart", str(spc_csv("montgomery_table9_1")), "--chart", "cusum", "--value",
                "value", "--center", "10", "--sigma", "1", "--k", "0.5", "--h", "5")  # fmt: skip
    upper, lower = out["charts"]["cusum_upper"], out["charts"]["cusum_lower"]
    _printed(upper["points"][28]["value"], "5.28")
    _printed(upper["points"][27]["value"], "4.47")
    _printed(lower["points"][2]["value"], "1.77")
    assert _flagged(upper)[0] == 29 and _flagged(lower) == []


def test_cusum_on_subgroup_means_counts_phase_one_in_subgroups(spc_csv) -> None:
    # qcc vignette, `cusum(diameter[1:25,], newdata=diameter[26:40,])`: center 74.00118 and
    # std. dev. 0.009785039 of the 25 trial subgroups, decision interval 5 and shift 1 in
    # standard errors.  The sums are those of Montgomery eq. 9.2-9.3 on the standardized
    # means (x-bar_i - 74.00118) sqrt(5) / 0.009785039: they first exceed 5 at subgroup 37.
    path = spc_csv("pistonrings_phase1_phase2")
    out = _json("chart", str(path), "--chart", "cusum", "--value", "value", "--subgroup",
                "subgroup", "--phase1", "25", "--constants", "table")  # fmt: skip
    upper = out["charts"]["cusum_upper"]
    _printed(out["target"], "74.00118")
    _printed(out["sigma"], "0.009785039")
    means = pd.read_csv(path).groupby("subgroup").value.mean().to_numpy()
    z = (means - out["target"]) * np.sqrt(5) / out["sigma"]
    c, expected = 0.0, []
    for value in z:
        c = max(0.0, c + value - 0.5)
        expected.append(c)
    assert _points(upper, "value") == pytest.approx(expected, rel=1e-9)
    assert len(upper["points"]) == 40 and _flagged(upper) == [37, 38, 39, 40]


def test_cusum_head_start_reaches_the_chart(spc_csv) -> None:
    # Lucas & Crosier (1982): with FIR both sums start at the head start (here h/2 = 2.5).
    out = _json("chart", str(spc_csv("montgomery_table9_1")), "--chart", "cusum", "--value",
                "value", "--center", "10", "--sigma", "1", "--head-start", "2.5")  # fmt: skip
    first = out["charts"]["cusum_upper"]["points"][0]["value"]
    assert first == pytest.approx(max(0.0, 2.5 + (9.45 - 10.0) - 0.5))
    assert out["settings"]["head_start"] == 2.5


# --- Constants: exact vs table ---------------------------------------------------------------


def test_exact_and_table_constants_differ_only_by_d2(spc_csv) -> None:
    # The R-bar / d2 sigma scales with 1 / d2: exact d2(5) = 2.3259289, Table VI prints 2.326.
    args = ("chart", str(spc_csv("pistonrings_phase1_phase2")), "--chart", "xbar-r",
            "--value", "value", "--subgroup", "subgroup", "--phase1", "25")  # fmt: skip
    exact, table = _json(*args), _json(*args, "--constants", "table")
    assert exact["sigma"] / table["sigma"] == pytest.approx(2.326 / 2.3259289, rel=1e-7)
    assert exact["constants"] == "exact" and table["constants"] == "table"


# --- p, np, c, u -----------------------------------------------------------------------------


def test_p_chart_reproduces_qcc_orange_juice_trial_and_revised_limits(spc_csv) -> None:
    # qcc vignette (Montgomery Example 7.1, orange-juice cans): trial samples 1-30, center
    # 0.2313333, limits 0.05242755 / 0.4102391.  Revised without samples 15 and 23 (assignable
    # causes): center 0.215 and limits 0.04070284 / 0.3892972, applied to the new samples.
    path = str(spc_csv("orangejuice"))
    trial = _json("chart", path, "--chart", "p", "--value", "value", "--size", "size",
                  "--subgroup", "sample", "--phase1", "30")["charts"]["p"]  # fmt: skip
    _printed(trial["center"], "0.2313333")
    _printed(trial["lcl"], "0.05242755")
    _printed(trial["ucl"], "0.4102391")
    revised = _json("chart", path, "--chart", "p", "--value", "value", "--size", "size",
                    "--center", "0.215")["charts"]["p"]  # fmt: skip
    _printed(revised["lcl"], "0.04070284")
    _printed(revised["ucl"], "0.3892972")
    second = _json("chart", str(spc_csv("orangejuice2")), "--chart", "p", "--value", "value",
                   "--size", "size", "--phase1", "24")["charts"]["p"]  # fmt: skip
    # qcc vignette, `orangejuice2`: center 0.1108333, limits 0 / 0.2440207.
    _printed(second["center"], "0.1108333")
    assert second["lcl"] == 0.0
    _printed(second["ucl"], "0.2440207")


def test_p_chart_with_variable_sample_sizes_reproduces_qcc(spc_csv) -> None:
    # qcc vignette, "Standardized p chart": sizes 50, 100 and 25; center 0.2148571, limits
    # 0.04060204 / 0.3891122 for n = 50 and 0 / 0.4612911 for the last sample (n = 25).
    p = _json("chart", str(spc_csv("pvarn_vignette")), "--chart", "p", "--value", "value",
              "--size", "size")["charts"]["p"]  # fmt: skip
    _printed(p["center"], "0.2148571")
    _printed(p["lcl"][0], "0.04060204")
    _printed(p["ucl"][0], "0.3891122")
    assert p["lcl"][-1] == 0.0
    _printed(p["ucl"][-1], "0.4612911")


def test_np_chart_reproduces_qcc(spc_csv) -> None:
    # qcc vignette, `qcc(D[trial], sizes=size[trial], type="np")`: center 11.56667, limits
    # 2.621377 / 20.51196.
    np_ = _json("chart", str(spc_csv("orangejuice")), "--chart", "np", "--value", "value",
                "--size", "size", "--phase1", "30")["charts"]["np"]  # fmt: skip
    _printed(np_["center"], "11.56667")
    _printed(np_["lcl"], "2.621377")
    _printed(np_["ucl"], "20.51196")


def test_c_chart_reproduces_qcc_and_montgomery_example_7_3(spc_csv) -> None:
    # qcc vignette (Montgomery Example 7.3, circuit boards): 26 trial samples, center
    # 19.84615, limits 6.481447 / 33.21086; samples 6 and 20 lie outside (Example 7.3).
    c = _json("chart", str(spc_csv("circuit")), "--chart", "c", "--value", "value",
              "--subgroup", "sample", "--phase1", "26")["charts"]["c"]  # fmt: skip
    _printed(c["center"], "19.84615")
    _printed(c["lcl"], "6.481447")
    _printed(c["ucl"], "33.21086")
    assert [i for i in _flagged(c) if i <= 26] == [6, 20]


def test_u_chart_with_variable_inspection_units_reproduces_montgomery(spc_csv) -> None:
    # Montgomery §7.3.2 (dyed cloth, 10 rolls, inspection unit 50 m2): u-bar = 1.42 and
    # per-roll UCL 2.55, 2.68, 2.41, ... (computed from u-bar = 1.42); no roll signals.
    out = _json("chart", str(spc_csv("dyedcloth")), "--chart", "u", "--value", "value",
                "--size", "size", "--center", "1.42")  # fmt: skip
    u = out["charts"]["u"]
    for ucl, printed in zip(u["ucl"][:3], ("2.55", "2.68", "2.41"), strict=True):
        _printed(ucl, printed)
    assert _flagged(u) == []
    estimated = _json("chart", str(spc_csv("dyedcloth")), "--chart", "u", "--value", "value",
                      "--size", "size")["charts"]["u"]  # fmt: skip
    _printed(estimated["center"], "1.42")


def test_u_chart_reproduces_qcc_pc_manufacturing(spc_csv) -> None:
    # qcc vignette, `qcc(x, sizes=size, type="u")` (pcmanufact): center 1.93, limits
    # 0.06613305 / 3.793867.
    u = _json("chart", str(spc_csv("pcmanufact")), "--chart", "u", "--value", "value",
              "--size", "size")["charts"]["u"]  # fmt: skip
    _printed(u["center"], "1.93")
    _printed(u["lcl"], "0.06613305")
    _printed(u["ucl"], "3.793867")


# --- Capability ------------------------------------------------------------------------------


def _capability(spc_csv, *args: str) -> dict:
    return _json("capability", str(spc_csv("pistonrings_phase1")), "--value", "value",
                 "--subgroup", "subgroup", "--constants", "table", *args)  # fmt: skip


def test_capability_indices_reproduce_qcc_process_capability(spc_csv) -> None:
    # qcc vignette, `process.capability(q1, spec.limits=c(73.95,74.05), target=74.02)` on the
    # 25 trial subgroups (StdDev 0.009785): Cp 1.7033 [1.4914, 1.9148], Cp_l 1.7433, Cp_u
    # 1.6632, Cp_k 1.6632 [1.4481, 1.8783], Cpm 0.7856 (within sigma).
    out = _capability(spc_csv, "--lsl", "73.95", "--usl", "74.05", "--target", "74.02")
    for key, printed in (("cp", "1.7033"), ("cpl", "1.7433"), ("cpu", "1.6632"),
                         ("cpk", "1.6632"), ("cpm", "0.7856")):  # fmt: skip
        _printed(out[key], printed)
    for key, (low, high) in (("cp", ("1.4914", "1.9148")), ("cpk", ("1.4481", "1.8783"))):
        _printed(out["ci"][key][0], low)
        _printed(out["ci"][key][1], high)
    _printed(out["sigma_within"], "0.009785")
    assert out["index_sigma"]["cpm"] == "within" and out["index_sigma"]["ppm"] == "overall"


def test_one_sided_index_intervals_match_qcc_at_its_one_sided_level(spc_csv) -> None:
    # qcc prints Cp_l and Cp_u bounds with z(0.95) at confidence 0.95 (each a one-sided 95 %
    # bound): Cp_l [1.5548, 1.9319], Cp_u [1.4827, 1.8437].  Bissell's two-sided interval at
    # 90 % uses that same z.
    out = _capability(spc_csv, "--lsl", "73.95", "--usl", "74.05", "--target", "74.02",
                      "--confidence", "0.90")  # fmt: skip
    for key, (low, high) in (("cpl", ("1.5548", "1.9319")), ("cpu", ("1.4827", "1.8437"))):
        _printed(out["ci"][key][0], low)
        _printed(out["ci"][key][1], high)


def test_cpm_on_within_sigma_and_ppm_on_overall_sigma(spc_csv) -> None:
    # Cpm with the within sigma is qcc's (1.691 for target 74, qcc vignette); with the overall
    # sample standard deviation it is Ppm (Minitab's Cpm of its overall block), by definition
    # (USL - LSL) / (6 sqrt(s^2 + (mean - T)^2)).
    out = _capability(spc_csv, "--lsl", "73.95", "--usl", "74.05")
    _printed(out["cpm"], "1.691")
    values = pd.read_csv(spc_csv("pistonrings_phase1")).value
    s, mean = values.std(ddof=1), values.mean()
    assert out["ppm"] == pytest.approx(0.1 / (6 * np.sqrt(s**2 + (mean - 74.0) ** 2)), rel=1e-12)
    assert out["sigma_overall"] == pytest.approx(s, rel=1e-12)


def test_cpm_interval_is_boyles(spc_csv) -> None:
    # Boyles (1991): Cpm-hat sqrt(chi2(a/2, nu) / nu), nu = n (1 + xi^2)^2 / (1 + 2 xi^2),
    # xi = (mean - T) / sigma.  (qcc's printed interval, [0.6556, 0.9154] here, leaves out
    # the square of (1 + xi^2); this follows Boyles.)
    out = _capability(spc_csv, "--lsl", "73.95", "--usl", "74.05", "--target", "74.02")
    xi = (out["mean"] - 74.02) / out["sigma_within"]
    nu = 125 * (1 + xi**2) ** 2 / (1 + 2 * xi**2)
    low, high = (out["cpm"] * np.sqrt(stats.chi2.ppf(q, nu) / nu) for q in (0.025, 0.975))
    assert out["ci"]["cpm"] == pytest.approx([low, high], rel=1e-12)


def test_expected_and_observed_nonconforming_reproduce_qcc(spc_csv) -> None:
    # qcc vignette, spec 73.99 / 74.01: "Exp<LSL 0.13%, Exp>USL 0.18%, Obs<LSL 0.12%,
    # Obs>USL 0.16%".  qcc divides its percentages by 100 before printing them with "%", so
    # these are fractions: 13 % and 18 % expected from the within sigma, 15 and 20 of the 125
    # rings observed (12 % and 16 %).
    out = _capability(spc_csv, "--lsl", "73.99", "--usl", "74.01")
    ppm = out["nonconforming_ppm"]
    _printed(ppm["within_below_lsl"] / 1e6, "0.13")
    _printed(ppm["within_above_usl"] / 1e6, "0.18")
    _printed(ppm["observed_total"] / 1e6, "0.28")


# --- Hotelling T-squared ---------------------------------------------------------------------


def test_t2_subgroups_phase_one_reproduces_qcc_mqcc(spc_csv) -> None:
    # qcc vignette, `mqcc(X, type="T2")` (Ryan 2000, Table 9.2: 20 subgroups of 4, p = 2):
    # UCL 11.03976 at qcc's confidence 0.9973^p, i.e. alpha = 1 - 0.9973^2 = 0.00539271;
    # statistics from 0.12429 to 63.76042, mean 6.47013.
    out = _json("chart", str(spc_csv("RyanMultivar")), "--chart", "t2", "--value", "X1",
                "--value", "X2", "--subgroup", "sample", "--alpha", "0.00539271")  # fmt: skip
    t2 = out["charts"]["t2"]
    _printed(t2["ucl"], "11.03976")
    values = _points(t2, "value")
    _printed(min(values), "0.12429")
    _printed(max(values), "63.76042")
    _printed(float(np.mean(values)), "6.47013")
    assert out["settings"]["alpha"] == 0.00539271


def test_t2_individuals_phase_one_and_two_reproduce_qcc_mqcc(spc_csv, tmp_path: Path) -> None:
    # qcc vignette, `mqcc(boiler, type="T2.single", confidence.level=0.999)` (Mason & Young,
    # 25 observations of 8 temperatures): control limit 17.41705 and prediction (phase II)
    # limit 70.02943; statistics from 1.316342 to 17.575293.  The phase II limit depends only
    # on m, p and alpha, so new observations are taken from boiler_split20's phase II rows.
    boiler = pd.read_csv(spc_csv("boiler"))
    new = pd.read_csv(spc_csv("boiler_split20")).query("phase == 'II'")
    path = tmp_path / "boiler_then_new.csv"
    pd.concat([boiler, new.assign(sample=new["sample"] + 25)]).to_csv(path, index=False)
    columns = [arg for c in ("t1", "t2", "t3", "t4", "t5", "t6", "t7", "t8")
               for arg in ("--value", c)]  # fmt: skip
    out = _json("chart", str(path), "--chart", "t2", *columns, "--phase1", "25",
                "--alpha", "0.001")  # fmt: skip
    t2 = out["charts"]["t2"]
    _printed(t2["ucl"][0], "17.41705")
    _printed(t2["ucl"][25], "70.02943")
    phase_one = _points(t2, "value")[:25]
    _printed(min(phase_one), "1.316342")
    _printed(max(phase_one), "17.575293")


@pytest.mark.parametrize("chart", ["xbar-r", "ewma", "cusum"])
def test_exact_and_table_constants_give_the_same_signals(spc_csv, chart: str) -> None:
    # The constants move the limits by ~3e-5 relative; on the piston rings no point is that
    # close to a limit, so both sets flag the same subgroups.
    args = ("chart", str(spc_csv("pistonrings_phase1_phase2")), "--chart", chart,
            "--value", "value", "--subgroup", "subgroup", "--phase1", "25")  # fmt: skip
    exact, table = _json(*args), _json(*args, "--constants", "table")
    for name, chart_out in exact["charts"].items():
        flagged = [p["violations"] for p in chart_out["points"]]
        assert flagged == [p["violations"] for p in table["charts"][name]["points"]]
