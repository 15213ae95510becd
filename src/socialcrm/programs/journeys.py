"""Journeys: a trigger, a wait, an action, and an exit — run by the scheduler, measured.

A journey follows people up one by one instead of in one blast:

* **trigger** — a person *enters* a segment (``customer_segments``; who was already in it
  at the journey's first run is its baseline and is not enrolled, unless the journey
  includes current members), or a valuable customer (``transaction_score`` ≥ the
  journey's ``min_score``) writes a negative post (``posts_enriched``, not spam, linked to
  the customer with their social-linking consent) newer than the last one it looked at;
* **wait** — ``wait_hours`` after enrolment the action is due;
* **action** — an email from the journey's template, or a private social message,
  through :func:`~socialcrm.programs.sending.send_campaign` with
  ``step="journey:<name>:1"`` (consent, suppression, frequency caps and quiet hours are
  checked there again, at send time);
* **exit** — a person who ordered after enrolling (converted) or unsubscribed, complained
  or withdrew consent since leaves before the action.

Measured like a campaign: enrolments go into a campaign of the journey's *period*
(``journey-<name>-<k>``, one per ``period_days``), whose holdout draws them at random
(stratified by value band) the moment they enrol; held-out people are never contacted.
The campaign's window runs from the period's start to its end plus the wait plus
``window_days``, so ``socialcrm campaign report`` measures the journey against its
holdout, and the learning step learns from it like from any campaign with an action or
a segment. Orders of both groups in the window before a person enrolled dilute the
difference equally; they do not bias it.

Idempotent: one enrolment per (journey, person) — the table's unique pair — and one
message per (campaign, person, step) — the outbox's idempotency key. Running twice, or
crashing between the send and the bookkeeping, enrols and sends nobody twice. A person
who leaves a segment and enters it again is not enrolled again.
"""

from __future__ import annotations

import logging
import math
import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from socialcrm.appdb.accounts import audit
from socialcrm.appdb.models import EmailEvent, Journey, JourneyEnrolment, OutboxItem
from socialcrm.config import Settings
from socialcrm.outbound.periodic import Periodic, repeat
from socialcrm.store.workspace import Workspace

if TYPE_CHECKING:
    from socialcrm.appdb.db import AppDB
    from socialcrm.outbound.email import EmailSender

log = logging.getLogger(__name__)

TRIGGERS = ("segment", "negative_post")
CHANNELS = ("email", "mastodon", "bluesky")
STATES = ("baseline", "waiting", "sent", "held_out", "not_sent", "exited", "left_out")
DEFAULT_MIN_SCORE = 60.0
"""A negative post counts from a customer at least this valuable (transaction
percentile, as the at_risk_high_value rule reads it)."""
NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,59}$")
STEP = 1
OUTCOMES = {
    "sent": "sent",
    "pending": "queued: goes out after the quiet hours, the send time or a retry",
    "sending": "queued: going out now",
    "skipped": "not sent: {}",
    "dead": "not sent: the server refused it ({})",
}
"""A treated person's outcome in words, by their outbox item's status (none: stopped
before queueing — the counts of that batch say why)."""
"""Journeys have one action today: the step number in its idempotency key."""


class JourneyError(ValueError):
    """A journey that cannot be created or run, with the reason."""


def _naive(t: datetime) -> datetime:
    """UTC without a zone, as the app database stores times."""
    return t.astimezone(UTC).replace(tzinfo=None) if t.tzinfo else t


def step_name(name: str, n: int = STEP) -> str:
    """The ``step`` of a journey's messages in the outbox's idempotency key.

    >>> step_name("win-back")
    'journey:win-back:1'
    """
    return f"journey:{name}:{n}"


# -- defining journeys --------------------------------------------------------------------
def create_journey(
    s: Session,
    *,
    name: str,
    trigger: str,
    template: str,
    wait_hours: float,
    subject: str | None = None,
    segment: str | None = None,
    min_score: float | None = None,
    channel: str = "email",
    action: str | None = None,
    holdout_share: float = 0.1,
    period_days: int = 30,
    window_days: int = 30,
    include_current: bool = False,
    actor: str = "cli",
) -> Journey:
    """Define a journey (checked now: the template's syntax, the trigger's parts)."""
    from socialcrm.outbound.templates import TemplateError, load_template

    if not NAME.match(name):
        raise JourneyError(
            f"journey name {name!r}: lower-case letters, digits, - and _, at most 60"
        )
    if trigger not in TRIGGERS:
        raise JourneyError(f"unknown trigger {trigger!r}; use {' or '.join(TRIGGERS)}")
    if trigger == "segment" and not segment:
        raise JourneyError("a segment journey needs the segment people enter")
    if trigger == "negative_post" and segment:
        raise JourneyError("a negative-post journey has no segment")
    if channel not in CHANNELS:
        raise JourneyError(f"unknown channel {channel!r}; use {', '.join(CHANNELS)}")
    if channel == "email" and not (subject or "").strip():
        raise JourneyError("an email journey needs a subject")
    if not 0 < holdout_share < 1:
        raise JourneyError(f"holdout share must be between 0 and 1, got {holdout_share}")
    if not (math.isfinite(wait_hours) and wait_hours >= 0):
        raise JourneyError(f"wait must be 0 hours or more, got {wait_hours}")
    if period_days < 1 or window_days < 1:
        raise JourneyError("period and window are at least one day")
    try:
        load_template(template, subject or "")
    except TemplateError as e:
        raise JourneyError(f"template: {e}") from None
    if s.scalar(select(Journey.id).where(Journey.name == name)) is not None:
        raise JourneyError(f"journey {name!r} already exists")
    j = Journey(
        name=name,
        trigger=trigger,
        segment=segment,
        min_score=(DEFAULT_MIN_SCORE if min_score is None else float(min_score))
        if trigger == "negative_post"
        else None,
        wait_hours=float(wait_hours),
        channel=channel,
        template=template,
        subject=subject,
        action=action,
        holdout_share=float(holdout_share),
        period_days=period_days,
        window_days=window_days,
        include_current=include_current,
        active=True,
        created_by=actor,
    )
    s.add(j)
    s.flush()
    audit(s, actor, "journey.create", name, trigger=trigger, segment=segment, channel=channel)
    return j


def get_journey(s: Session, name: str) -> Journey:
    j = s.scalar(select(Journey).where(Journey.name == name))
    if j is None:
        raise JourneyError(f"unknown journey {name!r}")
    return j


def set_active(s: Session, name: str, active: bool, actor: str = "cli") -> Journey:
    """Pause (``active=False``) or resume a journey; paused ones enrol and send nothing."""
    j = get_journey(s, name)
    j.active = active
    audit(s, actor, "journey.resume" if active else "journey.pause", name)
    return j


def list_journeys(s: Session) -> list[dict[str, Any]]:
    """Every journey with its enrolments counted per state and group, newest first."""
    counts: dict[int, dict[str, int]] = {}
    rows = s.execute(
        select(
            JourneyEnrolment.journey_id, JourneyEnrolment.state, JourneyEnrolment.grp, func.count()
        ).group_by(JourneyEnrolment.journey_id, JourneyEnrolment.state, JourneyEnrolment.grp)
    )
    converted = dict(
        s.execute(
            select(JourneyEnrolment.journey_id, func.count())
            .where(JourneyEnrolment.converted_at.is_not(None))
            .group_by(JourneyEnrolment.journey_id)
        ).all()
    )
    for jid, state, grp, n in rows:
        c = counts.setdefault(jid, {})
        c[state] = c.get(state, 0) + n
        if grp and state != "baseline":
            c[grp] = c.get(grp, 0) + n
    out = []
    for j in s.scalars(select(Journey).order_by(Journey.created_at.desc(), Journey.id.desc())):
        c = counts.get(j.id, {})
        out.append(
            {
                "name": j.name,
                "trigger": j.trigger,
                "segment": j.segment,
                "min_score": j.min_score,
                "wait_hours": j.wait_hours,
                "channel": j.channel,
                "subject": j.subject,
                "action": j.action,
                "holdout_share": j.holdout_share,
                "active": j.active,
                "started_at": j.started_at,
                "created_at": j.created_at,
                "enrolled": sum(v for k, v in c.items() if k in STATES and k != "baseline"),
                "converted": int(converted.get(j.id, 0)),
                **{k: c.get(k, 0) for k in (*STATES, "treatment", "control")},
            }
        )
    return out


def describe(j: Journey | dict[str, Any]) -> str:
    """The journey in one sentence.

    >>> describe({"trigger": "segment", "segment": "at_risk_high_value", "wait_hours": 48,
    ...     "channel": "email", "holdout_share": 0.1, "min_score": None})
    'when someone enters at_risk_high_value, wait 2 days, then email them (10% held out)'
    """
    d = j if isinstance(j, dict) else {k: getattr(j, k) for k in ("trigger", "segment",
        "wait_hours", "channel", "holdout_share", "min_score")}  # fmt: skip
    hours = float(d["wait_hours"])
    wait = (
        "at once"
        if hours == 0
        else f"wait {hours / 24:g} days"
        if hours % 24 == 0
        else f"wait {hours:g} hours"
    )
    who = (
        f"when someone enters {d['segment']}"
        if d["trigger"] == "segment"
        else f"when a customer with transaction score ≥ {d['min_score']:g} posts something negative"
    )
    how = "email them" if d["channel"] == "email" else f"message them privately on {d['channel']}"
    return f"{who}, {wait}, then {how} ({d['holdout_share']:.0%} held out)"


# -- running them --------------------------------------------------------------------------
@dataclass(frozen=True)
class Entrant:
    customer_id: str
    reason: str


def segment_entrants(ws: Workspace, segment: str) -> list[Entrant]:
    """Everyone in ``segment`` now (the caller keeps those it has already seen)."""
    if not ws.warehouse.exists("customer_segments"):
        return []
    t = ws.warehouse.table("customer_segments")
    ids = ws.engine.to_arrow(t.filter(t.segment == segment).select("customer_id"))
    return [Entrant(str(c), f"entered {segment}") for c in sorted(ids["customer_id"].to_pylist())]


def negative_posts(
    ws: Workspace, min_score: float, after: datetime | None
) -> tuple[list[Entrant], datetime | None]:
    """Authors of negative, non-spam posts newer than ``after`` whose transaction score is
    at least ``min_score``; and the newest post time seen (the journey's next cursor)."""
    if not ws.warehouse.exists("posts_enriched"):
        return [], after
    p = ws.warehouse.table("posts_enriched")
    newest = ws.engine.execute(p.created_at.max())
    if newest is not None and hasattr(newest, "to_pydatetime"):
        newest = newest.to_pydatetime()  # a pandas Timestamp
    newest = None if newest is None else _naive(newest)
    if after is not None:
        p = p.filter(p.created_at > after.replace(tzinfo=UTC))
    p = p.filter(
        (p.sentiment_label == "negative") & p.customer_id.notnull() & ~p.is_spam.fill_null(False)
    )
    if not ws.warehouse.exists("customer_segments"):
        return [], newest
    s = ws.warehouse.table("customer_segments")
    valuable = s.filter(s.transaction_score >= min_score).select(v_id=s.customer_id)
    j = p.inner_join(valuable, p.customer_id == valuable.v_id)
    first = j.group_by("customer_id").aggregate(
        post_id=j.post_id.argmin(j.created_at), platform=j.platform.argmin(j.created_at)
    )
    rows = sorted(ws.engine.to_arrow(first).to_pylist(), key=lambda r: r["customer_id"])
    out = [
        Entrant(str(r["customer_id"]), f"negative post {r['post_id']} on {r['platform']}")
        for r in rows
    ]
    return out, max(filter(None, [newest, after]), default=None)


def _converted(ws: Workspace, since: dict[str, datetime]) -> dict[str, datetime]:
    """Person → first completed order after their enrolment time in ``since``."""
    if not since or not ws.warehouse.exists("orders"):
        return {}
    from socialcrm.value.orders import customer_orders

    o = customer_orders(ws)
    o = o.filter(o.customer_id.isin(ws.engine.values(sorted(since))) & (o.status == "completed"))
    o = o.filter(o.ordered_at >= min(since.values()).replace(tzinfo=UTC))
    rows = ws.engine.to_arrow(o.select("customer_id", "ordered_at")).to_pylist()
    out: dict[str, datetime] = {}
    for r in rows:
        at = _naive(r["ordered_at"])
        cid = str(r["customer_id"])
        if at > since[cid] and (cid not in out or at < out[cid]):
            out[cid] = at
    return out


def _unsubscribed(s: Session, ws: Workspace, channel: str, since: dict[str, datetime]) -> set[str]:
    """People who unsubscribed or complained (email events) after enrolling (``since``),
    or whose consent for the channel is no longer in force (a consent given again after
    an old unsubscribe counts: it is the latest decision)."""
    from socialcrm.programs.campaigns import consenting

    if not since:
        return set()
    events = s.execute(
        select(EmailEvent.customer_id, EmailEvent.at).where(
            EmailEvent.customer_id.in_(sorted(since)),
            EmailEvent.kind.in_(("unsubscribe", "complaint")),
        )
    )
    gone = {str(c) for c, at in events if c in since and at >= since[c]}
    ok = consenting(ws, channel)
    if ok is not None:
        gone |= {c for c in since if c not in ok}
    return gone


def period_campaign(j: Journey, now: datetime) -> tuple[str, datetime, datetime]:
    """(campaign id, start, end of its window) of the journey's period holding ``now``."""
    start = j.started_at or now
    k = max(int((now - start) / timedelta(days=j.period_days)), 0)
    begins = start + timedelta(days=k * j.period_days)
    ends = begins + timedelta(days=j.period_days + j.window_days, hours=j.wait_hours)
    return f"journey-{j.name}-{k + 1}", begins, ends


def _assign(
    ws: Workspace, j: Journey, people: list[str], now: datetime
) -> tuple[str, dict[str, str]]:
    """Put new entrants into the period's campaign; their groups (absent: no consent)."""
    from socialcrm.programs.campaigns import (
        CampaignError,
        add_to_campaign,
        assignments,
        create_campaign,
        get_campaign,
    )

    cid, begins, ends = period_campaign(j, now)
    try:
        get_campaign(ws, cid)
        add_to_campaign(ws, cid, people)
    except CampaignError:
        try:
            create_campaign(
                ws,
                cid,
                people,
                starts_at=begins.replace(tzinfo=UTC),
                ends_at=ends.replace(tzinfo=UTC),
                holdout_share=j.holdout_share,
                name=f"Journey {j.name} (period {cid.rsplit('-', 1)[1]})",
                channel=j.channel,
                template=j.template,
                subject=j.subject,
                segment=j.segment,
                action=j.action,
            )
        except CampaignError as e:
            if "consent" not in str(e):
                raise JourneyError(f"journey {j.name}: {e}") from None
            return cid, {}  # nobody with the channel's consent: all left out
    groups = assignments(ws, cid)
    return cid, {c: groups[c] for c in people if c in groups}


def run_journey(
    ws: Workspace,
    db: AppDB,
    settings: Settings,
    name: str,
    *,
    now: datetime | None = None,
    sender: EmailSender | None = None,
) -> dict[str, int]:
    """One pass of one journey: enrol entrants, exit the converted and unsubscribed, act
    on those due. Returns what it did, in counts."""
    now = _naive(now or datetime.now(UTC))
    counts = dict.fromkeys(
        ("entered", "baseline", "left_out", "converted", "unsubscribed", "held_out", "sent",
         "not_sent"), 0
    )  # fmt: skip
    try:
        with db.session() as s:
            j = get_journey(s, name)
            if not j.active:
                return counts
            counts.update(_enrol(ws, s, j, now))
            journey_id, channel = j.id, j.channel
    except IntegrityError:  # another pass enrolled some of them first: theirs stands
        return counts
    counts.update(_exits(ws, db, journey_id, channel, now))
    counts.update(_act(ws, db, settings, journey_id, name, now, sender))
    _mark_conversions(ws, db, journey_id)
    return counts


def _enrol(ws: Workspace, s: Session, j: Journey, now: datetime) -> dict[str, int]:
    """New entrants into the journey (and its period's campaign), once each."""
    if j.trigger == "segment":
        entrants = segment_entrants(ws, str(j.segment))
        cursor = j.cursor
    else:
        after = j.cursor if (j.started_at is not None or not j.include_current) else None
        entrants, cursor = negative_posts(ws, float(j.min_score or DEFAULT_MIN_SCORE), after)
        if j.started_at is None and not j.include_current:
            entrants = []  # the first look only sets the cursor: older posts are history
    seen = set(
        s.scalars(select(JourneyEnrolment.customer_id).where(JourneyEnrolment.journey_id == j.id))
    )
    new = [e for e in entrants if e.customer_id not in seen]
    n = {"entered": 0, "baseline": 0, "left_out": 0}
    first = j.started_at is None
    if first:
        j.started_at = now
    j.cursor = cursor
    if first and not j.include_current and j.trigger == "segment":
        for e in new:
            s.add(JourneyEnrolment(journey_id=j.id, customer_id=e.customer_id,
                                   state="baseline", reason=e.reason, enrolled_at=now))  # fmt: skip
        n["baseline"] = len(new)
        return n
    if not new:
        return n
    cid, groups = _assign(ws, j, [e.customer_id for e in new], now)
    due = now + timedelta(hours=j.wait_hours)
    for e in new:
        grp = groups.get(e.customer_id)
        s.add(
            JourneyEnrolment(
                journey_id=j.id,
                customer_id=e.customer_id,
                campaign_id=cid,
                grp=grp,
                state="waiting" if grp else "left_out",
                reason=e.reason,
                enrolled_at=now,
                due_at=due if grp else None,
                exited_at=None if grp else now,
                exit_reason=None if grp else "no_consent",
            )
        )
        n["entered" if grp else "left_out"] += 1
    s.flush()
    return n


def _exits(
    ws: Workspace, db: AppDB, journey_id: int, channel: str, now: datetime
) -> dict[str, int]:
    """Waiting people who converted or unsubscribed since enrolling leave, both groups
    alike (what a holdout person does is never acted on anyway)."""
    with db.session() as s:
        waiting = list(
            s.scalars(
                select(JourneyEnrolment).where(
                    JourneyEnrolment.journey_id == journey_id, JourneyEnrolment.state == "waiting"
                )
            )
        )
        if not waiting:
            return {"converted": 0, "unsubscribed": 0}
        bought = _converted(ws, {e.customer_id: e.enrolled_at for e in waiting})
        gone = _unsubscribed(s, ws, channel, {e.customer_id: e.enrolled_at for e in waiting})
        n = {"converted": 0, "unsubscribed": 0}
        for e in waiting:
            if e.customer_id in bought:
                e.state, e.exit_reason, e.exited_at = "exited", "converted", now
                e.converted_at = bought[e.customer_id]
                n["converted"] += 1
            elif e.customer_id in gone:
                e.state, e.exit_reason, e.exited_at = "exited", "unsubscribed", now
                n["unsubscribed"] += 1
        return n


def _act(
    ws: Workspace,
    db: AppDB,
    settings: Settings,
    journey_id: int,
    name: str,
    now: datetime,
    sender: EmailSender | None,
) -> dict[str, int]:
    """The due: held-out people are marked, treated ones sent to, campaign by campaign."""
    from socialcrm.programs.sending import send_campaign

    n = {"held_out": 0, "sent": 0, "not_sent": 0}
    with db.session() as s:
        due = list(
            s.scalars(
                select(JourneyEnrolment).where(
                    JourneyEnrolment.journey_id == journey_id,
                    JourneyEnrolment.state == "waiting",
                    JourneyEnrolment.due_at <= now,
                )
            )
        )
        for e in due:
            if e.grp == "control":
                e.state, e.acted_at, e.outcome = "held_out", now, "held out: not contacted"
                n["held_out"] += 1
        by_campaign: dict[str, list[str]] = {}
        for e in due:
            if e.grp == "treatment":
                by_campaign.setdefault(str(e.campaign_id), []).append(e.customer_id)
    # the send commits its own outbox rows; our bookkeeping follows in a new transaction,
    # and a crash in between is healed by the next pass (the outbox key refuses a twin)
    for cid, people in by_campaign.items():
        result = send_campaign(
            ws, db, settings, cid, customer_ids=people, step=step_name(name), now=now, sender=sender
        )
        summary = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in result.items() if v)
        with db.session() as s:
            status = {
                str(c): (st, err)
                for c, st, err in s.execute(
                    select(OutboxItem.customer_id, OutboxItem.status, OutboxItem.last_error).where(
                        OutboxItem.campaign_id == cid, OutboxItem.customer_id.in_(people)
                    )
                )
            }
            for e in s.scalars(
                select(JourneyEnrolment).where(
                    JourneyEnrolment.journey_id == journey_id,
                    JourneyEnrolment.campaign_id == cid,
                    JourneyEnrolment.customer_id.in_(people),
                    JourneyEnrolment.state == "waiting",
                )
            ):
                st, err = status.get(e.customer_id, (None, None))
                e.acted_at = now
                e.state = "sent" if st in ("sent", "pending", "sending") else "not_sent"
                e.outcome = OUTCOMES.get(str(st), "stopped at send time ({})").format(
                    err or summary or "no address"
                )
                n[e.state] += 1
    return n


def _mark_conversions(ws: Workspace, db: AppDB, journey_id: int) -> None:
    """The first order after enrolment of people past the wait, in both groups: what the
    journeys page counts (the campaign report measures it properly)."""
    with db.session() as s:
        acted = list(
            s.scalars(
                select(JourneyEnrolment).where(
                    JourneyEnrolment.journey_id == journey_id,
                    JourneyEnrolment.state.in_(("sent", "held_out", "not_sent")),
                    JourneyEnrolment.converted_at.is_(None),
                )
            )
        )
        bought = _converted(ws, {e.customer_id: e.enrolled_at for e in acted})
        for e in acted:
            if e.customer_id in bought:
                e.converted_at = bought[e.customer_id]


def run_journeys(
    ws: Workspace,
    db: AppDB,
    settings: Settings,
    *,
    names: Sequence[str] | None = None,
    now: datetime | None = None,
    sender: EmailSender | None = None,
) -> dict[str, dict[str, int]]:
    """One pass of every active journey (or those named), oldest first."""
    with db.session() as s:
        q = select(Journey.name).where(Journey.active).order_by(Journey.id)
        todo = [n for n in s.scalars(q) if names is None or n in names]
        if names:
            for n in names:
                get_journey(s, n)  # an unknown name is an error, not a silent no-op
    return {n: run_journey(ws, db, settings, n, now=now, sender=sender) for n in todo}


# -- the scheduler ---------------------------------------------------------------------------
def run_pass(db: AppDB, settings: Settings) -> dict[str, dict[str, int]]:
    """One pass on the workspace of ``settings`` (DuckDB: a server never starts Spark)."""
    with Workspace.open(settings.model_copy(update={"engine": "duckdb"})) as ws:
        return run_journeys(ws, db, settings)


def watch(
    db: AppDB,
    settings: Settings,
    interval: float,
    *,
    passes: int | None = None,
    on_pass: Callable[[dict[str, dict[str, int]] | None], None] | None = None,
    stop: threading.Event | None = None,
) -> int:
    """A pass every ``interval`` seconds (backing off while passes fail) until ``stop``
    is set or ``passes`` ran: ``socialcrm journey run --watch``."""
    return repeat(lambda: run_pass(db, settings), interval, name="journey", stop=stop,
                  passes=passes, on_pass=on_pass)  # fmt: skip


class Scheduler(Periodic[dict[str, dict[str, int]]]):
    """The web app's background journey task: a pass every ``interval`` seconds; one cut
    short at shutdown is resumed by the next start (enrolments and sends are idempotent)."""

    def __init__(self, db: AppDB, settings: Settings, interval: float) -> None:
        super().__init__("journey", lambda: run_pass(db, settings), interval)


def start(db: AppDB, settings: Settings) -> Scheduler | None:
    """Run journeys in the running event loop every ``journey_interval_seconds`` (None
    when 0, the default: then ``socialcrm journey run --watch`` or cron runs them)."""
    interval = settings.journey_interval_seconds
    if interval <= 0:
        return None
    return Scheduler(db, settings, interval)


__all__ = [
    "CHANNELS",
    "STATES",
    "TRIGGERS",
    "JourneyError",
    "Scheduler",
    "create_journey",
    "describe",
    "get_journey",
    "list_journeys",
    "negative_posts",
    "period_campaign",
    "run_journey",
    "run_journeys",
    "segment_entrants",
    "set_active",
    "start",
    "step_name",
    "watch",
]
