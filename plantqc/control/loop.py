"""Supervisor of one control loop: modes, interlocks and the audit trail of every move.

A controller (`plantqc.control.md`, `plantqc.control.cd`) only computes; the supervisor decides
whether what it computes may reach the line.  It is a small pure class: the caller (the
daemon, or the benchmark) passes the measurement with its timestamp and quality, the setpoint
as read back from the line and the line's state, writes the setpoint the supervisor returns,
tells it whether the write succeeded, and files the returned events in the audit log.  Nothing
here reads a clock, a socket or a database.

Modes, as an operator expects them:

``off``
    The controller does not run.
``advisory``
    The controller runs and its move is proposed (an event), never written; a person accepts
    it (`LoopSupervisor.accept`) or rejects it.
``closed``
    The move is written.  Entering closed starts from the current setpoint (bumpless).

Interlocks (a held loop proposes and writes nothing, and its controller forgets its last
error so that resuming does not kick): the gauge reports a sensor fault, the line is stopped,
a roll or lot change less than the settling time ago, or a measurement older than N die-to-gauge
dead times.  Every setpoint leaves the supervisor inside the operator limits (which lie inside
the engineering limits) and within the maximum move per step and per minute.  After a number
of consecutive failed writes the watchdog drops the loop to advisory.

plantqc is a supervisory layer: these limits keep its own moves sensible; protection of the
line stays in the line's PLC and safety system (IEC 61511).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

import numpy as np
from numpy.typing import ArrayLike, NDArray

# the modes and the limits are settings (read with a config, without numpy): defined there
from plantqc.control.modes import Mode, SupervisorSettings


@dataclass(frozen=True)
class Measurement:
    """What the gauge says, with when and how well.

    Attributes
    ----------
    value : float or numpy.ndarray
        MD mean (um) or CD profile (um per bin).
    time : datetime
        Source timestamp of the measurement (timezone-aware UTC).
    good : bool
        False when the gauge reports a sensor fault (OPC UA status not Good).
    """

    value: float | NDArray[np.float64]
    time: datetime
    good: bool = True


@dataclass(frozen=True)
class LineState:
    """State of the line the loop acts on.

    Attributes
    ----------
    running : bool
        False while the line is stopped.
    speed_m_min : float
        Web speed, m/min (sets the dead time).
    roll : str or None
        Current roll id; a change starts the settling hold.
    lot : str or None
        Current lot id; a change starts the settling hold.
    """

    running: bool
    speed_m_min: float
    roll: str | None = None
    lot: str | None = None


@dataclass(frozen=True)
class Event:
    """One line of the audit log: a mode change, a hold, a proposed or applied move.

    Attributes
    ----------
    time : datetime
        When it happened.
    loop : str
        The loop's name.
    kind : str
        ``mode``, ``hold``, ``resume``, ``proposed``, ``applied``, ``accepted``, ``rejected``,
        ``write_failed``.
    user : str
        Who did it (``plantqc`` for the supervisor itself).
    old, new : object
        Old and new value: mode names, or setpoints (floats or lists).
    reason : str
        Why, in words an operator reads.
    """

    time: datetime
    loop: str
    kind: str
    user: str
    old: object
    new: object
    reason: str


@dataclass(frozen=True)
class Decision:
    """Outcome of one control period.

    Attributes
    ----------
    write : numpy.ndarray or None
        Setpoint to write now (closed mode and not held), else None.
    proposal : numpy.ndarray or None
        Setpoint the controller proposes (advisory or closed, not held).
    hold : str or None
        Why the loop is held, or None.
    events : tuple of Event
        What to file in the audit log.
    """

    write: NDArray[np.float64] | None
    proposal: NDArray[np.float64] | None
    hold: str | None
    events: tuple[Event, ...]


class Controller(Protocol):
    """What the supervisor drives: a controller that proposes new setpoints."""

    def propose(self, value: ArrayLike, setpoint: NDArray[np.float64]) -> NDArray[np.float64]:
        """New setpoint(s) from the measurement and the current setpoint(s)."""
        ...

    def reset(self) -> None:
        """Forget the controller's memory of past errors (after a hold, at start)."""
        ...


SYSTEM_USER = "plantqc"


def _jsonable(x: object) -> object:
    if isinstance(x, np.ndarray):
        return x.item() if x.ndim == 0 else x.tolist()
    return x


@dataclass
class _Pending:
    setpoint: NDArray[np.float64]
    old: NDArray[np.float64]
    reason: str
    user: str = SYSTEM_USER


@dataclass
class LoopSupervisor:
    """Modes and interlocks of one loop around a `Controller`.

    Parameters
    ----------
    name : str
        Loop name, as in the audit log (e.g. ``casting-1.md``).
    settings : SupervisorSettings
        Limits and interlocks.
    controller : Controller
        The controller it drives.
    mode : Mode
        Mode at start; ``off`` unless the caller restores another.
    """

    name: str
    settings: SupervisorSettings
    controller: Controller
    mode: Mode = Mode.OFF
    _recent: deque[tuple[datetime, NDArray[np.float64]]] = field(default_factory=deque, init=False)
    _roll: tuple[str | None, str | None] | None = field(default=None, init=False)
    _settle_until: datetime | None = field(default=None, init=False)
    _hold: str | None = field(default=None, init=False)
    _failures: int = field(default=0, init=False)
    _pending: _Pending | None = field(default=None, init=False)

    # --- modes ---------------------------------------------------------------------------------

    def set_mode(self, mode: Mode, *, time: datetime, user: str, reason: str) -> list[Event]:
        """Change mode; returns the audit event (none when the mode does not change).

        Entering ``closed`` is bumpless: the controller forgets its last error and its first
        move is added to the setpoint as read back at that period, not to any earlier value.
        """
        mode = Mode(mode)
        if mode == self.mode:
            return []
        old, self.mode = self.mode, mode
        self.controller.reset()
        self._failures = 0
        self._pending = None
        return [Event(time, self.name, "mode", user, str(old), str(mode), reason)]

    # --- one control period ----------------------------------------------------------------------

    def hold_reason(self, time: datetime, measurement: Measurement, line: LineState) -> str | None:
        """Why the loop must not move now, or None."""
        self._track_roll(time, line)
        if not line.running or line.speed_m_min <= 0:
            return "line stopped"
        if not measurement.good:
            return "gauge sensor fault"
        if self._settle_until is not None and time < self._settle_until:
            return f"settling after roll / lot change until {self._settle_until.isoformat()}"
        deadtime_s = self.settings.die_to_gauge_m / (line.speed_m_min / 60.0)
        age_s = (time - measurement.time).total_seconds()
        if age_s > self.settings.stale_deadtimes * deadtime_s:
            return (
                f"measurement {age_s:.0f} s old, more than {self.settings.stale_deadtimes:g} "
                f"dead times ({deadtime_s:.0f} s each)"
            )
        return None

    def step(
        self,
        time: datetime,
        measurement: Measurement,
        setpoint: ArrayLike,
        line: LineState,
    ) -> Decision:
        """Run one control period.

        Parameters
        ----------
        time : datetime
            Now.
        measurement : Measurement
            Latest gauge measurement.
        setpoint : array_like
            Setpoint(s) as read back from the line.
        line : LineState
            Running, speed, roll and lot.

        Returns
        -------
        Decision
            In closed mode ``write`` is the limited setpoint to write; the caller then reports
            the write with `write_done`.
        """
        current = np.asarray(setpoint, dtype=float)
        events: list[Event] = []
        if self.mode == Mode.OFF:
            return Decision(None, None, None, ())
        hold = self.hold_reason(time, measurement, line)
        if hold != self._hold:
            if hold is not None:
                self.controller.reset()
                events.append(Event(time, self.name, "hold", SYSTEM_USER, None, None, hold))
            else:
                events.append(
                    Event(time, self.name, "resume", SYSTEM_USER, None, None, str(self._hold))
                )
            self._hold = hold
        if hold is not None:
            self._pending = None  # a proposal made before the hold is not to be accepted after
            return Decision(None, None, hold, tuple(events))
        raw = np.asarray(self.controller.propose(measurement.value, current), dtype=float)
        target, why = self.limit(time, current, raw)
        reason = "controller" + (f" ({why})" if why else "")
        self._pending = _Pending(target, current, reason)
        if self.mode == Mode.ADVISORY:
            if not np.array_equal(target, current):
                events.append(self._event(time, "proposed", SYSTEM_USER, current, target, reason))
            return Decision(None, target, None, tuple(events))
        return Decision(target, target, None, tuple(events))

    def feedforward(
        self, time: datetime, setpoint: ArrayLike, wanted: ArrayLike, reason: str
    ) -> Decision:
        """A move planned from a known event (a batch change), not from the measurement.

        It bypasses the measurement holds (it uses no measurement) but not the limits: the
        wanted setpoint is clipped like a controller's, proposed in advisory, written in
        closed (report the write with `write_done`), nothing when off.
        """
        current = np.asarray(setpoint, dtype=float)
        if self.mode == Mode.OFF:
            return Decision(None, None, None, ())
        target, why = self.limit(time, current, np.asarray(wanted, dtype=float))
        reason = reason + (f" ({why})" if why else "")
        self._pending = _Pending(target, current, reason)
        if self.mode == Mode.ADVISORY:
            event = self._event(time, "proposed", SYSTEM_USER, current, target, reason)
            return Decision(None, target, None, (event,))
        return Decision(target, target, None, ())

    def limit(
        self, time: datetime, current: NDArray[np.float64], wanted: NDArray[np.float64]
    ) -> tuple[NDArray[np.float64], str]:
        """Clip a wanted setpoint to the operator limits and the move limits.

        Returns the limited setpoint and which limits cut it (empty when none did).  A setpoint
        outside the operator range (limits changed under it) walks back at the move rate.
        """
        s = self.settings
        why = []
        bounded = np.clip(wanted, s.operator_low, s.operator_high)
        if np.any(bounded != wanted):
            why.append("operator limits")
        step = np.clip(bounded - current, -s.max_move_per_step, s.max_move_per_step)
        if np.any(step != bounded - current):
            why.append("max move per step")
        used = self._moved_last_minute(time, current.shape)
        room = np.maximum(s.max_move_per_minute - used, 0.0)
        limited = np.clip(step, -room, room)
        if np.any(limited != step):
            why.append("max move per minute")
        return current + limited, ", ".join(why)

    def write_done(self, time: datetime, ok: bool, *, detail: str = "") -> list[Event]:
        """Report the outcome of writing the last `Decision.write`.

        A success is filed as an ``applied`` move and counts against the per-minute limit; a
        failure as ``write_failed``; the ``watchdog_failures``-th consecutive failure drops the
        loop to advisory.
        """
        pending, self._pending = self._pending, None
        if pending is None:
            return []
        if ok:
            self._failures = 0
            if np.array_equal(pending.setpoint, pending.old):
                return []  # nothing moved: nothing to file
            self._recent.append((time, np.abs(pending.setpoint - pending.old)))
            return [
                self._event(
                    time, "applied", pending.user, pending.old, pending.setpoint, pending.reason
                )
            ]
        self._failures += 1
        events = [
            self._event(
                time,
                "write_failed",
                SYSTEM_USER,
                pending.old,
                pending.setpoint,
                detail or "setpoint write failed",
            )
        ]
        if self._failures >= self.settings.watchdog_failures and self.mode == Mode.CLOSED:
            events += self.set_mode(
                Mode.ADVISORY,
                time=time,
                user=SYSTEM_USER,
                reason=f"watchdog: {self._failures} consecutive setpoint writes failed",
            )
        return events

    # --- advisory: a person decides --------------------------------------------------------------

    def accept(self, time: datetime, user: str) -> tuple[NDArray[np.float64] | None, list[Event]]:
        """Accept the pending advisory proposal: returns the setpoint to write and the event.

        The caller writes it and reports with `write_done`, which files the ``applied`` move
        under the accepting user.
        """
        if self.mode != Mode.ADVISORY or self._pending is None:
            return None, []
        p = self._pending
        self._pending = _Pending(p.setpoint, p.old, f"accepted by {user}", user)
        return p.setpoint, [self._event(time, "accepted", user, p.old, p.setpoint, p.reason)]

    def reject(self, time: datetime, user: str, reason: str) -> list[Event]:
        """Reject the pending advisory proposal, with the reason the person gives."""
        if self._pending is None:
            return []
        p, self._pending = self._pending, None
        return [self._event(time, "rejected", user, p.old, p.setpoint, reason)]

    # --- internals -------------------------------------------------------------------------------

    def _event(
        self, time: datetime, kind: str, user: str, old: object, new: object, reason: str
    ) -> Event:
        return Event(time, self.name, kind, user, _jsonable(old), _jsonable(new), reason)

    def _moved_last_minute(self, time: datetime, shape: tuple[int, ...]) -> NDArray[np.float64]:
        start = time - timedelta(minutes=1)
        while self._recent and self._recent[0][0] <= start:
            self._recent.popleft()
        used = np.zeros(shape)
        for _, moved in self._recent:
            used = used + moved
        return used

    def _track_roll(self, time: datetime, line: LineState) -> None:
        key = (line.roll, line.lot)
        if self._roll is not None and key != self._roll:
            self._settle_until = time + timedelta(seconds=self.settings.settling_s)
        self._roll = key
