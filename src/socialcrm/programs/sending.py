"""Sending a campaign: its treated people, checked again, personalised, queued, delivered.

:func:`send_campaign` takes the campaign's *treated* people (never the holdout) who have
no message for this (campaign, step) yet, and decides for each, in this order:

1. ``no_consent``: the channel's consent is not in force in the warehouse's
   ``consents`` now (it may have been withdrawn since the campaign was created), or the
   person has no address on the channel (no email; no handle on the network);
2. ``suppressed``: the address is on the suppression list (unsubscribed, hard-bounced,
   complained);
3. ``capped``: the person's ``contact_frequency`` (daily 1 day, weekly 7, monthly 30,
   quarterly 91) says the last marketing touch (a ``sent`` touch of any campaign in the
   warehouse, or a campaign message the outbox sent) is too recent; ``never``, or a
   preferred channel ``none``, is never due;
4. otherwise the message is rendered for the person and queued in the outbox with the
   idempotency key ``campaign|person|step``, due at once, at the campaign's
   ``send_at``, or, when the campaign has quiet hours and that moment falls inside them
   in the person's time zone, at the end of the quiet hours (deferred, not dropped).

Then the due messages are delivered (:func:`socialcrm.outbound.mail.deliver_emails`),
with a ``recheck`` run right before each goes out that reads the channel's consent from
the warehouse again whenever ``consents`` changed, and the suppression list
(:class:`ConsentRecheck`), so a withdrawal or an unsubscribe that lands mid-send still
stops the message.

The counts are those of this call: ``sent`` and ``failed`` (given up) are the messages of
the campaign that went out or were given up during it; ``holdout`` is the held-out
people (never contacted); ``no_consent``, ``suppressed`` and ``capped`` are the treated
people stopped by each check, at queueing or right before sending. Messages deferred to
later (``send_at``, quiet hours, a retry after a temporary failure) are in none of them:
:func:`progress` counts them.

A crash or a kill at any point loses nothing and sends nothing twice: people already
queued keep their one outbox item (same key), and the outbox's lease hands unfinished
items to the next ``campaign send`` (see :mod:`socialcrm.outbound.mail` for the one
window SMTP leaves open).

Quiet hours are whole local hours ``START-END`` (``21-8``: from 21:00 to 08:00 next
morning), set per campaign (``campaign create --quiet-hours 21-8``; none by default). A
person's time zone comes from their ``country`` (the newest record that names one; the
country's first zone in the tz database, e.g. America/New_York for US), else
``SOCIALCRM_TIMEZONE``.

:func:`sync_feedback` copies the email events (sent, delivered, opens, clicks,
unsubscribes, bounces, complaints) of the app database into the warehouse's ``touches``
(``touch_id`` ``email:<event id>``; the private messages sent, ``outbox:<item id>``,
channel ``social``) and an unsubscribe into ``consents`` (a withdrawn
``email_marketing`` row, source ``unsubscribe``, on each of the person's records), once:
a replay adds nothing. ``campaign send``, ``campaign report`` and the pipeline's
``campaign_feedback`` step run it.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from socialcrm.appdb.models import CampaignSend, OutboxItem
from socialcrm.config import Settings
from socialcrm.programs.campaigns import (
    CampaignError,
    add_to_campaign,
    assignments,
    audience_for,
    consenting,
    get_campaign,
    parse_quiet_hours,
    people_of,
    stratified_groups,
    value_bands,
)
from socialcrm.store.schemas import CONSENTS, TOUCHES
from socialcrm.store.workspace import Workspace

if TYPE_CHECKING:
    from socialcrm.appdb.db import AppDB
    from socialcrm.outbound.email import EmailSender
    from socialcrm.outbound.templates import EmailTemplate, RenderedEmail

log = logging.getLogger(__name__)

SEND_COUNTS = ("sent", "holdout", "no_consent", "suppressed", "capped", "failed")
PREVIEW_COUNTS = ("audience", "holdout", "no_consent", "suppressed", "capped", "reachable")
CAP_DAYS = {"daily": 1, "weekly": 7, "monthly": 30, "quarterly": 91}
DIRECT_CONNECTORS = {"mastodon": "mastodon_dm", "bluesky": "bluesky_dm"}
SENDABLE = ("email", *DIRECT_CONNECTORS)
DIRECT_LIMIT = {"mastodon": 500, "bluesky": 1000}
"""Characters a private message may have on each network (Mastodon's default, Bluesky
chat's)."""
CONSENT_REFRESH_SECONDS = 5.0
QUEUE_BATCH = 200
DELIVER_BATCH = 100
SEND_WORKERS = 3
"""SMTP connections a send uses side by side (see :class:`_Delivery`)."""
TEST_CUSTOMER = "test-send"
"""The person a test send's links are signed for; its events never reach ``touches``."""
SKIP_REASONS = {"no_consent": "no_consent", "no_address": "no_consent",
                "suppressed": "suppressed", "capped": "capped"}  # fmt: skip
"""The outbox's skip reasons, in the counts' words."""


_ADDRESS = re.compile(r"[^\s'\"<>]*@[^\s'\"<>]+")
"""An address or a handle inside an error message: kept out of the logs."""


def send_key(campaign_id: str, customer_id: str, step: str = "send") -> str:
    """The idempotency key of one person's message in one step of one campaign.

    >>> send_key("spring", "shop:1", "send")
    'spring|shop:1|send'
    """
    return f"{campaign_id}|{customer_id}|{step}"


def _aware(t: datetime | None) -> datetime:
    if t is None:
        return datetime.now(UTC)
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)


def _naive(t: datetime) -> datetime:
    """The app database's clock: naive UTC."""
    return _aware(t).replace(tzinfo=None)


# -- who the people are: address, name, time zone, frequency -------------------------------
@lru_cache(maxsize=1)
def _country_zones() -> dict[str, str]:
    """ISO country → its first zone in the tz database's ``zone.tab``."""
    try:
        text = resources.files("tzdata").joinpath("zoneinfo", "zone.tab").read_text()
    except (ModuleNotFoundError, FileNotFoundError):
        path = Path("/usr/share/zoneinfo/zone.tab")
        text = path.read_text() if path.exists() else ""
    zones: dict[str, str] = {}
    for line in text.splitlines():
        if line.startswith("#") or not line.strip():
            continue
        parts = line.split("\t")
        if len(parts) >= 3:
            zones.setdefault(parts[0].upper(), parts[2])
    return zones


def zone_for(country: str | None, default: str = "UTC") -> ZoneInfo:
    """The time zone of a person in ``country`` (ISO alpha-2), else ``default``.

    >>> zone_for("DE").key, zone_for("US").key, zone_for(None, "Europe/Paris").key
    ('Europe/Berlin', 'America/New_York', 'Europe/Paris')
    """
    name = _country_zones().get((country or "").strip().upper())
    try:
        return ZoneInfo(name or default)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def quiet_until(at: datetime, zone: ZoneInfo, window: tuple[int, int] | None) -> datetime | None:
    """The end of the quiet hours (UTC) when ``at`` falls inside them in ``zone``, else None.

    >>> berlin = ZoneInfo("Europe/Berlin")
    >>> quiet_until(datetime(2026, 12, 7, 2, 0, tzinfo=UTC), berlin, (21, 8))
    datetime.datetime(2026, 12, 7, 7, 0, tzinfo=datetime.timezone.utc)
    >>> quiet_until(datetime(2026, 12, 7, 12, 0, tzinfo=UTC), berlin, (21, 8)) is None
    True
    """
    if window is None:
        return None
    start, end = window
    local = _aware(at).astimezone(zone)
    h = local.hour
    inside = (h >= start or h < end) if start > end else (start <= h < end)
    if not inside:
        return None
    until = local.replace(hour=end, minute=0, second=0, microsecond=0)
    if until <= local:
        until = (local + timedelta(days=1)).replace(hour=end, minute=0, second=0, microsecond=0)
    return until.astimezone(UTC)


@dataclass(frozen=True)
class Contact:
    """What sending needs of one person: where, how to greet them, when, how often."""

    customer_id: str
    address: str | None
    first_name: str | None
    zone: ZoneInfo
    frequency: str | None
    preferred_channel: str | None
    last_name: str | None = None


def _records(ws: Workspace) -> dict[str, str]:
    """Record id → person id (each record its own person before identity resolution)."""
    if ws.warehouse.exists("identity_clusters"):
        t = ws.warehouse.read_arrow("identity_clusters").select(["record_id", "customer_id"])
        return dict(
            zip(t.column("record_id").to_pylist(), t.column("customer_id").to_pylist(), strict=True)
        )
    if ws.warehouse.exists("customers"):
        ids = ws.warehouse.read_arrow("customers").column("customer_id").to_pylist()
        return {c: c for c in ids}
    return {}


def contacts(
    ws: Workspace, people: Iterable[str], channel: str, settings: Settings | None = None
) -> dict[str, Contact]:
    """Per person: the address on ``channel`` (an email, or the handle on the network),
    first name, time zone, contact frequency and preferred channel.

    Each field is the newest record's that has one; the address is a verified one first,
    then the most recently seen. People with no customer record get what identities say.
    """
    wanted = set(people)
    settings = settings or ws.settings
    person = _records(ws)
    kind = "email" if channel == "email" else channel
    best: dict[str, tuple[tuple[object, ...], str]] = {}
    if ws.warehouse.exists("identities"):
        ids = ws.warehouse.read_arrow("identities").select(
            ["customer_id", "kind", "value", "verified", "last_seen"]
        )
        for r in ids.to_pylist():
            p = person.get(r["customer_id"], r["customer_id"])
            if r["kind"] != kind or p not in wanted or not r["value"]:
                continue
            seen = r["last_seen"].timestamp() if r["last_seen"] else 0.0
            rank = (bool(r["verified"]), seen, r["value"])
            if p not in best or rank > best[p][0]:
                best[p] = (rank, str(r["value"]))
    fields = ("first_name", "last_name", "country", "contact_frequency", "preferred_channel")
    newest: dict[str, dict[str, tuple[float, str, object]]] = {}
    if ws.warehouse.exists("customers"):
        cust = ws.warehouse.read_arrow("customers").select(["customer_id", "created_at", *fields])
        for r in cust.to_pylist():
            p = person.get(r["customer_id"], r["customer_id"])
            if p not in wanted:
                continue
            at = r["created_at"].timestamp() if r["created_at"] else 0.0
            mine = newest.setdefault(p, {})
            for f in fields:
                v = r[f]
                if v is None or (isinstance(v, str) and not v.strip()):
                    continue
                key = (at, r["customer_id"], v)
                if f not in mine or key[:2] > mine[f][:2]:
                    mine[f] = key
    out = {}
    for p in wanted:
        got = {f: v[2] for f, v in newest.get(p, {}).items()}
        out[p] = Contact(
            customer_id=p,
            address=best[p][1] if p in best else None,
            first_name=str(got["first_name"]).strip() if "first_name" in got else None,
            zone=zone_for(got.get("country"), settings.timezone),  # type: ignore[arg-type]
            frequency=got.get("contact_frequency"),  # type: ignore[arg-type]
            preferred_channel=got.get("preferred_channel"),  # type: ignore[arg-type]
            last_name=str(got["last_name"]).strip() if "last_name" in got else None,
        )
    return out


def last_marketing_touch(ws: Workspace, db: AppDB, people: Iterable[str]) -> dict[str, datetime]:
    """Per person: the last campaign message sent, from the warehouse's ``touches`` (any
    channel, ``sent`` with a campaign) and the outbox's sent campaign messages."""
    wanted = set(people)
    person = _records(ws)
    last: dict[str, datetime] = {}

    def note(p: str, at: datetime | None) -> None:
        if p in wanted and at is not None:
            at = _aware(at)
            if p not in last or at > last[p]:
                last[p] = at

    if ws.warehouse.exists("touches"):
        t = ws.warehouse.table("touches")
        sent = t.filter((t.event == "sent") & t.campaign_id.notnull())
        per = ws.engine.to_arrow(sent.group_by("customer_id").aggregate(at=sent.at.max()))
        for cid, at in zip(per.column("customer_id").to_pylist(), per.column("at").to_pylist(),
                           strict=True):  # fmt: skip
            note(person.get(cid, cid), at)
    with db.session() as s:
        rows = s.execute(
            select(OutboxItem.customer_id, func.max(OutboxItem.sent_at))
            .where(
                OutboxItem.status == "sent",
                OutboxItem.campaign_id.is_not(None),
                OutboxItem.customer_id.is_not(None),
            )
            .group_by(OutboxItem.customer_id)
        ).all()
    for cid, at in rows:
        note(str(cid), at)
    return last


def capped(contact: Contact, last: datetime | None, at: datetime) -> bool:
    """Whether the person's contact frequency forbids a marketing message at ``at``.

    >>> c = Contact("c1", "a@example.com", "Ann", ZoneInfo("UTC"), "weekly", None)
    >>> t = datetime(2026, 3, 10, tzinfo=UTC)
    >>> capped(c, t - timedelta(days=3), t), capped(c, t - timedelta(days=8), t)
    (True, False)
    """
    if contact.frequency == "never" or contact.preferred_channel == "none":
        return True
    days = CAP_DAYS.get(contact.frequency or "")
    return days is not None and last is not None and last + timedelta(days=days) > at


# -- what the message says --------------------------------------------------------------------
@lru_cache(maxsize=4)
def _catalogue(path: str, mtime: float) -> tuple[str, dict[str, str]]:
    doc = json.loads(Path(path).read_text())
    brand = str((doc.get("brand") or {}).get("name") or "")
    names = {str(p["id"]): str(p["name"]) for p in doc.get("products", []) if "id" in p}
    return brand, names


def catalogue(settings: Settings) -> tuple[str, dict[str, str]]:
    """The brand's name and product id → product name, from the catalogue listening
    uses (``Settings.catalogue_path``); empty when there is none."""
    path = settings.catalogue_path
    try:
        return _catalogue(str(path), path.stat().st_mtime)
    except (OSError, ValueError, KeyError, TypeError):
        return "", {}


def products_of(
    ws: Workspace, people: Iterable[str], names: Mapping[str, str]
) -> dict[str, list[str]]:
    """Per person: the names of the products they bought (completed orders), the most
    recent first, each once; codes the catalogue does not name are left out."""
    from socialcrm.value.orders import customer_orders

    wanted = set(people)
    if not names or not wanted or not ws.warehouse.exists("orders"):
        return {}
    o = customer_orders(ws)
    o = o.filter((o.status == "completed") & o.product_id.notnull())
    per = ws.engine.to_arrow(
        o.group_by("customer_id", "product_id").aggregate(last=o.ordered_at.max())
    ).to_pylist()
    per.sort(key=lambda r: (r["customer_id"], -(r["last"].timestamp() if r["last"] else 0)))
    out: dict[str, list[str]] = {}
    for r in per:
        name = names.get(r["product_id"])
        if r["customer_id"] in wanted and name and name not in out.get(r["customer_id"], []):
            out.setdefault(r["customer_id"], []).append(name)
    return out


def next_actions(ws: Workspace) -> dict[str, tuple[str, str]]:
    """Per person: their next-best-action (rank 1) as (plain words, the reason's words)."""
    if not ws.warehouse.exists("customer_actions"):
        return {}
    t = ws.warehouse.table("customer_actions")
    t = t.filter((t["rank"] == 1) & (t.action != "none")).select("customer_id", "action", "reason")
    out = {}
    for r in ws.engine.to_arrow(t).to_pylist():
        reason = str(r["reason"] or "").split(" — ")[0].strip()
        out[str(r["customer_id"])] = (str(r["action"]).replace("_", " "), reason)
    return out


def personal_context(
    contact: Contact | None,
    *,
    settings: Settings,
    campaign_id: str,
    brand: str = "",
    action: tuple[str, str] | None = None,
    products: Sequence[str] = (),
    unsubscribe: bool = True,
) -> dict[str, object]:
    """What a template may use for one person (the keys of
    :data:`~socialcrm.programs.campaigns.SAMPLE_CONTEXT`): ``first_name`` ("there" when
    unknown; ``name`` too), ``last_name``, ``email`` (their address on the channel),
    ``brand``, ``next_best_action`` (``action`` too) and its reason in words
    (``next_best_action_reason``), the names of the products they bought (``products``,
    the latest first, and ``product``), and ``unsubscribe_url`` (``unsubscribe_link``)."""
    from socialcrm.outbound.tokens import TokenError, unsubscribe_url

    first = (contact.first_name if contact else None) or "there"
    cid = contact.customer_id if contact else TEST_CUSTOMER
    unsub = ""
    # signed per person, skipped when the template does not show it (the headers do); no
    # public URL: the message cannot be built either, a preview shows it empty
    with contextlib.suppress(TokenError):
        unsub = unsubscribe_url(settings, campaign_id, cid) if unsubscribe else ""
    return {
        "first_name": first,
        "name": first,
        "last_name": (contact.last_name if contact else None) or "",
        "email": (contact.address if contact else None) or "",
        "brand": brand,
        "next_best_action": action[0] if action else "",
        "action": action[0] if action else "",
        "next_best_action_reason": action[1] if action else "",
        "products": list(products),
        "product": products[0] if products else "",
        "unsubscribe_url": unsub,
        "unsubscribe_link": unsub,
    }


# -- deciding, queueing, delivering -----------------------------------------------------------
@dataclass
class _Plan:
    """The decision for each person not yet queued in this step."""

    stopped: dict[str, list[str]] = field(default_factory=dict)
    go: list[tuple[Contact, datetime]] = field(default_factory=list)


def _plan(
    ws: Workspace,
    db: AppDB,
    settings: Settings,
    channel: str,
    people: Sequence[str],
    at: datetime,
    window: tuple[int, int] | None,
) -> _Plan:
    """Consent, address, suppression, frequency cap and the due time, per person."""
    from socialcrm.outbound.suppression import normalise, suppressed

    plan = _Plan(stopped={k: [] for k in ("no_consent", "suppressed", "capped")})
    if not people:
        return plan
    granted = consenting(ws, channel)
    who = contacts(ws, people, channel, settings)
    last = last_marketing_touch(ws, db, people)
    with db.session() as s:
        blocked = suppressed(s, [c.address for c in who.values() if c.address])
    for p in people:
        c = who[p]
        if (granted is not None and p not in granted) or not c.address:
            plan.stopped["no_consent"].append(p)
        elif normalise(c.address) in blocked:
            plan.stopped["suppressed"].append(p)
        elif capped(c, last.get(p), at):
            plan.stopped["capped"].append(p)
        else:
            plan.go.append((c, quiet_until(at, c.zone, window) or at))
    return plan


class ConsentRecheck:
    """The ``recheck`` of :func:`~socialcrm.outbound.mail.deliver_emails`: right before a
    campaign message goes out, is the channel's consent still in force in the warehouse,
    and is the address still off the suppression list?

    The consent in hand is read again as soon as the ``consents`` (or
    ``identity_clusters``) table has a new version, and at least every
    :data:`CONSENT_REFRESH_SECONDS` besides; the version is the table's ``_CURRENT``
    pointer, replaced by every write (:mod:`socialcrm.store.warehouse`), so the check per
    message is a ``stat``, not a query. The suppression list is checked too (one indexed
    lookup, in the transaction that sends the message)."""

    def __init__(self, ws: Workspace, clock: Callable[[], float] = time.monotonic) -> None:
        self.ws = ws
        self.clock = clock
        self._read: dict[str, tuple[float, tuple[int, ...]]] = {}
        self._granted: dict[str, set[str] | None] = {}
        self._channels: dict[str, str | None] = {}
        self._lock = threading.RLock()

    def _channel(self, campaign_id: str) -> str | None:
        with self._lock:
            return self._channel_of(campaign_id)

    def _channel_of(self, campaign_id: str) -> str | None:
        if campaign_id not in self._channels:
            try:
                self._channels[campaign_id] = str(get_campaign(self.ws, campaign_id)["channel"])
            except CampaignError:  # a campaign of another workspace, or a test send
                self._channels[campaign_id] = None
        return self._channels[campaign_id]

    def _version(self) -> tuple[int, ...]:
        out: list[int] = []
        for name in ("consents", "identity_clusters"):
            try:
                st = (self.ws.warehouse.root / name / "_CURRENT").stat()
                out += [st.st_ino, st.st_mtime_ns]
            except FileNotFoundError:
                out += [0, 0]
        return tuple(out)

    def granted(self, channel: str) -> set[str] | None:
        """The people with the channel's consent in force, as of the latest table."""
        with self._lock:  # one reader of the warehouse at a time (passes run in threads)
            now, version = self.clock(), self._version()
            read = self._read.get(channel)
            if read is None or read[1] != version or now - read[0] > CONSENT_REFRESH_SECONDS:
                self._granted[channel] = consenting(self.ws, channel)
                self._read[channel] = (now, version)
            return self._granted[channel]

    def warm(self, campaign_id: str) -> None:
        """Read the campaign's consent now, in the caller's thread (before passes start)."""
        channel = self._channel(campaign_id)
        if channel is not None:
            self.granted(channel)

    def __call__(self, s: Session, item: OutboxItem) -> str | None:
        from socialcrm.outbound.suppression import is_suppressed

        if not item.campaign_id:
            return None  # a service message, no campaign's: deliver_emails decides (queue_notice)
        # deliver_emails checks the list too; both checks are one indexed lookup, and this
        # one keeps the campaign side's promise whoever runs the delivery
        if item.recipient and is_suppressed(s, item.recipient):
            return "suppressed"
        if not item.customer_id:
            return None
        channel = self._channel(item.campaign_id)
        if channel is None:
            return None
        ok = self.granted(channel)
        if ok is not None and item.customer_id not in ok:
            return "no_consent"
        return None


@contextlib.contextmanager
def delivery_recheck(settings: Settings) -> Iterator[ConsentRecheck]:
    """A :class:`ConsentRecheck` on the settings' workspace, open for the block: what the
    background delivery loop (``outbound.delivery.start(..., email_recheck=...)``) needs
    to send campaign emails that came due later (``send_at``, quiet hours, retries)."""
    with Workspace.open(settings) as ws:
        yield ConsentRecheck(ws)


def _template(camp: Mapping[str, Any]) -> EmailTemplate:
    from socialcrm.outbound.templates import TemplateError, load_template

    if not camp.get("template"):
        raise CampaignError(
            f"campaign {camp['campaign_id']!r} has no template: it was created to measure a "
            "send made elsewhere (create one with --template and --subject to send it here)"
        )
    try:
        return load_template(str(camp["template"]), str(camp.get("subject") or ""))
    except TemplateError as e:
        raise CampaignError(f"template: {e}") from None


def _queue(
    ws: Workspace,
    db: AppDB,
    settings: Settings,
    camp: Mapping[str, Any],
    template: EmailTemplate,
    go: Sequence[tuple[Contact, datetime]],
    step: str,
    now: datetime,
    queued: set[int],
) -> int:
    """Render and queue each message (one transaction per batch, so a crash keeps the
    batches done, and delivery may start on them); adds the new items' ids to
    ``queued``; returns the people whose message could not be built."""
    from socialcrm.outbound.mail import EmailError, queue_direct, queue_email
    from socialcrm.outbound.templates import TemplateError
    from socialcrm.outbound.tokens import TokenError

    campaign_id, channel = str(camp["campaign_id"]), str(camp["channel"])
    people = [c.customer_id for c, _ in go]
    brand, names = catalogue(settings)
    products = products_of(ws, people, names)
    actions = next_actions(ws)
    shows_unsubscribe = "unsubscribe_" in template.source
    failed = 0
    for i in range(0, len(go), QUEUE_BATCH):
        batch: list[int] = []
        with db.session() as s:
            for contact, due in go[i : i + QUEUE_BATCH]:
                p = contact.customer_id
                ctx = personal_context(contact, settings=settings, campaign_id=campaign_id,
                                       brand=brand, action=actions.get(p),
                                       products=products.get(p, ()),
                                       unsubscribe=shows_unsubscribe)  # fmt: skip
                key = send_key(campaign_id, p, step)
                try:
                    rendered = template.render(ctx)
                    assert contact.address is not None  # planned with an address
                    if channel == "email":
                        item = queue_email(s, settings, key=key, campaign_id=campaign_id,
                                           customer_id=p, recipient=contact.address,
                                           rendered=rendered, now=_naive(now))  # fmt: skip
                    else:
                        item = queue_direct(s, key=key, campaign_id=campaign_id, customer_id=p,
                                            connector=DIRECT_CONNECTORS[channel],
                                            handle=contact.address,
                                            body=_direct_body(rendered, channel),
                                            now=_naive(now))  # fmt: skip
                except TokenError as e:  # no public URL: nothing can be built; say so once
                    raise CampaignError(str(e)) from None
                except (TemplateError, EmailError, ValueError) as e:
                    log.warning("campaign %s: no message for customer %s: %s", campaign_id, p,
                                _ADDRESS.sub("<address>", str(e)))  # fmt: skip
                    failed += 1
                    continue
                if item.status == "pending" and item.attempts == 0:
                    if _naive(due) > item.next_attempt_at:  # send_at, quiet hours
                        item.next_attempt_at = _naive(due)
                    batch.append(item.id)
        queued.update(batch)  # committed: delivery may take them now
    return failed


def _direct_body(rendered: RenderedEmail, channel: str) -> str:
    """A private message's text: the text part, cut to what the network takes."""
    limit = DIRECT_LIMIT[channel]
    text = rendered.text.strip()
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _mine(db: AppDB, campaign_id: str, keys: set[str] | None) -> dict[int, str]:
    """Outbox id → status of the campaign's messages (those of ``keys`` when given)."""
    from socialcrm.outbound.outbox import storable_key

    with db.session() as s:
        rows = s.execute(
            select(OutboxItem.id, OutboxItem.idempotency_key, OutboxItem.status).where(
                OutboxItem.campaign_id == campaign_id
            )
        ).all()
    wanted = None if keys is None else {storable_key(k) for k in keys}
    return {i: st for i, k, st in rows if wanted is None or k in wanted}


def send_campaign(
    ws: Workspace,
    db: AppDB,
    settings: Settings,
    campaign_id: str,
    *,
    customer_ids: Sequence[str] | None = None,
    step: str = "send",
    now: datetime | None = None,
    sender: EmailSender | None = None,
    on_progress: Callable[[dict[str, int]], None] | None = None,
) -> dict[str, int]:
    """Queue and deliver the campaign's messages; the counts of this call (see the module).

    ``customer_ids`` limits the send to those people (a journey's entrants), assigning
    any not in the campaign yet (:func:`~socialcrm.programs.campaigns.add_to_campaign`);
    ``step`` tells apart several messages of one campaign to one person. ``now`` fixes
    the clock (tests, replays); ``sender`` replaces the SMTP connection;
    ``on_progress`` is called after each delivered batch with the counts so far.
    """
    at = _aware(now)
    if not step or "|" in step:
        raise CampaignError(f"step {step!r}: not empty, no '|'")
    sync_feedback(ws, db)
    camp = get_campaign(ws, campaign_id)
    channel = str(camp["channel"])
    if channel not in SENDABLE:
        raise CampaignError(
            f"campaign {campaign_id!r} is on {channel}, which is sent elsewhere; "
            f"this sends {', '.join(SENDABLE)}"
        )
    template = _template(camp)
    if channel == "email":
        settings = email_settings(settings)
    with db.session() as s:
        log_row = CampaignSend(campaign_id=campaign_id, step=step, counts={})
        s.add(log_row)
        s.flush()
        log_id = log_row.id
    counts = dict.fromkeys(SEND_COUNTS, 0)
    error: str | None = None
    try:
        _send(ws, db, settings, camp, template, counts, customer_ids=customer_ids, step=step,
              at=at, now=now, sender=sender, on_progress=on_progress)  # fmt: skip
        sync_feedback(ws, db)  # the sends themselves, into touches (caps, the report)
    except BaseException as e:  # the log says why it stopped; the next send resumes
        error = f"{type(e).__name__}: {e}"[:500]
        raise
    finally:
        with db.session() as s:
            row = s.get(CampaignSend, log_id)
            if row is not None:
                row.counts, row.error, row.finished_at = dict(counts), error, _naive(_aware(None))
    return counts


def _send(
    ws: Workspace,
    db: AppDB,
    settings: Settings,
    camp: Mapping[str, Any],
    template: EmailTemplate,
    counts: dict[str, int],
    *,
    customer_ids: Sequence[str] | None,
    step: str,
    at: datetime,
    now: datetime | None,
    sender: EmailSender | None,
    on_progress: Callable[[dict[str, int]], None] | None,
) -> None:
    """The body of :func:`send_campaign`; fills ``counts`` as it goes."""
    campaign_id, channel = str(camp["campaign_id"]), str(camp["channel"])
    groups = assignments(ws, campaign_id)
    if customer_ids is not None:
        wanted = people_of(ws, customer_ids)
        if any(c not in groups for c in wanted):
            add_to_campaign(ws, campaign_id, [c for c in wanted if c not in groups])
            groups = assignments(ws, campaign_id)
        counts["no_consent"] += sum(c not in groups for c in wanted)  # left out: no consent
        groups = {c: groups[c] for c in wanted if c in groups}
    counts["holdout"] = sum(g == "control" for g in groups.values())
    treated = sorted(c for c, g in groups.items() if g == "treatment")
    keys = {c: send_key(campaign_id, c, step) for c in treated}
    from socialcrm.outbound.outbox import storable_key

    with db.session() as s:
        queued = set(
            s.scalars(
                select(OutboxItem.idempotency_key).where(OutboxItem.campaign_id == campaign_id)
            )
        )
    fresh = [c for c in treated if storable_key(keys[c]) not in queued]
    send_at = camp.get("send_at")
    start = max(at, _aware(send_at)) if send_at is not None else at
    plan = _plan(ws, db, settings, channel, fresh, start,
                 parse_quiet_hours(camp.get("quiet_hours")))  # fmt: skip
    for reason, people in plan.stopped.items():
        counts[reason] += len(people)
    watched = {i for i, st in _mine(db, campaign_id, set(keys.values())).items()
               if st in ("pending", "sending")}  # fmt: skip
    if channel != "email":
        counts["failed"] += _queue(ws, db, settings, camp, template, plan.go, step, at, watched)
    elif sender is not None:  # the caller's connection: queue everything, then one pass
        counts["failed"] += _queue(ws, db, settings, camp, template, plan.go, step, at, watched)
        _Delivery(ws, db, settings, now, counts, watched, on_progress).run(sender)
    else:  # our connections: deliver each batch while the next is being built
        delivery = _Delivery(ws, db, settings, now, counts, watched, on_progress)
        delivery.recheck.warm(campaign_id)
        delivery.start(queueing=bool(plan.go))
        try:
            counts["failed"] += _queue(ws, db, settings, camp, template, plan.go, step, at,
                                       watched)  # fmt: skip
        finally:
            delivery.queued.set()
            delivery.join()
    _settled(db, watched, counts)


def deliver_campaign(
    ws: Workspace,
    db: AppDB,
    settings: Settings,
    campaign_id: str,
    *,
    now: datetime | None = None,
    sender: EmailSender | None = None,
    on_progress: Callable[[dict[str, int]], None] | None = None,
) -> dict[str, int]:
    """Deliver the campaign's messages that are due now (those deferred by ``send_at``
    or quiet hours, retries), with the same recheck as :func:`send_campaign`; the counts
    of what became of them (``holdout`` and ``capped`` are 0: nobody new is planned).
    What ``campaign send --watch`` runs until nothing is left to go."""
    camp = get_campaign(ws, campaign_id)
    counts = dict.fromkeys(SEND_COUNTS, 0)
    if str(camp["channel"]) != "email":
        return counts
    settings = email_settings(settings)
    sync_feedback(ws, db)
    watched = {i for i, st in _mine(db, campaign_id, None).items() if st in ("pending", "sending")}
    delivery = _Delivery(ws, db, settings, now, counts, watched, on_progress)
    delivery.recheck.warm(campaign_id)
    if sender is not None:
        delivery.run(sender)
    elif watched:
        delivery.start(queueing=False)
        delivery.join()
    _settled(db, watched, counts)
    return counts


def email_settings(settings: Settings) -> Settings:
    """``settings`` able to send email, or :class:`CampaignError` naming what is missing
    (before anything is queued). Without a From address (``SOCIALCRM_EMAIL_FROM``, or
    ``?from=`` in the SMTP URL) campaign mail comes from ``noreply@`` the public URL's
    host, so the two URLs are all a send needs."""
    from urllib.parse import urlsplit

    from socialcrm.outbound.mail import EmailError, from_address

    missing = [n for n, v in (("SOCIALCRM_SMTP_URL", settings.smtp_url),
                              ("SOCIALCRM_PUBLIC_URL", settings.public_url)) if not v]  # fmt: skip
    if missing:
        raise CampaignError(f"set {' and '.join(missing)} to send email")
    try:
        from_address(settings)
    except EmailError:
        host = urlsplit(str(settings.public_url)).hostname or "localhost"
        settings = settings.model_copy(update={"email_from": f"noreply@{host}"})
    except ValueError as e:  # an SMTP URL that does not parse
        raise CampaignError(str(e)) from None
    return settings


class _Delivery:
    """The delivery passes of one send.

    With our own SMTP connections, :data:`SEND_WORKERS` passes run side by side in
    threads, each on its own connection (the outbox's leases keep them off each other's
    messages), and they start while messages are still being queued: a message's
    database work and its SMTP round trip mostly wait on I/O, so building, recording and
    sending overlap. A pass ends when it finds nothing due once queueing is over (or when
    the server keeps failing: the rest waits for a later send). A ``sender`` given by the
    caller is used by one pass, in the caller's thread (:meth:`run`)."""

    def __init__(
        self,
        ws: Workspace,
        db: AppDB,
        settings: Settings,
        now: datetime | None,
        counts: Mapping[str, int],
        watched: set[int],
        on_progress: Callable[[dict[str, int]], None] | None,
    ) -> None:
        self.db, self.settings, self.counts, self.watched = db, settings, counts, watched
        self.now = _naive(now) if now is not None else None
        self.on_progress = on_progress
        self.recheck = ConsentRecheck(ws)
        self.queued = threading.Event()
        """Set once every message of the send is queued."""
        self.queued.set()
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._errors: list[BaseException] = []

    def _report(self) -> None:
        if self.on_progress is not None:
            with self._lock:
                done = dict(self.counts)
                done.update(_statuses(self.db, set(self.watched)))
                self.on_progress(done)

    def run(self, sender: EmailSender | None) -> None:
        """Passes on one connection until nothing is due (and nothing more will be)."""
        from socialcrm.outbound.email import SmtpSender
        from socialcrm.outbound.mail import deliver_emails

        smtp = sender or SmtpSender.from_settings(self.settings)
        try:
            while True:
                last = self.queued.is_set()  # read before the pass: no batch slips by
                r = deliver_emails(self.db, self.settings, sender=smtp, recheck=self.recheck,
                                   now=self.now, limit=DELIVER_BATCH)  # fmt: skip
                if r["sent"] + r["skipped"] + r["dead"]:
                    self._report()
                elif r["failed"] or last:
                    break  # nothing due, or the server is failing: the rest waits
                else:
                    self.queued.wait(0.05)  # the next batch is being built
        finally:
            if sender is None:
                smtp.close()

    def start(self, queueing: bool) -> None:
        if queueing:
            self.queued.clear()

        def work() -> None:
            try:
                self.run(None)
            except BaseException as e:  # raised in the caller's thread by join()
                self._errors.append(e)
                self.queued.set()

        self._threads = [threading.Thread(target=work, name=f"send-{i}", daemon=True)
                         for i in range(SEND_WORKERS)]  # fmt: skip
        for t in self._threads:
            t.start()

    def join(self) -> None:
        for t in self._threads:
            t.join()
        if self._errors:
            raise self._errors[0]


def _statuses(db: AppDB, ids: set[int]) -> dict[str, int]:
    """Of ``ids``: how many are sent, given up, and still to go."""
    if not ids:
        return {"sent": 0, "failed": 0, "queued": 0}
    with db.session() as s:
        rows = s.execute(
            select(OutboxItem.status, func.count())
            .where(OutboxItem.id.in_(sorted(ids)))
            .group_by(OutboxItem.status)
        ).all()
    n = dict(rows)
    return {
        "sent": n.get("sent", 0),
        "failed": n.get("dead", 0),
        "queued": n.get("pending", 0) + n.get("sending", 0),
    }


def _settled(db: AppDB, watched: set[int], counts: dict[str, int]) -> None:
    """Add to ``counts`` what became of the messages due in this call."""
    if not watched:
        return
    with db.session() as s:
        rows = s.execute(
            select(OutboxItem.id, OutboxItem.status, OutboxItem.last_error).where(
                OutboxItem.id.in_(sorted(watched))
            )
        ).all()
    for _, status, reason in rows:
        if status == "sent":
            counts["sent"] += 1
        elif status == "dead":
            counts["failed"] += 1
        elif status == "skipped":
            counts[SKIP_REASONS.get(str(reason), "failed")] += 1


def progress(db: AppDB, campaign_id: str) -> dict[str, int]:
    """The campaign's messages so far, by state: sent, queued (waiting for ``send_at``,
    quiet hours or a retry), skipped at send time, given up."""
    with db.session() as s:
        rows = s.execute(
            select(OutboxItem.status, func.count())
            .where(OutboxItem.campaign_id == campaign_id)
            .group_by(OutboxItem.status)
        ).all()
        due = s.scalar(
            select(func.min(OutboxItem.next_attempt_at)).where(
                OutboxItem.campaign_id == campaign_id, OutboxItem.status == "pending"
            )
        )
    n = dict(rows)
    out = {
        "sent": n.get("sent", 0),
        "queued": n.get("pending", 0) + n.get("sending", 0),
        "skipped": n.get("skipped", 0),
        "failed": n.get("dead", 0),
    }
    if due is not None:
        out["next_due_epoch"] = int(_aware(due).timestamp())
    return out


def audience_preview(
    ws: Workspace,
    db: AppDB,
    settings: Settings,
    *,
    segment: str | None = None,
    action: str | None = None,
    channel: str = "email",
    holdout_share: float = 0.1,
    now: datetime | None = None,
) -> dict[str, int]:
    """What a campaign to a segment or an action's people would reach, before creating
    it: ``audience`` = ``no_consent`` + ``holdout`` + ``suppressed`` + ``capped`` +
    ``reachable``. The holdout is drawn (stratified, as :func:`create_campaign` will)
    from the people with consent."""
    people = audience_for(ws, segment=segment, action=action)
    at = _aware(now)
    granted = consenting(ws, channel)
    who = contacts(ws, people, channel, settings)
    ok = [p for p in people if (granted is None or p in granted) and who[p].address]
    groups = stratified_groups(ok, value_bands(ws), "preview", holdout_share) if ok else []
    treated = [p for p, g in zip(ok, groups, strict=True) if g == "treatment"]
    plan = _plan(ws, db, settings, channel, treated, at, None)
    out = {
        "audience": len(people),
        "holdout": len(ok) - len(treated),
        "no_consent": len(people) - len(ok) + len(plan.stopped["no_consent"]),
        "suppressed": len(plan.stopped["suppressed"]),
        "capped": len(plan.stopped["capped"]),
        "reachable": len(plan.go),
    }
    return out


def preview(
    ws: Workspace, settings: Settings, campaign_id: str, customer_id: str | None = None
) -> tuple[str | None, RenderedEmail]:
    """The campaign's message as ``customer_id`` (default: its first treated person with
    an address) would get it; (that person, the rendered message). Nothing is sent."""
    camp = get_campaign(ws, campaign_id)
    template = _template(camp)
    channel = str(camp["channel"])
    groups = assignments(ws, campaign_id)
    if customer_id is not None:
        people = people_of(ws, [customer_id])
    else:
        people = sorted(c for c, g in groups.items() if g == "treatment")
    who = contacts(ws, people, channel if channel in SENDABLE else "email", settings)
    chosen = next((p for p in people if who[p].address), people[0] if people else None)
    brand, names = catalogue(settings)
    ctx = personal_context(
        who.get(chosen) if chosen else None,
        settings=settings,
        campaign_id=campaign_id,
        brand=brand,
        action=next_actions(ws).get(chosen) if chosen else None,
        products=products_of(ws, [chosen], names).get(chosen, []) if chosen else [],
    )
    from socialcrm.outbound.templates import TemplateError

    try:
        return chosen, template.render(ctx)
    except TemplateError as e:
        raise CampaignError(f"template: {e}") from None


def test_send(
    ws: Workspace,
    db: AppDB,
    settings: Settings,
    campaign_id: str,
    to_address: str,
    *,
    customer_id: str | None = None,
    sender: EmailSender | None = None,
) -> None:
    """Send one copy of the campaign's email, personalised as for ``customer_id`` (or its
    first treated person), to ``to_address`` now, subject marked ``[test]``. It goes
    straight to the SMTP server, not through the outbox: no campaign touch, no
    suppression check, links signed for a test person whose clicks are never counted."""
    from socialcrm.outbound.channel import ChannelError
    from socialcrm.outbound.email import SmtpSender
    from socialcrm.outbound.mail import (
        EmailError,
        build_message,
        from_address,
        message_id_for,
        valid_address,
    )
    from socialcrm.outbound.templates import RenderedEmail
    from socialcrm.outbound.tokens import TokenError

    settings = email_settings(settings)
    _, rendered = preview(ws, settings, campaign_id, customer_id)
    rendered = RenderedEmail(f"[test] {rendered.subject}", rendered.html, rendered.text)
    try:
        to = valid_address(to_address)
        from_addr = from_address(settings)
        mid = message_id_for(f"test|{uuid.uuid4()}", from_addr)
        raw = build_message(
            settings,
            recipient=to,
            rendered=rendered,
            campaign_id=campaign_id,
            customer_id=TEST_CUSTOMER,
            from_addr=from_addr,
            message_id=mid,
        )
        smtp = sender or SmtpSender.from_settings(settings)
        try:
            from email.utils import parseaddr

            smtp.send(parseaddr(from_addr)[1], to, raw)
        finally:
            if sender is None:
                smtp.close()
    except (EmailError, TokenError, ChannelError) as e:
        raise CampaignError(f"test send: {e}") from None


test_send.__test__ = False  # type: ignore[attr-defined]  # the contract's name, not a pytest test


# -- feedback: email events into touches and consents --------------------------------------
SYNC_BATCH = 5000


def sync_feedback(ws: Workspace, db: AppDB) -> dict[str, int]:
    """Copy the app database's new email events into ``touches`` (and unsubscribes into
    ``consents``), then mark them synced; returns the events read and the rows added.

    Idempotent twice over: a touch's id is its event's (``email:<id>``), so an event
    copied by a run that died before marking it is not added again, and consent rows
    are unique by (record, purpose, time)."""
    from socialcrm.outbound.suppression import mark_synced, unsynced_events

    out = {"events": 0, "touches": 0, "consents": 0}
    out["touches"] += _append(ws, _direct_touches(ws, db), [])[0]
    while True:
        with db.session() as s:
            events = [
                (e.id, e.kind, e.campaign_id, e.customer_id, e.at)
                for e in unsynced_events(s, SYNC_BATCH)
            ]
        if not events:
            return out
        touches, consents = _feedback_rows(ws, events)
        added = _append(ws, touches, consents)
        with db.session() as s:
            mark_synced(s, [e[0] for e in events])
        out["events"] += len(events)
        out["touches"] += added[0]
        out["consents"] += added[1]
        if len(events) < SYNC_BATCH:
            return out


TOUCH_EVENTS = frozenset(TOUCHES.column("event").domain or ())


def _direct_touches(ws: Workspace, db: AppDB) -> list[dict[str, object]]:
    """Private messages the outbox sent for campaigns and ``touches`` does not have yet
    (``touch_id`` ``outbox:<item id>``, channel ``social``): they cost and cap like mail."""
    with db.session() as s:
        rows = s.execute(
            select(OutboxItem.id, OutboxItem.customer_id, OutboxItem.campaign_id,
                   OutboxItem.sent_at)
            .where(OutboxItem.connector.in_(sorted(DIRECT_CONNECTORS.values())),
                   OutboxItem.status == "sent", OutboxItem.campaign_id.is_not(None),
                   OutboxItem.customer_id.is_not(None))
        ).all()  # fmt: skip
    if not rows:
        return []
    have: set[str] = set()
    if ws.warehouse.exists("touches"):
        t = ws.warehouse.table("touches")
        got = ws.engine.to_arrow(t.filter(t.touch_id.startswith("outbox:")).select("touch_id"))
        have = set(got.column("touch_id").to_pylist())
    return [
        {"touch_id": f"outbox:{i}", "customer_id": c, "channel": "social", "campaign_id": camp,
         "event": "sent", "at": _aware(at)}
        for i, c, camp, at in rows if f"outbox:{i}" not in have and at is not None
    ]  # fmt: skip


def _feedback_rows(
    ws: Workspace, events: Sequence[tuple[int, str, str | None, str | None, datetime]]
) -> tuple[list[dict[str, object]], list[dict[str, object]]]:
    records: dict[str, list[str]] = {}
    for record, person in _records(ws).items():
        records.setdefault(person, []).append(record)
    touches: list[dict[str, object]] = []
    consents: list[dict[str, object]] = []
    for eid, kind, campaign_id, customer_id, at in events:
        if not customer_id or customer_id == TEST_CUSTOMER or kind not in TOUCH_EVENTS:
            continue
        when = _aware(at)
        touches.append({"touch_id": f"email:{eid}", "customer_id": customer_id,
                        "channel": "email", "campaign_id": campaign_id, "event": kind,
                        "at": when})  # fmt: skip
        if kind == "unsubscribe":
            for record in sorted(records.get(customer_id, [customer_id])):
                consents.append({"customer_id": record, "purpose": "email_marketing",
                                 "status": "withdrawn", "recorded_at": when,
                                 "source": "unsubscribe"})  # fmt: skip
    return touches, consents


def _key(table: pa.Table, columns: Sequence[str]) -> pa.Array:
    """One string per row for a (possibly composite) key, to match rows with ``is_in``."""
    parts = [pc.cast(table.column(c), pa.string()).fill_null("\x00") for c in columns]
    if len(parts) == 1:
        return parts[0].combine_chunks()
    joined = pc.binary_join_element_wise(*parts, "\x1f")
    return joined.combine_chunks()


def _append(
    ws: Workspace, touches: list[dict[str, object]], consents: list[dict[str, object]]
) -> tuple[int, int]:
    """Append rows new by key to ``touches`` and ``consents``, in one atomic commit (the
    way imports append: read and write under the tables' locks)."""
    if not touches and not consents:
        return 0, 0
    wh = ws.warehouse
    added = [0, 0]
    with wh.lock("consents", "touches"), wh.transaction() as tx:
        for i, (name, schema, rows) in enumerate(
            (("touches", TOUCHES, touches), ("consents", CONSENTS, consents))
        ):
            if not rows:
                continue
            new = pa.Table.from_pylist(rows, schema=schema.arrow_schema)
            if wh.exists(name):
                old = wh.read_arrow(name)
                old = old.select(schema.column_names).cast(schema.arrow_schema)
                # vectorised: touches grow to millions of rows, a Python set of them would not
                keep = pc.invert(pc.is_in(_key(new, schema.key), value_set=_key(old, schema.key)))
                new = new.filter(keep)
                if not new.num_rows:
                    continue
                table = pa.concat_tables([old, new])
            else:
                table = new
            tx.write(name, table)
            added[i] = new.num_rows
    return added[0], added[1]


__all__ = [
    "CAP_DAYS",
    "PREVIEW_COUNTS",
    "SEND_COUNTS",
    "ConsentRecheck",
    "Contact",
    "audience_preview",
    "capped",
    "contacts",
    "deliver_campaign",
    "delivery_recheck",
    "personal_context",
    "preview",
    "progress",
    "quiet_until",
    "send_campaign",
    "send_key",
    "sync_feedback",
    "test_send",
    "zone_for",
]
