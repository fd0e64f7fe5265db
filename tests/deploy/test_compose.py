"""deploy/: the compose file's structure, the paths it names, and the committed Grafana files.

No Docker engine runs here, so the compose file is parsed and checked, not started.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from plantqc.config import load_config
from plantqc.grafana.dashboards import dashboards, to_json
from plantqc.grafana.provisioning import DASHBOARDS_PATH

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
COMPOSE: dict[str, Any] = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]


def _bind_mounts(service: dict[str, Any]) -> list[tuple[str, str]]:
    mounts = [v.split(":")[:2] for v in service.get("volumes", [])]
    return [(host, container) for host, container in mounts if host.startswith(".")]


def test_compose_runs_database_migration_daemon_simulator_console_and_grafana() -> None:
    assert set(SERVICES) == {"postgres", "migrate", "daemon", "simulator", "console", "grafana"}


def test_every_host_path_the_compose_file_names_exists() -> None:
    for name, service in SERVICES.items():
        for host, _ in _bind_mounts(service):
            assert (DEPLOY / host).exists(), f"{name} mounts missing {host}"
        build = service.get("build")
        if build:
            assert (DEPLOY / build["context"] / build["dockerfile"]).is_file()


def test_named_volumes_are_declared() -> None:
    named = {
        v.split(":")[0]
        for service in SERVICES.values()
        for v in service.get("volumes", [])
        if not v.startswith(".")
    }
    assert named == set(COMPOSE["volumes"])


def test_grafana_mounts_provisioning_and_the_dashboards_the_provider_reads() -> None:
    mounts = dict(_bind_mounts(SERVICES["grafana"]))
    assert mounts["./grafana/provisioning"] == "/etc/grafana/provisioning"
    assert mounts["./grafana/dashboards"] == DASHBOARDS_PATH


def test_secrets_come_from_the_environment_file_not_the_compose_file() -> None:
    env_names = {
        line.split("=")[0]
        for line in (DEPLOY / ".env.example").read_text().splitlines()
        if line and not line.startswith("#")
    }
    text = (DEPLOY / "docker-compose.yml").read_text()
    assert {"POSTGRES_PASSWORD", "GRAFANA_DB_PASSWORD", "GRAFANA_ADMIN_PASSWORD"} == env_names
    assert all(f"${{{name}}}" in text for name in env_names)


def test_grafana_datasource_password_is_expanded_from_grafanas_environment() -> None:
    document = yaml.safe_load(
        (DEPLOY / "grafana" / "provisioning" / "datasources" / "plantqc.yaml").read_text()
    )
    password = document["datasources"][0]["secureJsonData"]["password"]
    assert password == "$__env{PLANTQC_GRAFANA_DB_PASSWORD}"
    assert "PLANTQC_GRAFANA_DB_PASSWORD" in SERVICES["grafana"]["environment"]


def test_migration_creates_the_login_the_datasource_uses() -> None:
    document = yaml.safe_load(
        (DEPLOY / "grafana" / "provisioning" / "datasources" / "plantqc.yaml").read_text()
    )
    assert f"--login {document['datasources'][0]['user']}" in SERVICES["migrate"]["command"][0]


@pytest.mark.parametrize(
    "board",
    dashboards(load_config(DEPLOY.parent / "examples" / "casting.yaml").config),
    ids=lambda b: b.uid,
)
def test_committed_dashboards_equal_a_fresh_export(board: Any) -> None:
    """deploy/grafana/dashboards is `plantqc grafana export` of examples/casting.yaml."""
    path = DEPLOY / "grafana" / "dashboards" / f"{board.uid}.json"
    assert json.loads(path.read_text()) == to_json(board)
