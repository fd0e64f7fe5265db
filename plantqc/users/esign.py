"""Electronic signatures (21 CFR Part 11 §11.50, §11.70, §11.200): who signed what, meaning what.

A signature by a typed name is not a signature: `sign` checks the signer's user name and
password with the same check as a login (`plantqc.users.accounts.check_password`), so a wrong
password at signing counts toward the lockout like a failed login, and is audited
``signature-failed`` on entity ``user``.  The `Signature` it returns holds what §11.50 asks a
signed record to show (the printed name, the date and time, the meaning) and is bound to the
SHA-256 of exactly what was signed (§11.70): a record whose content no longer hashes to a
signature's ``content_hash`` is not what was signed.

`sign` writes no audit entry on success, unless the account changed (``signature-verified``:
a failed-login count reset): the caller records what was signed (e.g.
``report-sign``) with `Signature.as_dict` in the same transaction as the change it signs, so
that a signature and its record commit or roll back together.

Times are stored in UTC and shown in the signature's ``time_zone``.  The plant config has no
time zone of the site yet, so signatures are shown in UTC (`TIME_ZONE`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from plantqc.errors import UserError
from plantqc.store.audit import record_audit
from plantqc.users.accounts import (
    ENTITY,
    AuthenticationError,
    LoginPolicy,
    check_password,
    lock_state,
    normalize_name,
)

MEANINGS = ("authored", "reviewed", "approved", "released", "held")
"""What a signature means (21 CFR 11.50(a)(3)); 'held' is a quality hold of a lot."""

TIME_ZONE = "UTC"
"""The IANA zone signatures are shown in: the plant config names no site zone."""

FAILED = "signature-failed"
"""Audit action of a refused signature (entity ``user``)."""
VERIFIED = "signature-verified"
"""Audit action of a signer's credentials accepted where that changed the account (a
failed-login count reset, a password rehashed); otherwise a signature changes no account and
only the record it signs is audited."""

_SHA256 = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class Credentials:
    """What a signer gives to sign: their user name and password (never stored)."""

    username: str
    password: str

    def __repr__(self) -> str:  # a traceback or a log line must not show the password
        return f"Credentials(username={self.username!r}, password='***')"


@dataclass(frozen=True)
class Signature:
    """One electronic signature: who (login name and printed name), when, meaning what, of
    which content, with how many of the signer's credentials given at signing.

    ``components`` is 2 when user name and password were both given, 1 when only the password
    was (a later signing in one continuous session, 11.200(a)(1)(i), where the session says
    who signs).
    """

    user: str
    printed_name: str
    meaning: str
    at: datetime
    time_zone: str
    content_hash: str
    components: int

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: ``at`` ISO 8601 with its offset (UTC)."""
        return asdict(self) | {"at": self.at.isoformat()}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Signature:
        """The signature `as_dict` wrote."""
        at = d["at"]
        return cls(
            user=str(d["user"]),
            printed_name=str(d["printed_name"]),
            meaning=str(d["meaning"]),
            at=at if isinstance(at, datetime) else datetime.fromisoformat(at),
            time_zone=str(d["time_zone"]),
            content_hash=str(d["content_hash"]),
            components=int(d["components"]),
        )

    def shown_at(self) -> str:
        """Date and time in ``time_zone``, with the zone's abbreviation and offset, as a signed
        record shows it: e.g. ``2026-12-07 17:03:12 CET (UTC+01:00)``."""
        local = self.at.astimezone(ZoneInfo(self.time_zone))
        offset = local.utcoffset()
        minutes = int(offset.total_seconds() // 60) if offset is not None else 0
        sign, minutes = ("-", -minutes) if minutes < 0 else ("+", minutes)
        return (
            f"{local:%Y-%m-%d %H:%M:%S} {local.tzname()} "
            f"(UTC{sign}{minutes // 60:02d}:{minutes % 60:02d})"
        )


def sign(
    engine: Engine,
    credentials: Credentials,
    meaning: str,
    content_hash: str,
    *,
    as_user: str | None = None,
    components: int = 2,
    now: datetime | None = None,
) -> Signature:
    """Check the signer's credentials and return their signature of content_hash.

    Raises plantqc.users.AuthenticationError (a UserError: one sentence) when the name is
    unknown, the password wrong (counted as a failed login toward the lockout, audited
    'signature-failed'), the account disabled or locked, the meaning unknown, or as_user is
    given and differs from credentials.username (one signs only as oneself: the console passes
    the logged-in user).  Writes no success audit entry: the caller records what was signed
    (e.g. 'report-sign', 'limits-freeze') with signature.as_dict() in the same transaction as
    the change.

    ``components=1`` (password only) needs ``as_user``: the session it comes from is what
    says who signs.  A ``content_hash`` that is not a SHA-256 hex digest, or ``components``
    other than 1 or 2, is a programming error (`ValueError`).
    """
    if not _SHA256.fullmatch(content_hash):
        raise ValueError(f"content_hash {content_hash!r} is not a SHA-256 hex digest.")
    if components not in (1, 2):
        raise ValueError(f"components must be 1 or 2, not {components!r}.")
    if components == 1 and as_user is None:
        raise ValueError("a signature by password only (components=1) needs as_user.")
    if meaning not in MEANINGS:
        raise AuthenticationError(f"meaning {meaning!r} is not one of {', '.join(MEANINGS)}.")
    now = (now or datetime.now(UTC)).astimezone(UTC)
    with Session(engine) as session:
        if as_user is not None and _key(as_user) != _key(credentials.username):
            detail = {"reason": "not the signed-in user", "meaning": meaning}
            record_audit(session, _key(as_user), FAILED, ENTITY, _key(credentials.username),
                         detail, at=now)  # fmt: skip
            session.commit()
            raise AuthenticationError(
                f"{as_user!r} may sign only as themselves, not as {credentials.username!r}."
            )
        user, before, rehashed = check_password(
            session,
            credentials.username,
            credentials.password,
            now,
            LoginPolicy(),
            failed_action=FAILED,
        )
        after = lock_state(user)
        if after != before or rehashed:  # the account changed: its history says so
            detail = {"old": before, "new": after, "rehashed": rehashed, "meaning": meaning}
            record_audit(session, user.name, VERIFIED, ENTITY, user.name, detail, at=now)
        signature = Signature(
            user=user.name,
            printed_name=user.full_name,
            meaning=meaning,
            at=now,
            time_zone=TIME_ZONE,
            content_hash=content_hash,
            components=components,
        )
        session.commit()  # the reset failed-login count and any rehash
        return signature


def _key(name: str) -> str:
    """``name`` as stored, or as typed (trimmed, lower case) when it is no valid name."""
    try:
        return normalize_name(name)
    except UserError:
        return name.strip().lower()[:64]
