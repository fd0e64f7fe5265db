"""What every route of the console shares: the store, the sessions, the pages' renderer, and
the three refusals (no session, bad CSRF token, a role without the permission).

A route module (`plantqc.web.routes`) gets a `Console` and asks it: `logged_in` for the
request's session (a GET without one is sent to the login page, any other method gets 401),
`checked` for a POST's CSRF token (else 403), `permitted` for the role's permission
(`plantqc.users.may`; else 403, and the refusal is audited with who, what and on which
entity).  An action is recorded under the logged-in user's name, never a typed one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader
from sqlalchemy.orm import Session

from plantqc.store.audit import record_denied
from plantqc.users import current_role, may
from plantqc.web.security import COOKIE, CSRF_FIELD, SessionStore, WebSession
from plantqc.web.tokens import TokenStore

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from plantqc.config import LoadedConfig

TEMPLATES = Jinja2Templates(
    env=Environment(
        loader=FileSystemLoader(Path(__file__).parent / "templates"),
        # every value is escaped: alarm messages, notes, reasons and names are typed by people
        # (Jinja2's default escapes only *.html, not these *.html.j2)
        autoescape=True,
    )
)

CsrfField = Annotated[str | None, Form(alias=CSRF_FIELD)]
"""A POST form's CSRF token field, for `Console.checked`."""


class Refusal(Exception):
    """A request answered with ``response`` instead of its route's page: the app's exception
    handler returns it."""

    def __init__(self, response: Response) -> None:
        self.response = response


@dataclass
class Console:
    """The store ``engine`` of ``config``, and the page sessions and API tokens of one
    console process."""

    engine: Engine
    config: LoadedConfig | None
    sessions: SessionStore
    secure_cookies: bool = False
    tokens: TokenStore = field(default_factory=TokenStore)

    @property
    def title(self) -> str:
        return "plantqc" if self.config is None else f"plantqc — {self.config.path.name}"

    def set_cookie(self, response: Response, session: WebSession) -> None:
        response.set_cookie(
            COOKIE,
            session.id,
            httponly=True,
            samesite="strict",
            secure=self.secure_cookies,
            path="/",
        )

    def render(
        self, request: Request, name: str, session: WebSession, status: int = 200, **context: Any
    ) -> HTMLResponse:
        """Template ``name`` with ``context``, the session and its CSRF field."""
        context |= {"title": self.title, "session": session, "csrf_field": CSRF_FIELD}
        response = TEMPLATES.TemplateResponse(request, name, context, status_code=status)
        self.set_cookie(response, session)
        return response

    def missing(
        self, request: Request, session: WebSession, what: str, back: tuple[str, str]
    ) -> HTMLResponse:
        """The 404 page: there is no ``what`` (e.g. "alarm 12"), with a link ``back``
        (href, label) to the page that lists them."""
        href, label = back
        return self.render(request, "missing.html.j2", session, 404, what=what, href=href,
                           label=label)  # fmt: skip

    def logged_in(self, request: Request, *, renew: bool = True) -> WebSession:
        """The request's logged-in session, with its account's role now (a disabled or
        deleted account's session ends here); else a GET is sent to the login page and any
        other method refused with 401.  ``renew`` counts the request as a use of the session
        (see `SessionStore.get`): a page's own polling does not, or a screen left open would
        never time out."""
        session = self.sessions.get(request.cookies.get(COOKIE), renew=renew)
        if session is not None and session.user is not None:
            role = current_role(self.engine, session.user)
            if role is not None:
                session.role = role
                return session
            self.sessions.drop(session.id)
        if request.method == "GET":
            raise Refusal(RedirectResponse("/login", status_code=303))
        raise Refusal(Response("log in first\n", status_code=401, media_type="text/plain"))

    @property
    def login_required(self) -> list[Any]:
        """A page router's dependencies: the login is checked before the form is read, so a
        request without one is refused as such (401, or the login page), not for a missing
        field (422), and learns nothing of the form."""
        return [Depends(self._login_checked)]

    def _login_checked(self, request: Request) -> None:
        self.logged_in(request, renew=False)  # the route's own call counts as the use

    def checked(self, session: WebSession, token: str | None) -> WebSession:
        """``session`` if ``token`` is its CSRF token; else 403."""
        if not session.csrf_ok(token):
            raise Refusal(Response("bad CSRF token\n", status_code=403, media_type="text/plain"))
        return session

    def permitted(
        self,
        request: Request,
        session: WebSession,
        action: str,
        entity: str,
        entity_id: object,
        doing: str,
    ) -> str:
        """The session's user name if its role may take ``action``; else the refusal is
        audited on ``entity`` ``entity_id`` and the request answered with 403 and a page
        saying the role may not ``doing`` (e.g. "acknowledge alarms")."""
        assert session.user is not None and session.role is not None  # logged in
        if may(session.role, action):
            return session.user
        self.audit_denied(session.user, session.role, action, entity, entity_id)
        raise Refusal(self.render(request, "forbidden.html.j2", session, 403, action=doing))

    def audit_denied(
        self, user: str, role: str | None, action: str, entity: str, entity_id: object
    ) -> None:
        """Append the refusal of ``action`` to ``user`` (``role``) to the audit trail."""
        with Session(self.engine) as db, db.begin():
            record_denied(db, user, role, action, entity, entity_id)
