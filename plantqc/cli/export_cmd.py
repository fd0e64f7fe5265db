"""`plantqc export ...`: stored data out as files for offline analysis and for replay."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from plantqc.cli.options import ConfigOption, DbOption, parse_time, resolve_db_url
from plantqc.config import RESERVED_TAG_NAMES
from plantqc.errors import UserError
from plantqc.export import ExportFormat, recording_frame, write_recording
from plantqc.store import connect, find_tag, read_samples
from plantqc.store.models import Line, Tag
from plantqc.store.sync import TagRef

app = typer.Typer(help="Export stored data.", no_args_is_help=True)


def _scalar_tags(engine: Engine, line: str) -> list[TagRef]:
    # the line's own scalar tags: the daemon's figures about itself are not the line's
    with Session(engine) as session:
        if session.scalar(select(Line.id).where(Line.name == line).limit(1)) is None:
            known = ", ".join(sorted(session.scalars(select(Line.name)).all())) or "none"
            raise UserError(f"the database has no line {line!r}; its lines are: {known}.")
        rows = session.execute(
            select(Line.id, Tag.id, Tag.name)
            .join(Tag, Tag.line_id == Line.id)
            .where(Line.name == line, Tag.kind == "scalar")
            .order_by(Tag.name)
        ).all()
    return [
        TagRef(line_id, tag_id, line, name)
        for line_id, tag_id, name in rows
        if name not in RESERVED_TAG_NAMES
    ]


@app.command("samples")
def samples(
    line: Annotated[str, typer.Option("--line", help="Line name.")],
    tag: Annotated[
        list[str] | None,
        typer.Option("--tag", help="Tag name (repeatable; default: every scalar tag of the line)."),
    ] = None,
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
    """Write samples as line,tag,source_time,value,status rows (UTC ISO-8601, OPC UA status
    names): the format `plantqc replay` reads."""
    t0, t1 = parse_time(start, "--from"), parse_time(end, "--to")
    if t0 is not None and t1 is not None and t0 >= t1:
        raise UserError(f"--from ({start}) must be before --to ({end}).")
    engine = connect(resolve_db_url(db, config))
    try:
        refs = [find_tag(engine, line, name) for name in tag] if tag else _scalar_tags(engine, line)
        frames = [
            recording_frame(ref.line, ref.tag, read_samples(engine, ref.tag_id, t0, t1))
            for ref in refs
        ]
    finally:
        engine.dispose()
    if out is None:
        write_recording(frames, fmt, sys.stdout.buffer)
        sys.stdout.buffer.flush()
        return
    try:
        with out.open("wb") as handle:
            count = write_recording(frames, fmt, handle)
    except OSError as exc:
        raise UserError(f"cannot write {out}: {exc.strerror}.") from None
    typer.echo(f"wrote {count} sample(s) to {out}", err=True)
