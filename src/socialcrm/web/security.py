"""Sign-in, sessions, CSRF, rate limiting, client addresses and masking for the web app.

Sessions are Starlette's signed cookie (HttpOnly, SameSite=Lax) holding only the user
id and a CSRF secret; the user's role and status are read again on every request, so a
disabled or demoted user loses access at once. The API also takes bearer tokens.

One rule for every write (POST, PUT, PATCH, DELETE), pages and API alike
(:func:`csrf_guard`, installed once for the whole app): the request carries a bearer
token, or the session's CSRF token (``X-CSRF-Token`` header, or the ``csrf_token``
form field). A cookie alone never writes, so another site cannot ride a session.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import re
import secrets
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from fastapi import HTTPException, Request
from sqlalchemy import bindparam, select

from socialcrm.appdb.accounts import Principal, token_principal
from socialcrm.appdb.db import AppDB
from socialcrm.appdb.models import User
from socialcrm.outbound.tokens import workspace_secret

# default-src 'self' and no 'unsafe-inline' anywhere: an injected <script> or
# style="…" attribute does nothing even if escaping ever failed.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'; form-action 'self'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), interest-cohort=()",
}


def secret_key(home: Path, configured: str | None) -> str:
    """The session signing key: configured, or made once and kept in the workspace (0600).

    The same key signs the links in emails (:mod:`socialcrm.outbound.tokens`)."""
    return workspace_secret(home, configured)


class LoginLimiter:
    """At most ``attempts`` failed sign-ins per client address and per email in ``window``.

    In memory, per process: enough to make online guessing slow; a cluster behind a
    load balancer should add a limit at the proxy too.
    """

    def __init__(
        self, attempts: int, window: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.attempts, self.window, self.clock = attempts, window, clock
        self._failures: dict[str, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def _recent(self, key: str) -> deque[float]:
        q = self._failures[key]
        while q and self.clock() - q[0] > self.window:
            q.popleft()
        return q

    def retry_after(self, *keys: str) -> float:
        """Seconds until another attempt is allowed for all ``keys`` (0: allowed now)."""
        with self._lock:
            wait = 0.0
            for key in keys:
                q = self._recent(key)
                if len(q) >= self.attempts:
                    wait = max(wait, self.window - (self.clock() - q[0]))
            return wait

    def failed(self, *keys: str) -> None:
        with self._lock:
            for key in keys:
                self._recent(key).append(self.clock())

    def succeeded(self, *keys: str) -> None:
        with self._lock:
            for key in keys:
                self._failures.pop(key, None)


def csrf_token(request: Request) -> str:
    token = request.session.get("csrf")
    if not token:
        token = request.session["csrf"] = secrets.token_urlsafe(32)
    return token


SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
CSRF_HEADER = "X-CSRF-Token"


def bearer_secret(request: Request) -> str | None:
    """The token of an ``Authorization: Bearer …`` header, if one is sent."""
    header = request.headers.get("authorization", "")
    return header[7:].strip() if header.lower().startswith("bearer ") else None


CSRF_EXEMPT = frozenset(
    {
        ("POST", "/email/unsubscribe/{token}"),
        ("POST", "/signup"),
        ("POST", "/preferences/new-link"),
    }
)
"""The writes that carry no session and need none (method, route path): the one-click
unsubscribe of RFC 8058, which a mail client POSTs with no cookie (its signed token is
the credential, see :mod:`socialcrm.web.email_links`); the public sign-up and "send me
my link" forms, framed on the brand's site where this app's cookie is not sent: they
carry a signed per-form token instead (see :mod:`socialcrm.web.preference_centre`)."""


async def csrf_guard(request: Request) -> None:
    """The one rule for writes: a bearer token, or the session's CSRF token.

    Installed as a dependency of the whole app, so every route has it, present and
    future. Reads pass, and the few writes in :data:`CSRF_EXEMPT`. A write with a bearer
    token passes here (the token is checked by the route, and a cookie is then never
    looked at). Any other write must send the session's CSRF token: the ``X-CSRF-Token``
    header (JSON APIs) or the ``csrf_token`` form field (HTML forms), else 403. An API
    write with neither a token nor a signed-in session is 401, as any other API call
    without credentials.
    """
    if request.method in SAFE_METHODS or bearer_secret(request) is not None:
        return
    route = request.scope.get("route")
    if (request.method, getattr(route, "path", None)) in CSRF_EXEMPT:
        return
    expected = request.session.get("csrf")
    sent: object = request.headers.get(CSRF_HEADER)
    if sent is None and request.headers.get("content-type", "").lower().startswith(FORM_TYPES):
        sent = (await request.form()).get("csrf_token")
    if isinstance(sent, str) and expected and hmac.compare_digest(sent, expected):
        return
    if request.url.path.startswith("/api/") and request.session.get("uid") is None:
        raise HTTPException(
            401,
            "sign in or send 'Authorization: Bearer <token>'",
            headers={"WWW-Authenticate": "Bearer"},
        )
    raise HTTPException(
        403,
        "missing or invalid CSRF token; reload the page and try again (API calls: send "
        f"'Authorization: Bearer <token>', or the session's token in the {CSRF_HEADER} header)",
    )


# -- client addresses behind proxies ------------------------------------------------------
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(values: Iterable[str]) -> tuple[Network, ...]:
    """IPs and CIDRs (``10.0.0.1``, ``10.0.0.0/8``, ``::1``) as networks; ValueError if bad."""
    return tuple(ipaddress.ip_network(v.strip(), strict=False) for v in values if v.strip())


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        ip = ipaddress.ip_address(text.strip().strip("[]"))
    except ValueError:
        return None
    # an IPv4 peer on a dual-stack socket reads ::ffff:a.b.c.d
    mapped = getattr(ip, "ipv4_mapped", None)
    return mapped or ip


def _trusted(text: str, proxies: tuple[Network, ...]) -> bool:
    ip = _ip(text)
    return ip is not None and any(ip in net for net in proxies)


def client_address(request: Request, proxies: tuple[Network, ...]) -> str:
    """The address a request comes from, for rate limits.

    ``X-Forwarded-For`` is believed only when the peer is one of ``proxies``
    (``SOCIALCRM_TRUSTED_PROXIES``; none by default): anyone can write the header, so
    from anyone else it would let a client pick its own address. Behind trusted proxies
    the client is the right-most address that is not a trusted proxy (each proxy
    appends the address it saw; entries to its left are the client's own claims).
    """
    peer = request.client.host if request.client else "?"
    if not proxies or not _trusted(peer, proxies):
        return peer
    hops = [
        h.strip()
        for value in request.headers.getlist("x-forwarded-for")
        for h in value.split(",")
        if h.strip()
    ]
    for hop in reversed(hops):
        if not _trusted(hop, proxies):
            ip = _ip(hop)
            return str(ip) if ip is not None else hop[:100]
    return hops[0][:100] if hops else peer


class TokenCache:
    """Who each bearer token speaks for, remembered for ``ttl`` seconds.

    Saves a database round trip on every API call; the price is that a revoked token
    keeps working for up to ``ttl`` seconds in a server that saw it just before.
    """

    def __init__(self, ttl: float, max_entries: int = 10_000) -> None:
        self.ttl, self.max_entries = ttl, max_entries
        self._entries: dict[str, tuple[Principal | None, float]] = {}

    def get(self, secret: str, load: Callable[[], Principal | None]) -> Principal | None:
        if self.ttl <= 0:
            return load()
        key = hashlib.sha256(secret.encode()).hexdigest()
        now = time.monotonic()
        hit = self._entries.get(key)
        if hit is not None and hit[1] > now:
            return hit[0]
        found = load()
        if len(self._entries) >= self.max_entries:
            self._entries.clear()
        self._entries[key] = (found, now + self.ttl)
        return found


def principal_of(request: Request, db: AppDB, tokens: TokenCache) -> Principal | None:
    """The caller: a bearer token if one is sent, else the session's user, else None."""
    secret = bearer_secret(request)
    if secret is not None:

        def load() -> Principal | None:
            with db.session() as s:
                return token_principal(s, secret)

        return tokens.get(secret, load)
    uid = request.session.get("uid")
    if uid is None:
        return None
    # Checked on every page, so a disabled user is out at once: one prebuilt statement on
    # a bare connection (an ORM session and a fresh statement cost five times as much).
    with db.engine.connect() as con:
        user = con.execute(_SESSION_USER, {"uid": uid}).first()
    if user is None or not user.active:
        request.session.clear()
        return None
    return Principal(user.id, user.email, user.role)


_SESSION_USER = select(User.id, User.email, User.role, User.active).where(
    User.id == bindparam("uid")
)


_EMAIL = re.compile(r"^(.)[^@]*(@.).*(\.[^.]+)$")


def mask_email(value: str | None) -> str | None:
    """``j•••@o•••.de``: enough to tell two addresses apart, not to write to them."""
    if not value:
        return value
    m = _EMAIL.match(value)
    return f"{m.group(1)}•••{m.group(2)}•••{m.group(3)}" if m else "•••"


def mask_phone(value: str | None) -> str | None:
    if not value:
        return value
    return "•" * max(len(value) - 2, 0) + value[-2:]


def mask_handle(handle: str | None) -> str | None:
    """``a•••``: enough to tell threads apart, not to find the person."""
    if handle is None:
        return None
    return (handle.lstrip("@")[:1] + "•••") if handle.lstrip("@") else "•••"


# "@name" or "@name@instance" not inside a word or an email address
_AT_HANDLE = re.compile(r"(?<![\w.+\-•@])@(\w[\w.\-]*(?:@[\w\-]+(?:\.[\w\-]+)+)?)(•*)")
_EMAIL_IN_TEXT = re.compile(r"[\w.+\-]+@[\w\-]+(?:\.[\w\-]+)+")


def mask_handles_in(text: str | None) -> str | None:
    """Free text with its ``@handles`` and email addresses masked."""
    if not text or "@" not in text:
        return text
    # masking twice changes nothing: "@a•••" is left as it is
    text = _AT_HANDLE.sub(
        lambda m: m.group(0) if m.group(2) else "@" + (mask_handle(m.group(1)) or ""), text
    )
    return _EMAIL_IN_TEXT.sub(lambda m: mask_email(m.group(0)) or "", text)


def mask_person(value: str | None) -> str | None:
    """A staff member (an email) masked; system actors ("sync", "cli") kept."""
    if not value or "@" not in value:
        return value
    return mask_email(value) if _EMAIL_IN_TEXT.fullmatch(value) else mask_handles_in(value)


CONTACT_KINDS = {"email": mask_email, "phone": mask_phone}
# What a viewer sees of each kind of field: contacts, social handles, staff emails, and
# handles or emails written into free text.
MASKED_KEYS: dict[str, Callable[[str | None], str | None]] = {
    "email": mask_email,
    "phone": mask_phone,
    "author_handle": mask_handle,
    "handle": mask_handle,
    "voter": mask_handle,
    "actor": mask_person,
    "author": mask_person,
    "assignee": mask_person,
    "created_by": mask_person,
    "recipient": mask_person,
    **dict.fromkeys(
        ("text", "last_message", "subject", "title", "body", "message", "top_amplifiers",
         "recommendation", "reason", "public_reason"),
        mask_handles_in,
    ),
}  # fmt: skip


def mask_row(row: dict[str, Any], principal: Principal) -> dict[str, Any]:
    """Contacts, handles and staff emails masked for viewers (least privilege); others
    see them as stored. Identity rows (``kind``, ``value``) are masked by their kind:
    emails and phones as contacts, social handles and other identifiers as handles."""
    if principal.can("agent"):
        return row
    row = dict(row)
    for key, fn in MASKED_KEYS.items():
        value = row.get(key)
        if isinstance(value, str):
            row[key] = fn(value)
    kind = row.get("kind")
    if isinstance(kind, str) and ("value" in row or "raw_value" in row):
        fn = CONTACT_KINDS.get(kind, mask_handle)
        for key in ("value", "raw_value"):
            if isinstance(row.get(key), str):
                row[key] = fn(row[key])
    return row


def masked(data: Any, principal: Principal | None) -> Any:
    """``data`` with :func:`mask_row` applied to every dict in it, however deep (a 360's
    identities, posts and community; an idea's contributors and history). Unchanged for
    agents and above; other objects are left as they are."""
    if principal is None or principal.can("agent"):
        return data
    return _mask_tree(data, principal)


def _mask_tree(data: Any, p: Principal) -> Any:
    if isinstance(data, dict):
        return {k: _mask_tree(v, p) for k, v in mask_row(data, p).items()}
    if isinstance(data, list | tuple):
        return [_mask_tree(v, p) for v in data]
    return data
