""" "Turn into idea": a conversation that carries a suggestion becomes an idea on the board.

The idea is made by :func:`socialcrm.collaborating.ideas.submit` (source ``inbox``), so it
is voted, merged, given statuses and its contributor told like every other idea. The
contributor is the conversation's customer when that customer is known to the warehouse
(``customers``), else the author's handle (with the post it came from, so status notices
can answer it in public). The link is stored (``conversation_ideas``) and read both ways:
the conversation shows "idea #N", the idea "from conversation #M".

Idempotent: a conversation gives at most one idea. Doing it again returns the idea made
the first time; two requests at the same moment collide on the link's key and the
second one finds the first one's idea (:func:`turn_into_idea_once`). When the listening
step had already proposed an idea from one of the conversation's posts, that idea is
linked (and confirmed) instead of adding a duplicate.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypedDict, Unpack

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from socialcrm.appdb.accounts import audit
from socialcrm.appdb.models import Conversation, ConversationIdea, ConversationMessage, Idea
from socialcrm.collaborating import ideas
from socialcrm.collaborating.people import Value

if TYPE_CHECKING:
    from socialcrm.appdb.db import AppDB

TITLE_CHARS = 120


@dataclass(frozen=True)
class Outcome:
    idea_id: int
    created: bool
    """False when the conversation had its idea already (or one proposed from its post)."""
    title: str
    status: str
    merged_into_id: int | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "idea_id": self.idea_id,
            "created": self.created,
            "title": self.title,
            "status": self.status,
            "merged_into_id": self.merged_into_id,
        }


def linked_idea(s: Session, conversation_id: int) -> Idea | None:
    """The idea this conversation was turned into, if any."""
    link = s.get(ConversationIdea, conversation_id)
    return None if link is None else s.get(Idea, link.idea_id)


def _inbound(s: Session, conv: Conversation) -> list[ConversationMessage]:
    return list(
        s.scalars(
            select(ConversationMessage)
            .where(
                ConversationMessage.conversation_id == conv.id,
                ConversationMessage.direction == "in",
            )
            .order_by(ConversationMessage.created_at, ConversationMessage.id)
        )
    )


def draft(s: Session, conv: Conversation) -> tuple[str, str]:
    """The title and body the form starts with: the first post, then the whole thread."""
    texts = [m.text.strip() for m in _inbound(s, conv) if m.text.strip()] or [conv.subject]
    title = " ".join(texts[0].split())
    if len(title) > TITLE_CHARS:
        title = title[: TITLE_CHARS - 1].rstrip() + "…"
    return title, "\n\n".join(texts)


def _outcome(idea: Idea, created: bool) -> Outcome:
    return Outcome(idea.id, created, idea.title, idea.status, idea.merged_into_id)


def turn_into_idea(
    s: Session,
    conv: Conversation,
    actor: str,
    *,
    title: str | None = None,
    body: str | None = None,
    known_customers: Callable[[Iterable[str]], set[str]] = lambda _ids: set(),
    values: Callable[[list[str]], dict[str, Value]] = lambda _ids: {},
) -> Outcome:
    """Make (or find) the idea of ``conv``; audited. ``title``/``body`` default to
    :func:`draft`. ``known_customers`` says which customer ids the warehouse knows;
    ``values`` gives a customer's value (an amplifier's idea is highlighted)."""
    existing = linked_idea(s, conv.id)
    if existing is not None:
        return _outcome(existing, False)
    msgs = _inbound(s, conv)
    first_title, first_body = draft(s, conv)
    title = (title or "").strip() or first_title
    body = first_body if body is None else body
    keys = [f"post:{m.platform}:{m.post_id}" for m in msgs]
    proposed = None
    if keys:
        proposed = s.scalar(select(Idea).where(Idea.source_key.in_(keys)).order_by(Idea.id))
    if proposed is not None:
        # Listening proposed it from this very post: link that idea, do not add a twin.
        if proposed.proposed:
            ideas.confirm(s, proposed.id, actor)
        idea, created = proposed, False
    else:
        customer = conv.customer_id
        if customer and customer not in known_customers([customer]):
            customer = None  # only a known customer; else the author's handle is the source
        influencer = values([customer]).get(customer, Value()).amplifier if customer else False
        contributor = ideas.Contributor(
            customer_id=customer,
            platform=conv.platform,
            handle=conv.author_handle,
            post_id=msgs[0].post_id if msgs else None,
            influencer=influencer,
        )
        idea = ideas.submit(
            s,
            title,
            body,
            actor=actor,
            source="inbox",
            contributor=contributor,
            source_key=f"conversation:{conv.id}",
        )
        created = True
    ideas.link_conversation(s, idea, conv.id, actor)
    audit(s, actor, "conversation.to_idea", str(conv.id), idea_id=idea.id, created=created)
    return _outcome(idea, created)


class TurnOptions(TypedDict, total=False):
    """The keyword arguments of :func:`turn_into_idea`, passed on by
    :func:`turn_into_idea_once`."""

    title: str | None
    body: str | None
    known_customers: Callable[[Iterable[str]], set[str]]
    values: Callable[[list[str]], dict[str, Value]]


def turn_into_idea_once(
    db: AppDB, conversation_id: int, actor: str, **kw: Unpack[TurnOptions]
) -> Outcome:
    """:func:`turn_into_idea` in its own transaction on ``db`` (an ``AppDB``). If another
    request linked the conversation at the same moment, the database refuses the second
    link; this one is then rolled back and answers with the idea the other one made."""
    try:
        with db.session() as s:
            conv = s.get(Conversation, conversation_id)
            if conv is None:
                raise ideas.IdeaError(f"no conversation {conversation_id}")
            return turn_into_idea(s, conv, actor, **kw)
    except IntegrityError:
        with db.session() as s:
            idea = linked_idea(s, conversation_id)
            if idea is None:
                raise
            return _outcome(idea, False)
