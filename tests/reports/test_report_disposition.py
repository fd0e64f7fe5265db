"""Disposition: release / hold / reject by the configured rules, every reason listed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from report_helpers import casting_config, run_engine_and_ack_all, store_lot
from sqlalchemy import Engine

from plantqc.engine import SpcEngine
from plantqc.reports.issue import generate_report


def _issue(engine: Engine, tmp_path: Path, code: str = "LOT-0001") -> dict[str, Any]:
    report = generate_report(engine, code, tmp_path / "out", loaded=casting_config(tmp_path))
    return json.loads((report.folder / "report.json").read_text())["disposition"]


def test_capable_lot_in_spec_with_every_alarm_acknowledged_is_released(
    sqlite_store: Engine, lot: dict[str, int], tmp_path: Path
) -> None:
    run_engine_and_ack_all(sqlite_store)
    assert _issue(sqlite_store, tmp_path) == {"decision": "release", "reasons": []}


def test_a_mean_out_of_spec_rejects_the_lot(sqlite_store: Engine, tmp_path: Path) -> None:
    store_lot(sqlite_store, casting_config(tmp_path).config, shift={"dry_thickness_um": 4.0})
    result = _issue(sqlite_store, tmp_path)
    assert result["decision"] == "reject"
    assert result["reasons"][0] == {
        "decision": "reject",
        "reason": "dry_thickness_um: lot mean 54.02 is outside the spec [47, 53] um",
    }


def test_an_unacknowledged_alarm_holds_the_lot(
    sqlite_store: Engine, lot: dict[str, int], tmp_path: Path
) -> None:
    SpcEngine(sqlite_store).process_all()
    result = _issue(sqlite_store, tmp_path)
    assert result["decision"] == "hold"
    assert result["reasons"]
    assert all("is not acknowledged" in r["reason"] for r in result["reasons"])


def test_cpk_below_the_minimum_holds_the_lot(sqlite_store: Engine, tmp_path: Path) -> None:
    # sigma (52 - 48) / 12 = 1/3 about 50 + 1.2: Cpk = (52 - 51.2) / (3 * 1/3) = 0.8 < 1.33
    store_lot(
        sqlite_store,
        casting_config(tmp_path).config,
        shift={"dryer_zone1_temp_c": 1.2},
        images_dir=tmp_path / "images",
    )
    run_engine_and_ack_all(sqlite_store)
    result = _issue(sqlite_store, tmp_path)
    assert result["decision"] == "hold"
    (reason,) = [r["reason"] for r in result["reasons"]]
    assert reason.startswith("dryer_zone1_temp_c: Cpk 0.")
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
