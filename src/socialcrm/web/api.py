"""The REST API under ``/api/v1``: read-only views of the warehouse, plus accounts for admins.

Every list is paginated (``page``, ``page_size``) and answers ``{items, total, page,
page_size}``; errors answer ``{"error": {"status", "code", "message"}}``.
"""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import select

from socialcrm.appdb.accounts import Principal
from socialcrm.appdb.models import AuditEntry, User
from socialcrm.web import views
from socialcrm.web.deps import AppState, api_principal, require, respond, state
from socialcrm.web.readmodel import SORTS
from socialcrm.web.security import mask_row

router = APIRouter(prefix="/api/v1")

Page = Query(1, ge=1, le=100_000, description="Page number, from 1.")
PageSize = Query(50, ge=1, le=200, description="Rows per page (at most 200).")
RiskBand = Literal["low", "medium", "high", "very_high"]
Sentiment = Literal["negative", "neutral", "positive"]


async def refreshed(st: AppState) -> None:
    if st.rm.stale():
        await run_in_threadpool(st.rm.refresh)


def _page(items: list[dict[str, Any]], total: int, page: int, size: int, p: Principal) -> Any:
    return respond(
        {"items": [mask_row(i, p) for i in items], "total": total, "page": page, "page_size": size}
    )


@router.get("/me", summary="Who is calling")
def me(p: Principal = Depends(api_principal)) -> dict[str, Any]:
    return respond({"email": p.email, "role": p.role, "via_token": p.via_token})


@router.get("/overview", summary="Headline numbers of the customer base")
def overview(
    p: Principal = Depends(api_principal), st: AppState = Depends(state)
) -> dict[str, Any]:
    return respond(views.overview(st.rm) | {"segments": views.segments(st.rm)})


@router.get("/customers", summary="Search and filter customers")
async def customers(
    q: str | None = Query(None, max_length=200, description="Name or id (email/phone: agent+)."),
    risk_band: RiskBand | None = None,
    segment: str | None = Query(None, max_length=100),
    min_clv: float | None = Query(None, ge=-1e12, le=1e12),
    max_clv: float | None = Query(None, ge=-1e12, le=1e12),
    min_p_alive: float | None = Query(None, ge=0, le=1),
    max_p_alive: float | None = Query(None, ge=0, le=1),
    community_id: int | None = Query(None, ge=-(2**62), le=2**62),
    amplifier: bool | None = None,
    sort: Literal[tuple(SORTS)] = "clv",  # type: ignore[valid-type]
    order: Literal["asc", "desc"] = "desc",
    page: int = Page,
    page_size: int = PageSize,
    p: Principal = Depends(api_principal),
    st: AppState = Depends(state),
) -> dict[str, Any]:
    # Served on the event loop: a page costs ~1 ms of CPU from the in-memory index, less
    # than a thread hop. A rebuild after a pipeline run goes to a worker thread.
    await refreshed(st)
    items, total = st.rm.customers(
        q=q,
        search_contacts=p.can("agent"),
        risk_band=risk_band,
        segment=segment,
        min_clv=min_clv,
        max_clv=max_clv,
        min_p_alive=min_p_alive,
        max_p_alive=max_p_alive,
        community_id=community_id,
        amplifier=amplifier,
        sort=sort,
        order=order,
        page=page,
        page_size=page_size,
    )
    return _page(items, total, page, page_size, p)


def _customer(st: AppState, customer_id: str) -> dict[str, Any]:
    found = views.customer_360(st.rm, customer_id)
    if found is None:
        raise HTTPException(404, f"no customer {customer_id!r}")
    return found


@router.get("/customers/{customer_id}", summary="Customer 360")
async def customer(
    customer_id: str, p: Principal = Depends(api_principal), st: AppState = Depends(state)
) -> dict[str, Any]:
    await refreshed(st)
    c = _customer(st, customer_id)
    c["profile"] = mask_row(c["profile"], p)
    c["identities"] = [mask_row(i, p) for i in c["identities"]]
    c["orders"] = [
        {k: v for k, v in o.items() if k != "email" or p.can("agent")} for o in c["orders"]
    ]
    return respond(c)


@router.get("/customers/{customer_id}/scores", summary="A customer's scores and their drivers")
def customer_scores(
    customer_id: str, p: Principal = Depends(api_principal), st: AppState = Depends(state)
) -> dict[str, Any]:
    return respond(_customer(st, customer_id)["scores"])


@router.get("/segments", summary="Segment sizes and value")
def segments(p: Principal = Depends(api_principal), st: AppState = Depends(state)) -> dict:
    items = views.segments(st.rm)
    note = None if items else "no segments yet: the targeting step has not written any"
    return respond({"items": items, "total": len(items), "note": note})


@router.get("/posts", summary="Posts with sentiment, topic and mentions")
def posts(
    sentiment: Sentiment | None = None,
    topic_id: int | None = Query(None, ge=-1, le=10_000),
    entity: str | None = Query(None, max_length=200, description="e.g. product:NL-AUR"),
    platform: str | None = Query(None, max_length=50),
    q: str | None = Query(None, max_length=200, description="Words in the text."),
    since: date | None = None,
    until: date | None = None,
    include_spam: bool = False,
    page: int = Page,
    page_size: int = PageSize,
    p: Principal = Depends(api_principal),
    st: AppState = Depends(state),
) -> dict[str, Any]:
    items, total = views.posts(
        st.rm,
        sentiment=sentiment,
        topic_id=topic_id,
        entity=entity,
        platform=platform,
        q=q,
        since=since,
        until=until,
        include_spam=include_spam,
        page=page,
        page_size=page_size,
    )
    return _page(items, total, page, page_size, p)


@router.get("/listening/daily", summary="Volume and sentiment per day")
def listening_daily(
    dimension: Literal["all", "platform", "topic", "entity"] = "all",
    key: str | None = Query(None, max_length=200),
    days: int = Query(120, ge=1, le=3660),
    p: Principal = Depends(api_principal),
    st: AppState = Depends(state),
) -> dict[str, Any]:
    items = views.daily(st.rm, dimension, key, days)
    return respond({"items": items, "total": len(items)})


@router.get("/topics", summary="Topics of conversation")
def topics(p: Principal = Depends(api_principal), st: AppState = Depends(state)) -> dict:
    items = views.topics(st.rm)
    return respond({"items": items, "total": len(items)})


@router.get("/mentions", summary="Brand, product and competitor mentions")
def mentions(p: Principal = Depends(api_principal), st: AppState = Depends(state)) -> dict:
    items = views.mentions(st.rm)
    return respond({"items": items, "total": len(items)})


@router.get("/alerts", summary="Spikes in volume or negativity")
def alerts(p: Principal = Depends(api_principal), st: AppState = Depends(state)) -> dict:
    items = views.alerts(st.rm)
    return respond({"items": items, "total": len(items)})


@router.get("/influencers", summary="The amplifier roster")
def influencers(
    amplifiers_only: bool = False,
    limit: int = Query(100, ge=1, le=1000),
    p: Principal = Depends(api_principal),
    st: AppState = Depends(state),
) -> dict[str, Any]:
    items = views.influencers(st.rm, limit, amplifiers_only)
    return respond({"items": items, "total": len(items)})


@router.get("/communities", summary="Communities of the social graph")
def communities(p: Principal = Depends(api_principal), st: AppState = Depends(state)) -> dict:
    items = views.communities(st.rm)
    return respond({"items": items, "total": len(items)})


@router.get("/consents", summary="Consent in force per customer and purpose")
def consents(
    customer_id: str | None = Query(None, max_length=200),
    purpose: str | None = Query(None, max_length=100),
    status: Literal["granted", "refused", "withdrawn"] | None = None,
    page: int = Page,
    page_size: int = PageSize,
    p: Principal = Depends(api_principal),
    st: AppState = Depends(state),
) -> dict[str, Any]:
    items, total = views.consents(
        st.rm,
        customer_id=customer_id,
        purpose=purpose,
        status=status,
        page=page,
        page_size=page_size,
    )
    return _page(items, total, page, page_size, p)


@router.get("/users", summary="Users and roles (admin)")
def users(p: Principal = Depends(require("admin")), st: AppState = Depends(state)) -> dict:
    with st.db.session() as s:
        rows = [
            {
                "email": u.email,
                "role": u.role,
                "active": u.active,
                "created_at": u.created_at,
                "last_login_at": u.last_login_at,
            }
            for u in s.scalars(select(User).order_by(User.email))
        ]
    return respond({"items": rows, "total": len(rows)})


@router.get("/audit", summary="Audit log, newest first (admin)")
def audit(
    limit: int = Query(100, ge=1, le=1000),
    p: Principal = Depends(require("admin")),
    st: AppState = Depends(state),
) -> dict[str, Any]:
    with st.db.session() as s:
        rows = [
            {
                "at": a.at,
                "actor": a.actor,
                "action": a.action,
                "target": a.target,
                "detail": a.detail,
            }
            for a in s.scalars(select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit))
        ]
    return respond({"items": rows, "total": len(rows)})
