"""Storage: SQLAlchemy models, Alembic migrations, idempotent bulk writes, time-series queries."""

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
