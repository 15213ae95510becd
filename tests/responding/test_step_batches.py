"""The pipeline's inbox step in short transactions: the same rows as one transaction,
nothing lost or doubled when it stops half-way and runs again, the lock free between
batches. On SQLite and PostgreSQL; nothing is timed.

A first ``socialcrm score`` on a 100k-customer brand syncs ~100k posts into the app
database while the app may be served. In one transaction that held SQLite's write lock
for minutes, and sign-ins failed with "database is locked". Here a small brand stands in:
its posts are grouped across batch borders (threads, author windows, the brand's
replies, the mood after them), so a batch that saw a stale conversation would show.
"""

from __future__ import annotations

import json
import random
import re
import sqlite3
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, func, select, text

from socialcrm.appdb.db import AppDB
from socialcrm.appdb.models import (
    ConnectorCursor,
    Conversation,
    ConversationMessage,
    DomainEvent,
)
from socialcrm.config import Settings
from socialcrm.pipeline import run_context
from socialcrm.responding import inbox, step, sync, workflow
from socialcrm.store.workspace import Workspace
from tests.responding.conftest import NOW, Env, write_context
from tests.responding.test_inbox import ROWS, posts_table

AUTHORS = [
    "amelia@fosstodon.org",  # influential, valuable, at risk (the context tables)
    "dave@mstdn.io",
    "bob@mastodon.social",
    "carol@mstdn.io",
    "erin@mstdn.io",
    "frank@fosstodon.org",
]
INTENTS = ["complaint", "question", "suggestion", "praise", "other", "other"]


def brand_posts(n: int = 90, seed: int = 7) -> list[tuple]:
    """``n`` posts over about five days before :data:`NOW`, as ``posts_enriched`` rows:
    threads that continue in later batches, the brand's (``acme``) replies, customers
    writing after a reply, authors writing again inside and outside the window, and
    spam, duplicates, reshares and posts that need no answer (left out)."""
    rng = random.Random(seed)
    at = NOW.replace(tzinfo=UTC) - timedelta(days=5)
    rows: list[tuple] = []
    for i in range(n):
        at += timedelta(minutes=rng.randrange(5, 150))
        earlier = [r[0] for r in rows]
        brand = bool(earlier) and rng.random() < 0.2
        reply = rng.choice(earlier) if earlier and (brand or rng.random() < 0.25) else None
        platform = "bluesky" if rng.random() < 0.15 else "mastodon"
        rows.append(
            (
                f"p{i:03d}",
                platform,
                "acme" if brand else rng.choice(AUTHORS),
                f"post {i}",
                at,
                reply,
                f"p{rng.randrange(i)}" if i and rng.random() < 0.05 else None,  # a reshare
                rng.choice([1, 2, 3, None]),
                round(rng.uniform(-1, 0.6), 3),
                "other" if brand else rng.choice(INTENTS),
                None,
                rng.random() < 0.05,
                rng.random() < 0.05,
            )
        )
    return rows


# -- databases ----------------------------------------------------------------------------
@pytest.fixture(params=["sqlite", "postgresql"])
def new_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[], AppDB]]:
    """A factory of fresh, migrated app databases: SQLite files, or PostgreSQL databases."""
    made: list[AppDB] = []
    server = request.getfixturevalue("postgres_url") if request.param == "postgresql" else None

    def make() -> AppDB:
        name = f"t{uuid.uuid4().hex[:12]}"
        if server is None:
            url = f"sqlite:///{tmp_path / name}.db"
        else:
            admin = create_engine(server, isolation_level="AUTOCOMMIT")
            with admin.connect() as c:
                c.execute(text(f"CREATE DATABASE {name}"))
            admin.dispose()
            url = server.rsplit("/", 1)[0] + f"/{name}"
        made.append(AppDB(url))
        return made[-1]

    yield make
    for db in made:
        db.close()


def snapshot(db: AppDB) -> dict[str, Any]:
    """Every row the sync and the SLA check write, by natural key (ids and insert times
    left out: PostgreSQL does not give back the ids of a rolled-back batch)."""
    skip = {"id", "created_at"}
    with db.session() as s:
        convs = list(s.scalars(select(Conversation)))
        key = {c.id: c.key for c in convs}

        def cols(obj: Any) -> dict[str, Any]:
            return {c.key: getattr(obj, c.key) for c in obj.__table__.columns if c.key not in skip}

        def named(value: Any) -> Any:  # conversation ids, in keys and payloads, by key
            if isinstance(value, str):
                return re.sub(r"^(\w+):(\d+)", lambda m: f"{m[1]}:{key[int(m[2])]}", value)
            return {k: key[v] if k == "conversation_id" else v for k, v in value.items()}

        messages = {}
        for m in s.scalars(select(ConversationMessage)):
            row = cols(m)
            row["conversation_id"] = key[m.conversation_id]
            messages[(m.platform, m.post_id)] = row
        events = {named(e.key): (e.kind, named(e.payload)) for e in s.scalars(select(DomainEvent))}
        cursor = s.get(ConnectorCursor, sync.SYNC_CURSOR)
        return {
            "conversations": {c.key: cols(c) for c in convs},
            "messages": messages,
            "events": events,
            "cursor": cursor.value if cursor else None,
        }


def one_transaction(env: Env, db: AppDB) -> tuple[dict[str, int], dict[str, int]]:
    """Today's sync and SLA check, everything in one transaction: the reference."""
    with db.session() as s:
        counts = sync.from_warehouse(env.ws, s, env.settings, now=NOW)
        breaches = inbox.check_slas(s, env.settings, now=NOW)
    return counts, breaches


def in_batches(env: Env, db: AppDB, batch: int) -> tuple[dict[str, int], dict[str, int]]:
    counts = sync.sync_warehouse(env.ws, db, env.settings, batch=batch, now=NOW, read_batch=20)
    return counts, step.check_slas_in_batches(db, env.settings, now=NOW, batch=batch)


# -- tests --------------------------------------------------------------------------------
def test_a_batched_sync_groups_as_expected(env: Env) -> None:
    """The known small brand (tests/responding/test_inbox.py), one post per transaction."""
    env.ws.warehouse.write("posts_enriched", posts_table(ROWS))
    first = sync.sync_warehouse(env.ws, env.db, env.settings, batch=1, now=NOW)
    # left out: s1 spam, r1 a reshare, d1 a duplicate, n1 needing no answer
    assert first == {"messages": 6, "conversations": 4, "skipped": 4, "replies": 1}
    again = sync.sync_warehouse(env.ws, env.db, env.settings, batch=1, now=NOW)
    assert again["messages"] == again["conversations"] == again["replies"] == 0
    with env.db.session() as s:
        msgs = {m.post_id: m.conversation_id for m in s.scalars(select(ConversationMessage))}
        assert set(msgs) == {"a1", "a2", "a3", "a4", "b1", "b2", "z1"}
        assert msgs["a1"] == msgs["a2"] == msgs["z1"] != msgs["a3"]
        assert msgs["a4"] != msgs["a1"] and msgs["b1"] == msgs["b2"]
        amelia = s.get(Conversation, msgs["a1"])
        assert amelia.customer_id == "c1" and amelia.messages == 2
        assert amelia.first_response_at is not None
        assert amelia.sentiment_score == pytest.approx(-0.7)
        assert amelia.sentiment_after == pytest.approx(-0.8)  # a2, after the reply z1
        newest = max(r[4] for r in ROWS).astimezone(UTC).replace(tzinfo=None)
        assert s.get(ConnectorCursor, sync.SYNC_CURSOR).value == newest.isoformat()


@pytest.mark.parametrize("batch", [1, 7, 1000])
def test_batches_write_the_rows_one_transaction_writes(env: Env, new_db, batch: int) -> None:
    env.ws.warehouse.write("posts_enriched", posts_table(brand_posts()))
    reference, batched = new_db(), new_db()
    expected = one_transaction(env, reference)
    got = in_batches(env, batched, batch)
    assert got == expected
    counts, breaches = got
    assert counts["conversations"] > 10 and counts["replies"] > 5 and counts["skipped"] > 10
    assert breaches["first_response"] > 0 and breaches["resolution"] > 0
    want = snapshot(reference)
    assert snapshot(batched) == want
    threads = [c for c in want["conversations"].values() if c["sentiment_after"] is not None]
    assert threads and any(c["messages"] > 2 for c in want["conversations"].values())


def test_a_sync_that_stops_half_way_is_finished_by_the_next(
    env: Env, new_db, monkeypatch: pytest.MonkeyPatch
) -> None:
    env.ws.warehouse.write("posts_enriched", posts_table(brand_posts()))
    reference, db = new_db(), new_db()
    one_transaction(env, reference)
    real = inbox.ingest
    calls: list[list[sync.Post]] = []

    def ingest_then_fail(s, posts, *args: Any, **kwargs: Any) -> dict[str, int]:
        calls.append(list(posts))
        counts = real(s, posts, *args, **kwargs)  # written, then rolled back
        if len(calls) == 2:
            raise RuntimeError("the process died in the second batch")
        return counts

    monkeypatch.setattr(sync, "ingest", ingest_then_fail)
    with pytest.raises(RuntimeError, match="second batch"):
        sync.sync_warehouse(env.ws, db, env.settings, batch=10, now=NOW)
    with db.session() as s:  # the first batch is there, and only it
        stored = sorted(s.scalars(select(ConversationMessage.post_id)))
        cursor = s.get(ConnectorCursor, sync.SYNC_CURSOR).value
    first = calls[0]  # the first ten posts the engine kept (it leaves out spam and such)
    assert len(first) == 10 and first[-1].post_id < calls[1][0].post_id
    first_ten = {p.post_id for p in first}
    want = sorted(p for _, p in snapshot(reference)["messages"] if p in first_ten)
    assert stored == want and stored
    assert cursor == first[-1].created_at.isoformat()
    monkeypatch.setattr(sync, "ingest", real)
    in_batches(env, db, 10)
    assert snapshot(db) == snapshot(reference)
    in_batches(env, db, 10)  # and once more: nothing changes
    assert snapshot(db) == snapshot(reference)


def test_an_sla_check_that_stops_half_way_records_each_breach_once(
    env: Env, new_db, monkeypatch: pytest.MonkeyPatch
) -> None:
    env.ws.warehouse.write("posts_enriched", posts_table(brand_posts()))
    reference, db = new_db(), new_db()
    one_transaction(env, reference)
    sync.sync_warehouse(env.ws, db, env.settings, batch=10, now=NOW)
    real = step._check_batch
    calls: list[int] = []

    def check_then_fail(*args: Any, **kwargs: Any) -> tuple[dict[str, int], int | None]:
        out, last = real(*args, **kwargs)  # written, then (the second) rolled back
        calls.append(out["first_response"] + out["resolution"])
        if len(calls) == 2:
            raise RuntimeError("the process died in the second batch")
        return out, last

    monkeypatch.setattr(step, "_check_batch", check_then_fail)
    with pytest.raises(RuntimeError, match="second batch"):
        step.check_slas_in_batches(db, env.settings, now=NOW, batch=5)
    with db.session() as s:
        kept = s.scalar(select(func.count()).where(DomainEvent.kind == "sla_breached"))
    assert kept == calls[0] > 0 and calls[1] > 0  # the first batch's breaches only
    monkeypatch.setattr(step, "_check_batch", real)
    step.check_slas_in_batches(db, env.settings, now=NOW, batch=5)
    assert snapshot(db) == snapshot(reference)


def test_each_batch_is_committed_and_leaves_the_write_lock_free(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Between two batches another connection sees what the batch wrote and can write
    at once (no busy wait): a sign-in waits for one batch at most, never for the sync."""
    env.ws.warehouse.write("posts_enriched", posts_table(brand_posts()))
    path = env.settings.resolved_database_url.split("///", 1)[1]
    real = sync.in_transaction
    seen: list[int] = []

    def then_look(db: AppDB, work: Callable, *args: Any, **kwargs: Any) -> Any:
        out = real(db, work, *args, **kwargs)
        other = sqlite3.connect(path, timeout=0, isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")  # "database is locked" if a batch held it
            other.execute("ROLLBACK")
            seen.append(other.execute("SELECT count(*) FROM conversation_messages").fetchone()[0])
        finally:
            other.close()
        return out

    monkeypatch.setattr(sync, "in_transaction", then_look)
    counts = sync.sync_warehouse(env.ws, env.db, env.settings, batch=10, now=NOW)
    step.check_slas_in_batches(env.db, env.settings, now=NOW, batch=10)
    posts = len(brand_posts())
    assert len(seen) > -(-posts // 10)  # every sync batch, then the SLA batches
    sync_seen = seen[: -(-posts // 10)]
    assert sync_seen == sorted(sync_seen) and sync_seen[0] > 0  # committed as it went
    assert sync_seen[-1] == counts["messages"] + counts["replies"]


def test_a_batch_that_meets_another_writers_key_runs_again() -> None:
    from sqlalchemy.exc import IntegrityError

    class FakeDB:
        def __init__(self) -> None:
            self.sessions = 0

        def session(self) -> Any:
            from contextlib import nullcontext

            self.sessions += 1
            return nullcontext(None)

    tries: list[int] = []

    def work(s: Any) -> str:
        tries.append(1)
        if len(tries) < 3:
            raise IntegrityError("INSERT …", {}, Exception("UNIQUE constraint failed"))
        return "done"

    db = FakeDB()
    assert sync.in_transaction(db, work) == "done" and db.sessions == 3
    tries.clear()
    with pytest.raises(IntegrityError):
        sync.in_transaction(db, work, attempts=2)


def test_two_syncs_at_once_end_with_the_rows_of_one(env: Env, new_db) -> None:
    """A pipeline run and `socialcrm inbox sync` at the same moment: each batch either
    writes its posts or, meeting the other's rows, runs again and skips them."""
    import threading

    env.ws.warehouse.write("posts_enriched", posts_table(brand_posts()))
    reference, db = new_db(), new_db()
    one_transaction(env, reference)
    errors: list[BaseException] = []

    def run() -> None:  # a process of its own: its own workspace (engine) and session
        try:
            with Workspace.open(env.settings) as ws:
                sync.sync_warehouse(ws, db, env.settings, batch=3, now=NOW)
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    step.check_slas_in_batches(db, env.settings, now=NOW)
    assert snapshot(db) == snapshot(reference)


def test_the_pipeline_step_syncs_in_batches_and_is_idempotent(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    env.ws.warehouse.write("posts_enriched", posts_table(brand_posts()))
    monkeypatch.setattr(sync, "SYNC_BATCH", 10)
    monkeypatch.setattr(step, "SLA_BATCH", 10)
    transactions: list[int] = []
    real = sync.in_transaction

    def counted(*args: Any, **kwargs: Any) -> Any:
        transactions.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(sync, "in_transaction", counted)
    first = step.step_inbox(env.ws, run_context(env.ws))
    assert len(transactions) >= len(brand_posts()) // 10
    with env.db.session() as s:
        stored = s.scalar(select(func.count()).select_from(ConversationMessage))
        convs = s.scalar(select(func.count()).select_from(Conversation))
    assert first["inbox_messages"] == stored > 0 and first["inbox_conversations"] == convs
    again = step.step_inbox(env.ws, run_context(env.ws))
    assert again == {"inbox_conversations": 0, "inbox_messages": 0, "inbox_sla_breaches": 0}


def test_a_conversation_an_agent_resolved_between_two_syncs_reopens_alike(env: Env, new_db) -> None:
    """State that changes between syncs (an agent resolves a thread, the customer writes
    again): batched and one-transaction syncs reopen it the same way."""
    rows = brand_posts()
    dbs = new_db(), new_db()
    env.ws.warehouse.write("posts_enriched", posts_table(rows[:45]))
    one_transaction(env, dbs[0])
    in_batches(env, dbs[1], 4)
    for db in dbs:
        with db.session() as s:
            for conv in s.scalars(select(Conversation).where(Conversation.is_open)):
                workflow.transition(s, conv, "resolved", "agent@test.io", now=NOW)
    env.ws.warehouse.write("posts_enriched", posts_table(rows))
    one_transaction(env, dbs[0])
    in_batches(env, dbs[1], 4)
    want = snapshot(dbs[0])
    assert snapshot(dbs[1]) == want
    assert any(c["state"] == "open" and c["resolved_at"] for c in want["conversations"].values())


def test_the_step_on_postgresql(postgres_url: str, tmp_path: Path) -> None:
    """The step on PostgreSQL through the workspace's settings (database_url)."""
    name = f"t{uuid.uuid4().hex[:12]}"
    admin = create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f"CREATE DATABASE {name}"))
    admin.dispose()
    url = postgres_url.rsplit("/", 1)[0] + f"/{name}"
    settings = Settings(home=tmp_path / "ws", inbox_brand_handle="acme", database_url=url)
    ws = Workspace.open(settings)
    try:
        write_context(ws)
        ws.warehouse.write("posts_enriched", posts_table(brand_posts()))
        first = step.step_inbox(ws, run_context(ws))
        again = step.step_inbox(ws, run_context(ws))
    finally:
        ws.close()
    assert first["inbox_messages"] > 0 and first["inbox_conversations"] > 0
    assert again == {"inbox_conversations": 0, "inbox_messages": 0, "inbox_sla_breaches": 0}


def test_the_inbox_sync_command_commits_in_batches_and_adds_nothing_twice(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`socialcrm inbox sync` goes through sync_warehouse, like the pipeline's step."""
    from typer.testing import CliRunner

    from socialcrm.cli import app
    from socialcrm.config import get_settings

    env.ws.warehouse.write("posts_enriched", posts_table(ROWS))
    monkeypatch.setenv("SOCIALCRM_HOME", str(env.settings.home))
    monkeypatch.setenv("SOCIALCRM_INBOX_BRAND_HANDLE", "acme")
    calls: list[int | None] = []
    real = sync.sync_warehouse
    monkeypatch.setattr(
        sync, "sync_warehouse", lambda *a, **kw: calls.append(kw.get("batch")) or real(*a, **kw)
    )
    get_settings.cache_clear()
    try:
        runner = CliRunner()
        first = runner.invoke(app, ["inbox", "sync", "--json"])
        again = runner.invoke(app, ["inbox", "sync", "--json"])
    finally:
        get_settings.cache_clear()
    assert first.exit_code == 0 and again.exit_code == 0, first.output + again.output
    assert len(calls) == 2
    assert json.loads(first.stdout) == {"messages": 6, "conversations": 4, "skipped": 4,
                                        "replies": 1}  # fmt: skip
    counts = json.loads(again.stdout)
    assert counts["messages"] == counts["conversations"] == counts["replies"] == 0
    with env.db.session() as s:
        posts = set(s.scalars(select(ConversationMessage.post_id)))
    assert posts == {"a1", "a2", "a3", "a4", "b1", "b2", "z1"}
