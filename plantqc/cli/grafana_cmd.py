"""`plantqc grafana ...`: export dashboards and provisioning files, or push them to Grafana."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated

import typer
import yaml
from rich.console import Console

from plantqc.cli.options import ConfigOption, DbOption, resolve_db_url
from plantqc.config import env_secret, load_config
from plantqc.errors import UserError
from plantqc.grafana import access
from plantqc.grafana.dashboards import dashboards, to_json
from plantqc.grafana.provisioning import (
    DatasourceSettings,
    dashboard_provider_document,
    datasource_document,
)
from plantqc.store import connect

app = typer.Typer(
    help="Grafana dashboards as code: export files or push them.", no_args_is_help=True
)
console = Console(highlight=False, soft_wrap=True)

RequiredConfig = Annotated[
    Path, typer.Option("--config", "-c", help="Plant config YAML.", show_default=False)
]
DbUser = Annotated[
    str, typer.Option("--db-user", help="Read-only PostgreSQL login Grafana connects as.")
]
DbPasswordEnv = Annotated[
    str,
    typer.Option("--db-password-env", help="Environment variable holding that login's password."),
]
DEFAULT_DB_USER = "grafana_reader"
DEFAULT_PASSWORD_ENV = "PLANTQC_GRAFANA_DB_PASSWORD"


def _settings(config: Path, db: str | None, user: str, password_env: str) -> DatasourceSettings:
    return DatasourceSettings.from_url(resolve_db_url(db, config), user, password_env)


@app.command("export")
def export(
    config: RequiredConfig,
    out: Annotated[Path, typer.Option("--out", help="Folder to write into.")],
    db: DbOption = None,
    db_user: DbUser = DEFAULT_DB_USER,
    db_password_env: DbPasswordEnv = DEFAULT_PASSWORD_ENV,
) -> None:
    """Write dashboards/*.json and provisioning/{datasources,dashboards}/plantqc.yaml."""
    loaded = load_config(config)
    settings = _settings(config, db, db_user, db_password_env)
    boards = [to_json(board) for board in dashboards(loaded.config)]
    try:
        (out / "dashboards").mkdir(parents=True, exist_ok=True)
        for sub in ("datasources", "dashboards"):
            (out / "provisioning" / sub).mkdir(parents=True, exist_ok=True)
        for board in boards:
            path = out / "dashboards" / f"{board['uid']}.json"
            path.write_text(json.dumps(board, indent=2, sort_keys=True) + "\n")
        for sub, document in (
            ("datasources", datasource_document(settings)),
            ("dashboards", dashboard_provider_document()),
        ):
            path = out / "provisioning" / sub / "plantqc.yaml"
            path.write_text(yaml.safe_dump(document, sort_keys=False))
    except OSError as exc:
        raise UserError(f"cannot write to {out}: {exc.strerror}.") from None
    console.print(f"wrote {len(boards)} dashboard(s) and provisioning files to {out}")


@app.command("push")
def push_command(
    config: RequiredConfig,
    url: Annotated[str, typer.Option("--url", help="Grafana base URL, e.g. http://host:3000.")],
    token_env: Annotated[
        str, typer.Option("--token-env", help="Environment variable holding a Grafana API token.")
    ],
    db: DbOption = None,
    db_user: DbUser = DEFAULT_DB_USER,
    db_password_env: DbPasswordEnv = DEFAULT_PASSWORD_ENV,
) -> None:
    """Create or update the plantqc folder, datasource and dashboards; print what changed."""
    from grafana_client import GrafanaApi

    from plantqc.grafana.push import push

    token = env_secret(token_env, "--token-env")
    loaded = load_config(config)
    settings = _settings(config, db, db_user, db_password_env)
    if not url.startswith(("http://", "https://")):
        raise UserError(f"Grafana URL {url!r} must start with http:// or https://.")
    api = GrafanaApi.from_url(url, credential=token)
    boards = [to_json(board) for board in dashboards(loaded.config)]
    report = push(api, boards, settings, os.environ.get(db_password_env))
    for kind, uid, action in report.changes:
        console.print(f"{action} {kind} {uid}")
    console.print(f"{len(report.changes)} change(s), {len(report.unchanged)} unchanged")


def grant_grafana(
    db: DbOption = None,
    config: ConfigOption = None,
    login: Annotated[
        str | None, typer.Option("--login", help="Also create this LOGIN member of the role.")
    ] = None,
    password_env: DbPasswordEnv = DEFAULT_PASSWORD_ENV,
) -> None:
    """Create the read-only role Grafana reads through (and optionally its login)."""
    password = env_secret(password_env, "--db-password-env") if login else None
    engine = connect(resolve_db_url(db, config))
    try:
        schema = access.grant_grafana(engine, login, password)
    finally:
        engine.dispose()
    member = f"; {login} is a member" if login else ""
    console.print(f"{access.READ_ONLY_ROLE} may read schema {schema}{member}")
