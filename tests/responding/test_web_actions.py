"""Inbox actions on a real server: "turn into idea", "ask a question" and queue filters
through the API, the forms (CSRF, roles), and an agent in chromium; and the app's
background delivery, on only when a test turns it on."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright
from sqlalchemy import func, select

from socialcrm.appdb.db import AppDB
from socialcrm.appdb.models import Conversation, Idea, OutboxItem, utcnow
from socialcrm.config import Settings
from socialcrm.outbound import delivery, webhooks
from socialcrm.responding import inbox, workflow
from socialcrm.web.app import create_app
from tests.outbound.receiver import receiver
from tests.waiting import wait_until
from tests.web.conftest import PASSWORD, XSS, Site, build_warehouse, seed_users, serve, sign_in

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
T = datetime(2026, 11, 20, 8, 0)
ASK = "Hi {handle}, could you send us your order number?"


def seed(db_url: str, settings: Settings) -> dict[str, int]:
    """Amelia (customer c000, topic 1) suggests; Bob (topic 2) asks; Carol (topic 1) praises."""
    db = AppDB(db_url)
    posts = [
        inbox.Post("mastodon", "m1", "amelia@fosstodon.org", "Please add a dark mode to the app",
                   T, topic_id=1, sentiment_score=-0.4, intent="suggestion"),
        inbox.Post("mastodon", "m2", "bob@mastodon.social", "Do you ship to Norway?",
                   T + timedelta(minutes=5), topic_id=2, sentiment_score=0.0, intent="question"),
        inbox.Post("mastodon", "m3", "carol@mstdn.io", f"love it, a red one too? {XSS}", T,
                   topic_id=1, sentiment_score=0.7, intent="praise"),
    ]  # fmt: skip
    ctx = inbox.Context(
        influence={("mastodon", "amelia@fosstodon.org"): 85.0},
        customer_of={("mastodon", "amelia@fosstodon.org"): "c000"},
        clv={"c000": 1000.0},
    )
    with db.session() as s:
        inbox.ingest(s, posts, settings, ctx, now=T + timedelta(hours=1))
        workflow.save_reply(s, "order-number", ASK, "test", question=True)
        workflow.save_reply(s, "thanks", "Thanks {handle}!", "test")
        ids = {c.author_handle.split("@")[0]: c.id for c in s.scalars(select(Conversation))}
    db.close()
    return ids


@pytest.fixture(scope="module")
def asite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Site, dict[str, int]]]:
    home = tmp_path_factory.mktemp("inbox-actions") / "ws"
    build_warehouse(home / "warehouse")
    settings = Settings(home=home, web_token_cache_seconds=0, inbox_brand_handle="acme")
    assert settings.delivery_interval_seconds == 0  # no background delivery in tests
    tokens = seed_users(settings.resolved_database_url)
    ids = seed(settings.resolved_database_url, settings)
    for url in serve(settings):
        yield Site(url, settings, tokens, settings.resolved_database_url), ids


def test_api_turn_into_idea_ask_and_queues(asite: tuple[Site, dict[str, int]]) -> None:
    site, ids = asite
    carol, bob = ids["carol"], ids["bob"]
    with site.api("analyst") as c:
        assert c.post(f"/api/v1/inbox/{carol}/idea", json={}).status_code == 403
        assert c.post(f"/api/v1/inbox/{bob}/ask", json={"question": "?"}).status_code == 403
    with site.api("viewer") as c:
        assert c.post(f"/api/v1/inbox/{carol}/idea", json={}).status_code == 403
    with site.api("agent") as c:
        r = c.post(f"/api/v1/inbox/{carol}/idea", json={"title": "A red one"})
        assert r.status_code == 201, r.text
        idea = r.json()["idea_id"]
        again = c.post(f"/api/v1/inbox/{carol}/idea", json={"title": "Something else"})
        assert again.status_code == 200 and again.json() == r.json() | {"created": False}
        assert c.get(f"/api/v1/inbox/{carol}").json()["idea"]["id"] == idea
        shown = c.get(f"/api/v1/ideas/{idea}").json()
        assert shown["title"] == "A red one" and shown["conversations"] == [carol]
        # carol is linked to no customer: her handle is the contributor
        assert [(x["customer_id"], x["handle"]) for x in shown["contributors"]] == [
            (None, "carol@mstdn.io")]  # fmt: skip
        assert c.post("/api/v1/inbox/999999/idea", json={}).status_code == 404

        qs = c.get("/api/v1/inbox/saved-replies", params={"question": "true"}).json()["items"]
        assert [q["name"] for q in qs] == ["order-number"]
        r = c.post(f"/api/v1/inbox/{bob}/ask", json={"saved": "thanks"})
        assert r.status_code == 409 and "not a question template" in r.json()["error"]["message"]
        r = c.post(f"/api/v1/inbox/{bob}/ask", json={"question": "Which city?", "key": "q-1"})
        assert r.status_code == 200 and r.json()["state"] == "waiting"
        assert r.json()["waiting_since"] is not None
        assert [o["body"] for o in r.json()["outbox"]] == ["Which city?"]
        c.post(f"/api/v1/inbox/{bob}/ask", json={"question": "Which city?", "key": "q-1"})
        assert len(c.get(f"/api/v1/inbox/{bob}").json()["outbox"]) == 1

        queues = c.get("/api/v1/inbox/queues").json()["items"]
        assert [(q["queue"], q["count"]) for q in queues] == [("topic:1", 2), ("topic:2", 1)]
        assert queues[0]["label"] == "hiking · trails"  # the topic's label, from its table
        items = c.get("/api/v1/inbox", params={"queue": "topic:1"}).json()["items"]
        assert sorted(i["id"] for i in items) == sorted([ids["amelia"], carol])
        assert c.get("/api/v1/inbox", params={"queue": "x y"}).status_code == 422
        none = c.get("/api/v1/inbox", params={"assignee": "none", "queue": "topic:2"}).json()
        assert [i["id"] for i in none["items"]] == [bob]


def test_forms_need_csrf_and_an_agent(asite: tuple[Site, dict[str, int]]) -> None:
    site, ids = asite
    bob = ids["bob"]
    agent = sign_in(site.url, "agent@test.io")
    assert agent.post(f"/inbox/{bob}/idea", data={"title": "x"}).status_code == 403
    assert agent.post(f"/inbox/{bob}/ask", data={"question": "x"}).status_code == 403
    analyst = sign_in(site.url, "analyst@test.io")
    html = analyst.get(f"/inbox/{bob}").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    assert 'id="to-idea"' not in html and 'id="ask"' not in html
    r = analyst.post(f"/inbox/{bob}/idea", data={"title": "x", "csrf_token": token})
    assert r.status_code == 403
    page = agent.get("/inbox?queue=topic:1").text
    assert XSS not in page and "bob@mastodon.social" not in page  # topic 2 filtered out
    assert agent.get("/inbox?queue=bad%20queue").status_code == 200  # ignored, not an error


def test_browser_agent_turns_into_idea_and_asks(asite: tuple[Site, dict[str, int]]) -> None:
    site, ids = asite
    if not Path(CHROMIUM).exists():
        pytest.fail("chromium is needed for the browser tests: run `make system-deps`")
    amelia = ids["amelia"]
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=["--headless", "--no-sandbox",
                                                                 "--disable-gpu"])  # fmt: skip
        page = b.new_page()
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.goto(f"{site.url}/inbox")
        page.fill("input[name=email]", "agent@test.io")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(f"{site.url}/inbox")
        # The topic-1 queue, with its count; only its conversations are listed.
        pill = page.locator("#queues a[data-queue='topic:1']")
        assert "2" in pill.inner_text()
        pill.click()
        page.wait_for_url(re.compile(r"queue=topic%3A1"))
        assert page.locator("table.inbox tbody tr").count() == 2
        assert "bob@mastodon.social" not in page.locator("table.inbox").inner_text()
        page.click("table.inbox tbody tr:first-child a")
        assert page.locator("h1").inner_text().startswith("amelia@fosstodon.org")
        conv_url = page.url

        # Turn into idea: the form starts from the post; the agent edits the title.
        title = page.locator("#to-idea input[name=title]")
        assert title.input_value() == "Please add a dark mode to the app"
        title.fill("Dark mode for the app")
        page.click("#to-idea button")
        link = page.locator("#idea-link")
        assert link.inner_text() == "Dark mode for the app"  # its title, not a number
        link.click()
        assert page.locator("h1").inner_text().startswith("Dark mode for the app")
        back = page.locator("#from-conversations a")
        assert back.get_attribute("href") == f"/inbox/{amelia}"
        assert "#" not in page.locator("#from-conversations").inner_text()
        assert "c000" in page.content()  # the known customer is the contributor
        page.goto(conv_url)
        assert page.locator("#to-idea").count() == 0  # done once: the link shows instead
        assert page.locator("#idea-link").count() == 1

        # Ask a question from a template: queued, and the conversation waits on her.
        page.select_option("#ask select[name=saved]", "order-number")
        page.click("#ask button")
        assert page.locator("#state").inner_text() == "waiting"
        assert "resolution SLA is paused" in page.locator("#waiting").inner_text()
        assert "Hi amelia@fosstodon.org, could you send us your order number?" in (
            page.locator(".thread").inner_text()
        )
        # Her answer arrives with the next sync: the conversation is open again.
        db = AppDB(site.db_url)
        with db.session() as s:
            answer = inbox.Post("mastodon", "m9", "amelia@fosstodon.org", "It is 4711",
                                utcnow(), reply_to_post_id="m1", topic_id=1,
                                sentiment_score=0.1, intent="question")  # fmt: skip
            inbox.ingest(s, [answer], site.settings)
        db.close()
        page.reload()
        assert page.locator("#state").inner_text() == "open"
        assert page.locator("#waiting").count() == 0
        assert errors == []
        b.close()
    db = AppDB(site.db_url)
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(Idea).where(Idea.source == "inbox")) == 2
        items = s.scalars(select(OutboxItem).where(OutboxItem.conversation_id == amelia)).all()
        assert len(items) == 1 and items[0].status == "pending"  # nobody delivers in tests
        conv = s.get(Conversation, amelia)
        assert conv.waiting_seconds > 0 and conv.state == "open"
    db.close()


def test_background_delivery_runs_only_when_turned_on(tmp_path: Path) -> None:
    assert delivery.start(None, Settings(home=tmp_path)) is None  # the default: off
    home = tmp_path / "ws"
    settings = Settings(home=home, inbox_brand_handle="acme", delivery_interval_seconds=0.2,
                        webhook_backoff_seconds=0)  # fmt: skip
    db = AppDB(settings.resolved_database_url)
    with receiver([]) as r:
        with db.session() as s:
            webhooks.subscribe(s, r.url, ["conversation.created"], "admin", allow_host=True)
            post = inbox.Post("jsonl", "j1", "zoe", "my parcel is lost", T,
                              sentiment_score=-0.7, intent="complaint")  # fmt: skip
            inbox.ingest(s, [post], settings, now=T)
            conv = s.scalar(select(Conversation))
            workflow.reply(s, conv, "Sorry {handle}!", "agent@test.io", connector="jsonl")
        app = create_app(settings)
        for _url in serve(settings, app):  # a real server: the lifespan runs as in production
            scheduler = app.state.delivery
            # both were due before the server started: two whole passes must have sent them
            wait_until(
                lambda s=scheduler: s.passes >= 2 or s.task.done(),
                "two delivery passes",
                bound=30,
            )
            assert not scheduler.task.done(), "the delivery loop ended"
        with db.session() as s:
            assert s.scalar(select(OutboxItem.status)) == "sent"
    replies = (home / "inbox" / "replies.jsonl").read_text().splitlines()
    assert len(replies) == 1 and "Sorry zoe!" in replies[0]
    assert [g.headers["Socialcrm-Event"] for g in r.got] == ["conversation.created"]
    db.close()
