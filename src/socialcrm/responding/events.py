"""Domain events (``conversation_created``, ``sla_breached``) recorded for webhooks.

The inbox only records what happened, in the same transaction as the change; delivering
them (signing, retries) is the webhooks' job, which reads the ``events`` table.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import Table, insert, select
from sqlalchemy.orm import Session

from socialcrm.appdb.models import DomainEvent, utcnow


def emit(session: Session, kind: str, payload: dict[str, Any], key: str | None = None) -> bool:
    """Record an event once; ``key`` names the fact (default: kind + payload).

    Returns False when the same fact was already recorded, so callers may emit freely.
    """
    key = (
        key
        or f"{kind}:"
        + hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:32]
    )
    if session.scalar(select(DomainEvent.id).where(DomainEvent.key == key)) is not None:
        return False
    session.add(DomainEvent(key=key, kind=kind, payload=payload, occurred_at=utcnow()))
    session.flush()
    return True


def emit_many(session: Session, kind: str, facts: Sequence[tuple[str, dict[str, Any]]]) -> int:
    """Record ``facts`` (key, payload), in order, each once: :func:`emit` for a batch, with
    one look-up of the keys already recorded and one insert. Returns how many were new."""
    keys = [key for key, _ in facts]
    seen: set[str] = set()
    for start in range(0, len(keys), 500):
        part = keys[start : start + 500]
        seen.update(session.scalars(select(DomainEvent.key).where(DomainEvent.key.in_(part))))
    rows = []
    for key, payload in facts:
        if key not in seen:
            seen.add(key)
            rows.append({"key": key, "kind": kind, "payload": payload, "occurred_at": utcnow(),
                         "webhook_imported": False})  # fmt: skip
    if rows:
        session.execute(insert(cast(Table, DomainEvent.__table__)), rows)
    return len(rows)
