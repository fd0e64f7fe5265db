"""Electronic signatures, on SQLite and PostgreSQL: a signature needs the signer's own
credentials, a wrong password counts toward the lockout like a failed login, and the
signature records who, when, meaning what, of which content, with how many components."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from plantqc.store.models import AuditLog, User
from plantqc.users import (
    MEANINGS,
    AuthenticationError,
    Credentials,
    Signature,
    add_user,
    authenticate,
    sign,
)

T0 = datetime(2026, 12, 7, 16, 3, 12, tzinfo=UTC)
PASSWORD = "correct horse battery"
WRONG = "incorrect horse battery"
CONTENT = hashlib.sha256(b"lot L-001 report v1").hexdigest()
QUINN = Credentials("quinn", PASSWORD)


@pytest.fixture
def quinn(store: Engine) -> Engine:
    """The store with quality engineer ``quinn``, Quinn Mallory."""
    add_user(store, "quinn", "quality", PASSWORD, by="root", full_name="Quinn Mallory", now=T0)
    return store


def _audit(engine: Engine) -> list[AuditLog]:
    with Session(engine) as session:
        return list(session.scalars(select(AuditLog).order_by(AuditLog.id)))


def _failed_logins(engine: Engine) -> int:
    with Session(engine) as session:
        return session.scalars(select(User.failed_logins)).one()


def test_the_signature_holds_printed_name_meaning_time_zone_and_content(quinn: Engine) -> None:
    signature = sign(quinn, QUINN, "reviewed", CONTENT, now=T0)
    assert signature == Signature(
        user="quinn",
        printed_name="Quinn Mallory",
        meaning="reviewed",
        at=T0,
        time_zone="UTC",
        content_hash=CONTENT,
        components=2,
    )


def test_the_user_name_is_matched_whatever_its_case(quinn: Engine) -> None:
    assert sign(quinn, Credentials("Quinn", PASSWORD), "approved", CONTENT).user == "quinn"


def test_signing_by_password_only_in_a_session_records_one_component(quinn: Engine) -> None:
    signature = sign(quinn, QUINN, "approved", CONTENT, as_user="quinn", components=1)
    assert signature.components == 1


def test_a_password_only_signature_needs_the_session_user(quinn: Engine) -> None:
    with pytest.raises(ValueError, match="needs as_user"):
        sign(quinn, QUINN, "approved", CONTENT, components=1)


def test_a_successful_signature_writes_no_audit_entry_of_its_own(quinn: Engine) -> None:
    before = len(_audit(quinn))
    sign(quinn, QUINN, "reviewed", CONTENT, now=T0)
    assert len(_audit(quinn)) == before


def test_a_signature_after_failed_logins_audits_the_reset_count(quinn: Engine) -> None:
    with pytest.raises(AuthenticationError):
        sign(quinn, Credentials("quinn", WRONG), "reviewed", CONTENT, now=T0)
    sign(quinn, QUINN, "reviewed", CONTENT, now=T0)
    last = _audit(quinn)[-1]
    assert (last.action, last.entity_id) == ("signature-verified", "quinn")
    assert (last.detail["old"]["failed_logins"], last.detail["new"]["failed_logins"]) == (1, 0)
    assert _failed_logins(quinn) == 0


def test_a_wrong_password_is_refused_counted_and_audited_as_signature_failed(
    quinn: Engine,
) -> None:
    with pytest.raises(AuthenticationError, match=r"^unknown user or wrong password\.$"):
        sign(quinn, Credentials("quinn", WRONG), "reviewed", CONTENT, now=T0)
    last = _audit(quinn)[-1]
    assert (last.action, last.entity, last.entity_id, last.detail["reason"]) == (
        "signature-failed",
        "user",
        "quinn",
        "wrong password",
    )
    assert _failed_logins(quinn) == 1


def test_wrong_signing_passwords_and_failed_logins_count_together_toward_the_lockout(
    quinn: Engine,
) -> None:
    for _ in range(4):
        with pytest.raises(AuthenticationError):
            authenticate(quinn, "quinn", WRONG, T0)
    with pytest.raises(AuthenticationError):
        sign(quinn, Credentials("quinn", WRONG), "reviewed", CONTENT, now=T0)
    assert _audit(quinn)[-1].action == "user-lock"
    with pytest.raises(AuthenticationError, match="is locked until"):
        authenticate(quinn, "quinn", PASSWORD, T0)


def test_a_locked_account_cannot_sign_even_with_the_right_password(quinn: Engine) -> None:
    for _ in range(5):
        with pytest.raises(AuthenticationError):
            sign(quinn, Credentials("quinn", WRONG), "reviewed", CONTENT, now=T0)
    with pytest.raises(AuthenticationError, match="is locked until"):
        sign(quinn, QUINN, "reviewed", CONTENT, now=T0)


def test_a_successful_signature_resets_the_failed_count(quinn: Engine) -> None:
    with pytest.raises(AuthenticationError):
        sign(quinn, Credentials("quinn", WRONG), "reviewed", CONTENT, now=T0)
    sign(quinn, QUINN, "reviewed", CONTENT, now=T0)
    assert _failed_logins(quinn) == 0


def test_an_unknown_user_cannot_sign(quinn: Engine) -> None:
    with pytest.raises(AuthenticationError, match=r"^unknown user or wrong password\.$"):
        sign(quinn, Credentials("nobody", PASSWORD), "reviewed", CONTENT, now=T0)
    assert _audit(quinn)[-1].action == "signature-failed"


def test_one_signs_only_as_oneself(quinn: Engine) -> None:
    add_user(quinn, "rita", "quality", PASSWORD, by="root", full_name="Rita Levi", now=T0)
    with pytest.raises(AuthenticationError, match="may sign only as themselves"):
        sign(quinn, Credentials("rita", PASSWORD), "approved", CONTENT, as_user="quinn")
    last = _audit(quinn)[-1]
    assert (last.user, last.action, last.entity_id) == ("quinn", "signature-failed", "rita")


def test_a_mismatched_signer_is_refused_before_the_password_counts(quinn: Engine) -> None:
    with pytest.raises(AuthenticationError):
        sign(quinn, Credentials("quinn", WRONG), "approved", CONTENT, as_user="rita")
    assert _failed_logins(quinn) == 0


def test_an_unknown_meaning_is_refused_in_one_sentence(quinn: Engine) -> None:
    with pytest.raises(AuthenticationError, match=r"^meaning 'checked' is not one of "):
        sign(quinn, QUINN, "checked", CONTENT)


def test_the_meanings_are_authored_reviewed_approved_released_held() -> None:
    assert MEANINGS == ("authored", "reviewed", "approved", "released", "held")


def test_a_signature_survives_its_json_form(quinn: Engine) -> None:
    signature = sign(quinn, QUINN, "released", CONTENT, now=T0)
    assert signature.as_dict()["at"] == "2026-12-07T16:03:12+00:00"
    assert Signature.from_dict(signature.as_dict()) == signature


def test_the_signing_time_is_shown_with_zone_abbreviation_and_offset() -> None:
    signature = Signature("quinn", "Quinn Mallory", "held", T0, "Europe/Berlin", CONTENT, 2)
    assert signature.shown_at() == "2026-12-07 17:03:12 CET (UTC+01:00)"


def test_the_credentials_never_show_the_password() -> None:
    assert PASSWORD not in repr(QUINN)
