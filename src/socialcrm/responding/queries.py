"""Reads of the inbox from the app database: a page of conversations and the count per
queue, under one set of filters. The web inbox and ``socialcrm inbox`` both list through
here, so a queue looks the same from either."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from socialcrm.appdb.models import Conversation
from socialcrm.responding import workflow
from socialcrm.responding.inbox import OPEN_STATES

COUNT_CAP = 1_000
# The state filters a list offers: each state, the open ones, or all.
LIST_STATES = {**{s: (s,) for s in workflow.TRANSITIONS}, "open": OPEN_STATES, "all": None}


def _filtered(
    q: Any, states: tuple[str, ...] | None, assignee: int | None, unassigned: bool,
    queue: str | None,
) -> Any:  # fmt: skip
    if states == OPEN_STATES:
        q = q.where(Conversation.is_open.is_(True))
    elif states:
        q = q.where(Conversation.state.in_(states))
    if unassigned:
        q = q.where(Conversation.assignee_id.is_(None))
    elif assignee is not None:
        q = q.where(Conversation.assignee_id == assignee)
    if queue is not None:
        q = q.where(Conversation.queue == queue)
    return q


def list_conversations(
    s: Session,
    *,
    states: tuple[str, ...] | None,
    assignee: int | None,
    page: int,
    size: int,
    queue: str | None = None,
    unassigned: bool = False,
) -> tuple[list[dict[str, Any]], int]:
    """One page of conversations, highest priority first (the priority index serves it),
    and how many there are, counted up to :data:`COUNT_CAP` (a busy queue says "1,000+":
    counting every row on every request would cost more than the page itself).

    Filters: ``states``, ``assignee`` (a user id) or ``unassigned``, and ``queue``
    (``general`` or ``topic:<id>``; the ``(queue, is_open, priority, id)`` index serves it).
    """
    q = select(
        Conversation.id, Conversation.platform, Conversation.author_handle,
        Conversation.subject, Conversation.state, Conversation.priority, Conversation.intent,
        Conversation.sentiment_score, Conversation.queue, Conversation.assignee_id,
        Conversation.messages, Conversation.last_message_at, Conversation.first_response_due,
        Conversation.first_response_breached, Conversation.resolution_breached,
        Conversation.customer_id, Conversation.first_message_at, Conversation.first_response_at,
        Conversation.resolution_due, Conversation.resolved_at,
    )  # fmt: skip
    q = _filtered(q, states, assignee, unassigned, queue)
    n = _filtered(select(Conversation.id), states, assignee, unassigned, queue)
    n = select(func.count()).select_from(n.limit(COUNT_CAP + 1).subquery())
    # Both keys descending: the index is read backwards, no sort of the whole queue.
    q = q.order_by(Conversation.priority.desc(), Conversation.id.desc()).limit(size)
    rows = s.execute(q.offset((page - 1) * size)).mappings().all()
    return [dict(r) for r in rows], min(int(s.scalar(n) or 0), COUNT_CAP + 1)


def queue_counts(
    s: Session,
    *,
    states: tuple[str, ...] | None,
    assignee: int | None = None,
    unassigned: bool = False,
) -> list[dict[str, Any]]:
    """Conversations per queue under the same state and assignee filters, biggest first.

    One grouped count, read from the ``(queue, is_open, …)`` index without the table.
    """
    q = _filtered(
        select(Conversation.queue, func.count().label("n")), states, assignee, unassigned, None
    )
    rows = s.execute(q.group_by(Conversation.queue)).all()
    return [{"queue": r[0], "count": int(r[1])} for r in sorted(rows, key=lambda r: (-r[1], r[0]))]
