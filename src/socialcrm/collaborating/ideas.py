"""Ideas: capture, confirm, vote, give a status with a public reason, merge and unmerge.

Ideas come from posts classified as suggestions (proposed, until an agent confirms them)
or are submitted through the API or a form. Duplicates are found by TF-IDF cosine and
merged: votes, contributors and history move to the surviving idea, and the merge records
exactly which rows it moved, so unmerging puts every one back. Status changes notify each
contributor through their preferred channel when consent allows, and emit the webhook
event ``idea.status_changed``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from socialcrm.appdb.accounts import audit
from socialcrm.appdb.models import (
    IDEA_STATUSES,
    ConversationIdea,
    Idea,
    IdeaContributor,
    IdeaHistory,
    IdeaMerge,
    IdeaNotification,
    IdeaVote,
    utcnow,
)
from socialcrm.collaborating import people
from socialcrm.collaborating.idea_filter import is_idea
from socialcrm.collaborating.people import Route, Value
from socialcrm.listening.addressed import addressed, brand_accounts
from socialcrm.outbound import webhooks
from socialcrm.outbound.outbox import enqueue
from socialcrm.store.reads import ReadModel
from socialcrm.store.run import RunContext
from socialcrm.store.workspace import Workspace

STATUS_LABELS = {
    "new": "New",
    "under_review": "Under review",
    "planned": "Planned",
    "in_progress": "In progress",
    "shipped": "Shipped",
    "declined": "Declined",
}
SOURCES = ("post", "api", "form", "feedback", "inbox")


class IdeaError(ValueError):
    """A request about ideas that cannot be honoured (the message says why)."""


@dataclass(frozen=True)
class Contributor:
    customer_id: str | None = None
    platform: str | None = None
    handle: str | None = None
    post_id: str | None = None
    influencer: bool = False


def _clean(text: str, limit: int) -> str:
    """Text as stored: NUL bytes dropped (PostgreSQL refuses them), cut to ``limit``."""
    return text.replace("\x00", "").strip()[:limit]


def get(s: Session, idea_id: int) -> Idea:
    idea = s.get(Idea, idea_id)
    if idea is None:
        raise IdeaError(f"no idea {idea_id}")
    return idea


def root(s: Session, idea_id: int) -> Idea:
    """The idea that now stands for ``idea_id`` (following merges)."""
    idea = get(s, idea_id)
    seen = set()
    while idea.merged_into_id is not None and idea.id not in seen:
        seen.add(idea.id)
        idea = get(s, idea.merged_into_id)
    return idea


def _history(s: Session, idea: Idea, actor: str, action: str, **detail: Any) -> IdeaHistory:
    h = IdeaHistory(idea_id=idea.id, origin_idea_id=idea.id, actor=actor, action=action)
    h.detail = detail
    s.add(h)
    s.flush()
    return h


def submit(
    s: Session,
    title: str,
    body: str = "",
    *,
    actor: str,
    source: str = "api",
    contributor: Contributor | None = None,
    proposed: bool = False,
    source_key: str | None = None,
) -> Idea:
    """A new idea (status ``new``); its contributor is recorded when known."""
    title = _clean(" ".join(title.split()), 200)
    if not title:
        raise IdeaError("an idea needs a title")
    if source not in SOURCES:
        raise IdeaError(f"unknown source {source!r}; sources: {', '.join(SOURCES)}")
    c = contributor or Contributor()
    idea = Idea(
        title=title,
        body=_clean(body, 5000),
        status="new",
        public_reason="",
        source=source,
        source_key=source_key,
        proposed=proposed,
        highlighted=c.influencer,
        created_by=actor,
    )
    s.add(idea)
    s.flush()
    if c.customer_id or c.handle:
        s.add(
            IdeaContributor(
                idea_id=idea.id,
                origin_idea_id=idea.id,
                customer_id=c.customer_id,
                platform=c.platform,
                handle=c.handle,
                post_id=c.post_id,
                influencer=c.influencer,
            )
        )
    _history(s, idea, actor, "proposed" if proposed else "created", source=source)
    return idea


def sync_from_posts(
    s: Session, posts: list[dict[str, Any]], values: dict[str, Value], followers_floor: int
) -> dict[str, int]:
    """Propose an idea per suggestion post not seen before (idempotent by post).

    ``posts`` are rows of ``posts_enriched`` with intent ``suggestion``; spam and
    near-duplicate copies are skipped, and so are posts that ask for nothing in
    particular (agreement, praise, thanks: see :mod:`.idea_filter`). An author is an
    influencer when their customer is an amplifier or they have at least
    ``followers_floor`` followers.
    """
    keys = [f"post:{p['platform']}:{p['post_id']}" for p in posts]
    known = set()
    for i in range(0, len(keys), 500):
        chunk = keys[i : i + 500]
        known |= set(s.scalars(select(Idea.source_key).where(Idea.source_key.in_(chunk))))
    created = skipped = not_ideas = 0
    for key, p in zip(keys, posts, strict=True):
        if key in known or p.get("is_spam") or p.get("is_duplicate"):
            skipped += 1
            continue
        if not is_idea(p.get("text") or ""):  # "Yes please!", "love it. pls": not ideas
            not_ideas += 1
            continue
        cid = p.get("customer_id")
        v = values.get(cid or "", Value())
        influencer = v.amplifier or (p.get("author_followers") or 0) >= followers_floor
        text = p.get("text") or ""
        submit(
            s,
            text[:120],
            text,
            actor="sync",
            source="post",
            contributor=Contributor(
                cid, p.get("platform"), p.get("author_handle"), p.get("post_id"), influencer
            ),
            proposed=True,
            source_key=key,
        )
        known.add(key)
        created += 1
    return {"proposed": created, "skipped": skipped, "not_ideas": not_ideas}


SUGGESTION_COLUMNS = (
    "post_id",
    "platform",
    "author_handle",
    "customer_id",
    "text",
    "is_spam",
    "is_duplicate",
    "author_followers",
)


def sync(
    s: Session, rm: ReadModel, followers_floor: int, accounts: frozenset[str] = frozenset()
) -> dict[str, int]:
    """Propose ideas from the suggestion posts of ``posts_enriched`` (idempotent) that
    address the brand: name it or its products, @-mention one of its ``accounts``, or
    reply to one of its posts (:mod:`socialcrm.listening.addressed`). A suggestion in the
    wider conversation ("someone should make a better phone") is not the brand's idea."""
    if not rm.exists("posts_enriched"):
        return {"proposed": 0, "skipped": 0, "not_ideas": 0, "not_addressed": 0}
    cols = rm.columns("posts_enriched")
    src = rm.source("posts_enriched")
    want = [c for c in SUGGESTION_COLUMNS if c in cols]
    params: list[Any] = []
    if rm.exists("post_mentions") and "entity_kind" in rm.columns("post_mentions"):
        want.append(
            f"post_id IN (SELECT post_id FROM {rm.source('post_mentions')} "
            "WHERE entity_kind IN ('brand', 'product')) AS names_brand"
        )
    if accounts and "reply_to_post_id" in cols:
        marks = ", ".join("?" for _ in accounts)
        want.append(
            f"reply_to_post_id IN (SELECT post_id FROM {src} "
            f"WHERE lower(author_handle) IN ({marks})) AS replies_to_brand"
        )
        params.extend(sorted(accounts))
    order = "created_at, post_id" if "created_at" in cols else "post_id"
    rows = rm.rows(
        f"SELECT {', '.join(want)} FROM {src} WHERE intent = 'suggestion' ORDER BY {order}",
        params,
    )
    posts = [p for p in rows if addressed(p, accounts)]
    vals = people.values(rm, [p.get("customer_id") for p in posts])
    done = sync_from_posts(s, posts, vals, followers_floor)
    return {**done, "not_addressed": len(rows) - len(posts)}


def step_ideas(ws: Workspace, ctx: RunContext) -> dict[str, int]:
    """The pipeline step: sync suggestions into the app database; no warehouse table."""
    from socialcrm.appdb.db import AppDB

    settings = ws.settings
    db = AppDB(settings.resolved_database_url)
    try:
        with db.session() as s:
            done = sync(
                s,
                ReadModel(settings.warehouse_dir),
                settings.idea_influencer_followers,
                brand_accounts(settings),
            )
    finally:
        db.close()
    return {"ideas_proposed": done["proposed"]}


def link_conversation(s: Session, idea: Idea, conversation_id: int, actor: str) -> None:
    """Record that ``idea`` came from inbox conversation ``conversation_id`` (the inbox's
    "turn into idea"); a conversation links to one idea, so a second link is refused by
    the database."""
    s.add(ConversationIdea(conversation_id=conversation_id, idea_id=idea.id, created_by=actor))
    s.flush()
    _history(s, idea, actor, "from_conversation", conversation=conversation_id)


def conversation_ids(s: Session, idea_ids: list[int]) -> list[int]:
    """The inbox conversations these ideas came from."""
    if not idea_ids:
        return []
    return list(
        s.scalars(
            select(ConversationIdea.conversation_id)
            .where(ConversationIdea.idea_id.in_(idea_ids))
            .order_by(ConversationIdea.conversation_id)
        )
    )


def confirm(s: Session, idea_id: int, actor: str) -> Idea:
    """An agent agrees a proposed idea (from a post) is one: it joins the board."""
    idea = get(s, idea_id)
    if not idea.proposed:
        raise IdeaError(f"idea {idea_id} is not waiting for confirmation")
    idea.proposed = False
    idea.updated_at = utcnow()
    _history(s, idea, actor, "confirmed")
    audit(s, actor, "idea.confirm", f"idea:{idea.id}")
    return idea


def decline(s: Session, idea_id: int, actor: str) -> Idea:
    """An agent says a proposed idea (from a post) is not one (praise, a thank-you, a
    question): it leaves the list waiting for confirmation and stays declined, so the
    next sync does not propose that post again (its source key is kept). No contributor
    is notified: nobody asked for anything."""
    idea = get(s, idea_id)
    if not idea.proposed or idea.status != "new":
        raise IdeaError(f"idea {idea_id} is not waiting for confirmation")
    idea.status, idea.updated_at = "declined", utcnow()
    idea.public_reason = "not an idea"
    _history(s, idea, actor, "declined as not an idea")
    audit(s, actor, "idea.decline", f"idea:{idea.id}")
    return idea


def vote(s: Session, idea_id: int, voter: str, actor: str) -> bool:
    """Record ``voter``'s vote (idempotent); True when it is new."""
    voter = _clean(voter, 200)
    if not voter:
        raise IdeaError("a vote needs a voter (a customer id)")
    idea = root(s, idea_id)
    exists = s.scalar(
        select(IdeaVote.id).where(IdeaVote.idea_id == idea.id, IdeaVote.voter == voter)
    )
    if exists is not None:
        return False
    s.add(IdeaVote(idea_id=idea.id, origin_idea_id=idea.id, voter=voter))
    s.flush()
    _history(s, idea, actor, "voted", voter=voter)
    return True


def set_status(
    s: Session,
    idea_id: int,
    status: str,
    reason: str,
    actor: str,
    route: Callable[[list[str]], dict[str, Route]],
) -> list[IdeaNotification]:
    """Move an idea to ``status`` with a public reason; notify contributors; emit an event.

    ``route`` says how each contributing customer may be reached (see
    :func:`socialcrm.collaborating.people.routes`).
    """
    if status not in IDEA_STATUSES:
        raise IdeaError(f"unknown status {status!r}; statuses: {', '.join(IDEA_STATUSES)}")
    reason = _clean(" ".join(reason.split()), 1000)
    if not reason:
        raise IdeaError("every status needs a public reason: say why")
    idea = get(s, idea_id)
    if idea.merged_into_id is not None:
        raise IdeaError(f"idea {idea_id} was merged into {idea.merged_into_id}; change that one")
    if idea.proposed:
        raise IdeaError(f"idea {idea_id} is still proposed; confirm it first")
    old = idea.status
    idea.status, idea.public_reason, idea.updated_at = status, reason, utcnow()
    h = _history(s, idea, actor, "status", old=old, new=status, reason=reason)
    audit(s, actor, "idea.status", f"idea:{idea.id}", old=old, new=status)
    notes = notify(s, idea, old, route)
    webhooks.emit(
        s,
        "idea.status_changed",
        f"idea_history:{h.id}",
        {
            "idea_id": idea.id,
            "title": idea.title,
            "old_status": old,
            "status": status,
            "public_reason": reason,
            "notifications": [
                {"channel": n.channel, "recipient": n.recipient, "status": n.status} for n in notes
            ],
        },
    )
    return notes


def notify(
    s: Session, idea: Idea, old: str, route: Callable[[list[str]], dict[str, Route]]
) -> list[IdeaNotification]:
    """One notification per contributor: queued on their channel, or suppressed with why.

    Contributors known only by a social handle get a public reply on their own post:
    they addressed the brand in public, and the reply joins no personal data.
    """
    people = contributors(s, idea.id)
    routes = route([c.customer_id for c in people if c.customer_id])
    message = (
        f"Your idea “{idea.title}” is now {STATUS_LABELS[idea.status].lower()}: "
        f"{idea.public_reason}"
    )[:2000]
    notes = []
    for c in people:
        r = routes.get(c.customer_id or "") if c.customer_id else None
        if r is not None and r.channel is not None and r.channel != "social":
            n = IdeaNotification(channel=r.channel, recipient=c.customer_id, status="queued")
            n.reason = r.reason
        elif c.handle and (r is None or r.channel == "social" or c.customer_id is None):
            n = IdeaNotification(
                channel="social", recipient=f"{c.platform}:@{c.handle}", status="queued"
            )
            n.reason = "public reply on the contributor's post"
        else:
            n = IdeaNotification(channel=None, recipient=c.customer_id or "?", status="suppressed")
            n.reason = r.reason if r else "no way to reach this contributor"
        n.idea_id, n.contributor_id, n.message = idea.id, c.id, message
        s.add(n)
        s.flush()
        if n.channel == "social" and c.post_id and c.platform and c.handle:
            _reply_outbox(s, n, c)
        notes.append(n)
    return notes


def _reply_outbox(s: Session, n: IdeaNotification, c: IdeaContributor) -> None:
    """Queue the public reply in the outbox, which posts it once, with retries."""
    assert c.platform is not None  # the caller queues a reply only to a known platform
    item = enqueue(
        s,
        connector=c.platform,
        body=f"@{c.handle} {n.message}"[:2000],
        in_reply_to=c.post_id,
        conversation_id=None,
        actor="ideas",
        key=f"idea-notification:{n.id}",
    )
    n.reason = f"{n.reason} (outbox item {item.id})"[:300]


def contributors(s: Session, idea_id: int) -> list[IdeaContributor]:
    return list(
        s.scalars(
            select(IdeaContributor)
            .where(IdeaContributor.idea_id == idea_id)
            .order_by(IdeaContributor.id)
        )
    )


def votes(s: Session, idea_id: int) -> list[IdeaVote]:
    return list(
        s.scalars(select(IdeaVote).where(IdeaVote.idea_id == idea_id).order_by(IdeaVote.id))
    )


def history(s: Session, idea_id: int) -> list[IdeaHistory]:
    return list(
        s.scalars(
            select(IdeaHistory).where(IdeaHistory.idea_id == idea_id).order_by(IdeaHistory.id)
        )
    )


def notifications(s: Session, idea_id: int) -> list[IdeaNotification]:
    return list(
        s.scalars(
            select(IdeaNotification)
            .where(IdeaNotification.idea_id == idea_id)
            .order_by(IdeaNotification.id)
        )
    )


# -- duplicates and merges ------------------------------------------------------------------
def _open_ideas(s: Session) -> list[Idea]:
    return list(s.scalars(select(Idea).where(Idea.merged_into_id.is_(None)).order_by(Idea.id)))


def similar(s: Session, threshold: float, idea_id: int | None = None) -> list[dict[str, Any]]:
    """Pairs of unmerged ideas whose TF-IDF cosine (words and bigrams) reaches ``threshold``.

    With ``idea_id``, only pairs that include it. Most similar first.
    """
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.metrics.pairwise import cosine_similarity

    ideas = _open_ideas(s)
    if len(ideas) < 2:
        return []
    texts = [f"{i.title} {i.body}" for i in ideas]
    try:
        m = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=1).fit_transform(texts)
    except ValueError:  # only stop words or punctuation: nothing to compare
        return []
    sims = cosine_similarity(m, dense_output=False).tocoo()
    out = []
    for a, b, v in zip(sims.row, sims.col, sims.data, strict=True):
        if a >= b or v < threshold:
            continue
        ia, ib = ideas[a], ideas[b]
        if idea_id is not None and idea_id not in (ia.id, ib.id):
            continue
        out.append({"a": ia.id, "b": ib.id, "similarity": round(float(v), 4)})
    return sorted(out, key=lambda p: -p["similarity"])


_Movable = IdeaVote | IdeaContributor | IdeaHistory
_MOVABLE: dict[str, type[_Movable]] = {
    "votes": IdeaVote,
    "contributors": IdeaContributor,
    "history": IdeaHistory,
}


def merge(
    s: Session, source_id: int, target_id: int, actor: str, similarity: float | None = None
) -> IdeaMerge:
    """Merge ``source`` into ``target``: its votes, contributors and history move over."""
    if source_id == target_id:
        raise IdeaError("an idea cannot be merged into itself")
    source, target = get(s, source_id), get(s, target_id)
    for i in (source, target):
        if i.merged_into_id is not None:
            raise IdeaError(f"idea {i.id} is already merged into {i.merged_into_id}")
    moved: dict[str, list[int]] = {}
    for name, model in _MOVABLE.items():
        # select() of one of several models is typed as their base: the rows are model's
        rows = cast(
            list[_Movable], list(s.scalars(select(model).where(model.idea_id == source.id)))
        )
        for r in rows:
            r.idea_id = target.id
        moved[name] = [r.id for r in rows]
    m = IdeaMerge(source_id=source.id, target_id=target.id, similarity=similarity, actor=actor)
    m.moved = moved
    s.add(m)
    source.merged_into_id = target.id
    source.updated_at = target.updated_at = utcnow()
    s.flush()
    target.highlighted = _any_influencer(s, target.id)
    _history(s, target, actor, "merged", source=source.id, merge=m.id)
    _history(s, source, actor, "merged_into", target=target.id, merge=m.id)
    audit(s, actor, "idea.merge", f"idea:{source.id}", into=target.id)
    return m


def unmerge(s: Session, source_id: int, actor: str) -> Idea:
    """Undo the latest merge of ``source``: every row it moved goes back."""
    source = get(s, source_id)
    m = s.scalar(
        select(IdeaMerge)
        .where(IdeaMerge.source_id == source.id, IdeaMerge.undone_at.is_(None))
        .order_by(IdeaMerge.id.desc())
    )
    if m is None or source.merged_into_id is None:
        raise IdeaError(f"idea {source_id} is not merged")
    for name, ids in m.moved.items():
        model = _MOVABLE[name]
        rows = cast(list[_Movable], list(s.scalars(select(model).where(model.id.in_(ids)))))
        for r in rows:
            r.idea_id = source.id
    source.merged_into_id = None
    m.undone_at = utcnow()
    target = get(s, m.target_id)
    s.flush()
    target.highlighted = _any_influencer(s, target.id)
    source.highlighted = _any_influencer(s, source.id)
    _history(s, target, actor, "unmerged", source=source.id, merge=m.id)
    _history(s, source, actor, "unmerged_from", target=target.id, merge=m.id)
    audit(s, actor, "idea.unmerge", f"idea:{source.id}", into=target.id)
    return source


def _any_influencer(s: Session, idea_id: int) -> bool:
    return bool(
        s.scalar(
            select(func.count())
            .select_from(IdeaContributor)
            .where(IdeaContributor.idea_id == idea_id, IdeaContributor.influencer.is_(True))
        )
    )


# -- reading --------------------------------------------------------------------------------
def tally(voters: list[str], value: Callable[[list[str]], dict[str, Value]]) -> dict[str, Any]:
    """Votes raw (distinct voters) and weighted by the voters' CLV and influence."""
    distinct = sorted(set(voters))
    vals = value(distinct)
    return {
        "votes": len(distinct),
        "clv": round(sum(vals.get(v, Value()).clv for v in distinct), 2),
        "influence": round(sum(vals.get(v, Value()).influence for v in distinct), 2),
    }


def board(
    s: Session,
    value: Callable[[list[str]], dict[str, Value]],
    *,
    status: str | None = None,
    proposed: bool | None = None,
    sort: str = "votes",
) -> list[dict[str, Any]]:
    """Unmerged ideas with their tallies; sorted by votes, clv, influence or newest."""
    q = select(Idea).where(Idea.merged_into_id.is_(None))
    if status:
        q = q.where(Idea.status == status)
    if proposed is not None:
        q = q.where(Idea.proposed.is_(proposed))
    ideas = list(s.scalars(q))
    by_idea: dict[int, list[str]] = {i.id: [] for i in ideas}
    if ideas:
        for idea_id, voter in s.execute(
            select(IdeaVote.idea_id, IdeaVote.voter).where(IdeaVote.idea_id.in_(list(by_idea)))
        ):
            by_idea[idea_id].append(voter)
    vals = value(sorted({v for vs in by_idea.values() for v in vs}))
    rows = []
    for i in ideas:
        rows.append(summary(i) | tally(by_idea[i.id], lambda _ids: vals))
    key = {"clv": "clv", "influence": "influence", "newest": "id"}.get(sort, "votes")
    return sorted(rows, key=lambda r: (-r[key], -r["id"]))


def summary(i: Idea) -> dict[str, Any]:
    return {
        "id": i.id,
        "title": i.title,
        "status": i.status,
        "status_label": STATUS_LABELS[i.status],
        "public_reason": i.public_reason,
        "source": i.source,
        "proposed": i.proposed,
        "highlighted": i.highlighted,
        "merged_into_id": i.merged_into_id,
        "created_at": i.created_at.isoformat(),
        "updated_at": i.updated_at.isoformat(),
    }


def detail(
    s: Session, idea_id: int, value: Callable[[list[str]], dict[str, Value]]
) -> dict[str, Any]:
    """One idea with tallies, contributors, history, notifications and likely duplicates."""
    i = get(s, idea_id)
    vs = votes(s, i.id)
    merged = [
        m.source_id
        for m in s.scalars(
            select(IdeaMerge).where(IdeaMerge.target_id == i.id, IdeaMerge.undone_at.is_(None))
        )
    ]
    return (
        summary(i)
        | {"body": i.body}
        | tally([v.voter for v in vs], value)
        | {
            "voters": [v.voter for v in vs],
            "contributors": [
                {
                    "id": c.id,
                    "customer_id": c.customer_id,
                    "platform": c.platform,
                    "handle": c.handle,
                    "post_id": c.post_id,
                    "influencer": c.influencer,
                    "from_idea": c.origin_idea_id,
                }
                for c in contributors(s, i.id)
            ],
            "history": [
                {"at": h.at.isoformat(), "actor": h.actor, "action": h.action, "detail": h.detail}
                for h in history(s, i.id)
            ],
            "notifications": [
                {
                    "channel": n.channel,
                    "recipient": n.recipient,
                    "status": n.status,
                    "reason": n.reason,
                    "message": n.message,
                    "at": n.created_at.isoformat(),
                }
                for n in notifications(s, i.id)
            ],
            "merged": merged,
            # Inbox conversations it came from (also those of ideas merged into it).
            "conversations": conversation_ids(s, [i.id, *merged]),
        }
    )


__all__ = [
    "Contributor",
    "IdeaError",
    "board",
    "confirm",
    "conversation_ids",
    "detail",
    "link_conversation",
    "merge",
    "set_status",
    "similar",
    "submit",
    "sync_from_posts",
    "unmerge",
    "vote",
]
