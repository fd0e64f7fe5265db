"""`plantqc bench ...`: benchmarks, each reported as a ratio against a baseline run alongside."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

app = typer.Typer(
    help="Benchmarks: each reports a ratio against a baseline measured in the same run."
)
console = Console(highlight=False, soft_wrap=True)

JsonOption = Annotated[bool, typer.Option("--json", help="Print the figures as JSON.")]


def print_figures(title: str, figures: list[dict[str, object]], as_json: bool) -> None:
    """Print the figures of each run (one column per run), as a table or as JSON."""
    if as_json:
        typer.echo(json.dumps(figures if len(figures) > 1 else figures[0], indent=1))
        return
    table = Table(title=title)
    table.add_column("figure")
    for _ in figures:
        table.add_column("", justify="right")
    for key in figures[0]:
        cells = (row[key] for row in figures)
        table.add_row(key, *(f"{v:,.3f}" if isinstance(v, float) else str(v) for v in cells))
    console.print(table)


@app.command("store")
def store(
    db: Annotated[
        list[str] | None,
        typer.Option(
            "--db",
            help="Database URL to benchmark (repeatable; default: a temporary SQLite file). "
            "PostgreSQL runs in a scratch schema that is dropped afterwards.",
        ),
    ] = None,
    tags: Annotated[int, typer.Option(min=1, help="Number of tags.")] = 1000,
    timestamps: Annotated[int, typer.Option(min=1, help="Timestamps per tag.")] = 1000,
    batch_size: Annotated[int, typer.Option(min=1, help="Samples per insert batch.")] = 10_000,
    as_json: JsonOption = False,
) -> None:
    """Batched idempotent sample inserts vs a plain driver executemany of the same rows."""
    from plantqc.bench.store import run_store_bench
    from plantqc.store import connect

    figures = []
    for url in db or [None]:
        if url is not None:
            connect(url).dispose()  # an unreachable server is one sentence, not a traceback
        result = run_store_bench(url, tags=tags, timestamps=timestamps, batch_size=batch_size)
        figures.append(result.to_dict())
    print_figures("store: idempotent bulk insert", figures, as_json)
