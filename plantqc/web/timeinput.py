"""Times typed into the console's forms and query strings.

A field holds ISO 8601 (with or without an offset), a date alone, or what a browser's
``<input type="datetime-local">`` sends (no offset, maybe no seconds).  A time without an
offset is UTC, as the CLI reads one (`plantqc.cli.options.parse_time`), since the pages show
every time in UTC and the plant's screens may sit in more than one time zone.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from plantqc.errors import UserError


def parse_time_field(text: str | None, field: str, *, end_of_day: bool = False) -> datetime | None:
    """The aware UTC time in the form field ``field``; None when it is blank.

    A date alone is its midnight, or with ``end_of_day`` the next midnight, so that a period
    "to 2026-12-07" with an exclusive end includes that day.  Anything else is a
    `UserError` naming the field and the forms it takes.
    """
    text = (text or "").strip()
    if not text:
        return None
    try:
        day = date.fromisoformat(text)
    except ValueError:
        pass
    else:
        midnight = datetime(day.year, day.month, day.day, tzinfo=UTC)
        return midnight + timedelta(days=1) if end_of_day else midnight
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise UserError(
            f"{field} {text!r} is not a time such as 2026-12-07T08:00Z or a date such as "
            "2026-12-07."
        ) from None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
