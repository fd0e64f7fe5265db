"""The report renders in headless Chromium and prints to a PDF whose text pdftotext reads back.

Marked ``chromium``: skipped with the reason when Chromium or poppler is missing, failed
instead under CI=true.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import cv2
import numpy as np
import pytest
from sqlalchemy import Engine

from plantqc.config import LoadedConfig
from plantqc.reports.issue import generate_report
from plantqc.reports.pdf import screenshot
from plantqc.reports.sign import sign_report
from plantqc.users import Credentials, add_user

pytestmark = pytest.mark.chromium
PASSWORD = "correct horse battery"


def _pdf_text(pdf: Path) -> str:
    return subprocess.run(
        ["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout


def _pages(pdf: Path) -> int:
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True)
    return int(next(line for line in info.stdout.splitlines() if line.startswith("Pages:"))[6:])


def test_first_page_renders_in_headless_chromium(
    chromium: str, sqlite_store: Engine, config: LoadedConfig, lot: dict[str, int], tmp_path: Path
) -> None:
    report = generate_report(sqlite_store, "LOT-0001", tmp_path / "out", loaded=config)
    png = tmp_path / "first-page.png"
    screenshot(report.html, png)
    image = cv2.imread(str(png), cv2.IMREAD_COLOR)
    assert image is not None and image.shape[:2] == (1754, 1240)
    # a rendered page, not a blank one: dark text on white and the green RELEASE badge
    grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    assert np.mean(grey > 250) > 0.5 and np.mean(grey < 100) > 0.005
    green = (image[:, :, 1] > 100) & (image[:, :, 2] < 80) & (image[:, :, 0] < 80)
    assert green.sum() > 200


def test_pdf_has_the_report_text_on_a_plausible_number_of_a4_pages(
    chromium: str,
    pdftotext: str,
    sqlite_store: Engine,
    config: LoadedConfig,
    lot: dict[str, int],
    tmp_path: Path,
) -> None:
    report = generate_report(sqlite_store, "LOT-0001", tmp_path / "out", loaded=config, pdf=True)
    pdf = report.folder / "report.pdf"
    # 16 characteristics: tables, 16 histograms, 5 charts, the images: about 8 pages
    assert 5 <= _pages(pdf) <= 14
    text = _pdf_text(pdf)
    for expected in ("Batch QC report: lot LOT-0001", report.report_id, "Specification and",
                     "Capability", "Control charts and alarms", "Image evidence", "Disposition",
                     "RELEASE", "dry_thickness_um", report.data_hash[:32]):  # fmt: skip
        assert expected in text, expected
    assert f"page 1 of {_pages(pdf)}" in text
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True)
    assert "pts (A4)" in info.stdout  # the print CSS's @page size, not the browser's Letter


def test_signing_reprints_the_pdf_with_the_signature(
    chromium: str,
    pdftotext: str,
    sqlite_store: Engine,
    config: LoadedConfig,
    lot: dict[str, int],
    tmp_path: Path,
) -> None:
    add_user(sqlite_store, "qe.lee", "quality", PASSWORD, by="root", full_name="Lee Quinn")
    report = generate_report(sqlite_store, "LOT-0001", tmp_path / "out", loaded=config, pdf=True)
    assert "Lee Quinn" not in _pdf_text(report.folder / "report.pdf")
    sign_report(sqlite_store, report.id, "reviewed", Credentials("qe.lee", PASSWORD))
    assert "Lee Quinn" in _pdf_text(report.folder / "report.pdf")
