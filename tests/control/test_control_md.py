"""SIMC PI, its margins and the Harris index against published and exact values."""

from __future__ import annotations

import math

import numpy as np
import pytest

from plantqc.control.md import (
    BatchFeedforward,
    PiTuning,
    VelocityPi,
    deadtime_samples,
    harris_index,
    loop_margins,
    simc_pi,
)


def test_simc_settings_follow_skogestad_eq_26_27():
    # k = 2, tau = 10 s, theta = 1 s, tau_c = theta: Kc = 10 / (2 * 2), tau_I = min(10, 8) = 8
    t = simc_pi(2.0, 10.0, 1.0)
    assert t.kc == pytest.approx(2.5, rel=1e-15)
    assert t.ki == pytest.approx(2.5 / 8.0, rel=1e-15)
    # lag-free: pure integral action 1 / (k (tau_c + theta))
    assert simc_pi(2.0, 0.0, 1.0) == PiTuning(kc=0.0, ki=0.25)


def test_improved_simc_adds_a_third_of_the_dead_time_to_the_time_constant():
    # Grimholt & Skogestad 2012: tau <- tau + theta / 3, so a pure dead time k = 2, theta = 3
    # gets Kc = 1 / (2 * 6) and tau_I = 1 instead of a pure integral controller
    t = simc_pi(2.0, 0.0, 3.0, improved=True)
    assert t.kc == pytest.approx(1.0 / 12.0, rel=1e-15)
    assert t.ki == pytest.approx(1.0 / 12.0, rel=1e-15)


@pytest.mark.parametrize("tau", [0.0, 50.0])
def test_simc_with_tau_c_theta_has_the_margins_of_skogestad_table(tau):
    # Skogestad 2003: tau_c = theta, tau_1 <= 8 theta gives GM = 3.14 and PM = 61.4 deg
    # (the loop is exactly e^{-theta s} / (2 theta s)); sampled at theta / 200 the hold adds
    # Ts / 2 of delay, 0.25 %
    theta, ts = 100.0, 0.5
    gm, pm = loop_margins(1.7, tau, theta, simc_pi(1.7, tau, theta), ts)
    assert gm == pytest.approx(math.pi, rel=0.005)
    assert pm == pytest.approx(90 - math.degrees(0.5), rel=0.005)


def test_velocity_pi_moves_sum_to_the_position_form():
    pi = VelocityPi(PiTuning(kc=0.8, ki=0.05), sample_s=2.0)
    e = np.random.default_rng(1).normal(size=50)
    moves = [pi.move(x) for x in e]
    # bumpless: the first move carries no proportional kick, so the sum is Kc (e_n - e_0) + I
    assert sum(moves) == pytest.approx(0.8 * (e[-1] - e[0]) + 0.05 * 2.0 * e.sum(), rel=1e-12)
    assert moves[0] == pytest.approx(0.05 * 2.0 * e[0], rel=1e-15)


def test_harris_index_of_an_uncontrolled_ar1_is_one_over_one_minus_phi_to_the_2b():
    # open loop y = a / (1 - phi q^-1): sigma_y^2 = s^2 / (1 - phi^2) and the MV floor is
    # s^2 (1 - phi^(2b)) / (1 - phi^2) (Harris 1989)
    rng = np.random.default_rng(3)
    phi, b, n = 0.9, 3, 200_000
    a = rng.standard_normal(n)
    y = np.zeros(n)
    for k in range(1, n):
        y[k] = phi * y[k - 1] + a[k]
    assert harris_index(y, 0.0, b, ar_order=5) == pytest.approx(1 / (1 - phi ** (2 * b)), rel=0.02)


def test_harris_index_of_minimum_variance_output_is_one():
    # under MV control the output is MA(b-1) in the innovations
    a = np.random.default_rng(4).standard_normal(100_000)
    y = a + 0.9 * np.roll(a, 1) + 0.81 * np.roll(a, 2)
    assert harris_index(y[2:], 0.0, 3, ar_order=30) == pytest.approx(1.0, abs=0.03)


def test_deadtime_samples_counts_the_hold():
    assert deadtime_samples(180.0, 20.0) == 10
    assert deadtime_samples(190.0, 20.0) == 10


def test_batch_feedforward_returns_to_the_setpoint_the_last_batch_started_on():
    ff = BatchFeedforward()
    assert ff.update("R1", 400.0) is None  # the first batch seen: nothing to go back to
    assert ff.update("R1", 396.0) is None  # feedback trims against evaporation meanwhile
    assert ff.update("R2", 392.0) == 400.0  # a fresh batch: back to where R1 started
    assert ff.update("R2", 397.0) is None
    assert ff.update("R3", 393.0) == 400.0  # R2 started on 400 too
