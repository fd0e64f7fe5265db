"""`plantqc run`: the edge daemon, with structured (JSON lines) logs on stderr."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer

from plantqc.config import load_config
from plantqc.logs import configure_logging


def run(
    config: Annotated[Path, typer.Option("--config", "-c", help="Plant config YAML.")],
    db: Annotated[
        str | None, typer.Option("--db", help="Database URL (default: the config's storage).")
    ] = None,
    duration: Annotated[
        float | None,
        typer.Option("--duration", min=0.1, help="Stop after this many seconds (default: run)."),
    ] = None,
    metrics_port: Annotated[
        int | None,
        typer.Option("--metrics-port", min=0, max=65535, help="Loopback metrics port (0: off)."),
    ] = None,
    buffer: Annotated[
        Path | None, typer.Option("--buffer", help="Durable queue file (default: the config's).")
    ] = None,
    log_level: Annotated[str, typer.Option("--log-level", help="debug, info, warning.")] = "info",
) -> None:
    """Run the edge daemon: subscribe to every line, buffer durably, store, chart, alarm."""
    from plantqc.daemon import Daemon
    from plantqc.engine_process import EngineProcess

    loaded = load_config(config)
    configure_logging(log_level)
    spc = EngineProcess(db or loaded.storage_url(), config=loaded.config, log_level=log_level)
    daemon = Daemon(
        loaded,
        db_url=db,
        buffer_path=buffer,
        metrics_port=metrics_port,
        on_stored=spc,
        on_tick=spc.tick,
    )
    try:
        status = asyncio.run(daemon.run(duration))
    finally:
        spc.close()
    stored = sum(line.stored for line in status.lines.values())
    typer.echo(f"stopped: {stored} samples stored, {status.buffer_depth} still buffered", err=True)
