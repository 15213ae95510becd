"""Linking and unlinking social accounts in a real browser, on a phone-sized screen.

From the preference centre, as a person arriving from an email: a Mastodon account by
signing in on a (recorded) instance on loopback, a Bluesky account by a code in the
profile, then unlinking. Screenshots go to ``$SOCIALCRM_SCREENSHOTS`` like the other
browser tests.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page

from socialcrm.config import Settings
from socialcrm.outbound.tokens import tokens_for
from socialcrm.outbound.urls import ALLOW_HOSTS_ENV
from socialcrm.store.warehouse import Warehouse
from socialcrm.web.app import create_app
from tests.preferences.social_world import SocialWorld, social_world
from tests.web.conftest import serve
from tests.web.test_browser import browser, shots

__all__ = ["browser", "shots"]  # the browser and screenshot folder of the browser tests

DID = "did:plc:z72i7hdynmk6r22z27h6tvur"


@dataclass
class Public:
    url: str
    settings: Settings
    world: SocialWorld
    token: str


@pytest.fixture
def public(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Public]:
    monkeypatch.setenv(ALLOW_HOSTS_ENV, "127.0.0.1")  # the recorded servers are on loopback
    settings = Settings(home=tmp_path / "ws", brand_name="Nordlicht")
    with social_world() as world:
        app = create_app(settings)
        app.state.linking_reach = world.reach()
        token = tokens_for(settings).make_timed("preferences", ["c1"])
        for url in serve(settings, app):
            yield Public(url, settings, world, token)


def _phone(browser: Browser) -> Page:
    page = browser.new_page(viewport={"width": 390, "height": 844})
    errors: list[str] = []

    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.errors = errors  # type: ignore[attr-defined]
    return page


def _fits(page: Page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= 390


def _linked(public: Public) -> list[tuple[str, str]]:
    wh = Warehouse(public.settings.warehouse_dir)
    rows = wh.read_arrow("identities").to_pylist() if wh.exists("identities") else []
    return sorted((r["kind"], r["value"]) for r in rows if r["customer_id"] == "c1")


def test_link_and_unlink_social_accounts(browser: Browser, public: Public, shots: Path) -> None:
    page = _phone(browser)
    page.goto(f"{public.url}/preferences/{public.token}")
    page.click(f"a[href='/preferences/{public.token}/link']")
    page.wait_for_url(f"{public.url}/preferences/{public.token}/link")
    assert page.locator("#linked").inner_text().endswith("No social account is linked to you.")
    assert page.locator("h2", has_text="Prove this account is yours").is_visible()
    _fits(page)
    page.screenshot(path=str(shots / "linking-empty-390.png"), full_page=True)

    # Mastodon: sign in on the person's own instance
    page.fill("#mastodon-form input[name=handle]", "@anna@mastodon.test")
    page.click("#mastodon-form button[value=signin]")
    cont = page.locator("#continue-link")
    assert cont.inner_text() == "Continue to mastodon.test"
    _fits(page)
    page.screenshot(path=str(shots / "linking-continue-390.png"), full_page=True)
    cont.click()  # the instance signs the person in and sends them back
    page.wait_for_url(f"{public.url}/preferences/{public.token}/link")
    assert page.locator("#flash").inner_text() == "Done: anna@mastodon.test is linked to you."
    assert "anna@mastodon.test" in page.locator("#linked ul.accounts").inner_text()
    assert _linked(public) == [("mastodon", "anna@mastodon.test")]

    # Bluesky: a code in the profile's description
    public.world.handles["anna.bsky.social"] = DID
    public.world.profiles["anna.bsky.social"] = {"did": DID, "description": "Lamps."}
    page.fill("#bluesky-form input[name=handle]", "anna.bsky.social")
    page.click("#bluesky-form button")
    code = page.locator("#pending p.code code").inner_text()
    assert code.startswith("crm-") and len(code) == 14
    _fits(page)
    page.screenshot(path=str(shots / "linking-code-390.png"), full_page=True)
    public.world.profiles["anna.bsky.social"]["description"] = f"Lamps and bread. {code}"
    page.click("#pending button:has-text('Check now')")
    assert "anna.bsky.social is linked to you" in page.locator("#flash").inner_text()
    assert page.locator("#linked ul.accounts li").count() == 2
    assert page.locator("#pending").count() == 0
    _fits(page)
    page.screenshot(path=str(shots / "linking-two-linked-390.png"), full_page=True)

    # unlink one, then the other: the consent is withdrawn with the last
    page.locator("#linked li", has_text="anna@mastodon.test").locator("button").click()
    assert page.locator("#flash").inner_text() == "anna@mastodon.test is no longer linked to you."
    page.locator("#linked li", has_text="anna.bsky.social").locator("button").click()
    assert "your consent to linking is withdrawn" in page.locator("#flash").inner_text()
    assert page.locator("#linked").inner_text().endswith("No social account is linked to you.")
    assert _linked(public) == []
    _fits(page)
    page.screenshot(path=str(shots / "linking-unlinked-390.png"), full_page=True)
    assert page.errors == []  # type: ignore[attr-defined]  # no CSP violation, no script error
