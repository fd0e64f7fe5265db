"""The simulator's in-control wander of thermal and flow tags: AR(1) plus noise, quantised.

Exact ground truth: the stationary AR(1) process (Box, Jenkins & Reinsel, 4th ed., §3.2.4)
has variance sigma_w^2 and lag-1 autocorrelation phi; with white noise of variance
sigma_n^2 added, the lag-1 autocorrelation is phi * sigma_w^2 / (sigma_w^2 + sigma_n^2).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from ingest_helpers import EXAMPLES

from plantqc.config import load_config
from plantqc.sim.model import LineModel, signal_spec
from plantqc.sim.scenario import Scenario
from plantqc.sim.wander import Ar1Wander, WanderSpec, resolution, wander_spec

LINE = load_config(EXAMPLES / "casting.yaml").config.lines[0]


def _lag1(x: np.ndarray) -> float:
    d = x - x.mean()
    return float(np.dot(d[:-1], d[1:]) / np.dot(d, d))


def test_wander_plus_noise_has_the_closed_form_variance_and_autocorrelation() -> None:
    # tau = dt / ln 2: phi = 0.5; 60 % of the variance wanders: rho1 = 0.5 * 0.6 = 0.3
    rng = np.random.default_rng(5)
    wander = Ar1Wander(WanderSpec(tau_s=1 / math.log(2), share=0.6), 2.0, 1.0, rng)
    n = 40_000
    x = np.array([wander.deviation(float(rng.standard_normal()), rng) for _ in range(n)])
    assert wander.phi == pytest.approx(0.5)
    # standard errors about 2.0 * sqrt(...) / sqrt(n): bounds of 4 of them
    assert x.std() == pytest.approx(2.0, abs=4 * 2.0 * math.sqrt(1.3 / n))
    assert _lag1(x) == pytest.approx(0.3, abs=4 * math.sqrt(1.2 / n))


def test_thermal_and_flow_tags_wander_and_others_do_not() -> None:
    assert wander_spec("dryer_zone1_temp_c") == WanderSpec(900.0, 0.8)
    assert wander_spec("dew_point_c") == WanderSpec(900.0, 0.8)
    assert wander_spec("pump_rate_ml_min") == WanderSpec(120.0, 0.5)
    assert wander_spec("dry_thickness_um") is None


def test_a_simulated_dryer_zone_wanders_slowly_and_reads_quantised() -> None:
    model = LineModel(LINE, Scenario(), seed=3, tick_s=1.0)
    series: dict[str, list[float]] = {"dryer_zone1_temp_c": [], "dry_thickness_um": []}
    for _ in range(3600):
        for update in model.step():
            if update.tag in series:
                series[update.tag].append(update.value)  # type: ignore[arg-type]

    def block_mean_ratio(tag: str) -> float:
        # variance of 1-minute means over what white noise of the tag's sigma gives (1)
        x = np.array(series[tag])
        means = x[: x.size // 60 * 60].reshape(-1, 60).mean(axis=1)
        return float(means.var(ddof=1) / (signal_spec(LINE.tag(tag)).sigma ** 2 / 60))

    # the wander carries 80 % of the variance and moves over 900 s: the minute means spread
    # by far more than white noise's; dry thickness stays white
    assert block_mean_ratio("dryer_zone1_temp_c") > 10
    assert block_mean_ratio("dry_thickness_um") < 2
    q = resolution(signal_spec(LINE.tag("dryer_zone1_temp_c")).sigma)
    digits = -round(math.log10(q))
    assert all(v == round(v, digits) for v in series["dryer_zone1_temp_c"])
