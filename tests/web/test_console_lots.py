"""The lots page and the issued reports: every lot with its report versions; a report served as
its files hold it, overlays only from its folder; signing a report through the console with an
electronic signature, its meaning asking the role's permission and the sign-off's order."""

from __future__ import annotations

import re

from conftest import (
    OPERATOR,
    PASSWORD,
    QUALITY,
    QUALITY_NAME,
    REVIEWER,
    Issued,
    Plant,
    csrf_token,
    log_in,
)
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from plantqc.reports.issue import report_code
from plantqc.store.models import AuditLog, Report
from plantqc.users.esign import Signature
from plantqc.web.app import create_app


def _sign(client: TestClient, report_id: int, meaning: str, **credentials: str) -> int:
    """Sign report ``report_id`` as ``meaning`` through its sign page; the status."""
    token = csrf_token(client.get(f"/reports/{report_id}/sign").text)
    data = {"meaning": meaning, "csrf_token": token, "password": PASSWORD} | credentials
    return client.post(f"/reports/{report_id}/sign", data=data).status_code


def _report(plant: Plant, report_id: int) -> Report:
    with Session(plant.engine) as session:
        return session.get_one(Report, report_id)


def _signatures(plant: Plant, report_id: int) -> list[Signature]:
    return [Signature.from_dict(s) for s in _report(plant, report_id).signatures]


def _client(plant: Plant, name: str) -> TestClient:
    """Another browser on another console over `plant`, ``name`` logged in."""
    client = TestClient(create_app(plant.engine, plant.loaded), follow_redirects=False)
    log_in(client, name)
    return client


def test_the_lots_page_lists_each_lot_with_its_reports_disposition_and_status(
    plant_client: TestClient, issued: Issued
) -> None:
    log_in(plant_client, OPERATOR)
    page = plant_client.get("/lots").text
    assert "LOT-0001" in page and "LOT-0002" in page
    for report_id, disposition in ((issued.released, "release"), (issued.held, "hold")):
        row = page[page.index(f'id="report-{report_id}"') :].split("</tr>")[0]
        assert report_code(report_id) in row
        assert f'class="disposition">{disposition}<' in row and 'class="status">issued<' in row


def test_a_report_signed_through_the_console_shows_the_signature_in_the_served_report(
    plant_client: TestClient, plant: Plant, issued: Issued
) -> None:
    log_in(plant_client, QUALITY)
    assert _sign(plant_client, issued.released, "reviewed", username=QUALITY) == 303
    [signature] = _signatures(plant, issued.released)
    assert (signature.user, signature.meaning, signature.components) == (QUALITY, "reviewed", 2)
    served = plant_client.get(f"/reports/{issued.released}/")
    assert served.status_code == 200 and served.headers["content-type"].startswith("text/html")
    block = served.text[served.text.index("<!-- signatures -->") :]
    assert QUALITY_NAME in block and "reviewed" in block
    assert signature.shown_at() in block and signature.time_zone in signature.shown_at()


def test_the_lots_page_shows_a_signatures_printed_name_meaning_and_zoned_time(
    plant_client: TestClient, plant: Plant, issued: Issued
) -> None:
    log_in(plant_client, QUALITY)
    _sign(plant_client, issued.released, "reviewed", username=QUALITY)
    [signature] = _signatures(plant, issued.released)
    row = plant_client.get("/lots").text.split(f'id="report-{issued.released}"')[1]
    assert f"{QUALITY_NAME}</strong> ({QUALITY}) — reviewed — {signature.shown_at()}" in row


def test_a_session_that_signed_once_signs_again_with_the_password_only(
    plant_client: TestClient, plant: Plant, issued: Issued
) -> None:
    log_in(plant_client, QUALITY)
    assert _sign(plant_client, issued.held, "reviewed", username=QUALITY) == 303
    assert 'id="sign-username"' not in plant_client.get(f"/reports/{issued.held}/sign").text
    with _client(plant, REVIEWER) as reviewer:
        assert _sign(reviewer, issued.held, "approved", username=REVIEWER) == 303
    assert _sign(plant_client, issued.held, "held") == 303
    signatures = _signatures(plant, issued.held)
    assert [(s.user, s.meaning, s.components) for s in signatures] == [
        (QUALITY, "reviewed", 2), (REVIEWER, "approved", 2), (QUALITY, "held", 1),
    ]  # fmt: skip
    assert _report(plant, issued.held).status == "held"


def test_releasing_a_report_of_disposition_hold_is_refused_with_the_sentence(
    plant_client: TestClient, plant: Plant, issued: Issued
) -> None:
    log_in(plant_client, QUALITY)
    _sign(plant_client, issued.held, "reviewed", username=QUALITY)
    with _client(plant, REVIEWER) as reviewer:
        _sign(reviewer, issued.held, "approved", username=REVIEWER)
    token = csrf_token(plant_client.get(f"/reports/{issued.held}/sign").text)
    data = {"meaning": "released", "password": PASSWORD, "csrf_token": token}
    response = plant_client.post(f"/reports/{issued.held}/sign", data=data)
    assert response.status_code == 409
    assert "has disposition hold, not release; it can be held, not released." in response.text
    assert [s.meaning for s in _signatures(plant, issued.held)] == ["reviewed", "approved"]


def test_a_wrong_password_is_401_and_signs_nothing(
    plant_client: TestClient, plant: Plant, issued: Issued
) -> None:
    log_in(plant_client, QUALITY)
    status = _sign(plant_client, issued.released, "reviewed", username=QUALITY,
                   password="wrong horse")  # fmt: skip
    assert status == 401
    assert _report(plant, issued.released).signatures == []


def test_signing_a_report_as_another_user_is_refused(
    plant_client: TestClient, plant: Plant, issued: Issued
) -> None:
    log_in(plant_client, QUALITY)
    assert _sign(plant_client, issued.released, "reviewed", username=REVIEWER) == 401
    assert _report(plant, issued.released).signatures == []


def test_an_operator_may_not_sign_a_report_403_and_audited(
    plant_client: TestClient, plant: Plant, issued: Issued
) -> None:
    log_in(plant_client, OPERATOR)
    assert _sign(plant_client, issued.released, "reviewed", username=OPERATOR) == 403
    assert _report(plant, issued.released).signatures == []
    with Session(plant.engine) as session:
        [entry] = session.scalars(select(AuditLog).where(AuditLog.action == "permission-denied"))
    assert (entry.user, entry.entity, entry.entity_id) == (OPERATOR, "report", str(issued.released))
    assert entry.detail == {"action": "report.sign", "role": "operator"}


def test_a_report_sign_without_the_csrf_token_is_403(
    plant_client: TestClient, plant: Plant, issued: Issued
) -> None:
    log_in(plant_client, QUALITY)
    data = {"meaning": "reviewed", "username": QUALITY, "password": PASSWORD}
    assert plant_client.post(f"/reports/{issued.released}/sign", data=data).status_code == 403
    assert _report(plant, issued.released).signatures == []


def test_the_report_serves_its_overlays(plant_client: TestClient, issued: Issued) -> None:
    log_in(plant_client, OPERATOR)
    report = plant_client.get(f"/reports/{issued.released}/").text
    [first, *_] = re.findall(r'href="(overlays/[^"]+)"', report)
    image = plant_client.get(f"/reports/{issued.released}/{first}")
    assert image.status_code == 200 and image.headers["content-type"] == "image/png"


def test_an_overlay_name_outside_the_overlays_folder_is_404(
    plant_client: TestClient, issued: Issued
) -> None:
    log_in(plant_client, OPERATOR)
    base = f"/reports/{issued.released}/overlays/"
    for name in (
        "..%2Freport.json",
        "%2E%2E",
        "report.json",
        "%2Fetc%2Fpasswd",
        "..%5Creport.json",
    ):
        assert plant_client.get(base + name).status_code == 404, name


def test_a_report_without_a_session_redirects_to_the_login(
    plant_client: TestClient, issued: Issued
) -> None:
    response = plant_client.get(f"/reports/{issued.released}/")
    assert (response.status_code, response.headers["location"]) == (303, "/login")


def test_the_sign_page_offers_the_next_meaning_of_the_sign_off(
    plant_client: TestClient, issued: Issued
) -> None:
    log_in(plant_client, QUALITY)
    page = plant_client.get(f"/reports/{issued.held}/sign").text
    assert '<option value="reviewed" selected>' in page
    assert "Still to sign: authored, reviewed, approved, held." in page


def test_an_unknown_report_is_404(plant_client: TestClient, issued: Issued) -> None:
    token = log_in(plant_client, QUALITY)
    assert plant_client.get("/reports/999/").status_code == 404
    assert plant_client.get("/reports/999/sign").status_code == 404
    data = {"meaning": "reviewed", "password": PASSWORD, "csrf_token": token}
    assert plant_client.post("/reports/999/sign", data=data).status_code == 404
