"""Report benchmark: the QC report of a lot of 24 h of 200 tags at 1 Hz plus 200 images.

A temporary SQLite store gets one line of ``tags`` charted tags (I-MR, X-bar/S, EWMA and CUSUM
in turn, Cp = 2 about the target), ``hours`` of samples at ``rate_hz`` written through the
idempotent bulk path, CD scans every minute, and ``images`` image results: three real analyses
(particles, cross-section, web) of generated images, each filed many times as distinct files
with its overlay, since the report's work does not depend on how an image was measured.

The report is issued in a fresh process (spawned, so its peak RSS is its own: interpreter,
libraries, reading, computing and rendering), and the baseline, in another fresh process, is a
plain ``pandas.read_sql_query`` of the same Good samples tag by tag, which does nothing with
them: the ratio says what computing and rendering the report cost on top of reading its data.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import tempfile
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from queue import Empty
from typing import Any

import cv2
import numpy as np
import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session

from plantqc.bench.vision import _peak_rss_mib
from plantqc.store import SampleRow, connect, insert_profiles, insert_samples, upgrade
from plantqc.store.samples import ProfileRow

T0 = datetime(2026, 1, 1, tzinfo=UTC)
LOT = "BENCH-LOT"
LINE = "bench-1"
CHARTS = (
    {"chart": "imr"},
    {"chart": "xbar-s", "subgroup_size": 5},
    {"chart": "ewma", "ewma": {"lambda": 0.2, "L": 2.962}},
    {"chart": "cusum", "cusum": {"k": 0.5, "h": 5}},
)
IMAGE_INPUTS = (("sem", "particles", 0.05), ("cross", "thickness", 0.25), ("web", "defects", 20.0))


@dataclass(frozen=True)
class ReportBenchResult:
    """Time and peak memory of issuing the report, and of the pandas baseline read."""

    tags: int
    samples: int
    images: int
    characteristics: int
    setup_seconds: float
    report_seconds: float
    report_peak_rss_mib: float
    baseline_seconds: float
    baseline_peak_rss_mib: float
    ratio_vs_baseline: float
    html_mib: float
    pdf_seconds: float | None
    pdf_mib: float | None
    disposition: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def bench_config(tags: int, folder: Path) -> Path:
    """A plant config with one line of ``tags`` charted tags, a CD profile and image inputs."""
    line_tags = [
        {
            "name": f"tag_{i:03d}",
            "node_id": f"ns=2;s=t{i}",
            "unit": "um",
            "spec": {"lsl": 47.0, "target": 50.0, "usl": 53.0},
            "spc": CHARTS[i % len(CHARTS)],
        }
        for i in range(tags)
    ]
    line_tags.append(
        {"name": "cd_profile_um", "node_id": "ns=2;s=cd", "kind": "profile", "unit": "um",
         "spec": {"lsl": 47.0, "target": 50.0, "usl": 53.0}}
    )  # fmt: skip
    config = {
        "plant": {"site": "bench", "area": "films"},
        "products": [
            {"id": "peo-llzto-20", "polymer": "PEO", "polymer_density_g_cm3": 1.2,
             "filler": "LLZTO", "filler_density_g_cm3": 5.1, "filler_wt_pct": 20,
             "thickness_target_um": 50, "thickness_tolerance_um": 3}
        ],
        "lines": [
            {"name": LINE, "kind": "casting", "product": "peo-llzto-20",
             "opcua": {"endpoint": "opc.tcp://127.0.0.1:4840/"}, "tags": line_tags}
        ],
        "images": [
            {"name": name, "kind": kind, "line": LINE, "folder": name, "pixel_size_um": pixel}
            for name, kind, pixel in IMAGE_INPUTS
        ],
    }  # fmt: skip
    path = folder / "bench.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return path


def _store_samples(url: str, tag_ids: list[int], seconds: int, rate_hz: float) -> int:
    engine = connect(url)
    rng = np.random.default_rng(7)
    step = 1.0 / rate_hz
    chunk = max(1, int(3600 * rate_hz))  # one hour of every tag per transaction
    total = int(seconds * rate_hz)
    stored = 0
    for first in range(0, total, chunk):
        count = min(chunk, total - first)
        times = [T0 + timedelta(seconds=(first + i) * step) for i in range(count)]
        values = rng.normal(50.0, 0.5, (count, len(tag_ids))).tolist()
        stored += insert_samples(
            engine,
            [SampleRow(tag, t, row[j]) for t, row in zip(times, values, strict=True)
             for j, tag in enumerate(tag_ids)],
        )  # fmt: skip
    engine.dispose()
    return stored


def _analysed_images(folder: Path) -> dict[str, tuple[dict[str, Any], Path]]:
    """One real measurement (document and overlay) per image input."""
    from plantqc.images.analysis import analyse_file
    from plantqc.images.jobs import AnalysisJob, Recipe
    from vision.synthetic import SyntheticDefect, film_image, particle_image, web_image

    pixels = {
        "particles": particle_image((256, 256), radius_px=(5.0, 11.0), seed=1).image,
        "thickness": film_image((300, 400), thickness_px=200.0, top_px=50.0).image,
        "defects": web_image(defects=(SyntheticDefect("pinhole", 100, 100, 5),)),
    }
    found = {}
    for name, kind, pixel in IMAGE_INPUTS:
        path = folder / f"{name}.png"
        cv2.imwrite(str(path), pixels[kind])
        job = AnalysisJob(path, kind, pixel, None, folder / "overlays", Recipe(5.1, 1.2, 20.0))
        outcome = analyse_file(job)
        assert outcome.document is not None and outcome.overlay_path is not None, outcome.error
        found[name] = (outcome.document, outcome.overlay_path)
    return found


def build_lot(
    folder: Path, tags: int, hours: float, rate_hz: float, images: int
) -> tuple[str, Path, int, list[int]]:
    """Store the benchmark lot in a new SQLite file; return its URL, config, sample count and
    the ids of its charted tags."""
    from plantqc.config import load_config
    from plantqc.store import sync_config
    from plantqc.store.lots import record_lot, record_roll
    from plantqc.store.models import ImageResult, Lot

    url = f"sqlite:///{folder / 'bench.db'}"
    config_path = bench_config(tags, folder)
    config = load_config(config_path).config
    engine = connect(url)
    upgrade(engine)
    refs = sync_config(engine, config)
    line_id = refs[(LINE, "tag_000")].line_id
    seconds = int(hours * 3600)
    record_lot(engine, line_id, LOT, T0, "peo-llzto-20")
    for roll in range(max(1, int(hours // 6))):
        record_roll(engine, line_id, f"R{roll + 1:02d}", T0 + timedelta(hours=6 * roll))
    record_lot(engine, line_id, f"{LOT}-next", T0 + timedelta(seconds=seconds), None)
    tag_ids = [refs[(LINE, f"tag_{i:03d}")].tag_id for i in range(tags)]
    samples = _store_samples(url, tag_ids, seconds, rate_hz)
    rng = np.random.default_rng(3)
    profile = refs[(LINE, "cd_profile_um")].tag_id
    insert_profiles(
        engine,
        [ProfileRow(profile, T0 + timedelta(minutes=m), (50 + rng.normal(0, 0.3, 64)).tolist())
         for m in range(seconds // 60)],
    )  # fmt: skip
    measured = _analysed_images(folder)
    with Session(engine) as session, session.begin():
        lot_id = session.scalars(select(Lot.id).where(Lot.code == LOT)).one()
        for i in range(images):
            name, kind, _ = IMAGE_INPUTS[i % len(IMAGE_INPUTS)]
            document, overlay = measured[name]
            session.add(
                ImageResult(
                    line_id=line_id,
                    lot_id=lot_id,
                    input_name=name,
                    analysis=kind,
                    path=str(folder / f"{name}-{i:04d}.png"),
                    sha256=hashlib.sha256(f"{name}-{i}".encode()).hexdigest(),
                    captured_at=T0 + timedelta(seconds=(i + 0.5) * seconds / images),
                    status="ok",
                    metrics=document,
                    overlay_path=str(overlay),
                )
            )
    engine.dispose()
    return url, config_path, samples, tag_ids


def _report_child(
    url: str,
    config: str,
    out: str,
    pdf: bool,
    queue: multiprocessing.Queue,  # type: ignore[type-arg]
) -> None:
    from plantqc.config import load_config
    from plantqc.reports.issue import REPORT_HTML, REPORT_PDF, generate_report
    from plantqc.reports.pdf import print_pdf

    started = time.perf_counter()
    engine = connect(url)
    issued = generate_report(engine, LOT, Path(out), loaded=load_config(config))
    seconds = time.perf_counter() - started
    pdf_seconds = None
    if pdf:
        started = time.perf_counter()
        print_pdf(Path(out) / REPORT_HTML, Path(out) / REPORT_PDF)
        pdf_seconds = time.perf_counter() - started
    characteristics = len(json.loads((Path(out) / "report.json").read_text())["characteristics"])
    queue.put((seconds, _peak_rss_mib(), issued.disposition, characteristics, pdf_seconds))


def _baseline_child(url: str, tag_ids: list[int], queue: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    import sqlite3

    import pandas as pd

    started = time.perf_counter()
    connection = sqlite3.connect(url.removeprefix("sqlite:///"))
    for tag_id in tag_ids:
        pd.read_sql_query(
            "SELECT ts, value FROM samples WHERE tag_id = ? AND status < 1073741824 ORDER BY ts",
            connection,
            params=(tag_id,),
            parse_dates=["ts"],
        )
    connection.close()
    queue.put((time.perf_counter() - started, _peak_rss_mib()))


def _in_child(target: Any, *args: Any) -> tuple[Any, ...]:
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=target, args=(*args, queue))
    process.start()
    while True:
        try:
            result = queue.get(timeout=1.0)
            break
        except Empty:
            if not process.is_alive():
                raise RuntimeError(
                    f"the benchmark process exited with {process.exitcode}"
                ) from None
    process.join()
    return tuple(result)


def run_report_bench(
    tags: int = 200,
    hours: float = 24.0,
    rate_hz: float = 1.0,
    images: int = 200,
    *,
    pdf: bool = False,
) -> ReportBenchResult:
    """Build the lot, then time the report and the baseline, each in a fresh process; with
    ``pdf`` also the print to PDF (Chromium's own memory is not in the peak RSS)."""
    with tempfile.TemporaryDirectory(prefix="plantqc-bench-report-") as tmp:
        folder = Path(tmp)
        started = time.perf_counter()
        url, config, samples, tag_ids = build_lot(folder, tags, hours, rate_hz, images)
        setup = time.perf_counter() - started
        out = folder / "report"
        seconds, rss, disposition, characteristics, pdf_seconds = _in_child(
            _report_child, url, str(config), str(out), pdf
        )
        baseline, baseline_rss = _in_child(_baseline_child, url, tag_ids)
        html_mib = (out / "report.html").stat().st_size / 2**20
        pdf_file = out / "report.pdf"
        pdf_mib = pdf_file.stat().st_size / 2**20 if pdf_file.is_file() else None
    return ReportBenchResult(
        tags=tags,
        samples=samples,
        images=images,
        characteristics=characteristics,
        setup_seconds=setup,
        report_seconds=seconds,
        report_peak_rss_mib=rss,
        baseline_seconds=baseline,
        baseline_peak_rss_mib=baseline_rss,
        ratio_vs_baseline=seconds / baseline,
        html_mib=html_mib,
        pdf_seconds=pdf_seconds,
        pdf_mib=pdf_mib,
        disposition=disposition,
    )
