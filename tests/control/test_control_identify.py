"""Bump-test identification against the simulator's exact truth.

Truth: the MD gain of a pre-metered die is ``phi / (W U)`` (um per mL/min), the transport dead
time ``L / U``, and the CD response the `response_matrix` the line was built with.  The
identified dead time also holds the pump's own response (one 1 s model step and a slew ramp
of ``40 / 10 = 4`` s, mean 2 s), so it is allowed 5 s over ``L / U``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from plantqc.cli import app
from plantqc.control.identify import identify_cd, identify_md
from plantqc.control.settings import load_control
from plantqc.sim.casting_line import CastingLine, CastingLineConfig, solids_volume_fraction

SAMPLE = Path(__file__).parents[2] / "plantqc" / "control" / "samples" / "control.yaml"
QUIET = {"md_disturbances": False, "cd_disturbances": False, "gauge_noise": False}
PUMP_STEPS = {600: 440.0, 1500: 380.0, 2400: 400.0}  # s -> mL/min
BOLT_STATES = {300: {5: 4.0, 17: -3.0}, 900: {11: 4.0}, 1500: {}}  # s -> zone: %


def bump_test(cfg: CastingLineConfig, seconds: float, *, seed: int = 4, **switches) -> pd.DataFrame:
    """Run the bump plan on the simulated line and record what a historian would."""
    line = CastingLine(cfg, seed=seed, **switches)
    rows = []
    for _ in range(round(seconds / cfg.scan_s)):
        (scan,) = line.advance(cfg.scan_s)
        at = round(scan.t_s)
        if at in PUMP_STEPS:
            line.set_flow(PUMP_STEPS[at])
        if at in BOLT_STATES:
            u = np.zeros(cfg.n_zones)
            for zone, pct in BOLT_STATES[at].items():
                u[zone] = pct
            line.set_cd(u)
        row = {"time_s": scan.t_s, "speed_m_min": line.speed, "flow_ml_min": line.flow_setpoint,
               "md_mean_um": scan.md_mean_um}  # fmt: skip
        row |= {f"cd_{j}": v for j, v in enumerate(line.cd_setpoint)}
        row |= {f"bin_{i}": v for i, v in enumerate(scan.profile_um)}
        rows.append(row)
    return pd.DataFrame(rows)


def md_truth(cfg: CastingLineConfig) -> float:
    return solids_volume_fraction(cfg.slurry) / (cfg.width_m * cfg.speed_m_min)


@pytest.mark.parametrize("speed", [2.0, 3.0])
def test_a_pump_bump_gives_the_line_gain_and_the_transport_dead_time(speed):
    cfg = CastingLineConfig(speed_m_min=speed, die_to_gauge_m=6.0)
    f = bump_test(cfg, 3300.0, **QUIET)
    est = identify_md(f["time_s"], f["flow_ml_min"], f["md_mean_um"])
    assert est.gain_um_per_ml_min == pytest.approx(md_truth(cfg), rel=1e-3)
    assert 0.0 <= est.deadtime_s - 6.0 / (speed / 60.0) <= 5.0


def test_a_pump_bump_on_the_disturbed_line_is_within_two_per_cent():
    # solids drift, wear, slip, AR(1) wander and gauge noise: the drift term takes the trend,
    # the wander is what is left (gain 2 %, dead time 5 s: a traverse is 20 s)
    cfg = CastingLineConfig()
    f = bump_test(cfg, 3300.0, cd_disturbances=False)
    est = identify_md(f["time_s"], f["flow_ml_min"], f["md_mean_um"])
    assert est.gain_um_per_ml_min == pytest.approx(md_truth(cfg), rel=0.02)
    assert abs(est.deadtime_s - 180.0) <= 5.0


def test_die_bolt_bumps_give_the_response_width_alignment_and_gain():
    # 0.1 um gauge noise on 50 um, the line's own smile, beads and drifting streak as baseline
    cfg = CastingLineConfig(cd_width_pitch=1.4, cd_misalignment_pitch=0.3, cd_gain=0.8)
    f = bump_test(cfg, 2100.0, md_disturbances=False)
    cd_cols = [f"cd_{j}" for j in range(cfg.n_zones)]
    bin_cols = [f"bin_{i}" for i in range(cfg.n_bins)]
    est = identify_cd(f["time_s"], f[cd_cols], f[bin_cols], settle_s=300.0)
    assert est.states == 3
    assert est.width_pitch == pytest.approx(1.4, abs=0.05)
    assert est.misalignment_pitch == pytest.approx(0.3, abs=0.05)
    assert est.gain == pytest.approx(0.8, rel=0.05)


def test_identify_writes_the_estimates_into_the_config(tmp_path):
    cfg = CastingLineConfig(cd_width_pitch=1.4, cd_misalignment_pitch=0.3)
    csv = tmp_path / "bump.csv"
    bump_test(cfg, 3300.0, **QUIET).to_csv(csv, index=False)
    config = tmp_path / "control.yaml"
    config.write_text(SAMPLE.read_text())
    args = ["control", "identify", "--from-file", str(csv), "--config", str(config), "--write"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    _, settings = load_control(config)
    assert settings.md.model.gain_um_per_ml_min == pytest.approx(md_truth(cfg), rel=1e-3)
    assert settings.md.supervisor.die_to_gauge_m == pytest.approx(6.0, abs=5.0 * 2.0 / 60)
    assert settings.cd.model.width_pitch == pytest.approx(1.4, abs=0.05)
    assert settings.cd.model.misalignment_pitch == pytest.approx(0.3, abs=0.05)
    assert settings.md.model.source.startswith("identify bump.csv")
    assert "mode: 'off'" in config.read_text()  # the mode is kept, as a word


def test_identify_without_write_leaves_the_config_alone(tmp_path):
    csv = tmp_path / "bump.csv"
    bump_test(CastingLineConfig(), 1500.0, **QUIET)[["time_s", "flow_ml_min", "md_mean_um"]].to_csv(
        csv, index=False
    )
    config = tmp_path / "control.yaml"
    config.write_text(SAMPLE.read_text())
    args = ["control", "identify", "--from-file", str(csv), "--config", str(config)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert config.read_text() == SAMPLE.read_text()


def test_a_bump_file_without_bump_columns_is_one_sentence(tmp_path):
    csv = tmp_path / "bump.csv"
    csv.write_text("time_s,speed_m_min\n0,2\n20,2\n")
    args = ["control", "identify", "--from-file", str(csv), "--config", str(SAMPLE)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2
    assert "has neither an MD bump" in result.output
    assert "Traceback" not in result.output


def test_the_sample_config_is_valid():
    doc, settings = load_control(SAMPLE)
    assert settings.md.mode == "off" and settings.cd.model.n_zones == 24
    assert yaml.safe_load(SAMPLE.read_text()) == doc
