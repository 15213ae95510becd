"""Webhooks integrators can trust: signed, delivered at least once, never silently dropped.

Every event is stored first (``webhook_events``), then fanned out into one delivery per
matching subscription. A delivery keeps its ``delivery_id`` across retries (the
idempotency key receivers use to drop duplicates), is retried with exponential backoff,
and its every attempt is logged. A subscription that fails ``disable_after`` times in a
row is disabled, with an audit entry and a notice for admins; nothing is lost, its
deliveries wait to be replayed. Payloads are signed like Stripe's:
``Socialcrm-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of "t.body">``.

A webhook URL is chosen by a user, so it is checked when set and again, on the address
actually connected to, at every delivery (:mod:`socialcrm.outbound.urls`: no loopback,
private, link-local or metadata addresses unless an admin allow-listed the host).

A delivery pass may meet a big backlog (a 100k-customer brand imports ~150k inbox events
at once) and other passes running at the same time. It works in short transactions of
:data:`BATCH` rows, pausing between them so that a sign-in waiting for SQLite's one write
lock gets it; every insert skips rows already there (``ON CONFLICT DO NOTHING`` on the
idempotency key), so two passes never collide; and no transaction is open while a
receiver is called.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, cast

import httpx
from sqlalchemy import CursorResult, insert, or_, select, update
from sqlalchemy.orm import Session
from sqlalchemy.sql.dml import Insert

from socialcrm.appdb.accounts import audit
from socialcrm.appdb.models import (
    DomainEvent,
    Notice,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEvent,
    WebhookSubscription,
    utcnow,
)
from socialcrm.outbound.urls import (
    ALLOW_HOST_EXTENSION,
    OutboundURLError,
    Resolver,
    check_outbound_url,
    guarded_client,
    parse_outbound_url,
)

if TYPE_CHECKING:
    from socialcrm.appdb.db import AppDB
    from socialcrm.config import Settings

EVENT_TYPES = (
    "conversation.created",
    "sla.breached",
    "idea.status_changed",
    "audience.exported",
    "consent.revoked",
)
SIGNATURE_HEADER = "Socialcrm-Signature"
DELIVERY_HEADER = "Socialcrm-Delivery-Id"
EVENT_HEADER = "Socialcrm-Event"
BATCH = 500
"""Rows per transaction when a pass imports or fans out events."""
PAUSE_FRACTION = 0.25
MAX_PAUSE_SECONDS = 0.05


class WebhookError(ValueError):
    """A webhook request that cannot be honoured (the message says why)."""


# -- signing --------------------------------------------------------------------------------
def sign(secret: str, body: bytes, timestamp: int) -> str:
    """The signature header value for ``body`` sent at ``timestamp``.

    >>> sign("s3cret", b'{"a":1}', 1700000000)[:15]
    't=1700000000,v1'
    """
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def verify(secret: str, header: str, body: bytes, now: float, tolerance: float = 300) -> bool:
    """Whether ``header`` signs ``body`` with ``secret`` within ``tolerance`` seconds.

    The timestamp is inside the MAC, so an old request replayed later is refused.

    >>> h = sign("k", b"x", 100)
    >>> verify("k", h, b"x", now=120), verify("k", h, b"x", now=1000), verify("j", h, b"x", 120)
    (True, False, False)
    """
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    try:
        t = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs(now - t) > tolerance:
        return False
    expected = sign(secret, body, t).split("v1=", 1)[1]
    return hmac.compare_digest(expected, parts.get("v1", ""))


# -- subscriptions --------------------------------------------------------------------------
def subscribe(
    s: Session,
    url: str,
    events: list[str],
    actor: str,
    *,
    allow_host: bool = False,
    allow_hosts: str | Iterable[str] | None = None,
    resolver: Resolver | None = None,
) -> tuple[WebhookSubscription, str]:
    """A new subscription and its signing secret (shown once to the caller).

    The URL must be one the app may call (:func:`~socialcrm.outbound.urls.check_outbound_url`:
    http(s), no credentials, no loopback/private/link-local/metadata host, literally or
    as resolved now), unless its host is in ``allow_hosts`` (default:
    ``SOCIALCRM_OUTBOUND_ALLOW_HOSTS``) or ``allow_host`` is set: an admin's decision,
    offered on the command line only (``socialcrm webhooks add --allow-host``), stored
    on the subscription and audited. Every face (CLI, web, API) comes through here.
    """
    url = url.strip()
    events = sorted(set(events or EVENT_TYPES))
    unknown = [e for e in events if e not in EVENT_TYPES]
    if unknown:
        raise WebhookError(f"unknown events {', '.join(unknown)}; events: {', '.join(EVENT_TYPES)}")
    try:
        if allow_host:
            parse_outbound_url(url)  # the form still: http(s), no credentials
        else:
            check_outbound_url(url, allow_hosts, resolver=resolver)
    except OutboundURLError as e:
        raise WebhookError(f"webhook URL refused: {e}") from None
    secret = "whsec_" + secrets.token_urlsafe(32)
    sub = WebhookSubscription(
        url=url, secret=secret, events=events, created_by=actor, allow_host=allow_host
    )
    s.add(sub)
    s.flush()
    detail: dict[str, Any] = {"url": url, "events": events}
    if allow_host:
        detail["allow_host"] = True
    audit(s, actor, "webhook.subscribe", f"webhook:{sub.id}", **detail)
    return sub, secret


def enable(s: Session, sub_id: int, actor: str) -> WebhookSubscription:
    """Turn a disabled subscription back on; its waiting deliveries are due at once."""
    sub = _sub(s, sub_id)
    sub.active, sub.consecutive_failures = True, 0
    sub.disabled_at = sub.disabled_reason = None
    now = utcnow()
    for d in s.scalars(
        select(WebhookDelivery).where(
            WebhookDelivery.subscription_id == sub.id, WebhookDelivery.status == "pending"
        )
    ):
        d.next_attempt_at = now
    audit(s, actor, "webhook.enable", f"webhook:{sub.id}")
    return sub


def _sub(s: Session, sub_id: int) -> WebhookSubscription:
    sub = s.get(WebhookSubscription, sub_id)
    if sub is None:
        raise WebhookError(f"no webhook subscription {sub_id}")
    return sub


def subscriptions(s: Session) -> list[WebhookSubscription]:
    return list(s.scalars(select(WebhookSubscription).order_by(WebhookSubscription.id)))


# -- events ---------------------------------------------------------------------------------
def _insert_new(s: Session, model: Any, rows: list[dict[str, Any]], keys: list[str]) -> list[int]:
    """INSERT ``rows``, skipping any whose unique ``keys`` are taken; the new rows' ids.

    ``ON CONFLICT DO NOTHING``: a row another pass (or an earlier run) inserted already
    is skipped, never an error that fails the whole pass.
    """
    if not rows:
        return []
    dialect = s.get_bind().dialect.name
    table = model.__table__
    new: Insert
    if dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        new = sqlite_insert(table).on_conflict_do_nothing(index_elements=keys)
    elif dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as postgresql_insert

        new = postgresql_insert(table).on_conflict_do_nothing(index_elements=keys)
    else:  # the app database is SQLite or PostgreSQL; others insert plainly
        return list(s.scalars(insert(table).returning(table.c.id), rows))
    # One statement for all rows (executemany, "insertmanyvalues"): compiled once and
    # cached, where a multi-row .values(rows) would be compiled again for every batch.
    return list(s.scalars(new.returning(table.c.id), rows))


def emit(s: Session, type: str, key: str, payload: dict[str, Any]) -> WebhookEvent | None:
    """Store an event to announce; the same ``key`` twice records it once."""
    if type not in EVENT_TYPES:
        raise WebhookError(f"unknown event {type!r}")
    if s.scalar(select(WebhookEvent.id).where(WebhookEvent.source_key == key)) is not None:
        return None
    row = {
        "event_id": "evt_" + uuid.uuid4().hex,
        "type": type,
        "source_key": key,
        "payload": payload,
        "occurred_at": utcnow(),
        "fanned_out": False,
    }
    ids = _insert_new(s, WebhookEvent, [row], ["source_key"])
    return s.get(WebhookEvent, ids[0]) if ids else None


def _event_type(kind: str) -> str:
    """``conversation_created`` → ``conversation.created`` (the events table's names)."""
    return kind if "." in kind else kind.replace("_", ".", 1)


def _import_batch(s: Session, batch: int) -> tuple[int, int]:
    """Import the next ``batch`` inbox events not handed over yet: (imported, read).

    Each event becomes the webhook event ``events:<id>`` and is flagged handed over in
    the same transaction. Idempotent by key: an event another pass imported meanwhile
    is skipped. (Before, the pass read a high-water mark, the last ``events:<id>``
    imported, and inserted everything above it: two passes at once read the same mark
    and both inserted ``events:1``…, and the second failed on the unique key.)
    """
    rows = s.execute(
        select(
            DomainEvent.id,
            DomainEvent.key,
            DomainEvent.kind,
            DomainEvent.payload,
            DomainEvent.occurred_at,
        )
        .where(DomainEvent.webhook_imported.is_(False))
        .order_by(DomainEvent.id)
        .limit(batch)
    ).all()
    if not rows:
        return 0, 0
    values = []
    for r in rows:
        kind = _event_type(r.kind)
        if kind not in EVENT_TYPES:
            continue  # flagged below all the same: read once
        values.append(
            {
                "event_id": "evt_" + uuid.uuid4().hex,
                "type": kind,
                "source_key": f"events:{r.id}",
                "payload": dict(r.payload or {}) | {"key": r.key},
                "occurred_at": r.occurred_at,
                "fanned_out": False,
            }
        )
    n = len(_insert_new(s, WebhookEvent, values, ["source_key"]))
    s.execute(
        update(DomainEvent)
        .where(DomainEvent.id.in_([r.id for r in rows]))
        .values(webhook_imported=True)
        .execution_options(synchronize_session=False)
    )
    return n, len(rows)


def _fan_out_batch(s: Session, batch: int) -> tuple[int, int]:
    """Deliveries for the next ``batch`` events not fanned out yet: (deliveries, events)."""
    subs = [x for x in subscriptions(s) if x.active]
    rows = s.execute(
        select(WebhookEvent.id, WebhookEvent.type, WebhookEvent.occurred_at)
        .where(WebhookEvent.fanned_out.is_(False))
        .order_by(WebhookEvent.id)
        .limit(batch)
    ).all()
    if not rows:
        return 0, 0
    now = utcnow()
    values = [
        {
            "delivery_id": "dlv_" + uuid.uuid4().hex,
            "subscription_id": sub.id,
            "event_id": e.id,
            "status": "pending",
            "attempts": 0,
            "next_attempt_at": e.occurred_at,
            "created_at": now,
        }
        for e in rows
        for sub in subs
        if e.type in sub.events
    ]
    n = len(_insert_new(s, WebhookDelivery, values, ["subscription_id", "event_id"]))
    s.execute(
        update(WebhookEvent)
        .where(WebhookEvent.id.in_([e.id for e in rows]))
        .values(fanned_out=True)
        .execution_options(synchronize_session=False)
    )
    return n, len(rows)


def _until_done(step: Callable[[], tuple[int, int]], batch: int) -> int:
    total = 0
    while True:
        n, read = step()
        total += n
        if read < batch:
            return total


def import_domain_events(s: Session, batch: int = BATCH) -> int:
    """Copy the inbox's events not handed over yet into webhook events, in ``s``."""
    return _until_done(lambda: _import_batch(s, batch), batch)


def fan_out(s: Session, batch: int = BATCH) -> int:
    """One delivery per (new event, active subscription that wants its type), in ``s``."""
    return _until_done(lambda: _fan_out_batch(s, batch), batch)


def _in_batches(db: AppDB, step: Callable[[Session, int], tuple[int, int]], batch: int) -> int:
    """Run ``step`` in a transaction of its own per batch until it reads a short batch.

    A batch holds SQLite's write lock only from its first write to its commit (about a
    fifth of its time on a 100k brand: reading and building the rows come first). After
    each, the pass pauses a quarter of the batch's time (at most
    :data:`MAX_PAUSE_SECONDS`), so a writer waiting for the lock (a sign-in), which polls
    for it every few ms, finds it free instead of queueing behind every batch.
    """

    def one() -> tuple[int, int]:
        t0 = time.perf_counter()
        with db.session() as s:
            n, read = step(s, batch)
        if read >= batch:
            time.sleep(min((time.perf_counter() - t0) * PAUSE_FRACTION, MAX_PAUSE_SECONDS))
        return n, read

    return _until_done(one, batch)


# -- delivery -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Policy:
    backoff_seconds: float = 30.0
    backoff_max_seconds: float = 3600.0
    max_attempts: int = 12
    disable_after: int = 10
    timeout_seconds: float = 10.0

    @classmethod
    def from_settings(cls, settings: Settings) -> Policy:
        return cls(
            settings.webhook_backoff_seconds,
            settings.webhook_backoff_max_seconds,
            settings.webhook_max_attempts,
            settings.webhook_disable_after,
            settings.webhook_timeout_seconds,
        )

    def delay(self, attempts: int) -> timedelta:
        """Wait after the ``attempts``-th failure: base × 2^(attempts−1), capped."""
        return timedelta(
            seconds=min(self.backoff_seconds * 2 ** (attempts - 1), self.backoff_max_seconds)
        )


@dataclass
class Report:
    imported: int = 0
    fanned_out: int = 0
    delivered: int = 0
    failed: int = 0
    disabled: list[int] = field(default_factory=list)


def body_of(e: WebhookEvent, delivery_id: str) -> bytes:
    """The JSON body: the same bytes on every attempt of a delivery."""
    doc = {
        "id": e.event_id,
        "type": e.type,
        "created": e.occurred_at.isoformat() + "Z",
        "delivery_id": delivery_id,
        "data": e.payload,
    }
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), default=str).encode()


def deliver(
    db: AppDB,
    policy: Policy,
    *,
    now: datetime | None = None,
    client: httpx.Client | None = None,
    limit: int = 1000,
    lease_seconds: float = 300.0,
    resolver: Resolver | None = None,
    allow_hosts: str | Iterable[str] | None = None,
    batch: int = BATCH,
) -> Report:
    """One delivery pass: import and fan out events, then try every due delivery.

    Import and fan-out commit every ``batch`` rows and skip what is there already, so a
    backlog never holds the write lock for long and passes running at once never
    collide. Each delivery is then claimed (a lease set by one conditional UPDATE, so
    passes running at the same time, app processes or a ``--watch`` worker, never send
    it twice; a pass that dies leaves a lease that expires after ``lease_seconds``),
    sent with no transaction open, and its result committed after the request: a crash
    between the two sends it again (at least once), never loses it.

    Requests go through :func:`~socialcrm.outbound.urls.guarded_client` (``resolver``
    and ``allow_hosts`` are its): the receiver's name is resolved and checked at each
    request, and one resolving to a forbidden address is a failed attempt ("refused: …").
    A ``client`` given instead is used as is (tests). ``db`` is an
    :class:`~socialcrm.appdb.db.AppDB`.
    """
    report = Report()
    report.imported = _in_batches(db, _import_batch, batch)
    report.fanned_out = _in_batches(db, _fan_out_batch, batch)
    at = now or utcnow()
    owner = uuid.uuid4().hex
    with db.session() as s:
        due = list(
            s.scalars(
                select(WebhookDelivery.id)
                .join(
                    WebhookSubscription, WebhookSubscription.id == WebhookDelivery.subscription_id
                )
                .where(*_free(at), WebhookSubscription.active.is_(True))
                .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
                .limit(limit)
            )
        )
    own = client is None
    http = client or guarded_client(
        timeout=policy.timeout_seconds, allow_hosts=allow_hosts, resolver=resolver
    )
    try:
        for did in due:
            claimed_at = now or utcnow()
            with db.session() as s:
                if not _claim(s, did, owner, claimed_at, lease_seconds):
                    continue  # another pass has it, or sent it already
            with db.session() as s:
                request = _prepare(s, did, owner)
            if request is None:
                continue
            result = _send(http, request, policy)
            with db.session() as s:
                _settle(s, did, policy, at, result, report, owner)
    finally:
        if own:
            http.close()
    return report


def _free(at: datetime) -> tuple[Any, ...]:
    """Pending deliveries due at ``at`` that no live lease holds."""
    return (
        WebhookDelivery.status == "pending",
        WebhookDelivery.next_attempt_at <= at,
        or_(WebhookDelivery.lease_until.is_(None), WebhookDelivery.lease_until < at),
    )


def _claim(s: Session, did: int, owner: str, at: datetime, lease_seconds: float) -> bool:
    """Take delivery ``did`` for this pass: one conditional UPDATE, so one pass wins."""
    # an UPDATE's result is a CursorResult, which has the row count (SQLAlchemy's own advice)
    r = cast(
        "CursorResult[Any]",
        s.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.id == did, *_free(at))
            .values(lease_owner=owner, lease_until=at + timedelta(seconds=lease_seconds))
            .execution_options(synchronize_session=False)
        ),
    )
    return r.rowcount == 1


@dataclass(frozen=True)
class _Request:
    url: str
    body: bytes
    headers: dict[str, str]
    allow_host: bool


@dataclass(frozen=True)
class _Result:
    status_code: int | None
    error: str | None
    duration_ms: float


def _prepare(s: Session, did: int, owner: str | None) -> _Request | None:
    """The request for delivery ``did`` (read only), or None when it is not ours to send."""
    d = s.get(WebhookDelivery, did)
    sub = s.get(WebhookSubscription, d.subscription_id) if d else None
    if d is None or sub is None or not sub.active or d.status != "pending":
        return None  # another pass got there first, or the hook was disabled meanwhile
    if owner is not None and d.lease_owner != owner:
        return None  # our lease ran out and another pass took the delivery over
    e = s.get(WebhookEvent, d.event_id)
    assert e is not None  # a delivery's event_id is a foreign key; events are never deleted
    body = body_of(e, d.delivery_id)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "socialcrm-webhooks",
        EVENT_HEADER: e.type,
        DELIVERY_HEADER: d.delivery_id,
        "Idempotency-Key": d.delivery_id,
        SIGNATURE_HEADER: sign(sub.secret, body, int(time.time())),
    }
    return _Request(sub.url, body, headers, bool(sub.allow_host))


def _send(http: httpx.Client, req: _Request, policy: Policy) -> _Result:
    """POST outside any transaction; a refused address or a network error is a result."""
    code: int | None = None
    error: str | None = None
    t0 = time.perf_counter()
    try:
        parse_outbound_url(req.url)  # the form, whatever client sends it
        r = http.post(
            req.url,
            content=req.body,
            headers=req.headers,
            timeout=policy.timeout_seconds,
            extensions={ALLOW_HOST_EXTENSION: True} if req.allow_host else {},
        )
        code = r.status_code
        if not 200 <= code < 300:
            error = f"HTTP {code}"
    except OutboundURLError as exc:  # DNS rebinding, or a URL stored before the checks
        error = f"refused: {exc}"
    except httpx.HTTPError as exc:  # refused, reset, timed out: the URL only, no secrets
        error = f"{type(exc).__name__}: {str(exc)[:300]}"
    return _Result(code, error[:500] if error else None, (time.perf_counter() - t0) * 1000)


def _settle(
    s: Session,
    did: int,
    policy: Policy,
    at: datetime,
    result: _Result,
    report: Report,
    owner: str | None = None,
) -> None:
    """Record one attempt's result and release the delivery (when still ours)."""
    d = s.get(WebhookDelivery, did)
    sub = s.get(WebhookSubscription, d.subscription_id) if d else None
    if d is None or sub is None or d.status != "pending":
        return
    if owner is not None and d.lease_owner != owner:
        return  # our lease ran out and another pass took the delivery over
    d.lease_owner = d.lease_until = None
    code, error = result.status_code, result.error
    d.attempts += 1
    d.last_status_code, d.last_error = code, error
    s.add(
        WebhookAttempt(
            delivery_id=d.id, at=at, status_code=code, error=error, duration_ms=result.duration_ms
        )
    )
    if error is None:
        d.status, d.delivered_at = "delivered", at
        sub.consecutive_failures = 0
        report.delivered += 1
        return
    report.failed += 1
    sub.consecutive_failures += 1
    if d.attempts >= policy.max_attempts:
        d.status = "failed"
    else:
        d.next_attempt_at = at + policy.delay(d.attempts)
    if sub.active and sub.consecutive_failures >= policy.disable_after:
        sub.active, sub.disabled_at = False, at
        sub.disabled_reason = (
            f"{sub.consecutive_failures} failed attempts in a row; last: {error}"
        )[:500]
        msg = (
            f"Webhook {sub.id} to {sub.url} was disabled after {sub.consecutive_failures} "
            f"failed attempts in a row (last: {error}). Its deliveries wait; re-enable it "
            f"with `socialcrm webhooks enable {sub.id}`."
        )
        s.add(Notice(kind="webhook.disabled", target=f"webhook:{sub.id}", message=msg[:1000]))
        audit(s, "webhooks", "webhook.disable", f"webhook:{sub.id}", reason=error)
        report.disabled.append(sub.id)


def replay(s: Session, delivery_id: str, actor: str) -> WebhookDelivery:
    """Send a delivery again (same delivery id, so a receiver that has it can drop it)."""
    d = s.scalar(select(WebhookDelivery).where(WebhookDelivery.delivery_id == delivery_id))
    if d is None:
        raise WebhookError(f"no delivery {delivery_id}")
    d.status, d.next_attempt_at = "pending", utcnow()
    audit(s, actor, "webhook.replay", f"delivery:{delivery_id}")
    return d


def log(
    s: Session, subscription_id: int | None = None, status: str | None = None, limit: int = 100
) -> list[dict[str, Any]]:
    """Recent deliveries with their attempts, newest first."""
    q = select(WebhookDelivery, WebhookEvent).join(
        WebhookEvent, WebhookEvent.id == WebhookDelivery.event_id
    )
    if subscription_id is not None:
        q = q.where(WebhookDelivery.subscription_id == subscription_id)
    if status:
        q = q.where(WebhookDelivery.status == status)
    rows = list(s.execute(q.order_by(WebhookDelivery.id.desc()).limit(limit)))
    ids = [d.id for d, _ in rows]
    attempts: dict[int, list[dict[str, Any]]] = {i: [] for i in ids}
    if ids:
        for a in s.scalars(
            select(WebhookAttempt)
            .where(WebhookAttempt.delivery_id.in_(ids))
            .order_by(WebhookAttempt.id)
        ):
            attempts[a.delivery_id].append(
                {
                    "at": a.at.isoformat(),
                    "status_code": a.status_code,
                    "error": a.error,
                    "duration_ms": round(a.duration_ms, 1),
                }
            )
    return [
        {
            "delivery_id": d.delivery_id,
            "subscription_id": d.subscription_id,
            "event_id": e.event_id,
            "event": e.type,
            "status": d.status,
            "attempts": d.attempts,
            "next_attempt_at": d.next_attempt_at.isoformat(),
            "delivered_at": d.delivered_at.isoformat() if d.delivered_at else None,
            "last_error": d.last_error,
            "log": attempts[d.id],
        }
        for d, e in rows
    ]


def notices(s: Session, limit: int = 50) -> list[Notice]:
    return list(s.scalars(select(Notice).order_by(Notice.id.desc()).limit(limit)))


__all__ = [
    "EVENT_TYPES",
    "Policy",
    "WebhookError",
    "deliver",
    "emit",
    "enable",
    "fan_out",
    "import_domain_events",
    "log",
    "replay",
    "sign",
    "subscribe",
    "verify",
]
