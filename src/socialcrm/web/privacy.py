"""Privacy rights in the web app: the staff page (admins) and a person's own access request.

Staff (admin role only; every action audited, no personal data in the audit text):

- ``GET /privacy``: look a person up by email, phone, handle or record id; receipts of
  past exports and erasures; access requests waiting.
- ``GET /privacy/person?q=…``: everything held about the person, table by table (the
  same search as ``socialcrm privacy export``), with the JSON download and "Erase…".
- ``POST /privacy/export``: the JSON document, as a download.
- ``POST /privacy/erase``: without ``confirm`` a page that says what will go and asks
  again; with ``confirm=yes`` the erasure, then its receipt.
- ``POST /privacy/requests/{id}/done``: an access request answered.

The person (no account; the signed link of the preference centre is their credential):

- ``POST /preferences/{token}/access``: "send me a copy of my data". Recorded as a
  request for staff, who send the export. The answer is the same whether or not the
  brand holds anything about them (no enumeration), and requests are rate limited per
  client address and per person.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select

from socialcrm.appdb.accounts import Principal, audit
from socialcrm.appdb.models import PrivacyReceipt, PrivacyRequest, utcnow
from socialcrm.outbound.tokens import TokenError, tokens_for
from socialcrm.privacy.access import access
from socialcrm.privacy.erasure import erase
from socialcrm.privacy.holdings import export
from socialcrm.privacy.person import Person, PersonNotFound, find_person
from socialcrm.privacy.requests import read_download_token, request_access
from socialcrm.store.warehouse import Warehouse
from socialcrm.web.deps import AppState, require, state
from socialcrm.web.pages import TEMPLATES, render
from socialcrm.web.security import LoginLimiter, client_address

router = APIRouter(include_in_schema=False)
ADMIN = require("admin", page=True)
SHOWN_ROWS = 50
"""Rows shown per table on the page (the JSON download has all)."""
REQUESTS_PER_ADDRESS = (5, 3600.0)
REQUESTS_PER_PERSON = (3, 86400.0)
THANKS = (
    "Thank you. If we hold data about you, we will email a link to a copy to the address "
    "we have for you (at the latest within 30 days)."
)


def _warehouse(st: AppState) -> Warehouse:
    return Warehouse(st.settings.warehouse_dir)


def _find(st: AppState, q: str) -> Person:
    try:
        return find_person(_warehouse(st), q)
    except PersonNotFound as e:
        raise HTTPException(404, str(e)) from None


# -- staff -----------------------------------------------------------------------------------
@router.get("/privacy")
def privacy_page(
    request: Request, p: Principal = Depends(ADMIN), st: AppState = Depends(state)
) -> Response:
    with st.db.session() as s:
        receipts = list(
            s.scalars(select(PrivacyReceipt).order_by(PrivacyReceipt.id.desc()).limit(50))
        )
        waiting = list(
            s.scalars(
                select(PrivacyRequest)
                .where(PrivacyRequest.status == "received")
                .order_by(PrivacyRequest.id)
            )
        )
    return render(request, "privacy.html", p, receipts=receipts, waiting=waiting)


def _summary(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """The holdings as the page shows them: one entry per table, rows cut at SHOWN_ROWS."""
    tables = []
    for part, label in (("warehouse", "warehouse"), ("app", "app")):
        for name, held in sorted(doc[part].items()):
            rows = held["rows"] + held["mentions"]
            columns = sorted({c for r in rows for c in r})
            tables.append(
                {
                    "name": name,
                    "where": held.get("category", label),
                    "keyed_by": held["keyed_by"],
                    "count": len(rows),
                    "mentions": len(held["mentions"]),
                    "columns": columns,
                    "rows": [[_cell(r.get(c)) for c in columns] for r in rows[:SHOWN_ROWS]],
                }
            )
    return tables


def _cell(v: object) -> str:
    if v is None:
        return ""
    return v if isinstance(v, str) else json.dumps(v, default=str, ensure_ascii=False)


@router.get("/privacy/person")
def person_page(
    request: Request, q: str, p: Principal = Depends(ADMIN), st: AppState = Depends(state)
) -> Response:
    person = _find(st, q)
    with st.db.session() as s:
        doc = export(_warehouse(st), s, person)
        audit(s, p.email, "privacy.view", "", tables=len(doc["warehouse"]) + len(doc["app"]))
    tables = _summary(doc)
    handles = [h for h in doc["known_by"]["handles"] if ":" not in h]
    return render(
        request,
        "privacy_person.html",
        p,
        q=q,
        doc=doc,
        tables=tables,
        handles=handles,
        rows=sum(t["count"] for t in tables),
    )


@router.post("/privacy/export")
def export_download(
    q: str = Form(...), p: Principal = Depends(ADMIN), st: AppState = Depends(state)
) -> Response:
    person = _find(st, q)
    with st.db.session() as s:
        doc = access(st.settings, _warehouse(st), s, person, p.email)
    body = json.dumps(doc, default=str, ensure_ascii=False, indent=1)
    return Response(
        body,
        media_type="application/json",
        headers={
            "Content-Disposition": f'attachment; filename="privacy-export-{doc["receipt"]}.json"'
        },
    )


@router.post("/privacy/erase")
def erase_form(
    request: Request,
    q: str = Form(...),
    confirm: str = Form(""),
    p: Principal = Depends(ADMIN),
    st: AppState = Depends(state),
) -> Response:
    person = _find(st, q)
    wh = _warehouse(st)
    if confirm != "yes":
        with st.db.session() as s:
            tables = _summary(export(wh, s, person))
        return render(
            request, "privacy_confirm.html", p, q=q, tables=tables, records=len(person.records)
        )
    with st.db.session() as s:
        result = erase(st.settings, wh, s, person, p.email)
    return RedirectResponse(f"/privacy?erased={result.receipt_id}", status_code=303)


@router.post("/privacy/requests/{request_id}/done")
def request_done(
    request_id: int, p: Principal = Depends(ADMIN), st: AppState = Depends(state)
) -> Response:
    with st.db.session() as s:
        row = s.get(PrivacyRequest, request_id)
        if row is None:
            raise HTTPException(404, f"no request {request_id}")
        row.status, row.done_at = "done", utcnow()
        audit(s, p.email, "privacy.request_done", f"request {request_id}")
    return RedirectResponse("/privacy", status_code=303)


# -- the person ------------------------------------------------------------------------------
def _limiter(request: Request, name: str, limits: tuple[int, float]) -> LoginLimiter:
    holder = request.app.state
    found = getattr(holder, name, None)
    if found is None:
        found = LoginLimiter(*limits)
        setattr(holder, name, found)
    return found


def _public(request: Request, title: str, line: str, status: int = 200) -> Response:
    return TEMPLATES.TemplateResponse(
        request,
        "email_link.html",
        {"title": title, "lines": (line,), "form_action": None, "button": ""},
        status_code=status,
    )


@router.post("/preferences/{token}/access")
def access_request(request: Request, token: str, st: AppState = Depends(state)) -> Response:
    by_address = _limiter(request, "privacy_by_address", REQUESTS_PER_ADDRESS)
    by_person = _limiter(request, "privacy_by_person", REQUESTS_PER_PERSON)
    address = client_address(request, st.proxies)
    max_age = st.settings.preference_link_days * 86400
    try:
        (customer_id,) = tokens_for(st.settings).read_timed("preferences", token, max_age)
    except (TokenError, ValueError):
        return _public(
            request,
            "This link does not work",
            "Open the preference centre again from one of our emails.",
            400,
        )
    key = f"person:{customer_id}"
    if by_address.retry_after(address) or by_person.retry_after(key):
        return _public(
            request, "Please wait", "You asked a moment ago; please try again later.", 429
        )
    by_address.failed(address)
    by_person.failed(key)
    if customer_id:
        try:
            person = find_person(_warehouse(st), customer_id)
        except PersonNotFound:
            person = None
        if person is not None:
            with st.db.session() as s:
                request_access(st.settings, _warehouse(st), s, person, customer_id)
    return _public(request, "Your request is on its way", THANKS)


@router.get("/privacy/download/{token}")
def download(request: Request, token: str, st: AppState = Depends(state)) -> Response:
    """The emailed link: the person's own copy, as a JSON file (a receipt and an audit line)."""
    by_address = _limiter(request, "privacy_by_address", REQUESTS_PER_ADDRESS)
    address = client_address(request, st.proxies)
    if by_address.retry_after(address):
        return _public(request, "Please wait", "Too many tries; please try again later.", 429)
    by_address.failed(address)
    try:
        customer_id = read_download_token(st.settings, token)
        person = find_person(_warehouse(st), customer_id)
    except (TokenError, PersonNotFound):
        again = "It may have expired. Ask again from the preference centre."
        return _public(request, "This link does not work", again, 400)
    with st.db.session() as s:
        doc = access(st.settings, _warehouse(st), s, person, "person (emailed link)")
    body = json.dumps(doc, default=str, ensure_ascii=False, indent=1)
    return Response(body, media_type="application/json",
                    headers={"Content-Disposition": 'attachment; filename="my-data.json"',
                             "Cache-Control": "no-store"})  # fmt: skip
