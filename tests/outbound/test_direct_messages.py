"""Private messages of a campaign, through fake Mastodon and Bluesky servers on loopback
that answer as the documented APIs do (Mastodon ``POST /api/v1/statuses`` with
``visibility=direct``; Bluesky's chat through the PDS's ``atproto-proxy``), and the
delivery loop that sends them with the campaign emails."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from socialcrm.appdb.models import OutboxItem
from socialcrm.outbound import delivery, mail, outbox
from socialcrm.outbound.social import CHAT_PROXY, BlueskyDirect, MastodonDirect
from tests.outbound.email_world import NOW, app_db, queue_people, settings_for
from tests.outbound.smtp_sink import smtp_sink
from tests.responding.fakes import TOKEN, FakeMastodon, serving

BRAND_DID = "did:plc:brand0000000000000000000"
ANN_DID = "did:plc:ann00000000000000000000000"


@dataclass
class FakeBluesky:
    """createSession, resolveHandle, and the chat methods, which answer only through the
    chat proxy (as the PDS does: without the header they are not its methods)."""

    sent: list[dict[str, Any]] = field(default_factory=list)
    proxied: list[str] = field(default_factory=list)

    def app(self) -> Starlette:
        x = "/xrpc/"
        return Starlette(routes=[
            Route(x + "com.atproto.server.createSession", self.session, methods=["POST"]),
            Route(x + "com.atproto.identity.resolveHandle", self.resolve),
            Route(x + "chat.bsky.convo.getConvoForMembers", self.convo),
            Route(x + "chat.bsky.convo.sendMessage", self.send, methods=["POST"]),
        ])  # fmt: skip

    async def session(self, request: Request) -> JSONResponse:
        body = await request.json()
        if body != {"identifier": "brand.bsky.social", "password": "app-pass"}:
            return JSONResponse({"error": "AuthenticationRequired"}, 401)
        return JSONResponse({"did": BRAND_DID, "handle": "brand.bsky.social",
                             "accessJwt": "jwt-1", "refreshJwt": "r-1"})  # fmt: skip

    async def resolve(self, request: Request) -> JSONResponse:
        if request.query_params.get("handle") != "ann.bsky.social":
            return JSONResponse({"error": "InvalidRequest", "message": "Unable to resolve"}, 400)
        return JSONResponse({"did": ANN_DID})

    def _chat(self, request: Request) -> JSONResponse | None:
        self.proxied.append(request.headers.get("atproto-proxy", ""))
        if request.headers.get("atproto-proxy") != CHAT_PROXY:
            return JSONResponse({"error": "MethodNotImplemented"}, 501)
        if request.headers.get("authorization") != "Bearer jwt-1":
            return JSONResponse({"error": "AuthenticationRequired"}, 401)
        return None

    async def convo(self, request: Request) -> JSONResponse:
        if (refused := self._chat(request)) is not None:
            return refused
        members = request.query_params.getlist("members")
        return JSONResponse({"convo": {"id": "convo-ann", "rev": "1", "members": [
            {"did": BRAND_DID, "handle": "brand.bsky.social"},
            {"did": members[0], "handle": "ann.bsky.social"}], "unreadCount": 0,
            "muted": False}})  # fmt: skip

    async def send(self, request: Request) -> JSONResponse:
        if (refused := self._chat(request)) is not None:
            return refused
        body = await request.json()
        self.sent.append(body)
        return JSONResponse({"id": f"msg-{len(self.sent)}", "rev": "2",
                             "text": body["message"]["text"], "sender": {"did": BRAND_DID},
                             "sentAt": "2026-12-07T09:00:00Z"})  # fmt: skip


@pytest.fixture
def bluesky() -> Iterator[tuple[FakeBluesky, str]]:
    fake = FakeBluesky()
    with serving(fake.app()) as url:
        yield fake, url


@pytest.fixture
def mastodon() -> Iterator[tuple[FakeMastodon, str]]:
    fake = FakeMastodon([])
    with serving(fake.app()) as url:
        yield fake, url


def test_a_mastodon_private_message_is_a_direct_status_mentioning_the_person(
    tmp_path: Path, mastodon: tuple[FakeMastodon, str]
) -> None:
    fake, url = mastodon
    fake.fail_posts = ["lost"]  # the first answer is lost on the way: posted, then a 502
    with app_db(tmp_path) as db:
        with db.session() as s:
            mail.queue_direct(s, key="spring|c1|send", campaign_id="spring", customer_id="c1",
                              connector="mastodon_dm", handle="@ann@mastodon.example",
                              body="Thank you for being with us!", now=NOW)  # fmt: skip
        sender = MastodonDirect(url, TOKEN)
        first = outbox.deliver_pass(db, sender, max_attempts=5, now=NOW)
        later = NOW + outbox.backoff(1)
        second = outbox.deliver_pass(db, sender, max_attempts=5, now=later)
        sender.close()
        with db.session() as s:
            item = s.scalars(select(OutboxItem)).one()
    assert (first["retry"], second["sent"]) == (1, 1)
    # posted once although tried twice: the Idempotency-Key brought back the same status
    assert len(fake.statuses) == 1
    [status] = fake.statuses
    assert status["visibility"] == "direct"
    assert status["content"] == "<p>@ann@mastodon.example Thank you for being with us!</p>"
    assert [k for m, k in fake.requests if m == "POST"] == ["spring|c1|send"] * 2
    assert (item.status, item.external_id, item.recipient) == (
        "sent", status["id"], "ann@mastodon.example")  # fmt: skip


def test_a_bluesky_private_message_goes_through_the_chat_proxy(
    tmp_path: Path, bluesky: tuple[FakeBluesky, str]
) -> None:
    fake, url = bluesky
    with app_db(tmp_path) as db:
        with db.session() as s:
            for cid, handle in (("c1", "ann.bsky.social"), ("c2", "nobody.bsky.social")):
                mail.queue_direct(s, key=f"spring|{cid}|send", campaign_id="spring",
                                  customer_id=cid, connector="bluesky_dm", handle=handle,
                                  body="Thank you!", now=NOW)  # fmt: skip
        sender = BlueskyDirect(url, "brand.bsky.social", "app-pass")
        got = outbox.deliver_pass(db, sender, max_attempts=5, now=NOW)
        sender.close()
        with db.session() as s:
            items = {i.customer_id: i for i in s.scalars(select(OutboxItem))}
    assert got["sent"] == 1 and got["dead"] == 1  # an unknown handle will not resolve later
    assert fake.sent == [{"convoId": "convo-ann", "message": {"text": "Thank you!"}}]
    assert set(fake.proxied) == {CHAT_PROXY}
    assert items["c1"].external_id == "convo-ann/msg-1"
    assert "400" in (items["c2"].last_error or "")


def test_queue_direct_refuses_unknown_channels(tmp_path: Path) -> None:
    with app_db(tmp_path) as db, db.session() as s, pytest.raises(ValueError, match="channel"):
        mail.queue_direct(s, key="k", campaign_id="c", customer_id="p", connector="email",
                          handle="ann", body="hi")  # fmt: skip


def test_the_delivery_loop_sends_due_emails_and_private_messages(
    tmp_path: Path, mastodon: tuple[FakeMastodon, str]
) -> None:
    fake, url = mastodon
    with smtp_sink() as sink, app_db(tmp_path) as db:
        settings = settings_for(tmp_path, sink.url(), mastodon_url=url, mastodon_token=TOKEN,
                                inbox_connector="jsonl")  # fmt: skip
        queue_people(db, settings, [("c1", "ann@example.com"), ("c2", "bo@example.com")])
        with db.session() as s:
            mail.queue_direct(s, key="spring|c3|send", campaign_id="spring", customer_id="c3",
                              connector="mastodon_dm", handle="cy@mastodon.example", body="Hi",
                              now=NOW)  # fmt: skip
        refused: list[str | None] = []

        def recheck(s: object, item: OutboxItem) -> str | None:
            refused.append(item.customer_id)
            return "no_consent" if item.customer_id == "c2" else None

        got = delivery.run_once(db, settings, email_recheck=recheck)
        assert got["email"] == {"sent": 1, "failed": 0, "skipped": 1, "dead": 0}
        assert got["mastodon_dm"]["sent"] == 1 and "bluesky_dm" not in got
        assert sink.rcpts == ["ann@example.com"] and sorted(map(str, refused)) == ["c1", "c2"]
        assert [s["visibility"] for s in fake.statuses] == ["direct"]
        # nothing is due any more
        again = delivery.run_once(db, settings, email_recheck=recheck)
        assert "email" not in again and "mastodon_dm" not in again
        # without a consent check, due emails wait for a runner that has one
        queue_people(db, settings, [("c4", "di@example.com")], campaign="summer")
        waiting = delivery.run_once(db, settings)
        assert waiting["email_waiting"] == 1 and "email" not in waiting
        assert len(sink.got) == 1


def test_a_private_message_mentions_nobody_but_its_addressee(
    tmp_path: Path, mastodon: tuple[FakeMastodon, str]
) -> None:
    """Every account a direct status mentions receives it: a personalised ``@eve@…`` in
    the text must not copy Eve in, and a handle must be exactly one account."""
    fake, url = mastodon
    with app_db(tmp_path) as db:
        with db.session() as s:
            mail.queue_direct(s, key="spring|c1|send", campaign_id="spring", customer_id="c1",
                              connector="mastodon_dm", handle="@ann@mastodon.example",
                              body="Hi @eve@evil.social! Questions: help@brand.example",
                              now=NOW)  # fmt: skip
            for connector, handle in [
                ("mastodon_dm", "ann@mastodon.example @eve@evil.social"),
                ("mastodon_dm", "ann@mastodon.example,eve@evil.social"),
                ("mastodon_dm", "ann\n@eve@evil.social"),
                ("bluesky_dm", "ann.bsky.social eve.bsky.social"),
                ("bluesky_dm", ""),
            ]:
                with pytest.raises(ValueError):
                    mail.queue_direct(s, key=f"x|{handle}", campaign_id="spring",
                                      customer_id="c2", connector=connector, handle=handle,
                                      body="hi", now=NOW)  # fmt: skip
        sender = MastodonDirect(url, TOKEN)
        assert outbox.deliver_pass(db, sender, max_attempts=5, now=NOW)["sent"] == 1
        sender.close()
    [status] = fake.statuses
    text = status["content"]
    assert text.startswith("<p>@ann@mastodon.example Hi @\u200beve@evil.social!")
    assert text.count("@ann@mastodon.example") == 1 and "help@brand.example" in text
