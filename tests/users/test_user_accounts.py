"""Accounts in the store, on SQLite and PostgreSQL: add, disable, reset, authenticate with
lockout, every step in the audit trail without a secret."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from argon2 import PasswordHasher, profiles
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from plantqc.errors import UserError
from plantqc.store.models import AuditLog, User
from plantqc.users import (
    AuthenticationError,
    LoginPolicy,
    add_user,
    authenticate,
    disable_user,
    list_users,
    reset_password,
)

T0 = datetime(2026, 12, 6, 8, 0, tzinfo=UTC)
PASSWORD = "correct horse battery"
WRONG = "incorrect horse battery"


def _audit(engine: Engine) -> list[AuditLog]:
    with Session(engine) as session:
        return list(session.scalars(select(AuditLog).order_by(AuditLog.id)))


def _fail(engine: Engine, times: int, at: datetime) -> None:
    for _ in range(times):
        with pytest.raises(AuthenticationError, match=r"^unknown user or wrong password\.$"):
            authenticate(engine, "ana", WRONG, at)


@pytest.fixture
def ana(store: Engine) -> Engine:
    """The store with operator ``ana``, added by ``root`` at T0."""
    add_user(store, "Ana", "operator", PASSWORD, by="root", now=T0)
    return store


def test_the_right_password_authenticates_the_user(ana: Engine) -> None:
    user = authenticate(ana, "ana", PASSWORD, T0)
    assert (user.name, user.role, user.failed_logins) == ("ana", "operator", 0)


def test_the_stored_hash_is_argon2id_and_not_the_password(ana: Engine) -> None:
    with Session(ana) as session:
        stored = session.scalars(select(User.password_hash)).one()
    assert stored.startswith("$argon2id$") and PASSWORD not in stored


def test_a_name_is_unique_whatever_its_case(ana: Engine) -> None:
    with pytest.raises(UserError, match=r"^user 'ana' already exists \(names ignore case\)\.$"):
        add_user(ana, "ANA", "quality", PASSWORD, by="root")
    assert authenticate(ana, "aNa", PASSWORD, T0).name == "ana"


def test_a_short_password_is_refused_and_no_account_is_made(store: Engine) -> None:
    with pytest.raises(UserError, match="at least 12 characters"):
        add_user(store, "ben", "operator", "too short", by="root")
    assert list_users(store) == []


def test_a_wrong_password_is_refused_and_counted(ana: Engine) -> None:
    _fail(ana, 1, T0)
    assert list_users(ana)[0].failed_logins == 1


def test_an_unknown_name_is_refused_with_the_wrong_password_message(ana: Engine) -> None:
    with pytest.raises(AuthenticationError, match=r"^unknown user or wrong password\.$"):
        authenticate(ana, "nobody", PASSWORD, T0)


def test_a_login_resets_the_count_of_failed_logins(ana: Engine) -> None:
    _fail(ana, 4, T0)
    assert authenticate(ana, "ana", PASSWORD, T0).failed_logins == 0


def test_the_fifth_failed_login_in_a_row_locks_the_account_against_the_right_password(
    ana: Engine,
) -> None:
    _fail(ana, 5, T0)
    with pytest.raises(AuthenticationError, match=r"locked until 2026-12-06T08:15:00\+00:00"):
        authenticate(ana, "ana", PASSWORD, T0 + timedelta(minutes=14, seconds=59))


def test_the_lock_is_released_after_the_lock_time(ana: Engine) -> None:
    _fail(ana, 5, T0)
    assert authenticate(ana, "ana", PASSWORD, T0 + timedelta(minutes=15)).name == "ana"


def test_the_lockout_policy_sets_the_failures_and_the_lock_time(ana: Engine) -> None:
    policy = LoginPolicy(max_failures=2, lock_minutes=1)
    for _ in range(2):
        with pytest.raises(AuthenticationError):
            authenticate(ana, "ana", WRONG, T0, policy)
    assert list_users(ana)[0].locked_until == T0 + timedelta(minutes=1)


def test_a_disabled_user_is_refused_with_the_right_password(ana: Engine) -> None:
    disable_user(ana, "ana", by="root", now=T0)
    with pytest.raises(AuthenticationError, match=r"^user 'ana' is disabled\.$"):
        authenticate(ana, "ana", PASSWORD, T0)


def test_a_reset_password_replaces_the_old_one_and_releases_the_lock(ana: Engine) -> None:
    _fail(ana, 5, T0)
    new = "a brand new passphrase"
    reset_password(ana, "ana", new, by="root", now=T0)
    assert authenticate(ana, "ana", new, T0).name == "ana"
    with pytest.raises(AuthenticationError, match="wrong password"):
        authenticate(ana, "ana", PASSWORD, T0)


def test_a_hash_with_older_parameters_is_replaced_at_login(ana: Engine) -> None:
    cheap = PasswordHasher.from_parameters(profiles.CHEAPEST).hash(PASSWORD)
    with Session(ana) as session, session.begin():
        session.execute(update(User).values(password_hash=cheap))
    authenticate(ana, "ana", PASSWORD, T0)
    with Session(ana) as session:
        stored = session.scalars(select(User.password_hash)).one()
    assert stored.startswith("$argon2id$v=19$m=65536,t=3,p=4$")


def test_each_change_and_login_attempt_is_audited_with_user_time_old_and_new(ana: Engine) -> None:
    later = T0 + timedelta(minutes=1)
    _fail(ana, 5, T0)  # four failures, then the fifth and its lock
    authenticate(ana, "ana", PASSWORD, later + timedelta(minutes=15))
    reset_password(ana, "ana", "a brand new passphrase", by="root", now=later)
    disable_user(ana, "ana", by="root", now=later)
    rows = [(r.user, r.action, r.entity, r.entity_id, r.at) for r in _audit(ana)]
    assert rows == [
        ("root", "user-add", "user", "ana", T0),
        *[("ana", "login-failed", "user", "ana", T0)] * 5,
        ("ana", "user-lock", "user", "ana", T0),
        ("ana", "login", "user", "ana", later + timedelta(minutes=15)),
        ("root", "user-reset-password", "user", "ana", later),
        ("root", "user-disable", "user", "ana", later),
    ]
    lock = _audit(ana)[6].detail
    assert lock == {
        "old": {"locked_until": None},
        "new": {"failed_logins": 5, "locked_until": "2026-12-06T08:15:00+00:00"},
    }
    disable = _audit(ana)[-1].detail
    assert disable == {"old": {"disabled": False}, "new": {"disabled": True}}


def test_no_audit_entry_holds_a_password_or_a_hash(ana: Engine) -> None:
    _fail(ana, 1, T0)
    authenticate(ana, "ana", PASSWORD, T0)
    reset_password(ana, "ana", "a brand new passphrase", by="root", now=T0)
    written = json.dumps([r.detail for r in _audit(ana)])
    for secret in (PASSWORD, WRONG, "a brand new passphrase", "$argon2"):
        assert secret not in written
