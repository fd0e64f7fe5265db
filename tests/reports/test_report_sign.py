"""Signing a report electronically: authored (optional), reviewed, approved by someone else,
then released or held; each signature by the signer's own credentials, bound to the document
hash, in the record, the files and the audit log; a signed report is immutable and a new
generation is a new version."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from report_helpers import casting_config, store_lot
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from plantqc.config import LoadedConfig
from plantqc.errors import UserError
from plantqc.reports.issue import IssuedReport, generate_report
from plantqc.reports.sign import sign_report
from plantqc.store.models import AuditLog, Report, User
from plantqc.users import AuthenticationError, Credentials, Signature, add_user

PASSWORD = "correct horse battery"
LEE = Credentials("qe.lee", PASSWORD)
PARK = Credentials("qa.park", PASSWORD)


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _audit(engine: Engine, action: str) -> list[AuditLog]:
    with Session(engine) as session:
        query = select(AuditLog).where(AuditLog.action == action).order_by(AuditLog.id)
        return list(session.scalars(query))


def _row(engine: Engine, report_id: int) -> Report:
    with Session(engine) as session:
        row = session.get(Report, report_id)
        assert row is not None
        return row


def _add_signers(engine: Engine) -> None:
    """Quality engineers qe.lee (Lee Quinn) and qa.park (Park Ada), operator op.kim."""
    add_user(engine, "qe.lee", "quality", PASSWORD, by="root", full_name="Lee Quinn")
    add_user(engine, "qa.park", "quality", PASSWORD, by="root", full_name="Park Ada")
    add_user(engine, "op.kim", "operator", PASSWORD, by="root", full_name="Kim Operator")


@pytest.fixture
def issued(
    sqlite_store: Engine, config: LoadedConfig, lot: dict[str, int], tmp_path: Path
) -> IssuedReport:
    """Version 1 of LOT-0001's report (disposition release), and the signers."""
    _add_signers(sqlite_store)
    return generate_report(sqlite_store, "LOT-0001", tmp_path / "v1", loaded=config)


@pytest.fixture
def held_lot(sqlite_store: Engine, tmp_path: Path) -> IssuedReport:
    """The report of a lot still open (disposition hold), and the signers."""
    config = casting_config(tmp_path)
    store_lot(sqlite_store, config.config, images_dir=tmp_path / "i", close=False)
    _add_signers(sqlite_store)
    return generate_report(sqlite_store, "LOT-0001", tmp_path / "held", loaded=config)


def _approve(engine: Engine, report: IssuedReport) -> None:
    sign_report(engine, report.id, "reviewed", LEE)
    sign_report(engine, report.id, "approved", PARK)


def test_a_signature_is_recorded_alike_in_the_record_the_file_and_the_audit_log(
    sqlite_store: Engine, issued: IssuedReport
) -> None:
    row = sign_report(sqlite_store, issued.id, "reviewed", LEE)
    [record] = row.signatures
    doc = json.loads((issued.folder / "report.json").read_text())
    [audit] = _audit(sqlite_store, "report-sign")
    assert doc["signatures"] == [record]
    assert (audit.user, audit.entity, audit.entity_id) == ("qe.lee", "report", str(issued.id))
    assert audit.detail["signature"] == record and audit.detail["data_hash"] == issued.data_hash


def test_the_signature_names_the_signer_and_meaning_and_binds_the_document_hash(
    sqlite_store: Engine, issued: IssuedReport
) -> None:
    row = sign_report(sqlite_store, issued.id, "reviewed", LEE)
    signature = Signature.from_dict(row.signatures[0])
    assert (signature.user, signature.printed_name, signature.meaning) == (
        "qe.lee",
        "Lee Quinn",
        "reviewed",
    )
    assert (signature.content_hash, signature.time_zone, signature.components) == (
        row.document_hash,
        "UTC",
        2,
    )


def test_a_signature_in_a_continuous_session_records_one_component(
    sqlite_store: Engine, issued: IssuedReport
) -> None:
    row = sign_report(sqlite_store, issued.id, "reviewed", LEE, as_user="qe.lee", components=1)
    assert row.signatures[0]["components"] == 1


def test_the_status_follows_the_last_meaning(sqlite_store: Engine, issued: IssuedReport) -> None:
    steps = [("authored", PARK), ("reviewed", LEE), ("approved", PARK), ("released", LEE)]
    statuses = [sign_report(sqlite_store, issued.id, m, c).status for m, c in steps]
    assert statuses == ["authored", "reviewed", "approved", "released"]


def test_an_approved_report_can_be_held_instead_of_released(
    sqlite_store: Engine, issued: IssuedReport
) -> None:
    _approve(sqlite_store, issued)
    assert sign_report(sqlite_store, issued.id, "held", LEE).status == "held"


def test_a_report_is_released_or_held_not_both(sqlite_store: Engine, issued: IssuedReport) -> None:
    _approve(sqlite_store, issued)
    sign_report(sqlite_store, issued.id, "held", LEE)
    with pytest.raises(UserError, match="is already held; a report is released or held"):
        sign_report(sqlite_store, issued.id, "released", LEE)


def test_a_lot_whose_disposition_is_not_release_cannot_be_released(
    sqlite_store: Engine, held_lot: IssuedReport
) -> None:
    _approve(sqlite_store, held_lot)
    with pytest.raises(UserError, match="has disposition hold, not release; it can be held"):
        sign_report(sqlite_store, held_lot.id, "released", LEE)


def test_release_or_hold_comes_after_approval(sqlite_store: Engine, issued: IssuedReport) -> None:
    sign_report(sqlite_store, issued.id, "reviewed", LEE)
    with pytest.raises(UserError, match="is not approved yet"):
        sign_report(sqlite_store, issued.id, "held", PARK)


def test_authoring_signs_first_or_not_at_all(sqlite_store: Engine, issued: IssuedReport) -> None:
    sign_report(sqlite_store, issued.id, "reviewed", LEE)
    with pytest.raises(UserError, match="already signed as reviewed; authoring signs first"):
        sign_report(sqlite_store, issued.id, "authored", PARK)


def test_approval_needs_a_review_first(sqlite_store: Engine, issued: IssuedReport) -> None:
    with pytest.raises(UserError, match="has no reviewed signature yet"):
        sign_report(sqlite_store, issued.id, "approved", PARK)


def test_the_approver_is_not_the_reviewer(sqlite_store: Engine, issued: IssuedReport) -> None:
    sign_report(sqlite_store, issued.id, "reviewed", LEE)
    with pytest.raises(UserError) as refused:
        sign_report(sqlite_store, issued.id, "approved", LEE)
    assert str(refused.value) == (
        f"qe.lee reviewed report {issued.report_id}; the approver must be someone else (four eyes)."
    )
    assert _row(sqlite_store, issued.id).status == "reviewed"


def test_each_meaning_signs_a_version_once(sqlite_store: Engine, issued: IssuedReport) -> None:
    sign_report(sqlite_store, issued.id, "reviewed", LEE)
    with pytest.raises(UserError, match=r"already signed as reviewed by qe\.lee at "):
        sign_report(sqlite_store, issued.id, "reviewed", PARK)


def test_an_unknown_meaning_is_refused_in_one_sentence(
    sqlite_store: Engine, issued: IssuedReport
) -> None:
    with pytest.raises(UserError, match=r"^meaning 'reviewer' is not one of authored, "):
        sign_report(sqlite_store, issued.id, "reviewer", LEE)


def test_a_wrong_password_signs_nothing_and_counts_a_failed_login(
    sqlite_store: Engine, issued: IssuedReport
) -> None:
    with pytest.raises(AuthenticationError, match=r"^unknown user or wrong password\.$"):
        sign_report(sqlite_store, issued.id, "reviewed", Credentials("qe.lee", "not it at all"))
    assert _row(sqlite_store, issued.id).signatures == []
    assert [a.entity_id for a in _audit(sqlite_store, "signature-failed")] == ["qe.lee"]
    with Session(sqlite_store) as session:
        assert session.scalars(select(User.failed_logins).where(User.name == "qe.lee")).one() == 1


def test_one_signs_only_as_the_signed_in_user(sqlite_store: Engine, issued: IssuedReport) -> None:
    with pytest.raises(AuthenticationError, match="may sign only as themselves"):
        sign_report(sqlite_store, issued.id, "reviewed", LEE, as_user="qa.park")
    assert _row(sqlite_store, issued.id).signatures == []


def test_an_operator_may_not_sign_and_the_refusal_is_audited_on_the_report(
    sqlite_store: Engine, issued: IssuedReport
) -> None:
    with pytest.raises(UserError) as refused:
        sign_report(sqlite_store, issued.id, "reviewed", Credentials("op.kim", PASSWORD))
    assert str(refused.value) == (
        f"op.kim has role operator, which may not sign report {issued.report_id} as "
        "reviewed (that needs report.sign)."
    )
    [denied] = _audit(sqlite_store, "permission-denied")
    assert (denied.user, denied.entity, denied.entity_id) == ("op.kim", "report", str(issued.id))
    assert _row(sqlite_store, issued.id).signatures == []


def test_signing_changes_nothing_but_the_signature_block(
    sqlite_store: Engine, issued: IssuedReport
) -> None:
    before = issued.html.read_text()
    sign_report(sqlite_store, issued.id, "reviewed", LEE)
    after = issued.html.read_text()
    start, end = before.index("<!-- signatures -->"), before.index("<!-- /signatures -->")
    assert after[:start] == before[:start]
    assert after[after.index("<!-- /signatures -->") :] == before[end:]


def test_the_signature_block_shows_name_user_time_with_zone_meaning_and_hash(
    sqlite_store: Engine, issued: IssuedReport
) -> None:
    row = sign_report(sqlite_store, issued.id, "reviewed", LEE)
    shown = Signature.from_dict(row.signatures[0]).shown_at()
    html = issued.html.read_text()
    block = html[html.index("<!-- signatures -->") : html.index("<!-- /signatures -->")]
    assert "<strong>Lee Quinn</strong> (user qe.lee)" in block
    assert f"Date and time: {shown}" in block and shown.endswith(" UTC (UTC+00:00)")
    assert "Meaning: reviewed" in block and row.document_hash in block


def test_the_signature_block_shows_what_is_still_to_sign(
    sqlite_store: Engine, issued: IssuedReport
) -> None:
    html = issued.html.read_text()
    assert "authored (optional)" in html
    for hint in ("reviewed", "approved", "released or --meaning held"):
        assert f"Not yet signed: plantqc report sign --meaning {hint}" in html
    _approve(sqlite_store, issued)
    html = issued.html.read_text()
    assert html.count("Not yet signed") == 1 and "authored" not in html


def test_a_signed_report_is_immutable_and_generating_again_issues_a_new_version(
    sqlite_store: Engine, config: LoadedConfig, issued: IssuedReport, tmp_path: Path
) -> None:
    sign_report(sqlite_store, issued.id, "reviewed", LEE)
    signed = {p.name: _digest(p) for p in issued.folder.iterdir() if p.is_file()}
    with pytest.raises(UserError, match="a signed report is immutable"):
        generate_report(sqlite_store, "LOT-0001", issued.folder, loaded=config)
    second = generate_report(sqlite_store, "LOT-0001", tmp_path / "v2", loaded=config)
    assert (second.version, second.id) == (2, issued.id + 1)
    assert second.data_hash == issued.data_hash  # same rows, same hash
    assert {p.name: _digest(p) for p in issued.folder.iterdir() if p.is_file()} == signed
    first = _row(sqlite_store, issued.id)
    assert first.status == "reviewed" and len(first.signatures) == 1


def test_refusing_to_overwrite_a_signed_report_names_each_signer_once(
    sqlite_store: Engine, config: LoadedConfig, issued: IssuedReport
) -> None:
    # the signature is both in the folder's report.json and in the report's record
    sign_report(sqlite_store, issued.id, "reviewed", LEE)
    with pytest.raises(UserError) as refused:
        generate_report(sqlite_store, "LOT-0001", issued.folder, loaded=config)
    assert str(refused.value) == (
        f"{issued.folder} holds report {issued.report_id} version 1, signed by qe.lee "
        "(reviewed); a signed report is immutable, so write the new version to another --out."
    )


def test_a_superseded_version_cannot_be_signed(
    sqlite_store: Engine, config: LoadedConfig, issued: IssuedReport, tmp_path: Path
) -> None:
    generate_report(sqlite_store, "LOT-0001", tmp_path / "v2", loaded=config)
    with pytest.raises(UserError, match="superseded by version 2"):
        sign_report(sqlite_store, issued.id, "reviewed", LEE)


def test_a_report_altered_after_issue_cannot_be_signed(
    sqlite_store: Engine, issued: IssuedReport
) -> None:
    path = issued.folder / "report.json"
    doc = json.loads(path.read_text())
    doc["disposition"]["decision"] = "reject"
    path.write_text(json.dumps(doc))
    with pytest.raises(UserError, match="document hash differs"):
        sign_report(sqlite_store, issued.id, "reviewed", LEE)


def test_a_report_signed_by_typed_name_before_electronic_signatures_is_not_signed_further(
    sqlite_store: Engine, issued: IssuedReport
) -> None:
    typed = [{"role": "reviewer", "user": "qe.lee", "at": "2026-12-01T08:00:00+00:00"}]
    with Session(sqlite_store) as session, session.begin():
        session.execute(update(Report).where(Report.id == issued.id).values(signatures=typed))
    with pytest.raises(UserError, match=r"sign-offs by typed name .* issue a new version"):
        sign_report(sqlite_store, issued.id, "approved", PARK)
