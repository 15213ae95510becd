"""Conversations from the warehouse, the workflow, SLAs, assignment and metrics."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pytest
from sqlalchemy import select

from socialcrm.appdb.models import (
    Conversation,
    ConversationMessage,
    DomainEvent,
    SavedReply,
    User,
)
from socialcrm.responding import inbox, priority, workflow
from socialcrm.responding.events import emit
from socialcrm.responding.sync import from_warehouse
from tests.responding.conftest import NOW, Env

T0 = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
NAIVE0 = T0.replace(tzinfo=None)


def posts_table(rows: list[tuple]) -> pa.Table:
    names = ["post_id", "platform", "author_handle", "text", "created_at", "reply_to_post_id",
             "reshare_of_post_id", "topic_id", "sentiment_score", "intent", "customer_id",
             "is_spam", "is_duplicate"]  # fmt: skip
    # Every customer post here is addressed to the brand (@acme), as the inbox takes only
    # those (socialcrm.listening.addressed); test_only_posts_to_the_brand_are_taken is
    # about the others.
    rows = [(*r[:3], r[3] if r[2] == "acme" else f"@acme {r[3]}", *r[4:]) for r in rows]
    cols = list(zip(*rows, strict=True))
    schema = pa.schema(
        [("post_id", pa.string()), ("platform", pa.string()), ("author_handle", pa.string()),
         ("text", pa.string()), ("created_at", pa.timestamp("us", tz="UTC")),
         ("reply_to_post_id", pa.string()), ("reshare_of_post_id", pa.string()),
         ("topic_id", pa.int64()), ("sentiment_score", pa.float64()), ("intent", pa.string()),
         ("customer_id", pa.string()), ("is_spam", pa.bool_()), ("is_duplicate", pa.bool_())]
    )  # fmt: skip
    return pa.table({n: list(c) for n, c in zip(names, cols, strict=True)}, schema=schema)


def h(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


ROWS = [
    # id, platform, author, text, at, reply_to, reshare_of, topic, sentiment, intent,
    # customer, spam, duplicate
    (
        "a1",
        "mastodon",
        "amelia@fosstodon.org",
        "late order",
        h(0),
        None,
        None,
        1,
        -0.7,
        "complaint",
        None,
        False,
        False,
    ),
    (
        "a2",
        "mastodon",
        "amelia@fosstodon.org",
        "still late",
        h(5),
        None,
        None,
        1,
        -0.8,
        "complaint",
        None,
        False,
        False,
    ),  # same author, topic, window → same conversation
    (
        "a3",
        "mastodon",
        "amelia@fosstodon.org",
        "and the app?",
        h(6),
        None,
        None,
        2,
        -0.2,
        "question",
        None,
        False,
        False,
    ),  # other topic → its own conversation
    (
        "b1",
        "mastodon",
        "bob@mastodon.social",
        "blue?",
        h(1),
        None,
        None,
        1,
        0.0,
        "question",
        None,
        False,
        False,
    ),
    (
        "b2",
        "mastodon",
        "bob@mastodon.social",
        "green?",
        h(2),
        "b1",
        None,
        7,
        0.1,
        "question",
        None,
        False,
        False,
    ),  # reply chain wins over the topic
    (
        "s1",
        "mastodon",
        "spam@bots.example",
        "win!!",
        h(1),
        None,
        None,
        1,
        0.0,
        "question",
        None,
        True,
        False,
    ),
    (
        "r1",
        "mastodon",
        "carol@mstdn.io",
        "RT",
        h(1),
        None,
        "x9",
        1,
        -0.5,
        "complaint",
        None,
        False,
        False,
    ),
    (
        "d1",
        "mastodon",
        "carol@mstdn.io",
        "copy",
        h(1),
        None,
        None,
        1,
        -0.5,
        "complaint",
        None,
        False,
        True,
    ),
    (
        "n1",
        "mastodon",
        "carol@mstdn.io",
        "nice weather",
        h(1),
        None,
        None,
        1,
        0.2,
        "other",
        None,
        False,
        False,
    ),  # nothing to answer
    (
        "z1",
        "mastodon",
        "acme",
        "we are on it",
        h(3),
        "a1",
        None,
        1,
        0.1,
        "other",
        None,
        False,
        False,
    ),  # the brand's own reply
    (
        "a4",
        "mastodon",
        "amelia@fosstodon.org",
        "a week later",
        h(200),
        None,
        None,
        1,
        -0.3,
        "complaint",
        None,
        False,
        False,
    ),  # outside the window → a new conversation
]


def test_only_posts_to_the_brand_are_taken(env: Env) -> None:
    """The wider conversation is listened to, not answered: a complaint that names no
    account of the brand, none of its products and replies to none of its posts stays out;
    an @-mention, a reply to the brand, a post naming a product and one matching a saved
    query marked "needs a response" come in."""
    rows = [
        ("x1", "mastodon", "ann@m.social", "this phone is awful", h(0), None, None, 1, -0.8,
         "complaint", None, False, False),
        ("x2", "mastodon", "bob@m.social", "where is my order @ACME?", h(1), None, None, 1,
         -0.2, "question", None, False, False),
        ("x3", "mastodon", "acme", "we shipped it", h(2), "x2", None, 1, 0.1, "other", None,
         False, False),
        ("x4", "mastodon", "bob@m.social", "still nothing", h(3), "x3", None, 1, -0.4,
         "complaint", None, False, False),
        ("x5", "mastodon", "cy@m.social", "the Rocket lamp broke", h(4), None, None, 1, -0.6,
         "complaint", None, False, False),
        ("x6", "mastodon", "di@m.social", "anyone selling a bike?", h(5), None, None, 1, 0.0,
         "question", None, False, False),
        ("x7", "mastodon", "ed@m.social", "@acme_fans lol this is bad", h(6), None, None, 1,
         -0.5, "complaint", None, False, False),
    ]  # fmt: skip
    table = posts_table(rows)
    table = table.set_column(3, "text", pa.array([r[3] for r in rows]))  # as written
    env.ws.warehouse.write("posts_enriched", table)
    env.ws.warehouse.write(
        "post_mentions",
        pa.table({"post_id": ["x5"], "entity_id": ["product:R"], "entity_kind": ["product"]}),
    )
    env.ws.warehouse.write("post_queries", pa.table({"post_id": ["x6"], "query": ["bikes"]}))
    from socialcrm.appdb.models import ListeningQuery

    with env.db.session() as s:
        s.add(ListeningQuery(name="bikes", terms="bike", needs_response=True, created_by="t"))
    with env.db.session() as s:
        from_warehouse(env.ws, s, env.settings, now=NOW)
    with env.db.session() as s:
        taken = {m.post_id for m in s.scalars(select(ConversationMessage))}
    assert taken == {"x2", "x3", "x4", "x5", "x6"}


def test_sync_groups_filters_and_is_idempotent(env: Env) -> None:
    env.ws.warehouse.write("posts_enriched", posts_table(ROWS))
    with env.db.session() as s:
        first = from_warehouse(env.ws, s, env.settings, now=NOW)
    with env.db.session() as s:
        again = from_warehouse(env.ws, s, env.settings, now=NOW)
    assert first["conversations"] == 4 and first["messages"] == 6 and first["replies"] == 1
    assert again["messages"] == 0 and again["conversations"] == 0
    # A later pipeline run adds one post: only that one is new.
    more = [*ROWS, ("b3", "mastodon", "bob@mastodon.social", "hello?", h(4), "z9", None, 1,
                    -0.1, "question", None, False, False)]  # fmt: skip
    env.ws.warehouse.write("posts_enriched", posts_table(more))
    with env.db.session() as s:
        third = from_warehouse(env.ws, s, env.settings, now=NOW)
    assert third["messages"] == 1 and third["conversations"] == 0
    with env.db.session() as s:
        msgs = {m.post_id: m.conversation_id for m in s.scalars(select(ConversationMessage))}
        assert set(msgs) == {"a1", "a2", "a3", "a4", "b1", "b2", "b3", "z1"}
        assert msgs["a1"] == msgs["a2"] == msgs["z1"] != msgs["a3"]
        assert msgs["a4"] != msgs["a1"] and msgs["b1"] == msgs["b2"] == msgs["b3"]
        amelia = s.get(Conversation, msgs["a1"])
        assert amelia.customer_id == "c1" and amelia.messages == 2
        assert amelia.first_response_at == (T0 + timedelta(hours=3)).replace(tzinfo=None)
        # a2 came after the brand's reply (z1): it is the mood after the reply.
        assert amelia.sentiment_score == pytest.approx(-0.7)
        assert amelia.sentiment_after == pytest.approx(-0.8)


def conv_at(s, handle: str = "amelia@fosstodon.org", topic: int | None = 1) -> Conversation:
    post = inbox.Post("mastodon", f"p-{handle}-{topic}", handle, "my order is late",
                      NAIVE0, topic_id=topic, sentiment_score=-0.6,
                      intent="complaint")  # fmt: skip
    ctx = inbox.Context(influence={("mastodon", handle): 50.0})
    inbox.ingest(s, [post], s.info["settings"], ctx, now=NAIVE0)
    return s.scalar(select(Conversation).where(Conversation.author_handle == handle))


@pytest.fixture
def session(env: Env):
    with env.db.session() as s:
        s.info["settings"] = env.settings
        yield s


def test_states_follow_the_workflow(session) -> None:
    s = session
    conv = conv_at(s)
    assert conv.state == "new"
    with pytest.raises(workflow.WorkflowError, match="cannot become closed"):
        workflow.transition(s, conv, "closed", "ann@test.io")
    workflow.transition(s, conv, "open", "ann@test.io")
    workflow.transition(s, conv, "resolved", "ann@test.io", now=NAIVE0 + timedelta(hours=1))
    assert conv.priority == 0.0 and conv.resolved_at is not None
    workflow.transition(s, conv, "closed", "ann@test.io")
    with pytest.raises(workflow.WorkflowError):
        workflow.transition(s, conv, "open", "ann@test.io")
    with pytest.raises(workflow.WorkflowError, match="closed conversation"):
        workflow.reply(s, conv, "hi", "ann@test.io", connector="jsonl")


def test_sla_breaches_are_flagged_once_with_an_event(session) -> None:
    s = session
    settings = s.info["settings"]
    conv = conv_at(s)
    before = conv.priority
    out = inbox.check_slas(s, settings, now=NAIVE0 + timedelta(hours=3))
    assert out["first_response"] == 0 and conv.priority > before  # waiting counts
    out = inbox.check_slas(s, settings, now=NAIVE0 + timedelta(hours=5))
    assert out["first_response"] == 1 and conv.first_response_breached
    out = inbox.check_slas(s, settings, now=NAIVE0 + timedelta(hours=6))
    assert out["first_response"] == 0
    out = inbox.check_slas(s, settings, now=NAIVE0 + timedelta(hours=49))
    assert out["resolution"] == 1
    kinds = s.scalars(select(DomainEvent.kind).order_by(DomainEvent.id)).all()
    assert kinds == ["conversation_created", "sla_breached", "sla_breached"]
    assert not emit(s, "sla_breached", {}, key=f"sla_breached:{conv.id}:resolution")


def test_assignment_by_topic_then_round_robin(session) -> None:
    s = session
    ids = {u.email: u.id for u in s.scalars(select(User))}
    workflow.set_skills(s, ids["cy@test.io"], [9])
    convs = [conv_at(s, f"user{i}@m.example", topic=9 if i < 2 else 1) for i in range(5)]
    assert workflow.auto_assign(s) == 5
    got = [c.assignee_id for c in convs]
    assert got[0] == got[1] == ids["cy@test.io"]
    # The others rotate over the agents (not the analyst), in id order.
    assert got[2:] == [ids["ann@test.io"], ids["ben@test.io"], ids["cy@test.io"]]
    assert all(c.state == "open" for c in convs)
    new = conv_at(s, "late@m.example", topic=1)
    workflow.auto_assign(s)
    assert new.assignee_id == ids["ann@test.io"]  # the rotation goes on where it stopped
    with pytest.raises(workflow.WorkflowError, match="not an active agent"):
        workflow.assign(s, new, ids["ana@test.io"], "admin")


def test_notes_saved_replies_reply_and_metrics(session) -> None:
    s = session
    conv = conv_at(s)
    workflow.add_note(s, conv, "ann@test.io", "VIP, check the courier")
    with pytest.raises(workflow.WorkflowError):
        workflow.add_note(s, conv, "ann@test.io", "   ")
    saved = workflow.save_reply(s, "late", "Sorry {handle}, we are checking.", "ann@test.io")
    with pytest.raises(workflow.WorkflowError, match="exists already"):
        workflow.save_reply(s, "late", "x", "ann@test.io")
    assert s.scalar(select(SavedReply.body)) == saved.body
    a = workflow.reply(s, conv, saved.body, "ann@test.io", connector="jsonl", key="form-1",
                       now=NAIVE0 + timedelta(hours=2))  # fmt: skip
    b = workflow.reply(s, conv, saved.body, "ann@test.io", connector="jsonl", key="form-1",
                       now=NAIVE0 + timedelta(hours=2))  # fmt: skip
    assert a == b and conv.state == "waiting"
    follow = inbox.Post("mastodon", "p-after", conv.author_handle, "thanks, great help",
                        NAIVE0 + timedelta(hours=3), sentiment_score=0.6,
                        intent="praise", topic_id=1)  # fmt: skip
    inbox.ingest(s, [follow], s.info["settings"], now=NAIVE0 + timedelta(hours=3))
    assert conv.state == "open"
    workflow.transition(s, conv, "resolved", "ann@test.io", now=NAIVE0 + timedelta(hours=4))
    m = workflow.metrics(s)
    assert m["first_response_hours"]["median"] == 2.0
    assert m["resolution_hours"]["median"] == 4.0
    assert m["sentiment_before_reply"] == -0.6 and m["sentiment_after_reply"] == 0.6
    assert m["first_response_breaches"] == 0


def test_priority_parts_explain_the_score() -> None:
    p = priority.parts(sentiment=-0.9, intent="complaint", influence=88, clv=2400,
                       risk_band="high", waited_hours=1, sla_hours=4)  # fmt: skip
    rows = priority.explain(p)
    assert sum(r["points"] for r in rows) == pytest.approx(priority.score(p), abs=0.05)
    assert rows[0]["part"] in ("negativity", "influence")
    low = priority.parts(sentiment=0.5, intent="praise", influence=1, clv=10,
                         risk_band="low", waited_hours=1, sla_hours=4)  # fmt: skip
    assert priority.score(low) < priority.score(p)


def test_the_inbox_on_postgresql(postgres_url: str, env: Env) -> None:
    """The migration, grouping, idempotency and the list query on PostgreSQL too."""
    from socialcrm.appdb.db import AppDB
    from socialcrm.responding.queries import list_conversations

    db = AppDB(postgres_url)
    try:
        posts = [
            inbox.Post("mastodon", f"pg-{i}", f"pg{i % 3}@m.example", "late order", NAIVE0
                       + timedelta(minutes=i), topic_id=1, sentiment_score=-0.1 * i,
                       intent="complaint")
            for i in range(6)
        ]  # fmt: skip
        for _ in range(2):
            with db.session() as s:
                inbox.ingest(s, posts, env.settings, now=NOW)
        with db.session() as s:
            rows, _ = list_conversations(
                s, states=inbox.OPEN_STATES, assignee=None, page=1, size=10
            )
            mine = [r for r in rows if r["author_handle"].startswith("pg")]
            assert len(mine) == 3 and all(r["messages"] == 2 for r in mine)
            assert [r["priority"] for r in rows] == sorted(
                (r["priority"] for r in rows), reverse=True
            )
            conv = s.get(Conversation, mine[0]["id"])
            workflow.transition(s, conv, "resolved", "t")
            assert conv.is_open is False
    finally:
        db.close()
