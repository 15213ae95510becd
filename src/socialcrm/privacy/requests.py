"""A person's own access request: recorded for staff, and answered by email with a link.

The preference centre's "ask for a copy of my data" names a record (the signed link's
person). The request is kept as a hash of the person, never their contact, so the list
of requests tells nobody who asked. When the record has an email address and the app
knows its public address, the person is emailed a download link at once: signed with
the workspace secret for this purpose only, naming the record, valid for
:data:`DOWNLOAD_DAYS` days. The address is the *record's* own, not any address of the
person's cluster: a wrong merge by identity resolution must not send one person's data
to another. Otherwise the request waits on the staff page.
"""

from __future__ import annotations

import hashlib
from html import escape

import pyarrow.compute as pc
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import select
from sqlalchemy.orm import Session

from socialcrm.appdb.accounts import audit
from socialcrm.appdb.models import PrivacyRequest
from socialcrm.config import Settings
from socialcrm.outbound import mail
from socialcrm.outbound.tokens import TokenError, public_base, workspace_secret
from socialcrm.privacy.erasure import privacy_key, subject_hash
from socialcrm.privacy.person import Person
from socialcrm.store.warehouse import Warehouse

DOWNLOAD_DAYS = 7
ACTOR = "preference_centre"


def _serializer(settings: Settings) -> URLSafeTimedSerializer:
    secret = workspace_secret(settings.home, settings.web_secret_key)
    return URLSafeTimedSerializer(
        secret, salt="socialcrm.privacy.download", signer_kwargs={"digest_method": hashlib.sha256}
    )


def download_token(settings: Settings, customer_id: str) -> str:
    return str(_serializer(settings).dumps([customer_id]))


def read_download_token(settings: Settings, token: str) -> str:
    """The record a download link names; :class:`TokenError` if not ours or too old."""
    try:
        got = _serializer(settings).loads(token, max_age=DOWNLOAD_DAYS * 86400)
    except SignatureExpired:
        raise TokenError("this link has expired") from None
    except (BadSignature, UnicodeError, ValueError):
        raise TokenError("invalid or tampered link") from None
    if not (isinstance(got, list) and len(got) == 1 and isinstance(got[0], str)):
        raise TokenError("invalid or tampered link")
    return got[0]


def record_emails(wh: Warehouse, customer_id: str) -> list[str]:
    """The email addresses of one record (``identities``), sorted."""
    if not wh.exists("identities"):
        return []
    ids = wh.read_arrow("identities")
    mine = ids.filter(
        pc.and_(
            pc.equal(ids.column("customer_id"), customer_id), pc.equal(ids.column("kind"), "email")
        )
    )
    return sorted({v for v in mine.column("value").to_pylist() if v})


def request_access(
    settings: Settings, wh: Warehouse, s: Session, person: Person, customer_id: str
) -> PrivacyRequest:
    """Record the request (one waiting per person is enough) and email the link if we can."""
    subject = subject_hash(privacy_key(settings), person)
    pending = s.scalar(
        select(PrivacyRequest).where(
            PrivacyRequest.subject_hash == subject,
            PrivacyRequest.kind == "access",
            PrivacyRequest.status.in_(("received", "emailed")),
        )
    )
    if pending is not None:
        return pending
    row = PrivacyRequest(kind="access", subject_hash=subject, customer_id=customer_id)
    s.add(row)
    s.flush()
    audit(s, ACTOR, "privacy.request", f"request {row.id}", kind="access")
    emails = record_emails(wh, customer_id)
    if emails and settings.public_url:
        _email_link(settings, s, row, emails[0], customer_id)
    return row


def _email_link(
    settings: Settings, s: Session, row: PrivacyRequest, address: str, customer_id: str
) -> None:
    try:
        link = f"{public_base(settings)}/privacy/download/{download_token(settings, customer_id)}"
        brand = settings.brand_name or "us"
        text = (
            f"Hello,\n\nyou asked for a copy of the data {brand} holds about you. "
            f"Download it here (a JSON file):\n\n{link}\n\nThe link works for "
            f"{DOWNLOAD_DAYS} days. If you did not ask for it, ignore this email.\n"
        )
        html = (
            f"<p>Hello,</p><p>You asked for a copy of the data {escape(brand)} holds about "
            f'you.</p><p><a href="{escape(link)}">Download my data</a> (a JSON file)</p>'
            f"<p>The link works for {DOWNLOAD_DAYS} days. If you did not ask for it, "
            "ignore this email.</p>"
        )
        mail.queue_notice(
            s,
            settings,
            key=f"privacy-access:{row.id}",
            recipient=address,
            subject=f"Your data at {brand}",
            text=text,
            html=html,
        )
    except (mail.EmailError, TokenError, ValueError):
        return  # no sender configured, or a bad address: staff answer it by hand
    row.status = "emailed"
