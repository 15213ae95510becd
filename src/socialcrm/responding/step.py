"""The inbox's pipeline step: new posts become conversations, SLAs are checked.

The step may run while the app is served (``socialcrm score`` on a live workspace), and
a first run on a 100k-customer brand meets ~100k posts and tens of thousands of open
conversations. So it works in short transactions, each committed: the sync in batches
of posts (:func:`~socialcrm.responding.sync.sync_warehouse`), the SLA check in batches
of conversations (:func:`check_slas_in_batches`). No transaction holds the (SQLite)
write lock for more than a batch, so a sign-in waits a moment at most; a run that stops
half-way is finished by the next one, nothing lost and nothing twice.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, fields
from datetime import datetime
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from socialcrm.config import Settings
from socialcrm.store.run import RunContext
from socialcrm.store.workspace import Workspace

if TYPE_CHECKING:
    from socialcrm.appdb.db import AppDB

SLA_BATCH = 1000
"""Conversations (by id, the open ones checked) per transaction when SLAs are checked in
batches: read, computed and written set-based, a few tens of microseconds each, so a
batch holds SQLite's write lock for a small fraction of a second."""


def step_inbox(ws: Workspace, ctx: RunContext) -> dict[str, int]:
    """Sync ``posts_enriched`` into the app database's inbox and flag SLA breaches.

    Idempotent: a second run adds no message twice and records no breach twice.
    """
    from socialcrm.appdb.db import AppDB
    from socialcrm.responding.sync import sync_warehouse

    db = AppDB(ws.settings.resolved_database_url)
    try:
        counts = sync_warehouse(ws, db, ws.settings)
        breaches = check_slas_in_batches(db, ws.settings)
    finally:
        db.close()
    return {
        "inbox_conversations": counts["conversations"],
        "inbox_messages": counts["messages"] + counts["replies"],
        "inbox_sla_breaches": breaches["first_response"] + breaches["resolution"],
    }


def check_slas_in_batches(
    db: AppDB, settings: Settings, now: datetime | None = None, batch: int | None = None
) -> dict[str, int]:
    """:func:`~socialcrm.responding.inbox.check_slas` over the open conversations,
    ``batch`` of them (by id, default :data:`SLA_BATCH`) per committed transaction, all
    at the same ``now``.

    The same result as one check: each conversation is checked and rescored on its own,
    and a breach is flagged with its ``sla_breached`` event in one transaction, keyed
    per conversation and SLA, so a check that stops half-way and runs again records
    each breach once. Set-based (a 1M-customer brand has ~100k open conversations):
    a batch reads the columns the check needs in one query, and writes in one
    statement the conversations whose flags or priority changed, and their events in
    another. ``db`` is an :class:`~socialcrm.appdb.db.AppDB`.
    """
    from socialcrm.appdb.models import utcnow
    from socialcrm.responding.sync import in_transaction

    now = now or utcnow()
    batch = batch or SLA_BATCH
    out = {"first_response": 0, "resolution": 0, "rescored": 0}
    after = 0
    while True:
        check = functools.partial(_check_batch, settings=settings, now=now, after=after,
                                  batch=batch)  # fmt: skip
        counts, last = in_transaction(db, check)
        for k, v in counts.items():
            out[k] += v
        if last is None:
            return out
        after = last


@dataclass
class _Clocks:
    """The columns of a conversation that its SLAs and priority are computed from."""

    id: int
    state: str
    assignee_id: int | None
    first_message_at: datetime
    first_response_at: datetime | None
    first_response_due: datetime
    first_response_breached: bool
    resolved_at: datetime | None
    resolution_due: datetime
    resolution_breached: bool
    waiting_since: datetime | None
    waiting_seconds: float
    sentiment_score: float | None
    intent: str | None
    influence: float | None
    clv: float | None
    risk_band: str | None
    priority: float
    priority_parts: dict[str, float]


def _check_batch(
    s: Session, *, settings: Settings, now: datetime, after: int, batch: int
) -> tuple[dict[str, int], int | None]:
    """Check the next ``batch`` open conversations after id ``after``; returns the counts
    and the last id checked (None: there were none)."""
    from socialcrm.appdb.models import Conversation
    from socialcrm.responding import sla
    from socialcrm.responding.events import emit_many
    from socialcrm.responding.inbox import OPEN_STATES, rescore

    out = {"first_response": 0, "resolution": 0, "rescored": 0}
    cols = [getattr(Conversation, f.name) for f in fields(_Clocks)]
    # Every conversation, by primary key, the open ones kept here: a filter on the state
    # in SQL makes SQLite walk the state index and sort all open conversations again for
    # each batch (quadratic); the primary key reads each row once (linear).
    query = select(*cols).where(Conversation.id > after).order_by(Conversation.id).limit(batch)
    read = [_Clocks(**r._mapping) for r in s.execute(query)]
    if not read:
        return out, None
    rows = [row for row in read if row.state in OPEN_STATES]
    changes: list[dict[str, Any]] = []
    breaches: list[tuple[str, dict[str, Any]]] = []
    for row in rows:
        conv = cast(Conversation, row)  # the functions read (and rescore sets) only these
        change: dict[str, Any] = {}
        if (
            not row.first_response_breached
            and row.first_response_at is None
            and now > row.first_response_due
        ):
            change["first_response_breached"] = True
            breaches.append(_breach(row, "first_response"))
            out["first_response"] += 1
        if (
            not row.resolution_breached
            and row.resolved_at is None
            and sla.resolution_overdue(conv, now)
        ):
            change["resolution_breached"] = True
            breaches.append(_breach(row, "resolution"))
            out["resolution"] += 1
        before = (row.priority, row.priority_parts)
        rescore(conv, settings, now)
        if (row.priority, row.priority_parts) != before:
            change |= {"priority": row.priority, "priority_parts": row.priority_parts}
        if change:
            changes.append({"id": row.id, **change})
        out["rescored"] += 1
    if changes:
        s.execute(update(Conversation), changes)  # by primary key, in one statement a shape
    emit_many(s, "sla_breached", breaches)
    return out, read[-1].id


def _breach(row: _Clocks, which: str) -> tuple[str, dict[str, Any]]:
    payload = {"conversation_id": row.id, "sla": which, "assignee_id": row.assignee_id}
    return f"sla_breached:{row.id}:{which}", payload
