"""The real programs browser and PDF tests drive, found on the PATH.

A missing program skips its test with the reason, except under CI (``CI=true``), where it
fails the test: CI never skips them silently.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest


def require_program(program: str, package: str) -> str:
    """The path of ``program``; skips (fails under CI) naming the Debian ``package``."""
    found = shutil.which(program)
    if found is None:
        reason = f"{program} is not installed (apt-get install {package}; scripts/system-deps.sh)"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason}, and CI=true does not allow skipping it")
        pytest.skip(reason)
    return found


@contextmanager
def headless_chromium(*flags: str) -> Iterator[Any]:
    """Debian's Chromium driven by Selenium through chromedriver, with ``flags`` besides
    headless, no sandbox and no GPU; quit on exit."""
    driver_path = require_program("chromedriver", "chromium-driver")
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", *flags):
        options.add_argument(flag)
    options.binary_location = require_program("chromium", "chromium")
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    try:
        yield driver
    finally:
        driver.quit()
