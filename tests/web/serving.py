"""For browser tests: an app served for real (uvicorn on a free loopback port in a thread), and
the steps every browser test takes."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn
from fastapi import FastAPI


@contextmanager
def serving(app: FastAPI) -> Iterator[str]:
    """``app``'s base URL while it is served by uvicorn in a thread; stopped on exit."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


def click_through(browser: Any, element_id: str) -> None:
    """Click ``element_id`` and wait until the page it leads to has replaced this one (else
    the next look may still read the old page)."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    element = browser.find_element(By.ID, element_id)
    element.click()
    WebDriverWait(browser, 10).until(expected_conditions.staleness_of(element))


def log_in_browser(browser: Any, url: str, name: str, password: str) -> None:
    """Log ``name`` in at the console at ``url`` through its login form."""
    from selenium.webdriver.common.by import By

    browser.get(f"{url}/login")
    browser.find_element(By.ID, "username").send_keys(name)
    browser.find_element(By.ID, "password").send_keys(password)
    click_through(browser, "login")
