"""Schema: migrations build exactly the models, config sync, profiles and connection errors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, func, make_url, select

from plantqc.config import load_config
from plantqc.errors import UserError
from plantqc.store import Base, TagRef, connect, sync_config, upgrade
from plantqc.store.db import StoreUnusable
from plantqc.store.migrate import current_revision, head_revision
from plantqc.store.models import Profile, Tag
from plantqc.store.samples import ProfileRow, insert_profiles

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_migrations_create_exactly_the_models(engine: Engine) -> None:
    with engine.connect() as connection:
        assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []
    assert current_revision(engine) == head_revision()


def test_upgrading_twice_changes_nothing(engine: Engine) -> None:
    assert upgrade(engine) == head_revision()


def test_sqlite_runs_in_wal_mode(tmp_path: Path) -> None:
    engine = connect(f"sqlite:///{tmp_path / 'wal.db'}")
    with engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"


def test_sync_is_idempotent_and_follows_spec_changes(engine: Engine, tmp_path: Path) -> None:
    config = load_config(EXAMPLES / "casting.yaml").config
    first = sync_config(engine, config)
    assert sync_config(engine, config) == first
    text = (
        (EXAMPLES / "casting.yaml")
        .read_text()
        .replace(
            "spec: {lsl: 47, target: 50, usl: 53}\n        spc:",
            "spec: {lsl: 46, target: 50, usl: 54}\n        spc:",
        )
    )
    (tmp_path / "c.yaml").write_text(text)
    sync_config(engine, load_config(tmp_path / "c.yaml").config)
    with engine.connect() as connection:
        limits = connection.execute(
            select(Tag.lsl, Tag.usl).where(
                Tag.id == first[("casting-1", "dry_thickness_um")].tag_id
            )
        ).one()
        assert tuple(limits) == (46.0, 54.0)
        assert connection.execute(select(func.count()).select_from(Tag)).scalar() == len(first)


def test_profiles_are_stored_once_with_their_values(
    engine: Engine, casting_tags: dict[str, TagRef]
) -> None:
    tag = casting_tags["dry_thickness_profile_um"].tag_id
    t0 = datetime(2026, 11, 22, tzinfo=UTC)
    scans = [
        ProfileRow(tag, t0 + timedelta(seconds=5 * i), [49.5 + i, 50.0, 50.25]) for i in range(3)
    ]
    assert insert_profiles(engine, scans) == 3
    assert insert_profiles(engine, scans) == 0
    with engine.connect() as connection:
        stored = connection.scalars(select(Profile.values).order_by(Profile.ts)).all()
    assert [list(v) for v in stored] == [list(s.values) for s in scans]


def test_malformed_database_url_is_one_sentence() -> None:
    with pytest.raises(UserError, match=r"^database URL 'not a url' is malformed; expected e\.g\."):
        connect("not a url")


def test_unsupported_backend_is_named() -> None:
    with pytest.raises(UserError, match="names 'mysql'; plantqc stores to sqlite or postgresql"):
        connect("mysql://root@127.0.0.1/test")


def test_unreachable_database_is_one_sentence_without_the_password() -> None:
    with pytest.raises(UserError) as caught:
        connect("postgresql+psycopg://qc:hunter2@127.0.0.1:9/plant")
    message = str(caught.value)
    assert message.startswith(
        "cannot reach the database at postgresql+psycopg://qc:***@127.0.0.1:9/plant:"
    )
    assert "hunter2" not in message


def test_an_unreachable_database_is_not_taken_for_an_unusable_one() -> None:
    # the daemon waits for an unreachable store (an outage) and ends on an unusable one
    with pytest.raises(UserError) as caught:
        connect("postgresql+psycopg://qc@127.0.0.1:9/plant")
    assert not isinstance(caught.value, StoreUnusable)


def test_a_database_that_does_not_exist_is_unusable(pg_admin_url: str) -> None:
    missing = make_url(pg_admin_url).set(database="plantqc_no_such_database")
    with pytest.raises(StoreUnusable, match=r'cannot be used: .*"plantqc_no_such_database"'):
        connect(missing.render_as_string(hide_password=False))


def test_a_file_that_is_not_a_database_is_unusable(tmp_path: Path) -> None:
    path = tmp_path / "corrupt.db"
    path.write_bytes(b"\x13" * 4096)
    with pytest.raises(StoreUnusable, match=r"cannot be used: file is not a database\.$"):
        connect(f"sqlite:///{path}")
