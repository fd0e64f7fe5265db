"""The `plantqc` command line: one module per command group, registered here."""

from plantqc.cli import (
    bench_cmd,
    config_cmd,
    db_cmd,
    demo_cmd,
    export_cmd,
    grafana_cmd,
    opcua_cmd,
    run_cmd,
    sim_cmd,
    spc_cmd,
    vision_cmd,
)
from plantqc.cli.app import app, main

app.add_typer(config_cmd.app, name="config")
app.add_typer(db_cmd.app, name="db")
app.add_typer(export_cmd.app, name="export")
app.add_typer(bench_cmd.app, name="bench")
app.add_typer(spc_cmd.app, name="spc")
app.add_typer(vision_cmd.app, name="vision")
app.add_typer(grafana_cmd.app, name="grafana")
db_cmd.app.command("grant-grafana")(grafana_cmd.grant_grafana)
app.command("sim")(sim_cmd.sim)
app.command("run")(run_cmd.run)
app.command("demo")(demo_cmd.demo)
app.add_typer(opcua_cmd.app, name="opcua")

__all__ = ["app", "main"]
