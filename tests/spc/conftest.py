"""Fixtures for the SPC tests: the classic datasets of ../shared/data/spc-datasets/tidy."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest


@pytest.fixture(scope="session")
def spc_data(shared_data: Path) -> Callable[[str], pd.DataFrame]:
    """Reader of one tidy SPC dataset by file stem, e.g. ``spc_data("circuit")``."""

    def read(stem: str) -> pd.DataFrame:
        return pd.read_csv(shared_data / "spc-datasets" / "tidy" / f"{stem}.csv")

    return read


@pytest.fixture(scope="session")
def spc_csv(shared_data: Path) -> Callable[[str], Path]:
    """Path of one tidy SPC dataset by file stem."""
    return lambda stem: shared_data / "spc-datasets" / "tidy" / f"{stem}.csv"
