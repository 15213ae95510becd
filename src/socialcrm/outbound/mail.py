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

import binascii
import hashlib
import logging
import re
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.header import Header
from email.utils import formataddr, formatdate, getaddresses, parseaddr
from html import escape, unescape
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import urlsplit

from sqlalchemy import ColumnElement, CursorResult, bindparam, insert, select, update
from sqlalchemy.orm import Session

from socialcrm.appdb.models import EmailEvent, OutboxItem, Suppression, utcnow
from socialcrm.config import Settings
from socialcrm.outbound import outbox, tokens
from socialcrm.outbound.channel import ChannelError
from socialcrm.outbound.email import (
    EmailRejected,
    EmailSender,
    SmtpSender,
    SmtpUnavailable,
    Unconfirmed,
    smtp_config,
)
from socialcrm.outbound.suppression import is_suppressed, normalise, record, suppress
from socialcrm.outbound.templates import RenderedEmail
from socialcrm.outbound.urls import address_problem, literal_address

if TYPE_CHECKING:
    from socialcrm.appdb.db import AppDB

log = logging.getLogger(__name__)

CONNECTOR = "email"
DIRECT_CONNECTORS = ("mastodon_dm", "bluesky_dm")
BATCH = 100
CAMPAIGN_HEADER = "X-Socialcrm-Campaign"
# dot-atoms only (no quoting, no source routes with % or !), labels of letters, digits, -
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
_ADDRESS = re.compile(
    r"(?!\.)(?!.*\.\.)[A-Za-z0-9#$&'*+/=?^_`{|}~.-]+(?<!\.)@" + rf"(?:{_LABEL}\.)+{_LABEL}"
)
_HANDLES = {
    "mastodon_dm": re.compile(
        rf"[A-Za-z0-9_](?:[A-Za-z0-9_.-]*[A-Za-z0-9_])?(?:@{_LABEL}(?:\.{_LABEL})+)?"
    ),
    "bluesky_dm": re.compile(rf"did:(?:plc|web):[A-Za-z0-9._:%-]+|{_LABEL}(?:\.{_LABEL})+"),
}
_HREF = re.compile(r"""(<a\b[^>]*?\shref\s*=\s*)(["'])(.*?)\2""", re.IGNORECASE | re.DOTALL)
_BODY_END = re.compile(r"</body\s*>", re.IGNORECASE)

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


def parse_envelope(value: str) -> str:
    """The bare address of a header value: ``Brand <news@brand.example>`` → the address."""
    return parseaddr(value)[1] or value


def valid_address(address: str) -> str:
    """``address`` trimmed, or :class:`EmailError` when it is no plain ASCII address."""
    addr = address.strip()
    if not addr.isascii() or len(addr) > 254 or not _ADDRESS.fullmatch(addr):
        raise EmailError(f"not an email address: {addr[:80]!r}")
    return addr


def message_id_for(key: str, from_addr: str, settings: Settings | None = None) -> str:
    """A Message-ID fixed by the idempotency key (so a rebuilt message keeps it).

    With ``settings``, keyed by the workspace's secret: the bounce mailbox takes a
    report's word only for a message it names by Message-ID, and ``campaign|person|step``
    is guessable, so its plain hash would let anyone forge a bounce for anyone."""
    domain = parseaddr(from_addr)[1].rsplit("@", 1)[-1] or "socialcrm.invalid"
    if settings is not None:
        digest = tokens.tokens_for(settings).digest("message-id", key)
    else:
        digest = hashlib.sha256(key.encode()).hexdigest()
    return f"<{digest[:32]}@{domain}>"


def untrackable(url: str) -> str | None:
    """Why the app's click links must not redirect to ``url``, or None.

    Only ``http(s)`` to a public host: no ``user@`` part (``https://shop.example@evil.example/``
    reads as the shop), no loopback, private or metadata address (a link from the brand's
    own domain into the recipient's router or intranet), no control characters.

    >>> [untrackable(u) for u in ("https://shop.example/a?b=1", "javascript:alert(1)")]
    [None, 'not an http(s) link']
    >>> untrackable("http://169.254.169.254/"), untrackable("https://a.example@b.example/")
    ('a cloud metadata address', 'a user name in the link')
    """
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        _ = parts.port
    except ValueError:
        return "not a valid link"
    if parts.scheme.lower() not in ("http", "https") or not host or url != url.strip():
        return "not an http(s) link"
    if _CONTROL.search(url) or " " in url:
        return "a control character in the link"
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        return "a user name in the link"
    if host in ("localhost", "localhost.localdomain") or host.endswith(".localhost"):
        return "a loopback address"
    ip = literal_address(host)
    return address_problem(ip) if ip is not None else None


def track_links(html: str, settings: Settings, campaign_id: str, customer_id: str) -> str:
    """Every http(s) link of ``html`` through a signed click link; mailto, anchors and the
    app's own links (unsubscribe) untouched.

    >>> s = Settings(home="/tmp/socialcrm-doctest", public_url="https://crm.example",
    ...              web_secret_key="k" * 32)
    >>> out = track_links('<a href="https://shop.example/?a=1&amp;b=2">x</a> '
    ...                   '<a href="mailto:hi@example.com">y</a>', s, "spring", "c1")
    >>> out.count("https://crm.example/email/click/"), "mailto:hi@example.com" in out
    (1, True)
    >>> track_links('<a data-href="https://x.example/">x</a>', s, "spring", "c1")
    '<a data-href="https://x.example/">x</a>'

    """
    own = tokens.public_base(settings) + "/email/"

    def swap(m: re.Match[str]) -> str:
        url = unescape(m.group(3)).strip()
        if url.startswith(own) or untrackable(url):  # not lent the app's name: left as is
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
    # every message also carries the person's link to the preference centre (how often,
    # which topics, which channels), signed at the message's time so a rebuilt message
    # keeps its bytes
    prefs = tokens.preferences_url(settings, customer_id, now)
    html = _before_body_end(
        html, f'<p style="font-size:12px;color:#666"><a href="{escape(prefs)}">'
        "Choose what you receive</a>: topics, how often, channels.</p>"
    )  # fmt: skip
    text = f"{text.rstrip()}\nYour preferences: {prefs}\n"
    pixel = escape(tokens.open_url(settings, campaign_id, customer_id))
    html = _before_body_end(
        html, f'<img src="{pixel}" width="1" height="1" alt="" style="display:block;border:0">'
    )

    # Written out directly: the email package's generators spend milliseconds a message
    # folding headers (and fold a long ASCII header into encoded words, which breaks
    # List-Unsubscribe's URLs for the mail clients that parse them). The parts are
    # quoted-printable UTF-8, so the message is 7-bit clean; the boundary comes from the
    # Message-ID, so the same inputs give the same bytes.
    at = (now or utcnow()).replace(tzinfo=UTC)
    headers = [
        ("From", _header_address(sender)),
        ("To", to),
        ("Subject", _header_text(rendered.subject)),
        ("Date", formatdate(at.timestamp(), usegmt=True)),
        ("Message-ID", message_id),
        ("MIME-Version", "1.0"),
        ("List-Unsubscribe", f"<{unsub}>, <mailto:{mailbox}?subject=unsubscribe-{unsub_token}>"),
        ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"),
        (CAMPAIGN_HEADER, _header_text(campaign_id)),
    ]
    boundary = "=_socialcrm_" + hashlib.sha256(message_id.encode()).hexdigest()[:24]
    lines = [f"{k}: {v}" for k, v in headers]
    lines += [f'Content-Type: multipart/alternative; boundary="{boundary}"', ""]
    for subtype, content in (("plain", text), ("html", html)):
        lines += [f"--{boundary}", f'Content-Type: text/{subtype}; charset="utf-8"',
                  "Content-Transfer-Encoding: quoted-printable", "", _qp(content)]  # fmt: skip
    lines += [f"--{boundary}--", ""]
    return "\r\n".join(lines).encode("ascii")


def build_notice(
    settings: Settings,
    *,
    recipient: str,
    subject: str,
    text: str,
    html: str,
    message_id: str,
    now: datetime | None = None,
    from_addr: str | None = None,
) -> bytes:
    """A service message the person asked for (a sign-up's confirmation, their link to
    the preference centre): the same 7-bit form as a campaign message, without
    unsubscribe headers, tracked links or a pixel (nothing in it is marketing)."""
    sender = from_addr or from_address(settings)
    to = valid_address(recipient)
    at = (now or utcnow()).replace(tzinfo=UTC)
    headers = [
        ("From", _header_address(sender)),
        ("To", to),
        ("Subject", _header_text(subject)),
        ("Date", formatdate(at.timestamp(), usegmt=True)),
        ("Message-ID", message_id),
        ("MIME-Version", "1.0"),
        ("Auto-Submitted", "auto-generated"),
    ]
    boundary = "=_socialcrm_" + hashlib.sha256(message_id.encode()).hexdigest()[:24]
    lines = [f"{k}: {v}" for k, v in headers]
    lines += [f'Content-Type: multipart/alternative; boundary="{boundary}"', ""]
    for subtype, content in (("plain", text), ("html", html)):
        lines += [f"--{boundary}", f'Content-Type: text/{subtype}; charset="utf-8"',
                  "Content-Transfer-Encoding: quoted-printable", "", _qp(content)]  # fmt: skip
    lines += [f"--{boundary}--", ""]
    return "\r\n".join(lines).encode("ascii")


NOTICE_ACTOR = "notice"


def queue_notice(
    s: Session,
    settings: Settings,
    *,
    key: str,
    recipient: str,
    subject: str,
    text: str,
    html: str,
    now: datetime | None = None,
) -> OutboxItem:
    """Queue a service message (:func:`build_notice`) idempotently by ``key``. It has
    no campaign: the delivery loop sends it to an address that only unsubscribed from
    marketing (they asked for this message), never to one that bounced or complained."""
    key = outbox.storable_key(f"notice:{key}")
    found = outbox.find(s, key)
    if found is not None:
        return found
    sender = from_address(settings)
    mid = message_id_for(key, sender, settings)
    raw = build_notice(settings, recipient=recipient, subject=subject, text=text, html=html,
                       message_id=mid, now=now, from_addr=sender)  # fmt: skip
    return outbox.add(s, connector=CONNECTOR, body=raw.decode("ascii"), in_reply_to=None,
                      conversation_id=None, actor=NOTICE_ACTOR, key=key, now=now,
                      recipient=normalise(recipient), message_id=mid)  # fmt: skip


def _qp(content: str) -> str:
    """Quoted-printable UTF-8 with CRLF line ends (RFC 2045: lines of at most 76)."""
    data = "\n".join(content.splitlines()).encode("utf-8")
    return binascii.b2a_qp(data, quotetabs=False, istext=True).decode("ascii").replace("\n", "\r\n")


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def _header_text(value: str) -> str:
    """One header line's text: no line breaks or other control characters, and RFC 2047
    words when not ASCII *or when it looks like one*: a first name written
    ``=?utf-8?b?…?=`` would otherwise be decoded by the mail client into whatever text
    its sender chose, so it is encoded and shows as typed.

    >>> _header_text("Hi" + chr(13) + chr(10) + "Bcc: x@example.com" + chr(0))
    'Hi Bcc: x@example.com'
    >>> _header_text("=?utf-8?b?QWRtaW4=?=")
    '=?utf-8?b?PT91dGYtOD9iP1FXUnRhVzQ9Pz0=?='
    """
    value = " ".join(_CONTROL.sub(" ", value).split())[:900]
    if value.isascii() and "=?" not in value:
        return value
    return Header(value, "utf-8").encode(linesep="\r\n")


def _header_address(value: str) -> str:
    """A From value with a non-ASCII display name encoded (RFC 2047); control characters,
    several addresses and a mailbox that is no address refused (``parseaddr`` would keep
    the first of ``Brand <a@b.example>, other@c.example`` without a word).

    >>> _header_address("Brand <news@brand.example>")
    'Brand <news@brand.example>'
    >>> _header_address("a@b.example, c@d.example")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    socialcrm.outbound.mail.EmailError: the From address must be one address: ...
    """
    if _CONTROL.search(value):
        raise EmailError("a header value with a line break or control character")
    found = getaddresses([value])
    if len(found) != 1 or not found[0][1]:
        raise EmailError(f"the From address must be one address: {value[:80]!r}")
    name, addr = found[0]
    addr = valid_address(addr)
    if not name:
        return addr
    if "=?" in name:  # shown as typed, not decoded (see _header_text)
        return f"{_header_text(name)} <{addr}>"
    return formataddr((name, addr), charset="utf-8")


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
    found = outbox.find(s, key)
    if found is not None:
        return found
    sender = from_address(settings)
    mid = message_id_for(key, sender, settings)
    raw = build_message(settings, recipient=recipient, rendered=rendered,
                        campaign_id=campaign_id, customer_id=customer_id, message_id=mid,
                        now=now, from_addr=sender)  # fmt: skip
    return outbox.add(
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
    handle = handle.strip().lstrip("@")
    if not _HANDLES[connector].fullmatch(handle):
        # one account only: "ann@x.social @eve@evil.social" would mention (and send to) two
        raise ValueError(f"not a {connector.split('_')[0]} handle: {handle[:80]!r}")
    return outbox.enqueue(
        s,
        connector=connector,
        body=body,
        in_reply_to=None,
        conversation_id=None,
        actor=f"campaign:{campaign_id}"[:320],
        key=key,
        now=now,
        recipient=handle,
        campaign_id=campaign_id,
        customer_id=customer_id,
    )


# -- delivery ---------------------------------------------------------------------------------
@dataclass
class _Job:
    """A claimed email: what to send, and how the attempt went."""

    id: int
    recipient: str | None
    body: str
    message_id: str | None
    campaign_id: str | None
    customer_id: str | None
    error: ChannelError | None = None


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
    One commit per message: it settles the message before and marks this one
    ``sending`` (see the module's notes on crashes).
    """
    clock: Callable[[], datetime] = (lambda: now) if now is not None else utcnow
    with _delivery_sessions(db) as session:
        return _deliver(session, settings, sender, recheck, clock, limit)


def _deliver(
    session: Callable[[], AbstractContextManager[Session]],
    settings: Settings,
    sender: EmailSender | None,
    recheck: Recheck | None,
    clock: Callable[[], datetime],
    limit: int | None,
) -> dict[str, int]:
    owner = uuid.uuid4().hex
    lease = timedelta(seconds=settings.delivery_lease_seconds)
    out = {"sent": 0, "failed": 0, "skipped": 0, "dead": 0}
    smtp: EmailSender | None = sender
    envelope_from: str | None = None
    budget = limit if limit is not None else 1 << 62
    # a batch must be sent before its lease runs out, at the configured pace
    rate = settings.email_rate_per_second
    size = BATCH if rate <= 0 else max(1, min(BATCH, int(rate * lease.total_seconds() / 2)))
    try:
        while budget > 0:
            with session() as s:
                ids = outbox.claim_due(s, CONNECTOR, owner, clock(), lease, min(size, budget),
                                       statuses=("pending", "sending"))  # fmt: skip
                jobs = _jobs(s, ids)
            if not jobs:
                break
            budget -= len(jobs)
            done: _Job | None = None
            for n, job in enumerate(jobs):
                with session() as s:
                    if done is not None:
                        _settle(s, settings, done, owner, clock(), out)
                        done = None
                    go = _start(s, job, owner, clock(), lease, recheck, out)
                if not go:
                    continue
                assert job.recipient is not None
                try:
                    if smtp is None:
                        smtp = SmtpSender.from_settings(settings)
                    if envelope_from is None:
                        envelope_from = parse_envelope(from_address(settings))
                    smtp.send(envelope_from, job.recipient, job.body.encode("ascii"))
                except ChannelError as e:
                    job.error = e
                done = job
                if isinstance(job.error, SmtpUnavailable):
                    with session() as s:
                        _settle(s, settings, job, owner, clock(), out)
                        outbox.release(s, [j.id for j in jobs[n + 1 :]], owner)
                    log.warning("email delivery paused: %s", job.error)
                    return out
            if done is not None:
                with session() as s:
                    _settle(s, settings, done, owner, clock(), out)
    finally:
        if sender is None and smtp is not None:
            smtp.close()
    return out


@contextmanager
def _delivery_sessions(db: AppDB) -> Iterator[Callable[[], AbstractContextManager[Session]]]:
    """Transactions for one pass, on one connection of their own.

    On SQLite that connection commits with ``synchronous=NORMAL`` (the pass's only, put
    back before the connection returns to the pool): in WAL mode a commit then survives
    the process dying, which is the crash the module's notes are about, without waiting
    for the disk on every message (an fsync per message halves the rate on a busy disk).
    A power cut may undo the last commits: those messages go again, with their
    Message-IDs, as after the crash window. Other databases are left as they are.
    """
    with db.engine.connect() as conn:
        before = None
        if conn.dialect.name == "sqlite":
            before = conn.exec_driver_sql("PRAGMA synchronous").scalar()
            conn.exec_driver_sql("PRAGMA synchronous=NORMAL")
            conn.commit()

        @contextmanager
        def session() -> Iterator[Session]:
            with Session(bind=conn, expire_on_commit=False) as s, s.begin():
                yield s

        try:
            yield session
        finally:
            if before is not None:
                conn.rollback()
                conn.exec_driver_sql(f"PRAGMA synchronous={int(before)}")
                conn.commit()


def _jobs(s: Session, ids: list[int]) -> list[_Job]:
    """The claimed items, read once per batch (the body is what is sent, unchanged)."""
    if not ids:
        return []
    cols = (OutboxItem.id, OutboxItem.recipient, OutboxItem.body, OutboxItem.message_id,
            OutboxItem.campaign_id, OutboxItem.customer_id)  # fmt: skip
    rows = {r[0]: _Job(*r) for r in s.execute(select(*cols).where(OutboxItem.id.in_(ids)))}
    return [rows[i] for i in ids if i in rows]


def _mine(item_id: int, owner: str) -> tuple[ColumnElement[bool], ...]:
    return (OutboxItem.id == item_id, OutboxItem.lease_owner == owner)


def _start(
    s: Session,
    job: _Job,
    owner: str,
    at: datetime,
    lease: timedelta,
    recheck: Recheck | None,
    out: dict[str, int],
) -> bool:
    """Mark a claimed item ``sending`` (committed before SMTP), or skip it."""
    reason: str | None = None
    if not job.recipient:
        reason = "no_address"
    elif job.campaign_id is None and _notice_allowed(s, job.recipient):
        pass  # a service message the person asked for (see queue_notice)
    elif is_suppressed(s, job.recipient):
        reason = "suppressed"
    elif recheck is not None:
        item = s.get(OutboxItem, job.id)
        reason = recheck(s, item) if item is not None else "gone"
    if reason is not None:
        live = (*_mine(job.id, owner), OutboxItem.status.in_(("pending", "sending")))
        skipped = _update(s, live, status="skipped", last_error=reason[:500],
                          lease_owner=None, lease_until=None)  # fmt: skip
        out["skipped"] += skipped
        return False
    # An item found ``sending`` was being sent by a pass that died: the server may have
    # it already, and it goes again with the same Message-ID (see the module's notes).
    return _rows(s.execute(_SENDING, {"iid": job.id, "owner": owner, "until": at + lease})) == 1


def _notice_allowed(s: Session, address: str) -> bool:
    """Whether a service message may go to ``address``: not suppressed, or suppressed
    only because the person unsubscribed from marketing."""
    reason = s.scalar(select(Suppression.reason).where(Suppression.address == normalise(address)))
    return reason is None or reason == "unsubscribe"


# The statements of every message, built once: building them is most of a pass's CPU.
_SENDING = (
    update(OutboxItem)
    .where(
        OutboxItem.id == bindparam("iid"),
        OutboxItem.lease_owner == bindparam("owner"),
        OutboxItem.status.in_(("pending", "sending")),
    )
    .values(status="sending", lease_until=bindparam("until"))
    .execution_options(synchronize_session=False)
)
_SENT = (
    update(OutboxItem)
    .where(
        OutboxItem.id == bindparam("iid"),
        OutboxItem.lease_owner == bindparam("owner"),
        OutboxItem.status == "sending",
    )
    .values(
        status="sent",
        sent_at=bindparam("at"),
        external_id=bindparam("mid"),
        attempts=OutboxItem.attempts + 1,
        last_error=None,
        lease_owner=None,
        lease_until=None,
    )
    .execution_options(synchronize_session=False)
)
_SENT_EVENT = insert(EmailEvent).values(kind="sent", synced=False)


def _rows(result: object) -> int:
    # an UPDATE's result is a CursorResult, which has the row count
    return cast("CursorResult[Any]", result).rowcount


def _update(s: Session, where: tuple[ColumnElement[bool], ...], **values: object) -> int:
    r = cast(
        "CursorResult[Any]",
        s.execute(
            update(OutboxItem)
            .where(*where)
            .values(**values)
            .execution_options(synchronize_session=False)
        ),
    )
    return r.rowcount


def _settle(
    s: Session,
    settings: Settings,
    job: _Job,
    owner: str,
    at: datetime,
    out: dict[str, int],
) -> None:
    """Record an attempt: ``sent`` with its event, or the failure."""
    error = job.error
    if error is None:
        args = {"iid": job.id, "owner": owner, "at": at, "mid": job.message_id}
        if _rows(s.execute(_SENT, args)):  # once: the row leaves ``sending`` only here
            s.execute(_SENT_EVENT, {"campaign_id": job.campaign_id, "at": at,
                                    "customer_id": job.customer_id, "outbox_id": job.id,
                                    "recipient": job.recipient})  # fmt: skip
            out["sent"] += 1
        return
    item = s.get(OutboxItem, job.id, populate_existing=True)
    if item is None or item.lease_owner != owner:
        return  # our lease ran out and another pass took the item over
    attempts = settings.email_max_attempts
    if isinstance(error, Unconfirmed) and (item.last_error or "").startswith(Unconfirmed.PREFIX):
        attempts = 0  # twice handed over, twice no answer: not a third copy
    result = outbox.failed(item, error, attempts, at)
    out["dead" if result == "dead" else "failed"] += 1
    if isinstance(error, EmailRejected) and error.hard_bounce and item.recipient:
        suppress(s, item.recipient, "hard_bounce", "smtp",
                 campaign_id=item.campaign_id, customer_id=item.customer_id)  # fmt: skip
        record(s, "bounce", campaign_id=item.campaign_id, customer_id=item.customer_id,
               recipient=item.recipient, outbox_id=item.id, at=at,
               detail=f"hard: {error}", key=f"bounce:smtp:{item.id}")  # fmt: skip


# -- feedback ---------------------------------------------------------------------------------
def unsubscribe(
    s: Session, campaign_id: str | None, customer_id: str | None, source: str
) -> list[str]:
    """Unsubscribe one person reached by one campaign: every address the campaign emailed
    them at goes on the suppression list, and one ``unsubscribe`` event is logged (the
    campaign side turns it into a withdrawn email consent). Repeating it changes nothing.
    Returns the addresses suppressed."""
    addresses: list[str] = []
    if customer_id is not None:
        addresses = sorted(
            {
                a
                for a in s.scalars(
                    select(OutboxItem.recipient).where(
                        OutboxItem.connector == CONNECTOR,
                        OutboxItem.campaign_id == campaign_id,
                        OutboxItem.customer_id == customer_id,
                    )
                )
                if a
            }
        )
    for address in addresses:
        suppress(s, address, "unsubscribe", source, campaign_id=campaign_id,
                 customer_id=customer_id)  # fmt: skip
    record(s, "unsubscribe", campaign_id=campaign_id, customer_id=customer_id,
           recipient=addresses[0] if addresses else None, detail=source,
           key=f"unsubscribe:{campaign_id}:{customer_id}"[:300])  # fmt: skip
    return addresses


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
    "build_notice",
    "deliver_emails",
    "from_address",
    "item_for_message_id",
    "message_id_for",
    "parse_envelope",
    "queue_direct",
    "queue_email",
    "queue_notice",
    "track_links",
    "unsubscribe",
    "untrackable",
    "valid_address",
]
