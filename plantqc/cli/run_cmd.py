"""`plantqc run`: the edge daemon, with structured (JSON lines) logs on stderr."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from plantqc.cli.options import PlantConfigOption, StorageDbOption
from plantqc.config import LoadedConfig, load_config
from plantqc.engine_process import STOP_TIMEOUT_S
from plantqc.logs import configure_logging

if TYPE_CHECKING:
    from plantqc.connectors import Input, ReadingSink
    from plantqc.daemon import Component, Daemon
    from plantqc.metrics import DaemonStatus


def run_daemon(
    loaded: LoadedConfig,
    *,
    db: str | None = None,
    buffer: Path | None = None,
    metrics_port: int | None = None,
    log_level: str = "info",
    duration: float | None = None,
    inputs: Callable[[ReadingSink], Sequence[Input]] | None = None,
    components: Sequence[Component] | None = None,
    clock_checks: bool = True,
    shutdown_drain_s: float = 10.0,
    engine_wait_s: float | None = STOP_TIMEOUT_S,
    started: Callable[[Daemon], None] | None = None,
) -> DaemonStatus:
    """Run the daemon with its SPC engine process until it stops; the engine has charted
    everything stored when this returns.

    ``inputs`` / ``components`` replace the config's (`plantqc.daemon.Daemon`).  Without
    ``clock_checks`` the engine gets no wall-clock tick (silent tags), which recorded times
    would all fail.  ``engine_wait_s`` bounds the wait for the engine to chart what is queued
    once the daemon stopped (None: no bound).  ``started`` sees the daemon before it runs.
    """
    from plantqc.daemon import Daemon
    from plantqc.engine_process import EngineProcess

    configure_logging(log_level)
    # started once the daemon has opened the store: a store it rejects (not a database, an
    # unknown schema) ends the run with its one sentence and no engine touches it
    spc = EngineProcess(
        db or loaded.storage_url(), config=loaded.config, log_level=log_level, start=False
    )
    try:
        daemon = Daemon(
            loaded,
            db_url=db,
            buffer_path=buffer,
            metrics_port=metrics_port,
            on_store_open=spc.start,
            on_stored=spc,
            on_tick=spc.tick if clock_checks else None,
            shutdown_drain_s=shutdown_drain_s,
            components=components,
            inputs=inputs,
        )
        if started is not None:
            started(daemon)
        return asyncio.run(daemon.run(duration))
    finally:
        spc.close(engine_wait_s)


def run(
    config: PlantConfigOption,
    db: StorageDbOption = None,
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
    loaded = load_config(config)
    status = run_daemon(
        loaded,
        db=db,
        buffer=buffer,
        metrics_port=metrics_port,
        log_level=log_level,
        duration=duration,
    )
    stored = sum(line.stored for line in status.lines.values())
    typer.echo(f"stopped: {stored} samples stored, {status.buffer_depth} still buffered", err=True)
