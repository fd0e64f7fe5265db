"""`plantqc alarms list|ack|shelve|comment`: the operator's side of the ISA-18.2 alarms."""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from typing import Annotated

import typer
from rich.console import Console
from rich.measure import Measurement
from rich.table import Table

from plantqc.cli.options import ConfigOption, DbOption, open_store, parse_time
from plantqc.errors import UserError

app = typer.Typer(help="List, acknowledge, shelve and comment alarms.", no_args_is_help=True)
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
