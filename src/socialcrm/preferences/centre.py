"""The preference centre: what a person chose, read and changed by the person themselves.

A person opens the centre from the signed link in any email
(:func:`socialcrm.outbound.tokens.preferences_url`) and chooses the channels the brand
may use, how often, the topics they care about, the social sites they use and their
language, or unsubscribes from everything. Each change lands in three places, so that
it counts everywhere it should and when it should:

- the app database (``person_preferences``, and ``consent_records``: each consent
  decision with its channel and the version of the words shown, :data:`WORDING_VERSION`);
- the suppression list (:mod:`socialcrm.outbound.suppression`), for email: in force at
  once, the next message to the person is checked against it right before it goes out;
- the warehouse, through ingestion (:func:`socialcrm.store.ingest.ingest_file`, the same
  validation as files): a ``consents`` row per decision and record (source
  ``preference_centre``), and the person's ``customers`` rows (``preferred_channel``,
  ``contact_frequency``, ``interests``, ``preferred_social_sites``; names when they
  correct them). Sending reads those at each send (``contact_frequency`` caps, consent),
  and the next scoring run counts them as preferential information
  (:mod:`socialcrm.value.relationship`).

A warehouse write that fails leaves the consent records ``synced = false``;
:func:`sync` (called again by the next change) writes them then.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from html import escape
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from socialcrm.appdb.accounts import audit
from socialcrm.appdb.db import AppDB
from socialcrm.appdb.models import ConsentRecord, OutboxItem, PersonPreferences, Suppression, utcnow
from socialcrm.config import Settings
from socialcrm.outbound import mail, tokens
from socialcrm.outbound.suppression import normalise, suppress
from socialcrm.store.ingest import IngestError, ingest_file
from socialcrm.store.schemas import PLATFORMS
from socialcrm.store.workspace import Workspace

WORDING_VERSION = "2026-12-07.1"
"""The version of the words the centre and the sign-up form show; stored with each
consent decision, so what a person agreed to can be shown later word for word."""
WORDING_VERSIONS = frozenset({WORDING_VERSION})
"""Every version the pages have shown (add the old one here when the words change)."""
SOURCE = "preference_centre"

CHANNELS: dict[str, tuple[str, str]] = {
    # channel → (consent purpose, the words shown)
    "email": ("email_marketing", "Email: news, offers and tips"),
    "sms": ("sms_marketing", "Text messages (SMS)"),
    "phone": ("phone_marketing", "Phone calls"),
}
FREQUENCIES: dict[str, str] = {
    "weekly": "At most once a week",
    "monthly": "At most once a month",
    "quarterly": "At most once every three months",
}
SOCIAL_SITES: dict[str, str] = {
    "twitter": "X (Twitter)",
    "facebook": "Facebook",
    "instagram": "Instagram",
    "linkedin": "LinkedIn",
    "mastodon": "Mastodon",
    "bluesky": "Bluesky",
}
LANGUAGES: dict[str, str] = {
    "en": "English",
    "de": "Deutsch",
    "fr": "Français",
    "es": "Español",
    "it": "Italiano",
    "nl": "Nederlands",
}
UNSUBSCRIBE_PURPOSES = ("email_marketing", "sms_marketing", "phone_marketing", "personalised_ads")
"""Withdrawn by "unsubscribe from everything": every marketing contact and ad use."""
assert set(SOCIAL_SITES) == set(PLATFORMS)


class PreferenceError(ValueError):
    """A choice the centre does not offer (a forged form)."""


@dataclass
class Choices:
    """What a person chose; the form's fields, checked."""

    channels: list[str] = field(default_factory=list)
    frequency: str | None = None
    topics: list[str] = field(default_factory=list)
    social_sites: list[str] = field(default_factory=list)
    language: str | None = None
    first_name: str | None = None
    last_name: str | None = None

    def checked(self, topics: Iterable[str]) -> Choices:
        """The same choices, or :class:`PreferenceError` for one the centre never offered."""
        known = set(topics)
        for values, allowed, what in (
            (self.channels, CHANNELS, "channel"),
            (self.topics, known, "topic"),
            (self.social_sites, SOCIAL_SITES, "social site"),
        ):
            bad = [v for v in values if v not in allowed]
            if bad:
                raise PreferenceError(f"unknown {what}: {bad[0][:40]!r}")
        if self.frequency is not None and self.frequency not in FREQUENCIES:
            raise PreferenceError("unknown frequency")
        if self.language is not None and self.language not in LANGUAGES:
            raise PreferenceError("unknown language")
        for name in (self.first_name, self.last_name):
            if name is not None and (len(name) > 100 or any(ord(c) < 32 for c in name)):
                raise PreferenceError("a name of at most 100 characters, on one line")
        return Choices(
            channels=sorted(set(self.channels), key=list(CHANNELS).index),
            frequency=self.frequency,
            topics=sorted(set(self.topics)),
            social_sites=sorted(set(self.social_sites), key=list(SOCIAL_SITES).index),
            language=self.language,
            first_name=(self.first_name or "").strip() or None,
            last_name=(self.last_name or "").strip() or None,
        )


# -- the brand ----------------------------------------------------------------------------
def _catalogue(settings: Settings) -> dict[str, Any]:
    try:
        doc = json.loads(Path(settings.catalogue_path).read_text("utf-8"))
    except (OSError, ValueError):
        return {}
    return doc if isinstance(doc, dict) else {}


def brand_name(settings: Settings) -> str:
    """``SOCIALCRM_BRAND_NAME``, else the catalogue's brand, else a neutral "us"."""
    if settings.brand_name:
        return settings.brand_name
    brand = _catalogue(settings).get("brand")
    name = brand.get("name") if isinstance(brand, dict) else None
    return str(name) if name else "us"


def topics(settings: Settings) -> dict[str, str]:
    """The topics a person may pick: the catalogue's product categories and communities
    (key → words shown); empty without a catalogue.

    >>> s = Settings(home="/tmp/socialcrm-doctest-none", listening_catalogue="/nonexistent")
    >>> topics(s)
    {}
    """
    doc = _catalogue(settings)
    keys: list[str] = []
    for p in doc.get("products", []) or []:
        if isinstance(p, dict) and p.get("category"):
            keys.append(str(p["category"]))
    keys += [str(c) for c in doc.get("communities", []) or []]
    return {k: k.replace("_", " ").capitalize() for k in sorted(set(keys)) if k.strip()}


# -- who the person is --------------------------------------------------------------------
def records_of(ws: Workspace, person: str) -> list[str]:
    """The customer records of ``person`` (a person id or one of their record ids):
    all records identity resolution put together, else the record itself when it exists."""
    wh = ws.warehouse
    if wh.exists("identity_clusters"):
        t = wh.table("identity_clusters")
        hit = ws.engine.to_arrow(
            t.filter((t.customer_id == person) | (t.record_id == person)).select(
                "record_id", "customer_id"
            )
        )
        people = set(hit.column("customer_id").to_pylist())
        if people:
            rows = ws.engine.to_arrow(
                t.filter(t.customer_id.isin(sorted(people))).select("record_id")
            )
            return sorted(set(rows.column("record_id").to_pylist()))
    if wh.exists("customers"):
        c = wh.table("customers")
        hit = ws.engine.to_arrow(c.filter(c.customer_id == person).select("customer_id"))
        if hit.num_rows:
            return [person]
    return []


def addresses_of(ws: Workspace, s: Session, person: str, records: Sequence[str]) -> list[str]:
    """Every email address known for the person: their records' email identities and
    the addresses the brand's campaigns wrote to them at."""
    found: set[str] = set()
    wh = ws.warehouse
    if records and wh.exists("identities"):
        t = wh.table("identities")
        got = ws.engine.to_arrow(
            t.filter(t.customer_id.isin(list(records)) & (t.kind == "email")).select("value")
        )
        found.update(normalise(v) for v in got.column("value").to_pylist() if v)
    sent = s.scalars(
        select(OutboxItem.recipient).where(
            OutboxItem.connector == "email", OutboxItem.customer_id == person
        )
    )
    found.update(normalise(a) for a in sent if a and "@" in a)
    return sorted(found)


def person_of_address(ws: Workspace, address: str) -> str | None:
    """The person an email address belongs to (the record's person after resolution, else
    the record), or None. Used by the "send me my link" form, whose answer never says."""
    wh = ws.warehouse
    if not wh.exists("identities"):
        return None
    t = wh.table("identities")
    got = ws.engine.to_arrow(
        t.filter((t.kind == "email") & (t.value == normalise(address))).select("customer_id")
    )
    records = sorted(set(got.column("customer_id").to_pylist()))
    if not records:
        return None
    if wh.exists("identity_clusters"):
        c = wh.table("identity_clusters")
        hit = ws.engine.to_arrow(c.filter(c.record_id == records[0]).select("customer_id"))
        if hit.num_rows:
            return str(hit.column("customer_id")[0].as_py())
    return records[0]


# -- reading ------------------------------------------------------------------------------
def _latest_consents(ws: Workspace, records: Sequence[str]) -> dict[str, str]:
    """purpose → status in force (the latest decision over the person's records)."""
    if not records or not ws.warehouse.exists("consents"):
        return {}
    t = ws.warehouse.table("consents")
    rows = ws.engine.to_arrow(
        t.filter(t.customer_id.isin(list(records))).select("purpose", "status", "recorded_at")
    ).to_pylist()
    latest: dict[str, tuple[datetime, str]] = {}
    for r in rows:
        if r["purpose"] not in latest or r["recorded_at"] >= latest[r["purpose"]][0]:
            latest[r["purpose"]] = (r["recorded_at"], r["status"])
    return {p: v[1] for p, v in latest.items()}


def _customer_rows(ws: Workspace, records: Sequence[str]) -> list[dict[str, object]]:
    if not records or not ws.warehouse.exists("customers"):
        return []
    t = ws.warehouse.table("customers")
    return ws.engine.to_arrow(t.filter(t.customer_id.isin(list(records)))).to_pylist()


def _split(value: object) -> list[str]:
    return [v for v in str(value or "").split(";") if v.strip()]


def current(ws: Workspace, s: Session, person: str, records: Sequence[str]) -> Choices:
    """What the person chose last: the centre's own row when they have used it, else
    what the warehouse holds (imported consents and the Four-Ps columns)."""
    rows = sorted(_customer_rows(ws, records), key=lambda r: str(r.get("created_at") or ""))
    names = {k: next((str(r[k]) for r in reversed(rows) if r.get(k)), None)
             for k in ("first_name", "last_name")}  # fmt: skip
    row = s.get(PersonPreferences, person)
    if row is not None:
        return Choices(list(row.channels), row.frequency, list(row.topics),
                       list(row.social_sites), row.language, **names)  # fmt: skip
    consents = _latest_consents(ws, records)
    channels = [c for c, (purpose, _) in CHANNELS.items() if consents.get(purpose) == "granted"]
    frequency = next((str(r["contact_frequency"]) for r in reversed(rows)
                      if r.get("contact_frequency") in FREQUENCIES), None)  # fmt: skip
    interests = sorted({t for r in rows for t in _split(r.get("interests"))})
    sites = sorted({t for r in rows for t in _split(r.get("preferred_social_sites"))}
                   & set(SOCIAL_SITES), key=list(SOCIAL_SITES).index)  # fmt: skip
    return Choices(channels, frequency, interests, sites, None, **names)


def email_link(
    ws: Workspace, db: AppDB, settings: Settings, address: str, now: datetime | None = None
) -> bool:
    """Email the person who owns ``address`` a fresh link to their preferences; False
    (and nothing sent) when nobody does. The caller answers the same either way."""
    person = person_of_address(ws, address)
    if person is None:
        return False
    at = now or utcnow()
    link = tokens.preferences_url(settings, person, at)
    brand = brand_name(settings)
    days = settings.preference_link_days
    text = (f"Hello,\n\nhere is your link to choose what you receive from {brand}:\n\n"
            f"{link}\n\nIt works for {days} days. If you did not ask for it, ignore this "
            "email.\n")  # fmt: skip
    html = (
        f"<p>Hello,</p><p>Here is your link to choose what you receive from {escape(brand)}:"
        f'</p><p><a href="{escape(link)}">Open my preferences</a></p><p>It works for {days} '
        "days. If you did not ask for it, ignore this email.</p>"
    )
    with db.session() as s:
        mail.queue_notice(s, settings, key=f"link:{person}:{at.isoformat()}",
                          recipient=address, subject=f"Your preferences at {brand}",
                          text=text, html=html, now=at)  # fmt: skip
        audit(s, "public", "preferences.link_sent", person)
    return True


def consent_history(s: Session, person: str, limit: int = 20) -> list[ConsentRecord]:
    """The person's decisions made on public pages, newest first (shown on the centre)."""
    return list(
        s.scalars(
            select(ConsentRecord)
            .where(ConsentRecord.customer_id == person)
            .order_by(ConsentRecord.recorded_at.desc(), ConsentRecord.id.desc())
            .limit(limit)
        )
    )


# -- changing -----------------------------------------------------------------------------
@dataclass
class Outcome:
    """What a change did: the consent decisions recorded, the addresses (un)suppressed,
    and whether the warehouse took it at once."""

    consents: list[tuple[str, str]] = field(default_factory=list)
    suppressed: list[str] = field(default_factory=list)
    unsuppressed: list[str] = field(default_factory=list)
    warehouse: bool = True


def save(
    ws: Workspace,
    db: AppDB,
    person: str,
    choices: Choices,
    *,
    wording_version: str = WORDING_VERSION,
    source: str = SOURCE,
    now: datetime | None = None,
) -> Outcome:
    """Store ``choices`` (checked by the caller) for ``person``; see the module's notes."""
    at = now or utcnow()
    records = records_of(ws, person)  # none: a test send's person, kept in the app db only
    out = Outcome()
    with db.session() as s:
        before = current(ws, s, person, records)
        row = s.get(PersonPreferences, person) or PersonPreferences(customer_id=person)
        row.channels, row.frequency = list(choices.channels), choices.frequency
        row.topics, row.social_sites = list(choices.topics), list(choices.social_sites)
        row.language, row.updated_at = choices.language, at
        if choices.channels:
            row.unsubscribed_at = None
        s.add(row)
        for channel, (purpose, _) in CHANNELS.items():
            wanted, had = channel in choices.channels, channel in before.channels
            if wanted != had:  # only what changed: a decision each
                status = "granted" if wanted else "withdrawn"
                _decide(s, person, purpose, channel, status, source, wording_version, at)
                out.consents.append((purpose, status))
        addresses = addresses_of(ws, s, person, records)
        if "email" in choices.channels:
            out.unsuppressed = lift_unsubscribe(s, addresses)
        else:
            for a in addresses:
                suppress(s, a, "unsubscribe", source, customer_id=person)
            out.suppressed = addresses if "email" in before.channels else []
    out.warehouse = _to_warehouse(ws, db, person, records, choices, before)
    return out


def unsubscribe_everything(
    ws: Workspace,
    db: AppDB,
    person: str,
    *,
    wording_version: str = WORDING_VERSION,
    now: datetime | None = None,
) -> Outcome:
    """Withdraw every marketing purpose, put every known address on the suppression list,
    and set the frequency to never. Repeating it records nothing new."""
    at = now or utcnow()
    records = records_of(ws, person)  # none: a test send's person, kept in the app db only
    out = Outcome()
    with db.session() as s:
        before = current(ws, s, person, records)
        consents = _latest_consents(ws, records)
        row = s.get(PersonPreferences, person) or PersonPreferences(
            customer_id=person, topics=before.topics, social_sites=before.social_sites,
            language=before.language,
        )  # fmt: skip
        row.channels, row.frequency, row.updated_at = [], None, at
        row.unsubscribed_at = row.unsubscribed_at or at
        s.add(row)
        channel_of = {p: c for c, (p, _) in CHANNELS.items()}
        granted = {p for p, status in consents.items() if status == "granted"}
        granted |= {CHANNELS[c][0] for c in before.channels}
        for purpose in UNSUBSCRIBE_PURPOSES:
            if purpose in granted:
                _decide(s, person, purpose, channel_of.get(purpose), "withdrawn", SOURCE,
                        wording_version, at)  # fmt: skip
                out.consents.append((purpose, "withdrawn"))
        out.suppressed = addresses_of(ws, s, person, records)
        for a in out.suppressed:
            suppress(s, a, "unsubscribe", SOURCE, customer_id=person)
    never = Choices([], "never", before.topics, before.social_sites, before.language)
    out.warehouse = _to_warehouse(ws, db, person, records, never, before, channel="none")
    return out


def _decide(
    s: Session,
    person: str,
    purpose: str,
    channel: str | None,
    status: str,
    source: str,
    wording_version: str,
    at: datetime,
) -> None:
    s.add(ConsentRecord(customer_id=person, purpose=purpose, channel=channel, status=status,
                        source=source, wording_version=wording_version, recorded_at=at,
                        synced=False))  # fmt: skip


def lift_unsubscribe(s: Session, addresses: Iterable[str]) -> list[str]:
    """Take addresses off the suppression list when only an unsubscribe put them there:
    the person opted in again themselves. Bounces and complaints stay."""
    lifted = []
    for a in addresses:
        row = s.scalar(select(Suppression).where(Suppression.address == normalise(a)))
        if row is not None and row.reason == "unsubscribe":
            s.delete(row)
            lifted.append(a)
    return lifted


def _to_warehouse(
    ws: Workspace,
    db: AppDB,
    person: str,
    records: Sequence[str],
    choices: Choices,
    before: Choices,
    channel: str | None = None,
) -> bool:
    """The consents not yet in the warehouse, and the person's ``customers`` rows; False
    when either import failed (the consents stay unsynced for :func:`sync`)."""
    ok = sync(ws, db, records_for={person: list(records)})
    rows = _customer_rows(ws, records)
    if not rows:
        return ok
    preferred = channel or (choices.channels[0] if choices.channels else "none")
    update = []
    for r in rows:
        out: dict[str, object] = {
            "customer_id": r["customer_id"],
            "source": r["source"],
            "created_at": iso(r["created_at"]),
            "preferred_channel": preferred,
            "contact_frequency": choices.frequency,
            "interests": ";".join(choices.topics) or None,
            "preferred_social_sites": ";".join(choices.social_sites) or None,
        }
        for name in ("first_name", "last_name"):  # a correction, not a blank-out
            value = getattr(choices, name)
            if value and value != getattr(before, name):
                out[name] = value
        update.append(out)
    return ingest_rows(ws, "customers", update) and ok


def sync(ws: Workspace, db: AppDB, records_for: dict[str, list[str]] | None = None) -> bool:
    """Write the consent records not yet in the warehouse's ``consents`` (one row per
    record of the person, as an import would have them) and mark them synced. A person
    with no customer record (a campaign's test send) has none: their decisions stay in
    the app database only."""
    with db.session() as s:
        pending = list(
            s.scalars(select(ConsentRecord).where(ConsentRecord.synced.is_(False)).limit(5000))
        )
        if not pending:
            return True
        known = dict(records_for or {})
        rows: list[dict[str, object]] = []
        for c in pending:
            if c.customer_id not in known:
                known[c.customer_id] = records_of(ws, c.customer_id)
            for record in known[c.customer_id]:
                rows.append({"customer_id": record, "purpose": c.purpose, "status": c.status,
                             "recorded_at": iso(c.recorded_at), "source": c.source})  # fmt: skip
        ids = [c.id for c in pending]
    if not ingest_rows(ws, "consents", rows):
        return False
    with db.session() as s:
        for c in s.scalars(select(ConsentRecord).where(ConsentRecord.id.in_(ids))):
            c.synced = True
    return True


def iso(value: object) -> str:
    if isinstance(value, datetime):
        at = value if value.tzinfo else value.replace(tzinfo=UTC)
        return at.astimezone(UTC).isoformat()
    return str(value)


def ingest_rows(ws: Workspace, table: str, rows: list[dict[str, object]]) -> bool:
    """Rows into an input table through ingestion (a JSON-lines file: the same reading,
    validation and merge as any imported file); False when any row was rejected."""
    if not rows:
        return True
    ws.settings.home.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=ws.settings.home, prefix=".preferences-") as tmp:
        path = Path(tmp) / f"{table}.jsonl"
        path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")
        try:
            report = ingest_file(ws, table, path, "jsonl", strict=True)
        except IngestError:
            return False
    return report.committed and not report.rejected


__all__ = [
    "CHANNELS",
    "FREQUENCIES",
    "LANGUAGES",
    "SOCIAL_SITES",
    "SOURCE",
    "UNSUBSCRIBE_PURPOSES",
    "WORDING_VERSION",
    "WORDING_VERSIONS",
    "Choices",
    "Outcome",
    "PreferenceError",
    "addresses_of",
    "brand_name",
    "consent_history",
    "current",
    "email_link",
    "ingest_rows",
    "iso",
    "lift_unsubscribe",
    "person_of_address",
    "records_of",
    "save",
    "sync",
    "topics",
    "unsubscribe_everything",
]
