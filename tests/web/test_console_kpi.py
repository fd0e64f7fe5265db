"""The alarm KPI page: per line the EEMUA 191 figures `plantqc alarms kpi` computes for the
same store and window, beside their targets; the last 24 hours unless asked otherwise."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

import pytest
from conftest import OPERATOR, Console, log_in, raise_alarm
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from plantqc.alarms import AlarmEvent, apply_events
from plantqc.cli.app import app as cli
from plantqc.store.models import Tag

T0 = datetime(2026, 5, 4, 6, 0, tzinfo=UTC)
WINDOW = {"from": T0.isoformat(), "to": (T0 + timedelta(hours=2)).isoformat()}


@pytest.fixture
def history(console: Console) -> None:
    """In `WINDOW`: one alarm chattering (raised three times within 40 s) and two others."""
    chatter = [
        AlarmEvent(kind, "i:nelson3", T0 + timedelta(minutes=5, seconds=s))
        for kind, s in (("raise", 0), ("clear", 10), ("raise", 20), ("clear", 30), ("raise", 40))
    ]
    with Session(console.engine) as session, session.begin():
        tag = session.scalars(select(Tag)).one()
        apply_events(session, tag.line_id, tag.id, chatter)
    raise_alarm(console, "i:nelson2", at=T0 + timedelta(minutes=50))
    raise_alarm(console, "i:nelson7", at=T0 + timedelta(minutes=55))


def _page_figures(page: str, line: str) -> dict[str, str]:
    cells = rf'data-line="{re.escape(line)}" data-figure="(\w+)"[^>]*>([^<]*)</td>'
    return dict(re.findall(cells, page))


def _cli_figures(console: Console, window: dict[str, str]) -> dict[str, object]:
    args = ["alarms", "kpi", "--db", console.url, "--from", window["from"], "--to", window["to"]]
    result = CliRunner().invoke(cli, [*args, "--json"])
    assert result.exit_code == 0, result.output
    [line] = json.loads(result.output)["lines"]
    return line


def test_the_page_shows_the_figures_the_cli_computes_for_the_same_window(
    client: TestClient, console: Console, history: None
) -> None:
    log_in(client, OPERATOR)
    page = client.get("/kpi", params=WINDOW)
    assert page.status_code == 200
    shown = _page_figures(page.text, "line-1")
    k = _cli_figures(console, WINDOW)
    assert k["alarms"] == 5 and k["chattering"] == 1  # the history is counted at all
    assert shown == {
        "hours": f"{k['hours']:.2f}",
        "alarms": str(k["alarms"]),
        "alarms_per_hour": f"{k['alarms_per_hour']:.2f}",
        "peak_per_10min": str(k["peak_per_10min"]),
        "flood_pct": f"{k['flood_pct']:.1f}",
        "chattering": str(k["chattering"]),
        "stale": str(k["stale"]),
        "shelved": str(k["shelved"]),
    }
    assert "i:nelson3 × 3" in page.text  # the most frequent alarm, as the CLI lists it


def test_the_page_shows_the_targets_and_marks_a_figure_that_misses_one(
    client: TestClient, history: None
) -> None:
    log_in(client, OPERATOR)
    page = client.get("/kpi", params=WINDOW).text
    targets = dict(re.findall(r'<tr id="figure-(\w+)">\s*<th>[^<]*</th>\s*<td[^>]*>([^<]*)<', page))
    assert targets["peak_per_10min"] == "≤ 10" and targets["chattering"] == "0"
    assert targets["flood_pct"] == "&lt; 1 %" and targets["stale"] == "&lt; 5"
    assert re.search(r'class="num over" data-line="line-1" data-figure="chattering"', page)
    assert not re.search(r'class="num over" data-line="line-1" data-figure="peak_per_10min"', page)


def test_the_window_is_the_last_24_hours_by_default(client: TestClient) -> None:
    log_in(client, OPERATOR)
    page = client.get("/kpi").text
    shown = _page_figures(page, "line-1")
    assert shown["hours"] == "24.00"
    assert shown["alarms"] == "1"  # the fixture's alarm, raised just now


def test_a_window_that_ends_before_it_starts_is_400_with_the_sentence(
    client: TestClient,
) -> None:
    log_in(client, OPERATOR)
    response = client.get("/kpi", params={"from": "2026-05-04T08:00Z", "to": "2026-05-04T06:00Z"})
    assert response.status_code == 400
    assert "ends before it starts" in response.text


def test_an_unreadable_time_is_400_with_the_sentence(client: TestClient) -> None:
    log_in(client, OPERATOR)
    response = client.get("/kpi", params={"to": "tomorrow"})
    assert response.status_code == 400
    assert "to &#39;tomorrow&#39; is not a time such as" in response.text
