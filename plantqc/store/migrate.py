"""Alembic migrations, run from code so that no alembic.ini is needed on a plant machine."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

from plantqc.store.db import StoreUnusable, safe_url

MIGRATIONS = Path(__file__).parent / "migrations"


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def upgrade(engine: Engine, revision: str = "head") -> str:
    """Migrate the database to ``revision``; return the revision it is at afterwards.

    Raises `plantqc.store.db.StoreUnusable` when the database is at a revision this version
    of plantqc does not know (a newer plantqc migrated it).
    """
    check_revision(engine)
    config = _config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
    return current_revision(engine) or "base"


def check_revision(engine: Engine) -> None:
    """Raise `StoreUnusable` when the database's schema revision is not one of ours."""
    current = current_revision(engine)
    if current is None:
        return
    known = {script.revision for script in ScriptDirectory.from_config(_config()).walk_revisions()}
    if current not in known:
        raise StoreUnusable(
            f"the database at {safe_url(engine.url)} has schema revision {current!r}, which "
            f"this plantqc does not know (its newest is {head_revision()!r}); a newer plantqc "
            "wrote it, so run that version or restore a backup."
        )


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision() -> str:
    head = ScriptDirectory.from_config(_config()).get_current_head()
    assert head is not None, "the migrations folder has no revisions"
    return head
