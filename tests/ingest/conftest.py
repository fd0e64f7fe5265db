"""Fixtures of the ingestion tests."""

from __future__ import annotations

import pytest
from ingest_helpers import free_port


@pytest.fixture
def port() -> int:
    return free_port()


@pytest.fixture(autouse=True)
def _quiet_asyncua() -> None:
    import logging

    # asyncua logs every publish at INFO and every refused reconnect with a traceback
    logging.getLogger("asyncua").setLevel(logging.CRITICAL)
