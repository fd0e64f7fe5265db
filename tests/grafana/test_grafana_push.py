"""`grafana push` against a local HTTP server that records requests and keeps Grafana's state.

No Grafana binary runs here; the stand-in implements only the endpoints a push uses, with
Grafana's status codes (404 for a missing uid), and records every request.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from plantqc.cli import app

from .conftest import EXAMPLES

CONFIG = str(EXAMPLES / "casting.yaml")
DB = "postgresql://db.plant:5432/plantqc"


class FakeGrafana(ThreadingHTTPServer):
    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.requests: list[tuple[str, str, str | None]] = []
        self.folders: dict[str, dict[str, Any]] = {}
        self.datasources: dict[str, dict[str, Any]] = {}
        self.dashboards: dict[str, dict[str, Any]] = {}

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    server: FakeGrafana

    def log_message(self, *_: Any) -> None:
        pass

    def _reply(self, status: int, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _handle(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length)) if length else None
        state = self.server
        state.requests.append((method, self.path, self.headers.get("Authorization")))
        parts = self.path.strip("/").split("/")
        if method == "GET" and parts[:2] == ["api", "folders"]:
            found = state.folders.get(parts[2])
            return self._reply(200, found) if found else self._reply(404, {"message": "nf"})
        if method == "POST" and parts == ["api", "folders"]:
            state.folders[body["uid"]] = body
            return self._reply(200, body)
        if method == "GET" and parts[:3] == ["api", "datasources", "uid"]:
            found = state.datasources.get(parts[3])
            return self._reply(200, found) if found else self._reply(404, {"message": "nf"})
        if method == "POST" and parts == ["api", "datasources"]:
            stored = {k: v for k, v in body.items() if k != "secureJsonData"}
            state.datasources[body["uid"]] = {**stored, "id": 1}
            return self._reply(200, {"id": 1})
        if method == "GET" and parts[:3] == ["api", "dashboards", "uid"]:
            found = state.dashboards.get(parts[3])
            return self._reply(200, found) if found else self._reply(404, {"message": "nf"})
        if method == "POST" and parts == ["api", "dashboards", "db"]:
            board = {**body["dashboard"], "id": 7, "version": 1}
            meta = {"folderUid": body["folderUid"]}
            state.dashboards[board["uid"]] = {"dashboard": board, "meta": meta}
            return self._reply(200, {"status": "success"})
        return self._reply(404, {"message": f"no route {method} {self.path}"})

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_PUT(self) -> None:
        self._handle("PUT")


@pytest.fixture
def grafana() -> Iterator[FakeGrafana]:
    server = FakeGrafana()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _push(grafana: FakeGrafana, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("GRAFANA_TOKEN", "t0ken")
    monkeypatch.setenv("PLANTQC_GRAFANA_DB_PASSWORD", "s3cret")
    args = ["grafana", "push", "--config", CONFIG, "--url", grafana.url, "--token-env"]
    return CliRunner().invoke(app, [*args, "GRAFANA_TOKEN", "--db", DB])


def test_first_push_creates_folder_datasource_and_dashboards_with_exact_calls(
    grafana: FakeGrafana, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = _push(grafana, monkeypatch)
    assert result.exit_code == 0, result.output
    bearer = "Bearer t0ken"
    assert grafana.requests == [
        ("GET", "/api/folders/plantqc", bearer),
        ("POST", "/api/folders", bearer),
        ("GET", "/api/datasources/uid/plantqc-postgres", bearer),
        ("POST", "/api/datasources", bearer),
        ("GET", "/api/dashboards/uid/plantqc-overview", bearer),
        ("POST", "/api/dashboards/db", bearer),
        ("GET", "/api/dashboards/uid/plantqc-casting-1", bearer),
        ("POST", "/api/dashboards/db", bearer),
    ]
    assert "4 change(s), 0 unchanged" in result.output
    assert grafana.datasources["plantqc-postgres"]["url"] == "db.plant:5432"


def test_second_push_reads_only_and_reports_nothing_changed(
    grafana: FakeGrafana, monkeypatch: pytest.MonkeyPatch
) -> None:
    _push(grafana, monkeypatch)
    grafana.requests.clear()
    result = _push(grafana, monkeypatch)
    assert result.exit_code == 0, result.output
    assert {method for method, _, _ in grafana.requests} == {"GET"}
    assert "0 change(s), 4 unchanged" in result.output


def test_changed_dashboard_is_updated_alone(
    grafana: FakeGrafana, monkeypatch: pytest.MonkeyPatch
) -> None:
    _push(grafana, monkeypatch)
    grafana.dashboards["plantqc-casting-1"]["dashboard"]["title"] = "edited in the UI"
    grafana.requests.clear()
    result = _push(grafana, monkeypatch)
    writes = [(m, p) for m, p, _ in grafana.requests if m != "GET"]
    assert writes == [("POST", "/api/dashboards/db")]
    assert "updated dashboard plantqc-casting-1" in result.output


def test_unreachable_grafana_is_one_sentence(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRAFANA_TOKEN", "t0ken")
    args = ["grafana", "push", "--config", CONFIG, "--url", "http://127.0.0.1:9", "--token-env"]
    result = CliRunner().invoke(app, [*args, "GRAFANA_TOKEN", "--db", DB])
    assert result.exit_code == 2
    assert "error: cannot reach Grafana" in result.output


def test_missing_token_variable_is_one_sentence(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_SUCH_TOKEN", raising=False)
    args = ["grafana", "push", "--config", CONFIG, "--url", "http://x", "--token-env"]
    result = CliRunner().invoke(app, [*args, "NO_SUCH_TOKEN", "--db", DB])
    assert result.exit_code == 2
    assert "environment variable NO_SUCH_TOKEN (named by --token-env) is not set." in result.output


def test_export_writes_dashboards_and_provisioning(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["grafana", "export", "--config", CONFIG, "--out", str(tmp_path), "--db", DB]
    )
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "dashboards").iterdir()) == [
        "plantqc-casting-1.json",
        "plantqc-overview.json",
    ]
    assert (tmp_path / "provisioning" / "datasources" / "plantqc.yaml").is_file()
    assert (tmp_path / "provisioning" / "dashboards" / "plantqc.yaml").is_file()


def test_export_of_a_sqlite_store_is_one_sentence(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app,
        ["grafana", "export", "--config", CONFIG, "--out", str(tmp_path), "--db", "sqlite:///x.db"],
    )
    assert result.exit_code == 2
    assert "error: Grafana reads PostgreSQL; the store URL names 'sqlite'." in result.output
