"""In a real browser: an operator logs in, sees the active alarm, acknowledges it, sees it
acknowledged under their name.

The console is served by uvicorn on a free port in a thread; headless Chromium is driven
through Selenium (Debian's ``chromium`` and ``chromium-driver``).  Marked ``chromium``:
skipped with the reason when a program is missing, failed under CI=true.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from conftest import (
    MESSAGE,
    OPERATOR,
    PASSWORD,
    QUALITY,
    QUALITY_NAME,
    SPEED,
    Console,
    Issued,
    Plant,
)
from programs import headless_chromium
from serving import click_through, log_in_browser, serving

from plantqc.charting.limits import limit_versions
from plantqc.web.app import create_app

pytestmark = pytest.mark.chromium


@pytest.fixture
def served(console: Console) -> Iterator[str]:
    """The console's base URL, served by uvicorn in a thread until the test ends."""
    with serving(create_app(console.engine, None)) as url:
        yield url


@pytest.fixture
def browser() -> Iterator[Any]:
    """Headless Chromium at a tablet's width."""
    with headless_chromium("--window-size=1024,768") as driver:
        yield driver


def test_an_operator_logs_in_and_acknowledges_the_active_alarm(
    served: str, browser: Any, console: Console
) -> None:
    from selenium.webdriver.common.by import By

    browser.get(f"{served}/alarms/{console.alarm_id}")
    assert browser.current_url == f"{served}/login"  # sent to log in first
    browser.find_element(By.ID, "username").send_keys(OPERATOR)
    browser.find_element(By.ID, "password").send_keys(PASSWORD)
    browser.find_element(By.ID, "login").click()

    row = browser.find_element(By.ID, f"alarm-{console.alarm_id}")
    assert MESSAGE in row.text and "active-unacknowledged" in row.text
    row.find_element(By.TAG_NAME, "a").click()

    browser.find_element(By.ID, "comment").send_keys("die lip cleaned")
    browser.find_element(By.ID, "ack").click()

    assert browser.find_element(By.ID, "state").text == "active-acknowledged"
    assert browser.find_element(By.ID, "acked-by").text == OPERATOR
    history = browser.find_element(By.ID, "history").text
    assert "alarm-ack" in history and "die lip cleaned" in history


# --- signing in the browser: a report signed with password re-entry; limits refused to operators


@pytest.fixture
def served_plant(plant: Plant, issued: Issued) -> Iterator[str]:
    """The console over `plant` (its reports issued), served until the test ends."""
    with serving(create_app(plant.engine, plant.loaded)) as url:
        yield url


def _log_in(browser: Any, url: str, name: str) -> None:
    log_in_browser(browser, url, name, PASSWORD)


def test_quality_signs_a_report_with_the_password_and_the_served_report_shows_it(
    served_plant: str, browser: Any, issued: Issued
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    _log_in(browser, served_plant, QUALITY)
    browser.get(f"{served_plant}/lots")
    click_through(browser, f"sign-{issued.released}")
    Select(browser.find_element(By.ID, "meaning")).select_by_value("reviewed")
    browser.find_element(By.ID, "sign-username").send_keys(QUALITY)
    browser.find_element(By.ID, "sign-password").send_keys(PASSWORD)
    click_through(browser, "sign")

    assert browser.find_element(By.ID, "status").text == "reviewed"
    click_through(browser, "view")
    block = browser.find_element(By.CLASS_NAME, "signatures").text
    assert f"Signed by: {QUALITY_NAME} (user {QUALITY})" in block
    assert "Meaning: reviewed" in block and "UTC" in block


def test_an_operator_is_refused_the_limits_approval(
    served_plant: str, browser: Any, plant: Plant
) -> None:
    from selenium.webdriver.common.by import By

    _log_in(browser, served_plant, OPERATOR)
    browser.get(f"{served_plant}/limits")
    browser.find_element(By.LINK_TEXT, f"casting-1/{SPEED} · imr").click()
    browser.find_element(By.ID, "sign-username").send_keys(OPERATOR)
    browser.find_element(By.ID, "sign-password").send_keys(PASSWORD)
    click_through(browser, "approve")

    assert browser.find_element(By.TAG_NAME, "h1").text == "Not allowed"
    assert "may not approve control limits" in browser.find_element(By.TAG_NAME, "main").text
    assert len(limit_versions(plant.engine, [plant.tags[SPEED]])) == 2


# --- shelving in the browser, and the overview keeping itself current ---


def test_an_operator_shelves_an_alarm_and_the_overview_shows_a_new_one_without_reload(
    served: str, browser: Any, console: Console
) -> None:
    from conftest import raise_alarm
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import Select, WebDriverWait

    from plantqc.web.routes.alarms import LIVE_EVERY_S

    browser.get(f"{served}/login")
    browser.find_element(By.ID, "username").send_keys(OPERATOR)
    browser.find_element(By.ID, "password").send_keys(PASSWORD)
    browser.find_element(By.ID, "login").click()
    WebDriverWait(browser, 10).until(expected_conditions.url_to_be(f"{served}/"))

    browser.get(f"{served}/alarms/{console.alarm_id}")
    Select(browser.find_element(By.ID, "shelve-minutes")).select_by_value("60")
    browser.find_element(By.ID, "shelve-reason").send_keys("gauge being recalibrated")
    button = browser.find_element(By.ID, "shelve")
    button.click()
    WebDriverWait(browser, 10).until(expected_conditions.staleness_of(button))
    assert browser.find_element(By.ID, "state").text == "shelved"
    assert browser.find_element(By.ID, "shelved-until").text.endswith("+00:00")
    assert "gauge being recalibrated" in browser.find_element(By.ID, "history").text

    browser.get(f"{served}/")
    assert browser.find_element(By.TAG_NAME, "h1").text == "Open alarms (0)"
    assert MESSAGE in browser.find_element(By.ID, f"alarm-{console.alarm_id}").text
    browser.execute_script("window.sameDocument = true")  # gone if the page reloads
    new_id = raise_alarm(console, "sensor:stuck", priority="high", message="gauge stuck")
    row = WebDriverWait(browser, 3 * LIVE_EVERY_S).until(
        expected_conditions.presence_of_element_located((By.ID, f"alarm-{new_id}"))
    )
    assert "gauge stuck" in row.text and "active-unacknowledged" in row.text
    assert browser.find_element(By.TAG_NAME, "h1").text == "Open alarms (1)"
    assert browser.execute_script("return window.sameDocument === true")
