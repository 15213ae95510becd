"""The public links of campaign email: unsubscribe, click, open, and the bounce hook.

These are the app's only pages for people who have no account: the recipients of an
email (and their mail software). The signed token in the link is their only credential
(:mod:`socialcrm.outbound.tokens`); a token that does not verify gets a short page,
status 400, and nothing else: no redirect, no hint of what was wrong.

- ``GET /email/unsubscribe/{token}`` shows a page with one button, and unsubscribes
  nothing: mail scanners and link previews fetch every link of a message, and a GET that
  unsubscribed would unsubscribe people who never clicked.
- ``POST /email/unsubscribe/{token}`` unsubscribes: the button, and the one-click POST
  a mail client sends on its own (RFC 8058: body ``List-Unsubscribe=One-Click``, no
  cookie). It is the one write of the app exempt from the CSRF rule
  (:data:`~socialcrm.web.security.CSRF_EXEMPT`): there is no session to ride, and the
  token is unguessable and names exactly one person and campaign.
- ``GET /email/click/{token}`` records a click and redirects to the URL signed into the
  token: never anywhere else, so the link is no open redirect.
- ``GET /email/open/{token}.gif`` records an open and answers a 1×1 GIF. Opens are a
  weak signal (privacy proxies fetch every pixel), clicks and conversions the strong ones.
- ``POST /email/bounces``: the mail provider's bounce and complaint notifications (a
  raw DSN or ARF message, or JSON; :mod:`socialcrm.outbound.bounces`), with
  ``Authorization: Bearer <SOCIALCRM_BOUNCE_WEBHOOK_SECRET>``.
"""

from __future__ import annotations

import hashlib
import hmac
import json

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from socialcrm.appdb.models import utcnow
from socialcrm.outbound import bounces, mail
from socialcrm.outbound.suppression import record
from socialcrm.outbound.tokens import Purpose, TokenError, tokens_for
from socialcrm.web.deps import AppState, state
from socialcrm.web.pages import TEMPLATES
from socialcrm.web.security import bearer_secret

router = APIRouter(include_in_schema=False)

# the smallest transparent GIF (1×1, 43 bytes)
PIXEL = bytes.fromhex(
    "47494638396101000100800000000000ffffff21f90401000000002c00000000010001000002024401003b"
)
MAX_REPORT_BYTES = 5 * 1024 * 1024


def _page(request: Request, title: str, *lines: str, status: int = 200,
          form_action: str | None = None, button: str = "") -> Response:  # fmt: skip
    return TEMPLATES.TemplateResponse(
        request,
        "email_link.html",
        {"title": title, "lines": lines, "form_action": form_action, "button": button},
        status_code=status,
    )


def _bad(request: Request) -> Response:
    return _page(
        request,
        "This link does not work",
        "It may have been cut short or changed on the way. Open it again from the email, "
        "or copy the whole address into your browser.",
        status=400,
    )


def _read(st: AppState, purpose: Purpose, token: str, size: int) -> list[str | None]:
    got = tokens_for(st.settings).read(purpose, token)
    if len(got) != size:
        raise TokenError("invalid or tampered link")
    return got


@router.get("/email/unsubscribe/{token}")
def unsubscribe_page(request: Request, token: str, st: AppState = Depends(state)) -> Response:
    try:
        _read(st, "unsubscribe", token, 2)
    except TokenError:
        return _bad(request)
    return _page(
        request,
        "Unsubscribe",
        "Stop receiving these emails? One click, and we will not email this address again.",
        form_action=f"/email/unsubscribe/{token}",
        button="Unsubscribe",
    )


@router.post("/email/unsubscribe/{token}")
def unsubscribe(request: Request, token: str, st: AppState = Depends(state)) -> Response:
    try:
        campaign_id, customer_id = _read(st, "unsubscribe", token, 2)
    except TokenError:
        return _bad(request)
    with st.db.session() as s:
        mail.unsubscribe(s, campaign_id, customer_id, "one-click")
    return _page(
        request,
        "You are unsubscribed",
        "We will not send you these emails again. It can take a few minutes for a message "
        "already on its way.",
    )


def _once_an_hour(kind: str, *parts: str | None) -> str:
    """The event key of a click or an open: one per person, link and hour. A link fetched
    a million times (by a script, a scanner, the recipient) writes at most one row an
    hour, and counts once, as it should."""
    hour = utcnow().strftime("%Y-%m-%dT%H")
    digest = hashlib.sha256("\x1f".join(p or "" for p in parts).encode()).hexdigest()[:32]
    return f"{kind}:{digest}:{hour}"


@router.get("/email/click/{token}")
def click(request: Request, token: str, st: AppState = Depends(state)) -> Response:
    try:
        campaign_id, customer_id, url = _read(st, "click", token, 3)
    except TokenError:
        return _bad(request)
    if not url or mail.untrackable(url):  # signed by us, checked anyway
        return _bad(request)
    with st.db.session() as s:
        record(s, "click", campaign_id=campaign_id, customer_id=customer_id, detail=url,
               key=_once_an_hour("click", campaign_id, customer_id, url))  # fmt: skip
    return RedirectResponse(url, status_code=302)


@router.get("/email/open/{token}.gif")
def opened(request: Request, token: str, st: AppState = Depends(state)) -> Response:
    try:
        campaign_id, customer_id = _read(st, "open", token, 2)
    except TokenError:
        return _bad(request)
    with st.db.session() as s:
        record(s, "open", campaign_id=campaign_id, customer_id=customer_id,
               key=_once_an_hour("open", campaign_id, customer_id))  # fmt: skip
    return Response(PIXEL, media_type="image/gif")


async def _body_at_most(request: Request, limit: int) -> bytes | None:
    """The request's body, or None past ``limit`` bytes: read a chunk at a time and given
    up at the limit, not read whole first (a 5 GB body would be held in memory)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        return None
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": {"status": status, "message": message}}, status_code=status)


@router.post("/email/bounces")
async def bounce_hook(request: Request, st: AppState = Depends(state)) -> Response:
    secret = st.settings.bounce_webhook_secret
    if secret is None:
        return _error(404, "bounce notifications are off: set SOCIALCRM_BOUNCE_WEBHOOK_SECRET")
    sent = bearer_secret(request) or ""
    if not hmac.compare_digest(sent.encode(), secret.get_secret_value().encode()):
        return _error(401, "send 'Authorization: Bearer <bounce webhook secret>'")
    body = await _body_at_most(request, MAX_REPORT_BYTES)
    if body is None:
        return _error(413, "a report is at most 5 MB")
    try:
        if request.headers.get("content-type", "").lower().startswith("application/json"):
            feedback = bounces.parse_json(json.loads(body))
        else:
            feedback = bounces.parse_bytes(body)
    except (ValueError, KeyError) as e:
        return _error(422, f"not a bounce report: {e}"[:300])

    def apply() -> dict[str, int]:
        with st.db.session() as s:
            return bounces.apply(s, st.settings, feedback, "webhook", trusted=True)

    return JSONResponse(await run_in_threadpool(apply))
