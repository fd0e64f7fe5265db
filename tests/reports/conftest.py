"""Stores holding a realistic lot, and the real programs the rendering tests drive.

Chromium and pdftotext tests skip with the reason when the program is missing, except under
CI (``CI=true``), where a missing program fails the test: CI never skips them silently.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from report_helpers import casting_config, store_lot
from sqlalchemy import Engine

from plantqc.config import LoadedConfig


def _require(program: str, package: str) -> str:
    found = shutil.which(program)
    if found is None:
        reason = f"{program} is not installed (apt-get install {package}; scripts/system-deps.sh)"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason}, and CI=true does not allow skipping it")
        pytest.skip(reason)
    return found


@pytest.fixture
def chromium() -> str:
    """Headless Chromium (Debian package ``chromium``)."""
    return _require("chromium", "chromium")


@pytest.fixture
def pdftotext() -> str:
    """pdftotext and pdfinfo (Debian package ``poppler-utils``)."""
    _require("pdfinfo", "poppler-utils")
    return _require("pdftotext", "poppler-utils")


@pytest.fixture
def config(tmp_path: Path) -> LoadedConfig:
    return casting_config(tmp_path)


@pytest.fixture
def lot(sqlite_store: Engine, config: LoadedConfig, tmp_path: Path) -> dict[str, int]:
    """LOT-0001 (10 min at 1 Hz, two rolls, CD scans, six measured images), closed."""
    return store_lot(sqlite_store, config.config, images_dir=tmp_path / "images")
