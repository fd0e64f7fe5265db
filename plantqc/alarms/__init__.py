"""ISA-18.2 alarms raised by SPC violations, sensor faults and the daemon, and what operators
do with them.

States follow ANSI/ISA-18.2-2016 §11: active-unacknowledged -> (ack) active-acknowledged ->
(return to normal) normal; active-unacknowledged -> (return) returned-unacknowledged -> (ack)
normal; any open alarm may be shelved until a time; while it is shelved its condition may
clear (recorded, the alarm stays shelved) and fire again, and when the shelf expires it is
active-unacknowledged if its condition still holds, else normal (§16.5); while its line is
stopped an alarm is suppressed-by-design, and when the line runs again it is
active-unacknowledged if its condition still holds, else normal.  Every state change, every
return of a condition and every operator note is appended to ``audit_log`` (entity
``alarm``); a condition firing again without a state change is not.

- `plantqc.alarms.states`: the one transition table, (state, event) -> (new state, actions);
- `plantqc.alarms.rows`: carries a transition out on an alarm row, with its audit row, on
  rows read through `locked` (row locks on PostgreSQL, the write lock on SQLite), so the
  engine and an operator changing one alarm at the same time are serialised;
- `plantqc.alarms.conditions`: the engine's events (`apply_tag_events`, `apply_events` for one tag)
  and line conditions;
- `plantqc.alarms.operator`: acknowledge, shelve, comment, list, look one
  up; shelves expiring;
- `plantqc.alarms.settings`: a line's ``alarming:`` section (its false-alarm budget).

The names below load their module on first use (PEP 562), so that the plant config can read
`plantqc.alarms.settings` without the store's models.

References
----------
.. [1] ANSI/ISA-18.2-2016, *Management of Alarm Systems for the Process Industries*, §11
   (alarm states), §16.5 (shelving).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from plantqc.alarms.conditions import (
        ENGINE_USER,
        HIGH_PRIORITY_CODES,
        RTN_AFTER_POINTS,
        SENSOR_FAULT_KIND,
        SPC_KIND,
        AlarmEvent,
        apply_events,
        apply_tag_events,
        priority_for,
        set_line_condition,
    )
    from plantqc.alarms.operator import (
        AlarmView,
        ack,
        comment,
        expire_shelves,
        get_alarm,
        list_alarms,
        require_user,
        shelve,
    )
    from plantqc.alarms.rows import audit
    from plantqc.alarms.states import OPEN_STATES

_HOMES = {
    **dict.fromkeys(
        ("ENGINE_USER", "HIGH_PRIORITY_CODES", "RTN_AFTER_POINTS", "SENSOR_FAULT_KIND",
         "SPC_KIND", "AlarmEvent", "apply_events", "apply_tag_events", "priority_for",
         "set_line_condition"),
        "conditions",
    ),
    **dict.fromkeys(
        ("AlarmView", "ack", "comment", "expire_shelves", "get_alarm", "list_alarms",
         "require_user", "shelve"),
        "operator",
    ),
    "audit": "rows",
    "OPEN_STATES": "states",
}  # fmt: skip


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value
    return value


__all__ = [
    "ENGINE_USER",
    "HIGH_PRIORITY_CODES",
    "OPEN_STATES",
    "RTN_AFTER_POINTS",
    "SENSOR_FAULT_KIND",
    "SPC_KIND",
    "AlarmEvent",
    "AlarmView",
    "ack",
    "apply_events",
    "apply_tag_events",
    "audit",
    "comment",
    "expire_shelves",
    "get_alarm",
    "list_alarms",
    "priority_for",
    "require_user",
    "set_line_condition",
    "shelve",
]
