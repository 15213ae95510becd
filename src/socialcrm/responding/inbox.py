"""Conversations built from posts: threads by reply chain, else one per author and topic
within a window; spam, duplicates and reshares left out; syncing twice adds nothing.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar, cast

from sqlalchemy import Table, insert, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import flag_modified

from socialcrm.appdb.models import Conversation, ConversationMessage, utcnow
from socialcrm.config import Settings
from socialcrm.responding import priority, sla
from socialcrm.responding.events import emit, emit_many

NEEDS_ANSWER = ("complaint", "question", "suggestion", "praise")
OPEN_STATES = ("new", "open", "waiting")
T = TypeVar("T")


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

    Set-based, for the sync's sake (~100k posts on a 100k-customer brand): what the
    posts need from the database (stored messages, the conversations they join, the
    authors' open ones in the window) is read with a few queries for the whole batch,
    the posts are applied one by one in memory, and the new rows are written at the end
    in bulk. The result is that of applying them one at a time (each post sees the ones
    before it), which ``tests/responding/per_post.py`` keeps as the reference.
    """
    ctx = context or Context()
    now = now or utcnow()
    brand = Brand.from_settings(settings)
    window = timedelta(hours=settings.inbox_window_hours)
    counts = {"messages": 0, "conversations": 0, "skipped": 0, "replies": 0}
    todo: list[Post] = []
    for post in sorted(posts, key=lambda p: (p.created_at, p.post_id)):
        if wanted(post, brand):
            todo.append(post)
        else:
            counts["skipped"] += 1
    if not todo:
        return counts
    known = _Known.load(s, todo, brand, window)
    messages: list[tuple[Conversation, dict[str, Any]]] = []
    created: list[tuple[Conversation, Post]] = []
    written: dict[int, _Written] = {}
    for post in todo:
        if (post.platform, post.post_id) in known.message:
            continue  # stored already (or earlier in this batch)
        from_brand = brand.owns(post.platform, post.author_handle)
        conv = known.thread_of(post)
        if conv is None and from_brand:
            counts["skipped"] += 1  # the brand's own post that answers nothing we hold
            continue
        if conv is None:
            conv = known.author_window(post, window)
        if conv is None:
            conv = cast(Conversation, _Fresh(_conversation(post, ctx, settings)))
            known.add(conv)
            created.append((conv, post))
            counts["conversations"] += 1
        known.message[(post.platform, post.post_id)] = conv
        messages.append((conv, _message(post, "out" if from_brand else "in")))
        if id(conv) not in written:
            written[id(conv)] = _Written(conv)
        was = written[id(conv)]
        _apply(conv, post, from_brand, now)
        rescore(conv, settings, now)
        was.after_post()
        counts["replies" if from_brand else "messages"] += 1
    for was in written.values():
        was.settle()
    s.flush()  # the stored conversations that changed
    _insert_fresh(s, [conv for conv, _ in created])
    if messages:
        s.execute(
            insert(cast(Table, ConversationMessage.__table__)),
            [{**row, "conversation_id": conv.id} for conv, row in messages],
        )
    emit_many(
        s,
        "conversation_created",
        [
            (
                f"conversation_created:{conv.id}",
                {
                    "conversation_id": conv.id,
                    "platform": conv.platform,
                    "post_id": post.post_id,
                    "intent": post.intent,
                },
            )
            for conv, post in created
        ],
    )
    return counts


class _Written:
    """The values of a conversation's floats the per-post code would have left stored.

    That code flushed after each post, and the ORM writes a column only when its new
    value is unequal to the stored one: so a priority part that went from ``0.0`` to
    ``0.5`` and back to ``-0.0`` was stored as ``-0.0``, but one that went straight
    from ``0.0`` to ``-0.0`` stayed ``0.0``. Flushing once per batch, this keeps what
    each flush would have written, and writes that, so the rows are the same to the
    bit (the sign of a zero included)."""

    ATTRS = ("priority_parts", "sentiment_after", "sentiment_score", "priority")

    def __init__(self, conv: Conversation) -> None:
        self.conv = conv
        self.stored = {a: getattr(conv, a) for a in self.ATTRS}
        self.changed: set[str] = set()

    def after_post(self) -> None:
        for a in self.ATTRS:
            now = getattr(self.conv, a)
            if now != self.stored[a]:
                self.stored[a] = now
                self.changed.add(a)

    def settle(self) -> None:
        for a in self.ATTRS:
            setattr(self.conv, a, self.stored[a])
            if a in self.changed and not isinstance(self.conv, _Fresh):
                flag_modified(self.conv, a)


class _Fresh:
    """A conversation this batch starts: its columns as plain attributes (the functions
    that change a conversation read and set only those), inserted at the end of the
    batch in one statement, cheaper than an ORM object each."""

    def __init__(self, columns: dict[str, Any]) -> None:
        self.__dict__.update(columns)

    def row(self) -> dict[str, Any]:
        row = {k: v for k, v in self.__dict__.items() if k != "id"}
        row["is_open"] = row["state"] in OPEN_STATES
        return row


def _insert_fresh(s: Session, convs: list[Conversation]) -> None:
    """Insert the batch's new conversations, in the order they were started, and give
    each its id."""
    if not convs:
        return
    table = cast(Table, Conversation.__table__)
    rows = [cast(_Fresh, c).row() for c in convs]
    stmt = insert(table).returning(table.c.id, sort_by_parameter_order=True)
    ids: list[int] = list(s.execute(stmt, rows).scalars())
    for conv, new_id in zip(convs, ids, strict=True):
        conv.id = new_id


def _apply(conv: Conversation, post: Post, from_brand: bool, now: datetime) -> None:
    """What one post changes in its conversation (its priority is recomputed later)."""
    if from_brand:
        if conv.first_response_at is None or post.created_at < conv.first_response_at:
            conv.first_response_at = post.created_at
    else:
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


def _message(post: Post, direction: str) -> dict[str, Any]:
    return {
        "platform": post.platform,
        "post_id": post.post_id,
        "direction": direction,
        "author_handle": post.author_handle,
        "text": post.text,
        "reply_to_post_id": post.reply_to_post_id,
        "sentiment_score": post.sentiment_score,
        "intent": post.intent,
        "created_at": post.created_at,
    }


IN_CHUNK = 500
"""Values per ``IN (...)`` list: well under SQLite's limit on bound parameters."""


def _chunks(values: Sequence[T], size: int = IN_CHUNK) -> Iterator[Sequence[T]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


class _Known:
    """What a batch of posts needs from the database, read once, then kept up to date in
    memory as the batch's posts are applied (in the same session, so the objects are
    the session's own)."""

    def __init__(self) -> None:
        self.message: dict[tuple[str, str], Conversation | None] = {}
        """(platform, post id) of stored messages and of this batch's: their conversation
        (None: stored, but its conversation not needed)."""
        self.by_author: dict[tuple[str, str, int | None], list[Conversation]] = {}
        self._seen: set[int] = set()
        self._order: dict[int, tuple[int, int]] = {}

    @classmethod
    def load(cls, s: Session, posts: list[Post], brand: Brand, window: timedelta) -> _Known:
        known = cls()
        keys: dict[str, set[str]] = {}
        for p in posts:
            keys.setdefault(p.platform, set()).add(p.post_id)
            if p.reply_to_post_id:
                keys[p.platform].add(str(p.reply_to_post_id))
        conv_ids: dict[tuple[str, str], int] = {}
        for platform, ids in keys.items():
            for part in _chunks(sorted(ids)):
                q = select(ConversationMessage.post_id, ConversationMessage.conversation_id).where(
                    ConversationMessage.platform == platform,
                    ConversationMessage.post_id.in_(part),
                )
                for post_id, cid in s.execute(q):
                    conv_ids[(platform, post_id)] = cid
        wanted_ids = sorted(
            {
                conv_ids[(p.platform, str(p.reply_to_post_id))]
                for p in posts
                if p.reply_to_post_id and (p.platform, str(p.reply_to_post_id)) in conv_ids
            }
        )
        by_id: dict[int, Conversation] = {}
        for some in _chunks(wanted_ids):
            for conv in s.scalars(select(Conversation).where(Conversation.id.in_(some))):
                by_id[conv.id] = conv
        for key, cid in conv_ids.items():
            known.message[key] = by_id.get(cid)
        authors: dict[str, set[str]] = {}
        for p in posts:
            if not brand.owns(p.platform, p.author_handle):
                authors.setdefault(p.platform, set()).add(p.author_handle)
        since = min(p.created_at for p in posts) - window
        for platform, handles in authors.items():
            for who in _chunks(sorted(handles)):
                open_ones = select(Conversation).where(
                    Conversation.platform == platform,
                    Conversation.author_handle.in_(who),
                    Conversation.state.in_(OPEN_STATES),
                    Conversation.last_message_at >= since,
                )
                for conv in s.scalars(open_ones):
                    by_id[conv.id] = conv
        for cid in sorted(by_id):
            known.add(by_id[cid])
        return known

    def add(self, conv: Conversation) -> None:
        """Count ``conv`` among its author's conversations (once)."""
        if id(conv) in self._seen:
            return
        self._seen.add(id(conv))
        # Ties on the last message go to the older conversation (stored ones by id).
        self._order[id(conv)] = (0, conv.id) if conv.id is not None else (1, len(self._seen))
        key = (conv.platform, conv.author_handle, conv.topic_id)
        self.by_author.setdefault(key, []).append(conv)

    def thread_of(self, post: Post) -> Conversation | None:
        """The conversation of the message ``post`` replies to, if it is held."""
        if not post.reply_to_post_id:
            return None
        return self.message.get((post.platform, str(post.reply_to_post_id)))

    def author_window(self, post: Post, window: timedelta) -> Conversation | None:
        """The author's open conversation on the post's topic with a message within the
        window, the latest one (on a tie, the older), as the per-post code's query found
        it in the database."""
        since = post.created_at - window
        best: Conversation | None = None
        for conv in self.by_author.get((post.platform, post.author_handle, post.topic_id), ()):
            if conv.state not in OPEN_STATES or conv.last_message_at < since:
                continue
            if (
                best is None
                or conv.last_message_at > best.last_message_at
                or (
                    conv.last_message_at == best.last_message_at
                    and self._order[id(conv)] < self._order[id(best)]
                )
            ):
                best = conv
        return best


def _sentiment_after(conv: Conversation, score: float | None) -> None:
    if score is None:
        return
    # A running mean of the customer's mood after the brand answered.
    n = conv.priority_parts.get("_after_n", 0)
    prev = conv.sentiment_after or 0.0
    conv.sentiment_after = (prev * n + score) / (n + 1)
    conv.priority_parts = {**conv.priority_parts, "_after_n": n + 1}


def _conversation(post: Post, ctx: Context, settings: Settings) -> dict[str, Any]:
    """The columns of a new conversation started by ``post``, as the per-post code
    inserted it (defaults included)."""
    handle = (post.platform, post.author_handle.lower())
    customer = post.customer_id or ctx.customer_of.get(handle)
    at = utcnow()
    return {
        "id": None,
        "key": f"post:{post.platform}:{post.post_id}",
        "platform": post.platform,
        "author_handle": post.author_handle,
        "customer_id": customer,
        "topic_id": post.topic_id,
        "queue": f"topic:{post.topic_id}" if post.topic_id is not None else "general",
        "subject": post.text[:300],
        "state": "new",
        "assignee_id": None,
        "sentiment_score": post.sentiment_score,
        "intent": post.intent,
        "influence": ctx.influence.get(handle),
        "clv": ctx.clv.get(customer) if customer else None,
        "risk_band": ctx.risk_band.get(customer) if customer else None,
        "messages": 0,
        "first_message_at": post.created_at,
        "last_message_at": post.created_at,
        "first_response_due": post.created_at
        + timedelta(hours=settings.inbox_first_response_hours),
        "resolution_due": post.created_at + timedelta(hours=settings.inbox_resolution_hours),
        "first_response_at": None,
        "resolved_at": None,
        "closed_at": None,
        "first_response_breached": False,
        "resolution_breached": False,
        "sentiment_after": None,
        "waiting_since": None,
        "waiting_seconds": 0.0,
        "priority_parts": {},
        "priority": 0.0,
        "created_at": at,
        "updated_at": at,
    }


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
