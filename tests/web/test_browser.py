"""The app in a real browser: Playwright driving Debian's chromium, headless.

Screenshots of every page go to ``$SOCIALCRM_SCREENSHOTS`` (default: a folder under
pytest's tmp dir, printed) so a person can judge how the product looks.
"""

from __future__ import annotations

import csv
import io
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from tests.web.conftest import (
    EMAIL_GRANTED,
    PASSWORD,
    RUN_DATES,
    SEGMENT_ACTION,
    XSS,
    FullSite,
    N,
    Site,
    clv_of,
    segment_of,
    segment_sizes,
    trinity_of,
)

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
        "/programs": 0,
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


def test_360_shows_trinity_and_next_best_action(
    browser: Browser, full_site: FullSite, shots: Path
) -> None:
    page = signed_in(browser, full_site, "viewer")
    page.goto(f"{full_site.url}/customers/c004")
    assert page.locator("#trinity-score").inner_text() == f"{trinity_of(4):.1f}"
    nba = page.locator("#next-best-action")
    action, channel = SEGMENT_ACTION[segment_of(4)]
    first = nba.locator("table tr").nth(1)
    assert first.locator("td").nth(1).inner_text().startswith(action.replace("_", " "))
    assert first.locator("td").nth(2).inner_text() == channel
    assert first.locator("td").nth(3).inner_text() == f"{0.05 * clv_of(4) - 1.0:,.2f} EUR"
    why = page.locator("#why-scores").inner_text()
    assert "unknown: no consent to linking their social accounts" in why
    assert page.locator("#four-ps svg.chart").count() == 1
    page.screenshot(path=str(shots / "customer-360-trinity.png"), full_page=True)
    page.goto(f"{full_site.url}/customers/c000")
    convs = page.locator("#conversations").inner_text()
    assert "o•••" in convs and "open_author" not in convs  # a viewer sees it masked
    assert page.errors == []


def test_segment_trends_and_csv_export(browser: Browser, full_site: FullSite, shots: Path) -> None:
    page = signed_in(browser, full_site, "analyst")
    page.goto(f"{full_site.url}/segments")
    charts = page.locator("#trends div.trend svg.chart")
    assert charts.count() == len(segment_sizes(1))
    assert charts.first.locator("circle.dot").count() == len(RUN_DATES)
    page.screenshot(path=str(shots / "segments-trends.png"), full_page=True)
    with page.expect_download() as info:
        page.locator("#segment-at_risk_high_value form.export button").click()
    download = info.value
    assert download.suggested_filename == "audience-at_risk_high_value.csv"
    rows = list(csv.DictReader(io.StringIO(Path(download.path()).read_text())))
    at_risk = {f"c{i:03d}" for i in range(N) if segment_of(i) == "at_risk_high_value"}
    assert [r["customer_id"] for r in rows] == sorted(at_risk & set(EMAIL_GRANTED))
    assert page.errors == []


def test_a_viewer_cannot_export(browser: Browser, full_site: FullSite) -> None:
    page = signed_in(browser, full_site, "viewer")
    page.goto(f"{full_site.url}/segments")
    assert page.locator("form.export").count() == 0
    token = page.locator("form.who input[name=csrf_token]").get_attribute("value")
    refused = page.request.post(
        f"{full_site.url}/segments/at_risk_high_value/export", form={"csrf_token": token}
    )
    assert refused.status == 403


def test_360_history_and_household_on_a_phone(
    browser: Browser, family_site: Site, shots: Path
) -> None:
    page = signed_in(browser, family_site, "viewer")
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{family_site.url}/customers/c000")
    history = page.locator("#id-history")
    home = page.locator("#household")
    assert "split: 1 record moved to customer c021" in history.inner_text()
    assert "•••, 10115 Berlin, DE" in home.inner_text()  # a viewer: the street masked
    page.screenshot(path=str(shots / "customer-360-phone.png"), full_page=True)
    # usable at 390 px: nothing wider than the screen, the cards within it
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    for card in (history, home):
        box = card.bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390
    home.locator("a", has_text="Ada3 Lovelace").click()
    page.wait_for_url(f"{family_site.url}/customers/c003")
    assert "Bob0 Lovelace" in page.locator("#household").inner_text()
    assert page.errors == []  # type: ignore[attr-defined]
