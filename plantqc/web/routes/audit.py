"""The audit trail: ``GET /audit`` its entries, newest first, filtered and paged, and
``GET /audit.csv`` the same filter's entries as a CSV download.

Every logged-in role may read it, operators included: EU GMP Annex 11 §9 asks that the audit
trail be available for review, and those whose actions it records are among its reviewers
(an operator checking what was recorded under their name, a shift lead reviewing the night).
Reading changes nothing, so it needs no permission to refuse; the filtering is
`plantqc.store.audit.find_audit`, the same as the REST API's.

Times in a filter are ISO 8601 or a date (UTC when without an offset); "to" a date includes
that day.  A filter the page cannot read is answered 400 with the page saying why.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response, StreamingResponse

from plantqc.errors import UserError
from plantqc.store.audit import AUDIT_PAGE, find_audit
from plantqc.store.models import AuditLog
from plantqc.web.console import Console
from plantqc.web.timeinput import parse_time_field

MAX_PAGE = 1000
"""The most entries one page shows (a longer review is the CSV's)."""

CSV_COLUMNS = ("id", "at", "user", "action", "entity", "entity_id", "detail")

Text = Annotated[str, Query()]


@dataclass(frozen=True)
class AuditFilter:
    """A request's filter as typed (``form``, for the page's fields and links) and as read."""

    form: dict[str, str]
    user: str | None
    action: str | None
    entity: str | None
    entity_id: str | None
    start: datetime | None
    end: datetime | None

    def find(self, console: Console, *, limit: int | None, offset: int = 0) -> list[AuditLog]:
        return find_audit(
            console.engine,
            user=self.user, action=self.action, entity=self.entity, entity_id=self.entity_id,
            start=self.start, end=self.end, limit=limit, offset=offset,
        )  # fmt: skip

    def query(self, **more: object) -> str:
        """The filter's query string, with ``more`` (e.g. the page's offset)."""
        pairs = {k: v for k, v in self.form.items() if v} | {k: str(v) for k, v in more.items()}
        return urlencode(pairs)


def _filter(
    user: str, action: str, entity: str, entity_id: str, start: str, end: str
) -> AuditFilter:
    """The filter of the page's fields; a time it cannot read is a `UserError`."""
    form = {"user": user, "action": action, "entity": entity, "entity_id": entity_id,
            "from": start, "to": end}  # fmt: skip
    first = parse_time_field(start, "from")
    last = parse_time_field(end, "to", end_of_day=True)
    if first is not None and last is not None and last <= first:
        raise UserError(f"the period from {start} to {end} is empty: it ends before it starts.")
    return AuditFilter(
        form, user.strip() or None, action.strip() or None, entity.strip() or None,
        entity_id.strip() or None, first, last,
    )  # fmt: skip


def _count(text: str, field: str, default: int, most: int | None = None) -> int:
    """The whole number in the field ``field``; ``default`` when it is blank."""
    text = text.strip()
    if not text:
        return default
    if not text.isdigit() or (most is not None and not 1 <= int(text) <= most):
        bounds = f"from 1 to {most}" if most is not None else "0 or more"
        raise UserError(f"{field} {text!r} is not a whole number {bounds}.")
    return int(text)


def routes(console: Console) -> APIRouter:
    # pages (the API documents itself), each behind the login
    router = APIRouter(include_in_schema=False, dependencies=console.login_required)

    @router.get("/audit", response_class=HTMLResponse)
    def audit_page(
        request: Request,
        user: Text = "",
        action: Text = "",
        entity: Text = "",
        entity_id: Text = "",
        start: Annotated[str, Query(alias="from")] = "",
        end: Annotated[str, Query(alias="to")] = "",
        limit: Text = "",
        offset: Text = "",
    ) -> HTMLResponse:
        session = console.logged_in(request)
        form = {"user": user, "action": action, "entity": entity, "entity_id": entity_id,
                "from": start, "to": end, "limit": limit}  # fmt: skip
        try:
            wanted = _filter(user, action, entity, entity_id, start, end)
            size = _count(limit, "limit", AUDIT_PAGE, MAX_PAGE)
            skip = _count(offset, "offset", 0)
        except UserError as exc:
            return console.render(
                request, "audit.html.j2", session, 400, form=form, entries=[], error=str(exc)
            )
        # one more than the page: whether there is a next page, without counting them all
        found = wanted.find(console, limit=size + 1, offset=skip)
        page = {"limit": size} if size != AUDIT_PAGE else {}
        return console.render(
            request, "audit.html.j2", session,
            form=form, entries=[_row(e) for e in found[:size]], first=skip + 1,
            newer=wanted.query(**page, offset=max(0, skip - size)) if skip > 0 else None,
            older=wanted.query(**page, offset=skip + size) if len(found) > size else None,
            csv_query=wanted.query(),
        )  # fmt: skip

    @router.get("/audit.csv")
    def audit_csv(
        request: Request,
        user: Text = "",
        action: Text = "",
        entity: Text = "",
        entity_id: Text = "",
        start: Annotated[str, Query(alias="from")] = "",
        end: Annotated[str, Query(alias="to")] = "",
    ) -> Response:
        """Every entry the filter matches (not one page: the download is for a review's
        record), with a header row; times ISO 8601 with their offset, detail as JSON."""
        console.logged_in(request)
        try:
            wanted = _filter(user, action, entity, entity_id, start, end)
        except UserError as exc:
            return Response(f"{exc}\n", status_code=400, media_type="text/plain")
        entries = wanted.find(console, limit=None)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        return StreamingResponse(
            _csv_lines(entries),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="audit-{stamp}.csv"'},
        )

    return router


def _row(entry: AuditLog) -> dict[str, Any]:
    """An entry as the page shows it: its detail's fields as one line of text, a value that
    is not text as JSON (as the CSV has it), unset ones left out."""
    detail = "; ".join(
        f"{k}: {v if isinstance(v, str) else json.dumps(v, ensure_ascii=False)}"
        for k, v in (entry.detail or {}).items()
        if v is not None
    )
    return {"entry": entry, "detail": detail}


def _cell(text: str) -> str:
    """``text`` as a spreadsheet shows it, never runs it: a failed login records the name as
    typed, which may begin like a formula (OWASP CSV Injection), so such a cell gets a ``'``."""
    return f"'{text}" if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _csv_lines(entries: list[AuditLog]) -> Iterator[str]:
    """The CSV, a line at a time.  Free text (notes, reasons) is inside the detail column's
    JSON, which begins with ``{``; the other text columns go through `_cell`."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    for e in entries:
        writer.writerow(
            (e.id, e.at.isoformat(), _cell(e.user), e.action, e.entity, _cell(e.entity_id or ""),
             json.dumps(e.detail, sort_keys=True, ensure_ascii=False))
        )  # fmt: skip
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    yield buffer.getvalue()
