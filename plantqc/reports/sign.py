"""Signing and verifying issued reports with electronic signatures (21 CFR Part 11).

A report version is signed by meaning (`plantqc.reports.signoff`): authored (optional),
reviewed, approved by someone other than the reviewer, then released or held.  Each signer
gives their own user name and password (`plantqc.users.esign.sign`); their role must be
granted ``report.sign`` (and ``lot.release`` / ``lot.hold`` to release or hold).  The
signature is bound to the document hash recorded at issue, which the files must still match,
so a report altered after issue cannot be signed; only the newest version of a lot's (roll's)
report can be.  Each signature goes to the report's record, to its ``report.json`` and to the
audit log (``report-sign``), and fills the signature block of the HTML (and its PDF); nothing
else in the files changes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

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
from plantqc.reports.signoff import refusal
from plantqc.store.audit import record_audit, record_denied
from plantqc.store.models import Report, User
from plantqc.users.esign import Credentials, Signature, sign
from plantqc.users.roles import Action, may

ENTITY = "report"
NEEDS: dict[str, tuple[Action, ...]] = {
    "released": (Action.REPORT_SIGN, Action.LOT_RELEASE),
    "held": (Action.REPORT_SIGN, Action.LOT_HOLD),
}
"""What a signer's role must be granted to sign as a meaning; any other needs report.sign."""


def _load(session: Session, report_id: int, *, for_update: bool = False) -> Report:
    row = session.get(Report, report_id, with_for_update=for_update)
    if row is None:
        raise UserError(f"there is no report {report_code(report_id)}.")
    return row


def _check_signable(session: Session, row: Report, meaning: str) -> None:
    """Refuse (`UserError`) to sign ``row`` as ``meaning`` whoever signs: a newer version,
    signatures by typed name from before electronic signatures, the order of the sign-off, or
    files that no longer hold the report as issued."""
    code = report_code(row.id)
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
    signed = list(row.signatures or [])
    if any("meaning" not in s for s in signed):
        raise UserError(
            f"report {code} carries sign-offs by typed name from before electronic "
            "signatures; issue a new version to sign it."
        )
    refused = refusal(code, signed, meaning, row.disposition)
    if refused is not None:
        raise UserError(refused)
    folder = Path(row.html_path).parent
    doc = read_document(folder)
    if doc is None or document_hash(doc) != row.document_hash:
        raise UserError(
            f"{folder / REPORT_JSON} no longer holds report {code} as issued "
            "(its document hash differs); it cannot be signed."
        )


def sign_report(
    engine: Engine,
    report_id: int,
    meaning: str,
    credentials: Credentials,
    *,
    as_user: str | None = None,
    components: int = 2,
) -> Report:
    """Sign report ``report_id`` as ``meaning`` with the signer's ``credentials``.

    The report is checked before the credentials are (so that nobody types a password for a
    signature that cannot be made) and again, locked, after: it may have been signed
    meanwhile.  ``as_user`` and ``components`` are `plantqc.users.esign.sign`'s.  Appends
    ``report-sign`` to the audit log with the signature, sets the report's status to the
    meaning, and fills the signature block of its files.  Raises a `UserError` (one sentence)
    when the credentials are refused, the signer's role may not sign, the meaning is signed
    already or out of order, the approver is the reviewer, a newer version exists, or the
    files changed.
    """
    with Session(engine) as session:
        row = _load(session, report_id)
        _check_signable(session, row, meaning)
        content_hash = row.document_hash
    signature = sign(
        engine, credentials, meaning, content_hash, as_user=as_user, components=components
    )
    code = report_code(report_id)
    with Session(engine, expire_on_commit=False) as session:
        row = _load(session, report_id, for_update=True)
        _refuse_unauthorised(session, row, signature)
        _check_signable(session, row, meaning)
        signed = list(row.signatures or [])
        reviewer = next((s["user"] for s in signed if s["meaning"] == "reviewed"), None)
        if meaning == "approved" and signature.user == reviewer:
            raise UserError(
                f"{signature.user} reviewed report {code}; the approver must be someone else "
                "(four eyes)."
            )
        record = signature.as_dict()
        signed.append(record)
        row.signatures, row.status = signed, meaning
        record_audit(
            session,
            signature.user,
            "report-sign",
            ENTITY,
            row.id,
            {
                "report": code,
                "version": row.version,
                "lot_id": row.lot_id,
                "scope": row.scope,
                "data_hash": row.data_hash,
                "document_hash": row.document_hash,
                "signature": record,
            },
            at=signature.at,
        )
        folder = Path(row.html_path).parent
        doc = read_document(folder)
        if doc is None:  # removed since _check_signable read it
            raise UserError(f"the files of report {code} are no longer in {folder}.")
        doc["signatures"] = signed
        _write_signed(folder, doc)
        session.commit()
    return row


def _refuse_unauthorised(session: Session, row: Report, signature: Signature) -> None:
    """Refuse a signer whose role may not sign as the signature's meaning, audited on the
    report (`plantqc.store.audit.record_denied`; the refusal and its entry are committed)."""
    role = session.scalars(select(User.role).where(User.name == signature.user)).one()
    needed = NEEDS.get(signature.meaning, (Action.REPORT_SIGN,))
    missing = [a for a in needed if not may(role, a)]
    if not missing:
        return
    code = report_code(row.id)
    record_denied(
        session, signature.user, role, missing[0], ENTITY, row.id, at=signature.at,
        report=code, meaning=signature.meaning, needs=[str(a) for a in missing],
    )  # fmt: skip
    session.commit()
    raise UserError(
        f"{signature.user} has role {role}, which may not sign report {code} as "
        f"{signature.meaning} (that needs {', '.join(missing)})."
    )


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
class Check:
    """One check of a report: whether it passed, and the sentence that says what was found."""

    passed: bool
    sentence: str


@dataclass(frozen=True)
class Verification:
    """A report's checks: its data hash recorded and recomputed from the store now, and the
    checks of its files and signatures (`verify_report`)."""

    report_id: str
    recorded: str
    recomputed: str
    checks: tuple[Check, ...]

    @property
    def matches(self) -> bool:
        """Whether the data the report was computed from is unchanged."""
        return self.recorded == self.recomputed

    @property
    def ok(self) -> bool:
        """Whether every check passed."""
        return all(c.passed for c in self.checks)


def verify_report(engine: Engine, report_id: int) -> Verification:
    """Check report ``report_id``: its data hash recomputed from the store over the same range;
    its ``report.json`` still hashing to the document hash recorded at issue; every signature
    (in the store and in the file) bound to that hash; the file's signatures the store's."""
    code = report_code(report_id)
    with Session(engine) as session:
        row = _load(session, report_id)
        recorded, document = row.data_hash, row.document_hash
        stored, folder = list(row.signatures or []), Path(row.html_path).parent
    doc = read_document(folder)
    if doc is None or doc.get("id") != report_id:
        raise UserError(f"the files of report {code} are not in {folder}.")
    data = find_lot(
        engine,
        doc["lot"]["code"],
        line=doc["line"]["name"],
        roll=doc["roll"],
        until=datetime.fromisoformat(doc["range"]["end"]),
    )
    recomputed = data_hash(engine, data)
    checks = [
        Check(True, f"data unchanged ({recorded}).")
        if recomputed == recorded
        else Check(False, f"data changed since issue: recorded {recorded}, now {recomputed}."),
        _document_check(doc, document),
        *_binding_checks(stored, list(doc.get("signatures") or []), document),
        _same_signatures_check(stored, list(doc.get("signatures") or [])),
    ]
    return Verification(code, recorded, recomputed, tuple(checks))


def _document_check(doc: dict[str, Any], recorded: str) -> Check:
    now = document_hash(doc)
    if now == recorded:
        return Check(True, f"{REPORT_JSON} holds the report as issued (document hash {recorded}).")
    return Check(
        False,
        f"{REPORT_JSON} no longer holds the report as issued: it hashes to {now}, "
        f"the record says {recorded}.",
    )


def _binding_checks(
    stored: list[dict[str, Any]], in_file: list[dict[str, Any]], recorded: str
) -> list[Check]:
    """One failed check per signature (the store's, then the file's that differ from them) not
    bound to ``recorded``; else one passed check for all of them."""
    signatures = [("the store", s) for s in stored]
    signatures += [(REPORT_JSON, s) for s in in_file if s not in stored]
    failed = []
    for where, s in signatures:
        what = f"the {s.get('meaning', s.get('role'))} signature by {s.get('user')} in {where}"
        bound = s.get("content_hash")
        if bound is None:
            failed.append(Check(False, f"{what} is by typed name, bound to no content."))
        elif bound != recorded:
            failed.append(
                Check(False, f"{what} is bound to {bound}, not to the document hash {recorded}.")
            )
    if failed:
        return failed
    if not signatures:
        return [Check(True, "no signatures yet.")]
    return [Check(True, f"{len(signatures)} signature(s) bound to the document hash.")]


def _same_signatures_check(stored: list[dict[str, Any]], in_file: list[dict[str, Any]]) -> Check:
    if in_file == stored:
        return Check(True, f"{REPORT_JSON} holds the {len(stored)} signature(s) the store records.")
    return Check(
        False,
        f"{REPORT_JSON} holds {len(in_file)} signature(s) that differ from the {len(stored)} "
        "the store records.",
    )
