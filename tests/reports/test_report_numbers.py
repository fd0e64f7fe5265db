"""Every number in report.json equals what `spc` and `vision` give on the same rows, on both
dialects, and the data hash is recomputed from the store."""

from __future__ import annotations

import json
import math
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from report_helpers import T0, casting_config, store_lot
from sqlalchemy import Engine, select

import spc
from plantqc.charting.limits import ZONE_RULES
from plantqc.charting.runner import SpcEngine
from plantqc.quality import GOOD_BELOW
from plantqc.reports.issue import generate_report
from plantqc.reports.sign import verify_report
from plantqc.store import SampleRow, insert_samples, read_samples
from plantqc.store.models import ImageResult, Profile
from spc.rules import resolve_rules


def _same(actual: Any, expected: Any) -> None:
    """Equal after a JSON round trip (tuples become lists), floats to 1e-12 relative."""
    if isinstance(expected, dict):
        assert set(actual) == set(expected)
        for key in expected:
            _same(actual[key], expected[key])
    elif isinstance(expected, list | tuple):
        assert len(actual) == len(expected)
        for a, e in zip(actual, expected, strict=True):
            _same(a, e)
    elif isinstance(expected, float):
        assert actual == pytest.approx(expected, rel=1e-12, abs=1e-12)
    else:
        assert actual == expected


@pytest.fixture
def issued(store: Engine, tmp_path: Path) -> tuple[Engine, dict[str, Any], dict[str, int]]:
    loaded = casting_config(tmp_path)
    tags = store_lot(store, loaded.config, images_dir=tmp_path / "images")
    SpcEngine(store).process_all()  # the line ran: the engine charted the lot
    report = generate_report(store, "LOT-0001", tmp_path / "out", loaded=loaded)
    doc = json.loads((report.folder / "report.json").read_text())
    return store, doc, tags


def _rows(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {row["key"]: row for row in doc["characteristics"]}


def _good_values(engine: Engine, doc: dict[str, Any], tag_id: int) -> np.ndarray:
    start = datetime.fromisoformat(doc["range"]["start"])
    end = datetime.fromisoformat(doc["range"]["end"])
    return read_samples(engine, tag_id, start, end, good_only=True)["value"].to_numpy()


def test_process_statistics_and_capability_equal_spc_on_the_stored_samples(issued) -> None:
    engine, doc, tags = issued
    subgrouped = {"dry_thickness_um": 5}  # xbar-s: within sigma sbar/c4 of subgroups of 5
    for name in ("web_speed_m_min", "dryer_zone1_temp_c", "dew_point_c", "dry_thickness_um",
                 "pump_rate_ml_min", "slurry_viscosity_mpa_s"):  # fmt: skip
        row = _rows(doc)[f"tag:{name}"]
        values = _good_values(engine, doc, tags[name])
        assert row["n"] == values.size == 600
        assert row["mean"] == pytest.approx(np.mean(values), rel=1e-12)
        assert row["std"] == pytest.approx(np.std(values, ddof=1), rel=1e-12)
        assert (row["min"], row["max"]) == (values.min(), values.max())
        size = subgrouped.get(name)
        labels = np.arange(values.size) // size if size else None
        within = "std" if size else "range"
        expected = spc.capability(
            values, labels, lsl=row["lsl"], usl=row["usl"], target=row["target"], within=within
        )
        _same(row["capability"], expected.to_dict())
        assert row["normal"] == (expected.normality["p_value"] >= 0.05)
        below = np.sum(values < row["lsl"]) if row["lsl"] is not None else 0
        assert row["out_of_spec"] == below + np.sum(values > row["usl"])


def test_xbar_s_capability_uses_the_xbar_s_charts_sigma(issued) -> None:
    # Montgomery §6.3: an X-bar/S chart estimates sigma as s-bar / c4(n); the capability study
    # of its characteristic uses that estimate (not R-bar / d2, the X-bar/R chart's).
    engine, doc, tags = issued
    values = _good_values(engine, doc, tags["dry_thickness_um"])
    study = _rows(doc)["tag:dry_thickness_um"]["capability"]
    chart = spc.xbar_s(values, np.arange(values.size) // 5)
    assert study["sigma_method"] == chart.sigma_method == "sbar/c4"
    assert study["sigma_within"] == pytest.approx(chart.sigma, rel=1e-12)


def test_charts_run_on_the_limits_they_learned_with_the_engines_rules(issued) -> None:
    # Until phase I limits are frozen a chart learns them from its baseline (25 subgroups of
    # an X-bar chart, 100 individuals): phase I of those points (Montgomery §6.2.1; X-bar
    # limits center +/- 3 sigma / sqrt(n), eq. 6.4), then no sigma-zone rules on them (their
    # sigma is not yet an approved process estimate).
    engine, doc, tags = issued
    thickness = _rows(doc)["tag:dry_thickness_um"]["chart"]
    (limits,) = thickness["limits"]
    assert (limits["basis"], limits["frozen"]) == ("provisional", False)
    values = _good_values(engine, doc, tags["dry_thickness_um"])
    first = spc.phase_one(spc.xbar_s, values[:125].reshape(25, 5), rules="none").charts.limits
    assert limits["center"] == pytest.approx(first.center, rel=1e-12)
    assert limits["ucl"] == pytest.approx(first.center + 3 * first.sigma / math.sqrt(5))
    assert thickness["points"] == limits["points"] == 120
    (zone,) = _rows(doc)["tag:dryer_zone1_temp_c"]["chart"]["limits"]
    values = _good_values(engine, doc, tags["dryer_zone1_temp_c"])
    learned = spc.phase_one(spc.imr, values[:100], rules="none").charts.limits
    sigma = learned.sigma
    assert (zone["lcl"], zone["ucl"]) == pytest.approx(
        (learned.center - 3 * sigma, learned.center + 3 * sigma), rel=1e-12
    )
    rules = [r for r in resolve_rules("nelson") if r not in ZONE_RULES]
    after = values[100:]
    charts = spc.imr(after, limits=spc.ShewhartLimits(learned.center, sigma, "given"), rules=rules)
    # signals of the I and the MR chart together, per rule, from the first point after the
    # baseline (the engine does not judge the baseline on the limits it gave)
    expected = Counter(v.code for chart in charts.charts.values() for v in chart.violations)
    assert zone["violations"] == _rows(doc)["tag:dryer_zone1_temp_c"]["chart"]["violations"]
    assert zone["violations"] == expected


def test_image_characteristics_are_the_means_of_the_vision_documents(issued) -> None:
    engine, doc, _ = issued
    with engine.connect() as connection:
        stored = connection.execute(select(ImageResult.analysis, ImageResult.metrics)).all()
    kinds = ("particles", "thickness", "defects")
    documents = {kind: [m for a, m in stored if a == kind] for kind in kinds}
    rows = _rows(doc)
    expected = {
        "image:casting-1-sem-topview.filler_wt_pct": [
            d["loading"]["wt_pct"] for d in documents["particles"]
        ],
        "image:casting-1-sem-topview.agglomerate_area_fraction": [
            d["agglomerates"]["area_fraction"] for d in documents["particles"]
        ],
        "image:casting-1-sem-topview.dispersion_index": [
            d["dispersion"]["morisita_index"] for d in documents["particles"]
        ],
        "image:casting-1-cross-section.mean_thickness_um": [
            d["thickness_um"]["mean"] for d in documents["thickness"]
        ],
        "image:casting-1-web-camera.defects_per_m2": [
            d["defects_per_m2"] for d in documents["defects"]
        ],
    }
    for key, values in expected.items():
        assert rows[key]["n"] == len(values)
        assert rows[key]["mean"] == pytest.approx(np.mean(values), rel=1e-12)
    # the recipe's 20 wt% +/- reports.loading_tolerance_wt_pct (5) when the config gives no spec
    loading = rows["image:casting-1-sem-topview.filler_wt_pct"]
    assert (loading["lsl"], loading["target"], loading["usl"]) == (15.0, 20.0, 25.0)


def test_cd_uniformity_is_the_mean_two_sigma_of_spc_profile_statistics(issued) -> None:
    engine, doc, tags = issued
    with engine.connect() as connection:
        scans = [
            list(v)
            for v in connection.scalars(
                select(Profile.values)
                .where(
                    Profile.tag_id == tags["dry_thickness_profile_um"],
                    Profile.status < GOOD_BELOW,
                )
                .order_by(Profile.ts)
            )
        ]
    statistics = spc.profile_statistics(np.array(scans))
    row = _rows(doc)["profile:dry_thickness_profile_um.two_sigma"]
    assert row["n"] == len(scans) == 120
    assert row["mean"] == pytest.approx(statistics["two_sigma"].mean(), rel=1e-12)
    assert row["usl"] == (53 - 47) / 2  # default: half the spec width
    # the scan means on the profile's EWMA chart, one point per scan, and the 2-sigma chart,
    # each on the limits the engine learned from its first 100 scans (phase I of an I-MR
    # chart, Montgomery §6.4)
    mean_chart = _rows(doc)["profile:dry_thickness_profile_um.mean"]["chart"]
    assert (mean_chart["chart"], mean_chart["points"]) == ("ewma", 120)
    means = spc.phase_one(spc.imr, statistics["mean"].to_numpy()[:100], rules="none")
    assert mean_chart["limits"][0]["center"] == pytest.approx(means.charts.limits.center)
    first = spc.phase_one(spc.imr, statistics["two_sigma"].to_numpy()[:100], rules="none")
    (provisional,) = row["chart"]["limits"]
    assert (provisional["basis"], provisional["points"]) == ("provisional", 120)
    assert provisional["center"] == pytest.approx(first.charts.limits.center, rel=1e-12)
    assert provisional["sigma"] == pytest.approx(first.charts.limits.sigma, rel=1e-12)


def test_data_hash_is_recomputed_from_the_store(issued) -> None:
    engine, doc, _ = issued
    result = verify_report(engine, doc["id"])
    assert result.matches and result.recorded == doc["data_hash"]


def test_data_hash_changes_with_a_sample_in_the_range_only(issued) -> None:
    engine, doc, tags = issued
    tag = tags["web_speed_m_min"]
    insert_samples(engine, [SampleRow(tag, T0 + timedelta(hours=5), 2.0)])  # after the lot
    assert verify_report(engine, doc["id"]).matches
    insert_samples(engine, [SampleRow(tag, T0 + timedelta(seconds=100.5), 2.0)])
    assert not verify_report(engine, doc["id"]).matches


def test_bad_quality_samples_are_left_out(sqlite_store: Engine, tmp_path: Path) -> None:
    loaded = casting_config(tmp_path)
    tags = store_lot(sqlite_store, loaded.config)
    bad = [SampleRow(tags["web_speed_m_min"], T0 + timedelta(seconds=i + 0.5), 99.0, 0x80000000)
           for i in range(10)]  # fmt: skip
    insert_samples(sqlite_store, bad)
    report = generate_report(sqlite_store, "LOT-0001", tmp_path / "out", loaded=loaded)
    row = _rows(json.loads((report.folder / "report.json").read_text()))["tag:web_speed_m_min"]
    assert row["n"] == 600 and row["max"] < 3.0
