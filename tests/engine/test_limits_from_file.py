"""`plantqc limits estimate|freeze --from-file`: phase I limits from a recorded in-control
period in the replay format, its points formed as the engine forms them from the store."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
from engine_helpers import T0
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from plantqc.charting.catalog import load_charts
from plantqc.charting.phase1 import estimate_limits, estimate_recording, recorded_charts
from plantqc.cli import app
from plantqc.config import load_config
from plantqc.connectors.replay import read_recording
from plantqc.store import SampleRow, TagRef, insert_samples, sync_config
from plantqc.store.models import AuditLog, ControlLimits
from plantqc.users import add_user

runner = CliRunner()
PASSWORD = "correct horse battery"
# x_imr: 10, 11, 10, 11 ... (20 values, mean 10.5, every moving range 1) then the outlier 20
HAND = [10.0, 11.0] * 10 + [20.0]


def _hand_csv(path: Path) -> Path:
    """`HAND` on line-1/x_imr one second apart from T0, with rows that do not count: a Bad
    and an Uncertain sample (stored, never charted), an unknown tag and an unparsable value
    (rejected, as replay rejects them), and 5 samples of no_spec (too few for phase I)."""
    rows = ["line,tag,source_time,value,status"]
    rows += [
        f"line-1,x_imr,{(T0 + timedelta(seconds=i)).isoformat()},{v},Good"
        for i, v in enumerate(HAND)
    ]
    rows += [
        f"line-1,x_imr,{(T0 + timedelta(seconds=30)).isoformat()},99,Bad",
        f"line-1,x_imr,{(T0 + timedelta(seconds=31)).isoformat()},-99,Uncertain",
        f"line-1,nope,{T0.isoformat()},1,Good",
        f"line-1,x_imr,{(T0 + timedelta(seconds=32)).isoformat()},abc,Good",
    ]
    rows += [f"line-1,no_spec,{(T0 + timedelta(seconds=i)).isoformat()},{i},Good" for i in range(5)]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def _hand_estimate(output: str) -> dict[str, object]:
    charts = json.loads(output)["charts"]
    return next(c for c in charts if c["tag"] == "line-1/x_imr")


def test_limits_from_a_file_equal_the_hand_computed_revised_limits(
    tmp_path: Path, config_path: Path
) -> None:
    csv = _hand_csv(tmp_path / "in-control.csv")
    result = runner.invoke(
        app, ["limits", "estimate", "--from-file", str(csv), "--config", str(config_path), "--json"]
    )
    assert result.exit_code == 0, result.output
    x = _hand_estimate(result.output)
    # Montgomery §6.2.1 revised limits by hand.  Trial: mean 230/21, MR-bar (19 * 1 + 9) / 20 =
    # 1.4, UCL 10.952 + 3 * 1.4 / d2(2) = 14.67 < 20, and MR 9 > D4 MR-bar = 4.57: the outlier
    # goes.  Revised on the 20 others: mean 10.5, MR-bar 1, sigma = 1 / d2(2) with the closed
    # form d2(2) = 2 / sqrt(pi), i.e. sqrt(pi) / 2; limits 10.5 -/+ 3 sqrt(pi) / 2, nothing
    # else beyond them.
    sigma = 3.141592653589793**0.5 / 2
    assert x["center"] == 10.5
    assert x["sigma"] == pytest.approx(sigma, rel=1e-12)
    assert (x["lcl"], x["ucl"]) == pytest.approx((10.5 - 3 * sigma, 10.5 + 3 * sigma), rel=1e-12)
    assert (x["n_used"], x["n_total"], x["iterations"]) == (20, 21, 1)
    assert x["excluded"] == [{"ts": (T0 + timedelta(seconds=20)).isoformat(), "value": 20.0}]


def test_rejected_rows_of_the_file_are_counted_with_their_row_numbers(
    tmp_path: Path, config_path: Path
) -> None:
    csv = _hand_csv(tmp_path / "in-control.csv")
    result = runner.invoke(
        app, ["limits", "estimate", "--from-file", str(csv), "--config", str(config_path), "--json"]
    )
    figures = json.loads(result.output)
    assert figures["rows"] == 30
    assert [r["row"] for r in figures["rejected"]] == [24, 25]


def test_a_chart_with_too_few_points_says_so_and_the_others_still_print(
    tmp_path: Path, config_path: Path
) -> None:
    csv = _hand_csv(tmp_path / "in-control.csv")
    result = runner.invoke(
        app, ["limits", "estimate", "--from-file", str(csv), "--config", str(config_path)]
    )
    assert result.exit_code == 0, result.output
    assert "line-1/x_imr (imr): center 10.5," in result.output
    assert (
        "line-1/no_spec (imr) has 5 points of Good samples in in-control.csv; phase I needs "
        "at least 20.\n" in result.output
    )


def test_one_tag_of_the_file_with_too_few_points_is_one_sentence_and_fails(
    tmp_path: Path, config_path: Path
) -> None:
    csv = _hand_csv(tmp_path / "in-control.csv")
    result = runner.invoke(
        app,
        ["limits", "estimate", "--from-file", str(csv), "--config", str(config_path),
         "--tag", "line-1/no_spec"],
    )  # fmt: skip
    assert result.exit_code == 2
    assert result.output.endswith("phase I needs at least 20.\n")
    assert "Traceback" not in result.output


def test_limits_frozen_from_a_file_are_valid_from_just_after_its_last_sample_and_audited(
    tmp_path: Path, config_path: Path, sqlite_store: Engine, sqlite_tags: dict[str, TagRef]
) -> None:
    csv = _hand_csv(tmp_path / "in-control.csv")
    db = sqlite_store.url.render_as_string(hide_password=False)
    add_user(sqlite_store, "q.eng", "quality", PASSWORD, by="root", full_name="Quinn Eng")
    result = runner.invoke(
        app,
        ["limits", "freeze", "--from-file", str(csv), "--config", str(config_path), "--db", db,
         "--user", "q.eng", "--password-stdin"],
        input=PASSWORD + "\n",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "frozen as version 1 of line-1/x_imr, signed approved by Quinn Eng (q.eng)" in (
        result.output
    )
    with Session(sqlite_store) as session:
        row = session.scalars(
            select(ControlLimits).where(ControlLimits.tag_id == sqlite_tags["x_imr"].tag_id)
        ).one()
        audit = session.scalars(select(AuditLog).where(AuditLog.action == "limits-freeze")).one()
    # the file's last sample is the Uncertain one at T0 + 31 s (the unparsable row has none)
    last = T0 + timedelta(seconds=31)
    assert (row.basis, row.frozen_by, row.center, row.n_used) == ("phase1", "q.eng", 10.5, 20)
    assert row.valid_from.replace(tzinfo=T0.tzinfo) == last + timedelta(microseconds=1)
    assert audit.detail["tag"] == "x_imr" and audit.detail["version"] == 1


def test_limits_from_a_sim_recording_equal_those_from_the_same_samples_in_the_store(
    tmp_path: Path, config_path: Path, sqlite_store: Engine
) -> None:
    out = tmp_path / "history.csv"
    recorded = runner.invoke(
        app,
        ["sim", "record", "--config", str(config_path), "--hours", "0.1", "--seed", "3",
         "--start", T0.isoformat(), "--out", str(out)],
    )  # fmt: skip
    assert recorded.exit_code == 0, recorded.output
    config = load_config(config_path).config
    scalar = {line.name: [t.name for t in line.tags if t.kind == "scalar"] for line in config.lines}
    recording = read_recording(out, scalar)
    refs = sync_config(sqlite_store, config)
    insert_samples(
        sqlite_store,
        [
            SampleRow(refs[(r.line, r.tag)].tag_id, r.ts, r.value, r.status)
            for r in recording.readings
        ],
    )
    stored = {(c.line, c.tag): c for c in load_charts(sqlite_store).values()}
    from_file = estimate_recording(recording, recorded_charts(config), out.name)
    estimated = {(c.chart, c.subgroup_by) for c, e in from_file if not isinstance(e, Exception)}
    assert estimated == {
        ("imr", "count"), ("xbar-r", "count"), ("ewma", "count"), ("cusum", "count"),
        ("xbar-s", "time"),
    }  # fmt: skip
    for chart, estimate in from_file:
        if isinstance(estimate, Exception):
            assert chart.subgroup_by == "roll", estimate  # a recording holds no rolls
            continue
        in_store = estimate_limits(
            sqlite_store, stored[(chart.line, chart.tag)], estimate.data_from, estimate.data_to
        )
        assert in_store == estimate


def test_a_chart_subgrouped_by_roll_has_no_limits_from_a_file_and_says_why(
    tmp_path: Path, config_path: Path
) -> None:
    # a recording holds samples, not the rolls their subgroups would be formed by
    csv = tmp_path / "rolls.csv"
    rows = ["line,tag,source_time,value"] + [
        f"line-2,z_roll,{(T0 + timedelta(seconds=i)).isoformat()},{10 + i % 2}" for i in range(40)
    ]
    csv.write_text("\n".join(rows) + "\n", encoding="utf-8")
    result = runner.invoke(
        app,
        ["limits", "estimate", "--from-file", str(csv), "--config", str(config_path),
         "--tag", "line-2/z_roll"],
    )  # fmt: skip
    assert result.exit_code == 2
    assert "line-2/z_roll (ewma) is subgrouped by roll and rolls.csv holds no rolls;" in (
        result.output
    )


def test_limits_from_a_file_without_its_config_is_one_sentence(tmp_path: Path) -> None:
    csv = _hand_csv(tmp_path / "in-control.csv")
    result = runner.invoke(app, ["limits", "estimate", "--from-file", str(csv)])
    assert result.exit_code == 2
    assert "--from-file needs --config CFG" in result.output
    assert "Traceback" not in result.output


def test_a_chart_whose_recorded_points_do_not_vary_has_no_limits_and_says_why(
    tmp_path: Path, config_path: Path
) -> None:
    # a line model's constant speed: sigma 0 would put every later point beyond its limits
    csv = tmp_path / "constant.csv"
    rows = ["line,tag,source_time,value"] + [
        f"line-1,x_imr,{(T0 + timedelta(seconds=i)).isoformat()},2.0" for i in range(30)
    ]
    csv.write_text("\n".join(rows) + "\n", encoding="utf-8")
    result = runner.invoke(
        app,
        ["limits", "estimate", "--from-file", str(csv), "--config", str(config_path),
         "--tag", "line-1/x_imr"],
    )  # fmt: skip
    assert result.exit_code == 2
    assert result.output.endswith(
        "line-1/x_imr (imr): its 30 points in constant.csv do not vary (sigma 0), so they give "
        "no limits to chart against.\n"
    )


def test_limits_from_autocorrelated_points_come_with_a_warning(
    tmp_path: Path, config_path: Path
) -> None:
    # AR(1) with phi 0.9: MR-bar / d2 sees about sqrt(1 - phi) of the spread over time
    # (Montgomery §10.4), so limits on it alarm far more often than designed
    rng = np.random.default_rng(1)
    x = np.zeros(300)
    for i in range(1, x.size):
        x[i] = 0.9 * x[i - 1] + rng.standard_normal()
    csv = tmp_path / "wander.csv"
    rows = ["line,tag,source_time,value"] + [
        f"line-1,x_imr,{(T0 + timedelta(seconds=i)).isoformat()},{10 + v}" for i, v in enumerate(x)
    ]
    csv.write_text("\n".join(rows) + "\n", encoding="utf-8")
    args = ["limits", "estimate", "--from-file", str(csv), "--config", str(config_path)]
    figures = _hand_estimate(runner.invoke(app, [*args, "--json"]).output)
    # r1 as Box & Jenkins define it, on the values as written (the file's every point)
    d = (10 + x) - (10 + x).mean()
    assert figures["lag1"] == pytest.approx(np.sum(d[1:] * d[:-1]) / np.sum(d * d), rel=1e-9)
    assert figures["autocorrelated"] is True
    assert "its points are autocorrelated (lag-1 0." in runner.invoke(app, args).output


def test_limits_from_independent_points_come_without_the_warning(
    tmp_path: Path, config_path: Path
) -> None:
    csv = _hand_csv(tmp_path / "in-control.csv")  # alternating: lag-1 negative
    args = ["limits", "estimate", "--from-file", str(csv), "--config", str(config_path)]
    assert _hand_estimate(runner.invoke(app, [*args, "--json"]).output)["autocorrelated"] is False
    assert "autocorrelated" not in runner.invoke(app, args).output
