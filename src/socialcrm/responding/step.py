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
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import select

from socialcrm.config import Settings
from socialcrm.store.run import RunContext
from socialcrm.store.workspace import Workspace

if TYPE_CHECKING:
    from socialcrm.appdb.db import AppDB

SLA_BATCH = 250
"""Conversations per transaction when SLAs are checked in batches (about a millisecond
each on a first check, which flags and records most breaches)."""


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
    each breach once. ``db`` is an :class:`~socialcrm.appdb.db.AppDB`.
    """
    from socialcrm.appdb.models import Conversation, utcnow
    from socialcrm.responding.inbox import OPEN_STATES, check_slas
    from socialcrm.responding.sync import in_transaction

    now = now or utcnow()
    batch = batch or SLA_BATCH
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
        check = functools.partial(check_slas, settings=settings, now=now, ids=ids)
        counts = in_transaction(db, check)
        for k, v in counts.items():
            out[k] += v
        after = ids[-1]
        if len(ids) < batch:
            return out
