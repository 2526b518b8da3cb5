"""A real headless Chromium (Debian's ``chromium`` and ``chromium-driver``) driven through
Selenium, for asserting what a person would see on a report page.

Chromium's DevTools log (through chromedriver's performance log) lists every request the
page makes, and the browser log every JavaScript error, so a test can assert that a page
made no network request and logged no error.
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
#: Screenshots kept by the tests (ignored by git; CI may upload the directory).
ARTIFACTS = REPO / "test-artifacts"

FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage")


def find_browser() -> tuple[str, str] | None:
    """(chromium, chromedriver) paths, or None when either is missing."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    if browser and driver:
        return browser, driver
    return None


@dataclass
class PageVisit:
    """What the browser saw: requests made, errors logged, and the driver to query the page."""

    requests: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    driver: object = None

    def js(self, script: str, *args):
        return self.driver.execute_script(script, *args)

    def network_requests(self, page_url: str) -> list[str]:
        """Requests other than the page itself and inline data (data:, blob:, about:)."""
        return [u for u in self.requests
                if u != page_url and not u.startswith(("data:", "blob:", "about:"))]


class Browser:
    """``with Browser() as b: visit = b.open(path)``: one headless Chromium per block."""

    def __init__(self):
        found = find_browser()
        if found is None:
            raise RuntimeError("chromium and chromedriver are needed (Debian: apt-get install chromium "
                               "chromium-driver)")
        self.browser, self.chromedriver = found
        self.profile = tempfile.mkdtemp(prefix="dhflow-chromium-")
        self.driver = None

    def __enter__(self):
        os.environ.setdefault("SE_OFFLINE", "true")  # Selenium must not look for drivers online
        from selenium import webdriver
        from selenium.webdriver.chrome.options import Options
        from selenium.webdriver.chrome.service import Service

        opts = Options()
        opts.binary_location = self.browser
        for flag in FLAGS:
            opts.add_argument(flag)
        opts.add_argument(f"--user-data-dir={self.profile}")
        opts.add_argument("--window-size=1300,1000")
        opts.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
        self.driver = webdriver.Chrome(options=opts, service=Service(executable_path=self.chromedriver))
        self.driver.set_page_load_timeout(60)
        self.driver.get("about:blank")  # leave the new-tab page (its requests are Chromium's own)
        return self

    def __exit__(self, *exc):
        try:
            if self.driver is not None:
                self.driver.quit()
        finally:
            shutil.rmtree(self.profile, ignore_errors=True)

    def open(self, path: Path, *, settle: float = 0.5) -> PageVisit:
        """Load a local file, wait until every Plotly figure has drawn, collect the logs."""
        import time

        self.driver.get("about:blank")
        time.sleep(0.2)
        self.driver.get_log("performance")  # drop what came before this page
        self.driver.get_log("browser")
        self.driver.get(Path(path).resolve().as_uri())
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            pending = self.driver.execute_script(
                "const d = document.querySelectorAll('.plotly-graph-div');"
                "return Array.from(d).filter(g => !g._fullLayout).length;")
            if pending == 0:
                break
            time.sleep(0.1)
        time.sleep(settle)  # let late errors and requests reach the logs
        visit = PageVisit(driver=self.driver)
        for entry in self.driver.get_log("performance"):
            msg = json.loads(entry["message"])["message"]
            if msg.get("method") == "Network.requestWillBeSent":
                visit.requests.append(msg["params"]["request"]["url"])
        visit.errors = [e["message"] for e in self.driver.get_log("browser") if e["level"] == "SEVERE"]
        return visit

    def screenshot(self, name: str) -> Path:
        """A full-page PNG under :data:`ARTIFACTS`; returns its path."""
        ARTIFACTS.mkdir(exist_ok=True)
        height = min(int(self.driver.execute_script("return document.body.scrollHeight")) + 40, 16000)
        self.driver.set_window_size(1300, height)
        out = ARTIFACTS / f"{name}.png"
        self.driver.save_screenshot(str(out))
        return out
