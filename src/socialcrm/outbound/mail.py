"""Campaign email: queued as complete messages in the outbox, delivered over SMTP.

:func:`queue_email` builds the whole message once, when the campaign is sent: the text
and HTML parts (``multipart/alternative``), ``Message-ID`` and ``Date``, the two
unsubscribe headers of RFC 2369 and RFC 8058 (an https link the mail client can POST to
with one click, and a mailto), the links of the HTML rewritten to signed click links,
and an open pixel. The message's bytes are the outbox item's body, so every attempt,
and a resend after a crash, sends exactly the same message with the same Message-ID.

:func:`deliver_emails` sends what is due, on the outbox's machinery
(:mod:`socialcrm.outbound.outbox`: claimed with a lease, retried with backoff, ``dead``
with its last error). Right before each message goes out it checks the suppression list
again, and the caller's ``recheck`` (the campaign side's consent check), so that an
unsubscribe or a withdrawn consent that lands after the campaign was queued still stops
the message.

What a crash does. Each message's state is committed *before* the SMTP call
(``sending``, under the pass's lease) and *right after* it (``sent``, in the same
transaction that marks the next message ``sending``). A worker that dies anywhere else
leaves nothing in doubt: sent messages are ``sent``, the others are ``pending`` or
``sending`` with a lease. Only a death between the server's "250 accepted" and that
commit (microseconds of database work) leaves an item ``sending`` that was in fact
delivered: when its lease runs out another pass sends it again, the same bytes with the
same Message-ID, once, which mail systems that deduplicate on Message-ID drop. That
window cannot be closed from our side: SMTP has no way to ask whether a message arrived.
"""

from __future__ import annotations

import hashlib
import logging
import re
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.charset import QP, Charset
from email.header import Header
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.policy import compat32
from email.utils import formataddr, formatdate, parseaddr
from html import escape, unescape
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from socialcrm.appdb.models import OutboxItem, utcnow
from socialcrm.config import Settings
from socialcrm.outbound import outbox, tokens
from socialcrm.outbound.channel import ChannelError
from socialcrm.outbound.email import (
    EmailRejected,
    EmailSender,
    SmtpSender,
    SmtpUnavailable,
    smtp_config,
)
from socialcrm.outbound.suppression import normalise, record, suppress, suppressed
from socialcrm.outbound.templates import RenderedEmail

if TYPE_CHECKING:
    from socialcrm.appdb.db import AppDB

log = logging.getLogger(__name__)

CONNECTOR = "email"
DIRECT_CONNECTORS = ("mastodon_dm", "bluesky_dm")
BATCH = 100
CAMPAIGN_HEADER = "X-Socialcrm-Campaign"
_ADDRESS = re.compile(r"^[^@\s<>()\[\],;:\"\\]+@[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?$")
_HREF = re.compile(r"""(<a\b[^>]*?\bhref\s*=\s*)(["'])(.*?)\2""", re.IGNORECASE | re.DOTALL)
_BODY_END = re.compile(r"</body\s*>", re.IGNORECASE)

_QP_UTF8 = Charset("utf-8")
_QP_UTF8.body_encoding = QP  # readable source, lines under 76 characters
# headers folded only past RFC 5322's hard limit: URLs in one piece
_WIRE = compat32.clone(linesep="\r\n", max_line_length=998)

Recheck = Callable[[Session, OutboxItem], str | None]


class EmailError(ValueError):
    """An email that cannot be built: no From address, an invalid recipient."""


def from_address(settings: Settings) -> str:
    """The From header: ``SOCIALCRM_EMAIL_FROM``, else the SMTP URL's ``?from=``."""
    found = settings.email_from
    if not found and settings.smtp_url is not None:
        found = smtp_config(settings).from_addr
    if not found:
        raise EmailError("set SOCIALCRM_EMAIL_FROM (or ?from= in SOCIALCRM_SMTP_URL)")
    return found


def valid_address(address: str) -> str:
    """``address`` trimmed, or :class:`EmailError` when it is no plain ASCII address."""
    addr = address.strip()
    if not addr.isascii() or not _ADDRESS.match(addr) or "." not in addr.rsplit("@", 1)[1]:
        raise EmailError(f"not an email address: {addr[:80]!r}")
    return addr


def message_id_for(key: str, from_addr: str) -> str:
    """A Message-ID fixed by the idempotency key (so a rebuilt message keeps it)."""
    domain = parseaddr(from_addr)[1].rsplit("@", 1)[-1] or "socialcrm.invalid"
    return f"<{hashlib.sha256(key.encode()).hexdigest()[:32]}@{domain}>"


def track_links(html: str, settings: Settings, campaign_id: str, customer_id: str) -> str:
    """Every http(s) link of ``html`` through a signed click link; mailto, anchors and the
    app's own links (unsubscribe) untouched.

    >>> s = Settings(home="/tmp/socialcrm-doctest", public_url="https://crm.example",
    ...              web_secret_key="k" * 32)
    >>> out = track_links('<a href="https://shop.example/?a=1&amp;b=2">x</a> '
    ...                   '<a href="mailto:hi@example.com">y</a>', s, "spring", "c1")
    >>> out.count("https://crm.example/email/click/"), "mailto:hi@example.com" in out
    (1, True)
    """
    own = tokens.public_base(settings) + "/email/"

    def swap(m: re.Match[str]) -> str:
        url = unescape(m.group(3)).strip()
        if not re.match(r"(?i)https?://", url) or url.startswith(own):
            return m.group(0)
        tracked = tokens.click_url(settings, campaign_id, customer_id, url)
        return f"{m.group(1)}{m.group(2)}{escape(tracked)}{m.group(2)}"

    return _HREF.sub(swap, html)


def build_message(
    settings: Settings,
    *,
    recipient: str,
    rendered: RenderedEmail,
    campaign_id: str,
    customer_id: str,
    message_id: str,
    now: datetime | None = None,
    from_addr: str | None = None,
) -> bytes:
    """The complete message (RFC 5322, CRLF line ends, 7-bit clean) for one person."""
    sender = from_addr or from_address(settings)
    to = valid_address(recipient)
    unsub = tokens.unsubscribe_url(settings, campaign_id, customer_id)
    unsub_token = unsub.rsplit("/", 1)[1]
    mailbox = parseaddr(sender)[1]
    html = track_links(rendered.html, settings, campaign_id, customer_id)
    text = rendered.text
    if unsub not in html:  # every message shows a way out, not only in its headers
        html = _before_body_end(
            html, f'<p style="font-size:12px;color:#666"><a href="{escape(unsub)}">'
            "Unsubscribe</a> from these emails.</p>"
        )  # fmt: skip
    if unsub not in text:
        text = f"{text.rstrip()}\n\n--\nUnsubscribe: {unsub}\n"
    pixel = escape(tokens.open_url(settings, campaign_id, customer_id))
    html = _before_body_end(
        html, f'<img src="{pixel}" width="1" height="1" alt="" style="display:block;border:0">'
    )

    # The legacy (compat32) classes: ten times faster than EmailMessage's header
    # registry, and they never fold a long ASCII header into encoded words (which would
    # break List-Unsubscribe's URLs for the mail clients that parse them).
    msg = MIMEMultipart("alternative")
    msg["From"] = _header_address(sender)
    msg["To"] = to
    msg["Subject"] = rendered.subject if rendered.subject.isascii() else Header(
        rendered.subject, "utf-8"
    ).encode()
    at = (now or utcnow()).replace(tzinfo=UTC)
    msg["Date"] = formatdate(at.timestamp(), usegmt=True)
    msg["Message-ID"] = message_id
    msg["List-Unsubscribe"] = f"<{unsub}>, <mailto:{mailbox}?subject=unsubscribe-{unsub_token}>"
    msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    msg[CAMPAIGN_HEADER] = campaign_id
    msg.attach(MIMEText(text, "plain", _QP_UTF8))
    msg.attach(MIMEText(html, "html", _QP_UTF8))
    return msg.as_bytes(policy=_WIRE)


def _header_address(value: str) -> str:
    """A From value with a non-ASCII display name encoded (RFC 2047); CR/LF refused."""
    if "\r" in value or "\n" in value:
        raise EmailError("a header value with a line break")
    name, addr = parseaddr(value)
    return formataddr((name, addr), charset="utf-8") if name else addr


def _before_body_end(html: str, snippet: str) -> str:
    ends = [m.start() for m in _BODY_END.finditer(html)]
    if not ends:
        return html + snippet
    return html[: ends[-1]] + snippet + html[ends[-1] :]


def queue_email(
    s: Session,
    settings: Settings,
    *,
    key: str,
    campaign_id: str,
    customer_id: str,
    recipient: str,
    rendered: RenderedEmail,
    now: datetime | None = None,
) -> OutboxItem:
    """Queue one campaign email for delivery, idempotently by ``key``.

    ``key`` is the caller's, one per (campaign, person, step): queueing it again (a
    campaign sent twice, a send resumed after a crash) gives back the first item and
    builds nothing. The message is built here, complete (see the module's notes).
    """
    key = outbox.storable_key(key)
    found = s.scalar(select(OutboxItem).where(OutboxItem.idempotency_key == key))
    if found is not None:
        return found
    sender = from_address(settings)
    mid = message_id_for(key, sender)
    raw = build_message(settings, recipient=recipient, rendered=rendered,
                        campaign_id=campaign_id, customer_id=customer_id, message_id=mid,
                        now=now, from_addr=sender)  # fmt: skip
    return outbox.enqueue(
        s,
        connector=CONNECTOR,
        body=raw.decode("ascii"),
        in_reply_to=None,
        conversation_id=None,
        actor=f"campaign:{campaign_id}"[:320],
        key=key,
        now=now,
        recipient=normalise(recipient),
        campaign_id=campaign_id,
        customer_id=customer_id,
        message_id=mid,
    )


def queue_direct(
    s: Session,
    *,
    key: str,
    campaign_id: str,
    customer_id: str,
    connector: str,
    handle: str,
    body: str,
    now: datetime | None = None,
) -> OutboxItem:
    """Queue a private message to ``handle`` (``connector``: ``mastodon_dm`` or
    ``bluesky_dm``), idempotently by ``key``; the delivery loop sends it through the
    social connector (:mod:`socialcrm.outbound.social`)."""
    if connector not in DIRECT_CONNECTORS:
        raise ValueError(f"unknown private-message channel {connector!r}; use {DIRECT_CONNECTORS}")
    if not handle.strip():
        raise ValueError("a private message needs a handle")
    return outbox.enqueue(
        s,
        connector=connector,
        body=body,
        in_reply_to=None,
        conversation_id=None,
        actor=f"campaign:{campaign_id}"[:320],
        key=key,
        now=now,
        recipient=handle.strip().lstrip("@"),
        campaign_id=campaign_id,
        customer_id=customer_id,
    )


# -- delivery ---------------------------------------------------------------------------------
_Attempt = tuple[int, ChannelError | None]


def deliver_emails(
    db: AppDB,
    settings: Settings,
    *,
    sender: EmailSender | None = None,
    recheck: Recheck | None = None,
    now: datetime | None = None,
    limit: int | None = None,
) -> dict[str, int]:
    """Send the due campaign emails; counts of ``sent``, ``failed`` (to be retried),
    ``skipped`` (suppressed, or refused by ``recheck``) and ``dead``.

    Items are claimed a batch at a time with the outbox's lease, so passes running at
    once never send the same message. ``recheck(session, item)`` runs right before each
    message and returns a reason to skip it (``"no_consent"``…) or None; the suppression
    list is always checked. A hard bounce at the SMTP stage suppresses the address. A
    server that cannot be reached ends the pass (the rest is tried by the next one).
    """
    clock: Callable[[], datetime] = (lambda: now) if now is not None else utcnow
    owner = uuid.uuid4().hex
    lease = timedelta(seconds=settings.delivery_lease_seconds)
    out = {"sent": 0, "failed": 0, "skipped": 0, "dead": 0}
    own = sender is None
    smtp: EmailSender | None = sender
    sender_addr: str | None = None
    budget = limit if limit is not None else 1 << 62
    # a batch must be sent before its lease runs out, at the configured pace
    rate = settings.email_rate_per_second
    size = BATCH if rate <= 0 else max(1, min(BATCH, int(rate * lease.total_seconds() / 2)))
    try:
        while budget > 0:
            with db.session() as s:
                ids = outbox.claim_due(s, CONNECTOR, owner, clock(), lease, min(size, budget),
                                       statuses=("pending", "sending"))  # fmt: skip
            if not ids:
                break
            budget -= len(ids)
            pending: _Attempt | None = None
            for n, item_id in enumerate(ids):
                with db.session() as s:
                    if pending is not None:
                        _settle(s, settings, pending, owner, clock(), out)
                        pending = None
                    job = _start(s, item_id, owner, clock(), lease, recheck, out)
                if job is None:
                    continue
                to_addr, raw = job
                if smtp is None:
                    smtp = SmtpSender.from_settings(settings)
                if sender_addr is None:
                    sender_addr = parseaddr(from_address(settings))[1]
                try:
                    smtp.send(sender_addr, to_addr, raw)
                    pending = (item_id, None)
                except ChannelError as e:
                    pending = (item_id, e)
                if isinstance(pending[1], SmtpUnavailable):
                    with db.session() as s:
                        _settle(s, settings, pending, owner, clock(), out)
                        outbox.release(s, ids[n + 1 :], owner)
                    log.warning("email delivery paused: %s", pending[1])
                    return out
            if pending is not None:
                with db.session() as s:
                    _settle(s, settings, pending, owner, clock(), out)
    finally:
        if own and smtp is not None:
            smtp.close()
    return out


def _start(
    s: Session,
    item_id: int,
    owner: str,
    at: datetime,
    lease: timedelta,
    recheck: Recheck | None,
    out: dict[str, int],
) -> tuple[str, bytes] | None:
    """Mark a claimed item ``sending`` (committed before SMTP), or skip it; what to send."""
    item = s.get(OutboxItem, item_id)
    if item is None or item.lease_owner != owner or item.status not in ("pending", "sending"):
        return None  # our lease ran out and another pass took it over
    reason: str | None = None
    if not item.recipient:
        reason = "no_address"
    elif suppressed(s, [item.recipient]):
        reason = "suppressed"
    elif recheck is not None:
        reason = recheck(s, item)
    if reason is not None:
        item.status, item.last_error = "skipped", reason[:500]
        item.lease_owner = item.lease_until = None
        out["skipped"] += 1
        return None
    if item.status == "sending":
        # a pass died after marking it: the server may have it already (see the module)
        item.last_error = "resent: an earlier attempt was interrupted"
    item.status = "sending"
    item.lease_until = at + lease
    assert item.recipient is not None
    return item.recipient, item.body.encode("ascii")


def _settle(
    s: Session,
    settings: Settings,
    attempt: _Attempt,
    owner: str,
    at: datetime,
    out: dict[str, int],
) -> None:
    """Record an attempt: ``sent`` (and its event), or the failure."""
    item_id, error = attempt
    item = s.get(OutboxItem, item_id)
    if item is None or item.lease_owner != owner:
        return
    if error is None:
        item.attempts += 1
        item.status, item.sent_at, item.external_id = "sent", at, item.message_id
        item.lease_owner = item.lease_until = None
        record(s, "sent", campaign_id=item.campaign_id, customer_id=item.customer_id,
               recipient=item.recipient, outbox_id=item.id, at=at,
               key=f"sent:{item.id}")  # fmt: skip
        out["sent"] += 1
        return
    result = outbox.failed(item, error, settings.email_max_attempts, at)
    out["dead" if result == "dead" else "failed"] += 1
    if isinstance(error, EmailRejected) and error.hard_bounce and item.recipient:
        suppress(s, item.recipient, "hard_bounce", "smtp",
                 campaign_id=item.campaign_id, customer_id=item.customer_id)  # fmt: skip
        record(s, "bounce", campaign_id=item.campaign_id, customer_id=item.customer_id,
               recipient=item.recipient, outbox_id=item.id, at=at,
               detail=f"hard: {error}", key=f"bounce:smtp:{item.id}")  # fmt: skip


def item_for_message_id(s: Session, message_id: str) -> OutboxItem | None:
    """The outbox item that sent ``message_id`` (with or without its angle brackets)."""
    mid = message_id.strip()
    if not mid.startswith("<"):
        mid = f"<{mid}>"
    return s.scalar(select(OutboxItem).where(OutboxItem.message_id == mid).limit(1))


__all__ = [
    "CONNECTOR",
    "DIRECT_CONNECTORS",
    "EmailError",
    "build_message",
    "deliver_emails",
    "from_address",
    "item_for_message_id",
    "message_id_for",
    "queue_direct",
    "queue_email",
    "track_links",
    "valid_address",
]
