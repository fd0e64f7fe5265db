"""The CD QP against the exact unconstrained optimum, its constraints and its solve time."""

from __future__ import annotations

import time

import numpy as np
import pytest

from plantqc.control.cd import CdController, CdSettings, controllable_basis, split_profile
from plantqc.control.response import bin_centres, response_matrix

G24 = response_matrix(96, 24)


def test_split_profile_parts_are_orthogonal_and_add_up():
    e = np.random.default_rng(0).normal(size=96)
    c, r = split_profile(e, controllable_basis(G24))
    np.testing.assert_allclose(c + r, e, atol=1e-12)
    assert abs(c @ r) < 1e-10


def test_a_feature_the_bolts_can_make_is_controllable_and_bin_scale_ripple_is_not():
    basis = controllable_basis(G24)
    x = bin_centres(96, 24)
    wide = np.cos(2 * np.pi * x / 12)  # period 12 pitches
    wide -= wide.mean()
    ripple = np.tile([1.0, -1.0], 48)  # period half a pitch
    c, _ = split_profile(wide, basis)
    assert np.linalg.norm(c) > 0.99 * np.linalg.norm(wide)
    c, _ = split_profile(ripple, basis)
    # only the web edges, where the bump is cut off, leak a few per cent into the span
    assert np.linalg.norm(c) < 0.05 * np.linalg.norm(ripple)


def test_without_active_constraints_the_qp_gives_the_least_squares_optimum():
    # same objective solved in closed form: (G'G + ls D'D + lm I) du = -G'(a e) - ls D'D u0
    s = CdSettings(alpha=0.3, max_move=100.0, max_bend=100.0, limit=100.0)
    ctl = CdController(G24, s)
    x = np.linspace(-1, 1, 96)
    profile = 50 * (1 + 0.01 * (1 - x**2) - 0.01 * (2 / 3))
    u0 = np.random.default_rng(2).normal(scale=0.2, size=24)
    e, _ = split_profile(ctl.deviation_pct(profile), ctl.basis)
    d2 = np.diff(np.eye(24), 2, axis=0)
    lhs = G24.T @ G24 + s.smoothness * d2.T @ d2 + s.move_weight * np.eye(24)
    du = np.linalg.solve(lhs, -G24.T @ (s.alpha * e) - s.smoothness * d2.T @ d2 @ u0)
    np.testing.assert_allclose(ctl.solve(profile, u0), u0 + du, atol=1e-6)


def test_the_qp_keeps_bounds_max_move_and_bending():
    s = CdSettings(alpha=1.0, limit=2.0, max_move=0.5, max_bend=0.3)
    ctl = CdController(G24, s)
    profile = 50 * (1 + 0.05 * np.sin(np.linspace(0, 3 * np.pi, 96)))
    u0 = np.zeros(24)
    u0[10] = 1.9
    u0[11] = 1.5
    new = ctl.solve(profile, u0)
    assert np.all(np.abs(new) <= 2.0 + 1e-7)
    assert np.all(np.abs(new - u0) <= 0.5 + 1e-7)
    bend0 = np.max(np.abs(np.diff(u0, 2)))  # the start already bends 2.3: never worse
    assert np.max(np.abs(np.diff(new, 2))) <= max(0.3, bend0) + 1e-7


@pytest.mark.parametrize("solver", ["CLARABEL", "OSQP"])
def test_forty_actuators_solve_within_100_ms(solver):
    g = response_matrix(160, 40)
    ctl = CdController(g, CdSettings(), solver=solver)
    rng = np.random.default_rng(5)
    u = np.zeros(40)
    ctl.solve(50 + rng.normal(size=160), u)  # the first solve compiles the problem
    times = []
    for _ in range(30):
        t0 = time.perf_counter()
        u = ctl.solve(50 + rng.normal(size=160), u)
        times.append(time.perf_counter() - t0)
    assert np.percentile(times, 99) <= 0.100
