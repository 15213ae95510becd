"""Webhooks integrators can trust: signed, delivered at least once, never silently dropped.

Every event is stored first (``webhook_events``), then fanned out into one delivery per
matching subscription. A delivery keeps its ``delivery_id`` across retries (the
idempotency key receivers use to drop duplicates), is retried with exponential backoff,
and its every attempt is logged. A subscription that fails ``disable_after`` times in a
row is disabled, with an audit entry and a notice for admins; nothing is lost, its
deliveries wait to be replayed. Payloads are signed like Stripe's:
``Socialcrm-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of "t.body">``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import inspect, or_, select, update
from sqlalchemy.orm import Session

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
    s: Session, url: str, events: list[str], actor: str
) -> tuple[WebhookSubscription, str]:
    """A new subscription and its signing secret (shown once to the caller)."""
    url = url.strip()
    if (
        not url.startswith(("http://", "https://"))
        or len(url) > 2000
        or any(ord(ch) < 33 for ch in url)
    ):
        raise WebhookError(f"a webhook URL must be http(s): {url[:100]!r}")
    events = sorted(set(events or EVENT_TYPES))
    unknown = [e for e in events if e not in EVENT_TYPES]
    if unknown:
        raise WebhookError(f"unknown events {', '.join(unknown)}; events: {', '.join(EVENT_TYPES)}")
    secret = "whsec_" + secrets.token_urlsafe(32)
    sub = WebhookSubscription(url=url, secret=secret, events=events, created_by=actor)
    s.add(sub)
    s.flush()
    audit(s, actor, "webhook.subscribe", f"webhook:{sub.id}", url=url, events=events)
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
def emit(s: Session, type: str, key: str, payload: dict[str, Any]) -> WebhookEvent | None:
    """Store an event to announce; the same ``key`` twice records it once."""
    if type not in EVENT_TYPES:
        raise WebhookError(f"unknown event {type!r}")
    if s.scalar(select(WebhookEvent.id).where(WebhookEvent.source_key == key)) is not None:
        return None
    e = WebhookEvent(event_id="evt_" + uuid.uuid4().hex, type=type, source_key=key)
    e.payload = payload
    s.add(e)
    s.flush()
    return e


def _event_type(kind: str) -> str:
    """``conversation_created`` → ``conversation.created`` (the events table's names)."""
    return kind if "." in kind else kind.replace("_", ".", 1)


def import_domain_events(s: Session, batch: int = 1000) -> int:
    """Copy new rows of the inbox's ``events`` table (when it exists) into webhook events."""
    if not inspect(s.get_bind()).has_table("events"):
        return 0
    last = s.scalar(
        select(WebhookEvent.source_key)
        .where(WebhookEvent.source_key.like("events:%"))
        .order_by(WebhookEvent.id.desc())
        .limit(1)
    )
    after = int(last.split(":", 1)[1]) if last else 0
    n = 0
    while True:
        rows = list(
            s.scalars(
                select(DomainEvent)
                .where(DomainEvent.id > after)
                .order_by(DomainEvent.id)
                .limit(batch)
            )
        )
        for r in rows:
            after = r.id
            kind = _event_type(r.kind)
            if kind not in EVENT_TYPES:
                continue
            e = WebhookEvent(
                event_id="evt_" + uuid.uuid4().hex, type=kind, source_key=f"events:{r.id}"
            )
            e.payload = dict(r.payload or {}) | {"key": r.key}
            e.occurred_at = r.occurred_at
            s.add(e)
            n += 1
        s.flush()
        if len(rows) < batch:
            return n


def fan_out(s: Session) -> int:
    """One delivery per (new event, active subscription that wants its type)."""
    subs = [x for x in subscriptions(s) if x.active]
    n = 0
    for e in s.scalars(select(WebhookEvent).where(WebhookEvent.fanned_out.is_(False))):
        for sub in subs:
            if e.type in sub.events:
                s.add(
                    WebhookDelivery(
                        delivery_id="dlv_" + uuid.uuid4().hex,
                        subscription_id=sub.id,
                        event_id=e.id,
                        next_attempt_at=e.occurred_at,
                    )
                )
                n += 1
        e.fanned_out = True
    s.flush()
    return n


# -- delivery -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Policy:
    backoff_seconds: float = 30.0
    backoff_max_seconds: float = 3600.0
    max_attempts: int = 12
    disable_after: int = 10
    timeout_seconds: float = 10.0

    @classmethod
    def from_settings(cls, settings: Any) -> Policy:
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
    db: Any,
    policy: Policy,
    *,
    now: datetime | None = None,
    client: httpx.Client | None = None,
    limit: int = 1000,
    lease_seconds: float = 300.0,
) -> Report:
    """One delivery pass: import and fan out events, then try every due delivery.

    Each delivery is its own transaction, committed after the request: a crash between
    the two sends it again (at least once), never loses it. Before sending, the pass
    claims the delivery (a lease set by one conditional UPDATE), so passes running at the
    same time (app processes, a ``--watch`` worker) never send it twice; a pass that dies
    leaves a lease that expires after ``lease_seconds``. ``db`` is an
    :class:`~socialcrm.appdb.db.AppDB`.
    """
    report = Report()
    with db.session() as s:
        report.imported = import_domain_events(s)
        report.fanned_out = fan_out(s)
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
    http = client or httpx.Client(timeout=policy.timeout_seconds, follow_redirects=False)
    try:
        for did in due:
            claimed_at = now or utcnow()
            with db.session() as s:
                if not _claim(s, did, owner, claimed_at, lease_seconds):
                    continue  # another pass has it, or sent it already
            with db.session() as s:
                _attempt(s, did, policy, at, http, report, owner)
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
    r = s.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.id == did, *_free(at))
        .values(lease_owner=owner, lease_until=at + timedelta(seconds=lease_seconds))
        .execution_options(synchronize_session=False)
    )
    return r.rowcount == 1


def _attempt(
    s: Session,
    did: int,
    policy: Policy,
    at: datetime,
    http: httpx.Client,
    report: Report,
    owner: str | None = None,
) -> None:
    d = s.get(WebhookDelivery, did)
    sub = s.get(WebhookSubscription, d.subscription_id) if d else None
    if d is None or sub is None or not sub.active or d.status != "pending":
        return  # another pass got there first, or the hook was disabled meanwhile
    if owner is not None and d.lease_owner != owner:
        return  # our lease ran out and another pass took the delivery over
    d.lease_owner = d.lease_until = None
    e = s.get(WebhookEvent, d.event_id)
    body = body_of(e, d.delivery_id)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "socialcrm-webhooks",
        EVENT_HEADER: e.type,
        DELIVERY_HEADER: d.delivery_id,
        "Idempotency-Key": d.delivery_id,
        SIGNATURE_HEADER: sign(sub.secret, body, int(time.time())),
    }
    code: int | None = None
    error: str | None = None
    t0 = time.perf_counter()
    try:
        r = http.post(sub.url, content=body, headers=headers, timeout=policy.timeout_seconds)
        code = r.status_code
        if not 200 <= code < 300:
            error = f"HTTP {code}"
    except httpx.HTTPError as exc:  # refused, reset, timed out: the URL only, no secrets
        error = f"{type(exc).__name__}: {str(exc)[:300]}"
    ms = (time.perf_counter() - t0) * 1000
    d.attempts += 1
    d.last_status_code, d.last_error = code, error
    s.add(WebhookAttempt(delivery_id=d.id, at=at, status_code=code, error=error, duration_ms=ms))
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
    if sub.consecutive_failures >= policy.disable_after:
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
    "log",
    "replay",
    "sign",
    "subscribe",
    "verify",
]
