"""The REST API under ``/api/v1``: read-only views of the warehouse and of the programs,
plus accounts for admins.

Every list is paginated (``page``, ``page_size``) and answers ``{items, total, page,
page_size}``; errors answer ``{"error": {"status", "code", "message"}}``.
"""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import select

from socialcrm.appdb.accounts import Principal
from socialcrm.appdb.accounts import audit as audit_log
from socialcrm.appdb.models import AuditEntry, User
from socialcrm.store import reads
from socialcrm.web import views
from socialcrm.web.deps import (
    ApiCustomerFilter,
    AppState,
    api_principal,
    refreshed,
    require,
    respond,
    state,
)

router = APIRouter(prefix="/api/v1")

Page = Query(1, ge=1, le=100_000, description="Page number, from 1.")
PageSize = Query(50, ge=1, le=200, description="Rows per page (at most 200).")
Sentiment = Literal["negative", "neutral", "positive"]


def _page(items: list[dict[str, Any]], total: int, page: int, size: int, p: Principal) -> Any:
    return respond({"items": items, "total": total, "page": page, "page_size": size}, p)


@router.get("/me", summary="Who is calling")
def me(p: Principal = Depends(api_principal)) -> dict[str, Any]:
    return respond({"email": p.email, "role": p.role, "via_token": p.via_token})


@router.get("/overview", summary="Headline numbers of the customer base")
def overview(
    p: Principal = Depends(api_principal), st: AppState = Depends(state)
) -> dict[str, Any]:
    return respond(
        reads.customers.overview(st.rm) | {"segments": reads.targeting.segments(st.rm)}, p
    )


@router.get("/customers", summary="Search and filter customers")
async def customers(
    f: ApiCustomerFilter,
    page: int = Page,
    page_size: int = PageSize,
    p: Principal = Depends(api_principal),
    st: AppState = Depends(state),
) -> dict[str, Any]:
    # Served on the event loop: a page costs ~1 ms of CPU from the in-memory index, less
    # than a thread hop. A rebuild after a pipeline run goes to a worker thread.
    await refreshed(st)
    items, total = st.rm.customers(
        f, search_contacts=p.can("agent"), page=page, page_size=page_size
    )
    return _page(items, total, page, page_size, p)


def _customer(st: AppState, customer_id: str) -> dict[str, Any]:
    found = views.customer_360(st.rm, customer_id)
    if found is None:
        raise HTTPException(404, f"no customer {customer_id!r}")
    return found


@router.get("/customers/{customer_id}", summary="Customer 360")
async def customer(
    customer_id: str,
    include_activity: bool = Query(
        False, description="Add ideas and conversations (as /customers/{id}/activity)."
    ),
    p: Principal = Depends(api_principal),
    st: AppState = Depends(state),
) -> dict[str, Any]:
    await refreshed(st)
    c = _customer(st, customer_id)
    c["orders"] = [
        {k: v for k, v in o.items() if k != "email" or p.can("agent")} for o in c["orders"]
    ]
    if include_activity:
        ids = [customer_id, c["person_id"] or customer_id]
        c.update(await run_in_threadpool(views.customer_activity, st.db, ids, p))
    return respond(c, p)


@router.get(
    "/customers/{customer_id}/activity",
    summary="A customer's ideas (proposed or voted) and inbox conversations",
)
async def customer_activity(
    customer_id: str, p: Principal = Depends(api_principal), st: AppState = Depends(state)
) -> dict[str, Any]:
    """From the app database, apart from the 360 (or with ``include_activity=true``): the
    360 is served from memory in about a millisecond and this costs as much again (more
    on a remote PostgreSQL), so only callers who want it pay for it. Conversations are
    masked for viewers as in the inbox."""
    await refreshed(st)
    found = st.rm.customer(customer_id)
    if found is None:
        raise HTTPException(404, f"no customer {customer_id!r}")
    ids = [customer_id, found.get("person_id") or customer_id]
    return respond(await run_in_threadpool(views.customer_activity, st.db, ids, p), p)


@router.get("/customers/{customer_id}/scores", summary="A customer's scores and their drivers")
def customer_scores(
    customer_id: str, p: Principal = Depends(api_principal), st: AppState = Depends(state)
) -> dict[str, Any]:
    return respond(_customer(st, customer_id)["scores"], p)


@router.get("/segments", summary="Segments: size, value, rule, audience and trend")
def segments(p: Principal = Depends(api_principal), st: AppState = Depends(state)) -> dict:
    items = reads.targeting.segments(st.rm)
    rules, error = views.segment_rules(st.settings.targeting_rules)
    for item in items:
        item["rule"] = rules.get(item["segment"])
    note = None if items else "no segments yet: the targeting step has not written any"
    return respond(
        {
            "items": items,
            "total": len(items),
            "note": note,
            "rules_error": error,
            "trends": reads.targeting.segment_trends(st.rm),
        },
        p,
    )


@router.get(
    "/segments/{segment}/audience",
    summary="A segment's audience, consent checked again now (analyst)",
)
def segment_audience(
    segment: str = Path(max_length=100),
    page: int = Page,
    page_size: int = PageSize,
    p: Principal = Depends(require("analyst")),
    st: AppState = Depends(state),
) -> dict[str, Any]:
    """Rank-1 actions of the segment's customers whose consent for the channel is in force
    now, with name and email (masked for roles that see contacts masked). Audited."""
    try:
        table = views.audience(st.settings, segment)
    except views.Unavailable as e:
        raise HTTPException(404, str(e)) from None
    rows = table.slice((page - 1) * page_size, page_size).to_pylist()
    found = st.rm.summaries([r["customer_id"] for r in rows])
    items = []
    for r in rows:
        who = found.get(r["customer_id"], {})
        items.append(r | {"name": who.get("name"), "email": who.get("email")})
    with st.db.session() as s:
        audit_log(s, p.email, "audience.read", f"segment:{segment}", rows=table.num_rows, page=page)
    return _page(items, table.num_rows, page, page_size, p)


# -- programs ---------------------------------------------------------------------------
@router.get("/programs/campaigns", summary="Campaigns with their treated and held-out groups")
def campaigns(p: Principal = Depends(api_principal), st: AppState = Depends(state)) -> dict:
    items = reads.programs.campaigns(st.rm)
    return respond({"items": items, "total": len(items)}, p)


@router.get(
    "/programs/campaigns/{campaign_id}",
    summary="A campaign's incremental conversions and revenue against its holdout",
)
def campaign(
    campaign_id: str = Path(max_length=200),
    p: Principal = Depends(api_principal),
    st: AppState = Depends(state),
) -> dict[str, Any]:
    found = [c for c in reads.programs.campaigns(st.rm) if c["campaign_id"] == campaign_id]
    if not found:
        raise HTTPException(404, f"no campaign {campaign_id!r}")
    report = views.campaign_reports(st.settings, [campaign_id])[campaign_id]
    return respond({"campaign": found[0], "report": report}, p)


@router.get("/programs/referrals/leaderboard", summary="Top referrers by rewards earned")
def referral_leaderboard(
    top: int = Query(10, ge=1, le=1000),
    p: Principal = Depends(api_principal),
    st: AppState = Depends(state),
) -> dict[str, Any]:
    from socialcrm.programs.referrals import leaderboard

    with st.db.session() as s:
        items = leaderboard(s, top)
    return respond({"items": items, "total": len(items)}, p)


@router.get("/programs/loyalty/tiers", summary="Loyalty members per tier, and the rules")
def loyalty_tiers(p: Principal = Depends(api_principal), st: AppState = Depends(state)) -> dict:
    prog = views.programs(st.db, st.settings, top=1)
    if prog["error"]:
        raise HTTPException(503, prog["error"])
    return respond({"items": prog["tiers"], "total": len(prog["tiers"]), "rules": prog["rules"]}, p)


@router.get(
    "/programs/loyalty/{customer_id}",
    summary="A customer's points balance, tier, way to the next tier and latest lines",
)
def loyalty_account(
    customer_id: str = Path(max_length=200),
    limit: int = Query(20, ge=1, le=200),
    p: Principal = Depends(api_principal),
    st: AppState = Depends(state),
) -> dict[str, Any]:
    customer_id = customer_id.replace("\x00", "")  # PostgreSQL refuses NUL in text
    try:
        return respond(views.loyalty_account(st.db, st.settings, customer_id, limit), p)
    except views.Unavailable as e:
        raise HTTPException(503, str(e)) from None


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
    items, total = reads.listening.posts(
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
    items = reads.listening.daily(st.rm, dimension, key, days)
    return respond({"items": items, "total": len(items)}, p)


@router.get("/topics", summary="Topics of conversation")
def topics(p: Principal = Depends(api_principal), st: AppState = Depends(state)) -> dict:
    items = reads.listening.topics(st.rm)
    return respond({"items": items, "total": len(items)}, p)


@router.get("/mentions", summary="Brand, product and competitor mentions")
def mentions(p: Principal = Depends(api_principal), st: AppState = Depends(state)) -> dict:
    items = reads.listening.mentions(st.rm)
    return respond({"items": items, "total": len(items)}, p)


@router.get("/alerts", summary="Spikes in volume or negativity")
def alerts(p: Principal = Depends(api_principal), st: AppState = Depends(state)) -> dict:
    items = reads.listening.alerts(st.rm)
    return respond({"items": items, "total": len(items)}, p)


@router.get("/influencers", summary="The amplifier roster")
def influencers(
    amplifiers_only: bool = False,
    limit: int = Query(100, ge=1, le=1000),
    p: Principal = Depends(api_principal),
    st: AppState = Depends(state),
) -> dict[str, Any]:
    items = reads.customers.influencers(st.rm, limit, amplifiers_only)
    return respond({"items": items, "total": len(items)}, p)


@router.get("/communities", summary="Communities of the social graph")
def communities(p: Principal = Depends(api_principal), st: AppState = Depends(state)) -> dict:
    items = reads.customers.communities(st.rm)
    return respond({"items": items, "total": len(items)}, p)


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
    items, total = reads.customers.consents(
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
    return respond({"items": rows, "total": len(rows)}, p)


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
    return respond({"items": rows, "total": len(rows)}, p)
