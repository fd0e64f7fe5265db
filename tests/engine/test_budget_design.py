"""`plantqc limits design`: a line's false-alarm budget shared among its charts, and designs
that keep each chart within its share (`plantqc.charting.budget`)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import typer
import yaml
from scipy import special
from scipy.signal import lfilter
from typer.testing import CliRunner

from plantqc.charting.budget import (
    EXCEPTION_INTERVAL_S,
    ChartBudget,
    Series,
    design_line,
    learnt_sigma_law,
)
from plantqc.cli.app import _RootGroup
from plantqc.cli.limits_design_cmd import design
from plantqc.config import PlantConfig
from spc.arl import sigma_estimate_dof


def _config(tags: list[dict], budget: float = 1.0, images: list[dict] | None = None) -> dict:
    return {
        "plant": {"site": "s", "area": "a"},
        "lines": [
            {
                "name": "l1",
                "kind": "casting",
                "opcua": {"endpoint": "opc.tcp://127.0.0.1:4840/"},
                "alarming": {"budget_per_hour": budget},
                "tags": [{"node_id": f"ns=2;s={t['name']}", **t} for t in tags],
            }
        ],
        "images": images or [],
    }


def _plant(tags: list[dict], **kwargs: object) -> PlantConfig:
    return PlantConfig.model_validate(_config(tags, **kwargs))  # type: ignore[arg-type]


FAST = {"name": "gap_um", "spc": {"chart": "imr"}}  # 1 sample a second


def test_the_budget_is_shared_equally_among_the_charts_that_can_alarm() -> None:
    tags = [FAST, {"name": "b", "spc": {"chart": "ewma"}}, {"name": "c", "spc": {"chart": "cusum"}}]
    budget = design_line(_plant(tags, budget=0.6), "l1")
    assert [c.share_per_hour for c in budget.charts] == pytest.approx([0.2, 0.2, 0.2])


def test_a_chart_whose_rules_only_alert_takes_no_share() -> None:
    quiet = {"name": "q", "spc": {"chart": "imr", "alarms": ["spec"]}}
    budget = design_line(_plant([FAST, quiet]), "l1")
    assert budget.quiet == ("q",)
    assert [c.tag for c in budget.charts] == ["gap_um"]
    assert budget.charts[0].share_per_hour == 1.0


def test_three_sigma_limits_on_a_one_second_tag_miss_the_budget() -> None:
    chart = design_line(_plant([FAST]), "l1").charts[0]
    # 3600 points/h over ARL0 370.4 (Montgomery §6.2.6) is 9.7 alarms/h with known limits;
    # limits learnt by phase I from 100 points (sigma about 4 % low, 37 degrees of freedom)
    # raise about 2.5 times as many on average
    assert 2.2 * 9.72 < chart.current.alarms_per_hour < 2.8 * 9.72
    assert not chart.meets


def test_the_proposed_limit_sigma_just_meets_the_share() -> None:
    chart = design_line(_plant([FAST]), "l1").charts[0]
    assert 0.95 * chart.share_per_hour < chart.proposed.alarms_per_hour <= chart.share_per_hour


def _imr_width(chart: ChartBudget) -> float:
    """The I-MR width L that an EWMA proposal's note compares it with."""
    note = next(n for n in chart.notes if n.startswith("an EWMA (lambda 0.1"))
    return float(note.split(" where I-MR at L ")[1].split()[0])


def test_a_fast_chart_learns_its_limits_from_a_longer_baseline() -> None:
    chart = design_line(_plant([FAST]), "l1").charts[0]
    assert chart.settings.baseline_points == 1000
    # with known limits L = 3.64 gives 1 alarm/h at 3600 points/h; learnt from 1000 points
    # (sigma about 5 % low) wider
    assert 3.75 < _imr_width(chart) < 3.95


def test_phase_one_learns_a_sigma_about_five_percent_low() -> None:
    # the revision drops the points beyond the trial limits, the largest deviations and
    # moving ranges, and re-estimates
    dof, bias = learnt_sigma_law("imr", 1000)
    assert 0.93 < bias < 0.97
    assert dof < sigma_estimate_dof(1000)


def test_run_rules_listed_as_alarms_are_simulated_and_dropped_when_they_miss() -> None:
    tag = {"name": "t", "spc": {"alarms": ["nelson1", "nelson2"]}}
    chart = design_line(_plant([tag]), "l1").charts[0]
    assert chart.current.method.startswith("simulation")
    assert chart.settings.alarms == ("nelson1",)


def test_a_tag_sampled_by_exception_is_designed_on_a_stated_rate() -> None:
    tag = {"name": "x", "sampling_interval_ms": 0, "spc": {"chart": "imr"}}
    chart = design_line(_plant([tag]), "l1").charts[0]
    assert chart.current.points_per_hour == pytest.approx(3600 / EXCEPTION_INTERVAL_S)
    assert any("by exception" in note for note in chart.notes)


def test_an_image_metric_is_designed_on_an_assumed_image_rate() -> None:
    images = [
        {
            "name": "cam",
            "kind": "defects",
            "line": "l1",
            "folder": "img",
            "pixel_size_um": 20,
            "metrics": {"defects_per_m2": {"spc": {"chart": "imr"}}},
        }
    ]
    chart = design_line(_plant([FAST], images=images), "l1").charts[1]
    assert chart.tag == "cam.defects_per_m2"
    assert any("image metric: assumed" in note for note in chart.notes)


def _wander(hours: float = 4.0, tau_s: float = 300.0, seed: int = 1) -> Series:
    """1 Hz samples: an AR(1) wander of time constant ``tau_s`` with 80 % of the variance."""
    rng = np.random.default_rng(seed)
    n = int(hours * 3600)
    phi = np.exp(-1.0 / tau_s)
    wander = lfilter([1.0], [1.0, -phi], rng.standard_normal(n) * np.sqrt(0.8 * (1 - phi**2)))
    return Series(np.arange(n, dtype=float), 50.0 + wander + 0.45 * rng.standard_normal(n))


def test_autocorrelated_data_get_batch_means_over_a_time_window() -> None:
    chart = design_line(_plant([FAST]), "l1", {"gap_um": _wander()}).charts[0]
    # MR-bar sees the fast noise only: the limits sit at about half their width
    assert chart.current.alarms_per_hour > 100
    assert chart.settings.subgroup_by == "time"
    assert chart.settings.subgroup_window_s is not None and chart.settings.subgroup_window_s > 600
    assert chart.proposed.alarms_per_hour <= chart.share_per_hour


def test_independent_data_are_not_batched() -> None:
    rng = np.random.default_rng(3)
    data = Series(np.arange(7200, dtype=float), rng.standard_normal(7200))
    chart = design_line(_plant([FAST]), "l1", {"gap_um": data}).charts[0]
    assert chart.settings.subgroup_by == "count"
    assert chart.proposed.alarms_per_hour <= chart.share_per_hour * (1 + 1e-6)


# --- the command -------------------------------------------------------------------------------


def _app() -> typer.Typer:
    app = typer.Typer(cls=_RootGroup, pretty_exceptions_enable=False)
    app.callback()(lambda: None)
    app.command("design")(design)
    return app


def _write(tmp_path: Path, tags: list[dict]) -> Path:
    path = tmp_path / "plant.yaml"
    path.write_text(yaml.safe_dump(_config(tags)))
    return path


def test_check_fails_with_one_sentence_per_chart_that_misses_its_share(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        _app(), ["design", "--config", str(_write(tmp_path, [FAST])), "--check"]
    )
    assert result.exit_code == 1
    assert (
        "l1/gap_um (imr) raises 24.8 alarm(s)/h in control, more than its share of 1."
        in result.output
    )


def test_check_passes_once_the_proposal_is_applied(tmp_path: Path) -> None:
    config = _write(tmp_path, [FAST])
    output = CliRunner().invoke(_app(), ["design", "--config", str(config)]).output
    snippet = yaml.safe_load(output[output.index("tags:") :])
    tuned = _write(tmp_path, [{**FAST, "spc": snippet["tags"][0]["spc"]}])
    assert CliRunner().invoke(_app(), ["design", "--config", str(tuned), "--check"]).exit_code == 0


def test_design_prints_both_designs_and_a_yaml_snippet(tmp_path: Path) -> None:
    result = CliRunner().invoke(_app(), ["design", "--config", str(_write(tmp_path, [FAST]))])
    assert result.exit_code == 0
    assert "proposed" in result.output and "current" in result.output
    snippet = yaml.safe_load(result.output[result.output.index("tags:") :])
    assert snippet["tags"][0]["name"] == "gap_um"
    assert set(snippet["tags"][0]["spc"]) == {"chart", "ewma", "baseline_points"}


def test_a_missing_history_file_is_one_sentence(tmp_path: Path) -> None:
    config = _write(tmp_path, [FAST])
    result = CliRunner().invoke(
        _app(), ["design", "--config", str(config), "--from-file", str(tmp_path / "no.csv")]
    )
    assert result.exit_code == 2
    assert "is not a file" in result.output
    assert "Traceback" not in result.output


def test_design_reads_an_in_control_history_from_the_store(tmp_path: Path) -> None:
    from plantqc.cli.app import app as plantqc_app

    config = str(Path(__file__).resolve().parents[2] / "examples" / "calendering.yaml")
    history, db = tmp_path / "h.parquet", f"sqlite:///{tmp_path / 'h.db'}"
    start = "2026-12-01T00:00:00+00:00"
    runner = CliRunner(env={"PLANTQC_OPCUA_USER": "u", "PLANTQC_OPCUA_PASSWORD": "p"})
    recorded = runner.invoke(
        plantqc_app,
        ["sim", "record", "--config", config, "--hours", "1", "--seed", "4", "--start", start,
         "--out", str(history)],
    )  # fmt: skip
    assert recorded.exit_code == 0, recorded.output
    replayed = runner.invoke(
        plantqc_app, ["replay", str(history), "--config", config, "--db", db, "--speed", "max"]
    )
    assert replayed.exit_code == 0, replayed.output
    result = runner.invoke(
        _app(),
        ["design", "--config", config, "--db", db, "--from", start,
         "--to", "2026-12-01T01:00:00+00:00", "--json"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    charts = json.loads(result.output)["lines"][0]["charts"]
    gap = next(c for c in charts if c["tag"] == "roll_gap_um")
    assert gap["notes"][0].startswith("from data: 36")  # 3600 samples in the hour


def test_an_unreadable_store_is_one_sentence(tmp_path: Path) -> None:
    config = _write(tmp_path, [FAST])
    result = CliRunner().invoke(
        _app(),
        ["design", "--config", str(config), "--db", f"sqlite:///{tmp_path / 'empty.db'}",
         "--from", "2026-12-01T00:00:00Z", "--to", "2026-12-01T01:00:00Z"],
    )  # fmt: skip
    assert result.exit_code == 2
    assert "cannot read the samples of l1 from --db" in result.output


def test_a_tag_that_breaches_its_spec_in_control_is_named() -> None:
    # values N(0, 1) against a spec of +-3: 0.27 % of 3600 samples an hour, 9.7 breaches/h
    rng = np.random.default_rng(5)
    data = Series(np.arange(7200, dtype=float), rng.standard_normal(7200))
    tag = {**FAST, "spec": {"lsl": -3, "usl": 3}}
    chart = design_line(_plant([tag]), "l1", {"gap_um": data}).charts[0]
    note = next(n for n in chart.notes if n.startswith("spec breaches expected at "))
    assert 8.0 < float(note.split()[4].removesuffix("/h")) < 12.0


def test_a_slow_individuals_chart_is_proposed_an_ewma_that_detects_sooner() -> None:
    # 3600 points/h at 1 alarm/h: 3.86-sigma individuals limits take about 470 points to
    # see a 1-sigma shift (1 / (Phi(-4.86) + 1 - Phi(2.86))), an EWMA of lambda 0.1 within
    # the same share under 20 (Montgomery §9.2): the EWMA is proposed
    chart = design_line(_plant([FAST]), "l1").charts[0]
    assert _imr_width(chart) == pytest.approx(3.86)
    note = next(n for n in chart.notes if n.startswith("an EWMA (lambda 0.1"))
    slow = float(note.split(" takes ")[1].split()[0])
    assert slow == pytest.approx(1 / (special.ndtr(-4.86) + special.ndtr(-2.86)), rel=1e-3)
    assert chart.proposed.chart == "ewma" and chart.settings.chart == "ewma"
    assert chart.proposed.arl1 < 20
    assert chart.proposed.alarms_per_hour <= chart.share_per_hour * (1 + 1e-6)
