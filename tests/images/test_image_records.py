"""Image results in the store, on SQLite and PostgreSQL: idempotent rows, lots and rolls."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

from images_helpers import particles_png
from ingest_helpers import EXAMPLES
from sqlalchemy import Engine, select

from plantqc.config import load_config
from plantqc.images.analysis import analyse_file
from plantqc.images.jobs import AnalysisJob, Recipe
from plantqc.images.records import ResultRow, insert_result, resolve_lot_roll
from plantqc.store import sync_config
from plantqc.store.lots import record_lot, record_roll
from plantqc.store.models import ImageResult, Lot, Roll

T0 = datetime(2026, 11, 22, 8, 0, tzinfo=UTC)


def _line_id(store: Engine) -> int:
    refs = sync_config(store, load_config(EXAMPLES / "casting.yaml").config)
    return next(ref.line_id for ref in refs.values())


def _measured(tmp_path: Path) -> tuple[Path, ResultRow]:
    path = tmp_path / "LOT-1_R1_0001.png"
    path.write_bytes(particles_png(seed=4))
    outcome = analyse_file(
        AnalysisJob(path, "particles", 0.5, None, tmp_path / "overlays", Recipe(5.1, 1.2, 20.0))
    )
    assert outcome.sha256 is not None
    row = ResultRow(
        line_id=0,
        lot_id=None,
        roll_id=None,
        input_name="sem",
        analysis="particles",
        path=str(path),
        sha256=outcome.sha256,
        captured_at=T0,
        status="ok",
        metrics=outcome.document,
        overlay_path=str(outcome.overlay_path),
    )
    return path, row


def test_measurement_document_is_stored_and_read_back_unchanged(
    store: Engine, tmp_path: Path
) -> None:
    path, row = _measured(tmp_path)
    row = ResultRow(**{**row.__dict__, "line_id": _line_id(store)})
    assert insert_result(store, row)
    with store.connect() as connection:
        stored = connection.execute(select(ImageResult)).one()
    assert stored.metrics == row.metrics
    assert stored.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


def test_the_same_content_is_stored_once_per_analysis(store: Engine, tmp_path: Path) -> None:
    _, row = _measured(tmp_path)
    row = ResultRow(**{**row.__dict__, "line_id": _line_id(store)})
    again = ResultRow(**{**row.__dict__, "path": str(tmp_path / "copy.png")})
    assert insert_result(store, row)
    assert not insert_result(store, again)


def test_lot_and_roll_announced_by_the_line_are_reused(store: Engine) -> None:
    line = _line_id(store)
    record_lot(store, line, "LOT-1", T0, "peo-llzto-20")
    record_roll(store, line, "R1", T0 + timedelta(minutes=1))
    lot_id, roll_id = resolve_lot_roll(store, line, "LOT-1", "R1", T0 + timedelta(hours=1), None)
    with store.connect() as connection:
        lots = connection.execute(select(Lot.id, Lot.code)).all()
        rolls = connection.execute(select(Roll.id, Roll.lot_id, Roll.code)).all()
    assert lots == [(lot_id, "LOT-1")] and rolls == [(roll_id, lot_id, "R1")]


def test_a_new_lot_in_a_file_name_opens_it_as_the_lot_id_tag_would(store: Engine) -> None:
    line = _line_id(store)
    record_lot(store, line, "LOT-1", T0, "peo-llzto-20")
    at = T0 + timedelta(hours=2)
    lot_id, roll_id = resolve_lot_roll(store, line, "LOT-2", "R1", at, "peo-llzto-20")
    with store.connect() as connection:
        lots = dict(connection.execute(select(Lot.code, Lot.ended_at)).all())
        roll = connection.execute(select(Roll.lot_id, Roll.started_at).where(Roll.id == roll_id))
        assert roll.one() == (lot_id, at)
    assert lots == {"LOT-1": at, "LOT-2": None}


def test_a_roll_of_an_earlier_lot_goes_to_that_lot_and_leaves_the_running_one(
    store: Engine,
) -> None:
    line = _line_id(store)
    record_lot(store, line, "LOT-1", T0, None)
    record_lot(store, line, "LOT-2", T0 + timedelta(hours=1), None)
    record_roll(store, line, "R9", T0 + timedelta(hours=1, minutes=5))
    # a lab image of LOT-1's roll R1, taken while LOT-2 runs
    lot_id, roll_id = resolve_lot_roll(store, line, "LOT-1", "R1", T0 + timedelta(hours=3), None)
    with store.connect() as connection:
        rolls = connection.execute(
            select(Lot.code, Roll.code, Roll.ended_at).join(Lot, Lot.id == Roll.lot_id)
        ).all()
    assert sorted(rolls) == [("LOT-1", "R1", None), ("LOT-2", "R9", None)]
    assert lot_id is not None and roll_id is not None
