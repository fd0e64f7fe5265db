"""`plantqc spc chart|capability`: the JSON contract and one clear sentence for bad input."""

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from plantqc.cli import app

runner = CliRunner()


def _run(*args: str):
    return runner.invoke(app, ["spc", *args])


def _json(*args: str) -> dict:
    result = _run(*args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_c_chart_json_follows_the_contract(spc_csv) -> None:
    # Montgomery Example 7.3 limits from the first 26 samples (phase I) applied to all 46.
    out = _json("chart", str(spc_csv("circuit")), "--chart", "c", "--value", "value",
                "--subgroup", "sample", "--phase1", "26")  # fmt: skip
    assert out["chart"] == "c"
    chart = out["charts"]["c"]
    assert (round(chart["center"], 2), round(chart["lcl"], 2)) == (19.85, 6.48)
    assert len(chart["points"]) == 46
    point = chart["points"][5]
    assert point["index"] == 6 and point["subgroup"] == 6
    assert "nelson1" in point["violations"]
    assert set(point) == {"index", "subgroup", "value", "ucl", "lcl", "violations"}


def test_xbar_r_long_form_reports_sigma_and_both_charts(spc_csv) -> None:
    out = _json("chart", str(spc_csv("pistonrings_phase1_phase2")), "--chart", "xbar-r",
                "--value", "value", "--subgroup", "subgroup", "--phase1", "25")  # fmt: skip
    assert out["sigma_method"] == "rbar/d2"
    assert round(out["sigma"], 6) == 0.009785
    assert set(out["charts"]) == {"xbar", "r"}
    flagged = [p["index"] for p in out["charts"]["xbar"]["points"] if "nelson1" in p["violations"]]
    assert flagged == [37, 38, 39]


def test_u_chart_gives_a_limit_per_point(spc_csv) -> None:
    out = _json("chart", str(spc_csv("dyedcloth")), "--chart", "u", "--value", "value",
                "--size", "size")  # fmt: skip
    assert isinstance(out["charts"]["u"]["ucl"], list)
    assert len(out["charts"]["u"]["ucl"]) == 10


def test_cusum_and_ewma_options_reach_the_charts(spc_csv) -> None:
    path = str(spc_csv("montgomery_table9_1"))
    cus = _json("chart", path, "--chart", "cusum", "--value", "value", "--k", "0.5", "--h", "5")
    assert set(cus["charts"]) == {"cusum_upper", "cusum_lower"}
    assert cus["charts"]["cusum_upper"]["ucl"] == 5.0
    ewm = _json("chart", path, "--chart", "ewma", "--value", "value", "--lambda", "0.1",
                "--L", "2.7")  # fmt: skip
    assert ewm["lambda"] == 0.1 and ewm["L"] == 2.7


def test_t2_takes_several_value_columns(spc_csv) -> None:
    out = _json("chart", str(spc_csv("boiler")), "--chart", "t2", "--value", "t1",
                "--value", "t2", "--value", "t3", "--rules", "none")  # fmt: skip
    assert len(out["charts"]["t2"]["points"]) == 25


def test_wide_form_xbar_uses_one_column_per_observation(tmp_path: Path) -> None:
    path = tmp_path / "wide.csv"
    path.write_text("lot,a,b,c\n1,1.0,2.0,3.0\n2,2.0,2.5,3.5\n3,1.5,2.0,2.2\n")
    out = _json("chart", str(path), "--chart", "xbar-s", "--value", "a", "--value", "b",
                "--value", "c", "--subgroup", "lot")  # fmt: skip
    assert [p["value"] for p in out["charts"]["xbar"]["points"]] == pytest.approx(
        [2.0, 8.0 / 3.0, 5.7 / 3.0]
    )


def test_capability_json_follows_the_contract(spc_csv) -> None:
    out = _json("capability", str(spc_csv("pistonrings_phase1")), "--value", "value",
                "--subgroup", "subgroup", "--lsl", "73.95", "--usl", "74.05")  # fmt: skip
    for key in ("n", "mean", "sigma_within", "sigma_overall", "cp", "cpk", "cpl", "cpu", "pp",
                "ppk", "cpm", "ppm", "ci", "confidence", "normality", "nonconforming_ppm",
                "index_sigma", "settings"):  # fmt: skip
        assert key in out
    assert out["n"] == 125
    assert len(out["ci"]["cp"]) == 2 and len(out["ci"]["cpk"]) == 2
    assert set(out["normality"]) >= {"test", "p_value"}


def test_plot_writes_a_png(spc_csv, tmp_path: Path) -> None:
    target = tmp_path / "chart.png"
    result = _run("chart", str(spc_csv("viscosity")), "--chart", "imr", "--value", "value",
                  "--plot", str(target))  # fmt: skip
    assert result.exit_code == 0, result.output
    assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "sigma" in result.stdout


def _error(result) -> str:
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    return result.output


def test_missing_column_is_one_sentence(spc_csv) -> None:
    result = _run("chart", str(spc_csv("circuit")), "--chart", "c", "--value", "defects")
    assert "Column 'defects' is not in circuit.csv" in _error(result)


def test_non_numeric_value_names_the_row(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("x\n1.0\n2.0\noops\n4.0\n")
    result = _run("chart", str(path), "--chart", "imr", "--value", "x")
    assert "non-numeric value 'oops' in row 4" in _error(result)


def test_fewer_than_two_subgroups_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "one.csv"
    path.write_text("g,x\n1,1.0\n1,2.0\n1,3.0\n")
    result = _run("chart", str(path), "--chart", "xbar-r", "--value", "x", "--subgroup", "g")
    assert "At least 2 subgroups are needed, got 1" in _error(result)


def test_subgroup_of_one_is_rejected_for_xbar_r(tmp_path: Path) -> None:
    path = tmp_path / "single.csv"
    path.write_text("g,x\n1,1.0\n1,2.0\n2,3.0\n")
    result = _run("chart", str(path), "--chart", "xbar-r", "--value", "x", "--subgroup", "g")
    assert "Subgroup 2 has 1 observation(s)" in _error(result)


def test_negative_count_for_p_chart_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    path.write_text("d,n\n3,50\n-2,50\n4,50\n")
    result = _run("chart", str(path), "--chart", "p", "--value", "d", "--size", "n")
    assert "Counts cannot be negative; sample 2 has -2" in _error(result)


def test_count_larger_than_sample_for_p_chart_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    path.write_text("d,n\n3,50\n60,50\n4,50\n")
    result = _run("chart", str(path), "--chart", "p", "--value", "d", "--size", "n")
    assert "a count cannot exceed the sample size" in _error(result)


def test_lsl_not_below_usl_is_rejected(spc_csv) -> None:
    result = _run("capability", str(spc_csv("viscosity")), "--value", "value", "--lsl", "40",
                  "--usl", "30")  # fmt: skip
    assert "--lsl (40) must be below --usl (30)" in _error(result)


def test_nan_rows_are_dropped_and_counted(tmp_path: Path) -> None:
    path = tmp_path / "gaps.csv"
    path.write_text("t,x\n1,1.0\n2,\n3,2.0\n4,NaN\n5,3.0\n6,2.5\n")
    result = _run("chart", str(path), "--chart", "imr", "--value", "x", "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["dropped_rows"] == 2
    assert [p["value"] for p in out["charts"]["i"]["points"]] == [1.0, 2.0, 3.0, 2.5]
    assert "dropped" in result.stderr


def test_rules_take_a_comma_separated_list_of_codes(spc_csv) -> None:
    out = _json("chart", str(spc_csv("synthetic_rules")), "--chart", "imr", "--value", "value",
                "--center", "0", "--sigma", "1", "--rules", "nelson1,we2")  # fmt: skip
    assert out["settings"]["rules"] == ["nelson1", "we2"]
    codes = {c for p in out["charts"]["i"]["points"] for c in p["violations"]}
    assert codes == {"nelson1", "we2"}


def test_alpha_sets_probability_limits(spc_csv) -> None:
    # Probability limits: L = z(1 - alpha / 2); alpha = 0.0027 is the 3-sigma false-alarm rate.
    out = _json("chart", str(spc_csv("viscosity")), "--chart", "imr", "--value", "value",
                "--center", "0", "--sigma", "1", "--alpha", "0.0027")  # fmt: skip
    assert out["charts"]["i"]["ucl"] == pytest.approx(3.0, abs=1e-3)
    assert out["settings"]["alpha"] == 0.0027


def test_attribute_subgroup_adds_the_counts_and_sizes_of_its_rows(tmp_path: Path) -> None:
    path = tmp_path / "lots.csv"
    path.write_text("lot,d,n\n1,2,50\n1,3,50\n2,1,40\n3,4,60\n")
    out = _json("chart", str(path), "--chart", "p", "--value", "d", "--size", "n",
                "--subgroup", "lot")  # fmt: skip
    assert [p["value"] for p in out["charts"]["p"]["points"]] == pytest.approx(
        [5 / 100, 1 / 40, 4 / 60]
    )


def test_imr_refuses_subgroups_of_several_observations(spc_csv) -> None:
    result = _run("chart", str(spc_csv("pistonrings_phase1")), "--chart", "imr", "--value",
                  "value", "--subgroup", "subgroup")  # fmt: skip
    assert "use --chart xbar-r, xbar-s, ewma or cusum for subgroups" in _error(result)


def test_head_start_outside_cusum_is_one_sentence(spc_csv) -> None:
    result = _run("chart", str(spc_csv("viscosity")), "--chart", "ewma", "--value", "value",
                  "--head-start", "2")  # fmt: skip
    assert "--head-start is the fast initial response of the CUSUM chart only" in _error(result)


def test_table_constants_beyond_the_table_are_one_sentence(tmp_path: Path) -> None:
    path = tmp_path / "big.csv"
    path.write_text("g,x\n" + "".join(f"{i // 30},{i % 7}\n" for i in range(60)))
    result = _run("chart", str(path), "--chart", "xbar-r", "--value", "x", "--subgroup", "g",
                  "--constants", "table")  # fmt: skip
    assert "sizes 2 to 25 only, not 30" in _error(result)
