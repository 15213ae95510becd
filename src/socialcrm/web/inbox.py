"""The engagement inbox on the web: REST API under ``/api/v1/inbox`` and pages under
``/inbox``. Agents (and admins) work conversations; analysts read; viewers see the queue
with authors, texts and staff emails masked. Writes follow the app's one rule (a bearer
token, or the session's CSRF token: see security.py); social text is escaped."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from socialcrm.appdb.accounts import Principal
from socialcrm.appdb.models import (
    Conversation,
    ConversationMessage,
    ConversationNote,
    OutboxItem,
    SavedReply,
    User,
    utcnow,
)
from socialcrm.collaborating import from_conversation as to_idea
from socialcrm.collaborating import people
from socialcrm.collaborating.ideas import IdeaError
from socialcrm.responding import priority, sla, workflow
from socialcrm.responding.queries import COUNT_CAP, LIST_STATES, list_conversations, queue_counts
from socialcrm.store import reads
from socialcrm.store.reads import ReadModel
from socialcrm.web import charts
from socialcrm.web.deps import (
    AppState,
    State,
    act,
    api_principal,
    page_principal,
    respond,
    state,
)
from socialcrm.web.security import mask_handle, mask_person

router = APIRouter()
ConvId = Annotated[int, Path(ge=1, le=2**31 - 1, description="Conversation id.")]
PAGE = 50
QUEUE_PATTERN = r"^[\w:.\-]{1,64}$"
ASSIGNEE_PATTERN = r"^(me|none|\d{1,10})$"


def _worker(p: Principal) -> None:
    if p.role not in workflow.WORKERS:
        raise HTTPException(403, f"only agents work the inbox; you are {p.role}")


async def api_worker(p: Principal = Depends(api_principal)) -> Principal:
    _worker(p)
    return p


async def page_worker(p: Principal = Depends(page_principal)) -> Principal:
    _worker(p)
    return p


Worker = Annotated[Principal, Depends(api_worker)]
PageWorker = Annotated[Principal, Depends(page_worker)]


def queue_labels(rm: ReadModel | None, queues: list[str]) -> dict[str, str]:
    """``topic:3`` → its topic's label (``battery life, charging``) from the warehouse's
    topics, when known; posts in no topic are "other", never "topic -1"."""
    labels = {q: "other" if q == "topic:-1" else q.replace(":", " ") for q in queues}
    ids = [int(q.split(":", 1)[1]) for q in queues if q.startswith("topic:") and q[6:].isdigit()]
    if ids and rm is not None:
        try:
            for topic_id, label in reads.listening.topic_labels(rm, ids).items():
                labels[f"topic:{topic_id}"] = label
        except Exception:  # the warehouse is optional here: fall back to the bare names
            pass
    return labels


def _assignee_filter(raw: str | None, mine: bool, p: Principal) -> tuple[int | None, bool]:
    """``me``, ``none`` (unassigned) or a user id; ``mine=true`` is ``me``."""
    if mine or raw == "me":
        return p.user_id, False
    if raw == "none":
        return None, True
    return (int(raw), False) if raw and raw.isdigit() else (None, False)


def _masked(rows: list[dict[str, Any]], p: Principal) -> list[dict[str, Any]]:
    if p.can("agent"):
        return rows
    return [{**r, "author_handle": mask_handle(r["author_handle"]), "subject": "•••",
             "customer_id": None} for r in rows]  # fmt: skip


def detail(s: Session, conv: Conversation, p: Principal) -> dict[str, Any]:
    msgs = s.scalars(
        select(ConversationMessage)
        .where(ConversationMessage.conversation_id == conv.id)
        .order_by(ConversationMessage.created_at, ConversationMessage.id)
    ).all()
    notes = s.scalars(
        select(ConversationNote)
        .where(ConversationNote.conversation_id == conv.id)
        .order_by(ConversationNote.id)
    ).all()
    queued = s.scalars(
        select(OutboxItem).where(OutboxItem.conversation_id == conv.id).order_by(OutboxItem.id)
    ).all()
    parts = {k: v for k, v in (conv.priority_parts or {}).items() if not k.startswith("_")}
    see = p.can("agent")
    idea = to_idea.linked_idea(s, conv.id)
    now = utcnow()
    return {
        "id": conv.id, "platform": conv.platform, "state": conv.state,
        "author_handle": conv.author_handle if see else mask_handle(conv.author_handle),
        "customer_id": conv.customer_id if see else None,
        "queue": conv.queue, "topic_id": conv.topic_id, "assignee_id": conv.assignee_id,
        "assignee": conv.assignee.email if conv.assignee else None,
        "priority": conv.priority, "explanation": priority.explain(parts),
        "intent": conv.intent, "sentiment_score": conv.sentiment_score,
        "sentiment_after": conv.sentiment_after, "influence": conv.influence, "clv": conv.clv,
        "risk_band": conv.risk_band, "first_message_at": conv.first_message_at,
        "first_response_due": conv.first_response_due, "resolution_due": conv.resolution_due,
        "first_response_at": conv.first_response_at, "resolved_at": conv.resolved_at,
        "first_response_breached": conv.first_response_breached,
        "resolution_breached": conv.resolution_breached,
        # Waiting on the customer pauses the resolution SLA: the due time seen now.
        "waiting_since": conv.waiting_since,
        "waiting_hours": round(sla.paused_seconds(conv, now) / 3600, 3),
        "resolution_due_now": sla.resolution_due(conv, now),
        "idea": None if idea is None else {
            "id": idea.id, "title": idea.title, "status": idea.status,
            "merged_into_id": idea.merged_into_id},
        "messages": [
            {"post_id": m.post_id, "direction": m.direction, "created_at": m.created_at,
             "author_handle": m.author_handle if see or m.direction == "out"
             else mask_handle(m.author_handle),
             "text": m.text if see else "•••", "sentiment_score": m.sentiment_score}
            for m in msgs
        ],
        "notes": [{"author": n.author, "text": n.text, "created_at": n.created_at}
                  for n in notes] if see else [],
        "outbox": [{"id": o.id, "status": o.status, "attempts": o.attempts, "body": o.body,
                    "last_error": o.last_error} for o in queued] if see else [],
        "transitions": list(workflow.TRANSITIONS[conv.state]),
    }  # fmt: skip


def _conv(s: Session, conversation_id: int) -> Conversation:
    conv = s.get(Conversation, conversation_id)
    if conv is None:
        raise HTTPException(404, f"no conversation {conversation_id}")
    return conv


def _act(st: AppState, conversation_id: int, fn: Callable[[Session, Conversation], object],
         p: Principal | None = None) -> Response:  # fmt: skip
    """A conversation's action, the body of every inbox write: in one transaction the
    conversation (404 if none) and ``fn(session, conversation)`` (a workflow error is a
    409); then the conversation as JSON for ``p`` (the API), else back to its page (a form).
    """

    def go(s: Session) -> Response | None:
        conv = _conv(s, conversation_id)
        fn(s, conv)
        return None if p is None else respond(detail(s, conv, p), p)

    back = f"/inbox/{conversation_id}" if p is None else None
    return act(st, go, errors=(workflow.WorkflowError,), status=409, then=back)


def _to_idea(st: AppState, conversation_id: int, actor: str, title: str | None,
             body: str | None) -> to_idea.Outcome:  # fmt: skip
    """Turn the conversation into an idea (or find the one it became): 404, 409 on errors."""
    act(st, lambda s: _conv(s, conversation_id), errors=())
    try:
        return to_idea.turn_into_idea_once(
            st.db, conversation_id, actor, title=title, body=body,
            known_customers=lambda ids: people.known_customers(st.rm, ids),
            values=lambda ids: people.values(st.rm, ids),
        )  # fmt: skip
    except (workflow.WorkflowError, IdeaError) as e:
        raise HTTPException(409, str(e)) from e


# -- REST API ---------------------------------------------------------------------------
class StateIn(BaseModel):
    state: str = Field(max_length=16)


class AssignIn(BaseModel):
    user_id: int | None = Field(default=None, ge=1, le=2**31 - 1)


class TextIn(BaseModel):
    text: str = Field(min_length=1, max_length=5000)


class ReplyIn(BaseModel):
    body: str = Field(min_length=1, max_length=5000)
    key: str | None = Field(default=None, max_length=100, description="Idempotency key.")
    ask: bool = False


class AskIn(BaseModel):
    question: str | None = Field(default=None, max_length=5000, description="Free text.")
    saved: str | None = Field(default=None, max_length=100, description="A question template.")
    key: str | None = Field(default=None, max_length=100, description="Idempotency key.")


class IdeaIn(BaseModel):
    title: str | None = Field(default=None, max_length=200, description="Default: the post.")
    body: str | None = Field(default=None, max_length=5000, description="Default: the thread.")


class SavedReplyIn(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    body: str = Field(min_length=1, max_length=5000)
    question: bool = Field(default=False, description="Offer it to 'ask a question'.")


# ``async def`` on purpose: the page is one indexed read of about a millisecond, cheaper
# to run on the event loop than to hand to the thread pool (see deps.py).
@router.get("/api/v1/inbox", tags=["inbox"], summary="Conversations, highest priority first")
async def api_list(
    state_: str = Query("open", alias="state", pattern="^(open|all|new|waiting|resolved|closed)$"),
    mine: bool = False,
    assignee: str | None = Query(None, pattern=ASSIGNEE_PATTERN,
                                 description="me, none (unassigned) or a user id."),
    queue: str | None = Query(None, pattern=QUEUE_PATTERN,
                              description="general or topic:<id>; see /api/v1/inbox/queues."),
    page: int = Query(1, ge=1, le=100_000),
    size: int = Query(PAGE, ge=1, le=200),
    p: Principal = Depends(api_principal),
    st: AppState = Depends(state),
) -> Any:  # fmt: skip
    who, unassigned = _assignee_filter(assignee, mine, p)
    with Session(st.db.engine) as s:
        rows, total = list_conversations(s, states=LIST_STATES[state_], assignee=who,
                                         unassigned=unassigned, queue=queue,
                                         page=page, size=size)  # fmt: skip
    return respond({"items": _masked(rows, p), "total": min(total, COUNT_CAP),
                    "total_capped": total > COUNT_CAP, "page": page, "size": size},
                   p)  # fmt: skip


@router.get("/api/v1/inbox/queues", tags=["inbox"], summary="Conversations per queue")
def api_queues(
    state_: str = Query("open", alias="state", pattern="^(open|all|new|waiting|resolved|closed)$"),
    mine: bool = False,
    assignee: str | None = Query(None, pattern=ASSIGNEE_PATTERN),
    p: Principal = Depends(api_principal),
    st: AppState = Depends(state),
) -> Any:
    who, unassigned = _assignee_filter(assignee, mine, p)
    with st.db.session() as s:
        counts = queue_counts(s, states=LIST_STATES[state_], assignee=who, unassigned=unassigned)
    labels = queue_labels(st.rm, [c["queue"] for c in counts])
    return respond({"items": [c | {"label": labels[c["queue"]]} for c in counts]}, p)


@router.get("/api/v1/inbox/saved-replies", tags=["inbox"], summary="Saved replies")
def api_saved_replies(
    question: bool | None = Query(None, description="true: only question templates."),
    p: Principal = Depends(api_worker),
    st: AppState = Depends(state),
) -> Any:
    with st.db.session() as s:
        rows = workflow.saved_replies(s, questions=question)
        return respond({"items": [{"name": r.name, "body": r.body, "question": r.is_question}
                                  for r in rows]}, p)  # fmt: skip


@router.post("/api/v1/inbox/saved-replies", tags=["inbox"], summary="Add a saved reply",
             status_code=201)  # fmt: skip
def api_save_reply(body: SavedReplyIn, p: Worker, st: State) -> Any:
    def go(s: Session) -> dict[str, Any]:
        r = workflow.save_reply(s, body.name, body.body, p.email, question=body.question)
        return {"name": r.name, "body": r.body, "question": r.is_question}

    return respond(act(st, go, errors=(workflow.WorkflowError,), status=409), p, status=201)


@router.get("/api/v1/inbox/metrics", tags=["inbox"], summary="Response times, breaches, mood")
def api_metrics(p: Principal = Depends(api_principal), st: AppState = Depends(state)) -> Any:
    with st.db.session() as s:
        return respond(workflow.metrics(s), p)


@router.get("/api/v1/inbox/{conversation_id}", tags=["inbox"], summary="One conversation")
def api_detail(
    conversation_id: ConvId, p: Principal = Depends(api_principal), st: AppState = Depends(state)
) -> Any:
    with st.db.session() as s:
        return respond(detail(s, _conv(s, conversation_id), p), p)


@router.post("/api/v1/inbox/{conversation_id}/state", tags=["inbox"], summary="Change state")
def api_state(conversation_id: ConvId, body: StateIn, p: Worker, st: State) -> Any:
    return _act(st, conversation_id, lambda s, c: workflow.transition(s, c, body.state, p.email), p)


@router.post("/api/v1/inbox/{conversation_id}/assign", tags=["inbox"], summary="Assign")
def api_assign(conversation_id: ConvId, body: AssignIn, p: Worker, st: State) -> Any:
    return _act(st, conversation_id, lambda s, c: workflow.assign(s, c, body.user_id, p.email), p)


@router.post("/api/v1/inbox/{conversation_id}/notes", tags=["inbox"], summary="Internal note")
def api_note(conversation_id: ConvId, body: TextIn, p: Worker, st: State) -> Any:
    return _act(st, conversation_id, lambda s, c: workflow.add_note(s, c, p.email, body.text), p)


@router.post("/api/v1/inbox/{conversation_id}/reply", tags=["inbox"], summary="Queue a reply")
def api_reply(conversation_id: ConvId, body: ReplyIn, p: Worker, st: State) -> Any:
    return _act(st, conversation_id, lambda s, c: workflow.reply(
        s, c, body.body, p.email, ask=body.ask, key=body.key,
        connector=st.settings.inbox_connector), p)  # fmt: skip


@router.post("/api/v1/inbox/{conversation_id}/ask", tags=["inbox"],
             summary="Ask a question (waits on the customer; resolution SLA paused)")  # fmt: skip
def api_ask(conversation_id: ConvId, body: AskIn, p: Worker, st: State) -> Any:
    return _act(st, conversation_id, lambda s, c: workflow.ask(
        s, c, p.email, connector=st.settings.inbox_connector, question=body.question,
        saved=body.saved, key=body.key), p)  # fmt: skip


@router.post("/api/v1/inbox/{conversation_id}/idea", tags=["inbox"],
             summary="Turn into an idea (once: again returns the same idea)")  # fmt: skip
def api_idea(conversation_id: ConvId, body: IdeaIn, p: Worker, st: State) -> Any:
    out = _to_idea(st, conversation_id, p.email, body.title, body.body)
    return respond(out.as_dict(), p, status=201 if out.created else 200)


# -- pages ------------------------------------------------------------------------------
def _render(request: Request, name: str, p: Principal, **ctx: Any) -> Response:
    from socialcrm.web.pages import render

    return render(request, name, p, **ctx)


@router.get("/inbox", response_class=HTMLResponse, include_in_schema=False)
def inbox_page(
    request: Request,
    state_: str = Query("open", alias="state"),
    mine: bool = False,
    assignee: str = Query("", max_length=12),
    queue: str = Query("", max_length=64),
    page: int = Query(1, ge=1, le=100_000),
    p: Principal = Depends(page_principal),
    st: AppState = Depends(state),
) -> Response:
    if state_ not in LIST_STATES:
        state_ = "open"
    if mine:
        assignee = "me"
    if not re.match(ASSIGNEE_PATTERN, assignee):
        assignee = ""
    queue = queue if re.match(QUEUE_PATTERN, queue) else ""
    who, unassigned = _assignee_filter(assignee or None, False, p)
    with st.db.session() as s:
        rows, _ = list_conversations(s, states=LIST_STATES[state_], assignee=who,
                                     unassigned=unassigned, queue=queue or None,
                                     page=page, size=PAGE)  # fmt: skip
        queues = queue_counts(s, states=LIST_STATES[state_], assignee=who, unassigned=unassigned)
        see = p.can("agent")  # staff emails are masked for viewers
        names = {u.id: u.email if see else mask_person(u.email) for u in s.scalars(select(User))}
        team = [{"id": u.id, "email": u.email} for u in workflow.agents(s)]
    labels = queue_labels(st.rm, [q["queue"] for q in queues] + ([queue] if queue else []))
    # The per-queue counts are exact (one grouped read of an index), so the header and the
    # pager say the same number as the queue list, not the list's capped "1,000+".
    queue_total = sum(q["count"] for q in queues)
    total = next((q["count"] for q in queues if q["queue"] == queue), 0) if queue else queue_total
    pages = max(1, -(-total // PAGE))
    keep = {k: v for k, v in {"state": state_, "assignee": assignee, "queue": queue}.items() if v}
    now = utcnow()
    items = [{**r, "sla": sla.status(r, now)} for r in _masked(rows, p)]
    return _render(request, "inbox.html", p, items=items, total=total, page=page,
                   pages=pages, state=state_, assignee=assignee, queue=queue, queues=queues,
                   queue_total=queue_total, labels=labels,
                   names=names, team=team, states=list(LIST_STATES),
                   link=lambda **kw: "/inbox?" + urlencode(
                       {k: v for k, v in {**keep, **kw}.items() if v}))  # fmt: skip


@router.get("/inbox/{conversation_id}", response_class=HTMLResponse, include_in_schema=False)
def conversation_page(
    request: Request,
    conversation_id: ConvId,
    p: Principal = Depends(page_principal),
    st: AppState = Depends(state),
) -> Response:
    with st.db.session() as s:
        conv = _conv(s, conversation_id)
        c = detail(s, conv, p)
        replies = workflow.saved_replies(s) if p.can("agent") else []
        questions = [{"name": r.name, "body": r.body} for r in replies if r.is_question]
        saved = [{"name": r.name, "body": r.body} for r in replies if not r.is_question]
        team = [{"id": u.id, "email": u.email} for u in workflow.agents(s)]
        idea_draft = to_idea.draft(s, conv) if p.role in workflow.WORKERS else ("", "")
    chart = charts.bar_list(
        "Why this priority (points)", [(r["part"], r["points"]) for r in c["explanation"]],
        fmt="{:,.1f}",
    )  # fmt: skip
    return _render(request, "inbox_conversation.html", p, c=c, saved=saved, team=team,
                   chart=chart, works=p.role in workflow.WORKERS, questions=questions,
                   idea_draft=idea_draft, reply_key=uuid.uuid4().hex,
                   ask_key=uuid.uuid4().hex)  # fmt: skip


@router.post("/inbox/{conversation_id}/state", include_in_schema=False)
async def form_state(conversation_id: ConvId, request: Request, p: PageWorker,
                     st: State) -> Response:  # fmt: skip
    form = await request.form()
    new = str(form.get("state", ""))
    return _act(st, conversation_id, lambda s, c: workflow.transition(s, c, new, p.email))


@router.post("/inbox/{conversation_id}/assign", include_in_schema=False)
async def form_assign(conversation_id: ConvId, request: Request, p: PageWorker,
                      st: State) -> Response:  # fmt: skip
    raw = str((await request.form()).get("user_id", ""))
    uid = p.user_id if raw == "me" else (int(raw) if raw.isdigit() else None)
    return _act(st, conversation_id, lambda s, c: workflow.assign(s, c, uid, p.email))


@router.post("/inbox/{conversation_id}/note", include_in_schema=False)
async def form_note(conversation_id: ConvId, request: Request, p: PageWorker,
                    st: State) -> Response:  # fmt: skip
    text = str((await request.form()).get("text", ""))[:5000]
    return _act(st, conversation_id, lambda s, c: workflow.add_note(s, c, p.email, text))


@router.post("/inbox/{conversation_id}/reply", include_in_schema=False)
async def form_reply(conversation_id: ConvId, request: Request, p: PageWorker,
                     st: State) -> Response:  # fmt: skip
    form = await request.form()
    body = str(form.get("body", ""))[:5000]
    key = str(form.get("key", ""))[:100] or None
    ask = form.get("ask") == "1"
    saved = str(form.get("saved", ""))

    def go(s: Session, conv: Conversation) -> None:
        text = body
        if saved and not text.strip():
            text = s.scalar(select(SavedReply.body).where(SavedReply.name == saved)) or ""
        workflow.reply(s, conv, text, p.email, ask=ask, key=key,
                       connector=st.settings.inbox_connector)  # fmt: skip

    return _act(st, conversation_id, go)


@router.post("/inbox/{conversation_id}/ask", include_in_schema=False)
async def form_ask(conversation_id: ConvId, request: Request, p: PageWorker,
                   st: State) -> Response:  # fmt: skip
    form = await request.form()
    question = str(form.get("question", ""))[:5000]
    saved = str(form.get("saved", ""))[:100] or None
    key = str(form.get("key", ""))[:100] or None
    return _act(st, conversation_id, lambda s, c: workflow.ask(
        s, c, p.email, connector=st.settings.inbox_connector, question=question, saved=saved,
        key=key))  # fmt: skip


@router.post("/inbox/{conversation_id}/idea", include_in_schema=False)
async def form_idea(conversation_id: ConvId, request: Request, p: PageWorker,
                    st: State) -> Response:  # fmt: skip
    form = await request.form()
    title = str(form.get("title", ""))[:200] or None
    body = str(form.get("body", ""))[:5000] if "body" in form else None
    # In the thread pool: it also reads the warehouse (is the customer known? an amplifier?).
    await run_in_threadpool(_to_idea, st, conversation_id, p.email, title, body)
    return RedirectResponse(f"/inbox/{conversation_id}", status_code=303)
