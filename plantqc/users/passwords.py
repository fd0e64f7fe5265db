"""Password hashing (Argon2id) and the password rule.

Hashes are PHC strings (``$argon2id$v=19$m=...,t=...,p=...$salt$hash``) made with the RFC 9106
low-memory profile (§4, second recommended option: t = 3, m = 64 MiB, p = 4), which is also
argon2-cffi's default.  A hash made with other parameters still verifies, and is then made
again with these (`verify` says so), so a change of profile reaches every account at its
next login.

References
----------
.. [1] A. Biryukov et al., "Argon2 Memory-Hard Function for Password Hashing and
   Proof-of-Work Applications", RFC 9106, 2021.
.. [2] NIST SP 800-63B, "Digital Identity Guidelines: Authentication and Lifecycle
   Management", §5.1.1.2 Memorized Secret Verifiers.
"""

from __future__ import annotations

import functools

from argon2 import PasswordHasher, profiles
from argon2.exceptions import InvalidHashError, VerificationError

from plantqc.errors import UserError

# NIST SP 800-63B §5.1.1.2 asks at least 8; 12 is the floor for accounts that sign records
MIN_LENGTH = 12

_HASHER = PasswordHasher.from_parameters(profiles.RFC_9106_LOW_MEMORY)


def check_password(password: str) -> None:
    """Refuse, in one sentence, a password shorter than `MIN_LENGTH` characters.

    No composition rules (digits, symbols): §5.1.1.2 advises against them.
    """
    if len(password) < MIN_LENGTH:
        raise UserError(
            f"a password needs at least {MIN_LENGTH} characters; this one has {len(password)}."
        )


def hash_password(password: str) -> str:
    """The Argon2id PHC string of ``password`` (after `check_password`), with a fresh salt."""
    check_password(password)
    return _HASHER.hash(password)


def verify(stored: str, password: str) -> tuple[bool, bool]:
    """Whether ``password`` matches the PHC string ``stored``, and whether ``stored`` should
    be replaced by a hash with the current parameters (only meaningful on a match)."""
    try:
        _HASHER.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False, False
    return True, _HASHER.check_needs_rehash(stored)


def rehash(password: str) -> str:
    """A new hash of an already accepted ``password`` with the current parameters (no rule
    check: a password accepted once is not refused at login when the rule tightens)."""
    return _HASHER.hash(password)


@functools.cache
def _nobodys_hash() -> str:
    return _HASHER.hash("not the password of anyone")


def verify_nobody(password: str) -> None:
    """Spend the time of a verification for a name that does not exist, so that how long a
    failed login takes does not tell which names do."""
    verify(_nobodys_hash(), password)
