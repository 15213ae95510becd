"""Saved listening queries on the web: REST API under ``/api/v1/listening/queries`` and
the Queries page under ``/queries``.

Everyone signed in reads and previews; analysts and admins add, edit and remove. Writes
follow the app's one rule (security.csrf_guard): a bearer token, or the session's CSRF
token. The page's preview is a plain GET form (no script): it changes nothing, so it
needs no CSRF token, and its pages are links.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal, TypeVar
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from socialcrm.appdb.accounts import Principal
from socialcrm.listening import saved_queries as sq
from socialcrm.listening.query_language import QueryError, parse
from socialcrm.store.reads import listening_queries as reads
from socialcrm.web import charts
from socialcrm.web.deps import AppState, State, act, require, respond
from socialcrm.web.pages import render

router = APIRouter()
T = TypeVar("T")
Sentiment = Literal["negative", "neutral", "positive"]
Name = Annotated[str, Path(min_length=1, max_length=sq.MAX_NAME)]
PAGE = 25
PREVIEW_PAGE = 20

Viewer = Annotated[Principal, Depends(require("viewer"))]
Analyst = Annotated[Principal, Depends(require("analyst"))]
PageViewer = Annotated[Principal, Depends(require("viewer", page=True))]
PageAnalyst = Annotated[Principal, Depends(require("analyst", page=True))]
ERRORS = (sq.SavedQueryError, QueryError, sq.UnknownQuery)


def _run(st: AppState, fn: Callable[[Session], T]) -> T:
    """``fn(session)`` in one transaction; an unknown name is a 404, a bad query a 400."""
    try:
        return act(st, fn, errors=(sq.SavedQueryError, QueryError))
    except sq.UnknownQuery as e:
        raise HTTPException(404, str(e)) from None


# -- API ------------------------------------------------------------------------------------
class QueryIn(BaseModel):
    name: str = Field(min_length=1, max_length=sq.MAX_NAME)
    terms: str = Field(min_length=1, max_length=10_000)
    sources: list[str] = Field(min_length=1, max_length=sq.MAX_SOURCES)
    lang: str | None = Field(None, max_length=16)
    needs_response: bool = False


class QueryPatch(BaseModel):
    name: str | None = Field(None, min_length=1, max_length=sq.MAX_NAME)
    terms: str | None = Field(None, min_length=1, max_length=10_000)
    sources: list[str] | None = Field(None, min_length=1, max_length=sq.MAX_SOURCES)
    lang: str | None = Field(None, max_length=16, description="'' or null with clear_lang")
    clear_lang: bool = False
    needs_response: bool | None = None


class PreviewIn(BaseModel):
    terms: str = Field(min_length=1, max_length=10_000)
    lang: str | None = Field(None, max_length=16)
    sentiment: Sentiment | None = None
    topic_id: int | None = Field(None, ge=-1, le=2**31 - 1)
    page: int = Field(1, ge=1, le=100_000)


def _doc(q: sq.SavedQuery, counts: dict[str, int] | None = None) -> dict[str, Any]:
    d = q.as_dict()
    if counts is not None:
        d["posts"] = counts.get(q.name, 0)
    return d


@router.get("/api/v1/listening/queries", tags=["listening"], summary="Saved listening queries")
def api_list(p: Viewer, st: State) -> Any:
    counts = reads.query_counts(st.rm)
    return respond({"items": [_doc(q, counts) for q in _run(st, sq.list_queries)]}, p)


@router.post(
    "/api/v1/listening/queries",
    tags=["listening"],
    summary="Save a listening query",
    status_code=201,
)
def api_add(body: QueryIn, p: Analyst, st: State) -> Any:
    q = _run(
        st,
        lambda s: sq.add_query(s, body.name, body.terms, body.sources, lang=body.lang,
                               needs_response=body.needs_response, actor=p.email),
    )  # fmt: skip
    return respond(_doc(q), p, status=201)


@router.post(
    "/api/v1/listening/queries/preview",
    tags=["listening"],
    summary="What an expression matches among the stored posts: counts by source and day",
)
async def api_preview(body: PreviewIn, p: Viewer, st: State) -> Any:
    try:
        query = parse(body.terms, lang=body.lang)
    except QueryError as e:
        raise HTTPException(400, str(e)) from None
    pv = await run_in_threadpool(_preview, st, query, body.sentiment, body.topic_id, body.page)
    return respond(
        {
            "total": pv.total,
            "scanned": pv.scanned,
            "by_source": [{"source": k, "posts": n} for k, n in pv.by_source],
            "by_day": [{"day": k, "posts": n} for k, n in pv.by_day],
            "items": pv.items,
            "page": pv.page,
            "pages": pv.pages,
            "search_terms": query.search_terms(),
        },
        p,
    )


@router.get("/api/v1/listening/queries/{name}", tags=["listening"], summary="One saved query")
def api_get(name: Name, p: Viewer, st: State) -> Any:
    return respond(_doc(_run(st, lambda s: sq.get_query(s, name)), reads.query_counts(st.rm)), p)


@router.patch(
    "/api/v1/listening/queries/{name}", tags=["listening"], summary="Change a saved query"
)
def api_edit(name: Name, body: QueryPatch, p: Analyst, st: State) -> Any:
    lang: str | sq._Unset | None = sq.UNSET
    if body.clear_lang:
        lang = None
    elif body.lang is not None:
        lang = body.lang or None
    q = _run(
        st,
        lambda s: sq.edit_query(
            s,
            name,
            new_name=sq.UNSET if body.name is None else body.name,
            terms=sq.UNSET if body.terms is None else body.terms,
            sources=sq.UNSET if body.sources is None else body.sources,
            lang=lang,
            needs_response=sq.UNSET if body.needs_response is None else body.needs_response,
            actor=p.email,
        ),
    )
    return respond(_doc(q), p)


@router.delete(
    "/api/v1/listening/queries/{name}", tags=["listening"], summary="Remove a saved query"
)
def api_remove(name: Name, p: Analyst, st: State) -> Any:
    _run(st, lambda s: sq.remove_query(s, name, actor=p.email))
    return respond({"removed": name}, p)


def _preview(
    st: AppState, query: Any, sentiment: str | None, topic_id: int | None, page: int
) -> sq.Preview:
    posts = reads.preview_posts(st.rm, sentiment=sentiment, topic_id=topic_id)
    return sq.preview(query, posts, page=page, page_size=PREVIEW_PAGE)


# -- the Queries page -----------------------------------------------------------------------
def _sources_text(text: str) -> list[str]:
    return [line.strip() for line in text.replace(",", "\n").splitlines() if line.strip()]


@router.get("/queries", response_class=HTMLResponse, include_in_schema=False)
async def queries_page(
    request: Request,
    p: PageViewer,
    st: State,
    page: int = Query(1, ge=1, le=100_000),
    edit: str = Query("", max_length=sq.MAX_NAME),
    name: str = Query("", max_length=sq.MAX_NAME),
    terms: str = Query("", max_length=10_000),
    sources: str = Query("", max_length=5_000),
    lang: str = Query("", max_length=16),
    needs_response: str = Query("", max_length=5),
    sentiment: str = Query("", max_length=10),
    topic: str = Query("", max_length=12),
    ppage: int = Query(1, ge=1, le=100_000),
) -> Response:
    with st.db.session() as s:
        saved = sq.list_queries(s)
    editing = next((q for q in saved if q.name == edit), None)
    if editing is not None and not terms:  # open a saved query in the builder
        name, terms, lang = editing.name, editing.terms, editing.lang or ""
        sources, needs_response = "\n".join(editing.sources), "on" if editing.needs_response else ""
    counts = reads.query_counts(st.rm)
    pages = max(1, -(-len(saved) // PAGE))
    page = min(page, pages)
    sentiment_f = sentiment if sentiment in ("negative", "neutral", "positive") else None
    topic_f = int(topic) if topic.lstrip("-").isdigit() else None
    form = {"name": name, "terms": terms, "sources": sources, "lang": lang,
            "needs_response": needs_response, "sentiment": sentiment_f or "",
            "topic": "" if topic_f is None else str(topic_f), "edit": edit}  # fmt: skip
    error, pv, chart, search_terms = None, None, None, []
    if terms.strip():
        try:
            query = parse(terms, lang=lang or None)
            search_terms = query.search_terms()
        except QueryError as e:
            error = str(e)
        else:
            pv = await run_in_threadpool(_preview, st, query, sentiment_f, topic_f, ppage)
            if len(pv.by_day) > 1:
                chart = charts.line_chart(
                    "Matching posts per day", [d for d, _ in pv.by_day], {},
                    bars=[n for _, n in pv.by_day], y_min=0,
                )  # fmt: skip
    keep = {k: v for k, v in form.items() if v}
    return render(
        request,
        "queries.html",
        p,
        saved=[_doc(q, counts) for q in saved[(page - 1) * PAGE : page * PAGE]],
        saved_total=len(saved),
        page=page,
        pages=pages,
        form=form,
        editing=editing is not None,
        error=error,
        preview=pv,
        chart=chart,
        source_chart=charts.bar_list("Matching posts by source", pv.by_source) if pv else None,
        search_terms=search_terms,
        topics=reads.topic_choices(st.rm),
        kinds=sq.SOURCE_KINDS,
        preview_link=lambda n: "/queries?" + urlencode({**keep, "ppage": n}) + "#preview",
        list_link=lambda n: "/queries?" + urlencode({**keep, "page": n}) + "#saved",
    )


async def _form_query(request: Request) -> dict[str, Any]:
    form = await request.form()

    def text(key: str, limit: int) -> str:
        return str(form.get(key, ""))[:limit]

    return {
        "name": text("name", sq.MAX_NAME),
        "terms": text("terms", 10_000),
        "sources": _sources_text(text("sources", 5_000)),
        "lang": text("lang", 16).strip() or None,
        "needs_response": bool(form.get("needs_response")),
    }


@router.post("/queries", include_in_schema=False)
async def add_form(request: Request, p: PageAnalyst, st: State) -> Response:
    f = await _form_query(request)
    return act(
        st,
        lambda s: sq.add_query(s, f["name"], f["terms"], f["sources"], lang=f["lang"],
                               needs_response=f["needs_response"], actor=p.email),
        errors=ERRORS,
        then="/queries#saved",
    )  # fmt: skip


@router.post("/queries/{name}/edit", include_in_schema=False)
async def edit_form(request: Request, name: Name, p: PageAnalyst, st: State) -> Response:
    f = await _form_query(request)
    return act(
        st,
        lambda s: sq.edit_query(s, name, new_name=f["name"] or name, terms=f["terms"],
                                sources=f["sources"], lang=f["lang"],
                                needs_response=f["needs_response"], actor=p.email),
        errors=ERRORS,
        then="/queries#saved",
    )  # fmt: skip


@router.post("/queries/{name}/remove", include_in_schema=False)
def remove_form(name: Name, p: PageAnalyst, st: State) -> Response:
    return act(st, lambda s: sq.remove_query(s, name, actor=p.email), errors=ERRORS,
               then="/queries#saved")  # fmt: skip
