"""Thickness control loops: ``GET /control`` every loop with its mode and its pending advisory
proposal; ``POST /control/loops/{loop}/mode``, ``POST /control/moves/{id}/accept`` and
``/reject``.

The page asks what `plantqc control status|mode|accept|reject` asks
(`plantqc.control.records`): the daemon's runtime adopts a new mode and writes an accepted
move at the loop's next control period, so the page records the decision and does not wait
for it.  Every decision takes a reason, which the audit trail keeps beside the user's name.
A form without one, or with a mode that does not exist, is answered 400; a move that is no
longer pending (superseded by a newer proposal, decided by someone else) 409, each with the
page saying why.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from plantqc.control.modes import Mode
from plantqc.control.records import decide, loop_rows, register_loops, request_mode
from plantqc.errors import UserError
from plantqc.store.models import ControlLoop, ControlMove
from plantqc.users import may
from plantqc.users.roles import Action
from plantqc.web.console import Console, CsrfField
from plantqc.web.security import WebSession

Reason = Annotated[str, Form()]


@dataclass(frozen=True)
class LoopRow:
    """One loop as the page shows it, its setpoints as text (a CD loop's are die-bolt lists)."""

    loop: ControlLoop
    pending: ControlMove | None
    setpoint: str
    measured: str
    old: str
    new: str


def routes(console: Console) -> APIRouter:
    # pages (the API documents itself), each behind the login
    router = APIRouter(include_in_schema=False, dependencies=console.login_required)
    engine = console.engine
    if console.config is not None:
        # as `plantqc control` does: a configured loop can be commanded before the daemon
        # first runs it
        register_loops(engine, console.config.config)

    def page(
        request: Request, session: WebSession, status: int = 200, error: str = ""
    ) -> HTMLResponse:
        role = session.role
        assert role is not None  # logged in
        rows = [
            LoopRow(loop, pending, _value(loop.setpoint), _value(loop.measured),
                    _value(pending.old if pending else None),
                    _value(pending.new if pending else None))
            for loop, pending in loop_rows(engine)
        ]  # fmt: skip
        return console.render(
            request, "control.html.j2", session, status,
            rows=rows, modes=[str(m) for m in Mode], error=error,
            may_mode=may(role, Action.CONTROL_MODE), may_accept=may(role, Action.CONTROL_ACCEPT),
            may_reject=may(role, Action.CONTROL_REJECT),
        )  # fmt: skip

    @router.get("/control", response_class=HTMLResponse)
    def control_page(request: Request) -> HTMLResponse:
        return page(request, console.logged_in(request))

    @router.post("/control/loops/{loop}/mode", response_class=HTMLResponse)
    def mode(
        request: Request,
        loop: str,
        csrf_token: CsrfField = None,
        new_mode: Annotated[str, Form(alias="mode")] = "",
        reason: Reason = "",
    ) -> Response:
        session = console.checked(console.logged_in(request), csrf_token)
        user = console.permitted(
            request, session, Action.CONTROL_MODE, "control_loop", loop,
            "change the mode of control loops",
        )  # fmt: skip
        try:
            wanted = Mode(new_mode)
        except ValueError:
            error = f"mode {new_mode!r} is not one of {', '.join(Mode)}."
            return page(request, session, 400, error)
        if not reason.strip():
            return page(request, session, 400, f"give the reason for setting {loop} {wanted}.")
        try:
            request_mode(engine, loop, wanted, user, reason.strip())
        except UserError as exc:  # no such loop
            return page(request, session, 404, str(exc))
        return RedirectResponse(f"/control#loop-{loop}", status_code=303)

    def decision(
        request: Request, move_id: int, token: str | None, reason: str, *, accept: bool
    ) -> Response:
        session = console.checked(console.logged_in(request), token)
        action, verb = (
            (Action.CONTROL_ACCEPT, "accept") if accept else (Action.CONTROL_REJECT, "reject")
        )
        user = console.permitted(
            request, session, action, "control_move", move_id, f"{verb} control moves"
        )
        if not reason.strip():
            return page(request, session, 400, f"give the reason to {verb} move {move_id}.")
        try:
            move = decide(engine, move_id, user, accept=accept, reason=reason.strip())
        except UserError as exc:  # no longer pending: superseded, expired or decided already
            return page(request, session, 409, str(exc))
        return RedirectResponse(f"/control#loop-{move.loop}", status_code=303)

    @router.post("/control/moves/{move_id}/accept", response_class=HTMLResponse)
    def accept(
        request: Request, move_id: int, csrf_token: CsrfField = None, reason: Reason = ""
    ) -> Response:
        return decision(request, move_id, csrf_token, reason, accept=True)

    @router.post("/control/moves/{move_id}/reject", response_class=HTMLResponse)
    def reject(
        request: Request, move_id: int, csrf_token: CsrfField = None, reason: Reason = ""
    ) -> Response:
        return decision(request, move_id, csrf_token, reason, accept=False)

    return router


def _value(v: object) -> str:
    """A setpoint as `plantqc control status` prints it: a number, or a die-bolt list's size
    and range."""
    if v is None:
        return "-"
    if isinstance(v, list):
        return f"[{len(v)}] {min(v):.3g}..{max(v):.3g}" if v else "[]"
    return f"{v:.4g}" if isinstance(v, float) else str(v)
