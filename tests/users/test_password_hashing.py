"""Passwords are stored as Argon2id PHC strings (RFC 9106) and must be 12 characters or more."""

from __future__ import annotations

import pytest

from plantqc.errors import UserError
from plantqc.users import passwords

PASSWORD = "correct horse battery"


def test_a_hash_is_an_argon2id_phc_string_with_the_rfc_9106_low_memory_parameters() -> None:
    # RFC 9106 §4, second recommended option: t = 3 passes, m = 2^16 KiB (64 MiB), p = 4 lanes
    assert passwords.hash_password(PASSWORD).startswith("$argon2id$v=19$m=65536,t=3,p=4$")


def test_a_hash_verifies_its_password_and_no_other() -> None:
    stored = passwords.hash_password(PASSWORD)
    assert passwords.verify(stored, PASSWORD) == (True, False)
    assert passwords.verify(stored, PASSWORD + "!")[0] is False


def test_two_hashes_of_one_password_differ_by_their_salt() -> None:
    assert passwords.hash_password(PASSWORD) != passwords.hash_password(PASSWORD)


def test_a_password_shorter_than_12_characters_is_refused_in_one_sentence() -> None:
    # NIST SP 800-63B §5.1.1.2 sets the floor at 8; plantqc at 12
    with pytest.raises(
        UserError, match=r"^a password needs at least 12 characters; this one has 11\.$"
    ):
        passwords.hash_password("a" * 11)
