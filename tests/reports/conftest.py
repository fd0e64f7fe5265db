"""Stores holding a realistic lot, and the real programs the rendering tests drive
(`programs.require_program`: skipped with the reason when missing, failed under CI=true)."""

from __future__ import annotations

from pathlib import Path

import pytest
from programs import require_program
from report_helpers import casting_config, store_lot
from sqlalchemy import Engine

from plantqc.config import LoadedConfig


@pytest.fixture
def chromium() -> str:
    """Headless Chromium (Debian package ``chromium``)."""
    return require_program("chromium", "chromium")


@pytest.fixture
def pdftotext() -> str:
    """pdftotext and pdfinfo (Debian package ``poppler-utils``)."""
    require_program("pdfinfo", "poppler-utils")
    return require_program("pdftotext", "poppler-utils")


@pytest.fixture
def config(tmp_path: Path) -> LoadedConfig:
    return casting_config(tmp_path)


@pytest.fixture
def lot(sqlite_store: Engine, config: LoadedConfig, tmp_path: Path) -> dict[str, int]:
    """LOT-0001 (10 min at 1 Hz, two rolls, CD scans, six measured images), closed."""
    return store_lot(sqlite_store, config.config, images_dir=tmp_path / "images")
