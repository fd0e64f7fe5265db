"""Image inputs in the config: metric settings, file names, and the metric tags they register."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from ingest_helpers import EXAMPLES
from prometheus_client import generate_latest
from sqlalchemy import select

from plantqc.config import load_config
from plantqc.errors import UserError
from plantqc.images.pipeline import FileName, parse_name
from plantqc.metrics import DaemonStatus, ImageInputStatus, registry_for
from plantqc.store import connect, sync_config, upgrade
from plantqc.store.models import Tag

TWO_LINES = """
plant: {{site: s, area: a}}
products:
  - {{id: p, polymer: PEO, polymer_density_g_cm3: 1.2, filler: LLZTO,
     filler_density_g_cm3: 5.1, filler_wt_pct: 20, thickness_target_um: 50,
     thickness_tolerance_um: 3}}
lines:
  - {{name: cast-1, kind: casting, product: p, opcua: {{endpoint: "opc.tcp://127.0.0.1:4840/"}},
     tags: [{{name: speed, node_id: "ns=2;s=a"}}]}}
  - {{name: cast-2, kind: casting, opcua: {{endpoint: "opc.tcp://127.0.0.1:4841/"}},
     tags: [{{name: speed, node_id: "ns=2;s=b"}}]}}
images:
  - name: lab
    kind: particles
    folder: lab
    pattern: '{pattern}'
    pixel_size_um: 0.5
{extra}"""
PATTERN = r"(?P<line>[^_]+)_(?P<lot>[^_]+)_(?P<roll>[^_]+)_(?P<time>[0-9TZ]+)\.png"


def two_lines(tmp_path: Path, extra: str = "", pattern: str = PATTERN) -> Path:
    path = tmp_path / "plant.yaml"
    path.write_text(TWO_LINES.format(pattern=pattern, extra=extra))
    return path


def test_a_metric_the_analysis_does_not_produce_is_refused_with_the_known_ones(
    tmp_path: Path,
) -> None:
    path = two_lines(tmp_path, "    metrics: {mean_thickness_um: {spec: {usl: 60}}}\n")
    with pytest.raises(UserError) as err:
        load_config(path)
    assert str(err.value) == (
        f"{path}:13: images[0]: particles images have no metric 'mean_thickness_um'; expected "
        "one of: agglomerate_area_fraction, dispersion_index, filler_wt_pct, "
        "filler_wt_pct_vs_nominal."
    )


def test_a_line_tag_named_like_an_image_metric_tag_is_refused(tmp_path: Path) -> None:
    path = two_lines(tmp_path)
    path.write_text(path.read_text().replace("name: speed", "name: lab.dispersion_index", 1))
    with pytest.raises(
        UserError, match=re.escape("line 'cast-1' has a tag 'lab.dispersion_index'")
    ):
        load_config(path)


def test_file_name_gives_line_lot_roll_and_utc_time(tmp_path: Path) -> None:
    config = load_config(two_lines(tmp_path)).config
    name = parse_name(config, config.images[0], Path("cast-2_LOT-7_R3_20261122T081500Z.png"))
    assert name == FileName("cast-2", "LOT-7", "R3", datetime(2026, 11, 22, 8, 15, tzinfo=UTC))


def test_a_time_without_offset_in_a_file_name_is_utc(tmp_path: Path) -> None:
    config = load_config(two_lines(tmp_path)).config
    name = parse_name(config, config.images[0], Path("cast-1_L_R_20261122T081500.png"))
    assert name.time == datetime(2026, 11, 22, 8, 15, tzinfo=UTC)


@pytest.mark.parametrize(
    ("file", "message"),
    [
        ("cast-1_L_R.png", "The file name does not match the pattern"),
        ("cast-9_L_R_20261122T081500Z.png", "The file name gives line 'cast-9', which this"),
        ("cast-1_L_R_2026TZ.png", "The time '2026TZ' in the file name is not ISO 8601."),
    ],
)
def test_a_file_name_that_cannot_be_mapped_is_refused_in_one_sentence(
    tmp_path: Path, file: str, message: str
) -> None:
    config = load_config(two_lines(tmp_path)).config
    with pytest.raises(ValueError, match=message):
        parse_name(config, config.images[0], Path(file))


def _tags(path: Path) -> dict[tuple[int, str], Tag]:
    engine = connect(f"sqlite:///{path.parent / 'store.db'}")
    upgrade(engine)
    sync_config(engine, load_config(path, check_env=False).config)
    with engine.connect() as connection:
        rows = connection.execute(select(Tag)).all()
    engine.dispose()
    return {(row.line_id, row.name): row for row in rows}


def test_image_metric_tags_are_registered_with_their_spec_and_chart(tmp_path: Path) -> None:
    path = tmp_path / "casting.yaml"
    path.write_text((EXAMPLES / "casting.yaml").read_text())
    tags = {name: tag for (_, name), tag in _tags(path).items()}
    thickness = tags["casting-1-cross-section.mean_thickness_um"]
    assert (thickness.kind, thickness.unit) == ("scalar", "um")
    assert (thickness.lsl, thickness.target, thickness.usl) == (47, 50, 53)
    assert thickness.spc is not None and thickness.spc["chart"] == "imr"
    uncharted = tags["casting-1-cross-section.thickness_std_um"]
    assert (uncharted.lsl, uncharted.usl, uncharted.spc) == (None, None, None)
    assert tags["casting-1-web-camera.defects_per_m2"].unit == "1/m2"
    assert tags["casting-1-sem-topview.filler_wt_pct_vs_nominal"].unit == "wt%"


def test_an_input_naming_lines_in_file_names_registers_on_every_line_loading_only_with_a_product(
    tmp_path: Path,
) -> None:
    names = {(line, name) for line, name in _tags(two_lines(tmp_path))}
    per_line = {
        line: {n for ln, n in names if ln == line and n.startswith("lab.")} for line, _ in names
    }
    with_product, without = per_line[1], per_line[2]  # cast-1 has product p, cast-2 none
    assert with_product == {
        "lab.agglomerate_area_fraction",
        "lab.dispersion_index",
        "lab.filler_wt_pct",
        "lab.filler_wt_pct_vs_nominal",
    }
    assert without == {"lab.agglomerate_area_fraction", "lab.dispersion_index"}


def test_image_counts_are_exported_as_prometheus_counters() -> None:
    status = DaemonStatus(
        lines={},
        buffer_depth=0,
        buffer_capacity=1,
        buffer_refused=0,
        buffer_near_full=False,
        database_ok=True,
        ingest_lag_s=None,
        images={"sem": ImageInputStatus(processed=5, rejected=2, duplicates=1, queued=3)},
    )
    text = generate_latest(registry_for(lambda: status)).decode()
    for line in (
        'plantqc_images_processed_total{input="sem"} 5.0',
        'plantqc_images_rejected_total{input="sem"} 2.0',
        'plantqc_images_duplicates_total{input="sem"} 1.0',
        'plantqc_images_queued{input="sem"} 3.0',
    ):
        assert line in text
