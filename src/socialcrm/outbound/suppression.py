"""The suppression list and the email event log.

An address on the list is never emailed again, whatever a campaign's audience says:
one-click unsubscribes, hard bounces, complaints (a recipient's "this is spam") and
addresses an admin suppressed by hand. It is checked when a campaign is sent and again
right before each message goes out (:func:`socialcrm.outbound.mail.deliver_emails`), so
an unsubscribe that lands between the two still stops the message. Addresses are
compared normalised: trimmed and lower-cased (the local part is case-sensitive in
theory, never in practice, and a suppression must not be dodged by ``Ann@``).

Email events (sent, open, click, unsubscribe, bounce, complaint) are the raw feedback;
the campaign side copies the unsynced ones into the warehouse's ``touches`` and marks
them synced (:func:`unsynced_events`, :func:`mark_synced`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import bindparam, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from socialcrm.appdb.models import EmailEvent, Suppression, utcnow

REASONS = ("unsubscribe", "hard_bounce", "complaint", "manual")
EVENT_KINDS = ("sent", "delivered", "open", "click", "unsubscribe", "bounce", "complaint")


def normalise(address: str) -> str:
    """An address as the list keeps it.

    >>> normalise("  Ann@Example.COM ")
    'ann@example.com'
    """
    return address.strip().lower()


def suppressed(s: Session, addresses: Iterable[str]) -> set[str]:
    """The normalised addresses among ``addresses`` that are on the list."""
    wanted = sorted({normalise(a) for a in addresses if a})
    found: set[str] = set()
    for i in range(0, len(wanted), 500):  # bounded IN lists
        chunk = wanted[i : i + 500]
        found.update(s.scalars(select(Suppression.address).where(Suppression.address.in_(chunk))))
    return found


_ONE = select(Suppression.id).where(Suppression.address == bindparam("a")).limit(1)


def is_suppressed(s: Session, address: str) -> bool:
    """Whether one address is on the list: the check right before each message."""
    return s.scalar(_ONE, {"a": normalise(address)}) is not None


def suppress(
    s: Session,
    address: str,
    reason: str,
    source: str,
    *,
    campaign_id: str | None = None,
    customer_id: str | None = None,
) -> None:
    """Put ``address`` on the list (once: the first reason stays)."""
    if reason not in REASONS:
        raise ValueError(f"unknown suppression reason {reason!r}; use {', '.join(REASONS)}")
    addr = normalise(address)
    if "@" not in addr:
        raise ValueError(f"not an email address: {address[:80]!r}")
    if s.scalar(select(Suppression.id).where(Suppression.address == addr)):
        return
    try:
        with s.begin_nested():  # two requests suppressing at once: the second is a no-op
            s.add(
                Suppression(
                    address=addr,
                    reason=reason,
                    source=source[:100],
                    campaign_id=campaign_id,
                    customer_id=customer_id,
                )
            )
    except IntegrityError:
        pass


def unsuppress(s: Session, address: str) -> bool:
    """Take ``address`` off the list (an admin's decision); True when it was on it."""
    row = s.scalar(select(Suppression).where(Suppression.address == normalise(address)))
    if row is None:
        return False
    s.delete(row)
    return True


def suppressions(s: Session, limit: int = 1000) -> list[Suppression]:
    """The list, newest first."""
    return list(s.scalars(select(Suppression).order_by(Suppression.id.desc()).limit(limit)))


def record(
    s: Session,
    kind: str,
    *,
    campaign_id: str | None = None,
    customer_id: str | None = None,
    recipient: str | None = None,
    outbox_id: int | None = None,
    detail: str | None = None,
    key: str | None = None,
    at: datetime | None = None,
) -> EmailEvent | None:
    """Log one email event; with ``key``, once (None when that key was logged already)."""
    if kind not in EVENT_KINDS:
        raise ValueError(f"unknown email event {kind!r}")
    if key is not None and len(key) > 300:  # long ids in it: still one key per input
        key = "sha256:" + hashlib.sha256(key.encode()).hexdigest()
    if key is not None and s.scalar(select(EmailEvent.id).where(EmailEvent.key == key)):
        return None
    values = {
        "kind": kind,
        "campaign_id": campaign_id,
        "customer_id": customer_id,
        "recipient": normalise(recipient) if recipient else None,
        "outbox_id": outbox_id,
        "at": at or utcnow(),
        "detail": detail[:2000] if detail else None,
        "key": key,
        "synced": False,
    }
    if key is None:
        event = EmailEvent(**values)
        s.add(event)
        s.flush()
        return event
    # Two requests with one key at once (a mail client's one-click POST sent twice, a
    # proxy fetching the pixel in parallel) both find no row above: the database keeps
    # one, and the other is a duplicate (None), not a failed request. ON CONFLICT, not a
    # savepoint: on SQLite, releasing a savepoint that began the transaction commits it.
    dialect = s.get_bind().dialect.name
    upsert: sqlite.Insert | postgresql.Insert
    if dialect == "sqlite":
        upsert = sqlite.insert(EmailEvent).on_conflict_do_nothing(index_elements=["key"])
    elif dialect == "postgresql":
        upsert = postgresql.insert(EmailEvent).on_conflict_do_nothing(index_elements=["key"])
    else:
        raise NotImplementedError(f"email events need SQLite or PostgreSQL, not {dialect}")
    new_id = s.scalar(upsert.values(**values).returning(EmailEvent.id))
    return None if new_id is None else s.get(EmailEvent, new_id)


def unsynced_events(s: Session, limit: int = 10_000) -> list[EmailEvent]:
    """Events the campaign side has not copied into ``touches`` yet, oldest first."""
    return list(
        s.scalars(
            select(EmailEvent)
            .where(EmailEvent.synced.is_(False))
            .order_by(EmailEvent.id)
            .limit(limit)
        )
    )


def mark_synced(s: Session, ids: Iterable[int]) -> None:
    """Mark events copied (in the caller's transaction, with the copy's own commit)."""
    batch = list(ids)
    for i in range(0, len(batch), 500):
        s.execute(
            update(EmailEvent)
            .where(EmailEvent.id.in_(batch[i : i + 500]))
            .values(synced=True)
            .execution_options(synchronize_session=False)
        )


__all__ = [
    "EVENT_KINDS",
    "REASONS",
    "is_suppressed",
    "mark_synced",
    "normalise",
    "record",
    "suppress",
    "suppressed",
    "suppressions",
    "unsuppress",
    "unsynced_events",
]
