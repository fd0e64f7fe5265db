"""Smoke test of `plantqc bench control` at a tiny size: the report's keys and that closing
the loops beats leaving them open, not the figures of the full run."""

import json

from typer.testing import CliRunner

from plantqc.cli import app

KEYS = {
    "md_2sigma_open_um",
    "md_2sigma_closed_um",
    "md_reduction",
    "harris_index",
    "cd_2sigma_open_um",
    "cd_2sigma_closed_um",
    "cd_reduction",
    "cd_controllable_reduction",
    "cd_solve_ms_p99",
    "robust",
}
CASE_KEYS = {"gain_factor", "deadtime_factor", "md_reduction", "cd_reduction", "stable"}


def bench(*args: str) -> dict:
    result = CliRunner().invoke(app, ["bench", "control", "--start-up-s", "300", *args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_control_bench_prints_the_issue_keys_and_closed_beats_open() -> None:
    report = bench("--hours", "0.5", "--no-robust")
    assert set(report) == KEYS
    assert report["md_2sigma_closed_um"] < 0.8 * report["md_2sigma_open_um"]
    assert report["cd_2sigma_closed_um"] < 0.8 * report["cd_2sigma_open_um"]


def test_control_bench_repeats_the_closed_run_with_each_model_error() -> None:
    cases = bench("--hours", "0.05")["robust"]
    # 9 MD model errors (gain x dead time) and 4 CD ones (gain, misalignment)
    assert len(cases) == 13
    assert all(set(case) >= CASE_KEYS for case in cases)
    md_errors = {(c["gain_factor"], c["deadtime_factor"]) for c in cases}
    assert md_errors == {(g, d) for g in (0.5, 1.0, 2.0) for d in (0.7, 1.0, 1.3)}
