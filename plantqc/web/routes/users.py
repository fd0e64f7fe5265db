"""User administration for admins: ``GET /users`` the accounts, ``POST /users`` add one,
``POST /users/{name}/disable``, ``POST /users/{name}/reset-password``.

Only a role with ``users.manage`` (admin) sees or changes accounts; every change is recorded
by `plantqc.users.accounts` under the logged-in admin's name, with old and new values.  An
admin sets a first password and tells it to the person out of band; the password itself is
never shown or logged.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from plantqc.errors import UserError
from plantqc.users import Role, add_user, disable_user, list_users, reset_password
from plantqc.users.roles import Action
from plantqc.web.console import Console, CsrfField
from plantqc.web.security import WebSession

ENTITY = "user"
_DOING = "manage users"


def routes(console: Console) -> APIRouter:
    # pages (the API documents itself), each behind the login
    router = APIRouter(include_in_schema=False, dependencies=console.login_required)
    engine = console.engine

    def page(request: Request, session: WebSession, status: int = 200, **context: str) -> Response:
        return console.render(
            request, "users.html.j2", session, status,
            users=list_users(engine), roles=[r.value for r in Role], **context,
        )  # fmt: skip

    def admin(request: Request, csrf_token: str | None, entity_id: str) -> tuple[WebSession, str]:
        session = console.checked(console.logged_in(request), csrf_token)
        return session, console.permitted(
            request, session, Action.USERS_MANAGE, ENTITY, entity_id, _DOING
        )

    @router.get("/users", response_class=HTMLResponse)
    def users_page(request: Request) -> Response:
        session = console.logged_in(request)
        console.permitted(request, session, Action.USERS_MANAGE, ENTITY, "*", _DOING)
        return page(request, session)

    @router.post("/users", response_class=HTMLResponse)
    def add(
        request: Request,
        name: Annotated[str, Form()],
        full_name: Annotated[str, Form()],
        role: Annotated[str, Form()],
        password: Annotated[str, Form()],
        csrf_token: CsrfField = None,
    ) -> Response:
        session, by = admin(request, csrf_token, name)
        try:
            added = add_user(engine, name, role, password, by=by, full_name=full_name)
        except UserError as exc:
            return page(request, session, 409, error=str(exc))
        return page(request, session, done=f"added {added.name} ({added.role}).")

    @router.post("/users/{name}/disable", response_class=HTMLResponse)
    def disable(request: Request, name: str, csrf_token: CsrfField = None) -> Response:
        session, by = admin(request, csrf_token, name)
        try:
            disable_user(engine, name, by=by)
        except UserError as exc:
            return page(request, session, 409, error=str(exc))
        return RedirectResponse("/users", status_code=303)

    @router.post("/users/{name}/reset-password", response_class=HTMLResponse)
    def reset(
        request: Request,
        name: str,
        password: Annotated[str, Form()],
        csrf_token: CsrfField = None,
    ) -> Response:
        session, by = admin(request, csrf_token, name)
        try:
            reset_password(engine, name, password, by=by)
        except UserError as exc:
            return page(request, session, 409, error=str(exc))
        return page(request, session, done=f"new password set for {name}; lockout released.")

    return router
