"""The example lines keep to their false-alarm budget: `plantqc limits design --check` passes
on an in-control history recorded from the simulator (as the examples were tuned)."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from plantqc.cli.app import _RootGroup
from plantqc.cli.app import app as plantqc_app
from plantqc.cli.limits_design_cmd import design

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def _design_app() -> typer.Typer:
    app = typer.Typer(cls=_RootGroup, pretty_exceptions_enable=False)
    app.callback()(lambda: None)
    app.command("design")(design)
    return app


@pytest.mark.parametrize("name", ["casting", "electrospinning", "calendering"])
def test_example_meets_its_budget_on_a_recorded_in_control_history(
    name: str, tmp_path: Path
) -> None:
    config = str(EXAMPLES / f"{name}.yaml")
    history = tmp_path / "history.parquet"
    recorded = CliRunner().invoke(
        plantqc_app,
        ["sim", "record", "--config", config, "--hours", "4", "--seed", "3", "--out", str(history)],
    )
    assert recorded.exit_code == 0, recorded.output
    checked = CliRunner().invoke(
        _design_app(), ["design", "--config", config, "--from-file", str(history), "--check"]
    )
    assert checked.exit_code == 0, checked.output
