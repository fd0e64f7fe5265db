"""PDF and screenshots of a report through headless Chromium (Debian's ``chromium`` package).

Chromium prints the HTML with its print CSS (A4, page numbers in the margin boxes) exactly as
a browser would, so the PDF and the HTML are one document.  Each run gets its own throw-away
profile folder, so concurrent runs never share a profile lock.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from plantqc.errors import UserError

CHROMIUM_ENV = "PLANTQC_CHROMIUM"
"""Environment variable naming the Chromium executable (default: ``chromium`` on the PATH)."""
TIMEOUT_S = 180.0
_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-extensions",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)


def chromium() -> str | None:
    """The Chromium executable, or None when none is installed."""
    named = os.environ.get(CHROMIUM_ENV)
    if named:
        return named if Path(named).is_file() else None
    return shutil.which("chromium") or shutil.which("chromium-browser")


def _run(arguments: list[str], output: Path) -> None:
    executable = chromium()
    if executable is None:
        raise UserError(
            "printing the report needs headless Chromium, which is not installed "
            "(apt-get install chromium, or name it in $PLANTQC_CHROMIUM)."
        )
    output.unlink(missing_ok=True)
    with tempfile.TemporaryDirectory(prefix="plantqc-chromium-") as profile:
        try:
            completed = subprocess.run(
                [executable, *_FLAGS, f"--user-data-dir={profile}", *arguments],
                capture_output=True,
                text=True,
                timeout=TIMEOUT_S,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise UserError(f"Chromium did not finish {output.name} in {TIMEOUT_S:g} s.") from None
    if completed.returncode != 0 or not output.is_file() or output.stat().st_size == 0:
        detail = (completed.stderr.strip().splitlines() or ["no message"])[-1]
        raise UserError(f"Chromium could not write {output}: {detail}.")


def print_pdf(html: Path, pdf: Path) -> None:
    """Print ``html`` to ``pdf`` (A4 from the page's print CSS, no browser header or footer)."""
    _run(["--no-pdf-header-footer", f"--print-to-pdf={pdf}", html.resolve().as_uri()], pdf)


def screenshot(html: Path, png: Path, width_px: int = 1240, height_px: int = 1754) -> None:
    """A PNG of the first screen of ``html`` (default: an A4 page at 150 dpi)."""
    _run(
        [f"--screenshot={png}", f"--window-size={width_px},{height_px}", html.resolve().as_uri()],
        png,
    )
