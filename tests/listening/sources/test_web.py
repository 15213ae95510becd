"""The served app collects in the background (SOCIALCRM_LISTEN_INTERVAL_SECONDS), and the
Listening page shows each source's health in words, with an empty state."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from socialcrm.appdb.db import AppDB
from socialcrm.config import Settings
from socialcrm.listening import collect as collecting
from socialcrm.listening.saved_queries import add_query
from tests.listening.sources import fakes
from tests.waiting import wait_until
from tests.web.conftest import PASSWORD, build_warehouse, seed_users, serve, sign_in


def _site(home: Path, **kw: object) -> Iterator[str]:
    build_warehouse(home / "warehouse")
    settings = Settings(home=home, web_token_cache_seconds=0, **kw)  # type: ignore[arg-type]
    seed_users(settings.resolved_database_url)
    yield from serve(settings)


def _both_ran(db: AppDB, good: str, bad: str) -> bool:
    got = {h.source: h for h in collecting.health(db)}
    return got[good].ok and got[bad].failures > 0


def test_listening_page_empty_state(tmp_path: Path) -> None:
    for url in _site(tmp_path / "ws"):
        c = sign_in(url, "viewer@test.io")
        page = c.get("/listening").text
        c.close()
        assert "No sources yet" in page and "socialcrm listen collect" in page


def test_background_collection_and_source_health_on_the_listening_page(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOCIALCRM_OUTBOUND_ALLOW_HOSTS", "127.0.0.1")
    statuses = [fakes.mastodon_status(n, f"#coffee <b>{n}</b>") for n in range(1, 6)]
    routes = {"mastodon": fakes.Mastodon(statuses), "gone": fakes.HackerNews([])}
    home = tmp_path / "ws"
    with fakes.LocalServer(routes) as server:  # type: ignore[arg-type]
        good, bad = (
            f"mastodon:{server.url}/mastodon",
            f"hackernews:{server.url}/nothing-here/" + "a-long-path-segment" * 6,
        )
        for url in _site(home, listen_interval_seconds=0.2):
            db = AppDB(Settings(home=home).resolved_database_url)
            try:
                with db.session() as s:
                    add_query(s, "coffee", "#coffee", [good, bad], actor="test")

                wait_until(lambda d=db: _both_ran(d, good, bad), "a background pass over both")
            finally:
                db.close()
            c = sign_in(url, "viewer@test.io")
            page = c.get("/listening").text
            c.close()
            width = _phone_width(url)
    assert "working" in page and "failing" in page
    assert "5 new of 5 fetched" in page
    assert "Last error" in page and "HTTP 404" in page
    assert server.url + "/mastodon" in page
    assert width <= 390  # usable on a phone: the long addresses wrap, nothing overflows


def _phone_width(url: str) -> int:
    """The Listening page's scroll width at 390 px, in the system's chromium."""
    from playwright.sync_api import sync_playwright

    from tests.web.test_browser import ARGS, CHROMIUM

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = b.new_page(viewport={"width": 390, "height": 844})
            page.goto(f"{url}/listening")
            page.fill("input[name=email]", "viewer@test.io")
            page.fill("input[name=password]", PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_url(f"{url}/listening")
            assert "Sources" in page.inner_text("main")
            return int(page.evaluate("document.documentElement.scrollWidth"))
        finally:
            b.close()
