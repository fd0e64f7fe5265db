"""`plantqc report`: issue, compare, sign and verify from the command line; errors in one
sentence with exit status 2."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from report_helpers import LINE, T0, store_lot, write_config
from sqlalchemy import Engine
from typer.testing import CliRunner

import spc
from plantqc.cli import app
from plantqc.cli.report_cmd import expand_compare
from plantqc.config import load_config
from plantqc.store import find_tag
from plantqc.store.lots import record_lot


def _run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["report", *args])
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def cli_db(sqlite_store: Engine, lot: dict[str, int], tmp_path: Path) -> list[str]:
    """``--db URL --config FILE`` of a store holding LOT-0001."""
    return ["--db", str(sqlite_store.url), "--config", str(write_config(tmp_path))]


def test_report_writes_html_and_json_and_prints_the_decision(cli_db: list[str], tmp_path: Path):
    code, out, _ = _run("--lot", "LOT-0001", "--out", str(tmp_path / "out"), *cli_db)
    assert code == 0
    assert out.startswith("issued QC-000001 version 1: RELEASE")
    assert (tmp_path / "out" / "report.html").is_file()
    assert json.loads((tmp_path / "out" / "report.json").read_text())["version"] == 1


def test_sign_and_verify_commands(cli_db: list[str], tmp_path: Path) -> None:
    _run("--lot", "LOT-0001", "--out", str(tmp_path / "out"), *cli_db)
    code, out, _ = _run("sign", "--report", "QC-000001", "--role", "reviewer", "--user", "qe.lee",
                        *cli_db)  # fmt: skip
    assert (code, out.strip()) == (
        0,
        "signed QC-000001 version 1 as reviewer by qe.lee; status reviewed",
    )
    code, out, _ = _run("verify", "--report", "1", *cli_db)
    assert code == 0 and out.startswith("QC-000001: data unchanged")


def test_a_lot_without_data_is_one_sentence_and_exit_2(
    sqlite_store: Engine, cli_db: list[str], tmp_path: Path
) -> None:
    line_id = find_tag(sqlite_store, LINE, "dry_thickness_um").line_id
    record_lot(sqlite_store, line_id, "EMPTY", T0 - timedelta(hours=2), None)
    record_lot(sqlite_store, line_id, "AFTER-EMPTY", T0 - timedelta(hours=1), None)
    code, _, err = _run("--lot", "EMPTY", "--out", str(tmp_path / "out"), *cli_db)
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("error: lot 'EMPTY' on line 'casting-1'")
    assert err.rstrip().endswith("there is nothing to report.")
    assert not (tmp_path / "out").exists()


def test_an_unknown_lot_is_one_sentence_and_exit_2(cli_db: list[str], tmp_path: Path) -> None:
    code, _, err = _run("--lot", "NOPE", "--out", str(tmp_path / "out"), *cli_db)
    assert code == 2
    assert err.startswith("error: the database has no lot 'NOPE'; its lots are: LOT-0001")


@pytest.fixture
def compared(sqlite_store: Engine, cli_db: list[str], tmp_path: Path) -> tuple[dict, str]:
    """LOT-0001 and LOT-0002 (dry thickness 0.5 um higher) compared: compare.json and .html."""
    store_lot(sqlite_store, load_config(write_config(tmp_path)).config, "LOT-0002",
              start=T0 + timedelta(hours=1), seed=2, shift={"dry_thickness_um": 0.5})  # fmt: skip
    out = tmp_path / "cmp"
    code, stdout, _ = _run("--compare", "LOT-0001", "LOT-0002", "--out", str(out), *cli_db)
    assert code == 0 and stdout.startswith("compared 2 lots")
    return json.loads((out / "compare.json").read_text()), (out / "compare.html").read_text()


def test_compare_shows_lots_side_by_side(compared: tuple[dict, str]) -> None:
    document, html = compared
    lots = document["lots"]
    assert [lot["lot"] for lot in lots] == ["LOT-0001", "LOT-0002"]
    means = [lot["characteristics"]["tag:dry_thickness_um"]["mean"] for lot in lots]
    assert means[1] - means[0] == pytest.approx(0.5, abs=0.1)
    assert "LOT-0001" in html and "LOT-0002" in html and "dry_thickness_um" in html


def test_compare_gives_the_spread_of_lot_means_as_a_share_of_the_tolerance(
    compared: tuple[dict, str],
) -> None:
    document, _ = compared
    rows = [lot["characteristics"]["tag:dry_thickness_um"] for lot in document["lots"]]
    between = document["between_lots"]["tag:dry_thickness_um"]
    spread = abs(rows[1]["mean"] - rows[0]["mean"])
    assert between["mean_spread"] == pytest.approx(spread, rel=1e-12)
    # spec 47 .. 53 um: a tolerance of 6 um
    assert between["spread_pct_of_tolerance"] == pytest.approx(100 * spread / 6, rel=1e-12)
    assert between["spec_differs"] is False


def test_compare_tests_the_lot_means_by_a_one_way_anova(compared: tuple[dict, str]) -> None:
    document, _ = compared
    rows = [lot["characteristics"]["tag:dry_thickness_um"] for lot in document["lots"]]
    expected = spc.oneway_anova_from_summary(
        [r["mean"] for r in rows], [r["std"] for r in rows], [r["n"] for r in rows]
    )
    anova = document["between_lots"]["tag:dry_thickness_um"]["anova"]
    assert anova == pytest.approx(expected.to_dict(), rel=1e-12)
    assert anova["p_value"] < 1e-6  # 0.5 um apart at sigma 0.5 with 600 values a lot


def test_compare_takes_the_lots_after_one_option() -> None:
    assert expand_compare(["--compare", "A", "B", "--out", "x"]) == [
        "--compare", "A", "--compare", "B", "--out", "x",
    ]  # fmt: skip
    assert expand_compare(["--compare", "--out", "x"]) == ["--compare", "--out", "x"]
    assert expand_compare(["sign", "--report", "1"]) == ["sign", "--report", "1"]
