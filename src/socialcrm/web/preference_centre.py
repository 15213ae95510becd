"""The customer's own pages: the preference centre and the sign-up and profile forms.

Public, apart from the staff app: their own layout (``templates/public/``, no staff
navigation), the brand's name, plain words, one column from 390 px up. Nobody signs in;
what stands in for it:

- ``/preferences/{token}``: the signed, expiring link in every email
  (:func:`socialcrm.outbound.tokens.preferences_url`), scoped to one person and the
  ``preferences`` purpose. Its forms (save, unsubscribe from everything) carry the
  session's CSRF token, as every form of the app: the page is opened from an email, at
  the top level, so the session cookie is there. Unsubscribing from everything takes a
  confirm step whose button carries a single-use token (``preference_action``, one
  hour): a replayed POST changes nothing and says so.
- ``/signup`` and ``/profile`` are made to be framed on the brand's own site, where
  browsers do not send this app's cookie: their POSTs are exempt from the session rule
  (:data:`~socialcrm.web.security.CSRF_EXEMPT`) and carry a per-form signed token
  instead (``form``, two hours). They may be framed only by the origins in
  ``SOCIALCRM_EMBED_ORIGINS`` (CSP ``frame-ancestors``); with none set, no page of the
  app can be framed. Every other page keeps ``frame-ancestors 'none'``.
- Nothing tells whether an address is known: the sign-up and "send me a link" forms
  answer the same words with the same status for every address, and do their work
  (look-up, email) after the answer has gone (a background task), so the time of the
  answer does not depend on it either.
- Rate limits per client address (a 429 page) and per email address (the same answer,
  no email: otherwise the limit would say the address was used).
- Every change is audited (``appdb.accounts.audit``, actor ``public``).
"""

from __future__ import annotations

import hashlib
import threading
import time
from dataclasses import dataclass, field

import fastapi.routing
from fastapi import APIRouter, BackgroundTasks, Depends, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.exc import IntegrityError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from socialcrm.appdb.accounts import audit
from socialcrm.appdb.models import UsedToken
from socialcrm.outbound import mail
from socialcrm.outbound.tokens import TokenError, TokenExpired, tokens_for
from socialcrm.preferences import centre, signup
from socialcrm.store.workspace import Workspace
from socialcrm.web.deps import AppState, state
from socialcrm.web.pages import TEMPLATES
from socialcrm.web.security import CSP, LoginLimiter, client_address, csrf_token

router = APIRouter(include_in_schema=False)

FORM_MAX_AGE = 2 * 3600
ACTION_MAX_AGE = 3600
PER_CLIENT = (30, 600.0)  # form posts per client address per 10 minutes
PER_ADDRESS = (3, 3600.0)  # emails to one address per hour
ACCESS_ROUTE = "/preferences/{token}/access"
EMBEDDABLE = ("/signup", "/profile")
BACK = "Back to my preferences"


@dataclass
class Limits:
    """The public forms' rate limits, one set per app (in memory, per process)."""

    client: LoginLimiter = field(default_factory=lambda: LoginLimiter(*PER_CLIENT))
    address: LoginLimiter = field(default_factory=lambda: LoginLimiter(*PER_ADDRESS))


_LOCK = threading.Lock()


def _limits(request: Request) -> Limits:
    with _LOCK:
        found = getattr(request.app.state, "public_limits", None)
        if found is None:
            found = request.app.state.public_limits = Limits()
        return found


def _over_limit(request: Request, st: AppState) -> bool:
    """Counts this post against the client's limit; True when it is over."""
    lim, ip = _limits(request).client, f"ip:{client_address(request, st.proxies)}"
    if lim.retry_after(ip) > 0:
        return True
    lim.failed(ip)
    return False


def _address_allowed(request: Request, address: str) -> bool:
    lim = _limits(request).address
    key = "addr:" + hashlib.sha256(address.strip().lower().encode()).hexdigest()
    if lim.retry_after(key) > 0:
        return False
    lim.failed(key)
    return True


# -- rendering ----------------------------------------------------------------------------
def _frame_headers(st: AppState) -> dict[str, str]:
    """The embeddable forms' headers: framable by the configured origins only."""
    origins = [o.strip() for o in st.settings.embed_origins.split(",") if o.strip()]
    origins = [o for o in origins if o.startswith(("https://", "http://")) and " " not in o]
    if not origins:
        return {}
    csp = CSP.replace("frame-ancestors 'none'", "frame-ancestors " + " ".join(origins))
    # X-Frame-Options (DENY) stays: it has no allow-list, and browsers that know
    # frame-ancestors (all current ones, CSP level 2) ignore it when the CSP names one;
    # the rare others then refuse the frame rather than allow any site
    return {"Content-Security-Policy": csp}


def _page(
    request: Request,
    st: AppState,
    name: str,
    status: int = 200,
    headers: dict[str, str] | None = None,
    **ctx: object,
) -> Response:
    ctx.setdefault("framed", False)
    if ctx["framed"] and headers is None:  # the answer to a framed form, framed too
        headers = _frame_headers(st)
    return TEMPLATES.TemplateResponse(
        request,
        f"public/{name}",
        {
            "brand": centre.brand_name(st.settings),
            "wording_version": centre.WORDING_VERSION,
            "csrf": csrf_token(request),
            "form_token": tokens_for(st.settings).make_timed("form", ["public-form"]),
            **ctx,
        },
        status_code=status,
        headers=headers,
    )


def _message(
    request: Request,
    st: AppState,
    title: str,
    *lines: str,
    status: int = 200,
    headers: dict[str, str] | None = None,
    **ctx: object,
) -> Response:
    return _page(request, st, "message.html", status, headers, title=title, lines=lines, **ctx)


def _bad_link(request: Request, st: AppState, expired: bool) -> Response:
    if expired:
        return _message(request, st, "This link has expired",
                        "For your safety, links to your preferences work for "
                        f"{st.settings.preference_link_days} days.",
                        status=410, ask_link=True)  # fmt: skip
    return _message(request, st, "This link does not work",
                    "It may have been cut short or changed on the way. Open it again from "
                    "the email, or ask for a new one below.", status=400,
                    ask_link=True)  # fmt: skip


def _too_many(request: Request, st: AppState) -> Response:
    return _message(request, st, "Please wait a little",
                    "Too many tries from your connection. Try again in a few minutes.",
                    status=429, headers={"Retry-After": "600"})  # fmt: skip


def _person(st: AppState, token: str) -> str:
    got = tokens_for(st.settings).read_timed(
        "preferences", token, st.settings.preference_link_days * 86400
    )
    if len(got) != 1 or not got[0]:
        raise TokenError("invalid or tampered link")
    return got[0]


def _form_ok(st: AppState, token: object) -> bool:
    if not isinstance(token, str):
        return False
    try:
        return tokens_for(st.settings).read_timed("form", token, FORM_MAX_AGE) == ["public-form"]
    except TokenError:
        return False


def _wording(sent: object) -> str:
    """The version of the words the form showed: the page sends it back, so a page shown
    before a change of wording and sent after it records what the person read; a version
    this app never showed is not taken at its word."""
    return (
        sent
        if isinstance(sent, str) and sent in centre.WORDING_VERSIONS
        else centre.WORDING_VERSION
    )


def _has_route(request: Request, path: str) -> bool:
    """Whether the app serves ``path`` (another part's route this page links to, when it
    is there), through included routers (which recent FastAPI keeps as lazy branches)."""
    known = getattr(request.app.state, "public_paths", None)
    if known is None:
        contexts = getattr(fastapi.routing, "iter_route_contexts", None)
        items = contexts(request.app.routes) if contexts else request.app.routes
        known = {getattr(c, "path_format", None) or getattr(c, "path", None) for c in items}
        request.app.state.public_paths = known
    return path in known


# -- the preference centre ----------------------------------------------------------------
@router.get("/preferences/new-link")
def new_link_form(request: Request, st: AppState = Depends(state)) -> Response:
    return _page(request, st, "profile_form.html", title="Your preferences")


@router.get("/profile")
def profile_form(request: Request, st: AppState = Depends(state)) -> Response:
    """The embeddable profile form: an address in, the person's own link out by email."""
    return _page(request, st, "profile_form.html", headers=_frame_headers(st),
                 title="Your preferences", framed=bool(_frame_headers(st)))  # fmt: skip


def _refuse_framable_post(
    request: Request, st: AppState, form: FormData, framed: bool
) -> Response | None:
    """The answer to a post of a framable public form (sign-up, "send me my link") that
    must go no further: its signed per-form token expired or forged, or its client over
    the rate limit. None when the post may proceed."""
    if not _form_ok(st, form.get("form_token")):
        return _message(request, st, "This form has expired",
                        "Reload the page and try again.", status=400, framed=framed)  # fmt: skip
    if _over_limit(request, st):
        return _too_many(request, st)
    return None


@router.post("/preferences/new-link")
async def new_link(
    request: Request, background: BackgroundTasks, st: AppState = Depends(state)
) -> Response:
    form = await request.form()
    framed = form.get("framed") == "1"
    if refused := _refuse_framable_post(request, st, form, framed):
        return refused
    address = str(form.get("email") or "").strip()
    try:
        address = mail.valid_address(address)
    except mail.EmailError:
        return _message(request, st, "That is not an email address",
                        "Check it and try again.", status=422, ask_link=True,
                        framed=framed)  # fmt: skip
    if _address_allowed(request, address):

        def send() -> None:
            with Workspace.open(st.settings) as ws:
                centre.email_link(ws, st.db, st.settings, address)

        background.add_task(send)
    return _message(request, st, "Check your inbox",
                    "If we have this address, we have sent it a link to your preferences. "
                    "It can take a few minutes to arrive.", framed=framed)  # fmt: skip


@router.get("/preferences/{token}")
def centre_page(
    request: Request, token: str, saved: int = 0, st: AppState = Depends(state)
) -> Response:
    try:
        person = _person(st, token)
    except TokenError as e:
        return _bad_link(request, st, isinstance(e, TokenExpired))
    with Workspace.open(st.settings) as ws, st.db.session() as s:
        records = centre.records_of(ws, person)
        choices = centre.current(ws, s, person, records)
        history = centre.consent_history(s, person)
        unsubscribed = bool(history) and not choices.channels and choices.frequency is None
        s.expunge_all()
    return _page(request, st, "centre.html", title="Your preferences", token=token,
                 choices=choices, history=history, saved=bool(saved),
                 unsubscribed=unsubscribed and not saved,
                 channels=centre.CHANNELS, frequencies=centre.FREQUENCIES,
                 topics=centre.topics(st.settings), sites=centre.SOCIAL_SITES,
                 languages=centre.LANGUAGES, lang=choices.language or "en",
                 access=_has_route(request, ACCESS_ROUTE))  # fmt: skip


@router.post("/preferences/{token}")
async def centre_save(request: Request, token: str, st: AppState = Depends(state)) -> Response:
    try:
        person = _person(st, token)
    except TokenError as e:
        return _bad_link(request, st, isinstance(e, TokenExpired))
    if _over_limit(request, st):
        return _too_many(request, st)
    form = await request.form()

    def one(name: str) -> str | None:
        value = form.get(name)
        return str(value) if isinstance(value, str) and value else None

    def many(name: str) -> list[str]:
        return [str(v) for v in form.getlist(name) if isinstance(v, str)]

    wording = _wording(one("wording_version"))
    try:
        choices = centre.Choices(many("channel"), one("frequency"), many("topic"), many("site"),
                                 one("language"), one("first_name"),
                                 one("last_name")).checked(centre.topics(st.settings))  # fmt: skip
    except centre.PreferenceError:
        return _message(request, st, "Something in the form was not one of the choices",
                        "Reload the page and try again.", status=422)  # fmt: skip

    def apply() -> centre.Outcome:
        with Workspace.open(st.settings) as ws:
            out = centre.save(ws, st.db, person, choices, wording_version=wording)
        with st.db.session() as s:
            audit(s, "public", "preferences.save", person, consents=len(out.consents),
                  suppressed=len(out.suppressed), warehouse=out.warehouse)  # fmt: skip
        return out

    await run_in_threadpool(apply)
    return RedirectResponse(f"/preferences/{token}?saved=1", status_code=303)


@router.get("/preferences/{token}/unsubscribe")
def unsubscribe_confirm(request: Request, token: str, st: AppState = Depends(state)) -> Response:
    try:
        person = _person(st, token)
    except TokenError as e:
        return _bad_link(request, st, isinstance(e, TokenExpired))
    nonce = hashlib.sha256(f"{time.time_ns()}:{id(request)}".encode()).hexdigest()[:24]
    action = tokens_for(st.settings).make_timed("preference_action",
                                                [person, "unsubscribe_all", nonce])  # fmt: skip
    brand = centre.brand_name(st.settings)
    return _message(request, st, "Unsubscribe from everything?",
                    f"You will get no more emails, texts or calls with news or offers from "
                    f"{brand}. Messages about your orders still reach you.",
                    confirm_action=f"/preferences/{token}/unsubscribe", action_token=action,
                    confirm_button="Yes, unsubscribe me from everything", danger=True,
                    cancel=f"/preferences/{token}")  # fmt: skip


@router.post("/preferences/{token}/unsubscribe")
async def unsubscribe_all(request: Request, token: str, st: AppState = Depends(state)) -> Response:
    try:
        person = _person(st, token)
    except TokenError as e:
        return _bad_link(request, st, isinstance(e, TokenExpired))
    form = await request.form()
    action = form.get("action")
    try:
        got = tokens_for(st.settings).read_timed(
            "preference_action", str(action or ""), ACTION_MAX_AGE
        )
    except TokenError:
        return _message(request, st, "This button has expired",
                        "Go back to your preferences and try again.", status=400,
                        link=f"/preferences/{token}", link_text=BACK)  # fmt: skip
    if len(got) != 3 or got[0] != person or got[1] != "unsubscribe_all":
        return _message(request, st, "This button does not work here", status=400,
                        link=f"/preferences/{token}", link_text=BACK)  # fmt: skip
    digest = tokens_for(st.settings).digest("preference_action", str(action))

    def apply() -> centre.Outcome | None:
        try:
            with st.db.session() as s:
                s.add(UsedToken(digest=digest, purpose="preference_action"))
        except IntegrityError:
            return None  # used once already: a replay changes nothing
        with Workspace.open(st.settings) as ws:
            out = centre.unsubscribe_everything(ws, st.db, person)
        with st.db.session() as s:
            audit(s, "public", "preferences.unsubscribe_all", person,
                  consents=len(out.consents), suppressed=len(out.suppressed),
                  warehouse=out.warehouse)  # fmt: skip
        return out

    if await run_in_threadpool(apply) is None:
        return _message(request, st, "This button was already used",
                        "You are already unsubscribed. Nothing else changed.", status=409,
                        link=f"/preferences/{token}", link_text=BACK)  # fmt: skip
    return _message(request, st, "You are unsubscribed from everything",
                    f"{centre.brand_name(st.settings)} will not send you news or offers "
                    "again. A message already on its way can take a few minutes to stop.",
                    "Changed your mind? Choose a channel again on your preferences page.",
                    link=f"/preferences/{token}", link_text=BACK)  # fmt: skip


# -- sign-up ------------------------------------------------------------------------------
CONSENT_WORDS = "Yes, {brand} may email me news and offers. I can stop this at any time."


def _signup_page(request: Request, st: AppState, status: int = 200, **ctx: object) -> Response:
    headers = _frame_headers(st)
    brand = centre.brand_name(st.settings)
    return _page(request, st, "signup.html", status, headers=headers, title="Sign up",
                 topics=centre.topics(st.settings), framed=bool(headers),
                 consent_words=CONSENT_WORDS.format(brand=brand), **ctx)  # fmt: skip


@router.get("/signup")
def signup_form(request: Request, st: AppState = Depends(state)) -> Response:
    return _signup_page(request, st)


@router.post("/signup")
async def signup_post(
    request: Request, background: BackgroundTasks, st: AppState = Depends(state)
) -> Response:
    form = await request.form()
    framed = form.get("framed") == "1"
    if refused := _refuse_framable_post(request, st, form, framed):
        return refused
    email = str(form.get("email") or "").strip()
    first_name = str(form.get("first_name") or "").strip()[:100] or None
    offered = centre.topics(st.settings)
    picked = [str(t) for t in form.getlist("topic") if isinstance(t, str) and t in offered]
    try:
        email = mail.valid_address(email)
    except mail.EmailError:
        return _signup_page(request, st, 422, error="That is not an email address. Check it "
                            "and try again.", email=email, first_name=first_name)  # fmt: skip
    if form.get("consent") != "email_marketing":
        return _signup_page(request, st, 422, error="Tick the box to say we may email you.",
                            email=email, first_name=first_name)  # fmt: skip
    brand = centre.brand_name(st.settings)
    bot = bool(form.get("website"))  # the hidden field only robots fill in
    wording = _wording(form.get("wording_version"))
    if not bot and _address_allowed(request, email):

        def record() -> None:
            signup.request(st.db, st.settings, email=email, first_name=first_name,
                           topics=picked, wording_version=wording)  # fmt: skip

        background.add_task(record)
    return _message(request, st, "Almost done: check your inbox",
                    "We have sent you an email with a link. Open it to confirm your sign-up; "
                    "until then we send you nothing else.",
                    f"The words you agreed to: “{CONSENT_WORDS.format(brand=brand)}”",
                    framed=framed)  # fmt: skip


@router.get("/signup/confirm/{token}")
def signup_confirm_page(request: Request, token: str, st: AppState = Depends(state)) -> Response:
    # a GET confirms nothing: mail scanners open every link of a message
    try:
        signup.read_confirm_token(st.settings, token)
    except TokenError as e:
        return _confirm_bad(request, st, isinstance(e, TokenExpired))
    return _message(request, st, "Confirm your sign-up",
                    f"One click, and {centre.brand_name(st.settings)} may email you news "
                    "and offers.", confirm_action=f"/signup/confirm/{token}",
                    confirm_button="Confirm my sign-up")  # fmt: skip


def _confirm_bad(request: Request, st: AppState, expired: bool) -> Response:
    if expired:
        return _message(request, st, "This link has expired",
                        f"Confirmation links work for {st.settings.signup_confirm_hours} "
                        "hours. Sign up again to get a new one.", status=410,
                        link="/signup", link_text="Sign up again")  # fmt: skip
    return _message(request, st, "This link does not work",
                    "It may have been cut short or changed on the way. Open it again from "
                    "the email.", status=400)  # fmt: skip


@router.post("/signup/confirm/{token}")
async def signup_confirm(request: Request, token: str, st: AppState = Depends(state)) -> Response:
    try:
        signup_id, check = signup.read_confirm_token(st.settings, token)
    except TokenError as e:
        return _confirm_bad(request, st, isinstance(e, TokenExpired))

    def apply() -> signup.Confirmed:
        with Workspace.open(st.settings) as ws:
            return signup.confirm(ws, st.db, signup_id, check)

    try:
        done = await run_in_threadpool(apply)
    except TokenError:
        return _confirm_bad(request, st, False)
    link = "/preferences/" + tokens_for(st.settings).make_timed("preferences", [done.person])
    if done.already:
        return _message(request, st, "You had confirmed already",
                        "Nothing changed: you are signed up.",
                        link=link, link_text="Choose what you receive")  # fmt: skip
    return _message(request, st, "You are signed up",
                    f"Thank you. {centre.brand_name(st.settings)} may now email you. Every "
                    "email has a link to change what you receive, or to stop.",
                    link=link, link_text="Choose what you receive")  # fmt: skip
