"""The set-based inbox sync and SLA check write exactly the rows the per-post code wrote
(tests/responding/per_post.py, the code before): on SQLite and PostgreSQL, in any batch
size, run twice, stopped half-way and resumed, and with agents' changes between syncs.

The brand here is mixed on purpose: posts not addressed to the brand, posts that need no
answer, spam, duplicates and reshares (which the engine now leaves out before Python),
handles that merely contain the brand's name or are not ASCII (which it must keep), an
author writing again inside and outside the window, threads across batches.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import UTC, timedelta
from typing import Any

import pyarrow as pa
import pytest
from sqlalchemy import select

from socialcrm.appdb.db import AppDB
from socialcrm.appdb.models import Conversation
from socialcrm.responding import step, sync, workflow
from tests.responding import per_post
from tests.responding.conftest import NOW, Env
from tests.responding.test_step_batches import new_db, snapshot

__all__ = ["new_db"]  # the fixture, shared with test_step_batches

AUTHORS = [
    "amelia@fosstodon.org",
    "dave@mstdn.io",
    "bob@mastodon.social",
    "carol@mstdn.io",
    "acme_fans@mstdn.io",  # contains the brand's handle, is not the brand
    "zoë@mstdn.io",  # not ASCII
    "Erin@mstdn.io",
]
INTENTS = ["complaint", "question", "suggestion", "praise", "other", None]


def mixed_posts(n: int = 300, seed: int = 3) -> pa.Table:
    """``n`` rows of ``posts_enriched`` over about eight days before :data:`NOW`."""
    rng = random.Random(seed)
    at = NOW.replace(tzinfo=UTC) - timedelta(days=8)
    rows: list[dict[str, Any]] = []
    for i in range(n):
        if rng.random() < 0.9:  # some posts share a second (ties on the time)
            at += timedelta(minutes=rng.randrange(1, 90))
        earlier = [r["post_id"] for r in rows]
        brand = bool(earlier) and rng.random() < 0.15
        reply = rng.choice(earlier) if earlier and (brand or rng.random() < 0.3) else None
        author = "acme" if brand else rng.choice(AUTHORS)
        text = f"post {i}" if brand or rng.random() < 0.25 else f"@acme post {i}"
        rows.append(
            {
                "post_id": f"q{i:04d}",
                "platform": "bluesky" if rng.random() < 0.15 else "mastodon",
                "author_handle": author,
                "text": text,
                "created_at": at,
                "reply_to_post_id": reply,
                "reshare_of_post_id": f"q{rng.randrange(i)}" if i and rng.random() < 0.05 else None,
                "topic_id": rng.choice([1, 2, None]),
                "sentiment_score": None if rng.random() < 0.1 else round(rng.uniform(-1, 0.6), 3),
                "intent": "other" if brand else rng.choice(INTENTS),
                "customer_id": None,
                "is_spam": rng.random() < 0.05,
                "is_duplicate": None if rng.random() < 0.05 else rng.random() < 0.1,
            }
        )
    schema = pa.schema(
        [("post_id", pa.string()), ("platform", pa.string()), ("author_handle", pa.string()),
         ("text", pa.string()), ("created_at", pa.timestamp("us", tz="UTC")),
         ("reply_to_post_id", pa.string()), ("reshare_of_post_id", pa.string()),
         ("topic_id", pa.int64()), ("sentiment_score", pa.float64()), ("intent", pa.string()),
         ("customer_id", pa.string()), ("is_spam", pa.bool_()), ("is_duplicate", pa.bool_())]
    )  # fmt: skip
    return pa.Table.from_pylist(rows, schema=schema)


def reference(env: Env, db: AppDB) -> tuple[dict[str, int], dict[str, int]]:
    """The per-post sync and SLA check (the code before), 250 posts a transaction."""
    counts = per_post.sync_warehouse(env.ws, db, env.settings, now=NOW)
    return counts, per_post.check_slas_in_batches(db, env.settings, now=NOW)


def set_based(env: Env, db: AppDB, batch: int | None = None) -> tuple[dict, dict]:
    counts = sync.sync_warehouse(env.ws, db, env.settings, batch=batch, now=NOW, read_batch=64)
    return counts, step.check_slas_in_batches(db, env.settings, now=NOW, batch=batch)


@pytest.mark.parametrize("batch", [1, 13, None])
def test_the_set_based_sync_writes_what_the_per_post_sync_wrote(
    env: Env, new_db: Callable[[], AppDB], batch: int | None
) -> None:
    env.ws.warehouse.write("posts_enriched", mixed_posts())
    old, new = new_db(), new_db()
    want_counts = reference(env, old)
    got_counts = set_based(env, new, batch)
    want = snapshot(old)
    assert snapshot(new) == want
    assert got_counts[0] == want_counts[0]  # skipped included: rows the engine left out
    assert got_counts[1]["first_response"] == want_counts[1]["first_response"] > 0
    assert got_counts[1]["resolution"] == want_counts[1]["resolution"] > 0
    # the brand is as mixed as it should be: replies, threads, authors back in the window
    convs = want["conversations"].values()
    assert want_counts[0]["replies"] > 5 and want_counts[0]["skipped"] > 50
    assert sum(c["messages"] > 1 for c in convs) > 5
    assert any(c["author_handle"] == "zoë@mstdn.io" for c in convs)
    assert any(c["author_handle"] == "acme_fans@mstdn.io" for c in convs)
    assert any(c["sentiment_after"] is not None for c in convs)
    # and again: nothing added, nothing changed but the SLA's view of the same moment
    again = set_based(env, new, batch)
    assert again[0]["messages"] == again[0]["conversations"] == again[0]["replies"] == 0
    assert again[1]["first_response"] == again[1]["resolution"] == 0
    assert snapshot(new) == want


def test_a_set_based_sync_stopped_half_way_ends_like_the_per_post_sync(
    env: Env, new_db: Callable[[], AppDB], monkeypatch: pytest.MonkeyPatch
) -> None:
    env.ws.warehouse.write("posts_enriched", mixed_posts())
    old, new = new_db(), new_db()
    reference(env, old)
    real = sync.ingest
    calls: list[int] = []

    def fail_on_the_third(s: Any, posts: Any, *args: Any, **kwargs: Any) -> dict[str, int]:
        calls.append(1)
        counts = real(s, posts, *args, **kwargs)  # written, then rolled back
        if len(calls) == 3:
            raise RuntimeError("the process died in the third batch")
        return counts

    monkeypatch.setattr(sync, "ingest", fail_on_the_third)
    with pytest.raises(RuntimeError, match="third batch"):
        set_based(env, new, 20)
    half = snapshot(new)
    assert 0 < len(half["messages"]) < len(snapshot(old)["messages"])
    monkeypatch.setattr(sync, "ingest", real)
    set_based(env, new, 20)
    assert snapshot(new) == snapshot(old)


def test_an_sla_check_stopped_half_way_ends_like_the_per_post_check(
    env: Env, new_db: Callable[[], AppDB], monkeypatch: pytest.MonkeyPatch
) -> None:
    env.ws.warehouse.write("posts_enriched", mixed_posts())
    old, new = new_db(), new_db()
    reference(env, old)
    sync.sync_warehouse(env.ws, new, env.settings, now=NOW)
    real = sync.in_transaction
    calls: list[int] = []

    def fail_on_the_second(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("the process died in the second batch")
        return real(*args, **kwargs)

    monkeypatch.setattr(sync, "in_transaction", fail_on_the_second)
    with pytest.raises(RuntimeError, match="second batch"):
        step.check_slas_in_batches(new, env.settings, now=NOW, batch=5)
    monkeypatch.setattr(sync, "in_transaction", real)
    step.check_slas_in_batches(new, env.settings, now=NOW, batch=5)
    assert snapshot(new) == snapshot(old)


def test_agents_changes_between_syncs_are_met_alike(env: Env, new_db: Callable[[], AppDB]) -> None:
    """Resolved, waiting and closed conversations, then more posts: the same rows."""
    table = mixed_posts(400, seed=5)
    old, new = new_db(), new_db()
    env.ws.warehouse.write("posts_enriched", table.slice(0, 200))
    reference(env, old)
    set_based(env, new, 17)
    for db in (old, new):
        with db.session() as s:
            convs = s.scalars(select(Conversation).order_by(Conversation.key)).all()
            for i, conv in enumerate(convs):
                for state in (("resolved",), ("waiting",), ("resolved", "closed"), ())[i % 4]:
                    if state in workflow.TRANSITIONS[conv.state]:
                        workflow.transition(s, conv, state, "agent@test.io", now=NOW)
    env.ws.warehouse.write("posts_enriched", table)
    reference(env, old)
    set_based(env, new, 17)
    want = snapshot(old)
    assert snapshot(new) == want
    states = {c["state"] for c in want["conversations"].values()}
    assert {"open", "waiting", "closed"} <= states


def test_a_sync_looks_the_context_up_once_however_many_batches(
    env: Env, new_db: Callable[[], AppDB], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each look-up scans the brand-sized context tables, so one per batch of posts grew
    with the square of the brand: one per sync, and the rows those per batch wrote."""
    env.ws.warehouse.write("posts_enriched", mixed_posts())
    old, new = new_db(), new_db()
    reference(env, old)  # the context looked up per 5,000 rows, as before
    real = sync._context
    looked_up: list[int] = []

    def counting(*args: Any, **kwargs: Any) -> Any:
        looked_up.append(len(args[1]))
        return real(*args, **kwargs)

    monkeypatch.setattr(sync, "_context", counting)
    counts = sync.sync_warehouse(env.ws, new, env.settings, batch=7, now=NOW, read_batch=16)
    assert counts["messages"] > 16 * 3  # many read batches
    assert len(looked_up) == 1 and looked_up[0] > 5  # one look-up, for every author
    step.check_slas_in_batches(new, env.settings, now=NOW)
    want = snapshot(old)
    assert snapshot(new) == want
    assert any(c["influence"] is not None for c in want["conversations"].values())
    assert any(c["clv"] is not None for c in want["conversations"].values())


def test_the_context_of_rows_is_that_of_their_posts(env: Env) -> None:
    """:func:`sync.context_for_rows` (a sync's rows) and :func:`sync.context_for` (posts,
    for connectors) know the same of the same authors."""
    rows = mixed_posts()
    posts = [sync._post(r) for r in rows.to_pylist()]
    by_rows = sync.context_for_rows(env.ws, rows)
    assert by_rows == sync.context_for(env.ws, posts)
    assert by_rows.influence and by_rows.clv and by_rows.risk_band
