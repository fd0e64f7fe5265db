"""In a real browser: an operator logs in, sees the active alarm, acknowledges it, sees it
acknowledged under their name.

The console is served by uvicorn on a free port in a thread; headless Chromium is driven
through Selenium (Debian's ``chromium`` and ``chromium-driver``).  Marked ``chromium``:
skipped with the reason when a program is missing, failed under CI=true.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import uvicorn
from conftest import MESSAGE, OPERATOR, PASSWORD, Console
from programs import headless_chromium

from plantqc.web.app import create_app

pytestmark = pytest.mark.chromium


@pytest.fixture
def served(console: Console) -> Iterator[str]:
    """The console's base URL, served by uvicorn in a thread until the test ends."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = uvicorn.Config(create_app(console.engine, None), host="127.0.0.1", port=port,
                            log_level="warning")  # fmt: skip
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start within 10 s"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


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
