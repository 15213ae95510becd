"""Inbox actions: turn into idea, ask a question (the resolution SLA paused while waiting),
queue filters, and delivery workers that never send an item twice."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, func, inspect, select, text

from socialcrm.appdb.db import MIGRATIONS, AppDB, make_engine, migrate
from socialcrm.appdb.models import (
    AuditEntry,
    Conversation,
    ConversationMessage,
    Idea,
    IdeaContributor,
    OutboxItem,
    User,
    WebhookDelivery,
)
from socialcrm.collaborating import from_conversation as to_idea
from socialcrm.collaborating import ideas, people
from socialcrm.outbound import outbox, webhooks
from socialcrm.responding import inbox, sla, workflow
from socialcrm.responding.connectors import JsonlConnector, MastodonConnector
from socialcrm.responding.queries import list_conversations, queue_counts
from socialcrm.responding.sync import from_connector
from socialcrm.store.reads import ReadModel
from tests.outbound.receiver import receiver
from tests.responding.conftest import Env, postgres_url  # noqa: F401  (a fixture)
from tests.responding.fakes import TOKEN, FakeMastodon, serving

T0 = datetime(2026, 11, 20, 8, 0)
AGENT = "ann@test.io"
JAN = datetime(2025, 1, 1, tzinfo=UTC)


def at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def known_world(env: Env) -> ReadModel:
    """The warehouse knows customer c1 (an amplifier); c3 is linked to a handle but is
    not in ``customers`` (say, erased)."""
    env.ws.warehouse.write(
        "customers",
        pa.table({"customer_id": ["c1", "c2"], "created_at": [JAN] * 2}),
    )
    env.ws.warehouse.write(
        "customer_influence",
        pa.table({"customer_id": ["c1"], "influence_score": [88.0], "amplifier": [True]}),
    )
    return ReadModel(env.settings.warehouse_dir)


def lookups(rm: ReadModel) -> dict:
    return {
        "known_customers": lambda ids: people.known_customers(rm, ids),
        "values": lambda ids: people.values(rm, ids),
    }


def conversation(env: Env, handle: str, posts: list[tuple[str, str, float]], *,
                 customer: str | None = None, topic: int | None = 1,
                 platform: str = "mastodon") -> int:  # fmt: skip
    """One conversation of ``handle``: posts (post id, text, hours after T0)."""
    ctx = inbox.Context(customer_of={(platform, handle): customer} if customer else {})
    rows = [
        inbox.Post(platform, pid, handle, text, at(h), topic_id=topic, sentiment_score=-0.2,
                   intent="suggestion")
        for pid, text, h in posts
    ]  # fmt: skip
    with env.db.session() as s:
        inbox.ingest(s, rows, env.settings, ctx, now=at(posts[-1][2]))
        return s.scalar(
            select(ConversationMessage.conversation_id).where(
                ConversationMessage.post_id == posts[0][0]
            )
        )


# -- turn into idea ----------------------------------------------------------------------
def test_turn_into_idea_makes_one_idea_linked_both_ways(env: Env) -> None:
    rm = known_world(env)
    amelia = conversation(env, "amelia@fosstodon.org", [
        ("a1", "Please add a dark mode to the app, my eyes hurt at night", 0),
        ("a2", "Also an OLED black option would be great", 1),
    ], customer="c1")  # fmt: skip
    carol = conversation(env, "carol@mstdn.io", [("k1", "A bigger battery please", 2)],
                         customer="c3")  # fmt: skip

    first = to_idea.turn_into_idea_once(env.db, amelia, AGENT, **lookups(rm))
    again = to_idea.turn_into_idea_once(env.db, amelia, AGENT, title="Another", **lookups(rm))
    assert first.created and not again.created and again.idea_id == first.idea_id
    with env.db.session() as s:
        assert s.scalar(select(func.count()).select_from(Idea)) == 1
        idea = s.get(Idea, first.idea_id)
        assert idea.source == "inbox" and idea.status == "new" and not idea.proposed
        assert idea.title == "Please add a dark mode to the app, my eyes hurt at night"
        assert "OLED black" in idea.body
        assert idea.highlighted  # c1 is an amplifier
        (c,) = ideas.contributors(s, idea.id)
        assert (c.customer_id, c.platform, c.handle, c.post_id) == (
            "c1", "mastodon", "amelia@fosstodon.org", "a1")  # fmt: skip
        # Both ways: the conversation knows its idea, the idea its conversation.
        assert to_idea.linked_idea(s, amelia).id == idea.id
        assert ideas.detail(s, idea.id, lambda _ids: {})["conversations"] == [amelia]
        audits = s.scalars(
            select(AuditEntry).where(AuditEntry.action == "conversation.to_idea")
        ).all()
        assert [(a.target, a.detail["idea_id"]) for a in audits] == [(str(amelia), idea.id)]

    # c3 is not a known customer: the handle is the source, not the customer id.
    third = to_idea.turn_into_idea_once(env.db, carol, AGENT, title="Bigger battery",
                                        body="", **lookups(rm))  # fmt: skip
    with env.db.session() as s:
        (c,) = ideas.contributors(s, third.idea_id)
        assert c.customer_id is None and c.handle == "carol@mstdn.io" and c.post_id == "k1"
        assert s.get(Idea, third.idea_id).title == "Bigger battery"
        # Her idea's status changes reach her in public, on the post she wrote.
        ideas.set_status(s, third.idea_id, "planned", "In the 2027 lamp", AGENT,
                         lambda ids: people.routes(rm, ids))  # fmt: skip
        item = s.scalar(select(OutboxItem).where(OutboxItem.in_reply_to == "k1"))
        assert item is not None and item.body.startswith("@carol@mstdn.io ")


def test_turning_twice_at_the_same_moment_still_makes_one_idea(env: Env) -> None:
    conv = conversation(env, "dave@mstdn.io", [("d1", "Sell spare straps", 0)])
    gate = threading.Barrier(2)
    got: list[to_idea.Outcome] = []

    def work() -> None:
        db = AppDB(env.settings.resolved_database_url, run_migrations=False)
        try:
            gate.wait()
            got.append(to_idea.turn_into_idea_once(db, conv, AGENT))
        finally:
            db.close()

    threads = [threading.Thread(target=work) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(got) == 2 and got[0].idea_id == got[1].idea_id
    assert sorted(o.created for o in got) == [False, True]
    with env.db.session() as s:
        assert s.scalar(select(func.count()).select_from(Idea)) == 1


def test_an_idea_proposed_from_the_same_post_is_linked_not_doubled(env: Env) -> None:
    conv = conversation(env, "bob@mastodon.social", [("b1", "Make the lamp dimmable", 0)])
    with env.db.session() as s:
        proposed = ideas.submit(s, "Make the lamp dimmable", actor="sync", source="post",
                                proposed=True, source_key="post:mastodon:b1").id  # fmt: skip
    out = to_idea.turn_into_idea_once(env.db, conv, AGENT)
    assert out.idea_id == proposed and not out.created
    with env.db.session() as s:
        assert s.scalar(select(func.count()).select_from(Idea)) == 1
        assert not s.get(Idea, proposed).proposed  # the agent's action confirms it
        assert ideas.conversation_ids(s, [proposed]) == [conv]


# -- ask a question ----------------------------------------------------------------------
def mention(pid: str, text: str, when: datetime, **kw: object) -> str:
    return json.dumps({"platform": "jsonl", "post_id": pid, "author_handle": "zoe",
                       "text": text, "created_at": when.isoformat() + "Z", **kw})  # fmt: skip


def test_ask_queues_one_reply_waits_and_the_answer_reopens(env: Env) -> None:
    folder = env.settings.home / "inbox"
    folder.mkdir(parents=True)
    mentions = folder / "mentions.jsonl"
    mentions.write_text(mention("j1", "@acme my parcel never arrived", T0, intent="complaint",
                                sentiment_score=-0.7) + "\n")  # fmt: skip
    conn = JsonlConnector(mentions, folder / "replies.jsonl")
    with env.db.session() as s:
        from_connector(conn, s, env.settings, now=T0)
        workflow.save_reply(s, "order-number", "Hi {handle}, what is your order number?",
                            AGENT, question=True)  # fmt: skip
        workflow.save_reply(s, "thanks", "Thanks!", AGENT)
    with env.db.session() as s:
        conv = s.scalar(select(Conversation))
        with pytest.raises(workflow.WorkflowError, match="not a question template"):
            workflow.ask(s, conv, AGENT, connector="jsonl", saved="thanks")
        with pytest.raises(workflow.WorkflowError, match="pick a question template"):
            workflow.ask(s, conv, AGENT, connector="jsonl", question="  ")
        first = workflow.ask(s, conv, AGENT, connector="jsonl", saved="order-number",
                             key="ask-1", now=at(1))  # fmt: skip
        again = workflow.ask(s, conv, AGENT, connector="jsonl", saved="order-number",
                             key="ask-1", now=at(1))  # a double-submitted form  # fmt: skip
        assert first == again
        assert conv.state == "waiting" and conv.waiting_since == at(1)
        assert conv.first_response_at == at(1)  # a question is a response
        conv_id = conv.id
        items = s.scalars(select(OutboxItem)).all()
        assert [i.body for i in items] == ["Hi zoe, what is your order number?"]
        assert items[0].in_reply_to == "j1" and items[0].status == "pending"
        assert s.scalar(select(AuditEntry.action).where(AuditEntry.target == str(conv_id))) == (
            "conversation.ask"
        )
    # Delivered through the same outbox as any reply; the answer threads onto it.
    assert outbox.deliver_pass(env.db, conn, max_attempts=3, now=at(1.1))["sent"] == 1
    assert len((folder / "replies.jsonl").read_text().splitlines()) == 1
    with mentions.open("a") as f:
        f.write(mention("j2", "@acme it is 4711", at(5), reply_to_post_id="reply-ask-1",
                        intent="question", sentiment_score=0.0) + "\n")  # fmt: skip
    with env.db.session() as s:
        from_connector(conn, s, env.settings, now=at(6))
        conv = s.get(Conversation, conv_id)
        assert conv.state == "open" and conv.messages == 2
        # It waited on the customer from 1 h to 5 h: the resolution SLA moves on by 4 h.
        assert conv.waiting_since is None and conv.waiting_seconds == 4 * 3600
        assert conv.resolution_due == at(48 + 4)


def test_waiting_on_the_customer_does_not_count_against_the_resolution_sla(env: Env) -> None:
    conv_id = conversation(env, "amelia@fosstodon.org", [("s1", "where is my order", 0)])
    with env.db.session() as s:
        conv = s.get(Conversation, conv_id)
        workflow.reply(s, conv, "Could you DM us the order number?", AGENT, connector="jsonl",
                       ask=True, now=at(2))  # fmt: skip
        assert conv.state == "waiting"
        # 60 h after the first post, 58 of them waiting on her: not breached (48 h SLA).
        out = inbox.check_slas(s, env.settings, now=at(60))
        assert out["resolution"] == 0 and not conv.resolution_breached
        assert sla.resolution_hours_used(conv, at(60)) == pytest.approx(2.0)
        assert conv.priority_parts["waiting"] == pytest.approx(2 / 48)
    with env.db.session() as s:
        post = inbox.Post("mastodon", "s2", "amelia@fosstodon.org", "it is 4711", at(60),
                          reply_to_post_id="s1", intent="question")  # fmt: skip
        inbox.ingest(s, [post], env.settings, now=at(60))
        conv = s.get(Conversation, conv_id)
        assert conv.state == "open" and conv.waiting_seconds == 58 * 3600
        assert conv.resolution_due == at(48 + 58)
        assert inbox.check_slas(s, env.settings, now=at(105))["resolution"] == 0
        assert inbox.check_slas(s, env.settings, now=at(107))["resolution"] == 1

    # Resolved straight from waiting: the wait up to then is not counted either.
    other = conversation(env, "bob@mastodon.social", [("o1", "blue or green?", 0)])
    with env.db.session() as s:
        conv = s.get(Conversation, other)
        workflow.reply(s, conv, "Which size?", AGENT, connector="jsonl", now=at(1))
        workflow.transition(s, conv, "resolved", AGENT, now=at(70))
        assert not conv.resolution_breached and conv.waiting_seconds == 69 * 3600
        assert conv.resolution_due == at(48 + 69)


# -- queues ------------------------------------------------------------------------------
def test_queue_filter_returns_only_that_queue_with_counts(env: Env) -> None:
    ids = {}
    for n, topic in enumerate([1, 1, 1, 2, 2, None]):
        ids[n] = conversation(env, f"user{n}@m.example", [(f"q{n}", "help", n)], topic=topic)
    with env.db.session() as s:
        ann = s.scalar(select(User.id).where(User.email == AGENT))
        workflow.assign(s, s.get(Conversation, ids[0]), ann, AGENT)
        rows, total = list_conversations(s, states=inbox.OPEN_STATES, assignee=None,
                                         queue="topic:1", page=1, size=50)  # fmt: skip
        assert total == 3 and {r["id"] for r in rows} == {ids[0], ids[1], ids[2]}
        assert {r["queue"] for r in rows} == {"topic:1"}
        rows, total = list_conversations(s, states=inbox.OPEN_STATES, assignee=None,
                                         queue="topic:1", unassigned=True, page=1,
                                         size=50)  # fmt: skip
        assert total == 2 and ids[0] not in {r["id"] for r in rows}
        rows, total = list_conversations(s, states=inbox.OPEN_STATES, assignee=ann,
                                         queue="topic:1", page=1, size=50)  # fmt: skip
        assert [r["id"] for r in rows] == [ids[0]]
        rows, total = list_conversations(s, states=("new",), assignee=None, queue="topic:1",
                                         page=1, size=50)  # fmt: skip
        assert total == 2  # the assigned one is open now
        assert queue_counts(s, states=inbox.OPEN_STATES) == [
            {"queue": "topic:1", "count": 3},
            {"queue": "topic:2", "count": 2},
            {"queue": "general", "count": 1},
        ]
        assert queue_counts(s, states=inbox.OPEN_STATES, unassigned=True)[0] == {
            "queue": "topic:1", "count": 2}  # fmt: skip


# -- delivery workers --------------------------------------------------------------------
@pytest.fixture(params=["sqlite", "postgresql"])
def shared_url(request: pytest.FixtureRequest, env: Env) -> Iterator[str]:
    """An app database two workers share: the workspace's SQLite file, or PostgreSQL."""
    if request.param == "sqlite":
        yield env.settings.resolved_database_url
        return
    server = request.getfixturevalue("postgres_url")
    name = f"t{uuid.uuid4().hex[:12]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f"CREATE DATABASE {name}"))
    admin.dispose()
    url = server.rsplit("/", 1)[0] + f"/{name}"
    AppDB(url).close()  # migrated once, before the workers start
    yield url


def test_two_workers_deliver_each_outbox_item_once(shared_url: str) -> None:
    server = FakeMastodon([], post_delay=0.05)
    keys = [f"k{i:02d}" for i in range(16)]
    db = AppDB(shared_url)
    with db.session() as s:
        for k in keys:
            outbox.enqueue(s, connector="mastodon", body=f"reply {k}", in_reply_to=None,
                           conversation_id=None, actor="t", key=k)  # fmt: skip
    gate = threading.Barrier(2)
    results: list[dict[str, int]] = []
    with serving(server.app()) as url:

        def worker() -> None:
            mine = AppDB(shared_url, run_migrations=False)  # its own connections
            conn = MastodonConnector(url, TOKEN)
            try:
                gate.wait()
                results.append(outbox.deliver_pass(mine, conn, max_attempts=3))
            finally:
                conn.close()
                mine.close()

        threads = [threading.Thread(target=worker) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    posted = [k for m, k in server.requests if m == "POST"]
    assert sorted(posted) == keys  # every item posted, none twice
    assert len(server.statuses) == 16
    assert sum(r["sent"] for r in results) == 16
    assert all(r["sent"] > 0 for r in results)  # both really worked, side by side
    with db.session() as s:
        items = s.scalars(select(OutboxItem)).all()
        assert {i.status for i in items} == {"sent"} and {i.attempts for i in items} == {1}
        assert all(i.lease_owner is None for i in items)
    db.close()


def test_a_lease_left_by_a_dead_worker_expires(env: Env) -> None:
    folder = env.settings.home / "inbox"
    conn = JsonlConnector(folder / "mentions.jsonl", folder / "replies.jsonl")
    now = at(0)
    with env.db.session() as s:
        item = outbox.enqueue(s, connector="jsonl", body="hi", in_reply_to="x", now=now,
                              conversation_id=None, actor="t", key="lease-1")  # fmt: skip
        item.lease_owner, item.lease_until = "a-worker-that-died", now + timedelta(minutes=5)
    held = outbox.deliver_pass(env.db, conn, max_attempts=3, now=now)
    assert held == {"sent": 0, "retry": 0, "dead": 0, "skipped": 0}  # not even a candidate
    later = outbox.deliver_pass(env.db, conn, max_attempts=3, now=now + timedelta(minutes=6))
    assert later["sent"] == 1
    assert len((folder / "replies.jsonl").read_text().splitlines()) == 1


def test_two_webhook_passes_send_each_delivery_once(env: Env) -> None:
    policy = webhooks.Policy(backoff_seconds=30, max_attempts=3, disable_after=10)
    with receiver([], delay=0.05) as r:
        with env.db.session() as s:
            webhooks.subscribe(s, r.url, ["idea.status_changed"], "admin", allow_host=True)
            for i in range(10):
                webhooks.emit(s, "idea.status_changed", f"test:{i}", {"n": i})
            webhooks.fan_out(s)
        gate = threading.Barrier(2)
        reports: list[webhooks.Report] = []

        def worker() -> None:
            db = AppDB(env.settings.resolved_database_url, run_migrations=False)
            try:
                gate.wait()
                reports.append(webhooks.deliver(db, policy))
            finally:
                db.close()

        threads = [threading.Thread(target=worker) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        ids = [g.headers["Socialcrm-Delivery-Id"] for g in r.got]
    assert len(ids) == 10 and len(set(ids)) == 10
    assert sum(x.delivered for x in reports) == 10
    with env.db.session() as s:
        assert set(s.scalars(select(WebhookDelivery.status))) == {"delivered"}


# -- brand handles, migration ------------------------------------------------------------
def test_the_brands_handles_per_platform_count_as_first_responses(env: Env) -> None:
    settings = env.settings.model_copy(
        update={"inbox_brand_handles": "mastodon:acme@mastodon.social, bluesky:acme.bsky.social"}
    )
    posts = [
        inbox.Post("mastodon", "h1", "eve@mstdn.io", "broken zip", at(0), sentiment_score=-0.6,
                   intent="complaint"),
        inbox.Post("mastodon", "h2", "acme@mastodon.social", "Sorry Eve, we'll fix it", at(1),
                   reply_to_post_id="h1", intent="other"),
        inbox.Post("bluesky", "h3", "acme@mastodon.social", "not us on bluesky", at(2),
                   intent="complaint", sentiment_score=-0.5),
    ]  # fmt: skip
    with env.db.session() as s:
        counts = inbox.ingest(s, posts, settings, now=at(2))
        conv = s.scalar(select(Conversation).where(Conversation.author_handle == "eve@mstdn.io"))
        assert conv.first_response_at == at(1) and counts["replies"] == 1
        assert counts["conversations"] == 2  # the look-alike on another network is a customer


def test_migration_0005_goes_down_and_up(shared_url: str) -> None:
    from socialcrm.appdb.models import Base

    engine = make_engine(shared_url)
    migrate(engine)
    ours = {"conversation_ideas", "conversations", "saved_replies", "outbox",
            "webhook_deliveries"}  # fmt: skip
    for name in ours:
        cols = {c["name"] for c in inspect(engine).get_columns(name)}
        assert cols == set(Base.metadata.tables[name].columns.keys()), name
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0004_collaborating")
    assert "conversation_ideas" not in inspect(engine).get_table_names()
    conv_cols = {c["name"] for c in inspect(engine).get_columns("conversations")}
    assert "waiting_seconds" not in conv_cols
    migrate(engine)
    assert "lease_owner" in {c["name"] for c in inspect(engine).get_columns("outbox")}
    engine.dispose()


def test_outbox_items_and_contributors_are_untouched_by_a_second_turn(env: Env) -> None:
    conv = conversation(env, "fay@mstdn.io", [("f1", "Add a red colour", 0)])
    for _ in range(3):
        to_idea.turn_into_idea_once(env.db, conv, AGENT)
    with env.db.session() as s:
        assert s.scalar(select(func.count()).select_from(IdeaContributor)) == 1
