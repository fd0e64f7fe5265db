"""Who may do what: the one table of role permissions the console, the API and the CLI ask.

Operators act on alarms and control loops; quality engineers do that too and also freeze
limits and sign, release or hold lots; administrators manage users and nothing else, so that
who grants access is not who signs a quality record (EU GMP Annex 11 §12.1 asks access to be
restricted to authorised persons; segregation of duties keeps the two apart).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping


class Role(enum.StrEnum):
    OPERATOR = "operator"
    QUALITY = "quality"
    ADMIN = "admin"


class Action(enum.StrEnum):
    """An action a role may be granted, named ``<entity>.<verb>``."""

    ALARM_ACK = "alarm.ack"
    ALARM_SHELVE = "alarm.shelve"
    ALARM_COMMENT = "alarm.comment"
    CONTROL_MODE = "control.mode"
    CONTROL_ACCEPT = "control.accept"
    CONTROL_REJECT = "control.reject"
    LIMITS_FREEZE = "limits.freeze"
    REPORT_SIGN = "report.sign"
    LOT_RELEASE = "lot.release"
    LOT_HOLD = "lot.hold"
    USERS_MANAGE = "users.manage"


_OPERATOR = frozenset(
    {
        Action.ALARM_ACK,
        Action.ALARM_SHELVE,
        Action.ALARM_COMMENT,
        Action.CONTROL_MODE,
        Action.CONTROL_ACCEPT,
        Action.CONTROL_REJECT,
    }
)
_QUALITY = _OPERATOR | {
    Action.LIMITS_FREEZE,
    Action.REPORT_SIGN,
    Action.LOT_RELEASE,
    Action.LOT_HOLD,
}

PERMISSIONS: Mapping[Role, frozenset[Action]] = {
    Role.OPERATOR: _OPERATOR,
    Role.QUALITY: _QUALITY,
    Role.ADMIN: frozenset({Action.USERS_MANAGE}),
}


def may(role: str, action: str) -> bool:
    """Whether ``role`` is granted ``action``.

    An unknown role or action is a programming error (a misspelt action would otherwise be
    silently refused to everyone), so it raises `ValueError`.
    """
    return Action(action) in PERMISSIONS[Role(role)]
