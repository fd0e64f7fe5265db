"""The certificate-of-analysis and capability tables: every individual value judged against the
spec, the HTML showing exactly the numbers of report.json, in units and figures a quality
engineer reads."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from report_helpers import Tables, casting_config, store_lot
from sqlalchemy import Engine, select

from plantqc.config import LoadedConfig
from plantqc.reports.compute import unit_symbol
from plantqc.reports.issue import generate_report
from plantqc.reports.settings import ReportSettings
from plantqc.store import read_samples
from plantqc.store.models import ImageResult

DIGITS = {"num": 4, "mean": 5, "pct": 3, "index": 3}
"""Significant digits the report prints: numbers, means, shares in %, capability indices."""


def _issue(engine: Engine, loaded: LoadedConfig, out: Path) -> tuple[dict[str, Any], Tables]:
    report = generate_report(engine, "LOT-0001", out, loaded=loaded)
    doc = json.loads((report.folder / "report.json").read_text())
    return doc, Tables(report.html.read_text())


def _printed(text: str, value: float | None, digits: int) -> None:
    """``text`` is ``value`` rounded to ``digits`` significant digits, or a dash for None."""
    if value is None:
        assert text == "–"
    else:
        assert float(text) == pytest.approx(value, rel=0.5 * 10 ** (1 - digits), abs=1e-300)


@pytest.fixture
def report(
    sqlite_store: Engine, config: LoadedConfig, lot: dict[str, int], tmp_path: Path
) -> tuple[dict[str, Any], Tables]:
    return _issue(sqlite_store, config, tmp_path / "out")


def test_values_out_of_spec_fail_a_characteristic_whose_mean_is_in_spec(
    sqlite_store: Engine, tmp_path: Path
) -> None:
    # dryer zone at 50 + 5/3 degC with sigma 1/3: the mean is 1 sigma below the USL of 52, so
    # about 16 % of the values (P(z > 1) = 15.9 %) lie above it
    loaded = casting_config(tmp_path)
    tags = store_lot(sqlite_store, loaded.config, shift={"dryer_zone1_temp_c": 5 / 3})
    doc, tables = _issue(sqlite_store, loaded, tmp_path / "out")
    values = read_samples(sqlite_store, tags["dryer_zone1_temp_c"])["value"].to_numpy()
    above = int((values > 52).sum())
    row = next(r for r in doc["characteristics"] if r["key"] == "tag:dryer_zone1_temp_c")
    assert 48 < row["mean"] < 52
    assert (row["out_of_spec"], row["out_of_spec_pct"]) == (above, 100 * above / 600)
    assert (row["min"], row["max"]) == (values.min(), values.max())
    assert row["verdict"] == "fail"
    assert row["failures"] == [
        f"{above} of 600 values ({100 * above / 600:.3g} %) are outside the spec [48, 52] °C, "
        "more than the 0 % allowed"
    ]
    cells = tables.table("coa")["tag:dryer_zone1_temp_c"]
    assert cells[8] == f"{above} ({100 * above / 600:.3g} %)"
    assert cells[9] == "fail"


def test_coa_table_in_the_html_shows_the_numbers_of_report_json(report) -> None:
    doc, tables = report
    coa = tables.table("coa")
    assert list(coa) == [row["key"] for row in doc["characteristics"]]
    for row in doc["characteristics"]:
        name, unit, lsl, target, usl, mean, span, n, out, verdict = coa[row["key"]]
        assert name.startswith(row["name"])
        assert unit == unit_symbol(row["unit"])
        for text, key in ((lsl, "lsl"), (target, "target"), (usl, "usl")):
            _printed(text, row[key], DIGITS["num"])
        _printed(mean, row["mean"], DIGITS["mean"])
        low, high = span.split(" – ")
        _printed(low, row["min"], DIGITS["num"])
        _printed(high, row["max"], DIGITS["num"])
        assert int(n) == row["n"]
        if row["out_of_spec_pct"] is None:
            assert out == "–"
        else:
            count, pct = out.removesuffix(" %)").split(" (")
            assert int(count) == row["out_of_spec"]
            _printed(pct, row["out_of_spec_pct"], DIGITS["pct"])
        assert verdict == row["verdict"]


def test_capability_table_shows_the_indices_and_their_intervals_of_report_json(report) -> None:
    doc, tables = report
    shown = tables.table("capability")
    studies = [row for row in doc["characteristics"] if row["capability"]]
    assert studies
    for row in studies:
        study = row["capability"]
        cells = shown[row["key"]]
        for cell, index in zip(cells[4:8], ("cp", "cpk", "pp", "ppk"), strict=True):
            value, *interval = cell.split("\n")
            _printed(value, study[index], DIGITS["index"])
            if index in study["ci"]:
                low, high = interval[0].strip("[]").split(", ")
                _printed(low, study["ci"][index][0], DIGITS["index"])
                _printed(high, study["ci"][index][1], DIGITS["index"])
            else:
                assert interval == []


def test_expected_ppm_prints_below_one_hundredth_as_such_and_thousands_whole(report) -> None:
    # the CD 2-sigma row: its USL of 3 um is about 23 sigma above its mean of 0.79 um, a
    # normal tail of 4.5e-121 ppm; the dryer zone, nominally 6 sigma from each limit (0.0018
    # ppm, Montgomery Table 8.2), comes out at 0.017 ppm with its estimated mean and sigma
    doc, tables = report
    rows = {row["key"]: row for row in doc["characteristics"]}
    shown = tables.table("capability")
    tiny = rows["profile:dry_thickness_profile_um.two_sigma"]["capability"]["nonconforming_ppm"]
    assert 0 < tiny["within_total"] < 1e-100  # report.json keeps the number
    assert shown["profile:dry_thickness_profile_um.two_sigma"][9].startswith("< 0.01\n")
    zone = rows["tag:dryer_zone1_temp_c"]["capability"]["nonconforming_ppm"]["within_total"]
    assert 0.01 <= zone < 1000
    _printed(shown["tag:dryer_zone1_temp_c"][9].split("\n")[0], zone, 3)
    assert shown["tag:dryer_zone1_temp_c"][9].endswith("\nobserved 0")  # none observed: exact
    # three particle images far from capable: thousands of ppm, printed whole
    particles = rows["image:casting-1-sem-topview.filler_wt_pct"]["capability"]
    many = particles["nonconforming_ppm"]["within_total"]
    assert many >= 1000
    printed = shown["image:casting-1-sem-topview.filler_wt_pct"][9].split("\n")[0]
    assert "," in printed and int(printed.replace(",", "")) == round(many)


def test_units_print_as_symbols_in_the_html_and_as_configured_in_report_json(report) -> None:
    doc, tables = report
    rows = {row["key"]: row for row in doc["characteristics"]}
    coa = tables.table("coa")
    assert (rows["tag:dry_thickness_um"]["unit"], coa["tag:dry_thickness_um"][1]) == ("um", "µm")
    assert (rows["tag:dryer_zone1_temp_c"]["unit"], coa["tag:dryer_zone1_temp_c"][1]) == (
        "degC",
        "°C",
    )
    assert not [cells for cells in coa.values() if cells[1] in ("um", "degC")]


def test_capability_from_fewer_than_capability_min_n_values_is_marked_indicative(report) -> None:
    # three particle images: a study of 3 values, below the default capability_min_n of 30
    doc, tables = report
    rows = {row["key"]: row for row in doc["characteristics"]}
    shown = tables.table("capability")
    loading = "image:casting-1-sem-topview.filler_wt_pct"
    assert (rows[loading]["capability"]["n"], rows[loading]["capability_indicative"]) == (3, True)
    assert shown[loading][0].endswith("indicative: n < 30")
    assert rows["tag:web_speed_m_min"]["capability_indicative"] is False
    assert "indicative" not in shown["tag:web_speed_m_min"][0]


def test_each_images_value_is_an_individual_value_against_the_spec(
    sqlite_store: Engine, config: LoadedConfig, lot: dict[str, int], tmp_path: Path
) -> None:
    # with reports.loading_tolerance_wt_pct = 2 the recipe's loading spec is 20 +/- 2 wt%
    narrow = config.config.model_copy(
        update={"reports": ReportSettings(loading_tolerance_wt_pct=2.0)}
    )
    doc, tables = _issue(sqlite_store, replace(config, config=narrow), tmp_path / "out")
    with sqlite_store.connect() as connection:
        documents = connection.scalars(
            select(ImageResult.metrics).where(ImageResult.analysis == "particles")
        ).all()
    loadings = np.array([d["loading"]["wt_pct"] for d in documents])
    outside = int(((loadings < 18) | (loadings > 22)).sum())
    key = "image:casting-1-sem-topview.filler_wt_pct"
    row = next(r for r in doc["characteristics"] if r["key"] == key)
    assert 18 < row["mean"] < 22
    assert (row["n"], row["out_of_spec"], row["verdict"]) == (3, outside, "fail")
    assert (row["min"], row["max"]) == (loadings.min(), loadings.max())
    assert tables.table("coa")[key][8] == f"{outside} ({100 * outside / 3:.3g} %)"
