"""`plantqc web`: the operator console (`plantqc.web.app`) served by uvicorn."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from plantqc.cli.options import ConfigOption, DbOption, open_store
from plantqc.errors import UserError


def web(
    db: DbOption = None,
    config: ConfigOption = None,
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="TCP port.")] = 8080,
    tls_cert: Annotated[
        Path | None,
        typer.Option("--tls-cert", exists=True, dir_okay=False, help="TLS certificate (PEM)."),
    ] = None,
    tls_key: Annotated[
        Path | None,
        typer.Option("--tls-key", exists=True, dir_okay=False, help="TLS private key (PEM)."),
    ] = None,
) -> None:
    """Serve the operator console: log in, see the open alarms, acknowledge them.

    Over TLS (--tls-cert and --tls-key) the session cookie is sent over HTTPS only.
    """
    import uvicorn

    from plantqc.web.app import create_app

    if (tls_cert is None) != (tls_key is None):
        raise UserError("give both --tls-cert and --tls-key, or neither.")
    engine, loaded = open_store(db, config)
    try:
        app = create_app(engine, loaded, secure_cookies=tls_cert is not None)
        uvicorn.run(
            app,
            host=host,
            port=port,
            ssl_certfile=str(tls_cert) if tls_cert else None,
            ssl_keyfile=str(tls_key) if tls_key else None,
            log_level="info",
        )
    finally:
        engine.dispose()
