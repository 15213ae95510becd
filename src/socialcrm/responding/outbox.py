"""Outgoing replies: queued in the app database, delivered with retries and backoff.

A reply is written to the outbox in the same transaction as the agent's action, so a
network failure loses nothing. Each item carries an idempotency key that the connector
sends along (Mastodon's ``Idempotency-Key``, Bluesky's record key), so a retry after an
answer lost on the way back cannot post twice.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from socialcrm.appdb.models import ConversationMessage, OutboxItem, utcnow

if TYPE_CHECKING:
    from socialcrm.responding.connectors import Connector

BACKOFF_SECONDS = 30.0
BACKOFF_CAP_SECONDS = 6 * 3600.0


def enqueue(
    s: Session,
    *,
    connector: str,
    body: str,
    in_reply_to: str | None,
    conversation_id: int | None,
    actor: str,
    key: str | None = None,
    now: datetime | None = None,
) -> OutboxItem:
    """Queue a reply; the same ``key`` queued twice gives back the first item."""
    key = key or uuid.uuid4().hex
    found = s.scalar(select(OutboxItem).where(OutboxItem.idempotency_key == key))
    if found is not None:
        return found
    item = OutboxItem(
        idempotency_key=key,
        conversation_id=conversation_id,
        connector=connector,
        in_reply_to=in_reply_to,
        body=body,
        status="pending",
        attempts=0,
        next_attempt_at=now or utcnow(),
        created_by=actor,
    )
    s.add(item)
    s.flush()
    return item


def backoff(attempts: int) -> timedelta:
    """Wait before attempt ``attempts + 1``: 30 s, 1 min, 2 min… capped at 6 hours.

    >>> [backoff(n).total_seconds() for n in (1, 2, 3)]
    [30.0, 60.0, 120.0]
    """
    return timedelta(seconds=min(BACKOFF_SECONDS * 2 ** (attempts - 1), BACKOFF_CAP_SECONDS))


def deliver(
    s: Session,
    connector: Connector,
    *,
    max_attempts: int,
    now: datetime | None = None,
    limit: int = 100,
) -> dict[str, int]:
    """Try the due items of ``connector``; returns counts of sent, retried and dead."""
    from socialcrm.responding.connectors import ConnectorError

    now = now or utcnow()
    out = {"sent": 0, "retry": 0, "dead": 0}
    due = s.scalars(
        select(OutboxItem)
        .where(
            OutboxItem.status == "pending",
            OutboxItem.connector == connector.name,
            OutboxItem.next_attempt_at <= now,
        )
        .order_by(OutboxItem.id)
        .limit(limit)
    ).all()
    for item in due:
        item.attempts += 1
        try:
            external = connector.post_reply(item.in_reply_to, item.body, item.idempotency_key)
        except ConnectorError as e:
            item.last_error = str(e)[:500]
            if not e.retryable or item.attempts >= max_attempts:
                item.status = "dead"
                out["dead"] += 1
            else:
                item.next_attempt_at = now + backoff(item.attempts)
                out["retry"] += 1
            s.flush()
            continue
        item.status, item.external_id, item.sent_at, item.last_error = "sent", external, now, None
        if item.conversation_id is not None:
            # The brand's reply joins the thread, so the customer's answer to it lands here.
            s.add(
                ConversationMessage(
                    conversation_id=item.conversation_id,
                    platform=connector.platform,
                    post_id=external,
                    direction="out",
                    author_handle=connector.account or "brand",
                    text=item.body,
                    reply_to_post_id=item.in_reply_to,
                    created_at=now,
                )
            )
        out["sent"] += 1
        s.flush()
    return out
