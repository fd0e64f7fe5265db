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


def test_control_bench_prints_the_issue_keys_and_closed_beats_open() -> None:
    result = CliRunner().invoke(
        app, ["bench", "control", "--hours", "0.2", "--start-up-s", "300", "--json"]
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert set(report) == KEYS
    assert report["md_2sigma_closed_um"] < report["md_2sigma_open_um"]
    assert report["cd_2sigma_closed_um"] < report["cd_2sigma_open_um"]
    # 9 MD model errors (gain x dead time) and 4 CD ones (gain, misalignment)
    assert len(report["robust"]) == 13
    assert all(set(case) >= CASE_KEYS for case in report["robust"])
