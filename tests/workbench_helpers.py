"""A real Chromium on the workbench page (``/app``) served by uvicorn: shared by its tests and bench.

Chromium runs headless with a fresh profile and every background service
off (the flags of the map tests), so the only host it talks to is ours.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from contextlib import contextmanager

from tests.test_api_abuse import _served

__all__ = ["CHROMIUM", "CHROMEDRIVER", "chromium", "open_workbench", "served", "wait_for"]

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--disable-quic", "--disable-dev-shm-usage",
    "--window-size=1280,900",
]

served = _served
"""``served(app)``: the app under uvicorn on 127.0.0.1 in a thread, yielding the port."""


@contextmanager
def chromium():
    """A headless Chromium driver with its browser log kept; quit and its profile removed on exit."""
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="lc-chromium-")
    opts = Options()
    opts.binary_location = CHROMIUM
    for flag in FLAGS + [f"--user-data-dir={profile}"]:
        opts.add_argument(flag)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    drv = webdriver.Chrome(options=opts, service=Service(CHROMEDRIVER))
    drv.set_page_load_timeout(60)
    try:
        yield drv
    finally:
        drv.quit()
        shutil.rmtree(profile, ignore_errors=True)


def wait_for(driver, script: str, timeout: float = 30.0):
    """Poll ``return <script>`` in the page until it is truthy; returns its value (TimeoutError after ``timeout``)."""
    end = time.time() + timeout
    while True:
        value = driver.execute_script(f"return {script}")
        if value:
            return value
        if time.time() > end:
            raise TimeoutError(f"page never gave a truthy {script}")
        time.sleep(0.05)


def open_workbench(driver, base: str, scenario: str, key: str | None) -> None:
    """Open ``/app`` on ``scenario``, entering ``key`` through the page's key box first (as a planner does)."""
    driver.get(f"{base}/app/")
    wait_for(driver, "document.body.dataset.ready")
    if key:
        driver.find_element("id", "key").send_keys(key)
        driver.find_element("id", "keysave").click()
    driver.get(f"{base}/app/?scenario={scenario}")
    if wait_for(driver, "document.body.dataset.ready") == "error":
        raise AssertionError(driver.find_element("id", "msg").text)
    wait_for(driver, "window.lcWorkbench.version > 0")
