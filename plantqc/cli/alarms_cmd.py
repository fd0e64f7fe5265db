"""`plantqc alarms list|ack|shelve|comment|kpi`: the operator's side of the ISA-18.2 alarms
and the EEMUA 191 figures of the alarm system."""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.measure import Measurement
from rich.table import Table

from plantqc.cli.options import ConfigOption, DbOption, open_store, parse_time
from plantqc.errors import UserError

if TYPE_CHECKING:
    from sqlalchemy import Engine
    from sqlalchemy.orm import Session

    from plantqc.alarms.kpi import AlarmHistory, LineKpi

app = typer.Typer(
    help="List, acknowledge, shelve and comment alarms; the alarm system's EEMUA 191 figures.",
    no_args_is_help=True,
)
console = Console(highlight=False, soft_wrap=True)

IdArgument = Annotated[int, typer.Argument(help="Alarm id (see `plantqc alarms list`).")]
UserOption = Annotated[str, typer.Option("--user", help="Who does it (recorded in the audit log).")]


@app.command("list")
def list_(
    db: DbOption = None,
    config: ConfigOption = None,
    include_normal: Annotated[
        bool, typer.Option("--all", help="Include alarms back to normal.")
    ] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print every field of each alarm as JSON.")
    ] = False,
) -> None:
    """Open alarms, newest first: a table (as wide as its cells when piped), or JSON."""
    from plantqc.alarms import list_alarms

    engine, _ = open_store(db, config)
    try:
        rows = list_alarms(engine, include_normal=include_normal)
    finally:
        engine.dispose()
    if as_json:
        typer.echo(json.dumps([asdict(r) for r in rows], indent=1, default=_json_value))
        return
    table = Table(title=f"{len(rows)} alarm(s)", title_justify="left")
    for column in ("id", "line/tag", "code", "priority", "state", "count", "last", "note"):
        table.add_column(column, overflow="fold")
    for r in rows:
        note = " / ".join(x for x in (r.cause, r.action) if x) or "-"
        table.add_row(
            str(r.id), f"{r.line}/{r.tag or '-'}", r.code, r.priority, r.state, str(r.count),
            r.last_at.isoformat(timespec="seconds"), note,
        )  # fmt: skip
    _print_whole(table)


def _json_value(value: object) -> str:
    """Times as ISO 8601 with their offset."""
    return value.isoformat() if isinstance(value, datetime) else str(value)


def _print_whole(table: Table) -> None:
    """On a terminal, fitted to its width (cells wrap, nothing is cut); piped, as wide as its
    widest cells, since the 80 columns rich assumes without a terminal would wrap them and a
    script reading the output wants one line per alarm."""
    if console.is_terminal:
        console.print(table)
        return
    natural = Measurement.get(console, console.options.update_width(1_000_000), table).maximum
    # a console of that width: ``print(width=...)`` is capped at the console's own
    Console(highlight=False, width=natural, file=console.file).print(table)


@app.command("ack")
def ack(
    alarm_id: IdArgument,
    user: UserOption,
    note: Annotated[str | None, typer.Option("--note", help="Why, as free text.")] = None,
    db: DbOption = None,
    config: ConfigOption = None,
) -> None:
    """Acknowledge an alarm."""
    from plantqc import alarms

    engine, _ = open_store(db, config)
    try:
        row = alarms.ack(engine, alarm_id, user, note)
    finally:
        engine.dispose()
    console.print(f"alarm {alarm_id} is now {row.state}")


@app.command("shelve")
def shelve(
    alarm_id: IdArgument,
    user: UserOption,
    minutes: Annotated[
        float | None, typer.Option("--minutes", min=1, help="Shelve for this long.")
    ] = None,
    until: Annotated[str | None, typer.Option("--until", help="Shelve until, ISO-8601.")] = None,
    note: Annotated[str | None, typer.Option("--note", help="Why.")] = None,
    db: DbOption = None,
    config: ConfigOption = None,
) -> None:
    """Shelve an alarm until a time; when the shelf expires it is active-unacknowledged if its
    condition still holds, else normal."""
    from plantqc import alarms

    if (minutes is None) == (until is None):
        raise UserError("give exactly one of --minutes and --until.")
    expiry = parse_time(until, "--until") or datetime.now(UTC) + timedelta(minutes=minutes or 0)
    engine, _ = open_store(db, config)
    try:
        alarms.shelve(engine, alarm_id, user, expiry, note)
    finally:
        engine.dispose()
    console.print(f"alarm {alarm_id} shelved until {expiry.isoformat(timespec='seconds')}")


@app.command("comment")
def comment(
    alarm_id: IdArgument,
    user: UserOption,
    cause: Annotated[str | None, typer.Option("--cause", help="Assignable cause.")] = None,
    action: Annotated[str | None, typer.Option("--action", help="Corrective action.")] = None,
    db: DbOption = None,
    config: ConfigOption = None,
) -> None:
    """Record the assignable cause and / or corrective action of an alarm."""
    from plantqc import alarms

    engine, _ = open_store(db, config)
    try:
        alarms.comment(engine, alarm_id, user, cause, action)
    finally:
        engine.dispose()
    console.print(f"alarm {alarm_id}: note recorded")


@app.command("kpi")
def kpi(
    db: DbOption = None,
    config: ConfigOption = None,
    line: Annotated[str | None, typer.Option("--line", help="Only this line (its name).")] = None,
    start: Annotated[
        str | None,
        typer.Option("--from", help="Start, ISO-8601 (default: the line's first sample)."),
    ] = None,
    end: Annotated[
        str | None, typer.Option("--to", help="End, ISO-8601 (default: the line's last sample).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """EEMUA 191 figures per line: alarms per hour, peak per 10 min, % of 10-minute periods
    in flood (more than 10 alarms), chattering, stale (active > 24 h) and shelved alarms, and
    the most frequent alarms."""
    from plantqc.alarms.kpi import line_kpi

    period = parse_time(start, "--from"), parse_time(end, "--to")
    if period[0] is not None and period[1] is not None and period[1] < period[0]:
        raise UserError(f"--to {end} is before --from {start}.")
    engine, _ = open_store(db, config)
    try:
        figures = [
            line_kpi(name, histories, *bounds)
            for name, histories, bounds in _line_histories(engine, line, *period)
        ]
    finally:
        engine.dispose()
    if as_json:
        typer.echo(json.dumps({"lines": [f.as_dict() for f in figures]}, indent=1))
        return
    _print_whole(_kpi_table(figures))


def _kpi_table(figures: list[LineKpi]) -> Table:
    table = Table(title="EEMUA 191 figures (10-minute periods fixed from the start)")
    columns = ("line", "hours", "alarms", "per hour", "peak / 10 min", "flood %", "chattering")
    for column in (*columns, "stale", "shelved", "most frequent"):
        table.add_column(column, overflow="fold")
    for f in figures:
        top = ", ".join(f"{t.tag or '-'}/{t.rule} {t.count}" for t in f.top[:3]) or "-"
        rate = "-" if f.alarms_per_hour is None else f"{f.alarms_per_hour:.2f}"
        table.add_row(
            f.line, f"{f.hours:.2f}", str(f.alarms), rate, str(f.peak_per_10min),
            f"{f.flood_pct:.1f}", str(f.chattering), str(f.stale), str(f.shelved), top,
        )  # fmt: skip
    return table


def _line_histories(
    engine: Engine, line: str | None, start: datetime | None, end: datetime | None
) -> list[tuple[str, list[AlarmHistory], tuple[datetime, datetime]]]:
    """Per line (all, or the one named): its name, its alarms' histories from the audit trail
    (`plantqc.alarms.history.line_histories`) and the period, the one given or else its
    samples' first and last time."""
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from plantqc.alarms.history import line_histories
    from plantqc.store.models import Line

    with Session(engine) as session:
        query = select(Line.id, Line.name).order_by(Line.site, Line.area, Line.name)
        lines = session.execute(query).all()
        if line is not None:
            names = sorted({name for _, name in lines})
            lines = [row for row in lines if row.name == line]
            if not lines:
                known = ", ".join(names) or "none"
                raise UserError(f"the store has no line {line!r} (lines: {known}).")
        found = []
        for line_id, name in lines:
            bounds = [start, end]
            if start is None or end is None:
                first, last = _sample_span(session, line_id)
                now = datetime.now(UTC)
                bounds = [start or first or end or now, end or last or start or now]
                if bounds[1] < bounds[0]:  # the data lie outside the one bound given
                    bounds = [start, start] if start is not None else [end, end]
            histories = line_histories(session, line_id, bounds[1])
            found.append((name, histories, (bounds[0], bounds[1])))
    return found


def _sample_span(session: Session, line_id: int) -> tuple[datetime | None, datetime | None]:
    """The first and last sample (or profile) time of a line's tags; None without any.

    Tag by tag: each minimum and maximum is then one step along the (tag, time) primary key.
    """
    from sqlalchemy import func, select

    from plantqc.config import RESERVED_TAG_NAMES
    from plantqc.store.models import Profile, Sample, Tag

    times: list[datetime] = []
    # the daemon's own figures (buffer depth) are stamped at wall-clock time, not the line's:
    # a replayed history would otherwise stretch to the moment it was replayed
    tag_ids = session.scalars(
        select(Tag.id).where(Tag.line_id == line_id, Tag.name.not_in(RESERVED_TAG_NAMES))
    ).all()
    for table in (Sample, Profile):
        for tag_id in tag_ids:
            span = select(func.min(table.ts), func.max(table.ts)).where(table.tag_id == tag_id)
            times += [t for t in session.execute(span).one() if t is not None]
    return (min(times), max(times)) if times else (None, None)
