"""The inbox's pipeline step: new posts become conversations, SLAs are checked."""

from __future__ import annotations

from socialcrm.store.run import RunContext
from socialcrm.store.workspace import Workspace


def step_inbox(ws: Workspace, ctx: RunContext) -> dict[str, int]:
    """Sync ``posts_enriched`` into the app database's inbox and flag SLA breaches.

    Idempotent: a second run adds no message twice and records no breach twice.
    """
    from socialcrm.appdb.db import AppDB
    from socialcrm.responding.inbox import check_slas
    from socialcrm.responding.sync import from_warehouse

    db = AppDB(ws.settings.resolved_database_url)
    try:
        with db.session() as s:
            counts = from_warehouse(ws, s, ws.settings)
            breaches = check_slas(s, ws.settings)
    finally:
        db.close()
    return {
        "inbox_conversations": counts["conversations"],
        "inbox_messages": counts["messages"] + counts["replies"],
        "inbox_sla_breaches": breaches["first_response"] + breaches["resolution"],
    }
