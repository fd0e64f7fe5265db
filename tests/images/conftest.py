"""Fixtures of the image-loop tests."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import pytest

# the ingestion tests' helpers (free ports, the example configs) serve these tests too
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "ingest"))


@pytest.fixture(autouse=True)
def _quiet_asyncua() -> None:
    # asyncua logs every publish at INFO and every refused reconnect with a traceback
    logging.getLogger("asyncua").setLevel(logging.CRITICAL)
