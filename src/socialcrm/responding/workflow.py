"""Working a conversation: states, assignment, notes, saved replies, replies, metrics."""

from __future__ import annotations

from datetime import datetime
from statistics import median
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from socialcrm.appdb.accounts import audit
from socialcrm.appdb.models import (
    AgentTopic,
    ConnectorCursor,
    Conversation,
    ConversationMessage,
    ConversationNote,
    SavedReply,
    User,
    utcnow,
)
from socialcrm.outbound.outbox import enqueue
from socialcrm.responding import sla

# Which state may follow which: an agent cannot jump from new to closed without an answer
# being possible to find later (resolved first), and closed is final.
TRANSITIONS: dict[str, tuple[str, ...]] = {
    "new": ("open", "waiting", "resolved"),
    "open": ("waiting", "resolved"),
    "waiting": ("open", "resolved"),
    "resolved": ("open", "closed"),
    "closed": (),
}


# Analysts read the inbox; agents (and admins) work it.
WORKERS = ("agent", "admin")


class WorkflowError(ValueError):
    """A change the workflow does not allow; the message says why."""


def get(s: Session, conversation_id: int) -> Conversation:
    conv = s.get(Conversation, conversation_id)
    if conv is None:
        raise WorkflowError(f"no conversation {conversation_id}")
    return conv


def transition(
    s: Session, conv: Conversation, state: str, actor: str, now: datetime | None = None
) -> Conversation:
    """Move ``conv`` to ``state`` if the workflow allows it; audited."""
    now = now or utcnow()
    if state not in TRANSITIONS:
        raise WorkflowError(f"unknown state {state!r}; states: {', '.join(TRANSITIONS)}")
    if state != conv.state and state not in TRANSITIONS[conv.state]:
        raise WorkflowError(f"a {conv.state} conversation cannot become {state}")
    before = conv.state
    sla.set_state(conv, state, now)  # leaving "waiting" resumes the resolution clock
    if state == "resolved":
        conv.resolved_at = now
        if now > conv.resolution_due:
            conv.resolution_breached = True
        conv.priority = 0.0
    elif state == "closed":
        conv.closed_at = now
    elif before == "resolved":
        conv.resolved_at = None
    conv.updated_at = now
    audit(s, actor, "conversation.state", str(conv.id), before=before, after=state)
    return conv


def assign(
    s: Session, conv: Conversation, user_id: int | None, actor: str, now: datetime | None = None
) -> Conversation:
    """Assign to an active agent (or higher), or unassign with None."""
    if user_id is not None:
        user = s.get(User, user_id)
        if user is None or not user.active or user.role not in WORKERS:
            raise WorkflowError(f"user {user_id} is not an active agent")
    conv.assignee_id = user_id
    if conv.state == "new" and user_id is not None:
        sla.set_state(conv, "open", now or utcnow())
    audit(s, actor, "conversation.assign", str(conv.id), assignee_id=user_id)
    return conv


def agents(s: Session) -> list[User]:
    """Active users who may work the inbox, in a stable order."""
    users = s.scalars(select(User).where(User.active.is_(True)).order_by(User.id))
    return [u for u in users if u.role in WORKERS]


def auto_assign(s: Session, actor: str = "system") -> int:
    """Assign every unassigned open conversation, highest priority first: to an agent
    skilled in its topic when there is one (the least loaded of them), else round-robin.
    Returns how many were assigned."""
    team = agents(s)
    if not team:
        return 0
    ids = [u.id for u in team]
    skills: dict[int, list[int]] = {}
    for at in s.scalars(select(AgentTopic).where(AgentTopic.user_id.in_(ids))):
        skills.setdefault(at.topic_id, []).append(at.user_id)
    load = dict.fromkeys(ids, 0)
    for uid, n in s.execute(
        select(Conversation.assignee_id, func.count())
        .where(
            Conversation.assignee_id.in_(ids), Conversation.state.in_(("new", "open", "waiting"))
        )
        .group_by(Conversation.assignee_id)
    ):
        assert uid is not None  # the where clause keeps assignees in ids
        load[uid] = n
    cursor = s.get(ConnectorCursor, "inbox:round_robin")
    last = int(cursor.value) if cursor else -1
    todo = s.scalars(
        select(Conversation)
        .where(Conversation.assignee_id.is_(None), Conversation.state.in_(("new", "open")))
        .order_by(Conversation.priority.desc(), Conversation.id)
    )
    n = 0
    for conv in todo:
        skilled = skills.get(conv.topic_id) if conv.topic_id is not None else None
        if skilled:
            uid = min(skilled, key=lambda u: (load[u], u))
        else:
            later = [u for u in ids if u > last]
            uid = later[0] if later else ids[0]
            last = uid
        assign(s, conv, uid, actor)
        load[uid] += 1
        n += 1
    if cursor is None:
        s.add(ConnectorCursor(name="inbox:round_robin", value=str(last)))
    else:
        cursor.value, cursor.updated_at = str(last), utcnow()
    s.flush()
    return n


def set_skills(s: Session, user_id: int, topics: list[int]) -> None:
    for at in s.scalars(select(AgentTopic).where(AgentTopic.user_id == user_id)):
        s.delete(at)
    s.flush()
    for t in sorted(set(topics)):
        s.add(AgentTopic(user_id=user_id, topic_id=t))


def add_note(s: Session, conv: Conversation, author: str, text: str) -> ConversationNote:
    text = text.strip()
    if not text:
        raise WorkflowError("a note needs some text")
    note = ConversationNote(conversation_id=conv.id, author=author, text=text[:5000])
    s.add(note)
    s.flush()
    return note


def save_reply(
    s: Session, name: str, body: str, actor: str, *, question: bool = False
) -> SavedReply:
    """A reply template; ``question`` offers it to "ask a question"."""
    name, body = name.strip(), body.strip()
    if not name or not body:
        raise WorkflowError("a saved reply needs a name and a body")
    if s.scalar(select(SavedReply.id).where(SavedReply.name == name)) is not None:
        raise WorkflowError(f"a saved reply called {name!r} exists already")
    r = SavedReply(name=name[:100], body=body, created_by=actor, is_question=question)
    s.add(r)
    s.flush()
    audit(s, actor, "saved_reply.create", name[:100], question=question)
    return r


def saved_replies(s: Session, *, questions: bool | None = None) -> list[SavedReply]:
    """Saved replies by name; ``questions=True`` only the question templates."""
    q = select(SavedReply).order_by(SavedReply.name)
    if questions is not None:
        q = q.where(SavedReply.is_question.is_(questions))
    return list(s.scalars(q))


def reply(
    s: Session,
    conv: Conversation,
    body: str,
    actor: str,
    *,
    connector: str,
    key: str | None = None,
    ask: bool = False,
    now: datetime | None = None,
) -> int:
    """Queue a public reply to the thread's last customer post; returns the outbox id.

    The conversation waits on the customer afterwards; ``ask`` marks it as a question
    (same effect, audited as such). ``key`` makes a double-submitted form queue once.
    """
    now = now or utcnow()
    body = body.replace("{handle}", conv.author_handle).strip()
    if not body:
        raise WorkflowError("a reply needs some text")
    if conv.state == "closed":
        raise WorkflowError("a closed conversation cannot be answered")
    last_in = s.scalar(
        select(ConversationMessage.post_id)
        .where(
            ConversationMessage.conversation_id == conv.id, ConversationMessage.direction == "in"
        )
        .order_by(ConversationMessage.created_at.desc())
        .limit(1)
    )
    item = enqueue(s, connector=connector, body=body, in_reply_to=last_in,
                   conversation_id=conv.id, actor=actor, key=key, now=now)  # fmt: skip
    if conv.first_response_at is None:
        conv.first_response_at = now
        if now > conv.first_response_due:
            conv.first_response_breached = True
    if conv.state in ("new", "open"):
        sla.set_state(conv, "waiting", now)  # on the customer: the resolution clock pauses
    conv.updated_at = now
    audit(s, actor, "conversation.ask" if ask else "conversation.reply", str(conv.id),
          outbox_id=item.id)  # fmt: skip
    return item.id


def ask(
    s: Session,
    conv: Conversation,
    actor: str,
    *,
    connector: str,
    question: str | None = None,
    saved: str | None = None,
    key: str | None = None,
    now: datetime | None = None,
) -> int:
    """Ask the customer a question: a public reply through the outbox (same path as any
    reply, so retries and the idempotency key hold), from a question template (``saved``,
    a saved reply flagged as a question) or free text (``question``). The conversation
    then waits on the customer, which pauses its resolution SLA, until they write back.
    Returns the outbox id.
    """
    now = now or utcnow()
    text = (question or "").strip()
    if saved and not text:
        tpl = s.scalar(select(SavedReply).where(SavedReply.name == saved))
        if tpl is None:
            raise WorkflowError(f"no saved reply called {saved!r}")
        if not tpl.is_question:
            raise WorkflowError(f"saved reply {saved!r} is not a question template")
        text = tpl.body
    if not text:
        raise WorkflowError("ask a question: pick a question template or write one")
    if conv.state == "resolved":  # asking again reopens it, the way the workflow allows
        transition(s, conv, "open", actor, now=now)
    return reply(s, conv, text, actor, connector=connector, key=key, ask=True, now=now)


def metrics(s: Session) -> dict[str, Any]:
    """First response and resolution times (hours, median and mean), breaches, and the
    customers' mean sentiment before and after the brand's reply."""
    rows = s.execute(
        select(
            Conversation.first_message_at,
            Conversation.first_response_at,
            Conversation.resolved_at,
            Conversation.first_response_breached,
            Conversation.resolution_breached,
            Conversation.sentiment_score,
            Conversation.sentiment_after,
            Conversation.state,
        )
    ).all()
    frt = [(r[1] - r[0]).total_seconds() / 3600 for r in rows if r[1] is not None]
    rt = [(r[2] - r[0]).total_seconds() / 3600 for r in rows if r[2] is not None]
    pairs = [(r[5], r[6]) for r in rows if r[5] is not None and r[6] is not None]
    states: dict[str, int] = {}
    for r in rows:
        states[r[7]] = states.get(r[7], 0) + 1
    return {
        "conversations": len(rows),
        "states": states,
        "first_response_hours": _summary(frt),
        "resolution_hours": _summary(rt),
        "first_response_breaches": sum(1 for r in rows if r[3]),
        "resolution_breaches": sum(1 for r in rows if r[4]),
        "sentiment_before_reply": _mean([a for a, _ in pairs]),
        "sentiment_after_reply": _mean([b for _, b in pairs]),
        "answered_with_follow_up": len(pairs),
    }


def _summary(xs: list[float]) -> dict[str, float | int | None]:
    return {"n": len(xs), "median": round(median(xs), 3) if xs else None,
            "mean": _mean(xs)}  # fmt: skip


def _mean(xs: list[float]) -> float | None:
    return round(sum(xs) / len(xs), 4) if xs else None
