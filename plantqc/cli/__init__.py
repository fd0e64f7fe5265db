"""The `plantqc` command line: one module per command group, registered here."""

from plantqc.cli import bench_cmd
from plantqc.cli.app import app, main

app.add_typer(bench_cmd.app, name="bench")

__all__ = ["app", "main"]
