"""Filling the inbox: from the warehouse's ``posts_enriched`` and from a connector.

Both paths end in :func:`inbox.ingest`, so grouping, filtering and idempotency are the
same whichever way a post arrives. Influence and customer value are looked up in the
warehouse only for the authors in hand (never a whole table in Python memory).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import numpy as np
from sqlalchemy.orm import Session

from socialcrm.appdb.models import ConnectorCursor, utcnow
from socialcrm.config import Settings
from socialcrm.responding.connectors import Connector
from socialcrm.responding.inbox import Context, Post, ingest
from socialcrm.store.workspace import Workspace

SYNC_CURSOR = "sync:posts_enriched"


def context_for(ws: Workspace | None, posts: Sequence[Post]) -> Context:
    """Influence by handle and CLV/risk by customer for the authors of ``posts``."""
    ctx = Context()
    if ws is None or not posts:
        return ctx
    wh = ws.warehouse
    handles = sorted({p.author_handle.lower() for p in posts})
    if wh.exists("handle_influence"):
        t = wh.table("handle_influence")
        rows = ws.engine.to_arrow(
            t.filter(t.handle.lower().isin(ws.engine.values(handles))).select(
                "platform", "handle", "customer_id", "influence_score"
            )
        ).to_pylist()
        for r in rows:
            key = (r["platform"], r["handle"].lower())
            if r["influence_score"] is not None:
                ctx.influence[key] = float(r["influence_score"])
            if r["customer_id"]:
                ctx.customer_of.setdefault(key, r["customer_id"])
    customers = sorted(
        {p.customer_id for p in posts if p.customer_id} | set(ctx.customer_of.values())
    )
    if customers and wh.exists("customer_transaction_scores"):
        t = wh.table("customer_transaction_scores")
        rows = ws.engine.to_arrow(
            t.filter(t.customer_id.isin(ws.engine.values(customers))).select(
                "customer_id", "clv", "risk_band"
            )
        ).to_pylist()
        for r in rows:
            if r["clv"] is not None:
                ctx.clv[r["customer_id"]] = float(r["clv"])
            if r["risk_band"]:
                ctx.risk_band[r["customer_id"]] = r["risk_band"]
    return ctx


def from_warehouse(
    ws: Workspace, s: Session, settings: Settings, batch: int = 5000, now: datetime | None = None
) -> dict[str, int]:
    """Sync ``posts_enriched`` into conversations, from where the last sync stopped."""
    if not ws.warehouse.exists("posts_enriched"):
        return {"messages": 0, "conversations": 0, "skipped": 0, "replies": 0}
    t = ws.warehouse.table("posts_enriched")
    cursor = s.get(ConnectorCursor, SYNC_CURSOR)
    if cursor is not None:
        # Look back: posts may reach the warehouse late (a pipeline re-run, a slow
        # source); those already stored are skipped by their post id.
        since = datetime.fromisoformat(cursor.value) - timedelta(
            days=settings.inbox_sync_lookback_days
        )
        t = t.filter(t.created_at >= since.replace(tzinfo=UTC))
    cols = [c for c in ("post_id", "platform", "author_handle", "text", "created_at",
                        "reply_to_post_id", "topic_id", "sentiment_score", "intent",
                        "customer_id", "is_spam", "is_duplicate", "reshare_of_post_id")
            if c in t.columns]  # fmt: skip
    total = {"messages": 0, "conversations": 0, "skipped": 0, "replies": 0}
    table = ws.engine.to_arrow(t.select(*cols).order_by(["created_at", "post_id"]))
    latest: datetime | None = None
    for b in table.to_batches(batch):
        posts = [_post(r) for r in b.to_pylist()]
        counts = ingest(s, posts, settings, context_for(ws, posts), now=now)
        for k, v in counts.items():
            total[k] += v
        if posts:
            latest = max(latest or posts[-1].created_at, posts[-1].created_at)
    if latest is not None:
        _set_cursor(s, SYNC_CURSOR, latest.isoformat())
    return total


def _post(r: dict) -> Post:
    created = r["created_at"]
    if created.tzinfo is not None:
        created = created.astimezone(UTC).replace(tzinfo=None)
    return Post(
        platform=r.get("platform") or "unknown",
        post_id=str(r["post_id"]),
        author_handle=r.get("author_handle") or "?",
        text=r.get("text") or "",
        created_at=created,
        reply_to_post_id=r.get("reply_to_post_id"),
        topic_id=r.get("topic_id"),
        sentiment_score=r.get("sentiment_score"),
        intent=r.get("intent"),
        customer_id=r.get("customer_id"),
        is_spam=bool(r.get("is_spam")),
        is_duplicate=bool(r.get("is_duplicate")),
        is_reshare=r.get("reshare_of_post_id") is not None,
    )


def label(posts: list[Post]) -> list[Post]:
    """Give posts from a connector the listening's sentiment and intent (lexicon)."""
    todo = [p for p in posts if p.sentiment_score is None or p.intent is None]
    if not todo:
        return posts
    from dataclasses import replace

    from socialcrm.listening.intent import classify_intent
    from socialcrm.listening.sentiment import get_analyzer

    texts = [p.text for p in todo]
    _, scores = get_analyzer("lexicon").analyze(texts)
    intents = classify_intent(texts, np.asarray(scores))
    done = {
        id(p): replace(
            p,
            sentiment_score=p.sentiment_score if p.sentiment_score is not None else float(sc),
            intent=p.intent or str(it),
        )
        for p, sc, it in zip(todo, scores, intents, strict=True)
    }
    return [done.get(id(p), p) for p in posts]


def from_connector(
    connector: Connector,
    s: Session,
    settings: Settings,
    ws: Workspace | None = None,
    now: datetime | None = None,
) -> dict[str, int]:
    """Read new mentions from ``connector`` into the inbox and move its cursor.

    The cursor moves in the same transaction as the messages, so a crash re-reads and
    the unique post ids drop what was stored.
    """
    name = f"connector:{connector.name}"
    cursor = s.get(ConnectorCursor, name)
    posts, new = connector.fetch(cursor.value if cursor else None)
    posts = label(posts)
    counts = ingest(s, posts, settings, context_for(ws, posts), now=now)
    if new is not None:
        _set_cursor(s, name, new)
    counts["fetched"] = len(posts)
    return counts


def _set_cursor(s: Session, name: str, value: str) -> None:
    cur = s.get(ConnectorCursor, name)
    if cur is None:
        s.add(ConnectorCursor(name=name, value=value, updated_at=utcnow()))
    else:
        cur.value, cur.updated_at = value, utcnow()
    s.flush()
