"""Logging in and out: ``GET|POST /login``, ``POST /logout``."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from plantqc.users import AuthenticationError, authenticate
from plantqc.web.console import Console, CsrfField, Refusal
from plantqc.web.security import COOKIE


def routes(console: Console) -> APIRouter:
    router = APIRouter(include_in_schema=False)  # pages; the API documents itself
    sessions = console.sessions

    @router.get("/login", response_class=HTMLResponse)
    def login_page(request: Request) -> Response:
        session = sessions.get(request.cookies.get(COOKIE)) or sessions.new()
        if session.user is not None:
            return RedirectResponse("/", status_code=303)
        return console.render(request, "login.html.j2", session)

    @router.post("/login", response_class=HTMLResponse)
    def login(
        request: Request,
        username: Annotated[str, Form()],
        password: Annotated[str, Form()],
        csrf_token: CsrfField = None,
    ) -> Response:
        anonymous = sessions.get(request.cookies.get(COOKIE))
        if anonymous is None:  # timed out on the login page, or no cookie at all
            raise Refusal(RedirectResponse("/login", status_code=303))
        console.checked(anonymous, csrf_token)
        try:
            user = authenticate(console.engine, username, password, datetime.now(UTC))
        except AuthenticationError as exc:
            return console.render(request, "login.html.j2", anonymous, 401, error=str(exc))
        sessions.drop(anonymous.id)
        session = sessions.new(user.name, user.role)
        response = RedirectResponse("/", status_code=303)
        console.set_cookie(response, session)
        return response

    @router.post("/logout")
    def logout(request: Request, csrf_token: CsrfField = None) -> Response:
        session = console.checked(console.logged_in(request), csrf_token)
        sessions.drop(session.id)
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(COOKIE, path="/")
        return response

    return router
