"""Sensor faults and the line's running condition, as alarm events of one tag.

Sensor faults are alarms of kind ``sensor-fault``: ``bad-quality`` (a run of Bad samples, or
Bad for that many sampling intervals), ``stuck`` (identical consecutive Good values) and
``silent`` (no sample for too long); each returns to normal when good data resumes.  An OPC
UA subscription reports changes, not repetitions, so the last two also show as samples not
arriving: `quiet_fault` and `silence_fault` judge those from the tag's newest sample.  While a
fault stands the runner charts none of the tag's samples and judges none against the spec: the
fault alarm stands alone (`plantqc.charting.runner`).  While a line's running condition does
not hold, its tags' alarms are suppressed by design (ISA-18.2); `running_lookup` says when it
holds.

References
----------
.. [1] ANSI/ISA-18.2-2016 (alarm states, suppression by design).
.. [2] OPC UA Part 4 §7.39 (status code severity).
"""

from __future__ import annotations

import bisect
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from plantqc.alarms import SENSOR_FAULT_KIND, AlarmEvent
from plantqc.charting.chart import ChartConfig
from plantqc.quality import GOOD_BELOW
from plantqc.store.models import Sample

BAD_FROM = 0x80000000
"""OPC UA severity Bad (Part 4 §7.39): status codes from here on."""


def fault_book(state: dict[str, Any]) -> dict[str, Any]:
    """A tag's fault bookkeeping from its persisted state (fresh when there is none)."""
    saved = state.get("faults") or {}
    return {
        "bad": saved.get("bad", 0),
        "same": saved.get("same", 0),
        "last": saved.get("last"),
        "bad_since": saved.get("bad_since"),
        "active": list(saved.get("active", [])),
    }


def fault_events(
    chart: ChartConfig,
    faults: dict[str, Any],
    ts: datetime,
    value: Any,
    status: int,
    stopped: bool,
    events: list[AlarmEvent],
) -> None:
    """Update the tag's fault bookkeeping with one sample; append the alarm changes."""
    active: list[str] = faults["active"]
    settings = chart.faults

    def change(kind: str, code: str, message: str = "") -> None:
        if kind == "raise":
            active.append(code)
        else:
            active.remove(code)
        priority = chart.priority(code)
        events.append(AlarmEvent(kind, code, ts, SENSOR_FAULT_KIND, priority, message, stopped))

    if "silent" in active:
        change("clear", "silent")
    if status >= BAD_FROM:
        faults["bad"] += 1
        faults["bad_since"] = faults["bad_since"] or ts.isoformat()
        if settings.bad_run and faults["bad"] >= settings.bad_run and "bad-quality" not in active:
            change(
                "raise", "bad-quality", f"{chart.tag}: {faults['bad']} Bad-quality samples in a row"
            )
        return
    faults["bad"], faults["bad_since"] = 0, None
    if status >= GOOD_BELOW or value is None:
        return
    if "bad-quality" in active:
        change("clear", "bad-quality")
    if value == faults["last"]:
        faults["same"] += 1
    else:
        faults["last"], faults["same"] = value, 1
        if "stuck" in active:
            change("clear", "stuck")
    if settings.stuck_run and faults["same"] >= settings.stuck_run and "stuck" not in active:
        shown = f"{value:.6g}" if isinstance(value, float) else "profile"
        change("raise", "stuck", f"{chart.tag}: {faults['same']} identical values ({shown})")


def quiet_fault(chart: ChartConfig, newest_status: int, quiet_s: float) -> str | None:
    """The fault a tag's newest sample may show when nothing has come for ``quiet_s`` seconds:
    ``bad-quality`` when that sample is Bad, ``silent`` when the quiet is longer than
    ``silent_intervals`` sampling intervals, else None (the usual case, decided without the
    tag's state)."""
    if newest_status >= BAD_FROM:
        return "bad-quality"
    bound = silent_after_s(chart)
    return "silent" if bound and quiet_s > bound else None


def silent_after_s(chart: ChartConfig) -> float | None:
    """Seconds without a sample after which the tag is silent; None: never judged silent.

    ``faults.silent_after_s`` when configured, else ``silent_intervals`` sampling intervals; a
    tag sampled by exception (interval 0) has no interval to count, so only the configured
    bound applies to it.
    """
    if chart.faults.silent_after_s is not None:
        return chart.faults.silent_after_s
    assert chart.sampling_interval_s is not None
    return chart.faults.silent_intervals * chart.sampling_interval_s or None


def silence_fault(
    chart: ChartConfig, faults: dict[str, Any], code: str, newest_ts: datetime, now: datetime
) -> str | None:
    """The message of fault ``code`` (`quiet_fault`) when it is due at ``now`` and not yet
    active, else None: ``bad-quality`` once the tag has been Bad for ``bad_run`` sampling
    intervals; ``silent`` at once."""
    if code in faults["active"]:
        return None
    assert chart.sampling_interval_s is not None
    if code == "silent":
        bound = (
            f"{chart.faults.silent_after_s:g} s"
            if chart.faults.silent_after_s is not None
            else f"{chart.faults.silent_intervals:g} sampling intervals"
        )
        return f"{chart.tag}: no sample since {newest_ts.isoformat()} (more than {bound})"
    since = faults["bad_since"] or newest_ts.isoformat()
    bad_s = (now - datetime.fromisoformat(since)).total_seconds()
    # sampled by exception (interval 0), a Bad report stands until the next one: due at once
    due = bool(chart.faults.bad_run) and bad_s >= chart.faults.bad_run * chart.sampling_interval_s
    return f"{chart.tag}: Bad quality since {since}" if due else None


def running_lookup(
    session: Session, chart: ChartConfig, start: datetime, end: datetime
) -> Callable[[datetime], bool] | None:
    """Whether the tag's line runs at a time in ``[start, end]``; None without a condition.

    The line runs while the newest Good sample of its running tag at or before that time is
    above the threshold; before any such sample it is taken to run (nothing says otherwise).
    """
    if chart.running is None:
        return None
    good = (Sample.tag_id == chart.running.tag_id, Sample.status < GOOD_BELOW)
    before = session.execute(
        select(Sample.ts, Sample.value)
        .where(*good, Sample.ts < start)
        .order_by(Sample.ts.desc())
        .limit(1)
    ).all()
    during = session.execute(
        select(Sample.ts, Sample.value)
        .where(*good, Sample.ts >= start, Sample.ts <= end)
        .order_by(Sample.ts)
    ).all()
    rows = [*before, *during]
    times = [ts for ts, _ in rows]
    above = chart.running.above
    runs = [value is None or value > above for _, value in rows]

    def running(ts: datetime) -> bool:
        at = bisect.bisect_right(times, ts) - 1
        return at < 0 or runs[at]

    return running
