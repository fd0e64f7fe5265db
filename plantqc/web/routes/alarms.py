"""Alarms: ``GET /`` the open alarms by priority, ``GET /alarms/{id}`` one alarm with its
audit history, ``POST /alarms/{id}/ack``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from plantqc import alarms
from plantqc.errors import UserError
from plantqc.store.models import AuditLog
from plantqc.users import may
from plantqc.users.roles import Action
from plantqc.web.console import Console, CsrfField
from plantqc.web.security import WebSession

PRIORITY_ORDER = ("high", "medium", "low")
"""How the overview orders alarms: highest priority first (ISA-18.2 §10), unknown ones last."""


def routes(console: Console) -> APIRouter:
    router = APIRouter(include_in_schema=False)  # pages; the API documents itself
    engine = console.engine

    @router.get("/", response_class=HTMLResponse)
    def overview(request: Request) -> HTMLResponse:
        session = console.logged_in(request)
        open_alarms = sorted(alarms.list_alarms(engine), key=lambda a: _priority_rank(a.priority))
        return console.render(request, "overview.html.j2", session, alarms=open_alarms)

    def detail(
        request: Request, alarm_id: int, session: WebSession, status: int = 200, error: str = ""
    ) -> HTMLResponse:
        found = [a for a in alarms.list_alarms(engine, include_normal=True) if a.id == alarm_id]
        if not found:
            return console.render(request, "missing.html.j2", session, 404, alarm_id=alarm_id)
        with Session(engine) as db:
            history = db.scalars(
                select(AuditLog)
                .where(AuditLog.entity == "alarm", AuditLog.entity_id == str(alarm_id))
                .order_by(AuditLog.id)
            ).all()
        may_ack = session.role is not None and may(session.role, Action.ALARM_ACK)
        return console.render(
            request, "alarm.html.j2", session, status,
            alarm=found[0], history=history, may_ack=may_ack, error=error,
        )  # fmt: skip

    @router.get("/alarms/{alarm_id}", response_class=HTMLResponse)
    def alarm_page(request: Request, alarm_id: int) -> HTMLResponse:
        return detail(request, alarm_id, console.logged_in(request))

    @router.post("/alarms/{alarm_id}/ack", response_class=HTMLResponse)
    def ack(
        request: Request,
        alarm_id: int,
        csrf_token: CsrfField = None,
        comment: Annotated[str, Form()] = "",
    ) -> Response:
        session = console.checked(console.logged_in(request), csrf_token)
        user = console.permitted(
            request, session, Action.ALARM_ACK, "alarm", alarm_id, "acknowledge alarms"
        )
        try:
            alarms.ack(engine, alarm_id, user, comment.strip() or None)
        except UserError as exc:
            return detail(request, alarm_id, session, 409, error=str(exc))
        return RedirectResponse(f"/alarms/{alarm_id}", status_code=303)

    return router


def _priority_rank(priority: str) -> int:
    return PRIORITY_ORDER.index(priority) if priority in PRIORITY_ORDER else len(PRIORITY_ORDER)
