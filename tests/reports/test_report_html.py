"""The HTML report: self-contained, escaped, and saying what it was computed from."""

from __future__ import annotations

import json
from dataclasses import replace
from html.parser import HTMLParser
from pathlib import Path

from report_helpers import T0, run_engine_and_ack_all, store_lot
from sqlalchemy import Engine

from plantqc import __version__
from plantqc.config import LoadedConfig
from plantqc.reports.issue import IssuedReport, generate_report
from plantqc.reports.settings import ReportSettings


class _Links(HTMLParser):
    """Every src / href attribute and the image sources of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []
        self.images: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in ("src", "href") and value is not None:
                self.links.append(value)
                if tag == "img":
                    self.images.append(value)


def _links(report: IssuedReport) -> _Links:
    parser = _Links()
    parser.feed(report.html.read_text())
    return parser


def _issue(engine: Engine, loaded: LoadedConfig, out: Path, lot: str = "LOT-0001") -> IssuedReport:
    return generate_report(engine, lot, out, loaded=loaded)


def test_report_fetches_nothing_from_a_network(
    sqlite_store: Engine, config: LoadedConfig, lot: dict[str, int], tmp_path: Path
) -> None:
    report = _issue(sqlite_store, config, tmp_path / "out")
    links = _links(report).links
    assert links, "the evidence thumbnails link to their overlays"
    assert not [v for v in links if v.startswith(("http:", "https:", "//", "file:"))]
    assert "<link" not in report.html.read_text() and "@import" not in report.html.read_text()


def test_thumbnails_are_embedded_and_link_to_overlays_copied_beside_the_report(
    sqlite_store: Engine, config: LoadedConfig, lot: dict[str, int], tmp_path: Path
) -> None:
    report = _issue(sqlite_store, config, tmp_path / "out")
    parsed = _links(report)
    # 3 particle, 2 cross-section and 1 web image, all shown (evidence_images = 3 per group)
    assert len(parsed.images) == 6
    assert all(src.startswith("data:image/jpeg;base64,") for src in parsed.images)
    hrefs = [v for v in parsed.links if not v.startswith("data:")]
    assert len(hrefs) == 6
    assert all((report.folder / href).is_file() for href in hrefs)


def test_evidence_images_sets_how_many_overlays_each_group_shows(
    sqlite_store: Engine, config: LoadedConfig, lot: dict[str, int], tmp_path: Path
) -> None:
    # reports.evidence_images = 1: the worst agglomeration, the thinnest cross-section and
    # the highest defect density, one image each
    fewer = config.config.model_copy(update={"reports": ReportSettings(evidence_images=1)})
    report = _issue(sqlite_store, replace(config, config=fewer), tmp_path / "out")
    assert len(_links(report).images) == 3


def test_lot_codes_with_html_special_characters_are_escaped(
    sqlite_store: Engine, config: LoadedConfig, tmp_path: Path
) -> None:
    code = "<b>A&B</b>\"'"
    store_lot(sqlite_store, config.config, code=code, images_dir=tmp_path / "images")
    report = _issue(sqlite_store, config, tmp_path / "out", lot=code)
    html = report.html.read_text()
    assert code not in html and "<b>A" not in html
    assert "&lt;b&gt;A&amp;B&lt;/b&gt;&#34;&#39;" in html
    assert json.loads((report.folder / "report.json").read_text())["lot"]["code"] == code


def test_header_names_report_version_software_and_both_hashes(
    sqlite_store: Engine, config: LoadedConfig, lot: dict[str, int], tmp_path: Path
) -> None:
    report = _issue(sqlite_store, config, tmp_path / "out")
    doc = json.loads((report.folder / "report.json").read_text())
    html = report.html.read_text()
    assert doc["report_id"] == report.report_id == f"QC-{report.id:06d}"
    assert doc["software_version"] == __version__
    for value in (doc["report_id"], doc["config_hash"], doc["data_hash"], __version__):
        assert value in html
    assert len(doc["config_hash"]) == len(doc["data_hash"]) == 64
    assert "peo-llzto-20" in html and "R01, R02" in html


def test_lot_without_images_says_so_in_the_report(
    sqlite_store: Engine, config: LoadedConfig, tmp_path: Path
) -> None:
    store_lot(sqlite_store, config.config)
    run_engine_and_ack_all(sqlite_store)
    html = _issue(sqlite_store, config, tmp_path / "out").html.read_text()
    assert "No image results are filed under this" in html
    assert "casting-1-cross-section, casting-1-sem-topview, casting-1-web-camera" in html


def test_a_roll_report_covers_that_roll_only(
    sqlite_store: Engine, config: LoadedConfig, lot: dict[str, int], tmp_path: Path
) -> None:
    report = generate_report(sqlite_store, "LOT-0001", tmp_path / "r2", roll="R02", loaded=config)
    doc = json.loads((report.folder / "report.json").read_text())
    assert doc["roll"] == "R02"
    assert doc["range"]["start"] == (T0.replace(minute=5)).isoformat()
    rows = {r["key"]: r for r in doc["characteristics"]}
    assert rows["tag:web_speed_m_min"]["n"] == 300
    assert doc["images"]["total"] == 0  # every image was filed under roll R01
