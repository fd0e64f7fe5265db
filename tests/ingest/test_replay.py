"""`plantqc replay`, `plantqc sim record` and the recording format `plantqc export` writes."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from ingest_helpers import EXAMPLES
from sqlalchemy import select
from typer.testing import CliRunner

from plantqc.buffer import Reading
from plantqc.cli import app
from plantqc.connectors.replay import (
    ReplayInput,
    parse_status,
    read_recording,
)
from plantqc.store import connect
from plantqc.store.models import Line, Sample, Tag

CASTING = EXAMPLES / "casting.yaml"
T0 = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
runner = CliRunner()
SCALAR = {"casting-1": ["dry_thickness_um", "dew_point_c"]}


def invoke(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.output


def stored(url: str) -> list[tuple[str, str, datetime, float | None, int]]:
    """Every sample of the store but the daemon's own, as (line, tag, time, value, status)."""
    engine = connect(url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                select(Line.name, Tag.name, Sample.ts, Sample.value, Sample.status)
                .join(Tag, Tag.id == Sample.tag_id)
                .join(Line, Line.id == Tag.line_id)
                .where(Tag.name != "daemon_buffer_depth")
                .order_by(Tag.name, Sample.ts)
            ).all()
    finally:
        engine.dispose()
    return [
        (a, b, ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts, v, s) for a, b, ts, v, s in rows
    ]


def test_status_cells_are_severities_names_or_codes() -> None:
    assert [parse_status(s) for s in ("", "Good", "uncertain", "BAD")] == [
        0,
        0,
        0x40000000,
        0x80000000,
    ]
    # OPC UA Part 6 StatusCode.csv: BadSensorFailure is 0x808C0000 (BadDeviceFailure is 0x808B0000)
    assert parse_status("BadSensorFailure") == 0x808C0000
    assert parse_status("0x808C0000") == parse_status("2156658688") == 0x808C0000
    with pytest.raises(ValueError, match="is not Good, Uncertain, Bad"):
        parse_status("Fine")


def test_rejected_rows_are_listed_with_their_row_number_and_why(tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    path.write_text(
        "line,tag,source_time,value,status\n"
        "casting-1,dry_thickness_um,2026-12-01T08:00:00Z,50.1,\n"  # row 1: good
        "casting-1,speed,2026-12-01T08:00:01Z,50.1,Good\n"  # 2: unknown tag
        "casting-9,dry_thickness_um,2026-12-01T08:00:01Z,50.1,Good\n"  # 3: unknown line
        "casting-1,dry_thickness_um,2026-12-01T08:00:02,50.1,Good\n"  # 4: no offset
        "casting-1,dry_thickness_um,yesterday,50.1,Good\n"  # 5: not a time
        "casting-1,dry_thickness_um,2026-12-01T08:00:03Z,thick,Good\n"  # 6: not a number
        "casting-1,dry_thickness_um,2026-12-01T08:00:04Z,50.2,Fine\n"  # 7: not a status
        "casting-1,dew_point_c,2026-12-01T09:00:05+01:00,,Bad\n"  # 8: Bad without value: kept
        "casting-1,dew_point_c,2026-12-01T08:00:06Z,,Good\n"  # 9: Good without value
    )
    recording = read_recording(path, SCALAR)
    assert recording.rows == 9
    assert [(r.row, r.reason.split(" ")[0]) for r in recording.rejected] == [
        (2, "tag"),
        (3, "line"),
        (4, "source_time"),
        (5, "source_time"),
        (6, "value"),
        (7, "status"),
        (9, "value"),
    ]
    assert "has no UTC offset" in recording.rejected[2].reason
    kept = recording.readings
    assert [(r.tag, r.ts, r.value, r.status) for r in kept] == [
        ("dry_thickness_um", T0, 50.1, 0),
        ("dew_point_c", T0 + timedelta(seconds=5), None, 0x80000000),
    ]
    summary = recording.summary()
    assert summary[0] == "9 row(s) read, 2 replayed"
    assert summary[2] == "7 row(s) rejected"
    assert summary[3].startswith("  row 2: tag 'speed' is not a scalar tag of line 'casting-1'")


def test_a_file_without_the_format_s_columns_is_one_sentence(tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    path.write_text("time,value\n2026-12-01T08:00:00Z,1\n")
    code, output = invoke("replay", str(path), "--config", str(CASTING), "--db", "sqlite://")
    assert code == 2
    assert output.strip() == (
        f"error: recording {path} lacks column(s) line, tag, source_time; "
        "expected line, tag, source_time, value, status (status optional)."
    )


def test_a_bad_speed_is_one_sentence(tmp_path: Path) -> None:
    code, output = invoke(
        "replay", str(tmp_path / "x.csv"), "--config", str(CASTING), "--speed", "fast"
    )
    assert code == 2
    assert output.strip() == "error: --speed 'fast' is not 'max' or a positive factor of real time."


def test_a_paced_replay_hands_on_every_reading_in_time_order() -> None:
    readings = [
        Reading("casting-1", "dew_point_c", "scalar", T0 + timedelta(seconds=i), 0, 0, float(i))
        for i in range(20)
    ]
    batches: list[list[Reading]] = []
    replay = ReplayInput("casting-1", lambda b: batches.append(list(b)), readings, speed=400.0)
    asyncio.run(replay.run(asyncio.Event()))
    # 19 s recorded at 400x: about 50 ms, in several batches as the recorded times fall due
    assert len(batches) > 1
    assert [r for b in batches for r in b] == readings
    assert replay.state.received == 20


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_sim_record_then_replay_then_export_then_replay_gives_the_same_samples(
    tmp_path: Path, suffix: str
) -> None:
    recorded = tmp_path / f"sim{suffix}"
    code, output = invoke(
        "sim", "record", "--config", str(CASTING), "--hours", "0.01", "--seed", "3",
        "--start", "2026-12-01T08:00:00Z", "--out", str(recorded),
    )  # fmt: skip
    assert code == 0, output
    first, second = f"sqlite:///{tmp_path / 'a.db'}", f"sqlite:///{tmp_path / 'b.db'}"
    code, output = invoke("replay", str(recorded), "--config", str(CASTING), "--db", first)
    assert code == 0, output
    # 36 s of the casting example's 11 scalar tags (the casting line's own section is off)
    assert "0 row(s) rejected" in output
    assert "11 tag(s) on 1 line(s), from 2026-12-01T08:00:00+00:00" in output
    exported = tmp_path / f"export{suffix}"
    fmt = suffix[1:]
    code, output = invoke(
        "export", "samples", "--db", first, "--line", "casting-1", "--format", fmt,
        "--out", str(exported),
    )  # fmt: skip
    assert code == 0, output
    code, output = invoke("replay", str(exported), "--config", str(CASTING), "--db", second)
    assert code == 0, output
    assert stored(second) == stored(first)
    assert len(stored(first)) > 300


def test_a_file_longer_than_the_buffer_s_bound_is_stored_whole(tmp_path: Path) -> None:
    # the input holds back while 100 readings wait, so a 300-sample buffer never refuses
    config = tmp_path / "casting.yaml"
    config.write_text(
        CASTING.read_text()
        + "daemon:\n  buffer_max_samples: 300\nreplay:\n  batch_rows: 50\n  max_backlog: 100\n"
    )
    recorded = tmp_path / "sim.csv"
    code, output = invoke(
        "sim", "record", "--config", str(config), "--hours", "0.02", "--seed", "4",
        "--start", "2026-12-01T08:00:00Z", "--out", str(recorded),
    )  # fmt: skip
    assert code == 0, output
    rows = len(recorded.read_text().splitlines()) - 1
    assert rows > 600
    url = f"sqlite:///{tmp_path / 'a.db'}"
    code, output = invoke("replay", str(recorded), "--config", str(config), "--db", url)
    assert code == 0, output
    assert len(stored(url)) == rows


def test_a_store_that_cannot_be_reached_is_one_sentence_before_anything_is_replayed(
    tmp_path: Path,
) -> None:
    path = tmp_path / "r.csv"
    path.write_text("line,tag,source_time,value\ncasting-1,dew_point_c,2026-12-01T08:00:00Z,-50\n")
    url = "postgresql+psycopg://postgres@127.0.0.1:9/x"  # nothing listens on port 9
    code, output = invoke("replay", str(path), "--config", str(CASTING), "--db", url)
    assert code == 2
    assert output.splitlines()[-1].startswith(
        "error: cannot reach the database at postgresql+psycopg://postgres@127.0.0.1:9/x"
    )
