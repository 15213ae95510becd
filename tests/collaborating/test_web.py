"""Ideas pages and API on a real server: roles, CSRF, and a browser moving an idea to shipped."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, sync_playwright

from socialcrm.appdb.db import AppDB
from socialcrm.collaborating import ideas
from socialcrm.config import Settings
from tests.collaborating.conftest import XSS, build
from tests.outbound.receiver import receiver
from tests.web.conftest import PASSWORD, Site, seed_users, serve, sign_in

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    home = tmp_path_factory.mktemp("ideas") / "ws"
    build(home / "warehouse")
    settings = Settings(
        home=home, web_token_cache_seconds=0, webhook_backoff_seconds=0, webhook_disable_after=2
    )
    tokens = seed_users(settings.resolved_database_url)
    for url in serve(settings):
        yield Site(url, settings, tokens, settings.resolved_database_url)


def test_roles_on_the_ideas_api(site: Site) -> None:
    with site.api("viewer") as viewer, site.api("agent") as agent, site.api("admin") as admin:
        assert viewer.get("/api/v1/ideas").status_code == 200
        r = viewer.post("/api/v1/ideas", json={"title": "Dark mode"})
        assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"
        r = agent.post("/api/v1/ideas", json={"title": f"Dark mode {XSS}", "customer_id": "k1"})
        assert r.status_code == 201, r.text
        idea_id = r.json()["id"]
        assert agent.post(f"/api/v1/ideas/{idea_id}/votes", json={"voter": "k2"}).json()["new"]
        r = agent.post(f"/api/v1/ideas/{idea_id}/status", json={"status": "planned", "reason": ""})
        assert r.status_code == 422  # a status needs its public reason
        r = agent.post(
            f"/api/v1/ideas/{idea_id}/status", json={"status": "planned", "reason": "Q3"}
        )
        assert r.json()["notifications"] == [{"channel": "email", "status": "queued"}]
        seen = viewer.get(f"/api/v1/ideas/{idea_id}").json()
        assert seen["status"] == "planned" and seen["votes"] == 1 and seen["clv"] == 100.0
        assert "voters" not in seen  # viewers see counts, not who voted
        assert viewer.get("/api/v1/webhooks").status_code == 403
        assert agent.post("/api/v1/webhooks", json={"url": "http://x.io/h"}).status_code == 403
        r = admin.post("/api/v1/webhooks", json={"url": "http://127.0.0.1:9/h", "events": []})
        assert r.status_code == 400 and "loopback" in r.text  # no SSRF through the API either
        hook = {"url": "https://hooks.example.com/h", "events": []}
        r = admin.post("/api/v1/webhooks", json=hook)
        assert r.status_code == 201 and r.json()["secret"].startswith("whsec_")
        assert "secret" not in admin.get("/api/v1/webhooks").json()["items"][0]
    # a signed-in browser session cannot write through the API (no CSRF token there)
    c = sign_in(site.url, "agent@test.io")
    assert c.post("/api/v1/ideas", json={"title": "via cookie"}).status_code == 403


def test_forms_need_the_csrf_token_and_the_agent_role(site: Site) -> None:
    agent = sign_in(site.url, "agent@test.io")
    r = agent.post("/ideas", data={"title": "No token"})
    assert r.status_code == 403 and "CSRF" in r.text
    viewer = sign_in(site.url, "viewer@test.io")
    token = re.search(r'name="csrf_token" value="([^"]+)"', viewer.get("/ideas").text).group(1)
    assert viewer.post("/ideas", data={"title": "x", "csrf_token": token}).status_code == 403
    assert 'method="post" action="/ideas"' not in viewer.get("/ideas").text  # no form
    assert httpx.get(f"{site.url}/ideas", follow_redirects=False).status_code == 303


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail("chromium is needed for the browser tests: run `make system-deps`")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--headless", "--no-sandbox"])
        yield b
        b.close()


def test_browser_moves_an_idea_from_new_to_shipped_and_notifies(
    browser: Browser, site: Site
) -> None:
    page = browser.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(f"{site.url}/ideas")
    page.fill("input[name=email]", "agent@test.io")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{site.url}/ideas")
    page.fill("form[action='/ideas'] input[name=title]", f"Longer cable {XSS}")
    page.fill("form[action='/ideas'] input[name=asked_by]", "k1")
    page.click("form[method=post][action='/ideas'] button")
    page.wait_for_url(re.compile(r"/ideas/\d+$"))
    assert page.locator("#status").inner_text() == "New"
    assert XSS in page.locator("h1").inner_text()  # shown as text, never run
    for status, label in [
        ("under_review", "Under review"),
        ("planned", "Planned"),
        ("in_progress", "In progress"),
        ("shipped", "Shipped"),
    ]:
        page.select_option("select[name=status]", status)
        page.fill("input[name=reason]", f"Reason for {label}")
        page.click("form[action$='/status'] button")
        page.wait_for_load_state()
        assert page.locator("#status").inner_text() == label
    assert page.locator("#reason").inner_text() == "Reason for Shipped"
    rows = page.locator("#notifications tr").all_inner_texts()
    assert len(rows) == 1 + 4  # a header and one notification per change
    assert all("k1" in r and "email" in r and "queued" in r for r in rows[1:])
    page.goto(f"{site.url}/ideas?status=shipped")
    assert "Longer cable" in page.locator("table.list").inner_text()
    assert dialogs == []
    page.close()


def _csrf(c: httpx.Client, path: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', c.get(path).text).group(1)


def test_webhooks_page_shows_disabling_notice_then_enable_and_replay(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the receiver listens on loopback: allow-listed, as an operator would
    monkeypatch.setenv("SOCIALCRM_OUTBOUND_ALLOW_HOSTS", "127.0.0.1")
    admin = sign_in(site.url, "admin@test.io")
    assert sign_in(site.url, "agent@test.io").get("/webhooks").status_code == 403
    with receiver([], default=500) as r, site.api("admin") as api, site.api("agent") as agent:
        sub = api.post("/api/v1/webhooks", json={"url": r.url, "events": ["idea.status_changed"]})
        sub_id = sub.json()["id"]
        idea = agent.post("/api/v1/ideas", json={"title": "Webhook me"}).json()["id"]
        agent.post(f"/api/v1/ideas/{idea}/status", json={"status": "planned", "reason": "ok"})
        token = _csrf(admin, "/webhooks")
        assert admin.post("/webhooks/deliver", data={"csrf_token": token}).status_code == 303
        page = admin.get("/webhooks").text
        assert f"Webhook {sub_id} to {r.url} was disabled after 2 failed attempts" in page
        assert len(r.got) == 2
        r.default = 200
        assert admin.post(f"/webhooks/{sub_id}/enable", data={}).status_code == 403  # no token
        admin.post(f"/webhooks/{sub_id}/enable", data={"csrf_token": token})
        admin.post("/webhooks/deliver", data={"csrf_token": token})
        mine = [
            d for d in api.get("/api/v1/webhooks/deliveries").json()["items"]
            if d["subscription_id"] == sub_id and d["status"] == "delivered"
        ]  # fmt: skip
        assert mine
        admin.post(
            "/webhooks/replay", data={"csrf_token": token, "delivery_id": mine[0]["delivery_id"]}
        )
        admin.post("/webhooks/deliver", data={"csrf_token": token})
    ids = [g.headers["Socialcrm-Delivery-Id"] for g in r.got if g.answered == 200]
    assert ids.count(mine[0]["delivery_id"]) == 2  # delivered, then replayed with the same id


OVERFLOW = "document.documentElement.scrollWidth - document.documentElement.clientWidth"


def test_ideas_admin_and_webhooks_pages_on_a_phone_and_a_desktop(
    browser: Browser, site: Site
) -> None:
    db = AppDB(site.db_url)
    try:
        with db.session() as s:
            for i in range(30):
                ideas.submit(s, f"Board idea {i}", actor="test", source="api")
                ideas.submit(s, f"Proposed idea {i}", actor="sync", source="post", proposed=True)
            waiting = len(ideas.board(s, lambda ids: {}, status="new", proposed=True))
            on_board = len(ideas.board(s, lambda ids: {}, proposed=False))
    finally:
        db.close()
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    page.goto(f"{site.url}/login")
    page.fill("input[name=email]", "admin@test.io")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{site.url}/")
    for width in (390, 1400):
        page.set_viewport_size({"width": width, "height": 900})
        page.goto(f"{site.url}/ideas")
        assert page.evaluate(OVERFLOW) <= 0, f"/ideas scrolls sideways at {width} px"
        assert page.locator("#board-empty").count() == 0  # ideas exist: no empty state
        # "Add an idea" comes before the board; both lists are paged, 25 a page
        top = page.locator("#add-idea").bounding_box()
        board = page.locator("#board").bounding_box()
        assert top is not None and board is not None and top["y"] < board["y"]
        assert page.locator("#board tr.idea-row").count() == min(on_board, 25)
        assert f"page 1 of {-(-on_board // 25)}" in page.locator("#board .pager").inner_text()
        assert page.locator("#proposed form[action$='/decline']").count() == min(waiting, 25)
        for path in ("/admin", "/webhooks"):
            page.goto(f"{site.url}{path}")
            assert page.evaluate(OVERFLOW) <= 0, f"{path} scrolls sideways at {width} px"
        heads = [h.strip().lower() for h in page.locator("th").all_inner_texts()]
        assert "attempts" not in heads
        assert "tries so far" in heads or page.locator("#no-deliveries").count() == 1
    # Decline one proposed idea: it leaves the list, which says one fewer.
    page.goto(f"{site.url}/ideas")
    page.locator("#proposed form[action$='/decline'] button").first.click()
    page.wait_for_url(re.compile(r"/ideas"))
    assert f"{waiting - 1:,}" in page.locator("#proposed h2").inner_text()
    # The board's second page, and its way back.
    page.goto(f"{site.url}/ideas?page=2")
    assert "page 2 of" in page.locator("#board .pager").inner_text()
    assert page.locator("#board .pager a", has_text="previous").count() == 1
    page.close()
