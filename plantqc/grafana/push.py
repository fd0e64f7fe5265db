"""Create or update the folder, datasource and dashboards through Grafana's HTTP API.

Idempotent: each object is read first and written only when it is missing or differs, so a
second push with the same inputs makes no write and reports nothing changed.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from grafana_client import GrafanaApi
from grafana_client.client import GrafanaClientError, GrafanaException
from niquests.exceptions import RequestException

from plantqc.errors import UserError
from plantqc.grafana.dashboards import FOLDER_UID
from plantqc.grafana.provisioning import FOLDER_TITLE, DatasourceSettings

# Grafana adds these to a stored dashboard; they are not part of what we generate
_SERVER_FIELDS = ("id", "version")


@dataclass(frozen=True)
class PushReport:
    """What a push changed: (kind, uid, action) with action ``created`` or ``updated``."""

    changes: list[tuple[str, str, str]] = field(default_factory=list)
    unchanged: list[tuple[str, str]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _missing(call: Any, *args: Any) -> Any | None:
    try:
        return call(*args)
    except GrafanaClientError as exc:
        if exc.status_code == 404:
            return None
        raise


def _same(stored: dict[str, Any], wanted: dict[str, Any]) -> bool:
    return all(stored.get(key) == value for key, value in wanted.items())


def push(
    api: GrafanaApi,
    dashboards: list[dict[str, Any]],
    datasource: DatasourceSettings,
    password: str | None = None,
) -> PushReport:
    """Bring Grafana's plantqc folder, datasource and dashboards in line with ``dashboards``.

    ``password`` (the read-only database login's) is sent when the datasource is created;
    Grafana never returns it, so an existing datasource keeps the password it has.
    """
    report = PushReport()
    try:
        _push(api, dashboards, datasource, password, report)
    except GrafanaException as exc:
        raise UserError(f"Grafana refused the push: {exc.message}.") from None
    except RequestException as exc:
        raise UserError(f"cannot reach Grafana: {type(exc).__name__}.") from None
    return report


def _push(
    api: GrafanaApi,
    dashboards: list[dict[str, Any]],
    datasource: DatasourceSettings,
    password: str | None,
    report: PushReport,
) -> None:
    folder = _missing(api.folder.get_folder, FOLDER_UID)
    if folder is None:
        api.folder.create_folder(FOLDER_TITLE, uid=FOLDER_UID)
        report.changes.append(("folder", FOLDER_UID, "created"))
    elif folder.get("title") != FOLDER_TITLE:
        api.folder.update_folder(FOLDER_UID, title=FOLDER_TITLE, overwrite=True)
        report.changes.append(("folder", FOLDER_UID, "updated"))
    else:
        report.unchanged.append(("folder", FOLDER_UID))

    wanted = datasource.api_model()
    stored = _missing(api.datasource.get_datasource_by_uid, datasource.uid)
    if stored is None:
        create = dict(wanted)
        if password is not None:
            create["secureJsonData"] = {"password": password}
        api.datasource.create_datasource(create)
        report.changes.append(("datasource", datasource.uid, "created"))
    elif not _same(stored, wanted):
        api.datasource.update_datasource_by_uid(datasource.uid, {**stored, **wanted})
        report.changes.append(("datasource", datasource.uid, "updated"))
    else:
        report.unchanged.append(("datasource", datasource.uid))

    for board in dashboards:
        uid = board["uid"]
        current = _missing(api.dashboard.get_dashboard, uid)
        if current is not None:
            stored_board = {
                k: v for k, v in current["dashboard"].items() if k not in _SERVER_FIELDS
            }
            if stored_board == board and current.get("meta", {}).get("folderUid") == FOLDER_UID:
                report.unchanged.append(("dashboard", uid))
                continue
        api.dashboard.update_dashboard(
            {
                "dashboard": board,
                "folderUid": FOLDER_UID,
                "overwrite": True,
                "message": "plantqc grafana push",
            }
        )
        report.changes.append(("dashboard", uid, "created" if current is None else "updated"))
