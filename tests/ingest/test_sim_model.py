"""The simulator's process model: seeded, with faults whose effect is known exactly."""

from __future__ import annotations

import numpy as np
import pytest
from ingest_helpers import EXAMPLES

from plantqc.config import load_config
from plantqc.errors import UserError
from plantqc.sim.model import SAMPLE_COUNTER, STATUS_BAD, LineModel, signal_spec
from plantqc.sim.scenario import Fault, Scenario, load_scenario, parse_fault_flag
from plantqc.sim.units import eu_information, unit_id

LINE = load_config(EXAMPLES / "casting.yaml").config.lines[0]
TICK_S = 0.5


def run(scenario: Scenario, ticks: int, seed: int = 7) -> dict[str, list[object]]:
    model = LineModel(LINE, scenario, seed=seed, tick_s=TICK_S)
    series: dict[str, list[object]] = {}
    for _ in range(ticks):
        for update in model.step():
            series.setdefault(update.tag, []).append(update)
    return series


def values(series: dict[str, list[object]], tag: str) -> np.ndarray:
    return np.array([u.value for u in series[tag]])  # type: ignore[attr-defined]


def test_same_seed_gives_the_same_values() -> None:
    a, b = run(Scenario(), 40), run(Scenario(), 40)
    assert np.array_equal(values(a, "dry_thickness_um"), values(b, "dry_thickness_um"))


def test_another_seed_gives_other_values() -> None:
    a, b = run(Scenario(), 40, seed=1), run(Scenario(), 40, seed=2)
    assert not np.array_equal(values(a, "dry_thickness_um"), values(b, "dry_thickness_um"))


def test_sigma_gives_cp_of_two_from_the_spec() -> None:
    # dry thickness spec 47..53 um: Cp = (USL - LSL) / (6 sigma) = 2  =>  sigma = 0.5 um
    spec = signal_spec(LINE.tag("dry_thickness_um"))
    assert spec.nominal == 50.0
    assert spec.sigma == pytest.approx(0.5, rel=1e-12)
    assert (spec.low, spec.high) == pytest.approx((40.0, 60.0))


def test_in_control_values_have_the_model_mean_and_sigma() -> None:
    x = values(run(Scenario(), 4000), "dry_thickness_um")
    # standard errors: 0.5/sqrt(n) for the mean and 0.5/sqrt(2n) for sigma, n = 4000
    assert x.mean() == pytest.approx(50.0, abs=4 * 0.5 / np.sqrt(x.size))
    assert x.std(ddof=1) == pytest.approx(0.5, abs=4 * 0.5 / np.sqrt(2 * x.size))


def test_step_fault_shifts_the_mean_by_its_magnitude_in_sigma() -> None:
    step = Fault(kind="step", tag="dry_thickness_um", start_s=5.0, magnitude=2.0)
    base = values(run(Scenario(), 40), "dry_thickness_um")
    shifted = values(run(Scenario(faults=[step]), 40), "dry_thickness_um")
    # one value per second (sampling 1000 ms); the step starts at the 6th value
    assert np.allclose(shifted[:5], base[:5])
    assert np.allclose(shifted[5:] - base[5:], 2.0 * 0.5)


def test_drift_fault_grows_linearly_in_sigma_per_minute() -> None:
    drift = Fault(kind="drift", tag="dry_thickness_um", start_s=0.0, magnitude=3.0)
    base = values(run(Scenario(), 120), "dry_thickness_um")
    drifted = values(run(Scenario(faults=[drift]), 120), "dry_thickness_um")
    t_s = np.arange(base.size) * 1.0
    assert np.allclose(drifted - base, 3.0 * 0.5 * t_s / 60.0)


def test_variance_fault_scales_the_deviation_from_nominal() -> None:
    wide = Fault(kind="variance", tag="dry_thickness_um", start_s=0.0, magnitude=3.0)
    base = values(run(Scenario(), 30), "dry_thickness_um")
    wider = values(run(Scenario(faults=[wide]), 30), "dry_thickness_um")
    assert np.allclose(wider - 50.0, 3.0 * (base - 50.0))


def test_stuck_sensor_holds_its_last_value_then_resumes() -> None:
    stuck = Fault(kind="stuck", tag="dry_thickness_um", start_s=3.0, duration_s=5.0)
    base = values(run(Scenario(), 20), "dry_thickness_um")
    held = values(run(Scenario(faults=[stuck]), 20), "dry_thickness_um")
    assert np.all(held[3:8] == base[2])  # the reading before the fault, held
    assert np.array_equal(held[8:], base[8:])


def test_bad_quality_period_sets_bad_status_only_inside_it() -> None:
    bad = Fault(kind="bad", tag="dew_point_c", start_s=10.0, duration_s=10.0)
    updates = run(Scenario(faults=[bad]), 80)["dew_point_c"]  # one value every 5 s
    assert [u.status for u in updates] == [0, 0, STATUS_BAD, STATUS_BAD, 0, 0, 0, 0]  # type: ignore[attr-defined]


def test_sample_counter_counts_every_tick_from_one() -> None:
    assert values(run(Scenario(), 25), SAMPLE_COUNTER).tolist() == list(range(1, 26))


def test_roll_and_lot_codes_follow_the_rhythm() -> None:
    model = LineModel(LINE, Scenario(roll_length_s=10, rolls_per_lot=2), tick_s=1.0)
    assert model.lot_and_roll(0) == ("LOT-0001", "R01")
    assert model.lot_and_roll(15) == ("LOT-0001", "R02")
    assert model.lot_and_roll(20) == ("LOT-0002", "R01")


def test_profile_has_thicker_edges_than_centre() -> None:
    profiles = np.array(values(run(Scenario(), 200), "dry_thickness_profile_um").tolist())
    mean = profiles.mean(axis=0)
    assert profiles.shape[1] == 24
    assert mean[0] - mean[12] == pytest.approx(3 * 0.5, abs=0.3)


def test_unit_id_of_celsius_is_the_specification_example() -> None:
    # OPC 10000-8 §5.6.4: "CEL" -> 4408652
    assert unit_id("CEL") == 4408652
    assert eu_information("degC").UnitId == 4408652
    assert eu_information("furlong").UnitId == -1


def test_fault_flag_parses_all_fields() -> None:
    fault = parse_fault_flag("drift:dry_thickness_um@30+60=1.5")
    assert (fault.kind, fault.tag, fault.start_s, fault.duration_s, fault.magnitude) == (
        "drift",
        "dry_thickness_um",
        30.0,
        60.0,
        1.5,
    )


def test_bad_fault_flag_is_one_sentence() -> None:
    with pytest.raises(UserError, match="does not parse; expected KIND:TAG@START"):
        parse_fault_flag("wobble:x@3")


def test_scenario_file_with_a_variance_fault_without_factor_names_the_file(tmp_path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text("faults:\n  - {kind: variance, tag: x, start_s: 1}\n")
    with pytest.raises(UserError, match=r"s\.yaml: faults\.0: a variance fault needs a positive"):
        load_scenario(path)
