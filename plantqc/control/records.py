"""The store side of the thickness control loops: loop state, moves and their audit trail.

The daemon's controller runtime (`plantqc.control.runtime`) files every event its
`plantqc.control.loop.LoopSupervisor` returns through `record_events`, and keeps one
``control_loops`` row per loop up to date (`save_state`).  A person acts through the same
tables: `request_mode` changes a loop's mode and `decide` accepts or rejects a pending advisory
proposal; the runtime picks both up at its next control period (`decisions`).  Every mode
change, move, accept and reject is also an ``audit_log`` entry (`plantqc.store.audit`), in the
same transaction as the row it records.

A proposal's ``status`` goes ``pending`` -> ``accepted`` (by a person) -> ``applied`` or
``failed`` (by the runtime's write), or ``pending`` -> ``rejected`` / ``superseded`` (a newer
proposal or a hold replaced it) / ``expired`` (accepted too late: the loop had left advisory).
Every other kind of row is ``done``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

if TYPE_CHECKING:
    from plantqc.config import PlantConfig

from plantqc.control.loop import Event, Mode
from plantqc.control.settings import ControlSettings
from plantqc.errors import UserError
from plantqc.store.audit import record_audit
from plantqc.store.models import ControlLoop, ControlMove

KINDS = {
    "proposed": "proposed",
    "accepted": "accepted",
    "rejected": "rejected",
    "applied": "applied",
    "hold": "held",
    "resume": "resumed",
    "write_failed": "failed",
}
"""Supervisor event kind -> ``control_moves.kind`` (mode changes live in ``control_loops``)."""

ENTITY = "control_loop"


def ensure_loop(session: Session, loop: str, line: str, mode: Mode, *, at: datetime) -> ControlLoop:
    """The loop's row; created in ``mode`` (the config's) when the loop is new.  A loop that
    exists keeps the mode it was last given: a restart does not undo an operator's choice."""
    row = session.get(ControlLoop, loop)
    if row is None:
        row = ControlLoop(loop=loop, line=line, mode=str(mode), mode_by="config", updated=at)
        session.add(row)
        session.flush()
    return row


def record_events(session: Session, events: Iterable[Event]) -> list[ControlMove]:
    """File supervisor events: a move row each (a mode change updates the loop row) and an
    audit entry each.  A new proposal supersedes the loop's pending ones; so does a hold."""
    moves = []
    for e in events:
        detail = {"old": e.old, "new": e.new, "reason": e.reason}
        if e.kind == "mode":
            row = session.get(ControlLoop, e.loop)
            if row is not None:
                row.mode, row.mode_by, row.updated = str(e.new), e.user, e.time
            record_audit(session, e.user, "control.mode", ENTITY, e.loop, detail, at=e.time)
            continue
        if e.kind in ("proposed", "hold"):
            supersede(session, e.loop)
        move = ControlMove(
            loop=e.loop,
            at=e.time,
            kind=KINDS[e.kind],
            old=e.old,
            new=e.new,
            reason=e.reason,
            user=e.user,
            status="pending" if e.kind == "proposed" else "done",
        )
        session.add(move)
        session.flush()
        record_audit(
            session,
            e.user,
            f"control.{move.kind}",
            ENTITY,
            e.loop,
            {**detail, "move_id": move.id},
            at=e.time,
        )
        moves.append(move)
    return moves


def supersede(session: Session, loop: str) -> None:
    """The loop's pending proposals are no longer its advice (a newer one, a hold, a mode
    change, or the controller now wants no move)."""
    session.execute(
        update(ControlMove)
        .where(ControlMove.loop == loop, ControlMove.status == "pending")
        .values(status="superseded")
    )


def save_state(
    session: Session,
    loop: str,
    *,
    setpoint: object,
    measured: object,
    hold: str | None,
    at: datetime,
) -> None:
    """What the runtime last read back (setpoint, measurement) and why it holds, if it does."""
    row = session.get(ControlLoop, loop)
    if row is None:
        raise KeyError(loop)
    row.setpoint, row.measured, row.hold, row.updated = setpoint, measured, hold, at


# --- a person's side ---------------------------------------------------------------------------


def _loop(session: Session, loop: str) -> ControlLoop:
    row = session.get(ControlLoop, loop)
    if row is None:
        known = ", ".join(session.scalars(select(ControlLoop.loop).order_by(ControlLoop.loop)))
        raise UserError(
            f"there is no control loop {loop!r} in the store"
            + (f"; its loops are: {known}." if known else " (no loop has run yet).")
        )
    return row


def request_mode(engine: Engine, loop: str, mode: Mode, user: str, reason: str) -> str:
    """Set ``loop``'s mode for the runtime to adopt at its next period; returns the old mode.

    The audit entry is written here, with the person's name: the runtime adopts the mode
    without filing it again."""
    at = datetime.now(UTC)
    with Session(engine) as session, session.begin():
        row = _loop(session, loop)
        old = row.mode
        if old != mode:
            row.mode, row.mode_by, row.updated = str(mode), user, at
            supersede(session, loop)
            record_audit(
                session,
                user,
                "control.mode",
                ENTITY,
                loop,
                {"old": old, "new": str(mode), "reason": reason},
                at=at,
            )
        return old


def decide(engine: Engine, move_id: int, user: str, *, accept: bool, reason: str) -> ControlMove:
    """Accept or reject the pending advisory proposal ``move_id``; the runtime writes an
    accepted one at its next period.  Raises `UserError` when it is not pending."""
    at = datetime.now(UTC)
    kind = "accepted" if accept else "rejected"
    with Session(engine, expire_on_commit=False) as session, session.begin():
        proposal = session.get(ControlMove, move_id)
        if proposal is None or proposal.kind != "proposed":
            raise UserError(f"there is no proposed control move {move_id}.")
        # a conditional update, so that a runtime superseding it meanwhile wins cleanly
        changed = session.execute(
            update(ControlMove)
            .where(ControlMove.id == move_id, ControlMove.status == "pending")
            .values(status=kind)
        ).rowcount
        if not changed:
            session.refresh(proposal)
            raise UserError(
                f"control move {move_id} is {proposal.status}, not pending: only the latest "
                "proposal of a loop in advisory mode can be accepted or rejected."
            )
        move = ControlMove(
            loop=proposal.loop,
            at=at,
            kind=kind,
            old=proposal.old,
            new=proposal.new,
            reason=reason,
            user=user,
            status="done",
        )
        session.add(move)
        session.flush()
        record_audit(
            session,
            user,
            f"control.{kind}",
            ENTITY,
            proposal.loop,
            {
                "old": proposal.old,
                "new": proposal.new,
                "reason": reason,
                "move_id": move.id,
                "proposal_id": move_id,
            },
            at=at,
        )
        return move


@dataclass(frozen=True)
class Decisions:
    """What people asked of a loop: its mode as stored and an accepted proposal to write.

    A rejected proposal needs nothing from the runtime: the supervisor replaces its pending
    proposal at the next period anyway."""

    mode: Mode
    mode_by: str
    accepted: ControlMove | None
    accepted_by: str | None


def decisions(session: Session, loop: str) -> Decisions:
    """The loop's mode as stored and its latest proposal accepted but not yet written."""
    row = _loop(session, loop)
    accepted = session.scalars(
        select(ControlMove)
        .where(ControlMove.loop == loop, ControlMove.status == "accepted")
        .order_by(ControlMove.id.desc())
        .limit(1)
    ).first()
    by = None
    if accepted is not None:  # the proposal is the supervisor's; the person is on the accept
        by = session.scalars(
            select(ControlMove.user)
            .where(ControlMove.loop == loop, ControlMove.kind == "accepted")
            .order_by(ControlMove.id.desc())
            .limit(1)
        ).first()
    return Decisions(Mode(row.mode), row.mode_by, accepted, by)


def finish_proposal(session: Session, move_id: int, status: str) -> None:
    """Mark an accepted proposal ``applied``, ``failed`` or ``expired``."""
    session.execute(update(ControlMove).where(ControlMove.id == move_id).values(status=status))


def loop_rows(engine: Engine) -> list[tuple[ControlLoop, ControlMove | None]]:
    """Every loop with its pending proposal (None when it has none)."""
    with Session(engine, expire_on_commit=False) as session:
        loops = list(session.scalars(select(ControlLoop).order_by(ControlLoop.loop)))
        out = []
        for row in loops:
            pending = session.scalars(
                select(ControlMove)
                .where(ControlMove.loop == row.loop, ControlMove.status == "pending")
                .order_by(ControlMove.id.desc())
                .limit(1)
            ).first()
            out.append((row, pending))
        return out


def loop_names(line: str, settings: ControlSettings) -> list[tuple[str, Mode]]:
    """``(<line>.md, mode)`` and ``(<line>.cd, mode)`` for the loops the section configures."""
    return [
        (f"{line}.{name}", loop.mode)
        for name in ("md", "cd")
        if (loop := getattr(settings, name)) is not None
    ]


def register_loops(engine: Engine, config: PlantConfig) -> None:
    """A row for every configured loop that has none yet, in its configured mode."""
    at = datetime.now(UTC)
    with Session(engine) as session, session.begin():
        for line in config.lines:
            if line.control is not None:
                for loop, mode in loop_names(line.name, line.control):
                    ensure_loop(session, loop, line.name, mode, at=at)
