"""Sign-in, sessions, CSRF, rate limiting, role checks and masking for the web app.

Sessions are Starlette's signed cookie (HttpOnly, SameSite=Lax) holding only the user
id and a CSRF secret; the user's role and status are read again on every request, so a
disabled or demoted user loses access at once. The API also takes bearer tokens.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi import HTTPException, Request

from socialcrm.appdb.accounts import Principal, token_principal
from socialcrm.appdb.db import AppDB
from socialcrm.appdb.models import User

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
    """The session signing key: configured, or made once and kept in the workspace (0600)."""
    if configured:
        return configured
    path = home / ".web-secret"
    home.mkdir(parents=True, exist_ok=True)
    try:  # O_EXCL: two workers starting together agree on the first key written
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as f:
        f.write(secrets.token_urlsafe(48))
    return path.read_text().strip()


class LoginLimiter:
    """At most ``attempts`` failed sign-ins per client address and per email in ``window``.

    In memory, per process: enough to make online guessing slow; a cluster behind a
    load balancer should add a limit at the proxy too.
    """

    def __init__(self, attempts: int, window: float, clock: Callable[[], float] = time.monotonic):
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


async def check_csrf(request: Request) -> None:
    """Refuse a form POST whose token does not match the session's (403)."""
    form = await request.form()
    sent = form.get("csrf_token")
    expected = request.session.get("csrf")
    if not (isinstance(sent, str) and expected and hmac.compare_digest(sent, expected)):
        raise HTTPException(403, "missing or invalid CSRF token; reload the page and try again")


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
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        secret = header[7:].strip()

        def load() -> Principal | None:
            with db.session() as s:
                return token_principal(s, secret)

        return tokens.get(secret, load)
    uid = request.session.get("uid")
    if uid is None:
        return None
    with db.session() as s:
        user = s.get(User, uid)
        if user is None or not user.active:
            request.session.clear()
            return None
        return Principal(user.id, user.email, user.role)


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


CONTACT_KINDS = {"email": mask_email, "phone": mask_phone}


def mask_row(row: dict[str, Any], principal: Principal) -> dict[str, Any]:
    """Contacts masked for viewers (least privilege); others see them as stored."""
    if principal.can("agent"):
        return row
    row = dict(row)
    for key, fn in CONTACT_KINDS.items():
        if key in row:
            row[key] = fn(row[key])
    if row.get("kind") in CONTACT_KINDS:
        for key in ("value", "raw_value"):
            if key in row:
                row[key] = CONTACT_KINDS[row["kind"]](row[key])
    return row
