"""`plantqc demo`: the README's first quick-start command, run once for its whole 90 s.

The simulator injects a drift of the dry thickness, a Bad-quality period on dryer zone 1 and a
stuck dryer-zone-3 sensor, each at a fraction of the run; the daemon and the SPC engine must
store everything and flag each fault after its onset.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from plantqc.cli import app
from plantqc.store import connect
from plantqc.store.models import ControlLimits, Sample, Tag

pytestmark = pytest.mark.slow

SECONDS = 90


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("demo")
    result = CliRunner().invoke(
        app, ["demo", "--seconds", str(SECONDS), "--out", str(out), "--json"]
    )
    assert result.exit_code == 0, result.output
    return json.loads(result.output[result.output.index("{") :])


def test_json_has_the_contract_keys(demo: dict[str, Any]) -> None:
    assert {"samples_stored", "alarms", "scenarios"} <= set(demo)
    for scenario in demo["scenarios"]:
        assert {"kind", "tag", "onset", "detected_at", "delay_samples"} <= set(scenario)


def test_every_tag_is_stored_with_profiles_lots_and_rolls(demo: dict[str, Any]) -> None:
    stored = {tag["tag"]: tag["samples"] for tag in demo["tags"]}
    assert {"dry_thickness_um", "web_speed_m_min", "dryer_zone3_temp_c"} <= set(stored)
    assert demo["samples_stored"] == sum(stored.values())
    assert demo["profiles_stored"] >= 1
    assert demo["lots"][0] == "LOT-0001"
    assert len(demo["rolls"]) >= 2


def test_each_injected_fault_is_reported_as_a_scenario(demo: dict[str, Any]) -> None:
    assert [(s["kind"], s["tag"]) for s in demo["scenarios"]] == [
        ("drift", "dry_thickness_um"),
        ("bad", "dryer_zone1_temp_c"),
        ("stuck", "dryer_zone3_temp_c"),
    ]


def test_each_fault_is_detected_after_its_onset_by_its_own_rule(demo: dict[str, Any]) -> None:
    rules = {s["kind"]: s["rule"] for s in demo["scenarios"]}
    assert rules["bad"] == "bad-quality"
    assert rules["stuck"] == "stuck"
    assert rules["drift"] in {"nelson1", "nelson2", "nelson3", "nelson5", "nelson6"}
    for s in demo["scenarios"]:
        onset, detected = (datetime.fromisoformat(s[k]) for k in ("onset", "detected_at"))
        assert detected >= onset
        assert s["delay_s"] == pytest.approx((detected - onset).total_seconds())


def test_delay_samples_count_the_tag_samples_from_onset_to_detection(
    demo: dict[str, Any],
) -> None:
    store = connect(demo["database"])
    with Session(store) as session:
        for s in demo["scenarios"]:
            onset, detected = (datetime.fromisoformat(s[k]) for k in ("onset", "detected_at"))
            times = session.scalars(
                select(Sample.ts).join(Tag, Tag.id == Sample.tag_id).where(Tag.name == s["tag"])
            ).all()
            assert s["delay_samples"] == sum(onset <= t <= detected for t in times)
    store.dispose()


def test_a_stuck_sensor_is_flagged_once_its_run_of_identical_values_is_complete(
    demo: dict[str, Any],
) -> None:
    # dryer_zone3_temp_c keeps the default stuck_run of 30 identical values; the held value
    # is the one of the last tick before the onset, which the server may have sampled before
    # the onset (then 29 more samples complete the run) or not (30)
    stuck = next(s for s in demo["scenarios"] if s["kind"] == "stuck")
    assert stuck["delay_samples"] in (29, 30)


def test_the_engine_ran_on_spec_derived_limits(demo: dict[str, Any]) -> None:
    store = connect(demo["database"])
    with Session(store) as session:
        assert session.scalars(select(ControlLimits.basis)).first() == "spec"
    store.dispose()


def test_the_demo_database_is_in_the_out_folder(demo: dict[str, Any]) -> None:
    assert Path(demo["folder"], "plantqc.db").is_file()
