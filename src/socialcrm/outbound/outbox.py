"""Outgoing messages: queued in the app database, delivered with retries and backoff.

Channel-agnostic: an item names its channel (the ``connector`` column) and is handed to
that channel's :class:`~socialcrm.outbound.channel.Sender` (today the social replies of
:mod:`socialcrm.outbound.social`). A message is written to the outbox in the same
transaction as the action that sends it (an agent's reply, an idea's notification), so a
network failure loses nothing. Each item carries an idempotency key that the sender
sends along (Mastodon's ``Idempotency-Key``, Bluesky's record key), so a retry after an
answer lost on the way back cannot post twice. Workers claim an item (a lease, set by one
conditional UPDATE) before posting it, so two workers never post the same item. A sent
item that belongs to a conversation joins its thread (``ConversationMessage``), so the
customer's answer lands there.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import ColumnElement, CursorResult, or_, select, update
from sqlalchemy.orm import Session

from socialcrm.appdb.models import ConversationMessage, OutboxItem, utcnow
from socialcrm.outbound.channel import ChannelError, DirectSender, Sender

if TYPE_CHECKING:
    from socialcrm.appdb.db import AppDB

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
    recipient: str | None = None,
    campaign_id: str | None = None,
    customer_id: str | None = None,
    message_id: str | None = None,
) -> OutboxItem:
    """Queue a message; the same ``key`` queued twice gives back the first item.

    A reply names what it answers (``in_reply_to``, ``conversation_id``); a campaign's
    message names its addressee (``recipient``: an email address or a handle) and the
    campaign and person it is for. A key longer than the column is stored hashed."""
    key = key or uuid.uuid4().hex
    return find(s, key) or add(
        s, connector=connector, body=body, in_reply_to=in_reply_to,
        conversation_id=conversation_id, actor=actor, key=key, now=now, recipient=recipient,
        campaign_id=campaign_id, customer_id=customer_id, message_id=message_id,
    )  # fmt: skip


def find(s: Session, key: str) -> OutboxItem | None:
    """The item queued with ``key``, if any."""
    return s.scalar(select(OutboxItem).where(OutboxItem.idempotency_key == storable_key(key)))


def add(
    s: Session,
    *,
    connector: str,
    body: str,
    in_reply_to: str | None,
    conversation_id: int | None,
    actor: str,
    key: str,
    now: datetime | None = None,
    recipient: str | None = None,
    campaign_id: str | None = None,
    customer_id: str | None = None,
    message_id: str | None = None,
) -> OutboxItem:
    """Queue a message whose ``key`` the caller has just looked for (:func:`find`): for a
    channel that builds its message only when it is new (email)."""
    item = OutboxItem(
        idempotency_key=storable_key(key),
        conversation_id=conversation_id,
        connector=connector,
        in_reply_to=in_reply_to,
        body=body,
        status="pending",
        attempts=0,
        next_attempt_at=now or utcnow(),
        created_by=actor,
        recipient=recipient,
        campaign_id=campaign_id,
        customer_id=customer_id,
        message_id=message_id,
    )
    s.add(item)
    s.flush()
    return item


KEY_LENGTH = 100


def storable_key(key: str) -> str:
    """``key`` itself, or its SHA-256 when longer than the column (campaign|person|step
    keys can be): still one key per input, so still idempotent.

    >>> storable_key("spring|c1|send"), len(storable_key("x" * 300))
    ('spring|c1|send', 71)
    """
    if len(key) <= KEY_LENGTH:
        return key
    return "sha256:" + hashlib.sha256(key.encode()).hexdigest()


def backoff(attempts: int) -> timedelta:
    """Wait before attempt ``attempts + 1``: 30 s, 1 min, 2 min… capped at 6 hours.

    >>> [backoff(n).total_seconds() for n in (1, 2, 3)]
    [30.0, 60.0, 120.0]
    """
    return timedelta(seconds=min(BACKOFF_SECONDS * 2 ** (attempts - 1), BACKOFF_CAP_SECONDS))


def _due(
    connector: str, now: datetime, statuses: tuple[str, ...] = ("pending",)
) -> tuple[ColumnElement[bool], ...]:
    """Items of ``connector`` in ``statuses`` (pending) due at ``now`` and not held by a
    live lease. Email also takes back ``sending`` items whose worker died mid-send."""
    return (
        OutboxItem.status.in_(statuses),
        OutboxItem.connector == connector,
        OutboxItem.next_attempt_at <= now,
        or_(OutboxItem.lease_until.is_(None), OutboxItem.lease_until < now),
    )


def claim(s: Session, item_id: int, connector: str, owner: str, now: datetime,
          lease: timedelta, statuses: tuple[str, ...] = ("pending",)) -> bool:  # fmt: skip
    """Take ``item_id`` for ``owner`` until ``now + lease``, if it is still due and free.

    One conditional UPDATE: of two workers racing for an item, the database lets exactly
    one change the row, and only that one posts it. A lease left by a worker that died
    expires, and the item is taken again (same idempotency key, so still posted once).
    """
    # an UPDATE's result is a CursorResult, which has the row count (SQLAlchemy's own advice)
    r = cast(
        "CursorResult[Any]",
        s.execute(
            update(OutboxItem)
            .where(OutboxItem.id == item_id, *_due(connector, now, statuses))
            .values(lease_owner=owner, lease_until=now + lease)
            .execution_options(synchronize_session=False)
        ),
    )
    return r.rowcount == 1


def claim_due(s: Session, connector: str, owner: str, now: datetime, lease: timedelta,
              limit: int, statuses: tuple[str, ...] = ("pending",)) -> list[int]:  # fmt: skip
    """Claim up to ``limit`` due items of ``connector`` at once; their ids, oldest first.

    One conditional UPDATE over the candidates, then the ids this ``owner`` holds: a
    worker racing for the same items gets the others (or none), never the same ones.
    """
    ids = s.scalars(
        select(OutboxItem.id)
        .where(*_due(connector, now, statuses))
        .order_by(OutboxItem.next_attempt_at, OutboxItem.id)
        .limit(limit)
    ).all()
    if not ids:
        return []
    s.execute(
        update(OutboxItem)
        .where(OutboxItem.id.in_(ids), *_due(connector, now, statuses))
        .values(lease_owner=owner, lease_until=now + lease)
        .execution_options(synchronize_session=False)
    )
    return list(
        s.scalars(
            select(OutboxItem.id)
            .where(OutboxItem.id.in_(ids), OutboxItem.lease_owner == owner)
            .order_by(OutboxItem.next_attempt_at, OutboxItem.id)
        )
    )


def release(s: Session, ids: list[int], owner: str) -> None:
    """Give back claimed items not attempted (a pass that stops early): due again at once."""
    if ids:
        s.execute(
            update(OutboxItem)
            .where(OutboxItem.id.in_(ids), OutboxItem.lease_owner == owner)
            .values(lease_owner=None, lease_until=None)
            .execution_options(synchronize_session=False)
        )


def failed(item: OutboxItem, error: ChannelError, max_attempts: int, now: datetime) -> str:
    """Record a failed attempt on a claimed item and release it: ``dead`` (permanent, or
    out of attempts) or ``retry`` (pending again after :func:`backoff`)."""
    item.attempts += 1
    item.lease_owner = item.lease_until = None
    item.last_error = str(error)[:500]
    if not error.retryable or item.attempts >= max_attempts:
        item.status = "dead"
        return "dead"
    item.status = "pending"
    item.next_attempt_at = now + backoff(item.attempts)
    return "retry"


def _settle(s: Session, item: OutboxItem, connector: Sender, max_attempts: int,
            now: datetime, result: str | Exception, out: dict[str, int]) -> None:  # fmt: skip
    """Record one attempt's result on a claimed item, and release it."""
    if isinstance(result, ChannelError):
        out[failed(item, result, max_attempts, now)] += 1
        s.flush()
        return
    item.attempts += 1
    item.lease_owner = item.lease_until = None
    assert isinstance(result, str)
    item.status, item.external_id, item.sent_at, item.last_error = "sent", result, now, None
    if item.conversation_id is not None:
        # The brand's reply joins the thread, so the customer's answer to it lands here.
        s.add(
            ConversationMessage(
                conversation_id=item.conversation_id,
                platform=connector.platform,
                post_id=result,
                direction="out",
                author_handle=connector.account or "brand",
                text=item.body,
                reply_to_post_id=item.in_reply_to,
                created_at=now,
            )
        )
    out["sent"] += 1
    s.flush()


def _post(connector: Sender, item: OutboxItem) -> str | Exception:
    try:
        if isinstance(connector, DirectSender):  # a private message to item.recipient
            if not item.recipient:
                return ChannelError("a private message without a recipient", retryable=False)
            return connector.send_direct(item.recipient, item.body, item.idempotency_key)
        return connector.post_reply(item.in_reply_to, item.body, item.idempotency_key)
    except ChannelError as e:
        return e


def deliver(
    s: Session,
    connector: Sender,
    *,
    max_attempts: int,
    now: datetime | None = None,
    limit: int = 100,
    lease_seconds: float = 300.0,
) -> dict[str, int]:
    """Try the due items of ``connector`` in the one transaction ``s``; returns counts of
    sent, retried and dead. Each item is claimed first (see :func:`claim`), so a second
    worker skips it; a worker that shares the database should rather use
    :func:`deliver_pass`, whose claims are committed before the network is called."""
    clock = _clock(now)
    owner = uuid.uuid4().hex
    out = {"sent": 0, "retry": 0, "dead": 0}
    ids = s.scalars(
        select(OutboxItem.id)
        .where(*_due(connector.name, clock()))
        .order_by(OutboxItem.id)
        .limit(limit)
    ).all()
    for item_id in ids:
        at = clock()
        if not claim(s, item_id, connector.name, owner, at, timedelta(seconds=lease_seconds)):
            continue
        item = s.get(OutboxItem, item_id, populate_existing=True)
        assert item is not None  # claimed just now in this transaction
        _settle(s, item, connector, max_attempts, clock(), _post(connector, item), out)
    return out


def _clock(now: datetime | None) -> Callable[[], datetime]:
    """A fixed time when one is given (tests, replays), else the wall clock, read at each
    step so that a long pass does not claim items with leases already running out."""
    return (lambda: now) if now is not None else utcnow


def deliver_pass(
    db: AppDB,
    connector: Sender,
    *,
    max_attempts: int,
    now: datetime | None = None,
    limit: int = 100,
    lease_seconds: float = 300.0,
) -> dict[str, int]:
    """One delivery pass over ``db`` that several workers (app processes, a
    ``socialcrm inbox deliver --watch``) may run at once: each due item is claimed in a
    short transaction of its own, posted outside any transaction, then settled. An item is
    posted by one worker only; the idempotency key covers a worker that dies after posting.
    """
    clock = _clock(now)
    owner = uuid.uuid4().hex
    lease = timedelta(seconds=lease_seconds)
    out = {"sent": 0, "retry": 0, "dead": 0, "skipped": 0}
    with db.session() as s:
        ids = s.scalars(
            select(OutboxItem.id)
            .where(*_due(connector.name, clock()))
            .order_by(OutboxItem.id)
            .limit(limit)
        ).all()
    for item_id in ids:
        with db.session() as s:
            if not claim(s, item_id, connector.name, owner, clock(), lease):
                out["skipped"] += 1  # another worker has it, or had it already
                continue
        with db.session() as s:
            item = s.get(OutboxItem, item_id)
        assert item is not None  # claimed above; outbox items are never deleted
        result = _post(connector, item)
        with db.session() as s:
            item = s.get(OutboxItem, item_id)
            if item is None or item.lease_owner != owner:
                continue  # our lease ran out and another worker took it over
            _settle(s, item, connector, max_attempts, clock(), result, out)
    return out
