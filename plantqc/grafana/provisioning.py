"""Grafana provisioning documents: the PostgreSQL datasource and the dashboard provider.

Grafana reads these YAML files at start-up (docs: "Provision Grafana"); the datasource logs in
as a member of the read-only role created by migration 0002, its password coming from an
environment variable that Grafana expands (``$__env{...}``) so that no secret is written.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import make_url

from plantqc.errors import UserError
from plantqc.grafana.dashboards import DATASOURCE_UID, FOLDER_UID
from plantqc.grafana.query import DATASOURCE_TYPE

DATASOURCE_NAME = "plantqc PostgreSQL"
FOLDER_TITLE = "plantqc"
DASHBOARDS_PATH = "/var/lib/grafana/dashboards/plantqc"


@dataclass(frozen=True)
class DatasourceSettings:
    """Where Grafana finds the plant database and as whom it logs in."""

    host: str
    port: int
    database: str
    user: str
    password_env: str
    ssl_mode: str = "disable"
    uid: str = DATASOURCE_UID

    @classmethod
    def from_url(cls, url: str, user: str, password_env: str) -> DatasourceSettings:
        """Host, port and database from the store's URL; ``user`` is Grafana's read-only login."""
        parsed = make_url(url)
        if parsed.get_backend_name() != "postgresql":
            raise UserError(
                f"Grafana reads PostgreSQL; the store URL names {parsed.get_backend_name()!r}."
            )
        if not parsed.host or not parsed.database:
            raise UserError("the store URL needs a host and a database name for Grafana.")
        return cls(parsed.host, parsed.port or 5432, parsed.database, user, password_env)

    def api_model(self) -> dict[str, Any]:
        """The datasource as Grafana's HTTP API takes and returns it (without the secret)."""
        return {
            "uid": self.uid,
            "name": DATASOURCE_NAME,
            "type": DATASOURCE_TYPE,
            "access": "proxy",
            "url": f"{self.host}:{self.port}",
            "user": self.user,
            "isDefault": False,
            "jsonData": {
                "database": self.database,
                "sslmode": self.ssl_mode,
                "postgresVersion": 1500,
                "timescaledb": False,
                "timeInterval": "1s",
            },
        }


def datasource_document(settings: DatasourceSettings) -> dict[str, Any]:
    """``provisioning/datasources/plantqc.yaml``."""
    source = settings.api_model()
    source["secureJsonData"] = {"password": f"$__env{{{settings.password_env}}}"}
    source["editable"] = False
    return {"apiVersion": 1, "datasources": [source]}


def dashboard_provider_document(path: str = DASHBOARDS_PATH) -> dict[str, Any]:
    """``provisioning/dashboards/plantqc.yaml``: load the exported JSON into the plantqc folder."""
    return {
        "apiVersion": 1,
        "providers": [
            {
                "name": "plantqc",
                "folder": FOLDER_TITLE,
                "folderUid": FOLDER_UID,
                "type": "file",
                "disableDeletion": False,
                "allowUiUpdates": False,
                "updateIntervalSeconds": 30,
                "options": {"path": path},
            }
        ],
    }
