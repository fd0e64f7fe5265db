"""Alarm-system performance: ``GET /kpi`` the EEMUA 191 figures of every line over a window
(default the last 24 hours), beside their targets.

The figures are `plantqc.alarms.kpi.line_kpi` of the histories `plantqc.alarms.history` reads
from the audit trail, exactly as `plantqc alarms kpi --from --to` computes them; the page
only chooses the window and shows them.  Every logged-in role may read them.

References
----------
.. [1] EEMUA Publication 191, 3rd ed. (2013), Table 35.
.. [2] ANSI/ISA-18.2-2016, §16.6 and Table 5 (recommended alarm performance metrics).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import select
from sqlalchemy.orm import Session

from plantqc.alarms.history import line_histories
from plantqc.alarms.kpi import FLOOD_ABOVE, LineKpi, line_kpi
from plantqc.errors import UserError
from plantqc.store.models import Line
from plantqc.web.console import Console
from plantqc.web.timeinput import parse_time_field

WINDOW = timedelta(hours=24)
"""The window shown unless another is asked for: the last day, a few shifts."""
QUICK_WINDOWS = (("last 24 h", timedelta(hours=24)), ("last 7 days", timedelta(days=7)),
                 ("last 30 days", timedelta(days=30)))  # fmt: skip
"""Windows one click away; ISA-18.2 bases its targets on at least 30 days of data."""


@dataclass(frozen=True)
class Figure:
    """One row of the page: a `LineKpi` field, how the CLI prints it, its target in words
    and whether a value misses it (None: no target)."""

    field: str
    label: str
    show: Callable[[LineKpi], str]
    target: str
    missed: Callable[[LineKpi], bool] | None = None


FIGURES = (
    Figure("hours", "Hours in the window", lambda f: f"{f.hours:.2f}", ""),
    Figure("alarms", "Alarms (annunciations)", lambda f: str(f.alarms), ""),
    Figure(
        "alarms_per_hour", "Alarms per hour",
        lambda f: "-" if f.alarms_per_hour is None else f"{f.alarms_per_hour:.2f}",
        "≤ 6 (1 per 10 min); ≤ 12 at most",
        lambda f: f.alarms_per_hour is not None and f.alarms_per_hour > 6,
    ),
    Figure(
        "peak_per_10min", "Most alarms in a 10-minute period", lambda f: str(f.peak_per_10min),
        f"≤ {FLOOD_ABOVE}", lambda f: f.peak_per_10min > FLOOD_ABOVE,
    ),
    Figure(
        "flood_pct", "Time in flood, % of 10-minute periods", lambda f: f"{f.flood_pct:.1f}",
        "< 1 %", lambda f: f.flood_pct >= 1.0,
    ),
    Figure("chattering", "Chattering alarms", lambda f: str(f.chattering), "0",
           lambda f: f.chattering > 0),
    Figure("stale", "Stale: active for more than 24 h", lambda f: str(f.stale), "< 5",
           lambda f: f.stale >= 5),
    Figure("shelved", "Shelved at the window's end", lambda f: str(f.shelved), ""),
)  # fmt: skip
"""The figures in the CLI's order, with the targets of EEMUA 191 Table 35 and ISA-18.2
Table 5."""


def routes(console: Console) -> APIRouter:
    # pages (the API documents itself), each behind the login
    router = APIRouter(include_in_schema=False, dependencies=console.login_required)

    @router.get("/kpi", response_class=HTMLResponse)
    def kpi_page(
        request: Request,
        start: Annotated[str, Query(alias="from")] = "",
        end: Annotated[str, Query(alias="to")] = "",
    ) -> HTMLResponse:
        session = console.logged_in(request)
        form = {"from": start, "to": end}
        try:
            first, last = _window(start, end)
        except UserError as exc:
            return console.render(
                request, "kpi.html.j2", session, 400, form=form, error=str(exc), **_page()
            )
        return console.render(
            request, "kpi.html.j2", session,
            form=form, start=first, end=last, lines=_figures(console, first, last), **_page(),
        )  # fmt: skip

    return router


def _page() -> dict[str, object]:
    now = datetime.now(UTC).replace(microsecond=0)
    quick = [(label, (now - span).isoformat(), now.isoformat()) for label, span in QUICK_WINDOWS]
    return {"figures": FIGURES, "quick": quick}


def _window(start: str, end: str) -> tuple[datetime, datetime]:
    """The window asked for: up to ``end`` (default now; a date alone: to its end) from
    ``start`` (default `WINDOW` before the end)."""
    last = parse_time_field(end, "to", end_of_day=True) or datetime.now(UTC)
    first = parse_time_field(start, "from") or last - WINDOW
    if last < first:
        raise UserError(f"the window from {start} to {end} ends before it starts.")
    return first, last


def _figures(console: Console, start: datetime, end: datetime) -> list[LineKpi]:
    """Every line's figures over ``[start, end]``, lines in site, area, name order."""
    with Session(console.engine) as session:
        lines = session.execute(
            select(Line.id, Line.name).order_by(Line.site, Line.area, Line.name)
        ).all()
        return [
            line_kpi(name, line_histories(session, line_id, end), start, end)
            for line_id, name in lines
        ]
