"""Sign-ups from the brand's own site, confirmed by email (double opt-in).

The form (``/signup``, embeddable) asks for an address, a first name and topics. A
sign-up is only a ``signups`` row and a confirmation email until the person opens the
link in that email and confirms: only then does anything reach the warehouse, through
ingestion (the same validation as files): a ``customers`` record (``signup:<n>``), a
verified ``email`` identity, and an ``email_marketing`` consent (source
``signup_form``, the wording version shown), unless the address already belongs to a
person, who then gets the consent on their own records instead of a second record.

Nobody learns from the form whether an address is known: every sign-up gets the same
answer and the same kind of email; what differs is only in the confirmed person's
own inbox.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from html import escape

from sqlalchemy import delete
from sqlalchemy.orm import Session

from socialcrm.appdb.accounts import audit
from socialcrm.appdb.db import AppDB
from socialcrm.appdb.models import ConsentRecord, PersonPreferences, Signup, utcnow
from socialcrm.config import Settings
from socialcrm.outbound import mail, tokens
from socialcrm.outbound.suppression import normalise
from socialcrm.preferences import centre
from socialcrm.store.workspace import Workspace

SOURCE = "signup_form"


@dataclass
class Confirmed:
    """A confirmed sign-up: the person it landed on, and whether it was confirmed before
    (a second click on the link changes nothing)."""

    person: str
    already: bool
    warehouse: bool = True


def request(
    db: AppDB,
    settings: Settings,
    *,
    email: str,
    first_name: str | None,
    topics: list[str],
    wording_version: str = centre.WORDING_VERSION,
    now: datetime | None = None,
) -> int:
    """Record a sign-up and queue its confirmation email; the sign-up's id.

    ``email`` must be a plain address (:func:`socialcrm.outbound.mail.valid_address`)."""
    at = now or utcnow()
    address = normalise(mail.valid_address(email))
    with db.session() as s:
        forget_unconfirmed(s, settings, at)
        row = Signup(email=address, first_name=(first_name or "").strip()[:100] or None,
                     data={"topics": sorted(set(topics))}, wording_version=wording_version,
                     created_at=at)  # fmt: skip
        s.add(row)
        s.flush()
        link = confirm_url(settings, row.id, address, at)
        brand = centre.brand_name(settings)
        hello = f"Hello {row.first_name}," if row.first_name else "Hello,"
        text = (
            f"{hello}\n\nplease confirm that you want news from {brand} at this address:\n\n"
            f"{link}\n\nThe link works for {settings.signup_confirm_hours} hours. If you did "
            "not sign up, ignore this email: nothing happens without your click.\n"
        )
        html = (
            f"<p>{escape(hello)}</p><p>Please confirm that you want news from "
            f"{escape(brand)} at this address:</p>"
            f'<p><a href="{escape(link)}">Confirm my sign-up</a></p>'
            f"<p>The link works for {settings.signup_confirm_hours} hours. If you did not "
            "sign up, ignore this email: nothing happens without your click.</p>"
        )
        mail.queue_notice(s, settings, key=f"signup:{row.id}", recipient=address,
                          subject=f"Please confirm your sign-up to {brand}", text=text,
                          html=html, now=at)  # fmt: skip
        audit(s, "public", "signup.request", f"signup {row.id}")
        return row.id


def forget_unconfirmed(s: Session, settings: Settings, now: datetime | None = None) -> int:
    """Delete the sign-ups nobody confirmed while their link worked (their addresses are
    kept no longer than needed); run by every new sign-up. The count deleted."""
    before = (now or utcnow()) - timedelta(hours=settings.signup_confirm_hours)
    gone = s.execute(
        delete(Signup).where(Signup.confirmed_at.is_(None), Signup.created_at < before)
    )
    return int(getattr(gone, "rowcount", 0) or 0)


def _check(settings: Settings, address: str) -> str:
    return tokens.tokens_for(settings).digest("signup", normalise(address))[:24]


def confirm_url(
    settings: Settings, signup_id: int, address: str, at: datetime | None = None
) -> str:
    """The confirmation link: the sign-up's id and a keyed digest of its address (so a
    link confirms only the sign-up it was sent for, even if an id is used again)."""
    payload: list[str | None] = [str(signup_id), _check(settings, address)]
    token = tokens.tokens_for(settings).make_timed("signup", payload, at)
    return f"{tokens.public_base(settings)}/signup/confirm/{token}"


def read_confirm_token(settings: Settings, token: str) -> tuple[int, str]:
    """The sign-up a confirmation token names, and its address check;
    ``TokenError`` / ``TokenExpired``."""
    got = tokens.tokens_for(settings).read_timed(
        "signup", token, settings.signup_confirm_hours * 3600
    )
    if len(got) != 2 or not (got[0] or "").isdigit() or not got[1]:
        raise tokens.TokenError("invalid or tampered link")
    return int(got[0] or 0), str(got[1])


def confirm(
    ws: Workspace,
    db: AppDB,
    signup_id: int,
    check: str | None = None,
    now: datetime | None = None,
) -> Confirmed:
    """Activate a sign-up: the person, identity and consent, through ingestion. With
    ``check`` (from the link), only the sign-up of that address."""
    at = now or utcnow()
    with db.session() as s:
        row = s.get(Signup, signup_id)
        if row is None or (check is not None and check != _check(ws.settings, row.email)):
            raise tokens.TokenError("invalid or tampered link")
        if row.confirmed_at is not None and row.customer_id:
            return Confirmed(row.customer_id, already=True)
        address, first_name = row.email, row.first_name
        topics, version = list(row.data.get("topics", [])), row.wording_version
    person = centre.person_of_address(ws, address)
    ok = True
    if person is None:
        person = f"signup:{signup_id}"
        stamp = centre.iso(at)
        ok = centre.ingest_rows(ws, "customers", [{
            "customer_id": person, "source": SOURCE, "created_at": stamp,
            "first_name": first_name, "preferred_channel": "email",
            "contact_frequency": "monthly", "interests": ";".join(topics) or None,
        }]) and centre.ingest_rows(ws, "identities", [{
            "customer_id": person, "kind": "email", "value": address, "raw_value": address,
            "source": SOURCE, "first_seen": stamp, "last_seen": stamp, "verified": True,
        }])  # fmt: skip
    with db.session() as s:
        row = s.get(Signup, signup_id)
        assert row is not None
        row.confirmed_at, row.customer_id = at, person
        prefs = s.get(PersonPreferences, person) or PersonPreferences(
            customer_id=person, channels=[], topics=[], social_sites=[]
        )
        prefs.channels = sorted({*prefs.channels, "email"}, key=list(centre.CHANNELS).index)
        prefs.topics = sorted({*prefs.topics, *topics})
        prefs.frequency = prefs.frequency or "monthly"
        prefs.unsubscribed_at, prefs.updated_at = None, at
        s.add(prefs)
        s.add(ConsentRecord(customer_id=person, purpose="email_marketing", channel="email",
                            status="granted", source=SOURCE, wording_version=version,
                            recorded_at=at, synced=False))  # fmt: skip
        centre.lift_unsubscribe(s, [address])
        audit(s, "public", "signup.confirm", f"signup {signup_id}", person=person)
    ok = centre.sync(ws, db) and ok
    return Confirmed(person, already=False, warehouse=ok)


__all__ = [
    "SOURCE",
    "Confirmed",
    "confirm",
    "confirm_url",
    "forget_unconfirmed",
    "read_confirm_token",
    "request",
]
