"""Tables of the app database. Schema changes go through a migration in ``migrations/``."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship, validates

# Least privilege, lowest first: a viewer sees aggregates and masked contacts; an agent
# also sees contacts (they answer customers); an analyst reads and exports everything;
# an admin also manages users and tokens.
ROLES: tuple[str, ...] = ("viewer", "agent", "analyst", "admin")


def role_rank(role: str) -> int:
    return ROLES.index(role)


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[datetime | None]

    tokens: Mapped[list[ApiToken]] = relationship(back_populates="user")


class ApiToken(Base):
    """A bearer token for the REST API. Only its SHA-256 is stored: the secret is shown once."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    role: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]

    user: Mapped[User] = relationship(back_populates="tokens")


class AuditEntry(Base):
    """Who changed what, and when. Append-only."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_at", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor: Mapped[str] = mapped_column(String(320))
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str] = mapped_column(String(320), default="")
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


# -- programs: referrals and loyalty (issue 7, parts 4 and 5) ---------------------------
class ReferralCode(Base):
    """A customer's referral code: random, stored, so it is stable and unguessable."""

    __tablename__ = "referral_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[str] = mapped_column(String(200), unique=True)
    code: Mapped[str] = mapped_column(String(16), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ReferralEntry(Base):
    """One decision on one referred order: rewarded, or refused with its reason.

    ``order_id`` is unique: an order is decided once, so replaying files changes nothing.
    """

    __tablename__ = "referral_ledger"
    __table_args__ = (Index("ix_referral_ledger_referrer", "referrer_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[str] = mapped_column(String(200), unique=True)
    code: Mapped[str] = mapped_column(String(16))
    referrer_id: Mapped[str | None] = mapped_column(String(200))
    buyer_id: Mapped[str | None] = mapped_column(String(200))
    order_amount: Mapped[float | None] = mapped_column(Float)
    order_currency: Mapped[str | None] = mapped_column(String(3))
    ordered_at: Mapped[datetime | None]
    status: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(String(32))
    detail: Mapped[str | None] = mapped_column(String(500))
    reward: Mapped[float] = mapped_column(Float, default=0.0)
    reward_currency: Mapped[str] = mapped_column(String(3))
    via: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class LoyaltyEntry(Base):
    """One line of the points ledger, traceable to the event that caused it.

    ``event_key`` (``order:A17``, ``reshare:twitter:123``) is unique: replaying the same
    orders or events awards nothing twice. Refused awards stay with 0 points and a note.
    """

    __tablename__ = "loyalty_ledger"
    __table_args__ = (Index("ix_loyalty_ledger_customer", "customer_id", "occurred_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[str] = mapped_column(String(200))
    event_key: Mapped[str] = mapped_column(String(300), unique=True)
    kind: Mapped[str] = mapped_column(String(32))
    points: Mapped[int]
    occurred_at: Mapped[datetime]
    source: Mapped[str] = mapped_column(String(300))
    note: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


# -- responding: the engagement inbox (issue 9, parts 1 and 2) --------------------------
CONVERSATION_STATES: tuple[str, ...] = ("new", "open", "waiting", "resolved", "closed")


class Conversation(Base):
    """One thread that may need the brand: grouped posts, priority with its parts, SLAs.

    ``key`` names the grouping (``thread:<platform>:<root post>`` or
    ``author:<platform>:<handle>:<topic>:<window start>``) so a sync never adds it twice.
    """

    __tablename__ = "conversations"
    __table_args__ = (
        Index("ix_conversations_open_priority", "is_open", "priority", "id"),
        Index("ix_conversations_state_priority", "state", "priority", "id"),
        Index("ix_conversations_assignee", "assignee_id", "is_open", "priority", "id"),
        Index("ix_conversations_author", "platform", "author_handle"),
        Index("ix_conversations_customer", "customer_id"),
        Index("ix_conversations_queue", "queue", "is_open", "priority", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(400), unique=True)
    platform: Mapped[str] = mapped_column(String(32))
    author_handle: Mapped[str] = mapped_column(String(200))
    customer_id: Mapped[str | None] = mapped_column(String(200))
    topic_id: Mapped[int | None]
    queue: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str] = mapped_column(String(300))
    state: Mapped[str] = mapped_column(String(16), default="new")
    is_open: Mapped[bool] = mapped_column(default=True)
    """``state`` is new, open or waiting: kept with it so the inbox list is one index scan."""
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    priority: Mapped[float] = mapped_column(Float, default=0.0)
    priority_parts: Mapped[dict[str, float]] = mapped_column(JSON, default=dict)
    sentiment_score: Mapped[float | None] = mapped_column(Float)
    intent: Mapped[str | None] = mapped_column(String(32))
    influence: Mapped[float | None] = mapped_column(Float)
    clv: Mapped[float | None] = mapped_column(Float)
    risk_band: Mapped[str | None] = mapped_column(String(16))
    messages: Mapped[int] = mapped_column(default=0)
    first_message_at: Mapped[datetime]
    last_message_at: Mapped[datetime]
    first_response_due: Mapped[datetime]
    resolution_due: Mapped[datetime]
    first_response_at: Mapped[datetime | None]
    resolved_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    first_response_breached: Mapped[bool] = mapped_column(default=False)
    resolution_breached: Mapped[bool] = mapped_column(default=False)
    sentiment_after: Mapped[float | None] = mapped_column(Float)
    waiting_since: Mapped[datetime | None]
    """When the conversation last started waiting on the customer (None: not waiting)."""
    waiting_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    """Time spent waiting on the customer so far: it pauses the resolution SLA, whose due
    time moves on by each finished wait (see :mod:`socialcrm.responding.sla`)."""
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    assignee: Mapped[User | None] = relationship()

    @validates("state")
    def _track_open(self, _key: str, state: str) -> str:
        self.is_open = state in ("new", "open", "waiting")
        return state


class ConversationMessage(Base):
    """A post in a conversation: the customer's (``in``) or the brand's reply (``out``).

    ``(platform, post_id)`` is unique, which is what makes syncing idempotent.
    """

    __tablename__ = "conversation_messages"
    __table_args__ = (
        UniqueConstraint("platform", "post_id", name="uq_conversation_messages_post"),
        Index("ix_conversation_messages_conv", "conversation_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    platform: Mapped[str] = mapped_column(String(32))
    post_id: Mapped[str] = mapped_column(String(200))
    direction: Mapped[str] = mapped_column(String(8))
    author_handle: Mapped[str] = mapped_column(String(200))
    text: Mapped[str] = mapped_column(Text)
    reply_to_post_id: Mapped[str | None] = mapped_column(String(200))
    sentiment_score: Mapped[float | None] = mapped_column(Float)
    intent: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime]


class ConversationNote(Base):
    """An internal note on a conversation: seen by the team, never posted."""

    __tablename__ = "conversation_notes"
    __table_args__ = (Index("ix_conversation_notes_conv", "conversation_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    author: Mapped[str] = mapped_column(String(320))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class SavedReply(Base):
    """A reply template agents pick from; ``{handle}`` is filled in when used.

    ``is_question`` templates are offered by "ask a question" (which then waits on the
    customer, pausing the resolution SLA)."""

    __tablename__ = "saved_replies"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    body: Mapped[str] = mapped_column(Text)
    is_question: Mapped[bool] = mapped_column(default=False)
    created_by: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class OutboxItem(Base):
    """A reply waiting to be posted. ``idempotency_key`` is sent to the network too, so a
    retry after a lost answer cannot post twice; ``dead`` items keep their last error.

    A delivery worker claims a pending item before posting it (``lease_owner`` and
    ``lease_until``, set by one conditional UPDATE), so two workers never post it at once;
    a worker that dies mid-way leaves a lease that expires, and the item is tried again."""

    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_due", "status", "next_attempt_at"),
        Index("ix_outbox_message_id", "message_id"),
        Index("ix_outbox_campaign", "campaign_id", "customer_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(100), unique=True)
    conversation_id: Mapped[int | None] = mapped_column(
        ForeignKey("conversations.id", ondelete="SET NULL")
    )
    connector: Mapped[str] = mapped_column(String(32))
    in_reply_to: Mapped[str | None] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_error: Mapped[str | None] = mapped_column(String(500))
    external_id: Mapped[str | None] = mapped_column(String(200))
    created_by: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[datetime | None]
    # -- campaigns' channels (issue 18): an email's or a private message's addressee --
    recipient: Mapped[str | None] = mapped_column(String(320))
    """The email address (connector ``email``) or handle (``mastodon_dm``, ``bluesky_dm``)."""
    campaign_id: Mapped[str | None] = mapped_column(String(200))
    customer_id: Mapped[str | None] = mapped_column(String(200))
    message_id: Mapped[str | None] = mapped_column(String(300))
    """An email's ``Message-ID`` (with its angle brackets): how a bounce finds its message.
    The full message is ``body``, built once, so every attempt sends the same bytes."""


class EmailEvent(Base):
    """Something that happened to an email: sent, opened, clicked, unsubscribed, bounced.

    Written by the delivery loop, the public links (``/email/...``) and bounce handling;
    ``synced`` is set once the campaign side has copied it into the warehouse's
    ``touches``. ``key`` (optional, unique) makes replayed inputs idempotent: reading the
    same bounce mailbox twice records each bounce once."""

    __tablename__ = "email_events"
    __table_args__ = (
        Index("ix_email_events_synced", "synced", "id"),
        Index("ix_email_events_campaign", "campaign_id", "kind"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    campaign_id: Mapped[str | None] = mapped_column(String(200))
    customer_id: Mapped[str | None] = mapped_column(String(200))
    recipient: Mapped[str | None] = mapped_column(String(320))
    outbox_id: Mapped[int | None] = mapped_column(ForeignKey("outbox.id", ondelete="SET NULL"))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    detail: Mapped[str | None] = mapped_column(String(2000))
    key: Mapped[str | None] = mapped_column(String(300), unique=True)
    synced: Mapped[bool] = mapped_column(default=False)


class Suppression(Base):
    """An address never to email again: unsubscribed, hard-bounced, complained, or
    suppressed by hand. ``address`` is normalised (trimmed, lower-case)."""

    __tablename__ = "suppressions"

    id: Mapped[int] = mapped_column(primary_key=True)
    address: Mapped[str] = mapped_column(String(320), unique=True)
    reason: Mapped[str] = mapped_column(String(16))
    source: Mapped[str] = mapped_column(String(100))
    campaign_id: Mapped[str | None] = mapped_column(String(200))
    customer_id: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class CampaignSend(Base):
    """One ``campaign send`` (or a journey's step): the campaign's send log. ``counts`` are
    the call's (sent, holdout, no_consent, suppressed, capped, failed); ``error`` is why
    a send stopped early, when it did."""

    __tablename__ = "campaign_sends"
    __table_args__ = (Index("ix_campaign_sends_campaign", "campaign_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[str] = mapped_column(String(200))
    step: Mapped[str] = mapped_column(String(100))
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]
    counts: Mapped[dict[str, int]] = mapped_column(JSON, default=dict)
    error: Mapped[str | None] = mapped_column(String(500))


class ConnectorCursor(Base):
    """Where a connector stopped reading (Mastodon ``since_id``, Bluesky ``seenAt``)."""

    __tablename__ = "connector_cursors"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[str] = mapped_column(String(200))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class AgentTopic(Base):
    """An agent's skill: conversations on this topic are routed to them first."""

    __tablename__ = "agent_topics"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    topic_id: Mapped[int] = mapped_column(primary_key=True)


class ConversationIdea(Base):
    """A conversation turned into an idea ("turn into idea"): the link, read both ways.

    ``conversation_id`` is the key, so a conversation gives at most one idea however
    often the action is repeated."""

    __tablename__ = "conversation_ideas"
    __table_args__ = (Index("ix_conversation_ideas_idea", "idea_id"),)

    conversation_id: Mapped[int] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), primary_key=True
    )
    idea_id: Mapped[int] = mapped_column(ForeignKey("ideas.id", ondelete="CASCADE"))
    created_by: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class DomainEvent(Base):
    """Something that happened (``conversation_created``, ``sla_breached``), for webhooks.

    ``key`` is unique so emitting the same fact twice records it once.
    """

    __tablename__ = "events"
    __table_args__ = (
        Index("ix_events_kind", "kind", "id"),
        Index("ix_events_webhook_imported", "webhook_imported", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(300), unique=True)
    kind: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    occurred_at: Mapped[datetime] = mapped_column(default=utcnow)
    webhook_imported: Mapped[bool] = mapped_column(default=False)
    """Handed to the webhooks (``webhook_events.source_key`` = ``events:<id>``), in the
    same transaction as the webhook event: a flag, not a high-water mark, so an event
    whose transaction commits after a later one's (PostgreSQL) is still imported."""


# -- collaborating: ideas, feedback requests, webhooks (issue 9, parts 3 and 4) ------------
IDEA_STATUSES: tuple[str, ...] = (
    "new",
    "under_review",
    "planned",
    "in_progress",
    "shipped",
    "declined",
)


class Idea(Base):
    """An idea from a customer, an influencer or a post; ``merged_into_id`` when a duplicate.

    ``proposed`` ideas came from posts and wait for an agent to confirm them.
    """

    __tablename__ = "ideas"
    __table_args__ = (Index("ix_ideas_status", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(String(5000), default="")
    status: Mapped[str] = mapped_column(String(16), default="new")
    public_reason: Mapped[str] = mapped_column(String(1000), default="")
    source: Mapped[str] = mapped_column(String(16))
    source_key: Mapped[str | None] = mapped_column(String(300), unique=True)
    proposed: Mapped[bool] = mapped_column(default=False)
    highlighted: Mapped[bool] = mapped_column(default=False)
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("ideas.id"))
    created_by: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class IdeaContributor(Base):
    """Someone who proposed an idea: a customer, a social handle, or both.

    ``origin_idea_id`` never changes, so a merge can be undone row by row.
    """

    __tablename__ = "idea_contributors"
    __table_args__ = (
        Index("ix_idea_contributors_idea", "idea_id"),
        Index("ix_idea_contributors_customer", "customer_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    idea_id: Mapped[int] = mapped_column(ForeignKey("ideas.id"))
    origin_idea_id: Mapped[int] = mapped_column(ForeignKey("ideas.id"))
    customer_id: Mapped[str | None] = mapped_column(String(200))
    platform: Mapped[str | None] = mapped_column(String(40))
    handle: Mapped[str | None] = mapped_column(String(200))
    post_id: Mapped[str | None] = mapped_column(String(200))
    influencer: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class IdeaVote(Base):
    """One voter's vote, unique per original idea (a merge keeps both rows, counted once)."""

    __tablename__ = "idea_votes"
    __table_args__ = (
        Index("ix_idea_votes_idea", "idea_id"),
        UniqueConstraint("origin_idea_id", "voter", name="ux_idea_votes_origin_voter"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    idea_id: Mapped[int] = mapped_column(ForeignKey("ideas.id"))
    origin_idea_id: Mapped[int] = mapped_column(ForeignKey("ideas.id"))
    voter: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class IdeaHistory(Base):
    """What happened to an idea: created, confirmed, status changes with reasons, merges."""

    __tablename__ = "idea_history"
    __table_args__ = (Index("ix_idea_history_idea", "idea_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    idea_id: Mapped[int] = mapped_column(ForeignKey("ideas.id"))
    origin_idea_id: Mapped[int] = mapped_column(ForeignKey("ideas.id"))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor: Mapped[str] = mapped_column(String(320))
    action: Mapped[str] = mapped_column(String(32))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class IdeaMerge(Base):
    """A merge of ``source`` into ``target`` and exactly which rows it moved (for unmerge)."""

    __tablename__ = "idea_merges"

    id: Mapped[int] = mapped_column(primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("ideas.id"))
    target_id: Mapped[int] = mapped_column(ForeignKey("ideas.id"))
    moved: Mapped[dict[str, list[int]]] = mapped_column(JSON, default=dict)
    similarity: Mapped[float | None] = mapped_column(Float)
    actor: Mapped[str] = mapped_column(String(320))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    undone_at: Mapped[datetime | None]


class IdeaNotification(Base):
    """A message to a contributor about their idea: queued on a channel, or suppressed and why."""

    __tablename__ = "idea_notifications"
    __table_args__ = (Index("ix_idea_notifications_status", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    idea_id: Mapped[int] = mapped_column(ForeignKey("ideas.id"))
    contributor_id: Mapped[int] = mapped_column(ForeignKey("idea_contributors.id"))
    channel: Mapped[str | None] = mapped_column(String(16))
    recipient: Mapped[str] = mapped_column(String(320))
    status: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(String(300), default="")
    message: Mapped[str] = mapped_column(String(2000))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]


class FeedbackRequest(Base):
    """A trial offer to an amplifier: the product sent, then what they liked and would improve."""

    __tablename__ = "feedback_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[str] = mapped_column(String(200))
    product: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), default="sent")
    liked: Mapped[str] = mapped_column(String(2000), default="")
    improve: Mapped[str] = mapped_column(String(2000), default="")
    idea_id: Mapped[int | None] = mapped_column(ForeignKey("ideas.id"))
    created_by: Mapped[str] = mapped_column(String(320))
    sent_at: Mapped[datetime] = mapped_column(default=utcnow)
    answered_at: Mapped[datetime | None]


class WebhookSubscription(Base):
    """An endpoint and the events it wants; the secret signs every payload."""

    __tablename__ = "webhook_subscriptions"

    id: Mapped[int] = mapped_column(primary_key=True)
    url: Mapped[str] = mapped_column(String(2000))
    secret: Mapped[str] = mapped_column(String(200))
    events: Mapped[list[str]] = mapped_column(JSON, default=list)
    allow_host: Mapped[bool] = mapped_column(default=False)
    """An admin allow-listed this URL's host (``webhooks add --allow-host``): its address
    is not checked against loopback, private and metadata ranges."""
    active: Mapped[bool] = mapped_column(default=True)
    consecutive_failures: Mapped[int] = mapped_column(default=0)
    disabled_at: Mapped[datetime | None]
    disabled_reason: Mapped[str | None] = mapped_column(String(500))
    created_by: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class WebhookEvent(Base):
    """A domain event to announce; ``source_key`` makes importing it idempotent."""

    __tablename__ = "webhook_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[str] = mapped_column(String(64), unique=True)
    type: Mapped[str] = mapped_column(String(64))
    source_key: Mapped[str] = mapped_column(String(300), unique=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    occurred_at: Mapped[datetime] = mapped_column(default=utcnow)
    fanned_out: Mapped[bool] = mapped_column(default=False)


class WebhookDelivery(Base):
    """One event to one subscription. ``delivery_id`` is the idempotency key: same on retries."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
        Index("ux_webhook_deliveries_sub_event", "subscription_id", "event_id", unique=True),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    delivery_id: Mapped[str] = mapped_column(String(64), unique=True)
    subscription_id: Mapped[int] = mapped_column(ForeignKey("webhook_subscriptions.id"))
    event_id: Mapped[int] = mapped_column(ForeignKey("webhook_events.id"))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_status_code: Mapped[int | None]
    last_error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    delivered_at: Mapped[datetime | None]
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    """The delivery pass sending it now (claimed atomically, so two passes never both send)."""
    lease_until: Mapped[datetime | None]


class WebhookAttempt(Base):
    """The delivery log: every attempt, its answer and how long it took."""

    __tablename__ = "webhook_attempts"
    __table_args__ = (Index("ix_webhook_attempts_delivery", "delivery_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    delivery_id: Mapped[int] = mapped_column(ForeignKey("webhook_deliveries.id"))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    status_code: Mapped[int | None]
    error: Mapped[str | None] = mapped_column(String(500))
    duration_ms: Mapped[float] = mapped_column(Float, default=0.0)


class Notice(Base):
    """Something an admin should read: a webhook disabled after repeated failure."""

    __tablename__ = "notices"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    kind: Mapped[str] = mapped_column(String(64))
    target: Mapped[str] = mapped_column(String(320))
    message: Mapped[str] = mapped_column(String(1000))
    read_at: Mapped[datetime | None]


# -- journeys (issue 18): a trigger, a wait, an action, an exit ---------------------------
class Journey(Base):
    """An automatic follow-up: who enters (a segment, or a negative post by a valuable
    customer), how long to wait, what to send, through which channel, with which holdout.

    ``cursor`` is the newest post a negative-post journey has looked at; ``started_at`` the
    journey's first run (people already in the segment then are its baseline)."""

    __tablename__ = "journeys"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    trigger: Mapped[str] = mapped_column(String(32))
    segment: Mapped[str | None] = mapped_column(String(100))
    min_score: Mapped[float | None] = mapped_column(Float)
    wait_hours: Mapped[float] = mapped_column(Float, default=0.0)
    channel: Mapped[str] = mapped_column(String(32))
    template: Mapped[str] = mapped_column(Text)
    subject: Mapped[str | None] = mapped_column(String(300))
    action: Mapped[str | None] = mapped_column(String(100))
    holdout_share: Mapped[float] = mapped_column(Float)
    period_days: Mapped[int] = mapped_column(default=30)
    window_days: Mapped[int] = mapped_column(default=30)
    include_current: Mapped[bool] = mapped_column(default=False)
    active: Mapped[bool] = mapped_column(default=True)
    cursor: Mapped[datetime | None]
    started_at: Mapped[datetime | None]
    created_by: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class JourneyEnrolment(Base):
    """One person in one journey, once: the unique pair is what makes a second run enrol
    nobody twice. ``grp`` is the person's group in the journey's campaign (``treatment``
    or ``control``); ``state`` where they are: baseline (already in the segment when the
    journey started: never enrolled), waiting, sent, held_out, not_sent, exited, left_out."""

    __tablename__ = "journey_enrolments"
    __table_args__ = (
        UniqueConstraint("journey_id", "customer_id", name="uq_journey_enrolments_person"),
        Index("ix_journey_enrolments_due", "journey_id", "state", "due_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    journey_id: Mapped[int] = mapped_column(ForeignKey("journeys.id", ondelete="CASCADE"))
    customer_id: Mapped[str] = mapped_column(String(200))
    campaign_id: Mapped[str | None] = mapped_column(String(200))
    grp: Mapped[str | None] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(String(500))
    enrolled_at: Mapped[datetime] = mapped_column(default=utcnow)
    due_at: Mapped[datetime | None]
    acted_at: Mapped[datetime | None]
    outcome: Mapped[str | None] = mapped_column(String(300))
    exited_at: Mapped[datetime | None]
    exit_reason: Mapped[str | None] = mapped_column(String(32))
    converted_at: Mapped[datetime | None]


# -- listening queries (issue 19): what to listen for, and where ------------------------------
class ListeningQuery(Base):
    """A saved listening query: Boolean ``terms`` (:mod:`socialcrm.listening.query_language`),
    the ``sources`` to ask (a JSON list of ``kind:base_url``), an optional language, and
    whether its posts need a response (then they go to the inbox)."""

    __tablename__ = "listening_queries"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    terms: Mapped[str] = mapped_column(Text)
    lang: Mapped[str | None] = mapped_column(String(16))
    sources: Mapped[str] = mapped_column(Text, default="[]")
    needs_response: Mapped[bool] = mapped_column(default=False)
    created_by: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class ListeningSourceState(Base):
    """Where one saved query stands on one of its sources: the cursor to fetch after (moved
    only once the fetched posts are stored), and the source's health for the Listening
    page: last success, last error in words, the newest post seen, and running totals."""

    __tablename__ = "listening_source_states"
    __table_args__ = (UniqueConstraint("query_id", "source", name="uq_listening_source_states"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    query_id: Mapped[int] = mapped_column(ForeignKey("listening_queries.id", ondelete="CASCADE"))
    source: Mapped[str] = mapped_column(String(600))
    cursor: Mapped[str | None] = mapped_column(Text)
    last_run_at: Mapped[datetime | None]
    last_success_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(String(500))
    last_error_at: Mapped[datetime | None]
    failures: Mapped[int] = mapped_column(default=0)
    """Failed runs in a row (0 after a success)."""
    newest_post_at: Mapped[datetime | None]
    fetched: Mapped[int] = mapped_column(default=0)
    new: Mapped[int] = mapped_column(default=0)
    duplicates: Mapped[int] = mapped_column(default=0)
    rejected: Mapped[int] = mapped_column(default=0)


# -- the customer's own side: the preference centre and sign-up forms (issue 20) ------------
class PersonPreferences(Base):
    """What a person chose in the preference centre: channels, how often, topics, social
    sites, language. One row per person (the id their emails are signed for); sending and
    the next scoring run read the same choices from the warehouse's ``customers`` rows,
    which the centre updates through ingestion."""

    __tablename__ = "person_preferences"

    customer_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    channels: Mapped[list[str]] = mapped_column(JSON, default=list)
    frequency: Mapped[str | None] = mapped_column(String(16))
    topics: Mapped[list[str]] = mapped_column(JSON, default=list)
    social_sites: Mapped[list[str]] = mapped_column(JSON, default=list)
    language: Mapped[str | None] = mapped_column(String(16))
    unsubscribed_at: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class ConsentRecord(Base):
    """One consent decision made on a public page, with what the warehouse's ``consents``
    has no column for: the channel and the version of the words the person was shown.
    ``synced`` once the decision is in the warehouse's ``consents`` (written at once;
    a failed write is retried by the next change or ``preferences.centre.sync``)."""

    __tablename__ = "consent_records"
    __table_args__ = (
        Index("ix_consent_records_person", "customer_id", "recorded_at"),
        Index("ix_consent_records_synced", "synced", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[str] = mapped_column(String(200))
    purpose: Mapped[str] = mapped_column(String(32))
    channel: Mapped[str | None] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    source: Mapped[str] = mapped_column(String(32))
    wording_version: Mapped[str] = mapped_column(String(32))
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)
    synced: Mapped[bool] = mapped_column(default=False)


class Signup(Base):
    """A sign-up from the public form, waiting for its email confirmation (double opt-in).
    Nothing reaches the warehouse before ``confirmed_at``; unconfirmed rows older than the
    link's life can be deleted."""

    __tablename__ = "signups"
    __table_args__ = (Index("ix_signups_email", "email"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320))
    first_name: Mapped[str | None] = mapped_column(String(100))
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    wording_version: Mapped[str] = mapped_column(String(32))
    customer_id: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    confirmed_at: Mapped[datetime | None]


class UsedToken(Base):
    """A single-use token that was used: its keyed digest, never the token itself."""

    __tablename__ = "used_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    purpose: Mapped[str] = mapped_column(String(32))
    used_at: Mapped[datetime] = mapped_column(default=utcnow)


class IdentityLink(Base):
    """A social handle a person asked to link (Mastodon, Bluesky), ``pending`` until they
    prove it is theirs (``code`` in their profile, or OAuth), then ``verified``."""

    __tablename__ = "identity_links"
    __table_args__ = (Index("ix_identity_links_person", "person_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[str] = mapped_column(String(200))
    platform: Mapped[str] = mapped_column(String(16))
    handle: Mapped[str] = mapped_column(String(320))
    state: Mapped[str] = mapped_column(String(16), default="pending")
    code: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    verified_at: Mapped[datetime | None]


# -- pipeline runs (issue 21): what each `socialcrm score` did, for the admin page ------
class PipelineRun(Base):
    """One run of the pipeline: ``status`` is running, ok or failed (a run whose process
    died stays "running"; the admin page says so once it is older than any step took)."""

    __tablename__ = "pipeline_runs"
    __table_args__ = (Index("ix_pipeline_runs_started_at", "started_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]
    status: Mapped[str] = mapped_column(String(16), default="running")
    started_by: Mapped[str] = mapped_column(String(100))
    steps_planned: Mapped[int]
    error: Mapped[str | None] = mapped_column(String(2000))
    steps: Mapped[list[PipelineRunStep]] = relationship(
        back_populates="run", order_by="PipelineRunStep.position", cascade="all, delete-orphan"
    )


class PipelineRunStep(Base):
    """One step of a run: ok (with the tables it wrote and their rows), skipped (with
    why) or failed (with the error's first line)."""

    __tablename__ = "pipeline_run_steps"
    __table_args__ = (Index("ix_pipeline_run_steps_step", "step", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("pipeline_runs.id", ondelete="CASCADE"))
    position: Mapped[int]
    step: Mapped[str] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(16))
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    seconds: Mapped[float | None] = mapped_column(Float)
    rows: Mapped[dict[str, int] | None] = mapped_column(JSON)
    detail: Mapped[str | None] = mapped_column(String(2000))
    inputs: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))
    """What the step depended on when it last ran (tables with versions, settings, rule
    files, clock values read, tables it wrote), for skipping it while they are unchanged."""
    run: Mapped[PipelineRun] = relationship(back_populates="steps")


# -- privacy rights (issue 20, part 4): receipts of access and erasure, public requests ----
class PrivacyReceipt(Base):
    """Proof that an access or erasure request was carried out: when, by whom, a keyed
    one-way hash of the person and the rows by table. No personal data: it outlives them."""

    __tablename__ = "privacy_receipts"
    __table_args__ = (Index("ix_privacy_receipts_subject", "subject_hash"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor: Mapped[str] = mapped_column(String(320))
    subject_hash: Mapped[str] = mapped_column(String(64))
    records: Mapped[int] = mapped_column(default=0)
    counts: Mapped[dict[str, int]] = mapped_column(JSON, default=dict)


class PrivacyRequest(Base):
    """A person's own request from the preference centre ("a copy of my data"), waiting
    for staff to send the export. Keyed by the hash of the person, never their contact."""

    __tablename__ = "privacy_requests"
    __table_args__ = (Index("ix_privacy_requests_status", "status", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    subject_hash: Mapped[str] = mapped_column(String(64))
    customer_id: Mapped[str | None] = mapped_column(String(200))
    """The record the signed link named: erased with the person if they are erased."""
    status: Mapped[str] = mapped_column(String(16), default="received")
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    done_at: Mapped[datetime | None]
