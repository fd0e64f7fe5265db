"""Signing: reviewer then approver, audit-logged; a signed report is immutable and a new
generation is a new version."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from plantqc.config import LoadedConfig
from plantqc.errors import UserError
from plantqc.reports.issue import IssuedReport, generate_report
from plantqc.reports.sign import sign_report
from plantqc.store.models import AuditLog, Report


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def issued(
    sqlite_store: Engine, config: LoadedConfig, lot: dict[str, int], tmp_path: Path
) -> IssuedReport:
    return generate_report(sqlite_store, "LOT-0001", tmp_path / "v1", loaded=config)


def test_signing_appends_to_the_audit_log_and_fills_the_signature_block(
    sqlite_store: Engine, issued: IssuedReport
) -> None:
    sign_report(sqlite_store, issued.id, "reviewer", "qe.lee")
    row = sign_report(sqlite_store, issued.id, "approver", "qa.park")
    assert row.status == "approved"
    assert [(s["role"], s["user"]) for s in row.signatures] == [
        ("reviewer", "qe.lee"),
        ("approver", "qa.park"),
    ]
    with Session(sqlite_store) as session:
        audit = session.scalars(
            select(AuditLog).where(AuditLog.action == "report-sign").order_by(AuditLog.id)
        ).all()
    assert [(a.user, a.entity, a.entity_id, a.detail["role"]) for a in audit] == [
        ("qe.lee", "report", str(issued.id), "reviewer"),
        ("qa.park", "report", str(issued.id), "approver"),
    ]
    assert audit[0].detail["data_hash"] == issued.data_hash
    html = issued.html.read_text()
    assert "qe.lee" in html and "qa.park" in html and "not yet signed" not in html
    doc = json.loads((issued.folder / "report.json").read_text())
    assert [s["user"] for s in doc["signatures"]] == ["qe.lee", "qa.park"]


def test_signing_changes_nothing_but_the_signature_block(
    sqlite_store: Engine, issued: IssuedReport
) -> None:
    before = issued.html.read_text()
    sign_report(sqlite_store, issued.id, "reviewer", "qe.lee")
    after = issued.html.read_text()
    start, end = before.index("<!-- signatures -->"), before.index("<!-- /signatures -->")
    assert after[:start] == before[:start]
    assert after[after.index("<!-- /signatures -->") :] == before[end:]


def test_a_signed_report_is_immutable_and_generating_again_issues_a_new_version(
    sqlite_store: Engine, config: LoadedConfig, issued: IssuedReport, tmp_path: Path
) -> None:
    sign_report(sqlite_store, issued.id, "reviewer", "qe.lee")
    signed = {p.name: _digest(p) for p in issued.folder.iterdir() if p.is_file()}
    with pytest.raises(UserError, match="a signed report is immutable"):
        generate_report(sqlite_store, "LOT-0001", issued.folder, loaded=config)
    with pytest.raises(UserError, match=r"already signed as reviewer by qe\.lee"):
        sign_report(sqlite_store, issued.id, "reviewer", "someone.else")
    second = generate_report(sqlite_store, "LOT-0001", tmp_path / "v2", loaded=config)
    assert (second.version, second.id) == (2, issued.id + 1)
    assert second.data_hash == issued.data_hash  # same rows, same hash
    assert {p.name: _digest(p) for p in issued.folder.iterdir() if p.is_file()} == signed
    with Session(sqlite_store) as session:
        first = session.get(Report, issued.id)
        assert first is not None and first.status == "reviewed" and len(first.signatures) == 1


def test_refusing_to_overwrite_a_signed_report_names_each_signer_once(
    sqlite_store: Engine, config: LoadedConfig, issued: IssuedReport
) -> None:
    # the signature is both in the folder's report.json and in the report's record
    sign_report(sqlite_store, issued.id, "reviewer", "qe.lee")
    with pytest.raises(UserError) as refused:
        generate_report(sqlite_store, "LOT-0001", issued.folder, loaded=config)
    assert str(refused.value) == (
        f"{issued.folder} holds report {issued.report_id} version 1, signed by reviewer qe.lee; "
        "a signed report is immutable, so write the new version to another --out."
    )


def test_the_approver_signs_after_review_and_is_someone_else(
    sqlite_store: Engine, issued: IssuedReport
) -> None:
    with pytest.raises(UserError, match="has no reviewer signature yet"):
        sign_report(sqlite_store, issued.id, "approver", "qa.park")
    sign_report(sqlite_store, issued.id, "reviewer", "qe.lee")
    with pytest.raises(UserError, match="reviewer and approver must be two people"):
        sign_report(sqlite_store, issued.id, "approver", "qe.lee")


def test_a_superseded_version_cannot_be_signed(
    sqlite_store: Engine, config: LoadedConfig, issued: IssuedReport, tmp_path: Path
) -> None:
    generate_report(sqlite_store, "LOT-0001", tmp_path / "v2", loaded=config)
    with pytest.raises(UserError, match="superseded by version 2"):
        sign_report(sqlite_store, issued.id, "reviewer", "qe.lee")


def test_a_report_altered_after_issue_cannot_be_signed(
    sqlite_store: Engine, issued: IssuedReport
) -> None:
    path = issued.folder / "report.json"
    doc = json.loads(path.read_text())
    doc["disposition"]["decision"] = "reject"
    path.write_text(json.dumps(doc))
    with pytest.raises(UserError, match="document hash differs"):
        sign_report(sqlite_store, issued.id, "reviewer", "qe.lee")
