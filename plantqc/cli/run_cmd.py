"""`plantqc run`: the edge daemon, with structured (JSON lines) logs on stderr."""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from pathlib import Path
from typing import Annotated

import typer

from plantqc.config import load_config

_STANDARD = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message"}


class JsonLines(logging.Formatter):
    """One JSON object per log line: time, level, logger, message and the record's extras."""

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        line.update({k: v for k, v in record.__dict__.items() if k not in _STANDARD})
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


def configure_logging(level: str) -> None:
    """JSON lines on stderr; asyncua's own chatter only from WARNING up."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonLines())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # asyncua logs every publish at INFO, which would cost more than the ingestion itself
    logging.getLogger("asyncua").setLevel(max(logging.WARNING, root.level))


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
    from plantqc.engine import StoreHook

    loaded = load_config(config)
    configure_logging(log_level)
    spc = StoreHook(db or loaded.storage_url(), config=loaded.config)
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
