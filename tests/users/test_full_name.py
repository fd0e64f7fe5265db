"""The printed name of an account (users.full_name), what its electronic signatures show:
given when the account is added, the name by default, and given by migration 0011 to the
accounts that existed before it, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session

from plantqc.errors import UserError
from plantqc.store import connect, upgrade
from plantqc.store.models import AuditLog
from plantqc.users import add_user, list_users

T0 = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)
PASSWORD = "correct horse battery"


def test_an_account_keeps_the_full_name_it_was_added_with(store: Engine) -> None:
    added = add_user(store, "ada", "quality", PASSWORD, by="root", full_name="Ada Lovelace")
    assert added.full_name == "Ada Lovelace"
    assert [u.full_name for u in list_users(store)] == ["Ada Lovelace"]


def test_without_a_full_name_the_account_is_printed_by_its_name(store: Engine) -> None:
    assert add_user(store, "Ada", "quality", PASSWORD, by="root").full_name == "ada"


def test_the_full_name_is_stored_with_its_spaces_tidied(store: Engine) -> None:
    added = add_user(store, "ada", "quality", PASSWORD, by="root", full_name="  Ada   Lovelace ")
    assert added.full_name == "Ada Lovelace"


def test_an_empty_full_name_is_refused_in_one_sentence(store: Engine) -> None:
    with pytest.raises(UserError, match=r"^full name ' ' must be 1 to 128 characters\.$"):
        add_user(store, "ada", "quality", PASSWORD, by="root", full_name=" ")


def test_adding_an_account_audits_its_full_name(store: Engine) -> None:
    add_user(store, "ada", "quality", PASSWORD, by="root", full_name="Ada Lovelace", now=T0)
    with Session(store) as session:
        entry = session.scalars(select(AuditLog).where(AuditLog.action == "user-add")).one()
    assert entry.detail["new"]["full_name"] == "Ada Lovelace"


@pytest.fixture(params=["sqlite", "postgresql"])
def at_0010(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A store migrated to revision 0010 (accounts without a full name), on each dialect."""
    url = f"sqlite:///{tmp_path / 'store.db'}"
    if request.param == "postgresql":
        url = request.getfixturevalue("pg_url")
    engine = connect(url)
    upgrade(engine, "0010")
    yield engine
    engine.dispose()


def test_migration_0011_gives_existing_accounts_their_name_as_full_name(at_0010: Engine) -> None:
    with at_0010.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO users (name, role, password_hash, created_at, password_changed_at)"
                " VALUES ('ada', 'quality', '$argon2id$x', :at, :at)"
            ),
            {"at": T0},
        )
    upgrade(at_0010)
    assert [(u.name, u.full_name) for u in list_users(at_0010)] == [("ada", "ada")]
