"""The preference centre's page for linking social accounts: ``/preferences/{token}/link``.

A public page, like the rest of the centre: the signed, expiring ``preferences`` token
in the path (:mod:`socialcrm.outbound.tokens`) is the visitor's only credential and names
the person. Forms carry the session's CSRF token like every other write of the app (a
visitor without an account still has a session cookie holding it).

- ``GET /preferences/{token}/link``: the person's social accounts, the codes waiting to
  be found, and the forms to link Mastodon and Bluesky accounts.
- ``POST …/link/mastodon``: sign in on the person's own instance (the app registers
  there once, then a page with a link to the instance's sign-in: a form may only post to
  this site under the CSP, so the person follows a link), or a code for their profile.
- ``GET /preferences/link/mastodon/callback``: where the instance sends the person back.
  Mastodon needs one fixed redirect address per app, so it cannot carry the token; the
  ``state`` is signed and expires, and must match the nonce this browser's session got
  when it set out (another browser, a replayed or changed ``state``: refused).
- ``POST …/link/bluesky``: the handle's DID is looked up, and a code to put in the
  profile's description is shown.
- ``POST …/link/check``: look for a code now; ``POST …/link/unlink``: forget an account.

Every outbound call goes through the guarded client (:mod:`socialcrm.preferences.proofs`),
and a person or address gets at most :data:`ATTEMPTS` of them per :data:`WINDOW_SECONDS`.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import RedirectResponse, Response
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from socialcrm.config import Settings
from socialcrm.outbound.tokens import TokenError, TokenExpired, tokens_for, workspace_secret
from socialcrm.preferences import centre, linking, proofs
from socialcrm.preferences.proofs import MastodonApps, ProofError, Reach
from socialcrm.store.workspace import Workspace
from socialcrm.web.deps import AppState, state
from socialcrm.web.pages import TEMPLATES
from socialcrm.web.security import LoginLimiter, client_address, csrf_token

router = APIRouter(include_in_schema=False)

CALLBACK = "/preferences/link/mastodon/callback"
STATE_SECONDS = 15 * 60
"""How long a Mastodon sign-in may take, from this site back to this site."""
ATTEMPTS, WINDOW_SECONDS = 20, 600
SESSION_KEY = "mastodon_link"
FLASH_KEY = "link_flash"
NAMES = {"mastodon": "Mastodon", "bluesky": "Bluesky"}


class BadLink(Exception):
    """The token does not verify (or has expired): a short page, nothing else."""

    def __init__(self, expired: bool) -> None:
        self.expired = expired


def person_of(settings: Settings, token: str) -> str:
    """The person a ``preferences`` token names, or :class:`BadLink`."""
    max_age = settings.preference_link_days * 86400
    try:
        got = tokens_for(settings).read_timed("preferences", token, max_age)
    except TokenExpired:
        raise BadLink(expired=True) from None
    except TokenError:
        raise BadLink(expired=False) from None
    if len(got) != 1 or not got[0]:
        raise BadLink(expired=False)
    return got[0]


def reach_of(request: Request, settings: Settings) -> Reach:
    """How the networks are reached (tests put a recorded server in ``app.state``)."""
    reach: Reach | None = getattr(request.app.state, "linking_reach", None)
    return reach or Reach.from_settings(settings)


def _apps(request: Request, settings: Settings) -> MastodonApps:
    apps: MastodonApps | None = getattr(request.app.state, "mastodon_apps", None)
    if apps is None:
        apps = request.app.state.mastodon_apps = MastodonApps.of(settings)
    return apps


def _limited(request: Request, st: AppState, person: str) -> bool:
    """Whether this person or address has used up its outbound calls for now (else one
    is counted): each call reaches a server the visitor chose."""
    limiter: LoginLimiter | None = getattr(request.app.state, "linking_limiter", None)
    if limiter is None:
        limiter = request.app.state.linking_limiter = LoginLimiter(ATTEMPTS, WINDOW_SECONDS)
    keys = (f"link-person:{person}", f"link-ip:{client_address(request, st.proxies)}")
    if limiter.retry_after(*keys) > 0:
        return True
    limiter.failed(*keys)
    return False


def _states(settings: Settings) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(
        workspace_secret(settings.home, settings.web_secret_key), salt="socialcrm.link.mastodon"
    )


@contextmanager
def _workspace(settings: Settings) -> Iterator[Workspace]:
    """The warehouse on in-process DuckDB: a request never starts Spark."""
    with Workspace.open(settings.model_copy(update={"engine": "duckdb"})) as ws:
        yield ws


def _page(request: Request, token: str, person: str, st: AppState, **ctx: Any) -> Response:
    with st.db.session() as s, _workspace(st.settings) as ws:
        held = linking.accounts(s, ws, person)
    return _render(
        request,
        st,
        "preference_linking.html",
        200,
        title="Your social accounts",
        token=token,
        accounts=held,
        names=NAMES,
        flash=request.session.pop(FLASH_KEY, None),
        wording=linking.WORDING,
        code_days=linking.CODE_DAYS,
        **ctx,
    )


def _render(request: Request, st: AppState, name: str, status: int, **ctx: Any) -> Response:
    """A page on the public base (the centre's look, no staff chrome)."""
    return TEMPLATES.TemplateResponse(
        request,
        name,
        {
            "brand": centre.brand_name(st.settings),
            "wording_version": linking.WORDING_VERSION,
            "csrf": csrf_token(request),
            "framed": False,
            **ctx,
        },
        status_code=status,
    )


def _message(request: Request, st: AppState, title: str, line: str, status: int) -> Response:
    return _render(
        request,
        st,
        "public/message.html",
        status,
        title=title,
        lines=(line,),
        link="/preferences/new-link",
        link_text="Get a new link",
    )


def _bad(request: Request, st: AppState, expired: bool) -> Response:
    if expired:
        return _message(
            request,
            st,
            "This link has expired",
            "For your safety, links to your preferences work for "
            f"{st.settings.preference_link_days} days.",
            410,
        )
    return _message(
        request,
        st,
        "This link does not work",
        "It may have been cut short or changed on the way. Open it again from the "
        "email, or ask for a new one.",
        400,
    )


def _back(request: Request, token: str, kind: str, text: str) -> Response:
    """303 to the person's page, which shows ``text`` once."""
    request.session[FLASH_KEY] = {"kind": kind, "text": text}
    return RedirectResponse(f"/preferences/{token}/link", status_code=303)


def _busy(request: Request, token: str) -> Response:
    return _back(
        request,
        token,
        "error",
        "You have tried many times in a short while; wait ten minutes, then try again.",
    )


@router.get("/preferences/{token}/link")
def link_page(request: Request, token: str, st: AppState = Depends(state)) -> Response:
    try:
        person = person_of(st.settings, token)
    except BadLink as e:
        return _bad(request, st, e.expired)
    return _page(request, token, person, st)


@router.post("/preferences/{token}/link/mastodon")
def link_mastodon(
    request: Request,
    token: str,
    handle: str = Form("", max_length=320),
    proof: str = Form("signin"),
    st: AppState = Depends(state),
) -> Response:
    try:
        person = person_of(st.settings, token)
    except BadLink as e:
        return _bad(request, st, e.expired)
    try:
        user, instance = proofs.mastodon_account(handle)
        if proof == "code":
            with st.db.session() as s:
                linking.ask_code(s, person, "mastodon", f"{user}@{instance}")
            return _back(request, token, "notice", f"Your code for {user}@{instance} is below.")
        if _limited(request, st, person):
            return _busy(request, token)
        reach = reach_of(request, st.settings)
        app = _apps(request, st.settings).get(reach, instance, _redirect_uri(request, st))
    except ProofError as e:
        return _back(request, token, "error", str(e))
    nonce = secrets.token_urlsafe(24)
    verifier, challenge = proofs.pkce_pair()
    request.session[SESSION_KEY] = {"nonce": nonce, "token": token, "verifier": verifier}
    signed = _states(st.settings).dumps([person, instance, nonce])
    return _page(
        request,
        token,
        person,
        st,
        continue_url=proofs.authorize_url(reach, app, signed, challenge),
        continue_to=instance,
    )


def _redirect_uri(request: Request, st: AppState) -> str:
    base = st.settings.public_url or str(request.base_url)
    return base.rstrip("/") + CALLBACK


@router.get(CALLBACK)
def mastodon_callback(
    request: Request,
    oauth_state: str = Query("", alias="state", max_length=2000),
    code: str = Query("", max_length=2000),
    error: str = Query("", max_length=200),
    st: AppState = Depends(state),
) -> Response:
    pending = request.session.pop(SESSION_KEY, None)
    try:
        person, instance, nonce = _states(st.settings).loads(oauth_state, max_age=STATE_SECONDS)
    except SignatureExpired:
        return _refused(request, st, "This sign-in took too long. Start again from your page.")
    except (BadSignature, ValueError, TypeError):
        return _refused(request, st, "This sign-in was changed on the way; nothing was linked.")
    if not isinstance(pending, dict) or not secrets.compare_digest(
        str(pending.get("nonce", "")), str(nonce)
    ):
        return _refused(
            request,
            st,
            "This sign-in was started in another browser or has already been used; nothing "
            "was linked. Start again from your page.",
        )
    token = str(pending["token"])
    try:
        if person_of(st.settings, token) != person:
            raise BadLink(expired=False)
    except BadLink as e:
        return _bad(request, st, e.expired)
    if error or not code:
        return _back(request, token, "error", "The sign-in was not allowed; nothing was linked.")
    reach = reach_of(request, st.settings)
    try:
        app = _apps(request, st.settings).get(reach, instance, _redirect_uri(request, st))
        handle = proofs.signed_in_account(reach, app, code, str(pending["verifier"]))
        with _workspace(st.settings) as ws:
            linking.link(st.db, ws, person, "mastodon", handle, "mastodon_oauth")
    except ProofError as e:
        return _back(request, token, "error", str(e))
    return _back(request, token, "notice", f"Done: {handle} is linked to you.")


def _refused(request: Request, st: AppState, text: str) -> Response:
    return _render(
        request, st, "public/message.html", 400, title="Nothing was linked", lines=(text,)
    )


@router.post("/preferences/{token}/link/bluesky")
def link_bluesky(
    request: Request,
    token: str,
    handle: str = Form("", max_length=320),
    st: AppState = Depends(state),
) -> Response:
    try:
        person = person_of(st.settings, token)
    except BadLink as e:
        return _bad(request, st, e.expired)
    try:
        name = proofs.bluesky_handle(handle)
        if _limited(request, st, person):
            return _busy(request, token)
        proofs.resolve_handle(reach_of(request, st.settings), name)
        with st.db.session() as s:
            linking.ask_code(s, person, "bluesky", name)
    except ProofError as e:
        return _back(request, token, "error", str(e))
    return _back(request, token, "notice", f"Your code for {name} is below.")


@router.post("/preferences/{token}/link/check")
def check_code(
    request: Request, token: str, link_id: int = Form(...), st: AppState = Depends(state)
) -> Response:
    try:
        person = person_of(st.settings, token)
    except BadLink as e:
        return _bad(request, st, e.expired)
    if _limited(request, st, person):
        return _busy(request, token)
    reach = reach_of(request, st.settings)
    try:
        with st.db.session() as s:
            row = linking.pending(s, person, link_id)
            platform, handle, code = row.platform, row.handle, str(row.code)
        if platform == "mastodon":
            proofs.mastodon_has_code(reach, handle, code)
        else:
            proofs.bluesky_has_code(reach, handle, code)
        with _workspace(st.settings) as ws:
            linking.link(st.db, ws, person, platform, handle, "profile_code")
    except ProofError as e:
        return _back(request, token, "error", str(e))
    return _back(
        request,
        token,
        "notice",
        f"Done: {handle} is linked to you. You can take the code out of your profile now.",
    )


@router.post("/preferences/{token}/link/unlink")
def unlink(
    request: Request,
    token: str,
    platform: str = Form(..., max_length=32),
    handle: str = Form(..., max_length=320),
    st: AppState = Depends(state),
) -> Response:
    try:
        person = person_of(st.settings, token)
    except BadLink as e:
        return _bad(request, st, e.expired)
    try:
        with _workspace(st.settings) as ws:
            withdrawn = linking.unlink(st.db, ws, person, platform, handle)
    except ProofError as e:
        return _back(request, token, "error", str(e))
    more = (
        " No social account is linked to you now, and your consent to linking is withdrawn."
        if withdrawn
        else ""
    )
    return _back(request, token, "notice", f"{handle} is no longer linked to you.{more}")


__all__ = ["CALLBACK", "person_of", "reach_of", "router"]
