"""The ISA-18.2 alarm state model as one table: (state, event) -> (new state, actions).

Every pair of `AlarmState` and `Event` has an entry in `TABLE`: a `Transition` (the state
after, the audit action that tells the notifiers, the changes to the alarm row) or a
`Refusal` (an operator action that makes no sense in that state, with the reason).  A
transition that changes nothing is explicit too (``audit`` None, no effects).  `transition`
reads the table and nothing else; the alarm store (`plantqc.alarms`), the engine's conditions,
the daemon's buffer alarm and the CLI all go through it, so no other code decides a state.

``normal`` stands for "no open alarm": an alarm back to normal is closed for good, and the
next ``activate`` opens a new one (effect `Effect.OPEN`).

Events whose outcome depends on whether the alarm's condition still holds when a shelf ends
or the line runs again come in two kinds (``unshelve`` / ``unshelve-returned``,
``unsuppress`` / ``unsuppress-returned``): a shelf or a suppression hides the annunciation,
not the condition, so the alarm comes back as what its condition is then.

References
----------
.. [1] ANSI/ISA-18.2-2016, *Management of Alarm Systems for the Process Industries*, §11.4
   and Fig. 5 (alarm states and transitions), §16.5 (shelving), §16.6 (suppressed by design).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass

from plantqc.store.models import AlarmState


class Event(enum.StrEnum):
    """What happens to an alarm: its condition (engine, daemon), its line, or an operator."""

    ACTIVATE = "activate"
    """The condition holds (fires, or fires again) while its line runs."""
    ACTIVATE_SUPPRESSED = "activate-suppressed"
    """The condition holds while its line is stopped."""
    RETURN = "return"
    """The condition no longer holds."""
    ACK = "ack"
    """An operator acknowledges the alarm."""
    SHELVE = "shelve"
    """An operator shelves the alarm until a time."""
    UNSHELVE = "unshelve"
    """The shelf ends while the condition holds."""
    UNSHELVE_RETURNED = "unshelve-returned"
    """The shelf ends and the condition no longer holds."""
    SUPPRESS = "suppress"
    """The alarm's line stops: its alarms are suppressed by design."""
    UNSUPPRESS = "unsuppress"
    """The line runs again while the condition holds."""
    UNSUPPRESS_RETURNED = "unsuppress-returned"
    """The line runs again and the condition no longer holds."""
    COMMENT = "comment"
    """An operator records an assignable cause or corrective action."""


class Effect(enum.StrEnum):
    """A change to the alarm row besides its state."""

    OPEN = "open"
    """Insert a new alarm row (count 1, first and last time the event's)."""
    COUNT = "count"
    """Count the firing up; last time and message become the event's."""
    CONDITION_ON = "condition-on"
    """Record that the condition holds."""
    CONDITION_OFF = "condition-off"
    """Record that the condition no longer holds."""
    RECORD_ACK = "record-ack"
    """Record who acknowledged and when."""
    SET_SHELF = "set-shelf"
    """Record the shelf's expiry."""
    END_SHELF = "end-shelf"
    """Forget the shelf's expiry."""
    RECORD_NOTE = "record-note"
    """Record the assignable cause and / or corrective action."""


@dataclass(frozen=True)
class Transition:
    """A legal event: the state after it, the audit action (None: nothing to notify, nothing
    recorded) and the changes to the row."""

    state: AlarmState
    audit: str | None = None
    effects: frozenset[Effect] = frozenset()


@dataclass(frozen=True)
class Refusal:
    """An event that is not allowed in a state; ``reason`` completes "alarm N is <state>; "."""

    reason: str


class IllegalTransition(Exception):
    """`transition` was asked for a refused pair; the message is the refusal's reason."""

    def __init__(self, state: AlarmState, event: Event, reason: str) -> None:
        super().__init__(reason)
        self.state, self.event, self.reason = state, event, reason


S = AlarmState
E = Event
F = Effect
_FIRED = frozenset({F.COUNT, F.CONDITION_ON})
_RETURNED = frozenset({F.CONDITION_OFF})
_NOT_UNACKED = Refusal("only unacknowledged alarms ack")
_NOT_SHELVED = Refusal("only a shelved alarm is unshelved")


def _same(state: AlarmState, effects: frozenset[Effect] = frozenset()) -> Transition:
    return Transition(state, None, effects)


def _pairs() -> dict[tuple[AlarmState, Event], Transition | Refusal]:
    table: dict[tuple[AlarmState, Event], Transition | Refusal] = {
        # --- the condition fires --------------------------------------------------------
        (S.NORMAL, E.ACTIVATE): Transition(S.ACTIVE_UNACKED, "alarm-raise", frozenset({F.OPEN})),
        (S.ACTIVE_UNACKED, E.ACTIVATE): _same(S.ACTIVE_UNACKED, _FIRED),  # chattering
        (S.ACTIVE_ACKED, E.ACTIVATE): _same(S.ACTIVE_ACKED, _FIRED),
        (S.RTN_UNACKED, E.ACTIVATE): Transition(S.ACTIVE_UNACKED, "alarm-reactivate", _FIRED),
        (S.SHELVED, E.ACTIVATE): _same(S.SHELVED, _FIRED),  # the shelf holds
        (S.SUPPRESSED, E.ACTIVATE): Transition(S.ACTIVE_UNACKED, "alarm-unsuppress", _FIRED),
        # --- ... while its line is stopped ----------------------------------------------
        (S.NORMAL, E.ACTIVATE_SUPPRESSED): Transition(
            S.SUPPRESSED, "alarm-raise", frozenset({F.OPEN})
        ),
        (S.ACTIVE_UNACKED, E.ACTIVATE_SUPPRESSED): _same(S.ACTIVE_UNACKED, _FIRED),
        (S.ACTIVE_ACKED, E.ACTIVATE_SUPPRESSED): _same(S.ACTIVE_ACKED, _FIRED),
        (S.RTN_UNACKED, E.ACTIVATE_SUPPRESSED): Transition(
            S.SUPPRESSED, "alarm-reactivate", _FIRED
        ),
        (S.SHELVED, E.ACTIVATE_SUPPRESSED): _same(S.SHELVED, _FIRED),
        (S.SUPPRESSED, E.ACTIVATE_SUPPRESSED): _same(S.SUPPRESSED, _FIRED),
        # --- the condition returns ------------------------------------------------------
        (S.NORMAL, E.RETURN): _same(S.NORMAL),  # nothing open
        (S.ACTIVE_UNACKED, E.RETURN): Transition(S.RTN_UNACKED, "alarm-return", _RETURNED),
        (S.ACTIVE_ACKED, E.RETURN): Transition(S.NORMAL, "alarm-return", _RETURNED),
        (S.RTN_UNACKED, E.RETURN): _same(S.RTN_UNACKED),
        # the return is recorded (and published); the shelf still holds
        (S.SHELVED, E.RETURN): Transition(S.SHELVED, "alarm-return", _RETURNED),
        # nobody was shown a suppressed alarm, so nobody has to acknowledge its return
        (S.SUPPRESSED, E.RETURN): Transition(S.NORMAL, "alarm-return", _RETURNED),
        # --- acknowledgement ------------------------------------------------------------
        (S.ACTIVE_UNACKED, E.ACK): Transition(
            S.ACTIVE_ACKED, "alarm-ack", frozenset({F.RECORD_ACK})
        ),
        (S.RTN_UNACKED, E.ACK): Transition(S.NORMAL, "alarm-ack", frozenset({F.RECORD_ACK})),
        (S.ACTIVE_ACKED, E.ACK): _NOT_UNACKED,
        (S.NORMAL, E.ACK): _NOT_UNACKED,
        (S.SHELVED, E.ACK): _NOT_UNACKED,
        (S.SUPPRESSED, E.ACK): _NOT_UNACKED,
        # --- shelving (§16.5) -----------------------------------------------------------
        (S.NORMAL, E.SHELVE): Refusal("there is nothing to shelve"),
        **{
            (state, E.SHELVE): Transition(S.SHELVED, "alarm-shelve", frozenset({F.SET_SHELF}))
            for state in (S.ACTIVE_UNACKED, S.ACTIVE_ACKED, S.RTN_UNACKED, S.SUPPRESSED)
        },
        # shelving again moves the expiry
        (S.SHELVED, E.SHELVE): Transition(S.SHELVED, "alarm-shelve", frozenset({F.SET_SHELF})),
        (S.SHELVED, E.UNSHELVE): Transition(
            S.ACTIVE_UNACKED, "alarm-unshelve", frozenset({F.END_SHELF})
        ),
        (S.SHELVED, E.UNSHELVE_RETURNED): Transition(
            S.NORMAL, "alarm-unshelve", frozenset({F.END_SHELF})
        ),
        # --- suppression by design (§16.6): only annunciated alarms are suppressed ------
        **{
            (state, E.SUPPRESS): Transition(S.SUPPRESSED, "alarm-suppress")
            for state in (S.ACTIVE_UNACKED, S.ACTIVE_ACKED, S.RTN_UNACKED)
        },
        (S.NORMAL, E.SUPPRESS): _same(S.NORMAL),
        (S.SHELVED, E.SUPPRESS): _same(S.SHELVED),  # the operator's shelf decides
        (S.SUPPRESSED, E.SUPPRESS): _same(S.SUPPRESSED),
        (S.SUPPRESSED, E.UNSUPPRESS): Transition(S.ACTIVE_UNACKED, "alarm-unsuppress"),
        (S.SUPPRESSED, E.UNSUPPRESS_RETURNED): Transition(S.NORMAL, "alarm-unsuppress"),
    }
    for state in AlarmState:
        for event in (E.UNSHELVE, E.UNSHELVE_RETURNED):
            table.setdefault((state, event), _NOT_SHELVED)
        for event in (E.UNSUPPRESS, E.UNSUPPRESS_RETURNED):
            table.setdefault((state, event), _same(state))  # the line runs; nothing hidden
        # a note changes no state; a closed alarm may still get its cause recorded
        table[(state, E.COMMENT)] = Transition(state, "alarm-comment", frozenset({F.RECORD_NOTE}))
    return table


TABLE: Mapping[tuple[AlarmState, Event], Transition | Refusal] = _pairs()
"""Every (state, event) pair, legal or not."""

OPEN_STATES = tuple(state for state in AlarmState if state != AlarmState.NORMAL)
"""States of an alarm that is not closed."""


def transition(state: AlarmState | str, event: Event) -> Transition:
    """The `Transition` of ``event`` in ``state``.

    Raises
    ------
    IllegalTransition
        The table refuses the pair; its message is the reason, for the operator.
    """
    state = AlarmState(state)
    found = TABLE[(state, event)]
    if isinstance(found, Refusal):
        raise IllegalTransition(state, event, found.reason)
    return found


def unshelve_event(condition_active: bool) -> Event:
    """The event of a shelf that ends, by whether the condition holds then."""
    return Event.UNSHELVE if condition_active else Event.UNSHELVE_RETURNED


def unsuppress_event(condition_active: bool) -> Event:
    """The event of a line that runs again, by whether the alarm's condition holds then."""
    return Event.UNSUPPRESS if condition_active else Event.UNSUPPRESS_RETURNED
