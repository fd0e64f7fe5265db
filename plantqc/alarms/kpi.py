"""EEMUA 191 alarm-system performance figures of one line over a period, from its alarms'
histories.

Pure: alarm histories in, figures out; `plantqc alarms kpi` reads the histories from the
audit trail.  What is counted:

- an *alarm* is an annunciation: the condition activates (``alarm-raise``) or activates again
  after it returned (``alarm-reactivate``) and the alarm is active-unacknowledged after it.
  A condition that keeps firing while its alarm is still active is the same alarm (ISA-18.2
  counts one alarm until it returns), and one raised while its line is stopped is suppressed
  by design, not annunciated;
- *alarms per hour*: alarms in the period / its length in hours;
- *peak per 10 min* and *flood*: the period is cut into fixed 10-minute periods from its
  start, as EEMUA 191 (3rd ed., 2013, §6 and Table 35) counts them: periods
  ``[start + 10k min, start + 10(k+1) min)``, the last one ending at the period's end and so
  possibly shorter.  The peak is the most alarms in one of them, ``flood_pct`` the percentage
  of them with more than 10 alarms (EEMUA's flood threshold: 10 alarms in 10 minutes);
- *chattering*: alarms (one per tag and rule) activated 3 or more times within 60 s (any 60 s,
  not a fixed period: the chattering definition of EEMUA 191 §6 / ISA-18.2 §16.6.4 is about
  successive activations);
- *stale*: alarms active (unacknowledged or acknowledged) at the period's end that have been
  active continuously for more than 24 h then (EEMUA 191's "standing for more than 24 h");
- *shelved*: alarms shelved at the period's end.

References
----------
.. [1] EEMUA Publication 191, *Alarm Systems: A Guide to Design, Management and
   Procurement*, 3rd ed. (2013), §6 (performance metrics), Table 35 (average alarm rate,
   peak alarm rate per 10 minutes, percentage of time in flood).
.. [2] ANSI/ISA-18.2-2016, §16.6 (alarm system performance metrics: chattering, stale alarms).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import numpy as np

from plantqc.store.models import AlarmState

PERIOD = timedelta(minutes=10)
"""Length of the fixed periods of the peak and flood figures (EEMUA 191)."""
FLOOD_ABOVE = 10
"""A 10-minute period with more alarms than this is in flood."""
CHATTER_COUNT = 3
CHATTER_WITHIN = timedelta(minutes=1)
"""An alarm activated `CHATTER_COUNT` times within `CHATTER_WITHIN` chatters."""
STALE_AFTER = timedelta(hours=24)
"""An alarm active continuously for longer than this is stale."""
TOP = 10
"""How many of the most frequent alarms are listed."""

ACTIVATING_ACTIONS = frozenset({"alarm-raise", "alarm-reactivate"})
"""Audit actions of a condition that activates; an alarm when it leaves the alarm
active-unacknowledged (annunciated)."""
_ACTIVE = frozenset({AlarmState.ACTIVE_UNACKED, AlarmState.ACTIVE_ACKED})


@dataclass(frozen=True)
class Change:
    """One change of an alarm: when, the state after it, whether it is an annunciation."""

    at: datetime
    state: AlarmState
    annunciated: bool = False

    @classmethod
    def from_audit(cls, action: str, state: str, at: datetime) -> Change:
        """The change an audit entry (``action``, the state it left) records, at ``at``."""
        state = AlarmState(state)
        annunciated = action in ACTIVATING_ACTIONS and state == AlarmState.ACTIVE_UNACKED
        return cls(at, state, annunciated)


@dataclass(frozen=True)
class AlarmHistory:
    """One alarm (row) of a line: its tag (None for a condition of the whole line), rule and
    changes in the order they happened."""

    tag: str | None
    rule: str
    changes: Sequence[Change]


@dataclass(frozen=True)
class TopAlarm:
    tag: str | None
    rule: str
    count: int


@dataclass(frozen=True)
class LineKpi:
    """The EEMUA 191 figures of one line over ``hours`` (see the module's docstring)."""

    line: str
    hours: float
    alarms: int
    alarms_per_hour: float | None
    """None for a period of no length."""
    peak_per_10min: int
    flood_pct: float
    chattering: int
    stale: int
    shelved: int
    top: list[TopAlarm] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """The figures as JSON-ready values."""
        return {
            "line": self.line,
            "hours": self.hours,
            "alarms": self.alarms,
            "alarms_per_hour": self.alarms_per_hour,
            "peak_per_10min": self.peak_per_10min,
            "flood_pct": self.flood_pct,
            "chattering": self.chattering,
            "stale": self.stale,
            "shelved": self.shelved,
            "top": [{"tag": t.tag, "rule": t.rule, "count": t.count} for t in self.top],
        }


def _state_at(history: AlarmHistory, end: datetime) -> tuple[AlarmState, datetime | None]:
    """The alarm's state after its changes up to ``end``, and since when it has been active
    without a break (None when it is not active).

    A change after ``end`` is passed over rather than ending the walk: the engine's changes
    carry the samples' time and an operator's the time they acted, so in a replay of old
    data a later change can carry an earlier time."""
    state, since = AlarmState.NORMAL, None
    for change in history.changes:
        if change.at > end:
            continue
        if change.state in _ACTIVE and state not in _ACTIVE:
            since = change.at
        elif change.state not in _ACTIVE:
            since = None
        state = change.state
    return state, since


def _chatters(times: Sequence[datetime]) -> bool:
    """Whether `CHATTER_COUNT` of the sorted activation ``times`` fall within
    `CHATTER_WITHIN`."""
    span = CHATTER_COUNT - 1
    return any(times[i + span] - times[i] <= CHATTER_WITHIN for i in range(len(times) - span))


def line_kpi(
    line: str, histories: Sequence[AlarmHistory], start: datetime, end: datetime
) -> LineKpi:
    """The EEMUA 191 figures of ``line`` over ``[start, end]`` from its alarms' histories.

    ``hours`` = (end - start) / 1 h; alarms are the annunciations at ``start <= t <= end``.
    The 10-minute periods number ceil((end - start) / 10 min) (one for a period of no
    length); an alarm exactly at ``end`` falls in the last.
    """
    if end < start:
        raise ValueError(f"the period ends ({end}) before it starts ({start})")
    seconds = (end - start).total_seconds()
    by_alarm: dict[tuple[str | None, str], list[datetime]] = {}
    for history in histories:
        times = by_alarm.setdefault((history.tag, history.rule), [])
        times.extend(c.at for c in history.changes if c.annunciated and start <= c.at <= end)
    offsets = np.array(
        [(t - start).total_seconds() for times in by_alarm.values() for t in times], dtype=float
    )
    periods = max(1, math.ceil(seconds / PERIOD.total_seconds()))
    index = np.minimum(offsets // PERIOD.total_seconds(), periods - 1).astype(np.int64)
    per_period = np.bincount(index, minlength=periods)
    states = [_state_at(history, end) for history in histories]
    counts = Counter({key: len(times) for key, times in by_alarm.items() if times})
    top = sorted(counts.items(), key=lambda item: (-item[1], item[0][0] or "", item[0][1]))
    return LineKpi(
        line=line,
        hours=seconds / 3600.0,
        alarms=int(offsets.size),
        alarms_per_hour=offsets.size / (seconds / 3600.0) if seconds > 0 else None,
        peak_per_10min=int(per_period.max()),
        flood_pct=100.0 * float(np.count_nonzero(per_period > FLOOD_ABOVE)) / periods,
        chattering=sum(_chatters(sorted(times)) for times in by_alarm.values()),
        stale=sum(
            state in _ACTIVE and since is not None and end - since > STALE_AFTER
            for state, since in states
        ),
        shelved=sum(state == AlarmState.SHELVED for state, _ in states),
        top=[TopAlarm(tag, rule, count) for (tag, rule), count in top[:TOP]],
    )
