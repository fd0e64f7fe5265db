"""Lots and their reports: ``GET /lots`` every lot with its rolls and report versions (their
disposition, status and signatures); ``GET /reports/{id}/`` an issued report as its files hold
it, with its overlay images; ``GET|POST /reports/{id}/sign`` signing it.

A signature is electronic (`plantqc.reports.sign.sign_report`): the signer's password again,
and their user name at the session's first signing (`plantqc.web.security.WebSession`), as
the logged-in user only.  The meaning asks the role's permission: ``report.sign`` to author,
review or approve, ``lot.release`` to release, ``lot.hold`` to hold; a refusal is 403 and
audited.  What the sign-off refuses (its order, four eyes, a superseded version, files changed
since issue) is shown in its sentence with 409.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from plantqc.errors import UserError
from plantqc.reports.issue import REPORT_HTML, report_code
from plantqc.reports.render import OVERLAY_FOLDER
from plantqc.reports.sign import sign_report
from plantqc.reports.signoff import still_to_sign
from plantqc.store.models import Line, Lot, Report, Roll
from plantqc.users import AuthenticationError
from plantqc.users.esign import MEANINGS, Signature
from plantqc.users.roles import Action
from plantqc.web.console import Console, CsrfField
from plantqc.web.security import WebSession

LOTS_SHOWN = 100
"""Lots the page lists, newest first: the ones a quality engineer signs are recent."""

PERMISSION: dict[str, tuple[Action, str]] = {
    "authored": (Action.REPORT_SIGN, "sign reports"),
    "reviewed": (Action.REPORT_SIGN, "sign reports"),
    "approved": (Action.REPORT_SIGN, "sign reports"),
    "released": (Action.LOT_RELEASE, "release lots"),
    "held": (Action.LOT_HOLD, "hold lots"),
}
"""The action a signature of each meaning needs, and what the refusal says the role may not do."""

NO_CACHE = {"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"}
"""Headers of a served report file: signing rewrites the report, so a copy is never reused
unchecked."""


@dataclass(frozen=True)
class Signed:
    """One signature of a report as the console lists it (what 21 CFR 11.50 asks to show)."""

    printed_name: str
    user: str
    meaning: str
    at: str

    @classmethod
    def of(cls, record: dict[str, object]) -> Signed:
        if "meaning" not in record:  # a sign-off by typed name, from before e-signatures
            user, role = str(record.get("user", "?")), str(record.get("role", "?"))
            return cls(user, user, f"{role} (typed name, not an electronic signature)",
                       str(record.get("at", "?")))  # fmt: skip
        signature = Signature.from_dict(record)
        return cls(signature.printed_name, signature.user, signature.meaning, signature.shown_at())


@dataclass(frozen=True)
class ReportVersion:
    """One issued report version with its signatures; ``newest`` when no later version of
    its scope exists (only that one can be signed)."""

    row: Report
    code: str
    signatures: list[Signed]
    newest: bool

    @property
    def scope(self) -> str:
        return f"roll {self.row.scope}" if self.row.scope else "lot"


@dataclass(frozen=True)
class LotReports:
    """A lot with its line's name, its rolls and its report versions by scope and version."""

    lot: Lot
    line: str
    rolls: list[Roll]
    reports: list[ReportVersion]


def _versions(rows: list[Report]) -> list[ReportVersion]:
    newest: dict[tuple[int, str], int] = {}
    for row in rows:
        key = (row.lot_id, row.scope)
        newest[key] = max(newest.get(key, 0), row.version)
    return [
        ReportVersion(
            row,
            report_code(row.id),
            [Signed.of(s) for s in row.signatures or []],
            row.version == newest[(row.lot_id, row.scope)],
        )
        for row in rows
    ]


def recent_lots(engine: Engine, limit: int = LOTS_SHOWN) -> list[LotReports]:
    """The ``limit`` newest lots with their rolls and report versions."""
    with Session(engine) as db:
        lots = db.execute(
            select(Lot, Line.name)
            .join(Line, Line.id == Lot.line_id)
            .order_by(Lot.started_at.desc(), Lot.id.desc())
            .limit(limit)
        ).all()
        ids = [lot.id for lot, _ in lots]
        rolls = db.scalars(select(Roll).where(Roll.lot_id.in_(ids)).order_by(Roll.started_at))
        reports = db.scalars(
            select(Report).where(Report.lot_id.in_(ids)).order_by(Report.scope, Report.version)
        )
        by_lot: dict[int, tuple[list[Roll], list[Report]]] = {i: ([], []) for i in ids}
        for roll in rolls:
            by_lot[roll.lot_id][0].append(roll)
        for report in reports:
            by_lot[report.lot_id][1].append(report)
        return [
            LotReports(lot, line, by_lot[lot.id][0], _versions(by_lot[lot.id][1]))
            for lot, line in lots
        ]


def one_report(engine: Engine, report_id: int) -> tuple[ReportVersion, str] | None:
    """Report ``report_id`` with its lot's code; None when there is none."""
    with Session(engine) as db:
        row = db.get(Report, report_id)
        if row is None:
            return None
        lot = db.get_one(Lot, row.lot_id)
        versions = db.scalars(
            select(Report).where(Report.lot_id == row.lot_id, Report.scope == row.scope)
        ).all()
        [version] = [v for v in _versions(list(versions)) if v.row.id == report_id]
        return version, lot.code


def routes(console: Console) -> APIRouter:
    # pages (the API documents itself), each behind the login
    router = APIRouter(include_in_schema=False, dependencies=console.login_required)
    engine = console.engine

    @router.get("/lots", response_class=HTMLResponse)
    def lots_page(request: Request) -> HTMLResponse:
        session = console.logged_in(request)
        lots = recent_lots(engine)
        return console.render(request, "lots.html.j2", session, lots=lots, shown=LOTS_SHOWN)

    def missing(request: Request, session: WebSession, what: str) -> HTMLResponse:
        return console.missing(request, session, what, ("/lots", "lots"))

    def sign_page(
        request: Request,
        session: WebSession,
        report_id: int,
        status: int = 200,
        error: str = "",
        meaning: str = "",
    ) -> HTMLResponse:
        found = one_report(engine, report_id)
        if found is None:
            return missing(request, session, f"report {report_code(report_id)}")
        report, lot = found
        signed = report.row.signatures or []
        # typed-name sign-offs from before e-signatures have no meaning: nothing signs after them
        pending = (
            still_to_sign(signed, report.row.disposition)
            if all("meaning" in s for s in signed)
            else []
        )
        meaning = meaning or next((m for m in pending if m in MEANINGS[1:]), "")
        return console.render(
            request, "lots_sign.html.j2", session, status, report=report, lot=lot,
            meanings=MEANINGS, meaning=meaning, pending=pending, error=error,
        )  # fmt: skip

    @router.get("/reports/{report_id}/sign", response_class=HTMLResponse)
    def report_sign_page(request: Request, report_id: int) -> HTMLResponse:
        return sign_page(request, console.logged_in(request), report_id)

    @router.post("/reports/{report_id}/sign", response_class=HTMLResponse)
    def sign(
        request: Request,
        report_id: int,
        meaning: Annotated[str, Form()],
        password: Annotated[str, Form()],
        username: Annotated[str | None, Form()] = None,
        csrf_token: CsrfField = None,
    ) -> Response:
        session = console.checked(console.logged_in(request), csrf_token)
        if meaning not in PERMISSION:
            error = f"meaning {meaning!r} is not one of {', '.join(MEANINGS)}."
            return sign_page(request, session, report_id, 422, error)
        action, doing = PERMISSION[meaning]
        # the permission first: a refused role learns nothing of which reports exist
        user = console.permitted(request, session, action, "report", report_id, doing)
        if one_report(engine, report_id) is None:
            return missing(request, session, f"report {report_code(report_id)}")
        components = session.signing_components
        try:
            credentials = session.credentials(username, password)
            sign_report(engine, report_id, meaning, credentials, as_user=user,
                        components=components)  # fmt: skip
        except AuthenticationError as exc:
            return sign_page(request, session, report_id, 401, str(exc), meaning)
        except UserError as exc:  # the sign-off's order, four eyes, superseded, files changed
            return sign_page(request, session, report_id, 409, str(exc), meaning)
        session.signed = True
        return RedirectResponse(f"/reports/{report_id}/sign", status_code=303)

    def folder_of(request: Request, report_id: int) -> tuple[WebSession, Path | None]:
        """The session and the folder of report ``report_id``'s files (None when unknown)."""
        session = console.logged_in(request)
        with Session(engine) as db:
            row = db.get(Report, report_id)
        return session, Path(row.html_path).parent if row is not None else None

    @router.get("/reports/{report_id}")
    def report_redirect(request: Request, report_id: int) -> Response:
        # the report links its overlays relative to itself: serve it as a folder's index
        console.logged_in(request)
        return RedirectResponse(f"/reports/{report_id}/", status_code=307)

    @router.get("/reports/{report_id}/")
    def report_file(request: Request, report_id: int) -> Response:
        session, folder = folder_of(request, report_id)
        if folder is None or not (folder / REPORT_HTML).is_file():
            return missing(request, session, f"report {report_code(report_id)}")
        return FileResponse(folder / REPORT_HTML, media_type="text/html", headers=NO_CACHE)

    @router.get(f"/reports/{{report_id}}/{OVERLAY_FOLDER}/{{name}}")
    def overlay(request: Request, report_id: int, name: str) -> Response:
        session, folder = folder_of(request, report_id)
        overlays = folder / OVERLAY_FOLDER if folder is not None else None
        # only a name the folder lists: nothing outside it, whatever the name spells
        if (
            overlays is None
            or not overlays.is_dir()
            or name not in {p.name for p in overlays.iterdir() if p.is_file()}
        ):
            return missing(request, session, f"overlay {name} of report {report_code(report_id)}")
        return FileResponse(overlays / name, headers=NO_CACHE)

    return router
