"""`plantqc export ...`: stored data out as files for offline analysis."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from plantqc.cli.options import ConfigOption, DbOption, parse_time, resolve_db_url
from plantqc.errors import UserError
from plantqc.export import ExportFormat, write_export
from plantqc.store import connect, find_tag, read_samples

app = typer.Typer(help="Export stored data.", no_args_is_help=True)


@app.command("samples")
def samples(
    line: Annotated[str, typer.Option("--line", help="Line name.")],
    tag: Annotated[str, typer.Option("--tag", help="Tag name.")],
    db: DbOption = None,
    config: ConfigOption = None,
    start: Annotated[
        str | None, typer.Option("--from", help="Start time, ISO-8601 (inclusive).")
    ] = None,
    end: Annotated[str | None, typer.Option("--to", help="End time, ISO-8601 (exclusive).")] = None,
    fmt: Annotated[ExportFormat, typer.Option("--format", help="Output format.")] = "csv",
    out: Annotated[
        Path | None, typer.Option("--out", help="Output file (default: standard output).")
    ] = None,
) -> None:
    """Write one tag's samples as time,value,quality rows (UTC ISO-8601, OPC UA status names)."""
    t0, t1 = parse_time(start, "--from"), parse_time(end, "--to")
    if t0 is not None and t1 is not None and t0 >= t1:
        raise UserError(f"--from ({start}) must be before --to ({end}).")
    engine = connect(resolve_db_url(db, config))
    try:
        ref = find_tag(engine, line, tag)
        frame = read_samples(engine, ref.tag_id, t0, t1)
    finally:
        engine.dispose()
    if out is None:
        write_export(frame, fmt, sys.stdout.buffer)
        sys.stdout.buffer.flush()
        return
    try:
        with out.open("wb") as handle:
            count = write_export(frame, fmt, handle)
    except OSError as exc:
        raise UserError(f"cannot write {out}: {exc.strerror}.") from None
    typer.echo(f"wrote {count} sample(s) to {out}", err=True)
