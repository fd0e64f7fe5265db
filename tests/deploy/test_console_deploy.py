"""deploy/ starts the console beside the daemon: a compose service and a systemd unit whose
command lines are valid ``plantqc web`` invocations over TLS, on the daemon's store.

No Docker engine or systemd runs here, so both are parsed and checked against the CLI's own
option definitions, not started.
"""

from __future__ import annotations

import configparser
import shlex
from pathlib import Path

import click
import typer.main
import yaml
from typer.testing import CliRunner

from plantqc.cli.app import app

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
SERVICES = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())["services"]
_ROOT = typer.main.get_command(app)
WEB = _ROOT.get_command(click.Context(_ROOT), "web")  # type: ignore[attr-defined]


def _unit(name: str) -> configparser.ConfigParser:
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.optionxform = str  # type: ignore[assignment,method-assign]
    unit.read_string((DEPLOY / name).read_text())
    return unit


def _web_options(argv: list[str]) -> dict[str, str]:
    """``argv`` after ``web`` as option -> value, each option one ``plantqc web`` defines."""
    known = {opt for param in WEB.params for opt in getattr(param, "opts", [])}
    options = dict(zip(argv[::2], argv[1::2], strict=True))
    assert set(options) <= known, f"not options of plantqc web: {set(options) - known}"
    return options


def test_compose_console_serves_the_daemons_store_over_tls() -> None:
    console, daemon = SERVICES["console"], SERVICES["daemon"]
    assert console["command"][0] == "web"
    options = _web_options(console["command"][1:])
    daemon_options = dict(zip(daemon["command"][1::2], daemon["command"][2::2], strict=True))
    assert options["--db"] == daemon_options["--db"]
    assert options["--config"] == daemon_options["--config"]
    assert {"--tls-cert", "--tls-key"} <= set(options)
    assert f"{options['--port']}:{options['--port']}" in console["ports"]


def test_compose_console_mounts_its_certificate_folder_and_keeps_keys_out_of_git() -> None:
    mounts = dict(v.split(":")[:2] for v in SERVICES["console"]["volumes"])
    folder = mounts["./tls"]
    options = _web_options(SERVICES["console"]["command"][1:])
    assert Path(options["--tls-cert"]).parent == Path(folder)
    assert Path(options["--tls-key"]).parent == Path(folder)
    ignored = (DEPLOY / "tls" / ".gitignore").read_text().split()
    assert {"*.key", "*.crt"} <= set(ignored)


def test_compose_console_starts_after_the_migration() -> None:
    depends = SERVICES["console"]["depends_on"]
    assert depends["migrate"]["condition"] == "service_completed_successfully"


def test_systemd_console_unit_runs_plantqc_web_on_the_daemons_config_over_tls() -> None:
    web, daemon = _unit("plantqc-web.service"), _unit("plantqc-daemon.service")
    argv = shlex.split(web["Service"]["ExecStart"])
    daemon_argv = shlex.split(daemon["Service"]["ExecStart"])
    assert argv[0] == daemon_argv[0] and argv[1] == "web"
    options = _web_options(argv[2:])
    assert options["--config"] == daemon_argv[daemon_argv.index("--config") + 1]
    assert {"--tls-cert", "--tls-key"} <= set(options)
    for key in ("User", "EnvironmentFile", "WorkingDirectory"):
        assert web["Service"][key] == daemon["Service"][key]


def test_systemd_console_unit_starts_after_the_daemon() -> None:
    assert "plantqc-daemon.service" in _unit("plantqc-web.service")["Unit"]["After"].split()


def test_the_web_command_refuses_a_certificate_without_its_key(tmp_path: Path) -> None:
    cert = tmp_path / "console.crt"
    cert.write_text("not used: refused before it is read\n")
    db = f"sqlite:///{tmp_path / 's.db'}"
    result = CliRunner().invoke(app, ["web", "--db", db, "--tls-cert", str(cert)])
    assert result.exit_code == 2
    assert "give both --tls-cert and --tls-key" in result.output
