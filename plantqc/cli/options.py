"""Options and argument parsing shared by the command groups."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy import Engine

from plantqc.config import LoadedConfig, load_config
from plantqc.errors import UserError

DEFAULT_DB_URL = "sqlite:///plantqc.db"

DbOption = Annotated[
    str | None,
    typer.Option(
        "--db",
        help="Database URL (default: the config's storage, else $PLANTQC_DB_URL, "
        f"else {DEFAULT_DB_URL}).",
        show_default=False,
    ),
]
ConfigOption = Annotated[
    Path | None, typer.Option("--config", "-c", help="Plant config YAML.", show_default=False)
]
# the commands that run the plant from its config (run, replay, sim record) cannot do without
# it, and so store into the config's storage unless told otherwise (`run_daemon`)
PlantConfigOption = Annotated[Path, typer.Option("--config", "-c", help="Plant config YAML.")]
StorageDbOption = Annotated[
    str | None, typer.Option("--db", help="Database URL (default: the config's storage).")
]


def resolve_db_url(db: str | None, config: Path | None = None) -> str:
    """The database: ``--db``, else the config's storage, else $PLANTQC_DB_URL, else SQLite."""
    if db:
        return db
    if config is not None:
        return load_config(config).storage_url()
    return os.environ.get("PLANTQC_DB_URL") or DEFAULT_DB_URL


def open_store(db: str | None, config: Path | None) -> tuple[Engine, LoadedConfig | None]:
    """The store of ``--db`` / ``--config``, migrated first (so a new or older database works
    rather than failing on a missing table), with the config's lines and tags registered; and
    the loaded config (None without ``--config``)."""
    from plantqc.store import connect, sync_config, upgrade

    loaded = load_config(config) if config is not None else None
    engine = connect(db or (loaded.storage_url() if loaded is not None else resolve_db_url(None)))
    upgrade(engine)
    if loaded is not None:
        sync_config(engine, loaded.config)
    return engine, loaded


def parse_time(text: str | None, option: str) -> datetime | None:
    """An ISO-8601 time from the command line; one without an offset is taken as UTC."""
    if text is None:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise UserError(
            f"{option} {text!r} is not an ISO-8601 time such as 2026-11-22T08:00:00Z."
        ) from None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
