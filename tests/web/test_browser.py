"""The app in a real browser: Playwright driving Debian's chromium, headless.

Screenshots of every page go to ``$SOCIALCRM_SCREENSHOTS`` (default: a folder under
pytest's tmp dir, printed) so a person can judge how the product looks.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from tests.web.conftest import PASSWORD, XSS, Site

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail("chromium is needed for the browser tests: run `make system-deps`")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = Path(os.environ.get("SOCIALCRM_SCREENSHOTS") or tmp_path_factory.mktemp("shots"))
    folder.mkdir(parents=True, exist_ok=True)
    print(f"\nscreenshots in {folder}")
    return folder


def signed_in(browser: Browser, site: Site, role: str) -> Page:
    page = browser.new_page(viewport={"width": 1360, "height": 900})
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("dialog", lambda d: (errors.append(f"dialog: {d.message}"), d.dismiss()))
    page.errors = errors  # type: ignore[attr-defined]
    page.goto(f"{site.url}/customers")
    assert page.url.endswith("/login?next=/customers")
    page.fill("input[name=email]", f"{role}@test.io")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{site.url}/customers")
    return page


def test_each_page_renders_with_data_and_charts(browser: Browser, site: Site, shots: Path) -> None:
    page = signed_in(browser, site, "admin")
    expected_charts = {
        "/": 4,
        "/customers": 0,
        "/customers/c000": 1,
        "/listening": 3,
        "/influencers": 1,
        "/segments": 0,
        "/admin": 0,
    }
    for path, charts in expected_charts.items():
        page.goto(f"{site.url}{path}")
        assert page.locator("header.top").is_visible(), path
        assert page.locator("svg.chart").count() >= charts, path
        name = path.strip("/").replace("/", "-") or "overview"
        page.screenshot(path=str(shots / f"{name}.png"), full_page=True)
    page.goto(f"{site.url}/customers?risk_band=very_high")
    rows = page.locator("table.list tbody tr")
    assert rows.count() == 12  # c003, c007, … c047: every fourth of the 50 scored
    rows.first.locator("a").click()
    assert page.locator("h1").inner_text().startswith("Ada3 Lovelace")
    assert page.errors == []  # no CSP violations, no script errors


def test_roles_hold_in_the_browser(browser: Browser, site: Site, shots: Path) -> None:
    page = signed_in(browser, site, "viewer")
    page.goto(f"{site.url}/customers/c000")
    body = page.locator("main").inner_text()
    assert "user0@example.com" not in body and "u•••@e•••.com" in body
    page.screenshot(path=str(shots / "customer-as-viewer.png"), full_page=True)
    assert page.locator("nav a[href='/admin']").count() == 0
    response = page.goto(f"{site.url}/admin")
    assert response is not None and response.status == 403


def test_xss_payload_stays_text(browser: Browser, site: Site, shots: Path) -> None:
    page = signed_in(browser, site, "agent")
    page.goto(f"{site.url}/listening?q=alert")
    assert page.locator("ul.posts p.text").first.inner_text() == XSS
    assert page.locator("main script, main img").count() == 0
    page.screenshot(path=str(shots / "listening-xss.png"), full_page=True)
    assert page.errors == []  # no alert() dialog fired


def test_form_posts_without_csrf_are_refused(browser: Browser, site: Site) -> None:
    page = signed_in(browser, site, "analyst")
    # A cross-site form would carry the cookie but not the token.
    refused = page.request.post(f"{site.url}/logout", form={"x": "1"})
    assert refused.status == 403
    page.goto(f"{site.url}/")
    assert page.locator("header.top").is_visible()  # still signed in
    page.click("form.who button")
    page.wait_for_url(f"{site.url}/login")
