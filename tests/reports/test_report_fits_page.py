"""Every table of the QC report stays inside its column, measured in the real browser.

The report of a lot with alarms (so every kind of table is there) is opened in headless
Chromium through Selenium (Debian's ``chromium`` and ``chromium-driver``); each table's
border box (``getBoundingClientRect``) must end inside the content box of the element that
holds it: at 1280 and 800 px window widths by wrapping (nothing to scroll), in a window
narrower than the page by wrapping or else scrolling inside the column, and in print media at
the A4 column (210 mm less 12 mm margins either side = 186 mm = 703 px at 96 px/in) by
wrapping.  The printed PDF is checked too: no word pdftotext finds ends past the right margin.
Marked ``chromium``: skipped with the reason when a program is missing, failed under CI=true.
"""

from __future__ import annotations

import subprocess
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from programs import headless_chromium, require_program
from report_helpers import casting_config, run_engine_and_ack_all, store_lot

from plantqc.reports.issue import generate_report
from plantqc.store import connect, upgrade

pytestmark = pytest.mark.chromium

A4_WIDTH_PT = 595.28
MARGIN_PT = 12 / 25.4 * 72  # @page margin of style.css.j2, left and right
PRINT_COLUMN_PX = round((210 - 2 * 12) / 25.4 * 96)
TABLES = {"coa", "capability", "alarms"}
"""Tables the measured report must contain (the widest ones), besides those without an id."""

MEASURE = """
return [...document.querySelectorAll('table')].map(table => {
  const holder = table.parentElement, style = getComputedStyle(holder);
  const box = holder.getBoundingClientRect(), own = table.getBoundingClientRect();
  return {
    table: table.id || table.className || table.rows[0].cells[0].textContent,
    right: own.right,
    column_right: box.right - parseFloat(style.paddingRight) - parseFloat(style.borderRightWidth),
    hidden: table.scrollWidth - table.clientWidth,
    scrolls: ['auto', 'scroll'].includes(getComputedStyle(table).overflowX),
  };
});
"""


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The folder of LOT-0001's report (HTML and PDF), its alarms raised and acknowledged."""
    require_program("chromium", "chromium")
    folder = tmp_path_factory.mktemp("report")
    engine = connect(f"sqlite:///{folder / 'store.db'}")
    try:
        upgrade(engine)
        config = casting_config(folder)
        store_lot(engine, config.config, images_dir=folder / "images")
        assert run_engine_and_ack_all(engine) > 0
        issued = generate_report(engine, "LOT-0001", folder / "out", loaded=config, pdf=True)
    finally:
        engine.dispose()
    return issued.folder


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless Chromium without scrollbars (they would take their width from the column)."""
    with headless_chromium("--hide-scrollbars") as driver:
        yield driver


def _measure(browser: Any, report: Path, width: int, media: str = "screen") -> list[dict]:
    browser.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": media})
    browser.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": 1000, "deviceScaleFactor": 1, "mobile": False},
    )
    browser.get((report / "report.html").as_uri())
    tables = browser.execute_script(MEASURE)
    assert {t["table"] for t in tables} >= TABLES
    return tables


def _outside(tables: list[dict]) -> list[dict]:
    return [t for t in tables if t["right"] > t["column_right"] + 0.5]


@pytest.mark.parametrize("width", [1280, 800])
def test_every_table_wraps_inside_its_column_at_screen_width(
    browser: Any, report: Path, width: int
) -> None:
    tables = _measure(browser, report, width)
    assert _outside(tables) == []
    assert [t for t in tables if t["hidden"] > 0] == []


def test_in_a_window_narrower_than_the_page_a_table_too_wide_scrolls_inside_its_column(
    browser: Any, report: Path
) -> None:
    tables = _measure(browser, report, 600)
    assert _outside(tables) == []
    assert [t for t in tables if t["hidden"] > 0 and not t["scrolls"]] == []
    page = browser.execute_script("return document.documentElement.scrollWidth")
    assert page <= 600


def test_every_table_wraps_inside_the_a4_print_column(browser: Any, report: Path) -> None:
    tables = _measure(browser, report, PRINT_COLUMN_PX, media="print")
    assert _outside(tables) == []
    assert [t for t in tables if t["hidden"] > 0] == []


def _pdf_words(report: Path) -> tuple[set[int], list[tuple[str, float, float]]]:
    """The PDF's page widths (pt) and its words with their right edge and height (pt)."""
    pdftotext = require_program("pdftotext", "poppler-utils")
    bbox = subprocess.run(
        [pdftotext, "-bbox", str(report / "report.pdf"), "-"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    root = ET.fromstring(bbox.replace(' xmlns="http://www.w3.org/1999/xhtml"', ""))
    widths = {round(float(page.get("width", 0))) for page in root.iter("page")}
    words = [
        (w.text or "", float(w.get("xMax", 0)), float(w.get("yMax", 0)) - float(w.get("yMin", 0)))
        for w in root.iter("word")
    ]
    return widths, words


def test_no_word_of_the_pdf_runs_past_the_right_margin(report: Path) -> None:
    widths, words = _pdf_words(report)
    assert widths == {round(A4_WIDTH_PT)}
    assert "Capability" in {text for text, _, _ in words}
    assert [(text, x) for text, x, _ in words if x > A4_WIDTH_PT - MARGIN_PT + 0.5] == []


def test_the_pdf_is_printed_at_full_size_not_shrunk_to_fit_a_wider_page(report: Path) -> None:
    # Chromium shrinks a page whose content is wider than the paper to fit it; the 16 pt
    # title is then smaller.  A word's box is the font's ascent + descent: DejaVu Sans
    # (scripts/system-deps.sh installs it) 1901 + 483 of 2048 units = 1.164 em
    _, words = _pdf_words(report)
    title = next(height for text, _, height in words if text == "Batch")
    assert title == pytest.approx(16 * (1901 + 483) / 2048, rel=0.01)
