"""Issuing a report: the next version of a lot's (roll's) report, written and recorded.

Each generation is a new version recorded in ``reports`` with its hashes; the files are
``report.html``, ``report.json`` (every number, for machines and for audits), ``report.pdf``
with ``--pdf``, and ``overlays/`` with the full-size overlays the thumbnails link to.  A folder
that holds a signed report is never written to: a signed report is immutable, so the new
version must go elsewhere.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from plantqc import __version__
from plantqc.config import LoadedConfig
from plantqc.errors import UserError
from plantqc.reports.alarm_kpi import alarm_kpi_document
from plantqc.reports.completeness import completeness_document
from plantqc.reports.content import build_content, document, document_hash
from plantqc.reports.control import control_document
from plantqc.reports.data import find_lot
from plantqc.reports.pdf import print_pdf
from plantqc.reports.render import OVERLAY_FOLDER, render_report
from plantqc.store.models import Report

REPORT_HTML = "report.html"
REPORT_JSON = "report.json"
REPORT_PDF = "report.pdf"


@dataclass(frozen=True)
class IssuedReport:
    """Where a newly issued report went and what it decided."""

    id: int
    report_id: str
    version: int
    folder: Path
    pdf: bool
    disposition: str
    data_hash: str

    @property
    def html(self) -> Path:
        return self.folder / REPORT_HTML


def report_code(report_id: int) -> str:
    """The printed report id, e.g. ``QC-000012``."""
    return f"QC-{report_id:06d}"


def parse_report_id(text: str) -> int:
    """``12`` or ``QC-000012`` -> 12; a `UserError` for anything else."""
    match = re.fullmatch(r"(?:QC-)?0*(\d+)", text.strip(), re.IGNORECASE)
    if match is None:
        raise UserError(f"--report {text!r} is not a report id such as QC-000012 or 12.")
    return int(match[1])


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file, so readers never see half a file."""
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)


def read_document(folder: Path) -> dict[str, Any] | None:
    """The ``report.json`` in ``folder``, or None when there is none."""
    path = folder / REPORT_JSON
    if not path.is_file():
        return None
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise UserError(f"{path} is not a readable plantqc report; use another folder.") from None
    if not isinstance(doc, dict) or "report_id" not in doc:
        raise UserError(f"{path} is not a plantqc report; use another folder.")
    return doc


def _refuse_signed(engine: Engine, folder: Path) -> bool:
    """Whether ``folder`` holds an (unsigned) report to replace; a `UserError` if it is signed."""
    doc = read_document(folder)
    if doc is None:
        return False
    with Session(engine) as session:
        row = session.get(Report, doc.get("id")) if isinstance(doc.get("id"), int) else None
        # the file and the record both hold each signature: one entry per meaning (per role in
        # the sign-offs by typed name from before electronic signatures)
        signed = [*(doc.get("signatures") or []), *(row.signatures if row else [])]
        by_meaning = {s.get("meaning", s.get("role")): s for s in signed}
    if by_meaning:
        who = ", ".join(f"{s['user']} ({meaning})" for meaning, s in by_meaning.items())
        raise UserError(
            f"{folder} holds report {doc['report_id']} version {doc.get('version')}, signed by "
            f"{who}; a signed report is immutable, so write the new version to another --out."
        )
    return True


def generate_report(
    engine: Engine,
    lot: str,
    out_dir: Path,
    *,
    line: str | None = None,
    roll: str | None = None,
    loaded: LoadedConfig | None = None,
    pdf: bool = False,
) -> IssuedReport:
    """Compute, render, write and record the next version of the report of ``lot`` (``roll``).

    Raises a `UserError` for an unknown lot or roll, a lot without data, or an ``out_dir``
    holding a signed report.
    """
    data = find_lot(engine, lot, line=line, roll=roll)
    replacing = _refuse_signed(engine, out_dir)
    config = loaded.config if loaded is not None else None
    content = build_content(engine, data, config)
    out_dir.mkdir(parents=True, exist_ok=True)
    if replacing:
        shutil.rmtree(out_dir / OVERLAY_FOLDER, ignore_errors=True)
    (out_dir / REPORT_PDF).unlink(missing_ok=True)  # never a PDF of an earlier version
    html_path = out_dir / REPORT_HTML
    now = datetime.now(UTC)
    with Session(engine) as session, session.begin():
        latest = session.execute(
            select(func.max(Report.version)).where(
                Report.lot_id == data.lot_id, Report.scope == data.scope
            )
        ).scalar()
        row = Report(
            lot_id=data.lot_id,
            roll_id=data.roll_id,
            scope=data.scope,
            version=int(latest or 0) + 1,
            generated_at=now,
            software_version=__version__,
            config_hash=content.config_hash,
            data_hash=content.data_hash,
            document_hash="",
            html_path=str(html_path.resolve()),
            disposition=content.disposition.decision,
            status="issued",
            signatures=[],
        )
        session.add(row)
        session.flush()
        header = {
            "id": row.id,
            "report_id": report_code(row.id),
            "version": row.version,
            "generated_at": now.isoformat(),
            "software_version": __version__,
        }
        doc = document(content, header)
        doc["completeness"] = completeness_document(engine, data, config)
        doc["control"] = control_document(engine, data, config)
        doc["alarm_kpi"] = alarm_kpi_document(engine, data)
        write_atomic(out_dir / REPORT_JSON, json.dumps(doc, indent=1, allow_nan=False))
        write_atomic(html_path, render_report(content, doc, out_dir))
        row.document_hash = document_hash(doc)
        issued = IssuedReport(
            row.id, header["report_id"], row.version, out_dir, pdf,
            row.disposition, row.data_hash,
        )  # fmt: skip
    if pdf:
        print_pdf(html_path, out_dir / REPORT_PDF)
    return issued
