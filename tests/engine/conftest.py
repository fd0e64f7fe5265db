"""A store per dialect with one test line whose tags cover every streaming chart."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
from engine_helpers import CONFIG
from sqlalchemy import Engine

from plantqc.config import load_config
from plantqc.store import TagRef, sync_config


@pytest.fixture
def config_path(tmp_path: Path) -> Path:
    path = tmp_path / "plant.yaml"
    path.write_text(CONFIG, encoding="utf-8")
    return path


def _tags(engine: Engine, config_path: Path) -> dict[str, TagRef]:
    refs = sync_config(engine, load_config(config_path).config)
    return {tag: ref for (_, tag), ref in refs.items()}


@pytest.fixture
def tags(store: Engine, config_path: Path) -> dict[str, TagRef]:
    return _tags(store, config_path)


@pytest.fixture
def sqlite_tags(sqlite_store: Engine, config_path: Path) -> dict[str, TagRef]:
    return _tags(sqlite_store, config_path)


@pytest.fixture(scope="session")
def spc_data(shared_data: Path) -> Callable[[str], pd.DataFrame]:
    """Reader of one tidy SPC dataset of ../shared/data/spc-datasets by file stem."""
    return lambda stem: pd.read_csv(shared_data / "spc-datasets" / "tidy" / f"{stem}.csv")
