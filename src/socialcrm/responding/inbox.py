"""Conversations built from posts: threads by reply chain, else one per author and topic
within a window; spam, duplicates and reshares left out; syncing twice adds nothing.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from socialcrm.appdb.models import Conversation, ConversationMessage, utcnow
from socialcrm.config import Settings
from socialcrm.responding import priority, sla
from socialcrm.responding.events import emit

NEEDS_ANSWER = ("complaint", "question", "suggestion", "praise")
OPEN_STATES = ("new", "open", "waiting")


@dataclass(frozen=True)
class Post:
    """One incoming post, whatever the source (warehouse row, Mastodon, Bluesky, file)."""

    platform: str
    post_id: str
    author_handle: str
    text: str
    created_at: datetime
    reply_to_post_id: str | None = None
    topic_id: int | None = None
    sentiment_score: float | None = None
    intent: str | None = None
    customer_id: str | None = None
    is_spam: bool = False
    is_duplicate: bool = False
    is_reshare: bool = False
    addressed: bool = True
    """Whether the post concerns the brand (:mod:`~socialcrm.responding.addressed`):
    only those become work. A connector reads mentions and messages, so its posts are."""


@dataclass
class Context:
    """What the warehouse knows about authors: influence by handle, value by customer."""

    influence: dict[tuple[str, str], float] = field(default_factory=dict)
    customer_of: dict[tuple[str, str], str] = field(default_factory=dict)
    clv: dict[str, float] = field(default_factory=dict)
    risk_band: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Brand:
    """The brand's own handles: on every platform, or on one (``platform:handle``)."""

    anywhere: frozenset[str] = frozenset()
    on: frozenset[tuple[str, str]] = frozenset()

    @classmethod
    def of(cls, *specs: str) -> Brand:
        """From handles and comma-separated lists of them, ``platform:handle`` or bare.

        >>> b = Brand.of("acme", "mastodon:acme@mastodon.social, bluesky:acme.bsky.social")
        >>> b.owns("twitter", "@ACME"), b.owns("mastodon", "acme@mastodon.social")
        (True, True)
        >>> b.owns("twitter", "acme@mastodon.social")
        False
        """
        anywhere, on = set(), set()
        for spec in specs:
            for part in (spec or "").split(","):
                platform, sep, handle = part.strip().rpartition(":")
                handle = handle.strip().lower().removeprefix("@")
                if not handle:
                    continue
                if sep and platform.strip():
                    on.add((platform.strip().lower(), handle))
                else:
                    anywhere.add(handle)
        return cls(frozenset(anywhere), frozenset(on))

    @classmethod
    def from_settings(cls, settings: Settings) -> Brand:
        """The handles the settings name; when they name none, the brand's accounts in
        the workspace catalogue (``brand.handles``, one per network), which listening
        already reads — so a workspace that describes its brand once is answered as one."""
        named = {"inbox_brand_handle", "inbox_brand_handles"} & settings.model_fields_set
        extra = [] if named else catalogue_handles(settings)
        return cls.of(settings.inbox_brand_handle, settings.inbox_brand_handles, *extra)

    def owns(self, platform: str, handle: str) -> bool:
        h = handle.strip().lower().removeprefix("@")
        return h in self.anywhere or (platform.lower(), h) in self.on


def catalogue_handles(settings: Settings) -> list[str]:
    """``platform:handle`` of the brand's accounts in the catalogue listening uses
    (``SOCIALCRM_LISTENING_CATALOGUE`` or the workspace's ``catalogue.json``); none when
    there is no catalogue or it names no accounts.

    >>> import json, tempfile
    >>> home = Path(tempfile.mkdtemp())
    >>> accounts = {"twitter": "acme", "mastodon": "acme@m.social"}
    >>> doc = {"brand": {"name": "Acme", "handles": accounts}}
    >>> _ = (home / "catalogue.json").write_text(json.dumps(doc))
    >>> catalogue_handles(Settings(home=home))
    ['mastodon:acme@m.social', 'twitter:acme']
    """
    try:
        doc = json.loads(settings.catalogue_path.read_text())
    except (OSError, ValueError):
        return []
    handles = (doc.get("brand") or {}).get("handles") if isinstance(doc, dict) else None
    if not isinstance(handles, dict):
        return []
    return sorted(f"{p}:{h}" for p, h in handles.items() if isinstance(h, str) and h.strip())


def wanted(post: Post, brand: Brand | str) -> bool:
    """Posts that may need the brand: addressed to it, not spam, duplicate or reshare; a
    real intent, or negative; the brand's own posts are kept as its replies.

    >>> from dataclasses import replace
    >>> from datetime import datetime
    >>> p = Post("twitter", "1", "ann", "where is my order?", datetime(2024, 1, 1),
    ...          intent="question")
    >>> wanted(p, "acme"), wanted(replace(p, addressed=False), "acme")
    (True, False)
    """
    if post.is_spam or post.is_duplicate or post.is_reshare:
        return False
    brand = Brand.of(brand) if isinstance(brand, str) else brand
    if brand.owns(post.platform, post.author_handle):
        return True
    if not post.addressed:  # the wider conversation: listened to, not answered
        return False
    return post.intent in NEEDS_ANSWER or (post.sentiment_score or 0.0) < -0.05


def ingest(
    s: Session,
    posts: Iterable[Post],
    settings: Settings,
    context: Context | None = None,
    now: datetime | None = None,
) -> dict[str, int]:
    """Add ``posts`` to conversations; returns counts of new messages and conversations.

    Posts are handled in time order, so a reply finds the post it answers. A post whose
    ``(platform, post_id)`` is stored already is skipped: re-running adds nothing.
    """
    ctx = context or Context()
    now = now or utcnow()
    brand = Brand.from_settings(settings)
    window = timedelta(hours=settings.inbox_window_hours)
    counts = {"messages": 0, "conversations": 0, "skipped": 0, "replies": 0}
    for post in sorted(posts, key=lambda p: (p.created_at, p.post_id)):
        if not wanted(post, brand):
            counts["skipped"] += 1
            continue
        exists = s.scalar(
            select(ConversationMessage.id).where(
                ConversationMessage.platform == post.platform,
                ConversationMessage.post_id == post.post_id,
            )
        )
        if exists is not None:
            continue
        from_brand = brand.owns(post.platform, post.author_handle)
        conv = _thread_of(s, post)
        if conv is None and from_brand:
            counts["skipped"] += 1  # the brand's own post that answers nothing we hold
            continue
        if conv is None:
            conv = _author_window(s, post, window)
        if conv is None:
            conv = _new_conversation(s, post, ctx, settings)
            counts["conversations"] += 1
        s.add(
            ConversationMessage(
                conversation_id=conv.id,
                platform=post.platform,
                post_id=post.post_id,
                direction="out" if from_brand else "in",
                author_handle=post.author_handle,
                text=post.text,
                reply_to_post_id=post.reply_to_post_id,
                sentiment_score=post.sentiment_score,
                intent=post.intent,
                created_at=post.created_at,
            )
        )
        if from_brand:
            counts["replies"] += 1
            if conv.first_response_at is None or post.created_at < conv.first_response_at:
                conv.first_response_at = post.created_at
        else:
            counts["messages"] += 1
            conv.messages += 1
            conv.last_message_at = max(conv.last_message_at, post.created_at)
            if conv.first_response_at and post.created_at > conv.first_response_at:
                _sentiment_after(conv, post.sentiment_score)
            elif post.sentiment_score is not None and (
                conv.sentiment_score is None or post.sentiment_score < conv.sentiment_score
            ):
                conv.sentiment_score = post.sentiment_score  # the thread's worst mood
            if conv.state in ("waiting", "resolved"):
                # The customer wrote again: the wait on them ended when they wrote.
                at = min(max(post.created_at, conv.waiting_since or post.created_at), now)
                sla.set_state(conv, "open", at)
        conv.updated_at = now
        rescore(conv, settings, now)
        s.flush()
    return counts


def _sentiment_after(conv: Conversation, score: float | None) -> None:
    if score is None:
        return
    # A running mean of the customer's mood after the brand answered.
    n = conv.priority_parts.get("_after_n", 0)
    prev = conv.sentiment_after or 0.0
    conv.sentiment_after = (prev * n + score) / (n + 1)
    conv.priority_parts = {**conv.priority_parts, "_after_n": n + 1}


def _thread_of(s: Session, post: Post) -> Conversation | None:
    if not post.reply_to_post_id:
        return None
    cid = s.scalar(
        select(ConversationMessage.conversation_id).where(
            ConversationMessage.platform == post.platform,
            ConversationMessage.post_id == post.reply_to_post_id,
        )
    )
    return None if cid is None else s.get(Conversation, cid)


def _author_window(s: Session, post: Post, window: timedelta) -> Conversation | None:
    q = (
        select(Conversation)
        .where(
            Conversation.platform == post.platform,
            Conversation.author_handle == post.author_handle,
            Conversation.state.in_(OPEN_STATES),
            Conversation.last_message_at >= post.created_at - window,
        )
        .order_by(Conversation.last_message_at.desc())
        .limit(1)
    )
    q = q.where(
        Conversation.topic_id.is_(None)
        if post.topic_id is None
        else Conversation.topic_id == post.topic_id
    )
    return s.scalar(q)


def _new_conversation(s: Session, post: Post, ctx: Context, settings: Settings) -> Conversation:
    handle = (post.platform, post.author_handle.lower())
    customer = post.customer_id or ctx.customer_of.get(handle)
    key = f"post:{post.platform}:{post.post_id}"
    conv = Conversation(
        key=key,
        platform=post.platform,
        author_handle=post.author_handle,
        customer_id=customer,
        topic_id=post.topic_id,
        queue=f"topic:{post.topic_id}" if post.topic_id is not None else "general",
        subject=post.text[:300],
        state="new",
        sentiment_score=post.sentiment_score,
        intent=post.intent,
        influence=ctx.influence.get(handle),
        clv=ctx.clv.get(customer) if customer else None,
        risk_band=ctx.risk_band.get(customer) if customer else None,
        messages=0,
        first_message_at=post.created_at,
        last_message_at=post.created_at,
        first_response_due=post.created_at + timedelta(hours=settings.inbox_first_response_hours),
        resolution_due=post.created_at + timedelta(hours=settings.inbox_resolution_hours),
        first_response_breached=False,
        resolution_breached=False,
        priority_parts={},
        priority=0.0,
    )
    s.add(conv)
    s.flush()
    emit(
        s,
        "conversation_created",
        {
            "conversation_id": conv.id,
            "platform": conv.platform,
            "post_id": post.post_id,
            "intent": post.intent,
        },
        key=f"conversation_created:{conv.id}",
    )
    return conv


def rescore(conv: Conversation, settings: Settings, now: datetime) -> None:
    """Recompute the priority; waiting counts against the SLA that applies now (time
    spent waiting on the customer is not counted against the resolution SLA)."""
    if conv.first_response_at is None:
        waited = priority.waited_hours(conv.first_message_at, now)
        hours = settings.inbox_first_response_hours
    else:
        waited = sla.resolution_hours_used(conv, now)
        hours = settings.inbox_resolution_hours
    p = priority.parts(
        sentiment=conv.sentiment_score,
        intent=conv.intent,
        influence=conv.influence,
        clv=conv.clv,
        risk_band=conv.risk_band,
        waited_hours=waited,
        sla_hours=hours,
    )
    keep = {k: v for k, v in (conv.priority_parts or {}).items() if k.startswith("_")}
    conv.priority_parts = {**p, **keep}
    conv.priority = priority.score(p) if conv.state in OPEN_STATES else 0.0


def check_slas(
    s: Session,
    settings: Settings,
    now: datetime | None = None,
    ids: Collection[int] | None = None,
) -> dict[str, int]:
    """Mark breached SLAs (once each, with an ``sla_breached`` event) and rescore open
    conversations so waiting time shows in their priority. Time waiting on the customer
    does not count against the resolution SLA (see :mod:`socialcrm.responding.sla`).
    ``ids``: only these conversations (those of them still open), for a caller that
    checks in batches."""
    now = now or utcnow()
    out = {"first_response": 0, "resolution": 0, "rescored": 0}
    q = select(Conversation).where(Conversation.state.in_(OPEN_STATES))
    if ids is not None:
        q = q.where(Conversation.id.in_(list(ids)))
    rows = s.scalars(q)
    for conv in rows:
        if (
            not conv.first_response_breached
            and conv.first_response_at is None
            and (now > conv.first_response_due)
        ):
            conv.first_response_breached = True
            out["first_response"] += 1
            _breach(s, conv, "first_response")
        if (
            not conv.resolution_breached
            and conv.resolved_at is None
            and sla.resolution_overdue(conv, now)
        ):
            conv.resolution_breached = True
            out["resolution"] += 1
            _breach(s, conv, "resolution")
        rescore(conv, settings, now)
        out["rescored"] += 1
    s.flush()
    return out


def _breach(s: Session, conv: Conversation, sla: str) -> None:
    emit(
        s,
        "sla_breached",
        {"conversation_id": conv.id, "sla": sla, "assignee_id": conv.assignee_id},
        key=f"sla_breached:{conv.id}:{sla}",
    )
