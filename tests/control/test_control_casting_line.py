"""The physical casting line model against exact mass balances and transport delays."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from plantqc.control.response import response_matrix
from plantqc.sim.casting_line import (
    CastingLine,
    CastingLineConfig,
    MdDisturbance,
    Slurry,
    solids_density,
    solids_volume_fraction,
    wet_thickness_um,
)

QUIET = {"md_disturbances": False, "cd_disturbances": False, "gauge_noise": False}


def test_solids_volume_fraction_of_a_single_solid_is_the_two_phase_volume_balance():
    # exact: 40 g polymer (1.2 g/cm3) in 60 g solvent (0.8 g/cm3) is 33.33 + 75 cm3
    s = Slurry(
        filler_wt_pct=0.0,
        salt_to_polymer_mass=0.0,
        solids_wt_pct=40.0,
        polymer_density_g_cm3=1.2,
        solvent_density_g_cm3=0.8,
    )
    assert solids_volume_fraction(s) == pytest.approx((40 / 1.2) / (40 / 1.2 + 60 / 0.8), 1e-14)


def test_dry_film_carries_exactly_the_solids_mass_the_pump_delivers():
    # mass balance per unit area: rho_s h_dry = c rho_slurry h_wet (volumes additive)
    s = Slurry()
    c = s.solids_wt_pct / 100
    rho_slurry = 1 / (c / solids_density(s) + (1 - c) / s.solvent_density_g_cm3)
    h_wet = wet_thickness_um(400.0, 1.0, 2.0)
    h_dry = h_wet * solids_volume_fraction(s)
    assert solids_density(s) * h_dry == pytest.approx(c * rho_slurry * h_wet, rel=1e-12)


def test_gauge_reads_q_over_w_u_times_phi_when_undisturbed():
    cfg = CastingLineConfig(flow_ml_min=333.0, width_m=0.8, speed_m_min=2.5)
    line = CastingLine(cfg, **QUIET)
    scans = line.advance(600.0)
    expected = 333.0 / (0.8 * 2.5) * solids_volume_fraction(cfg.slurry)
    assert scans[-1].md_mean_um == pytest.approx(expected, rel=1e-12)
    np.testing.assert_allclose(scans[-1].profile_um, expected, rtol=1e-12)


@pytest.mark.parametrize("speed", [2.0, 3.0])
def test_a_flow_step_reaches_the_gauge_after_l_over_u(speed):
    cfg = CastingLineConfig(speed_m_min=speed, die_to_gauge_m=6.0, flow_slew_ml_min_s=1e9)
    line = CastingLine(cfg, **QUIET)
    line.advance(400.0)
    before = line.dry_at_die_um()
    line.set_flow(440.0)
    t_step = line.t_s
    line.advance(400.0)
    deadtime = 6.0 / (speed / 60.0)
    assert line.deadtime_s() == pytest.approx(deadtime, rel=1e-15)
    seen, _ = line.at_gauge(np.array([t_step + deadtime - 0.5, t_step + deadtime + 1.0]))
    # the step is taken at the end of the model step after t_step
    assert seen[0] == pytest.approx(before, rel=1e-12)
    assert seen[1] == pytest.approx(before * 1.1, rel=1e-12)


def test_die_bolt_moves_reshape_the_profile_without_changing_the_md_mean():
    cfg = CastingLineConfig(cd_slew_pct_s=1e9, cd_misalignment_pitch=0.3, cd_width_pitch=1.4)
    line = CastingLine(cfg, **QUIET)
    u = np.zeros(cfg.n_zones)
    u[5], u[17] = 4.0, -2.5
    line.set_cd(u)
    scan = line.advance(line.deadtime_s() + 3 * cfg.scan_s)[-1]
    mean = line.dry_at_die_um()
    g = response_matrix(cfg.n_bins, cfg.n_zones, width_pitch=1.4, misalignment_pitch=0.3)
    np.testing.assert_allclose(scan.profile_um, mean * (1 + g @ u / 100), rtol=1e-12)
    assert scan.md_mean_um == pytest.approx(mean, rel=1e-12)


def test_pump_and_die_bolts_obey_their_limits_and_slew_rates():
    cfg = CastingLineConfig(flow_slew_ml_min_s=2.0, cd_slew_pct_s=0.1, cd_limit_pct=5.0)
    line = CastingLine(cfg, **QUIET)
    assert line.set_flow(10_000.0) == cfg.flow_limits_ml_min[1]
    assert line.set_cd(np.full(cfg.n_zones, 9.0))[0] == 5.0
    line.advance(10.0)
    assert line.flow == pytest.approx(cfg.flow_ml_min + 2.0 * 10.0)
    assert line.cd[0] == pytest.approx(0.1 * 10.0)


def test_the_same_seed_gives_the_same_line_and_another_seed_another():
    cfg = CastingLineConfig()
    a, b, c = (CastingLine(cfg, seed=s).advance(1800.0) for s in (7, 7, 8))
    assert np.array_equal(a[-1].profile_um, b[-1].profile_um)
    assert not np.array_equal(a[-1].profile_um, c[-1].profile_um)


def test_solvent_evaporation_raises_the_solids_until_the_next_roll_brings_a_new_batch():
    cfg = CastingLineConfig(md=replace(MdDisturbance(), batch_sigma_pct=0.0))
    line = CastingLine(cfg, cd_disturbances=False)
    line.advance(4200.0)  # 140 m of a 150 m roll at 2 m/min
    evap = cfg.md.evaporation_pct_h / 3600
    assert line.solids_wt_pct == pytest.approx(cfg.slurry.solids_wt_pct + evap * 4200, rel=1e-9)
    line.advance(600.0)  # the roll changes at 150 m = 4500 s
    assert line.rolls == 1
    # within one model step: the web length is a float sum and may reach 150 m a step late
    fresh = cfg.slurry.solids_wt_pct + evap * 300
    assert line.solids_wt_pct == pytest.approx(fresh, abs=evap * cfg.step_s * 1.0001)


def test_gauge_faults_come_at_their_rate_last_their_scans_and_say_so():
    cfg = CastingLineConfig(gauge_faults_per_h=6.0, gauge_fault_scans=3)
    scans = CastingLine(cfg, seed=3, cd_disturbances=False).advance(20 * 3600.0)
    bad = np.array([not s.sensor_ok for s in scans])
    edges = np.flatnonzero(np.diff(np.r_[0, bad.astype(int), 0]))
    runs = edges[1::2] - edges[::2]  # back-to-back faults make one longer run
    assert np.all(runs % 3 == 0)
    # a fault starts only on a good traverse: 6/h over the ~90 % of 20 h that is good is
    # 108 expected (Poisson sigma 10.4): within 3 sigma
    assert abs(bad.sum() / 3 - 108) < 32
    assert all(np.all(scans[i].profile_um == 0.0) for i in np.flatnonzero(bad))
