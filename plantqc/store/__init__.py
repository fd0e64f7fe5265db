"""Storage: SQLAlchemy models, Alembic migrations, idempotent bulk writes, time-series queries.

The names below are loaded on first use (PEP 562), so that importing one store module (the
models, the storage settings) does not import the others: `plantqc.store.sync` reads the
plant config, whose plugin settings import the models, and an eager import here would make
that a cycle.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from plantqc.store.db import connect, open_engine, safe_url
    from plantqc.store.migrate import upgrade
    from plantqc.store.models import Base, TimestampOrigin
    from plantqc.store.samples import (
        SampleRow,
        downsample,
        insert_profiles,
        insert_samples,
        latest_values,
        read_samples,
    )
    from plantqc.store.sync import TagRef, find_tag, sync_config

_MODULE_OF = {
    "connect": "db",
    "open_engine": "db",
    "safe_url": "db",
    "upgrade": "migrate",
    "Base": "models",
    "TimestampOrigin": "models",
    "SampleRow": "samples",
    "downsample": "samples",
    "insert_profiles": "samples",
    "insert_samples": "samples",
    "latest_values": "samples",
    "read_samples": "samples",
    "TagRef": "sync",
    "find_tag": "sync",
    "sync_config": "sync",
}

__all__ = [
    "Base",
    "SampleRow",
    "TagRef",
    "TimestampOrigin",
    "connect",
    "downsample",
    "find_tag",
    "insert_profiles",
    "insert_samples",
    "latest_values",
    "open_engine",
    "read_samples",
    "safe_url",
    "sync_config",
    "upgrade",
]


def __getattr__(name: str) -> Any:
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module 'plantqc.store' has no attribute {name!r}")
    return getattr(importlib.import_module(f"plantqc.store.{module}"), name)
