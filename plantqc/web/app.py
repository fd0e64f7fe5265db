"""The operator console: a FastAPI app of server-rendered pages over the plantqc store.

The app only wires: a `plantqc.web.console.Console` (store, sessions, renderer, refusals) and
the routers of `plantqc.web.routes`, one module per area (login, alarms, ...).  Every page but
the login page needs a session, every POST the session's CSRF token, every action the role's
permission (see `plantqc.web.console`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import FastAPI, Request
from fastapi.responses import Response

from plantqc import __version__
from plantqc.web.console import Console, Refusal
from plantqc.web.routes import routers
from plantqc.web.security import SessionStore

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from plantqc.config import LoadedConfig

OPENAPI_URL = "/api/v1/openapi.json"
"""The OpenAPI document of the REST API (`plantqc.web.routes.api`); pages are not in it."""

SESSION_TIMEOUT_S = 15 * 60.0
"""Inactivity after which a session ends (a shared control-room screen left logged in)."""


def create_app(
    engine: Engine,
    config: LoadedConfig | None,
    *,
    secure_cookies: bool = False,
    session_timeout_s: float = SESSION_TIMEOUT_S,
) -> FastAPI:
    """The console over the store ``engine`` (migrated) of ``config``; ``secure_cookies``
    when it is served over TLS (the cookie is then sent only over HTTPS)."""
    app = FastAPI(
        title="plantqc",
        summary="The plantqc console's REST API, for scripts and MES integration.",
        version=__version__,
        docs_url=None,
        redoc_url=None,
        openapi_url=OPENAPI_URL,
    )
    console = Console(engine, config, SessionStore(session_timeout_s), secure_cookies)

    @app.exception_handler(Refusal)
    def _refused(request: Request, exc: Refusal) -> Response:
        return exc.response

    for router in routers(console):
        app.include_router(router)
    return app
