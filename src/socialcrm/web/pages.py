"""Server-rendered pages for marketers: overview, customers, 360, listening, influence,
segments and audiences, programs."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from datetime import date
from pathlib import Path as FilePath
from typing import Any, TypeVar
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader, pass_context, select_autoescape
from jinja2.runtime import Context

from socialcrm import __version__
from socialcrm.appdb.accounts import Principal, audit, authenticate
from socialcrm.appdb.db import AppDB
from socialcrm.store import reads
from socialcrm.store.reads import SORTS
from socialcrm.store.warehouse import TableInfo, Warehouse
from socialcrm.web import charts, people, views
from socialcrm.web.deps import (
    AppState,
    PageCustomerFilter,
    page_principal,
    refreshed,
    require,
    state,
)
from socialcrm.web.security import client_address, csrf_token, masked

_DICT_ATTRS = frozenset(dir(dict))


class _PageEnvironment(Environment):
    """Jinja for the pages, with ``row.name`` on a dict (every row a page shows) looked up
    as a key at once: Jinja's own lookup tries the attribute first and fails, a fifth of
    a list page's rendering time. The same answer (a missing key is undefined as before);
    the names of dict methods (``items``, ``get``) and any other object take Jinja's path.
    """

    def getattr(self, obj: Any, attribute: str) -> Any:
        if type(obj) is dict and attribute not in _DICT_ATTRS:
            try:
                return obj[attribute]
            except KeyError:
                return self.undefined(obj=obj, name=attribute)
        return super().getattr(obj, attribute)


TEMPLATES = Jinja2Templates(
    env=_PageEnvironment(
        loader=FileSystemLoader(FilePath(__file__).parent / "templates"),
        autoescape=select_autoescape(),
    )
)
TEMPLATES.env.globals["version"] = __version__

router = APIRouter(include_in_schema=False)
T = TypeVar("T")


def render(
    request: Request, name: str, p: Principal | None, status: int = 200, **ctx: Any
) -> Response:
    """The page ``name``; for viewers every dict and list in ``ctx`` is masked first
    (contacts, handles, staff emails), so a page cannot forget to."""
    crm = getattr(request.app.state, "crm", None)
    return TEMPLATES.TemplateResponse(
        request,
        name,
        {
            "user": p,
            "csrf": csrf_token(request),
            "nav": name.removesuffix(".html"),
            "currency": views.currency(crm.rm) if crm is not None and p is not None else "",
            **masked(ctx, p),
        },
        status_code=status,
    )


def _parse(kind: Callable[[str], T], text: str | None) -> T | None:
    """A filter from a form: empty or malformed input means no filter, never an error page."""
    if not text:
        return None
    try:
        return kind(text)
    except ValueError:
        return None


@pass_context
def _money(ctx: Context, v: float | None) -> str:
    """An amount with the workspace's currency ("1,234 EUR"): never a bare number."""
    if v is None:
        return "—"
    cur = ctx.get("currency") or ""
    return f"{v:,.0f} {cur}".rstrip()


def _person(row: dict[str, Any] | None) -> str:
    """A person's or record's name to show: normalised, or "Guest — newsletter"."""
    row = row or {}
    return people.display_name(row.get("name"), row.get("customer_id"), row.get("source"))


TEMPLATES.env.filters["money"] = _money
TEMPLATES.env.filters["person"] = _person
TEMPLATES.env.filters["purpose"] = views.purpose_words
TEMPLATES.env.filters["place"] = people.proper_case
TEMPLATES.env.filters["record"] = people.record_label
TEMPLATES.env.filters["reason"] = lambda text: views.plain_reason(text)[0]
TEMPLATES.env.filters["rule"] = lambda text: views.plain_reason(text)[1]


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: str = "/") -> Response:
    return render(request, "login.html", None, next=_safe_next(next), error=None)


def _safe_next(target: str) -> str:
    # Only paths on this site: an open redirect would make the sign-in form a phishing aid.
    return target if target.startswith("/") and not target.startswith("//") else "/"


@router.post("/login", response_class=HTMLResponse)
async def login(request: Request, st: AppState = Depends(state)) -> Response:
    form = await request.form()
    email = str(form.get("email", "")).strip().lower()[:320]
    password = str(form.get("password", ""))[:1000]
    target = _safe_next(str(form.get("next", "/")))
    keys = (f"ip:{client_address(request, st.proxies)}", f"email:{email}")
    wait = st.limiter.retry_after(*keys)
    if wait > 0:
        seconds = max(1, math.ceil(wait))
        page = render(
            request,
            "login.html",
            None,
            status=429,
            next=target,
            error=f"Too many failed sign-ins. Try again in {seconds} seconds.",
        )
        page.headers["Retry-After"] = str(seconds)
        return page
    with st.db.session() as s:
        p = authenticate(s, email, password)
    if p is None:
        st.limiter.failed(*keys)
        return render(
            request, "login.html", None, status=401, next=target, error="Wrong email or password."
        )
    st.limiter.succeeded(*keys)
    request.session.clear()  # a fresh session (and CSRF secret) on sign-in: no fixation
    request.session["uid"] = p.user_id
    csrf_token(request)
    return RedirectResponse(target, status_code=303)


@router.post("/logout")
def logout(request: Request) -> Response:
    request.session.clear()
    return RedirectResponse("/login", status_code=303)


@router.get("/", response_class=HTMLResponse)
def overview(
    request: Request, p: Principal = Depends(page_principal), st: AppState = Depends(state)
) -> Response:
    head = reads.customers.overview(st.rm)
    days = reads.listening.daily(st.rm, "all", days=120)
    labels = [d["day"].strftime("%d %b") for d in days]
    volume = charts.line_chart(
        "Posts per day and mean sentiment",
        labels,
        {
            "mean sentiment ×100": [
                None if d["mean_score"] is None else 100 * d["mean_score"] for d in days
            ]
        },
        bars=[d["posts"] for d in days],
    )
    sentiment = charts.line_chart(
        "Negative share per day (%)",
        labels,
        {"negative share": [100 * (d["negative_share"] or 0) for d in days]},
        y_min=0,
    )
    bands = charts.bar_list(
        "CLV by risk band",
        [(b["risk_band"].replace("_", " "), b["clv"] or 0) for b in head["risk_bands"]],
    )
    segs = reads.targeting.segments(st.rm)
    infl = reads.customers.influencers(st.rm, limit=300)
    trinity = charts.scatter(
        "TRInity map",
        [
            (
                r.get("clv") or 0,
                r.get("influence_score") or 0,
                r.get("followers") or 1,
                people.display_name(r.get("name"), r["customer_id"]),
            )
            for r in infl
        ],
        x_label="CLV (log) →",
        y_label="influence ↑",
        log_x=True,
    )
    tables = _warehouse_tables(st)
    return render(
        request,
        "overview.html",
        p,
        head=head,
        volume=volume,
        sentiment=sentiment,
        bands=bands,
        segments=segs,
        trinity=trinity,
        tables=tables,
        home=st.settings.home,
        horizon_days=st.settings.clv_horizon_days,
        has_posts=bool(days),
        currencies=views.currencies(st.rm),
    )


def _warehouse_tables(st: AppState) -> list[TableInfo]:
    """The warehouse's tables and row counts, read from Parquet footers once per version
    of each table (:meth:`ReadModel.memo`): reading every footer cost three quarters of
    the overview page."""
    root = st.settings.warehouse_dir
    names = sorted(p.name for p in root.iterdir() if p.is_dir()) if root.is_dir() else []
    return st.rm.memo(("tables", *names), names, Warehouse(root).tables)


# The order of a page link's parameters (the filters the form offers first).
LINK_ORDER = (
    "q", "risk_band", "min_clv", "segment", "tier", "min_trinity", "community_id",
    "max_clv", "min_p_alive", "max_p_alive", "amplifier", "max_trinity", "sort", "order",
)  # fmt: skip


@router.get("/customers", response_class=HTMLResponse)
async def customers(
    request: Request,
    f: PageCustomerFilter,
    page: int = Query(1, ge=1, le=100_000),
    p: Principal = Depends(page_principal),
    st: AppState = Depends(state),
) -> Response:
    # On the event loop, as the API's list: a page is a millisecond from the in-memory
    # index and a few of rendering, less than a thread hop costs under load.
    await refreshed(st)
    size = 50
    items, total = st.rm.customers(f, search_contacts=p.can("agent"), page=page, page_size=size)
    params = {k: v for k in LINK_ORDER if (v := getattr(f, k)) is not None}
    pages = max((total + size - 1) // size, 1)
    return render(
        request,
        "customers.html",
        p,
        items=items,  # masked for viewers by render
        total=total,
        page=page,
        pages=pages,
        q=f.q or "",
        risk_band=f.risk_band or "",
        min_clv=f.min_clv,
        segment=f.segment or "",
        # names from the rules file (cheap), shown once segments have been computed
        segment_names=list(views.segment_rules(st.settings.targeting_rules)[0])
        if "segment" in st.rm.columns("customer_segments")
        else [],
        tier=f.tier or "",
        min_trinity=f.min_trinity,
        community_id=f.community_id,
        sort=f.sort,
        order=f.order,
        sorts=list(SORTS),
        prev_url=f"/customers?{urlencode(params | {'page': page - 1})}" if page > 1 else None,
        next_url=f"/customers?{urlencode(params | {'page': page + 1})}" if page < pages else None,
        loaded=st.rm.exists("customers"),
        horizon_days=st.settings.clv_horizon_days,
    )


@router.get("/customers/{customer_id}", response_class=HTMLResponse)
async def customer(
    request: Request,
    customer_id: str,
    p: Principal = Depends(page_principal),
    st: AppState = Depends(state),
) -> Response:
    # On the event loop, as the API's 360: memory, and the app database's indexed
    # lookups (as the session check of every page). Merges and households, read from
    # Parquet files where they exist, on a worker thread. The whole page on a worker
    # thread served about a third fewer pages a second under load: twenty threads taking
    # turns at the interpreter.
    await refreshed(st)
    c = views.customer_360(st.rm, customer_id)
    if c is None:
        raise HTTPException(404, f"No customer {customer_id!r} in this workspace.")
    person = c["person_id"] or customer_id
    c.update(views.customer_activity(st.db, [customer_id, person], p))
    try:
        loyalty = views.loyalty_account(st.db, st.settings, person, limit=5)
    except views.Unavailable:
        loyalty = None
    args = (st, customer_id, person, p)
    if st.rm.exists("identity_lineage") or st.rm.exists("households"):
        history, household = await run_in_threadpool(_merges_and_household, *args)
    else:  # nothing to read
        history, household = _merges_and_household(*args)
    orders = sorted(c["orders"], key=lambda o: o["ordered_at"])
    spend, running = [], 0.0
    for o in orders:
        running += o["amount"] or 0
        spend.append(running)
    timeline = charts.line_chart(
        "Cumulative spend",
        [o["ordered_at"].strftime("%d %b %y") for o in orders],
        {"cumulative spend": spend},
        bars=[o["amount"] or 0 for o in orders],
        y_min=0,
    )
    sc = c["scores"]
    trinity = charts.bar_list(
        "TRInity percentiles (0-100, among customers where the axis is known)",
        [
            (axis.capitalize(), sc[axis]["percentile"])
            for axis in ("transaction", "relationship", "influence")
            if sc[axis] and sc[axis].get("percentile") is not None
        ],
        fmt="{:,.1f}",
    )
    rel = sc["relationship"]
    four_ps = charts.bar_list(
        "Relationship value: points from each of the Four Ps",
        [(x["p"].capitalize(), x["points"]) for x in rel["parts"]] if rel else [],
        fmt="{:,.1f}",
    )
    return render(
        request,
        "customer.html",
        p,
        c=c,
        timeline=timeline,
        trinity=trinity,
        four_ps=four_ps,
        loyalty=loyalty if loyalty and (loyalty["history"] or loyalty["balance"]) else None,
        history=history,
        household=household,
        households_computed=st.rm.exists("households"),
        resolved=st.rm.exists("identity_clusters"),
        products=views.product_names(st.settings.catalogue_path),
        horizon_days=st.settings.clv_horizon_days,
    )


def _merges_and_household(
    st: AppState, customer_id: str, person: str, p: Principal
) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """The 360's id history and household (``identity_lineage``, ``households``)."""
    return (
        views.id_history(st.rm, customer_id, person),
        views.household(st.rm, person, see_contacts=p.can("agent")),
    )


def _source_health(db: AppDB) -> list[dict[str, object]]:
    """Each saved query's sources in words for the Listening page (issue 19)."""
    from socialcrm.listening.collect import ago, health

    rows: list[dict[str, object]] = []
    for h in health(db):
        status = (
            "working"
            if h.ok
            else f"failing ({h.failures} in a row)"
            if h.failures
            else "not run yet"
        )
        rows.append({
            "query": h.query, "source": h.source, "status": status,
            "tone": "positive" if h.ok else "negative" if h.failures else "neutral",
            "last_success": ago(h.lag()), "newest": ago(h.lag_of(h.newest_post_at)),
            "last_error": h.last_error if h.failures else None,
            "last_error_ago": ago(h.lag_of(h.last_error_at)),
            "fetched": h.fetched, "new": h.new, "duplicates": h.duplicates, "rejected": h.rejected,
        })  # fmt: skip
    return rows


@router.get("/listening", response_class=HTMLResponse)
def listening(
    request: Request,
    sentiment: str | None = Query(None, max_length=10),
    topic_id: str | None = Query(None, max_length=10),
    entity: str | None = Query(None, max_length=200),
    q: str | None = Query(None, max_length=200),
    since: str | None = Query(None, max_length=10),
    until: str | None = Query(None, max_length=10),
    page: int = Query(1, ge=1, le=100_000),
    p: Principal = Depends(page_principal),
    st: AppState = Depends(state),
) -> Response:
    days = reads.listening.daily(st.rm, "all", days=120)
    labels = [d["day"].strftime("%d %b") for d in days]
    volume = charts.line_chart(
        "Posts per day",
        labels,
        {"positive": [d["positive"] for d in days], "negative": [d["negative"] for d in days]},
        bars=[d["posts"] for d in days],
        y_min=0,
        width=1200,
    )
    tops = reads.listening.topics(st.rm)
    topic_chart = charts.bar_list("Topics", [(t["label"], t["posts"]) for t in tops])
    ments = reads.listening.mentions(st.rm)
    mention_chart = charts.bar_list(
        "Mentions", [(m["entity_name"], m["posts"]) for m in ments[:12]]
    )
    sentiment = sentiment if sentiment in ("negative", "neutral", "positive") else None
    topic = _parse(int, topic_id)
    start, end = _parse(date.fromisoformat, since), _parse(date.fromisoformat, until)
    posts, total = reads.listening.posts(
        st.rm,
        sentiment=sentiment,
        topic_id=topic,
        entity=entity or None,
        q=q or None,
        since=start,
        until=end,
        page=page,
        page_size=25,
    )
    f = {
        "sentiment": sentiment,
        "topic_id": topic,
        "entity": entity or None,
        "q": q or None,
        "since": start,
        "until": end,
    }
    return render(
        request,
        "listening.html",
        p,
        volume=volume,
        topics=tops,
        topic_chart=topic_chart,
        mentions=ments,
        mention_chart=mention_chart,
        alerts=reads.listening.alerts(st.rm, 10),
        posts=posts,
        total=total,
        page=page,
        mix=reads.listening.sentiment_mix(st.rm),
        f={k: ("" if v is None else v) for k, v in f.items()},
        f_set={k: str(v) for k, v in f.items() if v is not None},
        topic_names={t["topic_id"]: t["label"] for t in tops},
        sources=_source_health(st.db),
    )


MAPPED = 12  # communities on the map: enough to compare, few enough to label


@router.get("/influencers", response_class=HTMLResponse)
def influencers(
    request: Request, p: Principal = Depends(page_principal), st: AppState = Depends(state)
) -> Response:
    roster = reads.customers.influencers(st.rm, limit=50)
    comms = reads.customers.communities(st.rm)
    names, topics = views.community_words(comms)
    cmap = charts.scatter(
        "Community map",
        [
            (
                c.get("mean_clv") or 0,
                c.get("mean_sentiment") or 0,
                c.get("size") or 1,
                f"Community {c['community_id']}",
            )
            for c in comms[:MAPPED]  # the largest (rows come largest first), labelled
        ],
        x_label=f"mean CLV ({views.currency(st.rm) or 'money'}) →",
        y_label="sentiment ↑",
        labelled=True,
    )
    return render(
        request,
        "influencers.html",
        p,
        roster=roster,
        communities=comms,
        cmap=cmap,
        community_names=names,
        distinct_topics=topics,
        amplifiers=sum(1 for r in roster if r.get("amplifier")),
        mapped=min(MAPPED, len(comms)),
    )


@router.get("/segments", response_class=HTMLResponse)
def segments(
    request: Request, p: Principal = Depends(page_principal), st: AppState = Depends(state)
) -> Response:
    segs = reads.targeting.segments(st.rm)
    chart = charts.bar_list(
        "Segment sizes", [(s["segment"].replace("_", " "), s["customers"]) for s in segs]
    )
    rules, rules_error = views.segment_rules(st.settings.targeting_rules)
    trends = reads.targeting.segment_trends(st.rm)
    dates = sorted({t["run_date"] for t in trends})
    labels = [d.strftime("%d %b %y") for d in dates]
    by_segment: dict[str, dict[Any, dict[str, Any]]] = {}
    for t in trends:
        by_segment.setdefault(t["segment"], {})[t["run_date"]] = t
    names = [s["segment"] for s in segs] + sorted(set(by_segment) - {s["segment"] for s in segs})
    trend_charts = []
    for name in names:
        points = by_segment.get(name, {})
        sizes = [points[d]["customers"] if d in points else None for d in dates]
        known = [v for v in sizes if v is not None]
        if not known:
            continue
        trend_charts.append(
            {
                "segment": name,
                "chart": charts.trend(f"{name}: customers per run", labels, sizes),
                "first": known[0],
                "last": known[-1],
                "runs": len(known),
                "clv": charts.trend(
                    f"{name}: total CLV per run",
                    labels,
                    [points[d]["total_clv"] if d in points else None for d in dates],
                ),
            }
        )
    order = {name: i for i, name in enumerate(rules)}
    single_run = len(dates) == 1  # one dot per chart says nothing: a sentence instead
    return render(
        request,
        "segments.html",
        p,
        single_run=single_run,
        horizon_days=st.settings.clv_horizon_days,
        segments=segs,
        chart=chart,
        rules=rules,
        rules_error=rules_error,
        unsegmented=sorted(set(rules) - {s["segment"] for s in segs}, key=order.__getitem__),
        trends=trend_charts if len(dates) >= 2 else [],
        runs=labels,
        can_export=p.can("analyst"),
    )


def _filename(segment: str) -> str:
    return "audience-" + (re.sub(r"[^A-Za-z0-9_-]+", "_", segment).strip("_") or "segment")


@router.post("/segments/{segment}/export")
def export_segment(
    segment: str = Path(max_length=100),
    p: Principal = Depends(require("analyst", page=True)),
    st: AppState = Depends(state),
) -> Response:
    """The segment's audience as CSV: consent checked again now, the export audited."""
    try:
        table = views.audience(st.settings, segment)
    except views.Unavailable as e:
        raise HTTPException(404, str(e)) from None
    body = views.audience_csv(views.with_names(table, st.rm))
    with st.db.session() as s:
        audit(s, p.email, "audience.export", f"segment:{segment}", rows=table.num_rows, via="web")
    return Response(
        body,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{_filename(segment)}.csv"'},
    )


@router.get("/programs", response_class=HTMLResponse)
def programs(
    request: Request, p: Principal = Depends(page_principal), st: AppState = Depends(state)
) -> Response:
    camps = reads.programs.campaigns(st.rm)[:10]
    reports = views.campaign_reports(st.settings, [c["campaign_id"] for c in camps])
    prog = views.programs(st.db, st.settings)
    tiers = charts.bar_list(
        "Loyalty members per tier", [(t["tier"], t["members"]) for t in prog["tiers"]]
    )
    return render(
        request,
        "programs.html",
        p,
        campaigns=camps,
        reports=reports,
        leaderboard=prog["leaderboard"],
        tiers=prog["tiers"],
        tier_chart=tiers if any(t["members"] for t in prog["tiers"]) else None,
        rules=prog["rules"],
        rules_error=prog["error"],
    )


@router.get("/admin", response_class=HTMLResponse)
def admin(
    request: Request,
    p: Principal = Depends(require("admin", page=True)),
    st: AppState = Depends(state),
) -> Response:
    from sqlalchemy import select

    from socialcrm.appdb.models import AuditEntry, User
    from socialcrm.appdb.runs import recent_runs

    with st.db.session() as s:
        users = list(s.scalars(select(User).order_by(User.email)))
        log = list(s.scalars(select(AuditEntry).order_by(AuditEntry.id.desc()).limit(50)))
        runs = [_run_view(r) for r in recent_runs(s, limit=10)]
    return render(request, "admin.html", p, users=users, log=log, runs=runs)


def _run_view(run: Any) -> dict[str, Any]:
    """A pipeline run in words: how it ended, how long it took, what each step did."""
    steps = [
        {
            "name": x.step.replace("_", " "),
            "status": {"ok": "done", "skipped": "skipped", "failed": "failed"}.get(
                x.status, x.status
            ),
            "seconds": x.seconds,
            "rows": sum((x.rows or {}).values()),
            "tables": ", ".join(f"{k} ({v:,})" for k, v in (x.rows or {}).items()),
            "detail": x.detail or "",
        }
        for x in run.steps
    ]
    end = run.finished_at or (run.steps[-1].started_at if run.steps else run.started_at)
    if run.status == "ok":
        outcome = "finished"
    elif run.status == "failed":
        failed = next((x["name"] for x in steps if x["status"] == "failed"), None)
        outcome = f"failed at {failed}" if failed else "failed"
    else:
        outcome = f"running or stopped — {len(steps)} of {run.steps_planned} steps done"
    return {
        "started_at": run.started_at,
        "by": run.started_by,
        "status": run.status,
        "outcome": outcome,
        "seconds": (end - run.started_at).total_seconds() if run.finished_at else None,
        "steps": steps,
        "error": run.error,
    }
