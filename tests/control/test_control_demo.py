"""`plantqc demo --control closed`, at a tiny size: the same seeded physical line run with the
MD loop off, then closed, and both thickness 2-sigmas reported (the figures themselves at the
demo's 90 s are in the README)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from plantqc.cli import app


@pytest.mark.slow  # two demo runs, each with its simulator, daemon and engine process
def test_demo_with_the_md_loop_closed_reports_both_thickness_two_sigmas(tmp_path: Path) -> None:
    args = ["demo", "--seconds", "6", "--control", "closed", "--out", str(tmp_path), "--json"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    control = json.loads(result.output[result.output.index("{") :])["control"]
    assert control["md_2sigma_open_um"] > 0 and control["md_2sigma_closed_um"] > 0
    assert control["moves"] >= 1  # pump moves written through OPC UA by the daemon's runtime
    assert control["open_database"].endswith("open/plantqc.db")


def test_a_control_mode_the_demo_does_not_have_is_one_sentence() -> None:
    result = CliRunner().invoke(app, ["demo", "--control", "advisory"])
    assert result.exit_code != 0
    assert "--control 'advisory' is not one of off, closed." in result.output
    assert "Traceback" not in result.output
