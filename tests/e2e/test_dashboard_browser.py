"""The dashboard in headless Chromium: a real `prism serve`, a small load, sign in, non-empty charts, a screenshot.

Chromium is Debian's (`apt-get install chromium chromium-driver`), driven by selenium through the
packaged chromedriver, so nothing downloads at run time. Outside CI the test skips when they are
missing; with PRISM_REQUIRE_SERVICES=1 (`.ci/run` installs them) it must run. The screenshot is
kept under the test's tmp dir and copied to $PRISM_ARTIFACTS (default tests/artifacts/, ignored
by git); the test prints where.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.e2e.conftest import admin_key, serve
from tests.services import services_required

CHROMIUM = Path(os.environ.get("PRISM_CHROMIUM", "/usr/bin/chromium"))
CHROMEDRIVER = Path(os.environ.get("PRISM_CHROMEDRIVER", "/usr/bin/chromedriver"))
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--hide-scrollbars", "--window-size=1440,1000")
QUOTAS = [{"resource": "searches", "per": "key", "limit": 6, "target": 3, "alert": 5},
          {"resource": "context_packs", "per": "server", "limit": 50, "target": 10, "alert": "80%"},
          {"resource": "requests", "per": "server", "limit": 5000, "target": 1000}]


def _module(topic: str, names: list[str]) -> str:
    """A file of several small functions: a pack takes a few of them, so it saves the rest of the file."""
    return "".join(f"def {name}(value):\n    \"\"\"{topic}: {name.replace('_', ' ')}.\"\"\"\n"
                   f"    result = value * {n + 2}\n    return result + {n}\n\n\n" for n, name in enumerate(names))


FILES = {
    "src/auth.py": _module("auth", ["refresh_token", "login_session", "logout_session", "check_password",
                                    "hash_password", "issue_cookie", "expire_tokens", "rotate_secret"]),
    "src/billing.py": _module("billing", ["invoice_total", "apply_discount", "tax_rate", "refund_order",
                                          "charge_card", "send_receipt", "currency_round", "late_fee"]),
    "src/store.py": _module("store", ["cart_add_item", "cart_remove_item", "cart_total", "checkout",
                                      "reserve_stock", "release_stock", "ship_order", "track_parcel"]),
}
ARTIFACT = "dashboard.png"


@pytest.fixture
def chromium_paths() -> tuple[Path, Path]:
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.is_file()]
    if missing:
        if services_required():
            pytest.fail(f"headless Chromium is required in CI but {', '.join(missing)} is missing", pytrace=False)
        pytest.skip(f"Chromium not installed ({', '.join(missing)}): apt-get install -y chromium chromium-driver")
    return CHROMIUM, CHROMEDRIVER


@pytest.fixture
def browser(chromium_paths: tuple[Path, Path], tmp_path: Path) -> Iterator[Any]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(chromium_paths[0])
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path / 'chromium-profile'}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    # An explicit driver path: selenium-manager (which would download one) never runs.
    driver = webdriver.Chrome(options=options, service=Service(str(chromium_paths[1]),
                                                               log_output=str(tmp_path / "chromedriver.log")))
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()


def run_load(client: httpx.Client, admin: str) -> str:
    """Index a project, search and pack context (some repeated: cache hits), go over a quota; a dashboard key."""
    headers = {"Authorization": f"Bearer {admin}"}
    assert client.post("/api/v1/projects", json={"name": "shop"}, headers=headers).status_code == 201
    files = [{"path": path, "content": text} for path, text in FILES.items()]
    assert client.post("/api/v1/projects/shop/index", json={"files": files}, headers=headers).status_code == 200
    assert client.post("/api/v1/projects", json={"name": "docs"}, headers=headers).status_code == 201
    queries = ["refresh token", "invoice total", "refresh token", "cart add item", "discount", "refresh token"]
    for query in queries:  # six: the key's searches quota (limit 6) is then used up
        answer = client.post("/api/v1/projects/shop/search", json={"query": query}, headers=headers)
        assert answer.status_code == 200, answer.text
    over = client.post("/api/v1/projects/shop/search", json={"query": "one too many"}, headers=headers)
    assert over.status_code == 429 and over.json()["error"]["code"] == "quota_exceeded"
    for query in ["login session", "invoice total", "login session"]:
        answer = client.post("/api/v1/projects/shop/context", json={"query": query, "budget_tokens": 120},
                             headers=headers)
        assert answer.status_code == 200, answer.text
    made = client.post("/api/v1/keys", headers=headers, json={
        "name": "dashboard", "actions": ["usage.read", "metrics.read", "audit.read"]})
    assert made.status_code == 201, made.text
    return str(made.json()["api_key"])


def keep(screenshot: Path) -> Path:
    """Copy the screenshot where a person (or CI) finds it after the run."""
    folder = Path(os.environ.get("PRISM_ARTIFACTS") or Path(__file__).resolve().parents[1] / "artifacts")
    folder.mkdir(parents=True, exist_ok=True)
    kept = folder / screenshot.name
    shutil.copyfile(screenshot, kept)
    return kept


def full_page_png(driver: Any) -> bytes:
    """The whole page, below the fold too (DevTools' captureBeyondViewport)."""
    size = driver.execute_cdp_cmd("Page.getLayoutMetrics", {})["cssContentSize"]
    shot = driver.execute_cdp_cmd("Page.captureScreenshot", {
        "format": "png", "captureBeyondViewport": True,
        "clip": {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1}})
    return base64.b64decode(shot["data"])


def count(driver: Any, selector: str) -> int:
    return int(driver.execute_script("return document.querySelectorAll(arguments[0]).length", selector))


def text(driver: Any, selector: str) -> list[str]:
    return list(driver.execute_script(
        "return Array.from(document.querySelectorAll(arguments[0]), e => e.textContent.trim())", selector))


@pytest.mark.slow
def test_dashboard_after_a_load_run_in_headless_chromium(browser: Any, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    home = tmp_path / "home"
    admin = admin_key(home)
    with serve(home, tmp_path / "server.log", PRISM_QUOTAS=json.dumps(QUOTAS)) as (client, _):
        dashboard_key = run_load(client, admin)
        base = str(client.base_url).rstrip("/")
        browser.get(f"{base}/dashboard")
        wait = WebDriverWait(browser, 30)
        wait.until(lambda d: d.execute_script("return document.body.dataset.state") == "signin")
        assert not browser.find_element(By.ID, "signout").is_displayed()

        # A key without usage.read is refused on the form, with the server's reason.
        browser.find_element(By.ID, "key").send_keys("prism_not-a-real-key")
        browser.find_element(By.ID, "signin-button").click()
        wait.until(lambda d: d.find_element(By.ID, "signin-error").is_displayed())
        assert browser.execute_script("return sessionStorage.length") == 0

        field = browser.find_element(By.ID, "key")
        field.clear()
        field.send_keys(dashboard_key)
        browser.find_element(By.ID, "signin-button").click()
        wait.until(lambda d: d.execute_script("return document.body.dataset.state") == "ready")

        # The key lives in this tab's sessionStorage only: not in the URL, not in a cookie.
        assert dashboard_key not in browser.current_url
        assert browser.get_cookies() == []
        stored = browser.execute_script("return Object.values(sessionStorage)")
        assert stored == [dashboard_key]

        assert count(browser, "#chart-tokens rect.bar.served") >= 1
        assert count(browser, "#chart-tokens rect.bar.saved") >= 1
        assert count(browser, "#chart-rates circle.point.cache") >= 1
        assert count(browser, "#chart-rates path.line") == 2
        assert count(browser, "#chart-latency rect.bar") >= 1
        bars = count(browser, "#quotas li")  # a row per quota and subject (each key that made requests)
        assert bars >= len(QUOTAS)
        assert count(browser, "#quotas li.over") == 1  # the admin key's searches: 6 of 6
        assert count(browser, "#quotas line.mark.target") == bars  # every quota here has a target
        assert count(browser, "#quotas line.mark.alert") == bars
        tiles = dict(zip(text(browser, ".tile .label"), text(browser, ".tile .value"), strict=True))
        assert int(tiles["Tokens served today"].replace(",", "")) > 0
        assert int(tiles["Requests today"].replace(",", "")) >= 12
        assert tiles["Cache hit rate today"].endswith("%")
        assert tiles["Latency p95"].endswith((" ms", " s"))
        projects = text(browser, "#indexes tbody th")
        assert sorted(projects) == ["docs", "shop"]
        assert any("ago" in cell for cell in text(browser, "#indexes .pill"))
        events = text(browser, "#audit tbody tr td:nth-child(2)")
        assert events.count("project.create") == 2 and "key.create" in events

        # Nothing on the page was blocked by its CSP or failed to load.
        problems = [entry["message"] for entry in browser.get_log("browser") if entry["level"] == "SEVERE"
                    and "prism_not-a-real-key" not in entry["message"] and "/api/v1/dashboard" not in entry["message"]]
        assert problems == []

        screenshot = tmp_path / ARTIFACT
        screenshot.write_bytes(full_page_png(browser))
        assert screenshot.stat().st_size > 20_000
        print(f"dashboard screenshot: {keep(screenshot)}")

        browser.find_element(By.ID, "signout").click()
        wait.until(lambda d: d.execute_script("return document.body.dataset.state") == "signin")
        assert browser.execute_script("return sessionStorage.length") == 0
