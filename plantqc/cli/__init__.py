"""The `plantqc` command line: one module per command group, loaded when its command runs."""

from plantqc.cli.app import LAZY_COMMANDS, app, main

LAZY_COMMANDS.update(
    {
        "config": ("plantqc.cli.config_cmd", "app"),
        "db": ("plantqc.cli.db_cmd", "app"),
        "export": ("plantqc.cli.export_cmd", "app"),
        "spc": ("plantqc.cli.spc_cmd", "app"),
        "vision": ("plantqc.cli.vision_cmd", "app"),
        "sim": ("plantqc.cli.sim_cmd", "app"),
        "run": ("plantqc.cli.run_cmd", "run"),
        "replay": ("plantqc.cli.replay_cmd", "replay"),
        "demo": ("plantqc.cli.demo_cmd", "demo"),
        "opcua": ("plantqc.cli.opcua_cmd", "app"),
        "grafana": ("plantqc.cli.grafana_cmd", "app"),
        "bench": ("plantqc.cli.bench_cmd", "app"),
        "limits": ("plantqc.cli.limits_cmd", "app"),
        "alarms": ("plantqc.cli.alarms_cmd", "app"),
        "report": ("plantqc.cli.report_cmd", "app"),
        "control": ("plantqc.cli.control_cmd", "app"),
        "users": ("plantqc.cli.users_cmd", "app"),
        "web": ("plantqc.cli.web_cmd", "web"),
    }
)

__all__ = ["app", "main"]
