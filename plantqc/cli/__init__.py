"""The `plantqc` command line: one module per command group, registered here."""

from plantqc.cli import bench_cmd, config_cmd, db_cmd, export_cmd
from plantqc.cli.app import app, main

app.add_typer(config_cmd.app, name="config")
app.add_typer(db_cmd.app, name="db")
app.add_typer(export_cmd.app, name="export")
app.add_typer(bench_cmd.app, name="bench")

__all__ = ["app", "main"]
