"""Proving a social account is the person's own: the calls to Mastodon and Bluesky.

**Mastodon**, on the person's own instance (any server: the instance is user input):

1. register this app there once (``POST /api/v1/apps``; the client id and secret are
   kept per instance in the workspace, :class:`MastodonApps`),
2. send the person to ``/oauth/authorize`` (scope ``read:accounts``, PKCE, a ``state``
   the web side binds to the person's link and browser),
3. take the ``code`` back at ``/oauth/token``, ask ``/api/v1/accounts/verify_credentials``
   who signed in, and revoke the token at once (``/oauth/revoke``): nothing is kept but
   the verified ``user@instance``.

For an instance that does not let the app sign in, a code placed in a profile field or
the bio works too, read through ``/api/v1/accounts/lookup?acct=`` (no sign-in).

**Bluesky**: the handle is resolved to its DID (``com.atproto.identity.resolveHandle`` on
the AppView, else ``https://<handle>/.well-known/atproto-did``), then the profile
(``app.bsky.actor.getProfile``) must name the same DID and carry the code in its
description. A handle pointing at someone else's DID cannot pass.

Every request goes through :func:`socialcrm.outbound.urls.guarded_client`: an instance or
handle that resolves to a loopback, private or metadata address is refused, redirects are
not followed, and answers are read up to :data:`MAX_ANSWER_BYTES`. Nothing here logs a
token, a secret or a code.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import html
import json
import os
import re
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx

from socialcrm.config import Settings
from socialcrm.outbound.urls import OutboundURLError, guarded_client
from socialcrm.store import normalize

SCOPE = "read:accounts"
"""The narrowest scope every Mastodon version knows that lets the app ask who signed in
(``profile``, narrower still, exists from Mastodon 4.3 only)."""
CLIENT_NAME = "Preference centre"
MAX_ANSWER_BYTES = 1 << 20
DID = re.compile(r"^did:(plc:[a-z2-7]{24}|web:[a-z0-9.-]+(?::\d+)?)$")
_TAGS = re.compile(r"<[^>]+>")
_PROFILE_URL = re.compile(r"^https?://(?P<host>[A-Za-z0-9.-]+)/@(?P<user>[A-Za-z0-9_]+)/?$")


class ProofError(ValueError):
    """The account could not be proved; the message says why, in plain words."""


def https_base(host: str) -> str:
    return f"https://{host}"


@dataclass(frozen=True)
class Reach:
    """How the networks are reached: the client (guarded), an instance's or a handle's
    base URL from its host name, and the Bluesky AppView. Tests point these at a
    recorded server on loopback."""

    appview_url: str = "https://public.api.bsky.app"
    base_of: Callable[[str], str] = https_base
    client: Callable[[], httpx.Client] = guarded_client

    @classmethod
    def from_settings(cls, settings: Settings) -> Reach:
        return cls(appview_url=settings.bluesky_appview_url.rstrip("/"))


def _answer(reach: Reach, method: str, url: str, host: str, **kw: Any) -> httpx.Response:
    """One request, its body read up to the limit; refusals and failures in plain words."""
    try:
        with reach.client() as client, client.stream(method, url, **kw) as r:
            body = b""
            for chunk in r.iter_bytes():
                body += chunk
                if len(body) > MAX_ANSWER_BYTES:
                    raise ProofError(f"{host} answered with more than we read; try again later")
            return httpx.Response(r.status_code, headers=r.headers, content=body, request=r.request)
    except OutboundURLError as e:
        raise ProofError(f"we do not connect to {host}: {e}") from None
    except httpx.HTTPError:
        raise ProofError(f"we could not reach {host}; check the name and try again") from None


def _json(r: httpx.Response, host: str) -> dict[str, Any]:
    try:
        got = json.loads(r.content)
    except ValueError:
        got = None
    if not isinstance(got, dict):
        raise ProofError(f"{host} did not answer as expected")
    return got


# -- Mastodon --------------------------------------------------------------------------------
def mastodon_account(text: str) -> tuple[str, str]:
    """``(username, instance)`` of a Mastodon handle, as the warehouse spells it.

    >>> mastodon_account(" @Anna@Mastodon.Social ")
    ('anna', 'mastodon.social')
    >>> mastodon_account("https://mastodon.social/@anna")  # the profile's address
    ('anna', 'mastodon.social')
    """
    url = _PROFILE_URL.match(text.strip())
    if url:
        text = f"{url['user']}@{url['host']}"
    try:
        handle = normalize.handle("mastodon", text)
    except ValueError as e:
        raise ProofError(f"{e}; write it as name@server, e.g. anna@mastodon.social") from None
    if "@" not in handle:
        raise ProofError("add your server: name@server, e.g. anna@mastodon.social")
    user, _, instance = handle.partition("@")
    return user, instance


@dataclass(frozen=True)
class MastodonApp:
    """This app's registration on one instance."""

    instance: str
    client_id: str
    client_secret: str
    redirect_uri: str


class MastodonApps:
    """Registrations per instance, kept in a file of the workspace (0600), registered
    once per instance and redirect URI (Mastodon asks apps not to register per sign-in)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    @classmethod
    def of(cls, settings: Settings) -> MastodonApps:
        return cls(settings.home / "linking" / "mastodon_apps.json")

    def _load(self) -> dict[str, dict[str, str]]:
        try:
            got = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return {}
        return got if isinstance(got, dict) else {}

    def get(self, reach: Reach, instance: str, redirect_uri: str) -> MastodonApp:
        with self._lock:
            key = f"{instance} {redirect_uri}"
            known = self._load().get(key)
            if known:
                return MastodonApp(
                    instance, known["client_id"], known["client_secret"], redirect_uri
                )
            app = register_app(reach, instance, redirect_uri)
            apps = self._load()
            apps[key] = {
                "client_id": app.client_id,
                "client_secret": app.client_secret,
                "redirect_uri": redirect_uri,
            }
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_suffix(f".{os.getpid()}.tmp")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as f:
                json.dump(apps, f)
            os.replace(tmp, self.path)
            return app


def register_app(reach: Reach, instance: str, redirect_uri: str) -> MastodonApp:
    """``POST /api/v1/apps`` on ``instance``: a client id and secret for this app."""
    r = _answer(
        reach,
        "POST",
        f"{reach.base_of(instance)}/api/v1/apps",
        instance,
        data={"client_name": CLIENT_NAME, "redirect_uris": redirect_uri, "scopes": SCOPE},
    )
    if r.status_code == 404:
        raise ProofError(f"{instance} does not look like a Mastodon server")
    if r.status_code >= 400:
        raise ProofError(f"{instance} does not let us sign you in (it answered {r.status_code})")
    got = _json(r, instance)
    cid, secret = got.get("client_id"), got.get("client_secret")
    if not (isinstance(cid, str) and cid and isinstance(secret, str) and secret):
        raise ProofError(f"{instance} did not answer as expected")
    return MastodonApp(instance, cid, secret, redirect_uri)


def pkce_pair() -> tuple[str, str]:
    """``(verifier, challenge)`` of PKCE's S256 method (RFC 7636)."""
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def authorize_url(reach: Reach, app: MastodonApp, state: str, challenge: str) -> str:
    """Where the person signs in on their instance and allows the app to read who they are."""
    query = urlencode(
        {
            "response_type": "code",
            "client_id": app.client_id,
            "redirect_uri": app.redirect_uri,
            "scope": SCOPE,
            "state": state,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }
    )
    return f"{reach.base_of(app.instance)}/oauth/authorize?{query}"


def signed_in_account(reach: Reach, app: MastodonApp, code: str, verifier: str) -> str:
    """The ``user@instance`` who signed in: ``code`` exchanged for a token, the token's
    account asked for, the token revoked. Raises :class:`ProofError`."""
    base, host = reach.base_of(app.instance), app.instance
    r = _answer(
        reach,
        "POST",
        f"{base}/oauth/token",
        host,
        data={
            "grant_type": "authorization_code",
            "code": code,
            "client_id": app.client_id,
            "client_secret": app.client_secret,
            "redirect_uri": app.redirect_uri,
            "scope": SCOPE,
            "code_verifier": verifier,
        },
    )
    if r.status_code >= 400:
        raise ProofError(f"{host} did not accept the sign-in; please try again")
    token = _json(r, host).get("access_token")
    if not isinstance(token, str) or not token:
        raise ProofError(f"{host} did not answer as expected")
    try:
        r = _answer(
            reach,
            "GET",
            f"{base}/api/v1/accounts/verify_credentials",
            host,
            headers={"Authorization": f"Bearer {token}"},
        )
        if r.status_code >= 400:
            raise ProofError(f"{host} did not tell us who signed in; please try again")
        account = _json(r, host)
    finally:
        _revoke(reach, app, token)
    username = account.get("username")
    if not isinstance(username, str):
        raise ProofError(f"{host} did not answer as expected")
    try:
        return normalize.handle("mastodon", f"{username}@{host}")
    except ValueError:
        raise ProofError(f"{host} named an account we cannot read") from None


def _revoke(reach: Reach, app: MastodonApp, token: str) -> None:
    """``POST /oauth/revoke``: the token served once; a failure here changes nothing."""
    with contextlib.suppress(ProofError):
        _answer(
            reach,
            "POST",
            f"{reach.base_of(app.instance)}/oauth/revoke",
            app.instance,
            data={"client_id": app.client_id, "client_secret": app.client_secret, "token": token},
        )


def profile_text(account: dict[str, Any]) -> str:
    """The bio and the profile fields' names and values of a Mastodon account, as text.

    >>> profile_text({"note": "<p>Hi &amp; bye</p>", "fields": [{"name": "x", "value": "y"}]})
    'Hi & bye\\nx\\ny'
    """
    parts = [account.get("note")]
    for f in account.get("fields") or []:
        if isinstance(f, dict):
            parts += [f.get("name"), f.get("value")]
    return "\n".join(html.unescape(_TAGS.sub("", p)) for p in parts if isinstance(p, str))


def mastodon_has_code(reach: Reach, handle: str, code: str) -> None:
    """Pass when the account's bio or a profile field carries ``code``, else
    :class:`ProofError` (``/api/v1/accounts/lookup``, no sign-in needed)."""
    user, instance = mastodon_account(handle)
    r = _answer(
        reach,
        "GET",
        f"{reach.base_of(instance)}/api/v1/accounts/lookup",
        instance,
        params={"acct": user},
    )
    if r.status_code == 404:
        raise ProofError(f"{instance} knows no account {user}")
    if r.status_code >= 400:
        raise ProofError(f"{instance} did not show us the profile (it answered {r.status_code})")
    account = _json(r, instance)
    if str(account.get("username", "")).lower() != user:
        raise ProofError(f"{instance} showed us another account")
    if code not in profile_text(account):
        raise ProofError(
            f"we did not find the code {code} in the profile of {handle} yet: add it to your "
            "bio or a profile field, save, and check again"
        )


# -- Bluesky ---------------------------------------------------------------------------------
def bluesky_handle(text: str) -> str:
    """A Bluesky handle as the warehouse spells it.

    >>> bluesky_handle("@Anna.bsky.social")
    'anna.bsky.social'
    """
    try:
        return normalize.handle("bluesky", text)
    except ValueError as e:
        raise ProofError(f"{e}; write it as on your profile, e.g. anna.bsky.social") from None


def resolve_handle(reach: Reach, handle: str) -> str:
    """The DID ``handle`` points at: the AppView's ``resolveHandle``, else the handle's own
    ``/.well-known/atproto-did``."""
    appview = httpx.URL(reach.appview_url).host
    r = _answer(
        reach,
        "GET",
        f"{reach.appview_url}/xrpc/com.atproto.identity.resolveHandle",
        appview,
        params={"handle": handle},
    )
    if r.status_code == 200:
        did = _json(r, appview).get("did")
        if isinstance(did, str) and DID.match(did):
            return did
        raise ProofError(f"{appview} did not answer as expected")
    try:
        r = _answer(reach, "GET", f"{reach.base_of(handle)}/.well-known/atproto-did", handle)
    except ProofError:
        r = httpx.Response(404)
    did = r.content.decode("utf-8", "replace").strip() if r.status_code == 200 else ""
    if DID.match(did):
        return did
    raise ProofError(f"we could not find the Bluesky account {handle}; check the handle")


def bluesky_has_code(reach: Reach, handle: str, code: str) -> str:
    """The account's DID when its profile names the DID ``handle`` resolves to and its
    description carries ``code``; else :class:`ProofError`."""
    did = resolve_handle(reach, handle)
    appview = httpx.URL(reach.appview_url).host
    r = _answer(
        reach,
        "GET",
        f"{reach.appview_url}/xrpc/app.bsky.actor.getProfile",
        appview,
        params={"actor": handle},
    )
    if r.status_code >= 400:
        raise ProofError(f"we could not read the profile of {handle}; please try again")
    profile = _json(r, appview)
    if profile.get("did") != did:
        raise ProofError(f"the handle {handle} and its profile name different accounts")
    if str(profile.get("handle", "")).lower() != handle:
        raise ProofError(f"the profile of {handle} goes by another handle now")
    if code not in str(profile.get("description") or ""):
        raise ProofError(
            f"we did not find the code {code} in the description of {handle} yet: add it "
            "to your profile's description, save, and check again"
        )
    return did


__all__ = [
    "SCOPE",
    "MastodonApp",
    "MastodonApps",
    "ProofError",
    "Reach",
    "authorize_url",
    "bluesky_handle",
    "bluesky_has_code",
    "mastodon_account",
    "mastodon_has_code",
    "pkce_pair",
    "profile_text",
    "register_app",
    "resolve_handle",
    "signed_in_account",
]
