"""The limits pages: every chart's version in force, newest frozen version and proposal side by
side; approving a chart's phase I estimate freezes it, by quality only, with an electronic
signature (the password again, and the user name at a session's first signing) bound to the
estimate's numbers."""

from __future__ import annotations

import html
import re
import time
from datetime import timedelta

from conftest import (
    DRYER,
    OPERATOR,
    PASSWORD,
    QUALITY,
    QUALITY_NAME,
    REVIEWER,
    SPEED,
    Plant,
    log_in,
)
from fastapi.testclient import TestClient
from reports.report_helpers import Tables
from sqlalchemy import select
from sqlalchemy.orm import Session

from plantqc.charting.catalog import load_charts
from plantqc.charting.limits import limit_versions
from plantqc.charting.phase1 import LimitsEstimate, estimate_hash, estimate_limits
from plantqc.store.models import AuditLog, ControlLimits
from plantqc.users import LoginPolicy, list_users
from plantqc.web.app import create_app

FIRST_HALF = "?from=2026-01-15T08:00:00Z&to=2026-01-15T08:05:00Z"
"""The query of an estimate over the lot's first half: a span other than the proposal's."""


def _page(plant: Plant) -> str:
    return f"/limits/{plant.tags[SPEED]}/imr"


def _approval(client: TestClient, plant: Plant, query: str = "") -> dict[str, str]:
    """The hidden fields of the chart page's approval form: span, estimate hash, CSRF token."""
    page = client.get(_page(plant) + query).text
    form = page[page.index('action="' + _page(plant) + '/approve"') :]
    return dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', form))


def _approve(client: TestClient, plant: Plant, **fields: str) -> int:
    """Post the approval the chart page offers with ``fields`` (credentials); the status."""
    data = _approval(client, plant) | fields
    return client.post(_page(plant) + "/approve", data=data).status_code


def _versions(plant: Plant, tag: str) -> list[ControlLimits]:
    return limit_versions(plant.engine, [plant.tags[tag]])


def _expected(plant: Plant) -> LimitsEstimate:
    """The phase I estimate over the web speed proposal's points (its span's end included)."""
    chart = load_charts(plant.engine)[plant.tags[SPEED]]
    start, last = plant.proposal_span
    return estimate_limits(plant.engine, chart, start, last + timedelta(microseconds=1))


def _audit(plant: Plant, action: str) -> list[AuditLog]:
    with Session(plant.engine) as session:
        return list(session.scalars(select(AuditLog).where(AuditLog.action == action)))


def _failed_logins(plant: Plant, name: str) -> int:
    return next(u.failed_logins for u in list_users(plant.engine) if u.name == name)


def test_the_limits_page_shows_each_charts_frozen_version_and_proposal_as_stored(
    plant_client: TestClient, plant: Plant
) -> None:
    log_in(plant_client, OPERATOR)
    tables = Tables(plant_client.get("/limits").text)
    frozen, proposal = _versions(plant, SPEED)
    speed = tables.table(f"limits-{plant.tags[SPEED]}-imr")
    for key in ("center", "lcl", "ucl"):
        in_force_cell, frozen_cell, proposal_cell = speed[key]
        assert in_force_cell == frozen_cell == f"{getattr(frozen, key):.6g}"
        assert proposal_cell == f"{getattr(proposal, key):.6g}"
    assert speed["n"] == [str(frozen.n_used), str(frozen.n_used), str(proposal.n_used)]
    assert speed["version"] == ["1 (phase1)", "1 (phase1)", "2 (provisional)"]
    [learned] = _versions(plant, DRYER)
    dryer = tables.table(f"limits-{plant.tags[DRYER]}-imr")
    assert dryer["center"] == [f"{learned.center:.6g}", "-", f"{learned.center:.6g}"]


def test_approval_by_quality_freezes_the_estimate_over_the_proposals_data_signed(
    plant_client: TestClient, plant: Plant
) -> None:
    log_in(plant_client, QUALITY)
    assert _approve(plant_client, plant, username=QUALITY, password=PASSWORD) == 303
    *_, frozen = _versions(plant, SPEED)
    expected = _expected(plant)
    assert (frozen.version, frozen.basis, frozen.frozen_by) == (3, "phase1", QUALITY)
    assert (frozen.center, frozen.sigma, frozen.lcl, frozen.ucl, frozen.n_used) == (
        expected.center, expected.sigma, expected.lcl, expected.ucl, expected.n_used,
    )  # fmt: skip
    assert (frozen.data_from, frozen.data_to) == (expected.data_from, expected.data_to)
    signature = frozen.params["signature"]
    chart = load_charts(plant.engine)[plant.tags[SPEED]]
    assert signature["content_hash"] == estimate_hash(chart, expected)
    assert (signature["user"], signature["printed_name"], signature["meaning"]) == (
        QUALITY, QUALITY_NAME, "approved",
    )  # fmt: skip
    [entry] = [a for a in _audit(plant, "limits-freeze") if a.entity_id == str(frozen.id)]
    assert entry.user == QUALITY and entry.detail["signature"] == signature


def test_an_operator_approval_is_refused_403_and_audited(
    plant_client: TestClient, plant: Plant
) -> None:
    log_in(plant_client, OPERATOR)
    assert _approve(plant_client, plant, username=OPERATOR, password=PASSWORD) == 403
    assert len(_versions(plant, SPEED)) == 2
    [entry] = _audit(plant, "permission-denied")
    assert (entry.user, entry.entity, entry.entity_id) == (
        OPERATOR, "control_limits", f"{plant.tags[SPEED]}/imr",
    )  # fmt: skip
    assert entry.detail == {"action": "limits.freeze", "role": "operator"}


def test_a_wrong_password_is_401_freezes_nothing_and_counts_a_failed_login(
    plant_client: TestClient, plant: Plant
) -> None:
    log_in(plant_client, QUALITY)
    data = _approval(plant_client, plant) | {"username": QUALITY, "password": "wrong horse"}
    response = plant_client.post(_page(plant) + "/approve", data=data)
    assert response.status_code == 401
    assert "unknown user or wrong password." in response.text
    assert len(_versions(plant, SPEED)) == 2
    assert _failed_logins(plant, QUALITY) == 1


def test_the_first_signing_needs_the_user_name(plant_client: TestClient, plant: Plant) -> None:
    log_in(plant_client, QUALITY)
    data = _approval(plant_client, plant) | {"password": PASSWORD}
    response = plant_client.post(_page(plant) + "/approve", data=data)
    assert response.status_code == 401
    assert "takes your user name as well as your password" in response.text
    assert len(_versions(plant, SPEED)) == 2


def test_a_later_signing_in_the_session_takes_the_password_only(
    plant_client: TestClient, plant: Plant
) -> None:
    log_in(plant_client, QUALITY)
    assert _approve(plant_client, plant, username=QUALITY, password=PASSWORD) == 303
    assert 'id="sign-username"' not in plant_client.get(_page(plant) + FIRST_HALF).text
    data = _approval(plant_client, plant, FIRST_HALF) | {"password": PASSWORD}
    assert plant_client.post(_page(plant) + "/approve", data=data).status_code == 303
    signatures = [v.params["signature"] for v in _versions(plant, SPEED)[2:]]
    assert [s["components"] for s in signatures] == [2, 1]


def test_signing_as_another_user_is_refused(plant_client: TestClient, plant: Plant) -> None:
    log_in(plant_client, QUALITY)
    assert _approve(plant_client, plant, username=REVIEWER, password=PASSWORD) == 401
    assert len(_versions(plant, SPEED)) == 2


def test_an_approval_of_other_numbers_than_shown_is_refused_409(
    plant_client: TestClient, plant: Plant
) -> None:
    log_in(plant_client, QUALITY)
    data = _approval(plant_client, plant) | {"username": QUALITY, "password": PASSWORD}
    data["to"] = "2026-01-15T08:09:00+00:00"  # another span than the hash was shown for
    response = plant_client.post(_page(plant) + "/approve", data=data)
    assert response.status_code == 409 and "no longer the one shown" in response.text
    assert len(_versions(plant, SPEED)) == 2


def test_an_approval_without_the_csrf_token_is_403(plant_client: TestClient, plant: Plant) -> None:
    log_in(plant_client, QUALITY)
    data = _approval(plant_client, plant) | {"username": QUALITY, "password": PASSWORD}
    del data["csrf_token"]
    assert plant_client.post(_page(plant) + "/approve", data=data).status_code == 403
    assert len(_versions(plant, SPEED)) == 2


def test_a_locked_account_can_no_longer_sign_in_its_open_session(
    plant_client: TestClient, plant: Plant
) -> None:
    log_in(plant_client, QUALITY)
    for _ in range(LoginPolicy().max_failures):
        _approve(plant_client, plant, username=QUALITY, password="wrong horse")
    data = _approval(plant_client, plant) | {"username": QUALITY, "password": PASSWORD}
    response = plant_client.post(_page(plant) + "/approve", data=data)
    assert response.status_code == 401 and "locked" in response.text
    assert len(_versions(plant, SPEED)) == 2


def test_a_session_that_timed_out_signs_with_both_components_again(plant: Plant) -> None:
    app = create_app(plant.engine, plant.loaded, session_timeout_s=2.0)
    with TestClient(app, follow_redirects=False) as client:
        log_in(client, QUALITY)
        assert _approve(client, plant, username=QUALITY, password=PASSWORD) == 303
        time.sleep(2.5)
        assert client.get(_page(plant)).status_code == 303  # to the login page
        log_in(client, QUALITY)
        assert 'id="sign-username"' in client.get(_page(plant) + FIRST_HALF).text


def test_an_unknown_chart_is_404(plant_client: TestClient, plant: Plant) -> None:
    log_in(plant_client, OPERATOR)
    assert plant_client.get(f"/limits/{plant.tags[SPEED]}/xbar-r").status_code == 404
    assert plant_client.get("/limits/999/imr").status_code == 404


def test_a_span_that_is_no_time_is_refused_with_the_sentence(
    plant_client: TestClient, plant: Plant
) -> None:
    log_in(plant_client, OPERATOR)
    response = plant_client.get(_page(plant) + "?from=yesterday&to=2026-01-15T08:05:00Z")
    assert response.status_code == 422
    sentence = "from 'yesterday' is not a time such as 2026-12-07T08:00Z"
    assert sentence in html.unescape(response.text)
