"""The inbox sync and SLA check as they were before they went set-based: a post, then
a conversation, at a time through the ORM. Kept as the reference the faster code must
match row for row (tests/responding/test_sync_set_based.py, benchmarks/inbox_sync.py).
The SLA check a conversation at a time is still the product's own
(:func:`socialcrm.responding.inbox.check_slas`, which ``socialcrm inbox check-slas`` runs),
so it is imported, not copied.
"""

from __future__ import annotations

import functools
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import pyarrow as pa
from sqlalchemy import select
from sqlalchemy.orm import Session

from socialcrm.appdb.models import ConnectorCursor, Conversation, ConversationMessage, utcnow
from socialcrm.config import Settings
from socialcrm.listening.addressed import brand_accounts, needs_response_queries, with_address_flags
from socialcrm.responding import sla
from socialcrm.responding.events import emit
from socialcrm.responding.inbox import (
    OPEN_STATES,
    Brand,
    Context,
    Post,
    _sentiment_after,
    check_slas,
    rescore,
    wanted,
)
from socialcrm.responding.sync import (
    SYNC_CURSOR,
    _batches,
    _set_cursor,
    context_for,
    in_transaction,
)
from socialcrm.store.workspace import Workspace

if TYPE_CHECKING:
    from socialcrm.appdb.db import AppDB

SYNC_BATCH = 250
SLA_BATCH = 250


def ingest(
    s: Session,
    posts: list[Post],
    settings: Settings,
    context: Context | None = None,
    now: datetime | None = None,
) -> dict[str, int]:
    """A post at a time: look up, add, flush."""
    ctx = context or Context()
    now = now or utcnow()
    brand = Brand.from_settings(settings)
    window = timedelta(hours=settings.inbox_window_hours)
    counts = {"messages": 0, "conversations": 0, "skipped": 0, "replies": 0}
    for post in sorted(posts, key=lambda p: (p.created_at, p.post_id)):
        if not wanted(post, brand):
            counts["skipped"] += 1
            continue
        exists = s.scalar(
            select(ConversationMessage.id).where(
                ConversationMessage.platform == post.platform,
                ConversationMessage.post_id == post.post_id,
            )
        )
        if exists is not None:
            continue
        from_brand = brand.owns(post.platform, post.author_handle)
        conv = _thread_of(s, post)
        if conv is None and from_brand:
            counts["skipped"] += 1
            continue
        if conv is None:
            conv = _author_window(s, post, window)
        if conv is None:
            conv = _new_conversation(s, post, ctx, settings)
            counts["conversations"] += 1
        s.add(
            ConversationMessage(
                conversation_id=conv.id,
                platform=post.platform,
                post_id=post.post_id,
                direction="out" if from_brand else "in",
                author_handle=post.author_handle,
                text=post.text,
                reply_to_post_id=post.reply_to_post_id,
                sentiment_score=post.sentiment_score,
                intent=post.intent,
                created_at=post.created_at,
            )
        )
        if from_brand:
            counts["replies"] += 1
            if conv.first_response_at is None or post.created_at < conv.first_response_at:
                conv.first_response_at = post.created_at
        else:
            counts["messages"] += 1
            conv.messages += 1
            conv.last_message_at = max(conv.last_message_at, post.created_at)
            if conv.first_response_at and post.created_at > conv.first_response_at:
                _sentiment_after(conv, post.sentiment_score)
            elif post.sentiment_score is not None and (
                conv.sentiment_score is None or post.sentiment_score < conv.sentiment_score
            ):
                conv.sentiment_score = post.sentiment_score
            if conv.state in ("waiting", "resolved"):
                at = min(max(post.created_at, conv.waiting_since or post.created_at), now)
                sla.set_state(conv, "open", at)
        conv.updated_at = now
        rescore(conv, settings, now)
        s.flush()
    return counts


def _thread_of(s: Session, post: Post) -> Conversation | None:
    if not post.reply_to_post_id:
        return None
    cid = s.scalar(
        select(ConversationMessage.conversation_id).where(
            ConversationMessage.platform == post.platform,
            ConversationMessage.post_id == post.reply_to_post_id,
        )
    )
    return None if cid is None else s.get(Conversation, cid)


def _author_window(s: Session, post: Post, window: timedelta) -> Conversation | None:
    q = (
        select(Conversation)
        .where(
            Conversation.platform == post.platform,
            Conversation.author_handle == post.author_handle,
            Conversation.state.in_(OPEN_STATES),
            Conversation.last_message_at >= post.created_at - window,
        )
        .order_by(Conversation.last_message_at.desc())
        .limit(1)
    )
    q = q.where(
        Conversation.topic_id.is_(None)
        if post.topic_id is None
        else Conversation.topic_id == post.topic_id
    )
    return s.scalar(q)


def _new_conversation(s: Session, post: Post, ctx: Context, settings: Settings) -> Conversation:
    handle = (post.platform, post.author_handle.lower())
    customer = post.customer_id or ctx.customer_of.get(handle)
    conv = Conversation(
        key=f"post:{post.platform}:{post.post_id}",
        platform=post.platform,
        author_handle=post.author_handle,
        customer_id=customer,
        topic_id=post.topic_id,
        queue=f"topic:{post.topic_id}" if post.topic_id is not None else "general",
        subject=post.text[:300],
        state="new",
        sentiment_score=post.sentiment_score,
        intent=post.intent,
        influence=ctx.influence.get(handle),
        clv=ctx.clv.get(customer) if customer else None,
        risk_band=ctx.risk_band.get(customer) if customer else None,
        messages=0,
        first_message_at=post.created_at,
        last_message_at=post.created_at,
        first_response_due=post.created_at + timedelta(hours=settings.inbox_first_response_hours),
        resolution_due=post.created_at + timedelta(hours=settings.inbox_resolution_hours),
        first_response_breached=False,
        resolution_breached=False,
        priority_parts={},
        priority=0.0,
    )
    s.add(conv)
    s.flush()
    emit(
        s,
        "conversation_created",
        {
            "conversation_id": conv.id,
            "platform": conv.platform,
            "post_id": post.post_id,
            "intent": post.intent,
        },
        key=f"conversation_created:{conv.id}",
    )
    return conv


def _unread(
    ws: Workspace, settings: Settings, cursor: str | None, needs: list[str]
) -> pa.Table | None:
    """Every row from the cursor (looking back), nothing left out on the engine."""
    if not ws.warehouse.exists("posts_enriched"):
        return None
    t = ws.warehouse.table("posts_enriched")
    if cursor is not None:
        since = datetime.fromisoformat(cursor) - timedelta(days=settings.inbox_sync_lookback_days)
        t = t.filter(t.created_at >= since.replace(tzinfo=UTC))
    cols = [c for c in ("post_id", "platform", "author_handle", "text", "created_at",
                        "reply_to_post_id", "topic_id", "sentiment_score", "intent",
                        "customer_id", "is_spam", "is_duplicate", "reshare_of_post_id")
            if c in t.columns]  # fmt: skip
    flagged = with_address_flags(ws, t.select(*cols), brand_accounts(settings), needs)
    return ws.engine.to_arrow(flagged.order_by(["created_at", "post_id"]))


def _ingest_batch(
    s: Session, *, posts: list[Post], settings: Settings, ctx: Context, now: datetime
) -> dict[str, int]:
    counts = ingest(s, posts, settings, ctx, now=now)
    _set_cursor(s, SYNC_CURSOR, posts[-1].created_at.isoformat())
    return counts


def sync_warehouse(
    ws: Workspace, db: AppDB, settings: Settings, now: datetime, batch: int = SYNC_BATCH
) -> dict[str, int]:
    """Every row read, 5000 at a time, ingested ``batch`` posts per transaction."""
    with db.session() as s:
        cursor = s.get(ConnectorCursor, SYNC_CURSOR)
        value = cursor.value if cursor else None
        needs = needs_response_queries(s)
    table = _unread(ws, settings, value, needs)
    total = {"messages": 0, "conversations": 0, "skipped": 0, "replies": 0}
    if table is None:
        return total
    names = brand_accounts(settings)
    for chunk in _batches(table, 5000, names):
        ctx = context_for(ws, chunk)
        for start in range(0, len(chunk), batch):
            work = functools.partial(
                _ingest_batch, posts=chunk[start : start + batch], settings=settings,
                ctx=ctx, now=now,
            )  # fmt: skip
            for k, v in in_transaction(db, work).items():
                total[k] += v
    return total


def check_slas_in_batches(
    db: AppDB, settings: Settings, now: datetime, batch: int = SLA_BATCH
) -> dict[str, int]:
    """The open conversations, ``batch`` of them (by id) per transaction."""
    out = {"first_response": 0, "resolution": 0, "rescored": 0}
    after = 0
    while True:
        with db.session() as s:
            ids = list(
                s.scalars(
                    select(Conversation.id)
                    .where(Conversation.state.in_(OPEN_STATES), Conversation.id > after)
                    .order_by(Conversation.id)
                    .limit(batch)
                )
            )
        if not ids:
            return out
        counts = in_transaction(
            db, functools.partial(check_slas, settings=settings, now=now, ids=ids)
        )
        for k, v in counts.items():
            out[k] += v
        after = ids[-1]
