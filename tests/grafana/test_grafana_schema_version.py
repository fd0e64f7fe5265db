"""The dashboards are generated for the Grafana that deploy/ runs, in that Grafana's schema.

grafana-foundation-sdk publishes one build per Grafana minor version under epochs that sort
the 10.1 build highest, so a lower bound silently installs the 10.1 build (schemaVersion 36);
the dependency is therefore pinned exactly to the build of the shipped Grafana.
"""

from __future__ import annotations

import re
import tomllib
from importlib.metadata import version
from pathlib import Path

import yaml

from plantqc.config import load_config
from plantqc.grafana.dashboards import dashboards, to_json

ROOT = Path(__file__).resolve().parents[2]
GRAFANA_11_3_SCHEMA_VERSION = 39
"""Dashboard JSON schema version of Grafana 11.3: ``DASHBOARD_SCHEMA_VERSION`` in Grafana's
``public/app/features/dashboard/state/DashboardMigrator.ts`` and the ``schemaVersion`` default
of the dashboard kind in the 11.3 build of grafana-foundation-sdk (36 is Grafana 10.1's)."""


def _shipped_grafana() -> str:
    compose = yaml.safe_load((ROOT / "deploy" / "docker-compose.yml").read_text())
    image = compose["services"]["grafana"]["image"]
    match = re.fullmatch(r"grafana/grafana(?:-oss)?:(\d+\.\d+)\.\d+", image)
    assert match, f"deploy/docker-compose.yml runs {image!r}, not a versioned Grafana image"
    return match.group(1)


def _pinned_sdk() -> str:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    (pin,) = [d for d in project["dependencies"] if d.startswith("grafana-foundation-sdk")]
    match = re.fullmatch(r"grafana-foundation-sdk==(\d+!(\d+\.\d+)\.\d+)", pin)
    assert match, f"pyproject.toml names {pin!r}; the SDK build must be pinned exactly"
    return match.group(1)


def test_the_sdk_pin_is_the_build_of_the_shipped_grafana() -> None:
    pin = _pinned_sdk()
    assert pin.split("!")[1].rsplit(".", 1)[0] == _shipped_grafana() == "11.3"
    assert version("grafana-foundation-sdk") == pin


def test_generated_dashboards_carry_grafana_11_3_schema_version() -> None:
    config = load_config(ROOT / "examples" / "casting.yaml").config
    boards = [to_json(board) for board in dashboards(config)]
    assert boards, "the example config generates no dashboards"
    assert {board["schemaVersion"] for board in boards} == {GRAFANA_11_3_SCHEMA_VERSION}
