"""Disposition: release / hold / reject by the configured rules, every reason listed; each rule
of ``reports:`` (`plantqc.reports.settings.ReportSettings`) changes the decision when it is
changed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from report_helpers import casting_config, run_engine_and_ack_all, store_lot
from sqlalchemy import Engine

from plantqc.charting.runner import SpcEngine
from plantqc.config import PlantConfig
from plantqc.reports.content import build_content
from plantqc.reports.data import find_lot
from plantqc.reports.issue import generate_report
from plantqc.reports.settings import ReportSettings
from plantqc.store import read_samples


def _issue(engine: Engine, tmp_path: Path, code: str = "LOT-0001") -> dict[str, Any]:
    report = generate_report(engine, code, tmp_path / "out", loaded=casting_config(tmp_path))
    return json.loads((report.folder / "report.json").read_text())["disposition"]


def _decide(engine: Engine, config: PlantConfig, **rules: Any) -> dict[str, Any]:
    """The disposition of LOT-0001 under ``reports: rules`` (every other rule at its default)."""
    changed = config.model_copy(update={"reports": ReportSettings(**rules)})
    return build_content(engine, find_lot(engine, "LOT-0001"), changed).disposition.to_dict()


def _reasons(disposition: dict[str, Any]) -> list[tuple[str, str]]:
    return [(r["decision"], r["reason"]) for r in disposition["reasons"]]


@pytest.fixture
def plant(tmp_path: Path) -> PlantConfig:
    return casting_config(tmp_path).config


@pytest.fixture
def incapable(sqlite_store: Engine, plant: PlantConfig, tmp_path: Path) -> Engine:
    """LOT-0001 with the dryer zone at 50.7 degC (sigma 1/3): Cpk = (52 - 50.7) / (3 * 1/3)
    = 1.3 < 1.33 (1.24 estimated), while all 600 values stay within [48, 52] (the largest is
    3.75 sigma above the mean, 51.95); every alarm acknowledged."""
    store_lot(sqlite_store, plant, shift={"dryer_zone1_temp_c": 0.7}, images_dir=tmp_path / "i")
    run_engine_and_ack_all(sqlite_store)
    return sqlite_store


@pytest.fixture
def released(sqlite_store: Engine, plant: PlantConfig, lot: dict[str, int]) -> Engine:
    """LOT-0001 in spec and capable, with images, every alarm acknowledged: released."""
    run_engine_and_ack_all(sqlite_store)
    return sqlite_store


def test_capable_lot_in_spec_with_every_alarm_acknowledged_is_released(
    released: Engine, tmp_path: Path
) -> None:
    assert _issue(released, tmp_path) == {"decision": "release", "reasons": []}


def test_a_mean_out_of_spec_rejects_the_lot(sqlite_store: Engine, tmp_path: Path) -> None:
    store_lot(sqlite_store, casting_config(tmp_path).config, shift={"dry_thickness_um": 4.0})
    result = _issue(sqlite_store, tmp_path)
    assert result["decision"] == "reject"
    assert result["reasons"][0] == {
        "decision": "reject",
        "reason": "dry_thickness_um: lot mean 54.02 is outside the spec [47, 53] µm",
    }


def test_an_unacknowledged_alarm_holds_the_lot(
    sqlite_store: Engine, lot: dict[str, int], tmp_path: Path
) -> None:
    SpcEngine(sqlite_store).process_all()
    result = _issue(sqlite_store, tmp_path)
    assert result["decision"] == "hold"
    assert result["reasons"]
    assert all("is not acknowledged" in r["reason"] for r in result["reasons"])


def test_cpk_below_the_minimum_holds_the_lot(incapable: Engine, tmp_path: Path) -> None:
    result = _issue(incapable, tmp_path)
    assert result["decision"] == "hold"
    (reason,) = [r["reason"] for r in result["reasons"]]
    assert reason.startswith("dryer_zone1_temp_c: Cpk 1.")
    assert reason.endswith(" is below 1.33")


def test_missing_image_data_holds_the_lot_and_names_what_is_missing(
    sqlite_store: Engine, tmp_path: Path
) -> None:
    store_lot(sqlite_store, casting_config(tmp_path).config)  # no images
    run_engine_and_ack_all(sqlite_store)
    result = _issue(sqlite_store, tmp_path)
    assert result["decision"] == "hold"
    missing = [r["reason"] for r in result["reasons"]]
    assert "Surface defect density [casting-1-web-camera]: no data in the lot" in missing
    assert len(missing) == 5  # loading, agglomerates, dispersion, thickness, defects


def test_an_open_lot_is_held(sqlite_store: Engine, tmp_path: Path) -> None:
    store_lot(sqlite_store, casting_config(tmp_path).config, images_dir=tmp_path / "i", close=False)
    run_engine_and_ack_all(sqlite_store)
    result = _issue(sqlite_store, tmp_path)
    assert result == {
        "decision": "hold",
        "reasons": [{"decision": "hold", "reason": "the lot is still open (no end time recorded)"}],
    }


# --- one test per rule of reports: ------------------------------------------------------------


def test_max_out_of_spec_pct_is_the_share_of_values_out_of_spec_that_fails(
    sqlite_store: Engine, plant: PlantConfig, tmp_path: Path
) -> None:
    # the dryer zone at 51.2 degC (sigma 1/3): its mean is within [48, 52], a few of its 600
    # values (P(z > 2.4) = 0.8 %) are above 52
    tags = store_lot(
        sqlite_store, plant, shift={"dryer_zone1_temp_c": 1.2}, images_dir=tmp_path / "i"
    )
    run_engine_and_ack_all(sqlite_store)
    values = read_samples(sqlite_store, tags["dryer_zone1_temp_c"])["value"].to_numpy()
    above = int((values > 52).sum())
    assert 0 < above < 30
    sentence = (
        f"dryer_zone1_temp_c: {above} of 600 values ({100 * above / 600:.3g} %) are outside "
        "the spec [48, 52] °C, more than the 0 % allowed"
    )
    assert ("reject", sentence) in _reasons(_decide(sqlite_store, plant))
    tolerant = _decide(sqlite_store, plant, max_out_of_spec_pct=5.0)
    assert tolerant["decision"] == "hold"  # only its Cpk of 0.8 is left
    assert [d for d, _ in _reasons(tolerant)] == ["hold"]


def test_reject_on_spec_fail_off_holds_a_characteristic_out_of_spec(
    sqlite_store: Engine, plant: PlantConfig
) -> None:
    store_lot(sqlite_store, plant, shift={"dry_thickness_um": 4.0})
    reason = "dry_thickness_um: lot mean 54.02 is outside the spec [47, 53] µm"
    assert ("reject", reason) in _reasons(_decide(sqlite_store, plant))
    held = _decide(sqlite_store, plant, reject_on_spec_fail=False)
    assert held["decision"] == "hold"
    assert ("hold", reason) in _reasons(held)


def test_hold_on_unacknowledged_alarm_off_releases_a_lot_with_open_alarms(
    sqlite_store: Engine, plant: PlantConfig, lot: dict[str, int]
) -> None:
    SpcEngine(sqlite_store).process_all()
    assert _decide(sqlite_store, plant)["decision"] == "hold"
    assert _decide(sqlite_store, plant, hold_on_unacknowledged_alarm=False) == {
        "decision": "release",
        "reasons": [],
    }


def test_hold_on_low_cpk_off_releases_an_incapable_lot(
    incapable: Engine, plant: PlantConfig
) -> None:
    assert _decide(incapable, plant)["decision"] == "hold"
    assert _decide(incapable, plant, hold_on_low_cpk=False)["decision"] == "release"


def test_cpk_min_is_the_capability_a_lot_needs(incapable: Engine, plant: PlantConfig) -> None:
    assert _decide(incapable, plant, cpk_min=1.5)["decision"] == "hold"
    assert _decide(incapable, plant, cpk_min=1.1)["decision"] == "release"


def test_capability_min_n_leaves_smaller_studies_indicative(
    incapable: Engine, plant: PlantConfig
) -> None:
    changed = plant.model_copy(update={"reports": ReportSettings(capability_min_n=601)})
    content = build_content(incapable, find_lot(incapable, "LOT-0001"), changed)
    assert content.disposition.decision == "release"
    row = next(r for r in content.characteristics if r.key == "tag:dryer_zone1_temp_c")
    assert (row.n, row.capability_indicative) == (600, True)


def test_hold_on_missing_data_off_releases_a_lot_without_images(
    sqlite_store: Engine, plant: PlantConfig
) -> None:
    store_lot(sqlite_store, plant)  # no images
    run_engine_and_ack_all(sqlite_store)
    assert _decide(sqlite_store, plant)["decision"] == "hold"
    assert _decide(sqlite_store, plant, hold_on_missing_data=False)["decision"] == "release"


def test_loading_tolerance_sets_the_recipe_spec_of_the_image_loading(
    released: Engine, plant: PlantConfig
) -> None:
    # the three particle images measure 19.4, 23.1 and 17.5 wt% (report_helpers): within the
    # recipe's 20 +/- 5, two of them outside 20 +/- 2
    assert _decide(released, plant)["decision"] == "release"
    assert _reasons(_decide(released, plant, loading_tolerance_wt_pct=2.0)) == [
        (
            "reject",
            "Filler loading from images (Delesse) [casting-1-sem-topview]: 2 of 3 values "
            "(66.7 %) are outside the spec [18, 22] wt%, more than the 0 % allowed",
        )
    ]


def test_cd_two_sigma_max_sets_the_cd_uniformity_spec(released: Engine, plant: PlantConfig) -> None:
    # the scans have 40 lanes of sigma 0.4 um (report_helpers): 2-sigma about 0.8 um, within
    # the default half spec width of 3 um, not within 0.5 um
    assert _decide(released, plant)["decision"] == "release"
    reasons = _reasons(_decide(released, plant, cd_two_sigma_max_um=0.5))
    assert [d for d, _ in reasons] == ["reject", "reject", "hold"]  # and its Cpk is below 0
    assert reasons[0][1].startswith("CD uniformity 2σ [dry_thickness_profile_um]: lot mean 0.7")
    assert reasons[1][1].startswith("CD uniformity 2σ [dry_thickness_profile_um]: 120 of 120")
    assert reasons[1][1].endswith("are outside the spec [-inf, 0.5] µm, more than the 0 % allowed")


def test_alerts_do_not_hold_a_lot_unless_hold_on_alerts(
    released: Engine, plant: PlantConfig
) -> None:
    """The released lot's charts carry rule violations that are not alarms (alerts): they are
    listed in the report and hold it only with ``hold_on_alerts``."""
    content = build_content(released, find_lot(released, "LOT-0001"), plant)
    alerted = [
        row for row in content.characteristics if row.chart is not None and row.chart.violations
    ]
    assert alerted, "the fixture lot has no rule violations to judge"
    assert content.disposition.decision == "release"
    held = _decide(released, plant, hold_on_alerts=True)
    assert held["decision"] == "hold"
    names = {reason.split(":")[0] for _, reason in _reasons(held)}
    assert names == {row.name for row in alerted}
