"""Ideas board and webhooks on the web: REST API under ``/api/v1`` and pages under ``/ideas``.

Everyone signed in reads the board; agents and above confirm, vote for customers, merge
and give statuses; admins configure webhooks. Writes follow the app's one rule: a bearer
token, or the session's CSRF token (form field or ``X-CSRF-Token`` header): a cookie
alone, which another site could ride, never writes (see security.py).
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Iterable
from typing import Annotated, Any, Literal, TypeVar
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from socialcrm.appdb.accounts import Principal
from socialcrm.appdb.models import IDEA_STATUSES, WebhookSubscription
from socialcrm.collaborating import ideas, people
from socialcrm.collaborating.ideas import IdeaError
from socialcrm.outbound import webhooks
from socialcrm.outbound.webhooks import WebhookError
from socialcrm.web.deps import AppState, State, act, require, respond
from socialcrm.web.pages import render

router = APIRouter()
T = TypeVar("T")
Status = Literal["new", "under_review", "planned", "in_progress", "shipped", "declined"]
Sort = Literal["votes", "clv", "influence", "newest"]
MAX_ID = 2**31 - 1  # ids are 32-bit integers in every app database
IdeaId = Annotated[int, Path(ge=1, le=MAX_ID)]
SubId = Annotated[int, Path(ge=1, le=MAX_ID)]


def _value(st: AppState) -> Callable[[Iterable[str]], dict[str, people.Value]]:
    return lambda ids: people.values(st.rm, ids)


def _route(st: AppState) -> Callable[[Iterable[str]], dict[str, people.Route]]:
    return lambda ids: people.routes(st.rm, ids)


def writer(role: str) -> Callable[[Principal], Coroutine[Any, Any, Principal]]:
    """``role`` or higher. The CSRF rule of every write is the app's (security.csrf_guard):
    a bearer token, or a session with its CSRF token."""
    return require(role)


# The caller, by the least role a route needs: API (bearer token or session) and pages.
Viewer = Annotated[Principal, Depends(require("viewer"))]
Agent = Annotated[Principal, Depends(writer("agent"))]
Admin = Annotated[Principal, Depends(require("admin"))]
AdminWriter = Annotated[Principal, Depends(writer("admin"))]
PageViewer = Annotated[Principal, Depends(require("viewer", page=True))]
PageAgent = Annotated[Principal, Depends(require("agent", page=True))]
PageAdmin = Annotated[Principal, Depends(require("admin", page=True))]


def _run(st: AppState, fn: Callable[[Session], T]) -> T:
    """An API body: ``fn(session)`` in one transaction; domain errors are 400s."""
    return act(st, fn, errors=(IdeaError, WebhookError))


def _form(st: AppState, fn: Callable[[Session], Any], then: str | Callable[[Any], str]) -> Any:
    """A form's body: ``fn(session)`` in one transaction, then a 303 to ``then``; an idea's
    error is a 400."""
    return act(st, fn, errors=(IdeaError,), then=then)


def _admin_form(st: AppState, fn: Callable[[Session], Any]) -> Any:
    """An admin form's body: as :func:`_form` for webhooks, back to the webhooks page."""
    return act(st, fn, errors=(WebhookError,), then="/webhooks")


# -- API: ideas -----------------------------------------------------------------------------
class IdeaIn(BaseModel):
    title: str = Field(min_length=1, max_length=200)
    body: str = Field("", max_length=5000)
    customer_id: str | None = Field(None, max_length=200)


class StatusIn(BaseModel):
    status: Status
    reason: str = Field(min_length=1, max_length=1000)


class VoteIn(BaseModel):
    voter: str = Field(min_length=1, max_length=200)


class MergeIn(BaseModel):
    into: int = Field(ge=1, le=MAX_ID)


@router.get("/api/v1/ideas", tags=["ideas"], summary="The ideas board with raw and weighted votes")
def api_ideas(
    p: Viewer,
    st: State,
    status: Status | None = None,
    sort: Sort = "votes",
    proposed: bool | None = None,
) -> Any:
    board = _run(
        st, lambda s: ideas.board(s, _value(st), status=status, proposed=proposed, sort=sort)
    )
    return respond({"items": board}, p)


@router.post("/api/v1/ideas", tags=["ideas"], summary="Submit an idea", status_code=201)
def api_submit(body: IdeaIn, p: Agent, st: State) -> Any:
    def go(s: Session) -> dict[str, Any]:
        contributor = ideas.Contributor(body.customer_id)
        i = ideas.submit(s, body.title, body.body, actor=p.email, source="api",
                         contributor=contributor)  # fmt: skip
        return ideas.summary(i)

    return respond(_run(st, go), p, status=201)


@router.get("/api/v1/ideas/{idea_id}", tags=["ideas"], summary="One idea with its history")
def api_idea(idea_id: IdeaId, p: Viewer, st: State) -> Any:
    d = _run(st, lambda s: ideas.detail(s, idea_id, _value(st)))
    if not p.can("agent"):  # viewers see counts, not who voted
        d.pop("voters")
    return respond(d, p)


@router.post("/api/v1/ideas/{idea_id}/status", tags=["ideas"], summary="Give a status and reason")
def api_status(idea_id: IdeaId, body: StatusIn, p: Agent, st: State) -> Any:
    notes = _run(
        st, lambda s: ideas.set_status(s, idea_id, body.status, body.reason, p.email, _route(st))
    )
    return respond(
        {"notifications": [{"channel": n.channel, "status": n.status} for n in notes]}, p
    )


@router.post("/api/v1/ideas/{idea_id}/confirm", tags=["ideas"], summary="Confirm a proposed idea")
def api_confirm(idea_id: IdeaId, p: Agent, st: State) -> Any:
    return respond(_run(st, lambda s: ideas.summary(ideas.confirm(s, idea_id, p.email))), p)


@router.post(
    "/api/v1/ideas/{idea_id}/decline",
    tags=["ideas"],
    summary="Decline a proposed idea (not an idea: praise, thanks, a question)",
)
def api_decline(idea_id: IdeaId, p: Agent, st: State) -> Any:
    return respond(_run(st, lambda s: ideas.summary(ideas.decline(s, idea_id, p.email))), p)


@router.post("/api/v1/ideas/{idea_id}/votes", tags=["ideas"], summary="Record a customer's vote")
def api_vote(idea_id: IdeaId, body: VoteIn, p: Agent, st: State) -> Any:
    return respond({"new": _run(st, lambda s: ideas.vote(s, idea_id, body.voter, p.email))}, p)


@router.post("/api/v1/ideas/{idea_id}/merge", tags=["ideas"], summary="Merge into another idea")
def api_merge(idea_id: IdeaId, body: MergeIn, p: Agent, st: State) -> Any:
    m = _run(st, lambda s: ideas.merge(s, idea_id, body.into, p.email))
    return respond({"merge": m.id, "moved": m.moved}, p)


@router.post("/api/v1/ideas/{idea_id}/unmerge", tags=["ideas"], summary="Undo a merge")
def api_unmerge(idea_id: IdeaId, p: Agent, st: State) -> Any:
    return respond(_run(st, lambda s: ideas.summary(ideas.unmerge(s, idea_id, p.email))), p)


@router.get("/api/v1/ideas-duplicates", tags=["ideas"], summary="Ideas that look duplicate")
def api_duplicates(p: Viewer, st: State, threshold: float | None = Query(None, gt=0, le=1)) -> Any:
    t = threshold or st.settings.idea_duplicate_threshold
    return respond({"pairs": _run(st, lambda s: ideas.similar(s, t))}, p)


# -- API: webhooks (admins) -----------------------------------------------------------------
class WebhookIn(BaseModel):
    url: str = Field(min_length=8, max_length=2000)
    events: list[str] = Field(default_factory=list, max_length=10)


def _sub_doc(x: WebhookSubscription) -> dict[str, Any]:
    return {
        "id": x.id,
        "url": x.url,
        "events": x.events,
        "active": x.active,
        "consecutive_failures": x.consecutive_failures,
        "disabled_reason": x.disabled_reason,
    }


@router.get("/api/v1/webhooks", tags=["webhooks"], summary="Webhook subscriptions")
def api_webhooks(p: Admin, st: State) -> Any:
    return respond(
        {"items": _run(st, lambda s: [_sub_doc(x) for x in webhooks.subscriptions(s)])}, p
    )


@router.post(
    "/api/v1/webhooks",
    tags=["webhooks"],
    summary="Subscribe (secret shown once)",
    status_code=201,
)
def api_subscribe(body: WebhookIn, p: AdminWriter, st: State) -> Any:
    def go(s: Session) -> dict[str, Any]:
        sub, secret = webhooks.subscribe(s, body.url, body.events, p.email)
        return _sub_doc(sub) | {"secret": secret}

    return respond(_run(st, go), p, status=201)


@router.get("/api/v1/webhooks/deliveries", tags=["webhooks"], summary="The delivery log")
def api_deliveries(
    p: Admin,
    st: State,
    subscription_id: int | None = Query(None, ge=1, le=MAX_ID),
    status: Literal["pending", "delivered", "failed"] | None = None,
    limit: int = Query(100, ge=1, le=1000),
) -> Any:
    return respond(
        {"items": _run(st, lambda s: webhooks.log(s, subscription_id, status, limit))}, p
    )


@router.post(
    "/api/v1/webhooks/deliveries/{delivery_id}/replay", tags=["webhooks"], summary="Replay"
)
def api_replay(delivery_id: Annotated[str, Path(max_length=64)], p: AdminWriter, st: State) -> Any:
    _run(st, lambda s: webhooks.replay(s, delivery_id, p.email))
    return respond({"replay": delivery_id}, p)


@router.post("/api/v1/webhooks/{sub_id}/enable", tags=["webhooks"], summary="Re-enable")
def api_enable(sub_id: SubId, p: AdminWriter, st: State) -> Any:
    return respond(_run(st, lambda s: _sub_doc(webhooks.enable(s, sub_id, p.email))), p)


@router.post("/api/v1/webhooks/deliver", tags=["webhooks"], summary="Run one delivery pass")
async def api_deliver(p: AdminWriter, st: State) -> Any:
    policy = webhooks.Policy.from_settings(st.settings)
    rep = await run_in_threadpool(webhooks.deliver, st.db, policy)
    return respond(rep.__dict__, p)


# -- pages ----------------------------------------------------------------------------------
PAGE = 25


def _page(rows: list[dict[str, Any]], page: int) -> tuple[list[dict[str, Any]], int, int]:
    """One page of ``rows``, the page actually shown (clamped) and the number of pages."""
    pages = max(1, -(-len(rows) // PAGE))
    page = min(max(page, 1), pages)
    return rows[(page - 1) * PAGE : page * PAGE], page, pages


@router.get("/ideas", response_class=HTMLResponse, include_in_schema=False)
def ideas_page(
    request: Request,
    p: PageViewer,
    st: State,
    status: str | None = Query(None, max_length=20),
    sort: str = Query("votes", max_length=10),
    page: int = Query(1, ge=1, le=100_000),
    proposed_page: int = Query(1, ge=1, le=100_000),
) -> Response:
    status = status if status in IDEA_STATUSES else None
    sort = sort if sort in ("votes", "clv", "influence", "newest") else "votes"
    with st.db.session() as s:
        board = ideas.board(s, _value(st), status=status, proposed=False, sort=sort)
        proposed = ideas.board(s, _value(st), status="new", proposed=True, sort="newest")
    board_page, page, pages = _page(board, page)
    proposed_rows, proposed_page, proposed_pages = _page(proposed, proposed_page)
    keep = {"status": status or "", "sort": sort, "page": page, "proposed_page": proposed_page}
    return render(
        request,
        "ideas.html",
        p,
        board=board_page,
        board_total=len(board),
        page=page,
        pages=pages,
        proposed=proposed_rows,
        proposed_total=len(proposed),
        proposed_page=proposed_page,
        proposed_pages=proposed_pages,
        status_filter=status or "",
        sort=sort,
        statuses=ideas.STATUS_LABELS,
        link=lambda anchor="", **kw: (
            "/ideas?"
            + urlencode({k: v for k, v in {**keep, **kw}.items() if v and v != 1})
            + anchor
        ),
    )


@router.get("/ideas/{idea_id}", response_class=HTMLResponse, include_in_schema=False)
def idea_page(
    request: Request,
    idea_id: IdeaId,
    p: PageViewer,
    st: State,
    who: str = Query("", max_length=100, description="Find a customer to vote for, by name."),
) -> Response:
    with st.db.session() as s:
        try:
            d = ideas.detail(s, idea_id, _value(st))
        except IdeaError as e:
            raise HTTPException(404, str(e)) from None
        dups = []
        if d["merged_into_id"] is None:
            for pair in ideas.similar(s, st.settings.idea_duplicate_threshold, idea_id)[:5]:
                other = pair["b"] if pair["a"] == idea_id else pair["a"]
                dups.append(ideas.summary(ideas.get(s, other)) | {"similarity": pair["similarity"]})
    who = " ".join(who.split())
    found = _find_customers(st, who, p) if who and p.can("agent") else []
    ids = [c["customer_id"] for c in d["contributors"] if c["customer_id"]]
    if p.can("agent"):
        ids += d["voters"]
    return render(request, "idea.html", p, idea=d, dups=dups, statuses=ideas.STATUS_LABELS,
                  who=who, found=found, names=_names(st, ids))  # fmt: skip


def _one_customer(st: AppState, who: str, p: Principal) -> str:
    """The one customer ``who`` names (a name, email or phone; or an id from an export),
    or a 400 saying what to do instead."""
    found = _find_customers(st, who, p)
    if len(found) == 1:
        return str(found[0]["customer_id"])
    if not found and people.known_customers(st.rm, [who]):
        return who
    if found:
        raise HTTPException(
            400,
            f"several customers match “{who}”: add the idea without "
            "them, then choose the right one under “Vote for a customer”.",
        )
    raise HTTPException(400, f"no customer matches “{who}”; leave “who asked” empty or try "
                             "part of the name.")  # fmt: skip


def _names(st: AppState, customer_ids: list[str]) -> dict[str, str]:
    """Each customer's name as people know it ("a customer without a name" where the
    record has none), never the raw id."""
    out = {}
    for cid in dict.fromkeys(customer_ids):
        try:
            row = st.rm.customer(cid)
        except Exception:  # no warehouse yet
            row = None
        out[cid] = (row or {}).get("name") or "a customer without a name on record"
    return out


def _find_customers(st: AppState, who: str, p: Principal) -> list[dict[str, Any]]:
    """Up to ten customers matching ``who`` (a name; email or phone for agents), each with
    what tells namesakes apart, for the vote form: people choose a name, not an id."""
    from socialcrm.store.reads.model import CustomerFilter

    try:
        rows, _ = st.rm.customers(CustomerFilter(q=who), search_contacts=p.can("agent"),
                                  page_size=10)  # fmt: skip
    except Exception:  # no warehouse yet: nobody to find
        return []
    return [{"customer_id": r["customer_id"], "name": r.get("name") or "(no name)",
             "where": ", ".join(x for x in (r.get("city"), r.get("country")) if x),
             "clv": r.get("clv")} for r in rows]  # fmt: skip


@router.post("/ideas", include_in_schema=False)
async def submit_form(request: Request, p: PageAgent, st: State) -> Response:
    form = await request.form()
    title, body = str(form.get("title", ""))[:200], str(form.get("body", ""))[:5000]
    asked_by = " ".join(str(form.get("asked_by", "")).split())[:200]
    customer = _one_customer(st, asked_by, p) if asked_by else None

    def go(s: Session) -> int:
        contributor = ideas.Contributor(customer)
        return ideas.submit(s, title, body, actor=p.email, source="form",
                            contributor=contributor).id  # fmt: skip

    return _form(st, go, lambda new_id: f"/ideas/{new_id}")


@router.post("/ideas/{idea_id}/status", include_in_schema=False)
async def status_form(request: Request, idea_id: IdeaId, p: PageAgent, st: State) -> Response:
    form = await request.form()
    new, reason = str(form.get("status", "")), str(form.get("reason", ""))
    return _form(
        st,
        lambda s: ideas.set_status(s, idea_id, new, reason, p.email, _route(st)),
        f"/ideas/{idea_id}",
    )


@router.post("/ideas/{idea_id}/confirm", include_in_schema=False)
def confirm_form(idea_id: IdeaId, p: PageAgent, st: State) -> Response:
    return _form(st, lambda s: ideas.confirm(s, idea_id, p.email), f"/ideas/{idea_id}")


@router.post("/ideas/{idea_id}/decline", include_in_schema=False)
def decline_form(idea_id: IdeaId, p: PageAgent, st: State) -> Response:
    return _form(st, lambda s: ideas.decline(s, idea_id, p.email), "/ideas#proposed")


@router.post("/ideas/{idea_id}/vote", include_in_schema=False)
async def vote_form(request: Request, idea_id: IdeaId, p: PageAgent, st: State) -> Response:
    voter = str((await request.form()).get("voter", ""))[:200]
    return _form(st, lambda s: ideas.vote(s, idea_id, voter, p.email), f"/ideas/{idea_id}")


@router.post("/ideas/{idea_id}/merge", include_in_schema=False)
async def merge_form(request: Request, idea_id: IdeaId, p: PageAgent, st: State) -> Response:
    try:
        into = int(str((await request.form()).get("into", "")))
    except ValueError:
        raise HTTPException(400, "give the number of the idea to merge into") from None
    return _form(st, lambda s: ideas.merge(s, idea_id, into, p.email), f"/ideas/{into}")


@router.post("/ideas/{idea_id}/unmerge", include_in_schema=False)
def unmerge_form(idea_id: IdeaId, p: PageAgent, st: State) -> Response:
    return _form(st, lambda s: ideas.unmerge(s, idea_id, p.email), f"/ideas/{idea_id}")


# -- webhooks page (admins) -----------------------------------------------------------------
@router.get("/webhooks", response_class=HTMLResponse, include_in_schema=False)
def webhooks_page(
    request: Request, p: PageAdmin, st: State, status: str | None = Query(None, max_length=10)
) -> Response:
    status = status if status in ("pending", "delivered", "failed") else None
    with st.db.session() as s:
        subs = [_sub_doc(x) for x in webhooks.subscriptions(s)]
        deliveries = webhooks.log(s, status=status, limit=100)
        notes = webhooks.notices(s, 20)
    return render(
        request,
        "webhooks.html",
        p,
        subs=subs,
        deliveries=deliveries,
        notices=notes,
        status_filter=status or "",
        events=webhooks.EVENT_TYPES,
    )


@router.post("/webhooks/{sub_id}/enable", include_in_schema=False)
def enable_form(sub_id: SubId, p: PageAdmin, st: State) -> Response:
    return _admin_form(st, lambda s: webhooks.enable(s, sub_id, p.email))


@router.post("/webhooks/replay", include_in_schema=False)
async def replay_form(request: Request, p: PageAdmin, st: State) -> Response:
    delivery_id = str((await request.form()).get("delivery_id", ""))[:64]
    return _admin_form(st, lambda s: webhooks.replay(s, delivery_id, p.email))


@router.post("/webhooks/deliver", include_in_schema=False)
async def deliver_form(p: PageAdmin, st: State) -> Response:
    policy = webhooks.Policy.from_settings(st.settings)
    await run_in_threadpool(webhooks.deliver, st.db, policy)
    return RedirectResponse("/webhooks", status_code=303)
