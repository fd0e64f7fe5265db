"""User accounts in the store: add, disable, reset a password, list, and authenticate.

Every change and every login attempt appends an audit entry (`plantqc.store.audit`) in the
same transaction, with who did it, when, and the old and new values; never a password or its
hash.  Entries are on entity ``user`` with the user's name as id:

``user-add``, ``user-disable``, ``user-reset-password``
    done ``by`` someone, with the account's old and new values;
``login``, ``login-failed``, ``user-lock``
    by the user who tried, with the failed-login count before and after (and why it failed).

A name is stored in lower case and is letters, digits, ``.``, ``_`` and ``-``: names are then
unique case-insensitively through a plain unique constraint on every dialect, and SQLite's
ASCII-only ``lower()`` agrees with PostgreSQL's.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from plantqc.errors import UserError
from plantqc.store.audit import record_audit
from plantqc.store.models import User
from plantqc.users import passwords
from plantqc.users.roles import Role

ENTITY = "user"
_NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")


@dataclass(frozen=True)
class LoginPolicy:
    """How many failed logins in a row lock an account, and for how long (minutes)."""

    max_failures: int = 5
    lock_minutes: float = 15.0


@dataclass(frozen=True)
class UserInfo:
    """An account as the console and the CLI show it: everything but the password hash."""

    id: int
    name: str
    full_name: str
    role: str
    disabled: bool
    failed_logins: int
    locked_until: datetime | None
    created_at: datetime
    password_changed_at: datetime

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: times as ISO 8601 with their offset."""
        return {
            k: v.isoformat() if isinstance(v, datetime) else v for k, v in self.__dict__.items()
        }


class AuthenticationError(UserError):
    """A login refused: unknown name or wrong password (one message for both), disabled, or
    locked."""


def normalize_name(name: str) -> str:
    """``name`` as stored (lower case); refused in one sentence unless it is a valid name."""
    key = name.strip().lower()
    if not _NAME.fullmatch(key):
        raise UserError(
            f"user name {name!r} must be 1 to 64 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit."
        )
    return key


def add_user(
    engine: Engine,
    name: str,
    role: str,
    password: str,
    *,
    by: str,
    full_name: str | None = None,
    now: datetime | None = None,
) -> UserInfo:
    """Create an enabled account ``name`` with ``role`` and ``password``; ``by`` is who does it.

    ``full_name`` is the printed name the account's signatures show; without it, the name.
    """
    key = normalize_name(name)
    printed = _full_name(key if full_name is None else full_name)
    try:
        role = Role(role)
    except ValueError:
        raise UserError(
            f"role {role!r} is not one of {', '.join(r.value for r in Role)}."
        ) from None
    password_hash = passwords.hash_password(password)
    now = now or datetime.now(UTC)
    with Session(engine) as session:
        if _find(session, key) is not None:
            raise UserError(f"user {key!r} already exists (names ignore case).")
        user = User(
            name=key,
            full_name=printed,
            role=role.value,
            password_hash=password_hash,
            disabled=False,
            failed_logins=0,
            created_at=now,
            password_changed_at=now,
        )
        session.add(user)
        new = {"full_name": printed, "role": role.value, "disabled": False}
        _audit(session, by, "user-add", key, now, new=new)
        try:
            session.commit()
        except IntegrityError:  # added by someone else since _find
            raise UserError(f"user {key!r} already exists (names ignore case).") from None
        return _info(user)


def _full_name(full_name: str) -> str:
    """``full_name`` with its spaces tidied; refused in one sentence when empty or too long."""
    printed = " ".join(full_name.split())
    if not printed or len(printed) > 128:
        raise UserError(f"full name {full_name!r} must be 1 to 128 characters.")
    return printed


def disable_user(engine: Engine, name: str, *, by: str, now: datetime | None = None) -> UserInfo:
    """Disable account ``name``: it can no longer log in (its audit history stays)."""
    now = now or datetime.now(UTC)
    with Session(engine) as session:
        user = _get(session, name)
        _audit(session, by, "user-disable", user.name, now, old={"disabled": user.disabled},
               new={"disabled": True})  # fmt: skip
        user.disabled = True
        session.commit()
        return _info(user)


def reset_password(
    engine: Engine, name: str, password: str, *, by: str, now: datetime | None = None
) -> UserInfo:
    """Give account ``name`` a new password, and release it from any lockout."""
    password_hash = passwords.hash_password(password)
    now = now or datetime.now(UTC)
    with Session(engine) as session:
        user = _get(session, name)
        old = lock_state(user) | {"password_changed_at": user.password_changed_at.isoformat()}
        user.password_hash = password_hash
        user.password_changed_at = now
        user.failed_logins = 0
        user.locked_until = None
        new = lock_state(user) | {"password_changed_at": now.isoformat()}
        _audit(session, by, "user-reset-password", user.name, now, old=old, new=new)
        session.commit()
        return _info(user)


def list_users(engine: Engine) -> list[UserInfo]:
    """Every account, by name."""
    with Session(engine) as session:
        return [_info(u) for u in session.scalars(select(User).order_by(User.name))]


def authenticate(
    engine: Engine, name: str, password: str, now: datetime, policy: LoginPolicy | None = None
) -> UserInfo:
    """The account ``name`` if ``password`` is its password and it may log in at ``now``;
    else raise `AuthenticationError`.

    The check is `check_password`'s, each failure audited ``login-failed``; a successful
    login is audited ``login``.
    """
    with Session(engine) as session:
        user, old, rehashed = check_password(
            session, name, password, now, policy, failed_action="login-failed"
        )
        _audit(session, user.name, "login", user.name, now, old=old, new=lock_state(user),
               rehashed=rehashed)  # fmt: skip
        session.commit()
        return _info(user)


def check_password(
    session: Session,
    name: str,
    password: str,
    now: datetime,
    policy: LoginPolicy | None = None,
    *,
    failed_action: str,
) -> tuple[User, dict[str, Any], bool]:
    """Account ``name`` if ``password`` is its password and it may authenticate at ``now``:
    the one check behind a login and an electronic signature, so that a wrong password at
    signing counts toward the lockout exactly as a failed login does.

    A wrong password counts a failed login; the ``policy.max_failures``-th in a row locks the
    account for ``policy.lock_minutes`` (audited ``user-lock``).  A disabled or locked account
    is refused without looking at the password (and without counting).  After the lock time
    the count starts again from zero.  Success resets the count, and rehashes a password
    hashed with older parameters.

    A failure is audited as ``failed_action``, committed (so that it counts even though the
    caller's transaction goes no further), and raised as `AuthenticationError`.  On success
    nothing is committed: the caller audits what the authentication was for and commits.
    Returns the account (locked for update), its lock state before the check, and whether
    its password was rehashed.
    """
    policy = policy or LoginPolicy()
    try:
        key = normalize_name(name)
    except UserError:
        key = None
    user = _find(session, key, for_update=True) if key is not None else None
    if user is None:
        passwords.verify_nobody(password)
        attempted = (key or name)[:64]
        _audit(session, attempted, failed_action, attempted, now, reason="unknown user")
        session.commit()
        raise AuthenticationError("unknown user or wrong password.")
    if user.disabled:
        _audit(session, user.name, failed_action, user.name, now, reason="disabled")
        session.commit()
        raise AuthenticationError(f"user {user.name!r} is disabled.")
    if user.locked_until is not None and now < user.locked_until:
        _audit(session, user.name, failed_action, user.name, now, reason="locked")
        session.commit()
        until = user.locked_until.isoformat(timespec="seconds")
        raise AuthenticationError(
            f"user {user.name!r} is locked until {until} after {user.failed_logins} failed logins."
        )
    old = lock_state(user)
    if user.locked_until is not None:  # the lock has run out
        user.failed_logins, user.locked_until = 0, None
    ok, stale = passwords.verify(user.password_hash, password)
    if not ok:
        user.failed_logins += 1
        _audit(session, user.name, failed_action, user.name, now, old=old,
               new=lock_state(user), reason="wrong password")  # fmt: skip
        if user.failed_logins >= policy.max_failures:
            user.locked_until = now + timedelta(minutes=policy.lock_minutes)
            _audit(session, user.name, "user-lock", user.name, now,
                   old={"locked_until": None}, new=lock_state(user))  # fmt: skip
        session.commit()
        raise AuthenticationError("unknown user or wrong password.")
    user.failed_logins = 0
    if stale:
        user.password_hash = passwords.rehash(password)
    return user, old, stale


def current_role(engine: Engine, name: str) -> str | None:
    """The role of account ``name`` now, None when it is unknown or disabled: what a console
    session asks at every request, so that disabling an account or changing its role takes
    effect at once, not at the next login.  Reads only."""
    with Session(engine) as session:
        user = _find(session, normalize_name(name))
        return None if user is None or user.disabled else str(user.role)


def _find(session: Session, key: str, *, for_update: bool = False) -> User | None:
    query = select(User).where(User.name == key)
    return session.scalars(query.with_for_update() if for_update else query).first()


def _get(session: Session, name: str) -> User:
    key = normalize_name(name)
    user = _find(session, key, for_update=True)
    if user is None:
        raise UserError(f"no user {key!r} (see `plantqc users list`).")
    return user


def lock_state(user: User) -> dict[str, Any]:
    """The failed-login count and lock of ``user``, as the audit trail records them."""
    until = user.locked_until
    return {
        "failed_logins": user.failed_logins,
        "locked_until": until.isoformat() if until is not None else None,
    }


def _audit(
    session: Session,
    by: str,
    action: str,
    name: str,
    at: datetime,
    *,
    old: Mapping[str, Any] | None = None,
    new: Mapping[str, Any] | None = None,
    **detail: Any,
) -> None:
    values = {"old": dict(old or {}), "new": dict(new or {})} if old or new else {}
    record_audit(session, by, action, ENTITY, name, {**values, **detail}, at=at)


def _info(user: User) -> UserInfo:
    return UserInfo(
        id=user.id,
        name=user.name,
        full_name=user.full_name,
        role=user.role,
        disabled=user.disabled,
        failed_logins=user.failed_logins,
        locked_until=user.locked_until,
        created_at=user.created_at,
        password_changed_at=user.password_changed_at,
    )
