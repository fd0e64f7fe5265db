"""Signing and verifying issued reports.

A report is signed first by a reviewer, then by an approver who is someone else (four eyes).
Each signature is appended to the report's record and to the audit log, and fills the
signature block of the HTML (and its PDF); nothing else in the files changes, and the
document hash recorded at issue must still match, so a report altered after issue cannot be
signed.  Only the newest version of a lot's (roll's) report can be signed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from plantqc.errors import UserError
from plantqc.reports.content import document_hash
from plantqc.reports.data import data_hash, find_lot
from plantqc.reports.issue import (
    REPORT_HTML,
    REPORT_JSON,
    REPORT_PDF,
    read_document,
    report_code,
    write_atomic,
)
from plantqc.reports.pdf import print_pdf
from plantqc.reports.render import replace_signatures
from plantqc.store.audit import record_audit
from plantqc.store.models import Report

ROLES = ("reviewer", "approver")
STATUS_AFTER = {"reviewer": "reviewed", "approver": "approved"}


def _load(session: Session, report_id: int) -> Report:
    row = session.get(Report, report_id)
    if row is None:
        raise UserError(f"there is no report {report_code(report_id)}.")
    return row


def sign_report(engine: Engine, report_id: int, role: str, user: str) -> Report:
    """Sign report ``report_id`` as ``role`` (reviewer | approver) by ``user``.

    Appends ``report-sign`` to the audit log and fills the signature block of the report's
    files.  Raises a `UserError` when the role is signed already, the approver comes before
    the reviewer or is the same person, a newer version exists, or the files changed.
    """
    if role not in ROLES:
        raise UserError(f"--role {role!r} is not one of: {', '.join(ROLES)}.")
    if not user.strip():
        raise UserError("signing needs the name of who signs (--user).")
    code = report_code(report_id)
    with Session(engine, expire_on_commit=False) as session, session.begin():
        row = _load(session, report_id)
        newest = session.execute(
            select(func.max(Report.version)).where(
                Report.lot_id == row.lot_id, Report.scope == row.scope
            )
        ).scalar()
        if newest is not None and newest > row.version:
            raise UserError(
                f"report {code} is version {row.version}, superseded by version {newest}; "
                "sign the newest version."
            )
        signatures = list(row.signatures or [])
        done = {s["role"]: s for s in signatures}
        if role in done:
            raise UserError(
                f"report {code} is already signed as {role} by {done[role]['user']} at "
                f"{done[role]['at']}; a signed report is immutable."
            )
        if role == "approver" and "reviewer" not in done:
            raise UserError(f"report {code} has no reviewer signature yet; review comes first.")
        if any(s["user"] == user for s in signatures):
            raise UserError(
                f"{user} already signed report {code}; reviewer and approver must be two people."
            )
        folder = Path(row.html_path).parent
        doc = read_document(folder)
        if doc is None or document_hash(doc) != row.document_hash:
            raise UserError(
                f"{folder / REPORT_JSON} no longer holds report {code} as issued "
                "(its document hash differs); it cannot be signed."
            )
        now = datetime.now(UTC)
        signatures.append({"role": role, "user": user, "at": now.isoformat()})
        row.signatures, row.status = signatures, STATUS_AFTER[role]
        record_audit(
            session,
            user,
            "report-sign",
            "report",
            row.id,
            {
                "report": code,
                "role": role,
                "version": row.version,
                "lot_id": row.lot_id,
                "scope": row.scope,
                "data_hash": row.data_hash,
                "document_hash": row.document_hash,
            },
            at=now,
        )
        doc["signatures"] = signatures
        _write_signed(folder, doc)
    return row


def _write_signed(folder: Path, doc: dict[str, object]) -> None:
    """Fill the signature block of the files; restore them if the PDF cannot be re-printed."""
    html_path, json_path = folder / REPORT_HTML, folder / REPORT_JSON
    old_html, old_json = html_path.read_text(encoding="utf-8"), json_path.read_text("utf-8")
    write_atomic(html_path, replace_signatures(old_html, doc))
    write_atomic(json_path, json.dumps(doc, indent=1, allow_nan=False))
    if (folder / REPORT_PDF).is_file():
        try:
            print_pdf(html_path, folder / REPORT_PDF)
        except UserError:
            write_atomic(html_path, old_html)
            write_atomic(json_path, old_json)
            raise


@dataclass(frozen=True)
class Verification:
    """The data hash a report recorded and the one recomputed from the store now."""

    report_id: str
    recorded: str
    recomputed: str

    @property
    def matches(self) -> bool:
        return self.recorded == self.recomputed


def verify_report(engine: Engine, report_id: int) -> Verification:
    """Recompute the data hash of report ``report_id`` from the store, over the same range."""
    with Session(engine) as session:
        row = _load(session, report_id)
        recorded, folder = row.data_hash, Path(row.html_path).parent
    doc = read_document(folder)
    if doc is None or doc.get("id") != report_id:
        raise UserError(f"the files of report {report_code(report_id)} are not in {folder}.")
    data = find_lot(
        engine,
        doc["lot"]["code"],
        line=doc["line"]["name"],
        roll=doc["roll"],
        until=datetime.fromisoformat(doc["range"]["end"]),
    )
    return Verification(report_code(report_id), recorded, data_hash(engine, data))
