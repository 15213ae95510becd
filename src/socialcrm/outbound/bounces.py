"""Bounces and complaints: what comes back after an email was accepted.

Three inputs, one outcome (:func:`apply`):

- delivery status notifications (RFC 3464): a ``multipart/report;
  report-type=delivery-status`` whose ``message/delivery-status`` part has one block per
  recipient (``Final-Recipient``, ``Action``, ``Status``, ``Diagnostic-Code``);
- complaint reports (ARF, RFC 5965): ``report-type=feedback-report`` with
  ``Feedback-Type: abuse``, what a mailbox provider sends when a recipient marks the
  message as spam;
- the ``mailto:`` half of ``List-Unsubscribe``: a message whose subject is
  ``unsubscribe-<token>``;

read from an mbox file or a Maildir (:func:`read_mailbox`, the bounce address's
mailbox), or posted by the mail provider to ``POST /email/bounces`` (a raw message, or
JSON: :func:`parse_json`).

Which message a report is about is read from its returned headers (the original's
``Message-ID``, which names an outbox item; when the reporting server cut the headers
short, the campaign's ``X-Socialcrm-Campaign`` and the recipient name it); the recipient
from ``Final-Recipient`` or ``Original-Rcpt-To``, else that item's.

What each does:

- ``Action: failed`` with a permanent status about the address (5.0.x, 5.1.x bad
  mailbox, 5.2.1 disabled, 5.4.x no route): a hard bounce, suppressed;
- other permanent failures (5.2.2 mailbox full, 5.3.x system, 5.5.x protocol, 5.6.x
  content, 5.7.x policy or spam filters): recorded as bounces, not suppressed: the
  address is fine, the message or the sender was refused;
- ``4.x.x`` or ``Action: delayed``: a soft bounce, recorded only;
- ``Action: delivered``/``relayed``: a ``delivered`` event;
- a complaint: suppressed (reason ``complaint``);
- a mailto unsubscribe: as the one-click link.

Every report is applied once: events carry a key made from the report's own
Message-ID (or its bytes), so reading the same mailbox again records nothing new.
"""

from __future__ import annotations

import email
import hashlib
import json
import mailbox
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from email.message import Message
from email.parser import HeaderParser
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from socialcrm.appdb.models import OutboxItem
from socialcrm.config import Settings
from socialcrm.outbound import tokens
from socialcrm.outbound.mail import CAMPAIGN_HEADER, CONNECTOR, item_for_message_id, unsubscribe
from socialcrm.outbound.suppression import normalise, record, suppress

if TYPE_CHECKING:
    from socialcrm.appdb.db import AppDB

Kind = Literal["bounce", "complaint", "delivered", "unsubscribe"]
_STATUS = re.compile(r"\b([245])\.(\d{1,3})\.(\d{1,3})\b")


@dataclass(frozen=True)
class Feedback:
    """One thing a report says about one recipient of one message."""

    kind: Kind
    report_id: str
    recipient: str | None = None
    status: str | None = None
    action: str | None = None
    message_id: str | None = None
    campaign_id: str | None = None
    diagnostic: str | None = None
    token: str | None = None

    @property
    def hard(self) -> bool:
        """A permanent failure that is the address's fault: suppress it."""
        return self.kind == "bounce" and self.action == "failed" and hard_status(self.status)


def hard_status(status: str | None) -> bool:
    """Whether an enhanced status code (RFC 3463) says the address itself is bad.

    >>> [hard_status(s) for s in ("5.1.1", "5.0.0", "5.2.1", "5.4.4", "5.7.1", "5.2.2", "4.2.2")]
    [True, True, True, True, False, False, False]
    """
    m = _STATUS.search(status or "")
    if m is None or m.group(1) != "5":
        return False
    subject, detail = m.group(2), m.group(3)
    return subject in ("0", "1", "4") or (subject == "2" and detail == "1")


def _address(field: str | None) -> str | None:
    """``rfc822; ann@example.com`` → ``ann@example.com``."""
    if not field:
        return None
    value = field.split(";", 1)[-1].strip().strip("<>").strip()
    return normalise(value) if "@" in value else None


def _report_id(msg: Message, raw: bytes | None) -> str:
    mid = msg.get("Message-ID")
    if mid:
        return str(mid).strip()
    body = raw if raw is not None else msg.as_bytes()
    return "sha256:" + hashlib.sha256(body).hexdigest()[:40]


def _original_headers(report: Message) -> Message | None:
    """The returned message, or its headers (``message/rfc822``, ``text/rfc822-headers``)."""
    for part in report.walk():
        ctype = part.get_content_type()
        if ctype in ("message/rfc822", "message/global"):
            payload = part.get_payload()
            if isinstance(payload, list) and payload and isinstance(payload[0], Message):
                return payload[0]
        if ctype in ("text/rfc822-headers", "text/global-headers"):
            text = part.get_payload(decode=True)
            if isinstance(text, bytes):
                return HeaderParser().parsestr(text.decode("utf-8", "replace"))
    return None


def _fields(part: Message) -> list[Message]:
    """The header blocks of a ``message/delivery-status`` or ``feedback-report`` part."""
    payload = part.get_payload()
    if isinstance(payload, list):
        return [p for p in payload if isinstance(p, Message)]
    text = payload if isinstance(payload, str) else ""
    return [HeaderParser().parsestr(block) for block in re.split(r"\r?\n\r?\n", text) if block]


def parse_message(msg: Message, raw: bytes | None = None) -> list[Feedback]:
    """What one received message says: DSN blocks, a complaint, an unsubscribe, or nothing."""
    rid = _report_id(msg, raw)
    subject = str(msg.get("Subject", "")).strip()
    m = re.match(r"(?i)^unsubscribe-(\S+)$", subject)
    if m:
        return [Feedback("unsubscribe", rid, token=m.group(1))]
    if msg.get_content_type() != "multipart/report":
        return []
    original = _original_headers(msg)
    mid = str(original.get("Message-ID", "")).strip() or None if original else None
    campaign = str(original.get(CAMPAIGN_HEADER, "")).strip() or None if original else None
    out: list[Feedback] = []
    for part in msg.walk():
        ctype = part.get_content_type()
        if ctype in ("message/delivery-status", "message/global-delivery-status"):
            blocks = _fields(part)
            for block in blocks[1:]:  # the first block is about the message
                action = str(block.get("Action", "")).strip().lower() or None
                recipient = _address(block.get("Final-Recipient")) or _address(
                    block.get("Original-Recipient")
                )
                status_m = _STATUS.search(str(block.get("Status", "")))
                status = status_m.group(0) if status_m else None
                kind: Kind = "delivered" if action in ("delivered", "relayed") else "bounce"
                diag = " ".join(str(block.get("Diagnostic-Code", "")).split()) or None
                out.append(Feedback(kind, rid, recipient, status, action, mid, campaign, diag))
        elif ctype == "message/feedback-report":
            for block in _fields(part)[:1]:
                feedback_type = str(block.get("Feedback-Type", "")).strip().lower()
                if feedback_type not in ("abuse", "fraud", "virus", "other", ""):
                    continue
                recipient = _address(block.get("Original-Rcpt-To"))
                if recipient is None and original is not None:
                    recipient = _address(str(original.get("To", "")))
                out.append(Feedback("complaint", rid, recipient, None, feedback_type or "abuse",
                                    mid, campaign))  # fmt: skip
    return out


def parse_bytes(raw: bytes) -> list[Feedback]:
    return parse_message(email.message_from_bytes(raw), raw)


def read_mailbox(path: Path) -> Iterator[bytes]:
    """Every message of an mbox file or a Maildir folder, as bytes (read only)."""
    if path.is_dir():
        box: mailbox.Mailbox[Any] = mailbox.Maildir(path, factory=None, create=False)
    elif path.is_file():
        box = mailbox.mbox(path, create=False)
    else:
        raise FileNotFoundError(f"no mailbox at {path}")
    try:
        for key in box.iterkeys():
            yield box.get_bytes(key)
    finally:
        box.close()


def parse_json(doc: object) -> list[Feedback]:
    """Events a mail provider posts as JSON, one object or a list of them::

        {"type": "bounce" | "complaint" | "delivered", "id": "provider's event id",
         "recipient": "ann@example.com", "message_id": "<…@brand.example>",
         "status": "5.1.1", "action": "failed", "diagnostic": "550 user unknown"}

    ``type`` and ``recipient`` or ``message_id`` are required; a bounce without
    ``action`` is ``failed`` for a 5.x.x status, else ``delayed``.
    """
    items = doc if isinstance(doc, list) else [doc]
    out: list[Feedback] = []
    for item in items:
        if not isinstance(item, dict):
            raise ValueError("each event is a JSON object")
        kind = str(item.get("type", "")).lower()
        if kind not in ("bounce", "complaint", "delivered"):
            raise ValueError("type must be bounce, complaint or delivered")
        recipient = _address(str(item["recipient"])) if item.get("recipient") else None
        mid = str(item["message_id"]).strip() if item.get("message_id") else None
        if recipient is None and mid is None:
            raise ValueError("each event needs a recipient or a message_id")
        status = str(item.get("status") or "") or None
        action = item.get("action") or (
            "failed" if (status or "").startswith("5") else "delayed" if kind == "bounce" else None
        )
        rid = str(item.get("id") or "sha256:" + hashlib.sha256(
            json.dumps(item, sort_keys=True).encode()).hexdigest()[:40])  # fmt: skip
        out.append(Feedback(kind, rid, recipient, status, action, mid, None,  # type: ignore[arg-type]
                            str(item.get("diagnostic") or "")[:500] or None))  # fmt: skip
    return out


def apply(
    s: Session,
    settings: Settings,
    feedback: Iterable[Feedback],
    source: str,
    *,
    trusted: bool = False,
) -> dict[str, int]:
    """Record what ``feedback`` says and suppress where it must (see the module); counts
    of ``hard_bounces``, ``soft_bounces``, ``complaints``, ``unsubscribes``,
    ``delivered``, ``unmatched`` (no address to act on), ``duplicates`` and
    ``unverified``.

    Anyone can send mail to the bounce mailbox, so a report read from it is believed
    only about a message it names by Message-ID (keyed by the workspace's secret:
    :func:`~socialcrm.outbound.mail.message_id_for`) and that message's own recipient: a
    forged DSN saying ``someone@else 5.1.1`` is recorded as a bounce, counted
    ``unverified``, and suppresses nobody. ``trusted`` reports (the webhook, which the
    provider authenticates with its secret) are believed as they are."""
    counts = dict.fromkeys(("hard_bounces", "soft_bounces", "complaints", "unsubscribes",
                            "delivered", "unmatched", "duplicates", "unverified"), 0)  # fmt: skip
    for f in feedback:
        if f.kind == "unsubscribe":
            try:
                campaign_id, customer_id = tokens.tokens_for(settings).read(
                    "unsubscribe", f.token or ""
                )[:2]
            except (tokens.TokenError, ValueError):
                counts["unmatched"] += 1
                continue
            unsubscribe(s, campaign_id, customer_id, f"mailto:{source}")
            counts["unsubscribes"] += 1
            continue
        item = item_for_message_id(s, f.message_id) if f.message_id else None
        verified = item is not None and (
            not f.recipient or normalise(f.recipient) == item.recipient
        )
        if item is None and f.campaign_id and f.recipient:
            # headers cut short by the reporting server: the campaign's message to them
            item = _item_for(s, f.campaign_id, f.recipient)
        recipient = f.recipient or (item.recipient if item else None)
        if recipient is None:
            counts["unmatched"] += 1
            continue
        doubt = not (trusted or verified) and (f.kind == "complaint" or f.hard)
        if doubt:  # logged for an admin to see, on nobody's record, suppressing nobody
            item = None
        campaign_id = item.campaign_id if item else None if doubt else f.campaign_id
        customer_id = item.customer_id if item else None
        detail = " ".join(x for x in (f.action, f.status, f.diagnostic) if x)
        if f.kind == "bounce":
            detail = ("hard: " if f.hard else "permanent: " if f.action == "failed" and (
                f.status or "").startswith("5") else "soft: ") + detail  # fmt: skip
        if doubt:
            detail = f"unverified: {detail}"
        event = record(s, f.kind, campaign_id=campaign_id, customer_id=customer_id,
                       recipient=recipient, outbox_id=item.id if item else None,
                       detail=detail or None,
                       key=f"{f.kind}:{f.report_id}:{recipient}")  # fmt: skip
        if event is None:
            counts["duplicates"] += 1
            continue
        if doubt:
            counts["unverified"] += 1
        elif f.kind == "complaint":
            suppress(s, recipient, "complaint", source, campaign_id=campaign_id,
                     customer_id=customer_id)  # fmt: skip
            counts["complaints"] += 1
        elif f.kind == "delivered":
            counts["delivered"] += 1
        elif f.hard:
            suppress(s, recipient, "hard_bounce", source, campaign_id=campaign_id,
                     customer_id=customer_id)  # fmt: skip
            counts["hard_bounces"] += 1
        else:
            counts["soft_bounces"] += 1
    return counts


def _item_for(s: Session, campaign_id: str, recipient: str) -> OutboxItem | None:
    return s.scalar(
        select(OutboxItem)
        .where(
            OutboxItem.connector == CONNECTOR,
            OutboxItem.campaign_id == campaign_id,
            OutboxItem.recipient == normalise(recipient),
        )
        .order_by(OutboxItem.id.desc())
        .limit(1)
    )


def process_mailbox(db: AppDB, settings: Settings, path: Path) -> dict[str, int]:
    """Read the bounce mailbox ``path`` (mbox or Maildir) and apply what it says, a
    message per transaction; the counts of :func:`apply`, with ``messages`` read and
    ``ignored`` (messages that are no report: an out-of-office reply, spam)."""
    total = dict.fromkeys(("messages", "ignored"), 0)
    for raw in read_mailbox(path):
        total["messages"] += 1
        feedback = parse_bytes(raw)
        if not feedback:
            total["ignored"] += 1
            continue
        with db.session() as s:
            for k, v in apply(s, settings, feedback, f"mailbox:{path.name}"[:100]).items():
                total[k] = total.get(k, 0) + v
    return total


__all__ = [
    "Feedback",
    "apply",
    "hard_status",
    "parse_bytes",
    "parse_json",
    "parse_message",
    "process_mailbox",
    "read_mailbox",
]
