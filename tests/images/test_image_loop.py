"""Images in the loop: a running daemon measures the files dropped in its image folders.

One daemon (beside the line simulator, with the SPC engine) sees, in order: a particle image,
four bad files, another particle image, a copy of the first under a new name, and a
cross-section of a film far thinner than its spec.  Each test checks one consequence.
"""

from __future__ import annotations

import asyncio
import hashlib
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from images_helpers import (
    FILM_PIXEL_UM,
    PARTICLE_PIXEL_UM,
    drop,
    film_png,
    image_config,
    particles_png,
    png,
    results,
    running_daemon,
    until,
)
from ingest_helpers import free_port
from sqlalchemy import Engine, select

import vision
from plantqc.config import LoadedConfig
from plantqc.metrics import ImageInputStatus
from plantqc.store import connect, find_tag, read_samples
from plantqc.store.models import ImageResult, Lot, Roll, TimestampOrigin, Violation

FILM_PX = 60.0  # 15 um at 0.25 um/px, far below the 47 um LSL
BAD = {
    "truncated": ("LOT-IMG1_R07_bad1.png", "The PNG file is truncated"),
    "text": ("LOT-IMG1_R07_bad2.png", "The file is not an image that can be read"),
    "one-colour": ("LOT-IMG1_R07_bad3.png", "The image has no contrast"),
    "unmatched name": ("notes.png", "The file name does not match the pattern"),
}


@dataclass(frozen=True)
class Run:
    loaded: LoadedConfig
    root: Path
    first: Path
    after_bad: Path
    copy: Path
    film: Path
    contents: dict[str, bytes]  # by file name
    status: dict[str, ImageInputStatus]


def bad_contents(good: bytes) -> dict[str, bytes]:
    return {
        "truncated": good[: len(good) // 2],
        "text": b"operator note: lens cleaned at 08:00\n",
        "one-colour": png(np.full((256, 256), 128, np.uint8)),
        "unmatched name": particles_png(seed=3),
    }


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    root = tmp_path_factory.mktemp("image-loop")
    loaded = image_config(root, free_port())
    sem, xsec = root / "sem", root / "xsec"
    good, other = particles_png(seed=1), particles_png(seed=2)
    contents = {
        "LOT-IMG1_R07_0001.png": good,
        "LOT-IMG1_R07_0002.png": other,
        "LOT-IMG1_R07_0003.png": good,
    }

    async def scenario() -> dict[str, ImageInputStatus]:
        async with running_daemon(loaded) as r:
            await until(lambda: sem.is_dir())
            first = drop(sem, "LOT-IMG1_R07_0001.png", contents["LOT-IMG1_R07_0001.png"])
            await until(lambda: r.images("sem").processed == 1)
            for kind, data in bad_contents(good).items():
                drop(sem, BAD[kind][0], data)
            await until(lambda: r.images("sem").rejected == len(BAD))
            drop(sem, "LOT-IMG1_R07_0002.png", contents["LOT-IMG1_R07_0002.png"])
            await until(lambda: r.images("sem").processed == 2)
            shutil.copyfile(first, sem / "LOT-IMG1_R07_0003.png")
            await until(lambda: r.images("sem").duplicates == 1)
            drop(xsec, "LOT-IMG1_R07_20261122T080000Z.png", film_png(FILM_PX))
            await until(lambda: r.images("xsec").processed == 1)
            # the metrics reach the store through the buffer, then the engine
            await until(lambda: _violations(r.engine, "xsec.mean_thickness_um") != [])
            return r.daemon.status().images

    status = asyncio.run(scenario())
    return Run(
        loaded,
        root,
        sem / "LOT-IMG1_R07_0001.png",
        sem / "LOT-IMG1_R07_0002.png",
        sem / "LOT-IMG1_R07_0003.png",
        xsec / "LOT-IMG1_R07_20261122T080000Z.png",
        contents,
        status,
    )


@pytest.fixture
def db(run: Run) -> Engine:
    engine = connect(run.loaded.storage_url())
    yield engine  # type: ignore[misc]
    engine.dispose()


def _violations(engine: Engine, tag: str) -> list[Violation]:
    ref = find_tag(engine, "casting-1", tag)
    with engine.connect() as connection:
        return list(connection.execute(select(Violation).where(Violation.tag_id == ref.tag_id)))


def _result(engine: Engine, path: Path) -> ImageResult:
    (row,) = [r for r in results(engine) if r.path == str(path)]
    return row


def test_measured_image_is_stored_with_the_sha256_of_its_bytes(run: Run, db: Engine) -> None:
    row = _result(db, run.first)
    assert row.status == "ok" and row.reason is None
    assert row.input_name == "sem" and row.analysis == "particles"
    assert row.sha256 == hashlib.sha256(run.first.read_bytes()).hexdigest()


def test_overlay_of_a_measured_image_is_a_png_file(run: Run, db: Engine) -> None:
    row = _result(db, run.first)
    overlay = Path(row.overlay_path)
    assert overlay.parent == run.root / "overlays" / "sem"
    assert overlay.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"  # PNG signature, RFC 2083 §3.1
    assert vision.decode_image(overlay.read_bytes()).shape == (512, 512, 3)


def test_file_name_maps_the_result_to_its_lot_and_roll(run: Run, db: Engine) -> None:
    row = _result(db, run.first)
    with db.connect() as connection:
        lot = connection.execute(select(Lot).where(Lot.id == row.lot_id)).one()
        roll = connection.execute(select(Roll).where(Roll.id == row.roll_id)).one()
    assert (lot.code, roll.code, roll.lot_id) == ("LOT-IMG1", "R07", lot.id)
    assert {_result(db, p).roll_id for p in (run.first, run.after_bad)} == {roll.id}


def test_particle_metrics_are_samples_of_the_input_metric_tags_with_the_values_vision_computes(
    run: Run, db: Engine
) -> None:
    expected = vision.analyze_particles(
        vision.decode_image(run.contents[run.first.name]),
        PARTICLE_PIXEL_UM,
        filler_density=5.1,  # the line's product peo-llzto-20: LLZTO in PEO, 20 wt%
        polymer_density=1.2,
        nominal_wt_pct=20.0,
    )
    assert expected.loading is not None
    mtime = datetime.fromtimestamp(run.first.stat().st_mtime, UTC)
    for metric, value in {
        "agglomerate_area_fraction": expected.agglomerates.area_fraction,
        "dispersion_index": expected.dispersion.morisita_index,
        "filler_wt_pct": expected.loading.wt_pct,
    }.items():
        samples = read_samples(db, find_tag(db, "casting-1", f"sem.{metric}").tag_id)
        first = samples.iloc[0]
        assert first["value"] == pytest.approx(value, rel=1e-12), metric
        assert first["time"] == mtime  # the file's modification time, as a server timestamp
        assert first["ts_origin"] == TimestampOrigin.SERVER
    # the document keeps the key paths the Grafana panels read
    metrics = _result(db, run.first).metrics
    assert metrics["agglomerates"]["area_fraction"] == expected.agglomerates.area_fraction
    assert metrics["dispersion"]["morisita_index"] == expected.dispersion.morisita_index
    assert metrics["loading"]["wt_pct"] == pytest.approx(expected.loading.wt_pct, rel=1e-12)


def test_filler_loading_follows_delesse_and_the_weight_fraction_formula(
    run: Run, db: Engine
) -> None:
    metrics = _result(db, run.first).metrics
    v = metrics["particles"]["area_fraction"]  # Delesse: V_V = A_A
    w = 100 * v * 5.1 / (v * 5.1 + (1 - v) * 1.2)  # w = v rho_f / (v rho_f + (1 - v) rho_p)
    assert metrics["filler_wt_pct"] == pytest.approx(w, rel=1e-12)
    assert metrics["filler_wt_pct_vs_nominal"] == pytest.approx(w - 20.0, rel=1e-12)


def test_time_in_the_file_name_is_the_sample_time_of_the_metrics(run: Run, db: Engine) -> None:
    samples = read_samples(db, find_tag(db, "casting-1", "xsec.mean_thickness_um").tag_id)
    (sample,) = samples.itertuples()
    assert sample.time == datetime(2026, 11, 22, 8, 0, tzinfo=UTC)
    assert sample.ts_origin == TimestampOrigin.SOURCE
    # the film is drawn exactly 60 px thick: 60 x 0.25 um/px = 15 um
    assert sample.value == pytest.approx(FILM_PX * FILM_PIXEL_UM, abs=0.05)


def test_out_of_spec_image_metric_is_a_spec_breach(run: Run, db: Engine) -> None:
    violations = _violations(db, "xsec.mean_thickness_um")
    # 15 um is below the LSL of 47 um: a spec breach of the metric's chart from its first
    # image on (the chart itself still learns its limits)
    assert [(v.chart, v.rule, v.ts) for v in violations] == [
        ("imr", "spec", datetime(2026, 11, 22, 8, 0, tzinfo=UTC))
    ]
    assert violations[0].value == pytest.approx(FILM_PX * FILM_PIXEL_UM, abs=0.05)


@pytest.mark.parametrize("kind", list(BAD))
def test_bad_image_is_stored_as_rejected_with_its_reason_and_moved_aside(
    run: Run, db: Engine, kind: str
) -> None:
    name, reason = BAD[kind]
    moved = run.root / "rejected" / "sem" / name
    assert not (run.root / "sem" / name).exists() and moved.is_file()
    row = _result(db, moved)
    assert row.status == "rejected" and row.reason.startswith(reason)
    assert row.sha256 == hashlib.sha256(moved.read_bytes()).hexdigest()
    assert row.metrics is None and row.overlay_path is None


def test_rejected_images_are_counted_in_the_daemon_status(run: Run) -> None:
    assert run.status["sem"] == ImageInputStatus(processed=2, rejected=4, duplicates=1, queued=0)


def test_daemon_goes_on_measuring_after_rejected_images(run: Run, db: Engine) -> None:
    assert _result(db, run.after_bad).status == "ok"


def test_the_same_image_under_a_new_name_is_not_counted_twice(run: Run, db: Engine) -> None:
    sha = hashlib.sha256(run.contents[run.first.name]).hexdigest()
    assert [r.path for r in results(db) if r.sha256 == sha and r.status == "ok"] == [str(run.first)]
    samples = read_samples(db, find_tag(db, "casting-1", "sem.dispersion_index").tag_id)
    assert len(samples) == 2  # the first image and the one after the bad files
