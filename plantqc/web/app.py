"""The operator console: a FastAPI app of server-rendered pages over the plantqc store.

Pages: ``/login`` and ``/logout``; ``/`` the open alarms by priority; ``/alarms/{id}`` one
alarm with its audit history and the acknowledge form (``POST /alarms/{id}/ack``).  Every
page but the login page needs a session (a GET without one is sent to the login page, a POST
gets 401); every POST needs the session's CSRF token (else 403); an action needs the role's
permission (`plantqc.users.may`, else 403, audited).  An action is recorded under the
logged-in user's name, never a typed one.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import FastAPI, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from sqlalchemy import select
from sqlalchemy.orm import Session

from plantqc import alarms
from plantqc.errors import UserError
from plantqc.store.audit import record_audit
from plantqc.store.models import AuditLog
from plantqc.users import AuthenticationError, authenticate, current_role, may
from plantqc.users.roles import Action
from plantqc.web.security import COOKIE, CSRF_FIELD, SessionStore, WebSession

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from plantqc.config import LoadedConfig

SESSION_TIMEOUT_S = 15 * 60.0
"""Inactivity after which a session ends (a shared control-room screen left logged in)."""

PRIORITY_ORDER = ("high", "medium", "low")
"""How the overview orders alarms: highest priority first (ISA-18.2 §10), unknown ones last."""

_TEMPLATES = Jinja2Templates(directory=Path(__file__).parent / "templates")

CsrfField = Annotated[str | None, Form(alias=CSRF_FIELD)]


class _Refusal(Exception):
    """A request answered with a plain status: no session (401 / redirect), bad CSRF (403)."""

    def __init__(self, response: Response) -> None:
        self.response = response


def create_app(
    engine: Engine,
    config: LoadedConfig | None,
    *,
    secure_cookies: bool = False,
    session_timeout_s: float = SESSION_TIMEOUT_S,
) -> FastAPI:
    """The console over the store ``engine`` (migrated) of ``config``; ``secure_cookies``
    when it is served over TLS (the cookie is then sent only over HTTPS)."""
    app = FastAPI(title="plantqc console", docs_url=None, redoc_url=None, openapi_url=None)
    sessions = SessionStore(session_timeout_s)
    title = "plantqc" if config is None else f"plantqc — {config.path.name}"

    @app.exception_handler(_Refusal)
    def _refused(request: Request, exc: _Refusal) -> Response:
        return exc.response

    def set_cookie(response: Response, session: WebSession) -> None:
        response.set_cookie(
            COOKIE,
            session.id,
            httponly=True,
            samesite="strict",
            secure=secure_cookies,
            path="/",
        )

    def render(
        request: Request, name: str, session: WebSession, status: int = 200, **context: Any
    ) -> HTMLResponse:
        context |= {"title": title, "session": session, "csrf_field": CSRF_FIELD}
        response = _TEMPLATES.TemplateResponse(request, name, context, status_code=status)
        set_cookie(response, session)
        return response

    def logged_in(request: Request) -> WebSession:
        """The request's logged-in session, with its account's role now (a disabled or
        deleted account's session ends here); else a GET is sent to the login page and any
        other method refused with 401."""
        session = sessions.get(request.cookies.get(COOKIE))
        if session is not None and session.user is not None:
            role = current_role(engine, session.user)
            if role is not None:
                session.role = role
                return session
            sessions.drop(session.id)
        if request.method == "GET":
            raise _Refusal(RedirectResponse("/login", status_code=303))
        raise _Refusal(Response("log in first\n", status_code=401, media_type="text/plain"))

    def checked(session: WebSession, token: str | None) -> WebSession:
        if not session.csrf_ok(token):
            raise _Refusal(Response("bad CSRF token\n", status_code=403, media_type="text/plain"))
        return session

    @app.get("/login", response_class=HTMLResponse)
    def login_page(request: Request) -> Response:
        session = sessions.get(request.cookies.get(COOKIE)) or sessions.new()
        if session.user is not None:
            return RedirectResponse("/", status_code=303)
        return render(request, "login.html.j2", session)

    @app.post("/login", response_class=HTMLResponse)
    def login(
        request: Request,
        username: Annotated[str, Form()],
        password: Annotated[str, Form()],
        csrf_token: CsrfField = None,
    ) -> Response:
        anonymous = sessions.get(request.cookies.get(COOKIE))
        if anonymous is None:  # timed out on the login page, or no cookie at all
            raise _Refusal(RedirectResponse("/login", status_code=303))
        checked(anonymous, csrf_token)
        try:
            user = authenticate(engine, username, password, datetime.now(UTC))
        except AuthenticationError as exc:
            return render(request, "login.html.j2", anonymous, 401, error=str(exc))
        sessions.drop(anonymous.id)
        session = sessions.new(user.name, user.role)
        response = RedirectResponse("/", status_code=303)
        set_cookie(response, session)
        return response

    @app.post("/logout")
    def logout(request: Request, csrf_token: CsrfField = None) -> Response:
        session = checked(logged_in(request), csrf_token)
        sessions.drop(session.id)
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(COOKIE, path="/")
        return response

    @app.get("/", response_class=HTMLResponse)
    def overview(request: Request) -> HTMLResponse:
        session = logged_in(request)
        open_alarms = sorted(alarms.list_alarms(engine), key=lambda a: _priority_rank(a.priority))
        return render(request, "overview.html.j2", session, alarms=open_alarms)

    def detail(
        request: Request, alarm_id: int, session: WebSession, status: int = 200, error: str = ""
    ) -> HTMLResponse:
        found = [a for a in alarms.list_alarms(engine, include_normal=True) if a.id == alarm_id]
        if not found:
            return render(request, "missing.html.j2", session, 404, alarm_id=alarm_id)
        with Session(engine) as db:
            history = db.scalars(
                select(AuditLog)
                .where(AuditLog.entity == "alarm", AuditLog.entity_id == str(alarm_id))
                .order_by(AuditLog.id)
            ).all()
        may_ack = session.role is not None and may(session.role, Action.ALARM_ACK)
        return render(
            request, "alarm.html.j2", session, status,
            alarm=found[0], history=history, may_ack=may_ack, error=error,
        )  # fmt: skip

    @app.get("/alarms/{alarm_id}", response_class=HTMLResponse)
    def alarm_page(request: Request, alarm_id: int) -> HTMLResponse:
        return detail(request, alarm_id, logged_in(request))

    @app.post("/alarms/{alarm_id}/ack", response_class=HTMLResponse)
    def ack(
        request: Request,
        alarm_id: int,
        csrf_token: CsrfField = None,
        comment: Annotated[str, Form()] = "",
    ) -> Response:
        session = checked(logged_in(request), csrf_token)
        assert session.user is not None and session.role is not None  # logged in
        if not may(session.role, Action.ALARM_ACK):
            with Session(engine) as db, db.begin():
                record_audit(
                    db, session.user, "permission-denied", "alarm", alarm_id,
                    {"action": Action.ALARM_ACK.value, "role": session.role},
                )  # fmt: skip
            return render(request, "forbidden.html.j2", session, 403, action="acknowledge alarms")
        try:
            alarms.ack(engine, alarm_id, session.user, comment.strip() or None)
        except UserError as exc:
            return detail(request, alarm_id, session, 409, error=str(exc))
        return RedirectResponse(f"/alarms/{alarm_id}", status_code=303)

    return app


def _priority_rank(priority: str) -> int:
    return PRIORITY_ORDER.index(priority) if priority in PRIORITY_ORDER else len(PRIORITY_ORDER)
