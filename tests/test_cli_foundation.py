"""`plantqc config check`, `db upgrade` and `export samples` as a user runs them."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from plantqc.cli import app
from plantqc.config import load_config
from plantqc.store import SampleRow, connect, insert_samples, sync_config
from plantqc.store.migrate import head_revision

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
T0 = datetime(2026, 11, 22, 8, 0, tzinfo=UTC)
runner = CliRunner()


def run(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.output


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    """A migrated SQLite store holding 5 dry-thickness samples, the second one Bad."""
    url = f"sqlite:///{tmp_path / 'plant.db'}"
    assert run("db", "upgrade", "--db", url, "--config", str(EXAMPLES / "casting.yaml"))[0] == 0
    engine = connect(url)
    ref = sync_config(engine, load_config(EXAMPLES / "casting.yaml").config)[
        ("casting-1", "dry_thickness_um")
    ]
    rows = [
        SampleRow(ref.tag_id, T0 + timedelta(seconds=i), 50.0 + i / 10, 0x80000000 if i == 1 else 0)
        for i in range(5)
    ]
    insert_samples(engine, rows)
    engine.dispose()
    return url


def test_config_check_accepts_an_example() -> None:
    code, output = run("config", "check", str(EXAMPLES / "casting.yaml"))
    assert code == 0
    assert "ok — site gigafactory-1, 1 line(s), 14 tag(s)" in output


def test_config_check_of_a_missing_file_is_one_sentence_and_exit_2(tmp_path: Path) -> None:
    code, output = run("config", "check", str(tmp_path / "nope.yaml"))
    assert code == 2
    assert output.strip() == f"error: config file {tmp_path / 'nope.yaml'} does not exist."


def test_db_upgrade_reports_the_revision(tmp_path: Path) -> None:
    code, output = run("db", "upgrade", "--db", f"sqlite:///{tmp_path / 'x.db'}")
    assert code == 0
    assert f"schema at revision {head_revision()}" in output


def test_db_upgrade_of_an_unreachable_server_is_exit_2() -> None:
    code, output = run("db", "upgrade", "--db", "postgresql+psycopg://postgres@127.0.0.1:9/x")
    assert code == 2
    assert output.startswith("error: cannot reach the database at postgresql+psycopg://")
    assert "Traceback" not in output


def test_export_csv_writes_utc_times_and_status_names(db_url: str) -> None:
    code, output = run(
        "export", "samples", "--db", db_url, "--line", "casting-1", "--tag", "dry_thickness_um"
    )
    assert code == 0
    assert output.splitlines()[:3] == [
        "line,tag,source_time,value,status",
        "casting-1,dry_thickness_um,2026-11-22T08:00:00.000000+00:00,50.0,Good",
        "casting-1,dry_thickness_um,2026-11-22T08:00:01.000000+00:00,50.1,Bad",
    ]


def test_export_json_honours_the_time_window(db_url: str) -> None:
    code, output = run(
        "export", "samples", "--db", db_url, "--line", "casting-1", "--tag", "dry_thickness_um",
        "--from", "2026-11-22T08:00:02Z", "--to", "2026-11-22T09:00:04+01:00", "--format", "json",
    )  # fmt: skip
    assert code == 0
    row = {"line": "casting-1", "tag": "dry_thickness_um", "status": "Good"}
    assert json.loads(output) == [
        {**row, "source_time": "2026-11-22T08:00:02.000000+00:00", "value": 50.2},
        {**row, "source_time": "2026-11-22T08:00:03.000000+00:00", "value": 50.3},
    ]


def test_export_parquet_to_a_file_round_trips(db_url: str, tmp_path: Path) -> None:
    out = tmp_path / "thickness.parquet"
    code, _ = run(
        "export", "samples", "--db", db_url, "--line", "casting-1", "--tag", "dry_thickness_um",
        "--format", "parquet", "--out", str(out),
    )  # fmt: skip
    assert code == 0
    frame = pd.read_parquet(io.BytesIO(out.read_bytes()))
    assert frame["value"].tolist() == [50.0, 50.1, 50.2, 50.3, 50.4]
    assert frame["status"].tolist() == ["Good", "Bad", "Good", "Good", "Good"]
    assert str(frame["source_time"].dt.tz) == "UTC"


def test_export_without_a_tag_writes_every_scalar_tag_of_the_line(db_url: str) -> None:
    code, output = run("export", "samples", "--db", db_url, "--line", "casting-1")
    assert code == 0
    # only dry thickness has samples; the daemon's own buffer-depth tag is never exported
    assert len(output.splitlines()) == 6
    assert {row.split(",")[1] for row in output.splitlines()[1:]} == {"dry_thickness_um"}


def test_export_of_an_unknown_tag_lists_the_tags(db_url: str) -> None:
    code, output = run("export", "samples", "--db", db_url, "--line", "casting-1", "--tag", "speed")
    assert code == 2
    assert output.startswith("error: line 'casting-1' has no tag 'speed'; its tags are: ")
    # line tags and the image-metric tags registered for the line's image inputs
    assert "dew_point_c, " in output
    assert "casting-1-sem-topview.agglomerate_area_fraction, " in output


def test_export_with_a_bad_time_is_exit_2(db_url: str) -> None:
    code, output = run(
        "export", "samples", "--db", db_url, "--line", "casting-1", "--tag", "dry_thickness_um",
        "--from", "yesterday",
    )  # fmt: skip
    assert code == 2
    assert output.strip() == (
        "error: --from 'yesterday' is not an ISO-8601 time such as 2026-11-22T08:00:00Z."
    )
