"""A realistic lot in a store: the casting example line, its samples, CD scans, real images.

Samples are Gaussian about each tag's spec center with sigma = (USL - LSL) / 12 (Cp = 2);
images are generated (`vision.synthetic`), written as files and measured by the daemon's own
image analysis (`plantqc.images.analysis.analyse_file`), overlays included.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path

import cv2
import numpy as np
from sqlalchemy import Engine

from plantqc.alarms import ack, list_alarms
from plantqc.charting.runner import SpcEngine
from plantqc.config import LoadedConfig, PlantConfig, load_config
from plantqc.images.analysis import analyse_file
from plantqc.images.jobs import AnalysisJob, Recipe
from plantqc.images.records import ResultRow, insert_result
from plantqc.store import SampleRow, insert_profiles, insert_samples, sync_config
from plantqc.store.lots import record_lot, record_roll
from plantqc.store.models import Lot, Roll
from plantqc.store.samples import ProfileRow
from vision.synthetic import SyntheticDefect, film_image, particle_image, web_image

T0 = datetime(2026, 1, 15, 8, 0, tzinfo=UTC)  # in the past: an open lot ends now
LINE = "casting-1"
PARTICLES, CROSS_SECTION, WEB = (
    "casting-1-sem-topview",
    "casting-1-cross-section",
    "casting-1-web-camera",
)
# 0.05 um pixels, discs of 5-11 px in 80 % of the grid cells: the three images (seeds 0-2)
# measure 19.4, 23.1 and 17.5 wt% LLZTO in PEO (Delesse), each within the recipe's 20 +/- 5
PARTICLE_OPTIONS = {"radius_px": (5.0, 11.0), "fill_probability": 0.8}


CONFIG = """
plant: {site: test-site, area: films}
products:
  - {id: peo-llzto-20, polymer: PEO, polymer_density_g_cm3: 1.2, salt: LiTFSI, filler: LLZTO,
     filler_density_g_cm3: 5.1, filler_wt_pct: 20, thickness_target_um: 50,
     thickness_tolerance_um: 3}
lines:
  - name: casting-1
    kind: casting
    product: peo-llzto-20
    opcua: {endpoint: "opc.tcp://127.0.0.1:4840/"}
    tags:
      - {name: web_speed_m_min, node_id: "ns=2;s=a", unit: m/min,
         spec: {lsl: 1.8, target: 2.0, usl: 2.2}, spc: {chart: imr, rules: we}}
      - {name: dryer_zone1_temp_c, node_id: "ns=2;s=b", unit: degC,
         spec: {lsl: 48, target: 50, usl: 52}, spc: {chart: imr}}
      - {name: dew_point_c, node_id: "ns=2;s=c", unit: degC, spec: {usl: -40}}
      - {name: dry_thickness_um, node_id: "ns=2;s=d", unit: um,
         spec: {lsl: 47, target: 50, usl: 53},
         spc: {chart: xbar-s, subgroup_size: 5, rules: nelson}}
      - {name: pump_rate_ml_min, node_id: "ns=2;s=e", unit: mL/min,
         spec: {lsl: 19, target: 20, usl: 21}, spc: {chart: ewma, ewma: {lambda: 0.2, L: 2.962}}}
      - {name: slurry_viscosity_mpa_s, node_id: "ns=2;s=f", unit: mPa.s,
         spec: {lsl: 1700, target: 2000, usl: 2300},
         spc: {chart: cusum, cusum: {k: 0.5, h: 5, fir: true}}}
      - {name: dry_thickness_profile_um, node_id: "ns=2;s=g", kind: profile, unit: um,
         spec: {lsl: 47, target: 50, usl: 53},
         spc: {chart: ewma, ewma: {lambda: 0.2, L: 2.86}, profile_statistics: [mean, two_sigma]}}
      - {name: lot_id, node_id: "ns=2;s=h", kind: lot_id}
      - {name: roll_id, node_id: "ns=2;s=i", kind: roll_id}
images:
  - {name: casting-1-sem-topview, kind: particles, line: casting-1, folder: sem,
     pixel_size_um: 0.05,
     metrics: {agglomerate_area_fraction: {spec: {usl: 0.05}},
               dispersion_index: {spec: {usl: 1.5}}}}
  - {name: casting-1-cross-section, kind: thickness, line: casting-1, folder: cross,
     pixel_size_um: 0.25}
  - {name: casting-1-web-camera, kind: defects, line: casting-1, folder: web, pixel_size_um: 20,
     metrics: {defects_per_m2: {spec: {usl: 50}}}}
"""
"""A casting line with one tag per chart type, a CD profile and the three image analyses.

Image metric specs: agglomerates and dispersion from ``images[].metrics``; filler loading and
cross-section thickness from the recipe (20 wt% +/- 5, 50 +/- 3 um)."""


def write_config(folder: Path) -> Path:
    """`CONFIG` as a file in ``folder``."""
    path = folder / "plant.yaml"
    path.write_text(CONFIG, encoding="utf-8")
    return path


def casting_config(folder: Path) -> LoadedConfig:
    """`CONFIG`, loaded from a file in ``folder``."""
    return load_config(write_config(folder))


def _ids(engine: Engine, code: str) -> tuple[int, dict[str, int]]:
    from sqlalchemy.orm import Session

    with Session(engine) as session:
        lot = session.query(Lot).filter_by(code=code).one()
        rolls = {r.code: r.id for r in session.query(Roll).filter_by(lot_id=lot.id)}
        return lot.id, rolls


def store_lot(
    engine: Engine,
    config: PlantConfig,
    code: str = "LOT-0001",
    *,
    start: datetime = T0,
    seconds: int = 600,
    seed: int = 1,
    shift: dict[str, float] | None = None,
    images_dir: Path | None = None,
    close: bool = True,
) -> dict[str, int]:
    """Store a lot of ``seconds`` at 1 Hz with two rolls; return tag ids by name.

    ``shift`` adds a constant to a tag's values (e.g. to push its mean out of spec).  With
    ``images_dir``, three particle images, two cross-sections and one web image are measured
    and filed under the lot.  With ``close`` the next lot opens at the end, closing this one.
    """
    refs = sync_config(engine, config)
    tags = {tag: ref.tag_id for (_, tag), ref in refs.items()}
    line_id = refs[(LINE, "dry_thickness_um")].line_id
    record_lot(engine, line_id, code, start, "peo-llzto-20")
    record_roll(engine, line_id, "R01", start)
    record_roll(engine, line_id, "R02", start + timedelta(seconds=seconds // 2))
    rng = np.random.default_rng(seed)
    times = [start + timedelta(seconds=i) for i in range(seconds)]
    rows = []
    for tag in config.line(LINE).tags:
        if tag.kind != "scalar" or tag.spec is None:
            continue
        spec = tag.spec
        if spec.lsl is not None and spec.usl is not None:
            center, sigma = (spec.lsl + spec.usl) / 2, (spec.usl - spec.lsl) / 12
        else:
            center, sigma = (spec.usl or 0.0) - 6.0, 1.0
        values = center + (shift or {}).get(tag.name, 0.0) + rng.normal(0, sigma, seconds)
        rows += [SampleRow(tags[tag.name], t, float(v)) for t, v in zip(times, values, strict=True)]
    insert_samples(engine, rows)
    scans = [
        ProfileRow(tags["dry_thickness_profile_um"], t, (50 + rng.normal(0, 0.4, 40)).tolist())
        for t in times[::5]
    ]
    insert_profiles(engine, scans)
    if images_dir is not None:
        store_images(engine, config, line_id, code, start, images_dir)
    if close:
        record_lot(engine, line_id, f"{code}-next", start + timedelta(seconds=seconds), None)
    return tags


def store_images(
    engine: Engine,
    config: PlantConfig,
    line_id: int,
    code: str,
    start: datetime,
    folder: Path,
    defects: tuple[SyntheticDefect, ...] = (),
) -> None:
    """Measure generated images with the daemon's analysis and file them under lot ``code``;
    the web image shows ``defects`` (default none)."""
    lot_id, rolls = _ids(engine, code)
    product = config.product("peo-llzto-20")
    recipe = Recipe(product.filler_density_g_cm3, product.polymer_density_g_cm3, 20.0)
    web = web_image(defects=defects)
    images = [
        *((PARTICLES, "particles", particle_image(seed=i, **PARTICLE_OPTIONS).image, 0.05)
          for i in range(3)),
        *((CROSS_SECTION, "thickness", film_image(thickness_px=t, seed=i).image, 0.25)
          for i, t in enumerate((200.0, 196.0))),
        (WEB, "defects", web, 20.0),
    ]  # fmt: skip
    folder.mkdir(parents=True, exist_ok=True)
    for index, (input_name, kind, pixels, pixel_um) in enumerate(images):
        path = folder / f"lot{lot_id}_R01_{index:04d}.png"  # codes may hold any characters
        assert cv2.imwrite(str(path), pixels)
        outcome = analyse_file(
            AnalysisJob(path, kind, pixel_um, None, folder / "overlays", recipe=recipe)
        )
        assert outcome.error is None, outcome.error
        insert_result(
            engine,
            ResultRow(
                line_id=line_id,
                lot_id=lot_id,
                roll_id=rolls["R01"],
                input_name=input_name,
                analysis=kind,
                path=str(path),
                sha256=str(outcome.sha256),
                captured_at=start + timedelta(seconds=10 * (index + 1)),
                status="ok",
                metrics=outcome.document,
                overlay_path=str(outcome.overlay_path),
            ),
        )


def run_engine_and_ack_all(engine: Engine, user: str = "op.kim") -> int:
    """Chart every stored sample (raising alarms), then acknowledge every alarm; return count."""
    SpcEngine(engine).process_all()
    alarms = [
        a
        for a in list_alarms(engine)
        if a.state in ("active-unacknowledged", "returned-unacknowledged")
    ]
    for alarm in alarms:
        ack(engine, alarm.id, user, "checked")
    return len(alarms)


class Tables(HTMLParser):
    """The body rows of every table with an ``id`` in a page, as ``rows[table id]``: a list of
    (the row's attributes, the text of each cell, a ``<br>`` read as a newline)."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.rows: dict[str, list[tuple[dict[str, str | None], list[str]]]] = {}
        self._table: str | None = None
        self._cell: list[str] | None = None
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table":
            self._table = dict(attrs).get("id")
        elif self._table is not None and tag == "tr" and "data-key" in dict(attrs):
            self.rows.setdefault(self._table, []).append((dict(attrs), []))
        elif self._table is not None and tag == "td" and self.rows.get(self._table):
            self._cell = []
        elif tag == "br" and self._cell is not None:
            self._cell.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag == "td" and self._cell is not None and self._table is not None:
            self.rows[self._table][-1][1].append("".join(self._cell).strip())
            self._cell = None
        elif tag == "table":
            self._table = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)

    def table(self, table_id: str) -> dict[str, list[str]]:
        """The cells of each row of table ``table_id`` by the row's ``data-key``."""
        return {str(attrs["data-key"]): cells for attrs, cells in self.rows[table_id]}
