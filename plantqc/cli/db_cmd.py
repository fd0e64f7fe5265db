"""`plantqc db ...`: create and migrate the database."""

from __future__ import annotations

import typer
from rich.console import Console

from plantqc.cli.grafana_cmd import grant_grafana
from plantqc.cli.options import ConfigOption, DbOption, resolve_db_url
from plantqc.config import load_config
from plantqc.store import connect, safe_url, sync_config, upgrade

app = typer.Typer(help="Create and migrate the plantqc database.", no_args_is_help=True)
console = Console(highlight=False, soft_wrap=True)


@app.command("upgrade")
def upgrade_command(db: DbOption = None, config: ConfigOption = None) -> None:
    """Apply every migration; with --config, also register the config's lines and tags."""
    url = resolve_db_url(db, config)
    engine = connect(url)
    try:
        revision = upgrade(engine)
        console.print(f"{safe_url(url)}: schema at revision {revision}")
        if config is not None:
            refs = sync_config(engine, load_config(config).config)
            console.print(f"registered {len(refs)} tag(s) from {config}")
    finally:
        engine.dispose()


app.command("grant-grafana")(grant_grafana)
