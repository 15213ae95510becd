"""The checked scenario: a recorded Mastodon mention stream replayed through a fake
server on loopback lands once, is answered once, and is ranked as it should be."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from socialcrm.appdb.models import (
    Conversation,
    ConversationMessage,
    DomainEvent,
    OutboxItem,
)
from socialcrm.outbound import outbox
from socialcrm.responding import workflow
from socialcrm.responding.connectors import MastodonConnector
from socialcrm.responding.sync import from_connector
from tests.responding.conftest import NOW, Env
from tests.responding.fakes import TOKEN, FakeMastodon, recorded_mentions, serving

MENTIONS = {"113500000000000101", "113500000000000103", "113500000000000104",
            "113500000000000105", "113500000000000107", "113500000000000108"}  # fmt: skip


@pytest.fixture
def fake() -> Iterator[tuple[FakeMastodon, str]]:
    server = FakeMastodon(recorded_mentions())
    with serving(server.app()) as url:
        yield server, url


def connector(url: str) -> MastodonConnector:
    c = MastodonConnector(url, TOKEN, account="acme")
    c.page_size = 2  # the eight recorded notifications take several pages
    return c


def test_each_mention_lands_once_and_detractor_ranks_first(
    env: Env, fake: tuple[FakeMastodon, str]
) -> None:
    server, url = fake
    conn = connector(url)
    with env.db.session() as s:
        first = from_connector(conn, s, env.settings, env.ws, now=NOW)
    with env.db.session() as s:
        again = from_connector(conn, s, env.settings, env.ws, now=NOW)
    assert first["fetched"] == 6 and again["fetched"] == 0
    # Forget the cursor: the whole stream is replayed, and still nothing lands twice.
    with env.db.session() as s:
        from socialcrm.appdb.models import ConnectorCursor

        s.delete(s.get(ConnectorCursor, "connector:mastodon"))
    with env.db.session() as s:
        replay = from_connector(conn, s, env.settings, env.ws, now=NOW)
    assert replay["fetched"] == 6 and replay["messages"] == 0 and replay["conversations"] == 0
    conn.close()

    with env.db.session() as s:
        ids = s.scalars(select(ConversationMessage.post_id)).all()
        assert sorted(ids) == sorted(MENTIONS)
        convs = s.scalars(select(Conversation).order_by(Conversation.priority.desc())).all()
        handles = [c.author_handle for c in convs]
        # Bob's follow-up answers his own post: one thread, two messages.
        assert len(convs) == 5 and handles.count("bob@mastodon.social") == 1
        bob = next(c for c in convs if c.author_handle == "bob@mastodon.social")
        assert bob.messages == 2
        assert handles[0] == "amelia@fosstodon.org"
        amelia, dave = convs[0], next(c for c in convs if c.author_handle == "dave@mstdn.io")
        assert amelia.customer_id == "c1" and amelia.clv == 2400.0 and amelia.risk_band == "high"
        assert amelia.sentiment_score < 0 and dave.sentiment_score < 0
        assert amelia.priority > dave.priority
        assert amelia.priority_parts["influence"] == pytest.approx(0.88)
        # HTML is reduced to text; entities decoded, markup from the network kept inert.
        assert "&amp;" not in amelia.subject and "<p>" not in amelia.subject
        created = s.scalar(select(func.count()).where(DomainEvent.kind == "conversation_created"))
        assert created == 5
    # Only mentions were asked for (favourites and reblogs never come back).
    assert all("types%5B%5D=mention" in q for m, q in server.requests if m == "GET")
    assert server.auth_seen == {f"Bearer {TOKEN}"}


def test_reply_is_posted_once_when_first_attempts_fail(
    env: Env, fake: tuple[FakeMastodon, str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    server, url = fake
    conn = connector(url)
    with env.db.session() as s:
        from_connector(conn, s, env.settings, env.ws, now=NOW)
        amelia = s.scalar(
            select(Conversation).where(Conversation.author_handle == "amelia@fosstodon.org")
        )
        item_id = workflow.reply(
            s, amelia, "Sorry {handle}, we are on it: DM us your order number?", "ann@test.io",
            connector="mastodon", now=NOW,
        )  # fmt: skip
        conv_id = amelia.id
    # 1st attempt: a 500 before anything is stored; 2nd: stored, but the answer is lost.
    server.fail_posts = ["before", "lost"]
    t = NOW
    results = []
    for _ in range(4):
        with env.db.session() as s:
            results.append(outbox.deliver(s, conn, max_attempts=5, now=t))
        t += timedelta(hours=1)
    assert [r["retry"] for r in results] == [1, 1, 0, 0]
    assert [r["sent"] for r in results] == [0, 0, 1, 0]
    assert len(server.statuses) == 1
    posted = server.statuses[0]
    assert posted["in_reply_to_id"] == "113500000000000104"
    assert "amelia@fosstodon.org" in posted["content"]
    keys = [k for m, k in server.requests if m == "POST"]
    assert len(keys) == 3 and len(set(keys)) == 1
    with env.db.session() as s:
        item = s.get(OutboxItem, item_id)
        assert item.status == "sent" and item.attempts == 3
        assert item.external_id == posted["id"]
        conv = s.get(Conversation, conv_id)
        assert conv.state == "waiting" and conv.first_response_at == NOW
        out = s.scalars(
            select(ConversationMessage).where(
                ConversationMessage.conversation_id == conv_id,
                ConversationMessage.direction == "out",
            )
        ).all()
        assert [m.post_id for m in out] == [posted["id"]]

    # Amelia answers the brand's reply: it joins her thread and reopens it, and her
    # mood after the reply is measured.
    server.notifications.append(
        {
            "id": "120",
            "type": "mention",
            "created_at": "2026-11-20T15:00:00.000Z",
            "account": {"acct": "amelia@fosstodon.org"},
            "status": {
                "id": "113500000000000120",
                "created_at": "2026-11-20T15:00:00.000Z",
                "in_reply_to_id": posted["id"],
                "content": "<p>@acme thank you, that was quick, great help!</p>",
                "reblog": None,
            },
        }
    )
    with env.db.session() as s:
        from_connector(conn, s, env.settings, env.ws, now=NOW + timedelta(hours=3))
        conv = s.get(Conversation, conv_id)
        assert conv.state == "open" and conv.messages == 2
        assert conv.sentiment_after is not None and conv.sentiment_after > 0
    conn.close()
    assert TOKEN not in caplog.text


def test_a_client_error_is_not_retried(env: Env, fake: tuple[FakeMastodon, str]) -> None:
    _, url = fake
    bad = MastodonConnector(url, "wrong-token")
    with env.db.session() as s:
        outbox.enqueue(s, connector="mastodon", body="hi", in_reply_to=None,
                       conversation_id=None, actor="t", key="k1", now=NOW)  # fmt: skip
        r = outbox.deliver(s, bad, max_attempts=5, now=NOW)
        item = s.scalar(select(OutboxItem))
        assert r == {"sent": 0, "retry": 0, "dead": 1}
        assert item.status == "dead" and "401" in (item.last_error or "")
        assert "wrong-token" not in (item.last_error or "")
    bad.close()
