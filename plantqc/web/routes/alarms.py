"""Alarms: ``GET /`` the open alarms by priority, then the shelved and the suppressed ones,
kept current from ``GET /alarms/live`` (the same tables as a fragment); ``GET /alarms/{id}``
one alarm with its audit history; ``POST /alarms/{id}/ack``, ``/shelve`` and ``/comment``.

A form the route cannot act on (no reason, no expiry) is answered 400 and an action the
alarm's state refuses 409, each with the alarm page saying why in one sentence.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from plantqc import alarms
from plantqc.alarms import AlarmView
from plantqc.errors import UserError
from plantqc.store.audit import find_audit
from plantqc.store.models import AlarmState
from plantqc.users import may
from plantqc.users.roles import Action
from plantqc.web.console import Console, CsrfField, Refusal
from plantqc.web.security import WebSession
from plantqc.web.timeinput import parse_time_field

PRIORITY_ORDER = ("high", "medium", "low")
"""How the overview orders alarms: highest priority first (ISA-18.2 §10), unknown ones last."""

ANNUNCIATED = (AlarmState.ACTIVE_UNACKED, AlarmState.RTN_UNACKED, AlarmState.ACTIVE_ACKED)
"""States of an alarm the operator is shown as open; shelved and suppressed-by-design ones are
listed apart, so that they stay reviewable without crowding the open ones (ISA-18.2 §16)."""

LIVE_EVERY_S = 5
"""How often the overview's script fetches the tables again."""
REFRESH_EVERY_S = 15
"""How often a browser without JavaScript reloads the whole overview instead."""

SHELVE_MINUTES = (15, 30, 60, 120, 240, 480, 720)
"""The shelving durations the alarm page offers, up to a 12-hour shift."""


def routes(console: Console) -> APIRouter:
    # pages (the API documents itself); the forms behind the login, checked before they are
    # read, while the pages check it themselves (the live tables answer 401, not the login page)
    router = APIRouter(include_in_schema=False)
    form = console.login_required
    engine = console.engine

    @router.get("/", response_class=HTMLResponse)
    def overview(request: Request) -> HTMLResponse:
        session = console.logged_in(request)
        return console.render(
            request, "overview.html.j2", session,
            live_every_s=LIVE_EVERY_S, refresh_every_s=REFRESH_EVERY_S, **_tables(console),
        )  # fmt: skip

    @router.get("/alarms/live", response_class=HTMLResponse)
    def live(request: Request) -> HTMLResponse:
        """The overview's tables alone, for its script; a fetch without a session gets 401
        (the script then goes to the login page), not the login page as the tables."""
        try:
            session = console.logged_in(request, renew=False)  # polling is not a use
        except Refusal:
            raise Refusal(
                Response("log in first\n", status_code=401, media_type="text/plain")
            ) from None
        response = console.render(request, "alarm_tables.html.j2", session, **_tables(console))
        response.headers["Cache-Control"] = "no-store"
        return response

    def detail(
        request: Request, alarm_id: int, session: WebSession, status: int = 200, error: str = ""
    ) -> HTMLResponse:
        alarm = alarms.get_alarm(engine, alarm_id)
        if alarm is None:
            return console.missing(request, session, f"alarm {alarm_id}", ("/", "alarms"))
        # oldest first: the page tells the alarm's story from its raise
        history = find_audit(engine, entity="alarm", entity_id=alarm_id, limit=None)[::-1]
        role = session.role
        assert role is not None  # logged in
        return console.render(
            request, "alarm.html.j2", session, status,
            alarm=alarm, history=history, error=error, shelve_minutes=SHELVE_MINUTES,
            may_ack=may(role, Action.ALARM_ACK), may_shelve=may(role, Action.ALARM_SHELVE),
            may_comment=may(role, Action.ALARM_COMMENT),
        )  # fmt: skip

    @router.get("/alarms/{alarm_id}", response_class=HTMLResponse)
    def alarm_page(request: Request, alarm_id: int) -> HTMLResponse:
        return detail(request, alarm_id, console.logged_in(request))

    @router.post("/alarms/{alarm_id}/ack", response_class=HTMLResponse, dependencies=form)
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

    @router.post("/alarms/{alarm_id}/shelve", response_class=HTMLResponse, dependencies=form)
    def shelve(
        request: Request,
        alarm_id: int,
        csrf_token: CsrfField = None,
        minutes: Annotated[str, Form()] = "",
        until: Annotated[str, Form()] = "",
        reason: Annotated[str, Form()] = "",
    ) -> Response:
        """Shelve for one of the offered durations or until a time (UTC), with the reason
        ISA-18.2 §16.5 asks every shelving to record."""
        session = console.checked(console.logged_in(request), csrf_token)
        user = console.permitted(
            request, session, Action.ALARM_SHELVE, "alarm", alarm_id, "shelve alarms"
        )
        try:
            expiry = _expiry(minutes, until)
            if not reason.strip():
                raise UserError("shelving an alarm needs a reason (ISA-18.2 §16.5).")
        except UserError as exc:
            return detail(request, alarm_id, session, 400, error=str(exc))
        try:
            alarms.shelve(engine, alarm_id, user, expiry, reason.strip())
        except UserError as exc:
            return detail(request, alarm_id, session, 409, error=str(exc))
        return RedirectResponse(f"/alarms/{alarm_id}", status_code=303)

    @router.post("/alarms/{alarm_id}/comment", response_class=HTMLResponse, dependencies=form)
    def comment(
        request: Request,
        alarm_id: int,
        csrf_token: CsrfField = None,
        cause: Annotated[str, Form()] = "",
        action: Annotated[str, Form()] = "",
    ) -> Response:
        """Record the assignable cause and / or the corrective action."""
        session = console.checked(console.logged_in(request), csrf_token)
        user = console.permitted(
            request, session, Action.ALARM_COMMENT, "alarm", alarm_id, "comment on alarms"
        )
        cause, action = cause.strip(), action.strip()
        if not cause and not action:
            error = "give an assignable cause or a corrective action, or both."
            return detail(request, alarm_id, session, 400, error=error)
        try:
            alarms.comment(engine, alarm_id, user, cause or None, action or None)
        except UserError as exc:
            return detail(request, alarm_id, session, 409, error=str(exc))
        return RedirectResponse(f"/alarms/{alarm_id}", status_code=303)

    return router


def _tables(console: Console) -> dict[str, object]:
    """The overview's tables: open alarms by priority (newest activity first within one),
    shelved ones by expiry, suppressed ones; and when they were read."""
    listed = alarms.list_alarms(console.engine)
    open_alarms = sorted(
        (a for a in listed if a.state in ANNUNCIATED), key=lambda a: _priority_rank(a.priority)
    )
    shelved = sorted((a for a in listed if a.state == AlarmState.SHELVED), key=_expiry_key)
    suppressed = [a for a in listed if a.state == AlarmState.SUPPRESSED]
    return {
        "alarms": open_alarms,
        "shelved": shelved,
        "suppressed": suppressed,
        "read_at": datetime.now(UTC),
    }


def _expiry(minutes: str, until: str) -> datetime:
    """The shelf's expiry: ``minutes`` from now or the time ``until``, exactly one given."""
    minutes, until = minutes.strip(), until.strip()
    if not minutes and not until:
        raise UserError("say how long to shelve the alarm for, or until when.")
    if minutes and until:
        raise UserError("give either how long to shelve the alarm for or until when, not both.")
    if until:
        expiry = parse_time_field(until, "until")
        assert expiry is not None  # not blank
        return expiry
    if not minutes.isdigit() or int(minutes) < 1:
        raise UserError(f"shelving for {minutes!r} minutes: give a whole number of minutes.")
    return datetime.now(UTC) + timedelta(minutes=int(minutes))


def _priority_rank(priority: str) -> int:
    return PRIORITY_ORDER.index(priority) if priority in PRIORITY_ORDER else len(PRIORITY_ORDER)


def _expiry_key(alarm: AlarmView) -> datetime:
    return alarm.shelved_until or datetime.max.replace(tzinfo=UTC)
