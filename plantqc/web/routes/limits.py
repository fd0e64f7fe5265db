"""Control limits: ``GET /limits`` every chart with the version in force, its newest frozen
(phase I) version and the proposal, side by side; ``GET /limits/{tag_id}/{chart}`` one chart's
versions and the phase I estimate approving would freeze; ``POST
/limits/{tag_id}/{chart}/approve`` freezes it, signed.

The proposal is the newest provisional version newer than the frozen one: what the chart
learned from its baseline since limits were last frozen.  What approval freezes is not that
row but a phase I estimate over its data span from the store
(`plantqc.charting.phase1.estimate_limits`, exactly what ``plantqc limits freeze --from --to``
freezes), so that a quality engineer signs limits estimated the reviewed way; another span can
be chosen.

Approving takes the role's ``limits.freeze`` and an electronic signature meaning "approved"
(`plantqc.users.esign.sign`: the password again, and the user name at the session's first
signing) of `plantqc.charting.phase1.estimate_hash`, the hash of the numbers the page showed:
the estimate is made again from the store and refused if it no longer hashes the same.  The
signature is stored with the frozen version and its audit entry.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from plantqc.charting.catalog import load_charts
from plantqc.charting.chart import ChartConfig
from plantqc.charting.limits import (
    FROZEN_BASIS,
    PROVISIONAL_BASIS,
    limit_versions,
    limits_in_force,
)
from plantqc.charting.names import SeriesSpec
from plantqc.charting.phase1 import (
    LimitsEstimate,
    estimate_hash,
    estimate_limits,
    freeze_limits,
)
from plantqc.errors import UserError
from plantqc.store.models import ControlLimits
from plantqc.users import AuthenticationError, may
from plantqc.users.esign import sign
from plantqc.users.roles import Action
from plantqc.web.console import Console, CsrfField
from plantqc.web.security import WebSession
from plantqc.web.timeinput import parse_time_field

CHANGED = (
    "the estimate over this span is no longer the one shown (the data changed since); "
    "check the numbers again and sign what is shown."
)
"""Why an approval of numbers other than the page showed is refused."""


@dataclass(frozen=True)
class ChartLimits:
    """One chart of a tag (``series``: its name in ``control_limits.chart``) with every stored
    version, oldest first, and the one it runs on now."""

    chart: ChartConfig
    series: SeriesSpec
    versions: list[ControlLimits]
    in_force: ControlLimits | None

    @property
    def frozen(self) -> ControlLimits | None:
        """The newest frozen phase I version."""
        return next((r for r in reversed(self.versions) if r.basis == FROZEN_BASIS), None)

    @property
    def proposal(self) -> ControlLimits | None:
        """The newest provisional (learned) version newer than the newest frozen one."""
        frozen = self.frozen
        return next(
            (
                r
                for r in reversed(self.versions)
                if r.basis == PROVISIONAL_BASIS and (frozen is None or r.version > frozen.version)
            ),
            None,
        )


@dataclass(frozen=True)
class Column:
    """One version (or an estimate) as a column of a limits table."""

    heading: str
    version: str
    center: float | None = None
    sigma: float | None = None
    sigma_method: str | None = None
    lcl: float | None = None
    ucl: float | None = None
    data_from: datetime | None = None
    data_to: datetime | None = None
    n_used: int | None = None
    by: str = "-"
    at: datetime | None = None

    @classmethod
    def of(cls, heading: str, row: ControlLimits | None) -> Column:
        if row is None:
            return cls(heading, "none")
        frozen = row.basis == FROZEN_BASIS
        return cls(
            heading,
            f"{row.version} ({row.basis})",
            row.center,
            row.sigma,
            row.sigma_method,
            row.lcl,
            row.ucl,
            row.data_from,
            row.data_to,
            row.n_used,
            # a learned version has no author: the chart stored it when its baseline was full
            (row.frozen_by or "-") if frozen else "learned by the chart",
            row.frozen_at if frozen else row.valid_from,
        )

    @classmethod
    def of_estimate(cls, heading: str, estimate: LimitsEstimate) -> Column:
        return cls(
            heading,
            "approval freezes it",
            estimate.center,
            estimate.sigma,
            estimate.sigma_method,
            estimate.lcl,
            estimate.ucl,
            estimate.data_from,
            estimate.data_to,
            estimate.n_used,
        )


def chart_limits(
    engine: Engine, charts: Iterable[tuple[ChartConfig, SeriesSpec]]
) -> list[ChartLimits]:
    """``charts`` with their stored versions and the version each runs on now."""
    wanted = list(charts)
    by_chart: dict[tuple[int, str], list[ControlLimits]] = {}
    for row in limit_versions(engine, {chart.tag_id for chart, _ in wanted}):
        by_chart.setdefault((row.tag_id, row.chart), []).append(row)
    with Session(engine) as session:
        return [
            ChartLimits(
                chart,
                series,
                by_chart.get((chart.tag_id, series.name), []),
                limits_in_force(session, chart.tag_id, series.name),
            )
            for chart, series in wanted
        ]


def every_chart(engine: Engine) -> list[tuple[ChartConfig, SeriesSpec]]:
    """Every chart of the store's charted tags, by line and tag."""
    charts = sorted(load_charts(engine).values(), key=lambda c: (c.line, c.tag))
    return [(chart, series) for chart in charts for series in chart.series]


def one_chart(engine: Engine, tag_id: int, name: str) -> ChartLimits | None:
    """Chart ``name`` of tag ``tag_id`` with its versions; None when the store has no such
    chart."""
    chart = load_charts(engine).get(tag_id)
    series = next((s for s in chart.series if s.name == name), None) if chart else None
    if chart is None or series is None:
        return None
    [found] = chart_limits(engine, [(chart, series)])
    return found


@dataclass(frozen=True)
class Span:
    """The phase I data span of an estimate, ``[start, end)``, as given or as proposed."""

    start: datetime
    end: datetime

    @classmethod
    def parse(cls, start: str, end: str) -> Span:
        """The span between two ISO 8601 times (UTC when without an offset); a `UserError`
        in one sentence when either is blank or not a time, or they are out of order."""
        t0, t1 = parse_time_field(start, "from"), parse_time_field(end, "to")
        if t0 is None or t1 is None:
            raise UserError("give the span's start (from) and end (to).")
        if t0 >= t1:
            raise UserError(f"from ({start}) must be before to ({end}).")
        return cls(t0, t1)


def estimate_over(engine: Engine, limits: ChartLimits, span: Span) -> LimitsEstimate:
    """The phase I estimate of ``limits``' chart over ``span`` of the store: what
    ``plantqc limits freeze --from --to`` would freeze."""
    return estimate_limits(engine, limits.chart, span.start, span.end, limits.series)


def routes(console: Console) -> APIRouter:
    # pages (the API documents itself), each behind the login
    router = APIRouter(include_in_schema=False, dependencies=console.login_required)
    engine = console.engine

    @router.get("/limits", response_class=HTMLResponse)
    def overview(request: Request) -> HTMLResponse:
        session = console.logged_in(request)
        charts = chart_limits(engine, every_chart(engine))
        return console.render(request, "limits.html.j2", session, charts=charts, Column=Column)

    def detail(
        request: Request,
        session: WebSession,
        tag_id: int,
        name: str,
        start: str | None = None,
        end: str | None = None,
        status: int = 200,
        error: str = "",
    ) -> HTMLResponse:
        """The page of chart ``name`` of tag ``tag_id`` with the estimate over ``start`` ..
        ``end`` (default the proposal's data span)."""
        limits = one_chart(engine, tag_id, name)
        if limits is None:
            what = f"chart {name} of tag {tag_id}"
            return console.missing(request, session, what, ("/limits", "control limits"))
        proposal = limits.proposal
        if start is None and end is None and proposal and proposal.data_from and proposal.data_to:
            # a learned version's span ends at its last point; phase I's end is exclusive
            last = proposal.data_to + timedelta(microseconds=1)
            start, end = proposal.data_from.isoformat(), last.isoformat()
        estimate = None
        if start is not None or end is not None:
            try:
                span = Span.parse(start or "", end or "")
                estimate = estimate_over(engine, limits, span)
            except UserError as exc:  # a span that is no time, or too few points in it
                if not error:
                    status, error = 422, str(exc)
        may_freeze = session.role is not None and may(session.role, Action.LIMITS_FREEZE)
        return console.render(
            request, "limits_chart.html.j2", session, status,
            limits=limits, estimate=estimate, start=start or "", end=end or "",
            content_hash=estimate_hash(limits.chart, estimate) if estimate else "",
            may_freeze=may_freeze, error=error, Column=Column,
        )  # fmt: skip

    @router.get("/limits/{tag_id}/{name}", response_class=HTMLResponse)
    def chart_page(
        request: Request,
        tag_id: int,
        name: str,
        start: str | None = Query(None, alias="from"),
        end: str | None = Query(None, alias="to"),
    ) -> HTMLResponse:
        return detail(request, console.logged_in(request), tag_id, name, start, end)

    @router.post("/limits/{tag_id}/{name}/approve", response_class=HTMLResponse)
    def approve(
        request: Request,
        tag_id: int,
        name: str,
        start: Annotated[str, Form(alias="from")],
        end: Annotated[str, Form(alias="to")],
        content_hash: Annotated[str, Form()],
        password: Annotated[str, Form()],
        username: Annotated[str | None, Form()] = None,
        csrf_token: CsrfField = None,
    ) -> Response:
        session = console.checked(console.logged_in(request), csrf_token)
        user = console.permitted(request, session, Action.LIMITS_FREEZE, "control_limits",
                                 f"{tag_id}/{name}", "approve control limits")  # fmt: skip
        limits = one_chart(engine, tag_id, name)
        if limits is None:
            return detail(request, session, tag_id, name)
        try:
            estimate = estimate_over(engine, limits, Span.parse(start, end))
        except UserError as exc:
            return detail(request, session, tag_id, name, start, end, 409, str(exc))
        signed = estimate_hash(limits.chart, estimate)
        if content_hash != signed:
            return detail(request, session, tag_id, name, start, end, 409, CHANGED)
        components = session.signing_components
        try:
            signature = sign(engine, session.credentials(username, password), "approved",
                             signed, as_user=user, components=components)  # fmt: skip
        except AuthenticationError as exc:
            return detail(request, session, tag_id, name, start, end, 401, str(exc))
        session.signed = True
        freeze_limits(engine, limits.chart, estimate, user, signature.as_dict())
        return RedirectResponse(f"/limits/{tag_id}/{quote(name)}", status_code=303)

    return router
