"""A support team at work on the demo's inbox, so its SLA figures look like a real one's.

The demo's posts span the brand's history up to the day its data ends; synced into the
inbox, every conversation would be "new" and long past its SLAs. Here a small team
(:data:`TEAM`) works them as the history went: each conversation is assigned, answered
and resolved (and a few days later closed) at realistic times, through the inbox's own
actions (:func:`workflow.assign`, :func:`workflow.reply`, :func:`workflow.transition`),
so clocks, breaches and audit lines follow the app's rules. The team works 07:00–23:00
UTC; a message arriving at night waits for the morning, which is where most late first
responses come from. Some conversations are never answered (a busy day, a post nobody
saw), and those still in progress when the data ends stay open.

Deterministic: every draw comes from ``seed`` and the conversation's id. Idempotent: a
conversation is worked once (a cursor remembers the last), and only if nobody touched it
yet (new and unassigned).
"""

from __future__ import annotations

import math
import random
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import delete, func, select

from socialcrm.appdb.accounts import create_user
from socialcrm.appdb.models import (
    ConnectorCursor,
    Conversation,
    ConversationMessage,
    DomainEvent,
    OutboxItem,
    User,
)
from socialcrm.config import Settings
from socialcrm.responding import workflow

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from socialcrm.appdb.db import AppDB

TEAM = ("sam", "alex", "robin")
"""The demo's agents, ``<name>@demo.socialcrm.local``; they cannot sign in (random
passwords, never shown): an admin sets one with ``socialcrm users`` to try the role."""
DOMAIN = "demo.socialcrm.local"
REPLIES = (
    "Hi {handle}, thanks for getting in touch! We're looking into this for you now.",
    "Thanks {handle}, sorry about the trouble. Could you send us your order number?",
    "Hello {handle}, glad you asked: our team has the details and will follow up here.",
    "Thanks for the feedback, {handle}! We've passed it on to the product team.",
)
BATCH = 250
CURSOR = "demo:inbox_team"
"""The last conversation the team worked (in the connector cursors' table): a second run
works only conversations synced since."""


@dataclass(frozen=True)
class Team:
    """How the demo team works: shares and times (hours)."""

    ignored: float = 0.04  # never answered
    left_waiting: float = 0.06  # answered, the customer never wrote back
    reply_median_hours: float = 0.8  # once someone is at work
    reply_spread: float = 0.9  # lognormal sigma
    resolve_median_hours: float = 7.0  # after the first reply
    resolve_spread: float = 1.1
    close_after_days: float = 3.0
    tidy_after_days: float = 7.0  # a conversation waiting on a silent customer
    day_starts: int = 7  # UTC: a social care team covers the evening too
    day_ends: int = 23


def _at_work(t: datetime, team: Team) -> datetime:
    """``t``, or the next moment the team is at work."""
    if team.day_starts <= t.hour < team.day_ends:
        return t
    start = t.replace(hour=team.day_starts, minute=0, second=0, microsecond=0)
    return start if t.hour < team.day_starts else start + timedelta(days=1)


def _lognormal(rng: random.Random, median: float, spread: float) -> timedelta:
    return timedelta(hours=median * math.exp(rng.gauss(0.0, spread)))


def ensure_team(s: Session) -> list[User]:
    """The demo agents, created once (with passwords nobody knows)."""
    out = []
    for name in TEAM:
        email = f"{name}@{DOMAIN}"
        user = s.scalar(select(User).where(User.email == email))
        if user is None:
            user = create_user(s, email, secrets.token_urlsafe(24), "agent", actor="demo")
        out.append(user)
    return out


def _work(
    s: Session, conv: Conversation, team: list[User], rng: random.Random, as_of: datetime,
    settings: Settings, how: Team,
) -> str:  # fmt: skip
    """Work one conversation as the team would have, up to ``as_of``; what became of it."""
    # Replayed from the first message: breaches are those the replay shows. A reply the
    # brand posted itself (in the demo's posts, synced) is the first response.
    answered = conv.first_response_at
    conv.first_response_breached = answered is not None and answered > conv.first_response_due
    conv.resolution_breached = False
    if answered is None and rng.random() < how.ignored:
        return "ignored"
    agent = team[rng.randrange(len(team))]
    answer = answered or _at_work(conv.first_message_at, how) + _lognormal(
        rng, how.reply_median_hours, how.reply_spread
    )
    picked = max(answer - timedelta(minutes=rng.uniform(1, 15)), conv.first_message_at)
    if picked > as_of:
        return "new"
    workflow.assign(s, conv, agent.id, agent.email, now=picked)
    if answer > as_of:
        return "assigned"
    if answered is None:
        body = REPLIES[rng.randrange(len(REPLIES))]
        item_id = workflow.reply(s, conv, body, agent.email, connector=settings.inbox_connector,
                                 key=f"demo-reply:{conv.id}", now=answer)  # fmt: skip
        _sent(s, item_id, conv, settings, answer)
    if rng.random() < how.left_waiting:  # no word back: resolved when the team tidies up
        resolved = _at_work(answer + timedelta(days=how.tidy_after_days), how)
    else:
        resolved = _at_work(
            answer + _lognormal(rng, how.resolve_median_hours, how.resolve_spread), how
        )
    if resolved > as_of:
        return "waiting"
    workflow.transition(s, conv, "resolved", agent.email, now=resolved)
    closed = resolved + timedelta(days=how.close_after_days)
    if closed > as_of:
        return "resolved"
    workflow.transition(s, conv, "closed", agent.email, now=closed)
    return "closed"


def _sent(s: Session, item_id: int, conv: Conversation, settings: Settings, at: datetime) -> None:
    """The reply went out at ``at`` (it is history): sent, and in the thread."""
    item = s.get(OutboxItem, item_id)
    assert item is not None
    item.status, item.sent_at, item.attempts = "sent", at, 1
    item.external_id = f"demo-reply-{item.id}"
    s.add(
        ConversationMessage(
            conversation_id=conv.id, platform=conv.platform, post_id=item.external_id,
            direction="out", author_handle=settings.inbox_brand_handle or "brand",
            text=item.body, reply_to_post_id=item.in_reply_to, created_at=at,
        )
    )  # fmt: skip


def work_the_inbox(
    db: AppDB, settings: Settings, seed: int, how: Team | None = None
) -> dict[str, int]:
    """Let the demo team work every untouched conversation up to the newest message (the
    day the demo's data ends); counts by outcome. A breach recorded before the replay
    that the replay shows did not happen (answered in time) is withdrawn, unless it was
    already handed to webhooks."""
    how = how or Team()
    with db.session() as s:
        as_of = s.scalar(select(func.max(Conversation.last_message_at)))
        team = ensure_team(s)
    out: dict[str, int] = {}
    if as_of is None:
        return out
    with db.session() as s:
        cursor = s.get(ConnectorCursor, CURSOR)
        after = int(cursor.value) if cursor else 0
    while True:
        with db.session() as s:
            team = [u for u in (s.get(User, t.id) for t in team) if u is not None]
            convs = list(
                s.scalars(
                    select(Conversation)
                    .where(
                        Conversation.id > after,
                        Conversation.state == "new",
                        Conversation.assignee_id.is_(None),
                    )
                    .order_by(Conversation.id)
                    .limit(BATCH)
                )
            )
            if not convs:
                return out
            for conv in convs:
                rng = random.Random(seed * 1_000_003 + conv.id)
                what = _work(s, conv, team, rng, as_of, settings, how)
                out[what] = out.get(what, 0) + 1
            _withdraw_breaches(
                s, [c for c in convs if not c.first_response_breached], "first_response"
            )
            _withdraw_breaches(s, [c for c in convs if not c.resolution_breached], "resolution")
            after = convs[-1].id
            _set_cursor(s, after)


def _set_cursor(s: Session, last: int) -> None:
    cursor = s.get(ConnectorCursor, CURSOR)
    if cursor is None:
        s.add(ConnectorCursor(name=CURSOR, value=str(last)))
    else:
        cursor.value = str(last)


def _withdraw_breaches(s: Session, convs: list[Conversation], which: str) -> None:
    keys = [f"sla_breached:{c.id}:{which}" for c in convs]
    if keys:
        s.execute(
            delete(DomainEvent).where(
                DomainEvent.key.in_(keys), DomainEvent.webhook_imported.is_(False)
            )
        )
