"""The inbox on the web: roles, masking, CSRF, escaping, and a browser working one
conversation from new to resolved."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import sync_playwright
from sqlalchemy import select

from socialcrm.appdb.db import AppDB
from socialcrm.appdb.models import Conversation, OutboxItem
from socialcrm.config import Settings
from socialcrm.responding import inbox, workflow
from tests.web.conftest import PASSWORD, XSS, Site, build_warehouse, seed_users, serve, sign_in

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
T = datetime(2026, 11, 20, 8, 0)
OVERFLOW = "document.documentElement.scrollWidth - document.documentElement.clientWidth"


def seed_inbox(db_url: str, settings: Settings) -> None:
    db = AppDB(db_url)
    posts = [
        inbox.Post("mastodon", "m1", "amelia@fosstodon.org", "my order is two weeks late",
                   T, topic_id=1, sentiment_score=-0.8, intent="complaint"),
        inbox.Post("mastodon", "m2", "bob@mastodon.social", XSS, T + timedelta(minutes=5),
                   topic_id=2, sentiment_score=0.0, intent="question"),
        inbox.Post("mastodon", "m3", "carol@mstdn.io", "love it, thanks", T, topic_id=1,
                   sentiment_score=0.7, intent="praise"),
    ]  # fmt: skip
    ctx = inbox.Context(
        influence={("mastodon", "amelia@fosstodon.org"): 85.0},
        customer_of={("mastodon", "amelia@fosstodon.org"): "c000"},
        clv={"c000": 1000.0},
        risk_band={"c000": "high"},
    )
    with db.session() as s:
        inbox.ingest(s, posts, settings, ctx, now=T + timedelta(hours=1))
        workflow.save_reply(s, "sorry-late", "Sorry {handle}, we are on it.", "test")
    db.close()


@pytest.fixture(scope="module")
def isite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    home = tmp_path_factory.mktemp("inbox") / "ws"
    build_warehouse(home / "warehouse")
    settings = Settings(home=home, web_token_cache_seconds=0, inbox_brand_handle="acme")
    tokens = seed_users(settings.resolved_database_url)
    seed_inbox(settings.resolved_database_url, settings)
    for url in serve(settings):
        yield Site(url, settings, tokens, settings.resolved_database_url)


def test_api_roles_and_masking(isite: Site) -> None:
    with isite.api("agent") as c:
        items = c.get("/api/v1/inbox").json()["items"]
        assert items[0]["author_handle"] == "amelia@fosstodon.org"
        assert items[0]["priority"] >= items[1]["priority"] >= items[2]["priority"]
        one = c.get(f"/api/v1/inbox/{items[0]['id']}").json()
        assert one["explanation"][0]["points"] >= one["explanation"][-1]["points"]
        assert one["customer_id"] == "c000" and one["clv"] == 1000.0
    with isite.api("viewer") as c:
        items = c.get("/api/v1/inbox").json()["items"]
        assert all(i["author_handle"].endswith("•••") and i["subject"] == "•••" for i in items)
        assert (
            c.post(f"/api/v1/inbox/{items[0]['id']}/notes", json={"text": "x"}).status_code == 403
        )
    with isite.api("analyst") as c:
        r = c.get("/api/v1/inbox/metrics")
        assert r.status_code == 200 and r.json()["conversations"] == 3
        conv = c.get("/api/v1/inbox").json()["items"][0]["id"]
        r = c.post(f"/api/v1/inbox/{conv}/state", json={"state": "open"})
        assert r.status_code == 403 and "only agents" in r.json()["error"]["message"]
    with isite.api("agent") as c:
        bad = c.post("/api/v1/inbox/999999/state", json={"state": "open"})
        assert bad.status_code == 404
        r = c.post(f"/api/v1/inbox/{conv}/state", json={"state": "closed"})
        assert r.status_code == 409


def test_pages_escape_and_forms_need_csrf(isite: Site) -> None:
    c = sign_in(isite.url, "agent@test.io")
    page = c.get("/inbox").text
    assert XSS not in page and "&lt;script&gt;" in page
    db = AppDB(isite.db_url)
    with db.session() as s:
        bob = s.scalar(
            select(Conversation).where(Conversation.author_handle == "bob@mastodon.social")
        )
        conv_id = bob.id
    db.close()
    html = c.get(f"/inbox/{conv_id}").text
    assert XSS not in html
    r = c.post(f"/inbox/{conv_id}/note", data={"text": "no token"})
    assert r.status_code == 403
    token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    r = c.post(f"/inbox/{conv_id}/note", data={"text": XSS, "csrf_token": token})
    assert r.status_code == 303
    assert XSS not in c.get(f"/inbox/{conv_id}").text
    v = sign_in(isite.url, "viewer@test.io")
    vhtml = v.get(f"/inbox/{conv_id}").text
    assert "bob@mastodon.social" not in vhtml and 'action="/inbox/' not in vhtml
    assert httpx.get(f"{isite.url}/inbox", follow_redirects=False).status_code == 303


def test_browser_works_a_conversation_from_new_to_resolved(isite: Site) -> None:
    if not Path(CHROMIUM).exists():
        pytest.fail("chromium is needed for the browser tests: run `make system-deps`")
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=["--headless", "--no-sandbox",
                                                                 "--disable-gpu"])  # fmt: skip
        page = b.new_page()
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.goto(f"{isite.url}/inbox")
        page.fill("input[name=email]", "agent@test.io")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(f"{isite.url}/inbox")
        # The influential, valuable detractor is at the top.
        page.click("table.inbox tbody tr:first-child a")
        assert page.locator("h1").inner_text().startswith("amelia@fosstodon.org")
        assert page.locator("#state").inner_text() == "new"
        page.select_option("#assign select[name=user_id]", "me")
        page.click("#assign button")
        assert page.locator("#assignee").inner_text() == "agent@test.io"
        assert page.locator("#state").inner_text() == "open"
        page.select_option("#reply select[name=saved]", "sorry-late")
        page.click("#reply button")
        assert page.locator("#state").inner_text() == "waiting"
        assert "Sorry amelia@fosstodon.org, we are on it." in page.locator(".thread").inner_text()
        page.fill("#note textarea", "Courier lost the parcel; refund offered.")
        page.click("#note button")
        assert "Courier lost the parcel" in page.content()
        page.click("button[value=resolved]")
        assert page.locator("#state").inner_text() == "resolved"
        assert errors == []
        b.close()
    db = AppDB(isite.db_url)
    with db.session() as s:
        conv = s.scalar(
            select(Conversation).where(Conversation.author_handle == "amelia@fosstodon.org")
        )
        assert conv.state == "resolved" and conv.first_response_at is not None
        items = s.scalars(select(OutboxItem).where(OutboxItem.conversation_id == conv.id)).all()
        assert len(items) == 1 and items[0].status == "pending"
    db.close()


def test_a_long_queue_is_counted_exactly_and_reads_on_a_phone(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """More conversations than the list's count cap: the header, the queue list and the
    pager all say the exact number (no "1,000+" beside 1,030); the SLA column in words."""
    from socialcrm.responding.queries import COUNT_CAP

    home = tmp_path_factory.mktemp("long") / "ws"
    build_warehouse(home / "warehouse")
    settings = Settings(home=home, web_token_cache_seconds=0)
    seed_users(settings.resolved_database_url)
    n = COUNT_CAP + 30
    db = AppDB(settings.resolved_database_url)
    posts = [inbox.Post("mastodon", f"q{i}", f"user{i}@mstdn.io", f"where is order {i}?",
                        T - timedelta(hours=i), intent="question") for i in range(n)]  # fmt: skip
    with db.session() as s:
        inbox.ingest(s, posts, settings, now=T)
    db.close()
    for url in serve(settings):
        c = sign_in(url, "agent@test.io")
        html = c.get("/inbox").text
        total = re.search(r'id="inbox-total">([\d,]+)<', html)
        assert total and total.group(1) == f"{n:,}"
        assert f"all {n:,}" in html and "1,000+" not in html
        assert f"page 1 of {-(-n // 50)}" in html
        assert "no answer" in html  # the SLA column says what is late, in words
        with sync_playwright() as pw:
            b = pw.chromium.launch(executable_path=CHROMIUM, args=["--headless", "--no-sandbox",
                                                                     "--disable-gpu"])  # fmt: skip
            page = b.new_page(viewport={"width": 390, "height": 900})
            page.goto(f"{url}/login")
            page.fill("input[name=email]", "agent@test.io")
            page.fill("input[name=password]", PASSWORD)
            page.click("button[type=submit]")
            for width in (390, 1400):
                page.set_viewport_size({"width": width, "height": 900})
                for path in ("/inbox", "/inbox/1"):
                    page.goto(f"{url}{path}")
                    wide = page.evaluate(OVERFLOW)
                    assert wide <= 0, f"{path} scrolls sideways at {width} px"
            b.close()


def test_an_agent_votes_for_a_customer_found_by_name(isite: Site) -> None:
    """No raw ids to type: the agent searches a name, picks the person, the vote counts."""
    with isite.api("agent") as api:
        idea = api.post("/api/v1/ideas", json={"title": "Longer warranty"}).json()["id"]
    c = sign_in(isite.url, "agent@test.io")
    found = c.get(f"/ideas/{idea}", params={"who": "Ada1"}).text
    picks = re.findall(r'name="voter" value="([^"]+)"', found)
    assert "c001" in picks and "Ada1 Smith" in found  # namesakes (Ada11…) to choose from
    assert "c001" not in re.sub(r'value="[^"]*"', "", found)  # the id is no text to read
    token = re.search(r'name="csrf_token" value="([^"]+)"', found).group(1)
    r = c.post(f"/ideas/{idea}/vote", data={"voter": "c001", "csrf_token": token})
    assert r.status_code == 303
    page = c.get(f"/ideas/{idea}").text
    assert "Ada1 Smith" in page and re.search(r'id="voters"', page)
    nobody = c.get(f"/ideas/{idea}", params={"who": "Zzyzx"}).text
    assert "Nobody called" in nobody
    with isite.api("agent") as api:
        assert api.get(f"/api/v1/ideas/{idea}").json()["votes"] == 1
