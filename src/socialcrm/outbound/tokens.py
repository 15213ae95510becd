"""Signed tokens in the links of an email: unsubscribe, click, open, and the
preference centre's.

A token is the link's facts (campaign, person, and for a click the target URL) signed
with HMAC-SHA256 under the workspace's secret (``Settings.web_secret_key``, else the
key the web app keeps in the workspace) and a purpose: an unsubscribe token is no click
token, and the reverse. Nothing in a link is looked up, so a link works as long as the
key is kept; unsubscribe tokens therefore never expire, well past the 60 days RFC 8058
asks senders to honour them. A click token carries its URL, so the redirect goes only
where the brand's email pointed (no open redirect): a changed URL breaks the signature.

The preference centre's tokens (:data:`TIMED_PURPOSES`) also carry the time they were
signed and are refused past their age (:class:`TokenExpired`): a link that opens
someone's preferences must not work for ever in a forwarded or leaked email. Each is
scoped to one person and one purpose (a preferences link is no sign-up confirmation,
and the reverse); the destructive actions behind them are also single-use (the web
side keeps the digests of used ones).

>>> t = Tokens("k" * 32)
>>> t.read("click", t.make("click", ["spring", "c1", "https://shop.example/a"]))
['spring', 'c1', 'https://shop.example/a']
>>> t.read("unsubscribe", t.make("click", ["spring", "c1", "https://x.example/"]))
Traceback (most recent call last):
...
socialcrm.outbound.tokens.TokenError: invalid or tampered link
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Literal

from itsdangerous import (
    BadSignature,
    SignatureExpired,
    TimestampSigner,
    URLSafeSerializer,
    URLSafeTimedSerializer,
)

from socialcrm.config import Settings

Purpose = Literal["unsubscribe", "click", "open"]
PURPOSES: tuple[Purpose, ...] = ("unsubscribe", "click", "open")
TimedPurpose = Literal["preferences", "signup", "preference_action", "form"]
TIMED_PURPOSES: tuple[TimedPurpose, ...] = ("preferences", "signup", "preference_action", "form")
"""``preferences``: a person's link to the centre (in every email); ``signup``: the
confirmation link of a sign-up (double opt-in); ``preference_action``: one destructive
action offered on a page (unsubscribe from everything), single-use; ``form``: the
per-form CSRF token of a public form that may be framed on the brand's site (where
the app's session cookie is not sent)."""


class TokenError(ValueError):
    """A token that is not one this workspace signed for this purpose."""


class TokenExpired(TokenError):
    """A token this workspace signed for this purpose, but too long ago."""


def workspace_secret(home: Path, configured: str | None) -> str:
    """The signing key: ``configured``, or one made once and kept in the workspace (0600).

    The web app's session cookies and the email links share it, so a link signed by the
    delivery worker is verified by the web app of the same workspace.
    """
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


class Tokens:
    """Makes and reads tokens under one secret; one serializer per purpose."""

    def __init__(self, secret: str) -> None:
        self._secret = secret.encode()
        self._by_purpose = {
            p: URLSafeSerializer(
                secret,
                salt=f"socialcrm.email.{p}",
                signer_kwargs={"digest_method": hashlib.sha256},
            )
            for p in PURPOSES
        }
        self._timed = {
            p: URLSafeTimedSerializer(
                secret,
                salt=f"socialcrm.preferences.{p}",
                signer_kwargs={"digest_method": hashlib.sha256},
            )
            for p in TIMED_PURPOSES
        }

    def digest(self, purpose: str, value: str) -> str:
        """A keyed hash of ``value`` (hex): stable for this workspace, unguessable
        elsewhere. Message-IDs are made with it, so a forged bounce cannot name one."""
        key = hashlib.sha256(f"socialcrm.email.{purpose}".encode() + self._secret).digest()
        return hmac.new(key, value.encode(), hashlib.sha256).hexdigest()

    def make(self, purpose: Purpose, payload: list[str | None]) -> str:
        return str(self._by_purpose[purpose].dumps(payload))

    def read(self, purpose: Purpose, token: str) -> list[str | None]:
        """The payload of ``token``, or :class:`TokenError` (tampered, wrong purpose, junk)."""
        try:
            got = self._by_purpose[purpose].loads(token)
        except (BadSignature, UnicodeError, ValueError):
            raise TokenError("invalid or tampered link") from None
        if not isinstance(got, list) or not all(x is None or isinstance(x, str) for x in got):
            raise TokenError("invalid or tampered link")
        return got

    def make_timed(
        self, purpose: TimedPurpose, payload: list[str | None], at: datetime | None = None
    ) -> str:
        """A token for ``purpose`` that carries the time it was signed (``at``, default
        now: a message built twice for the same time gets the same bytes)."""
        if at is None:
            return str(self._timed[purpose].dumps(payload))
        stamp = int(at.replace(tzinfo=at.tzinfo or UTC).timestamp())
        signer = type("_At", (TimestampSigner,), {"get_timestamp": lambda self: stamp})
        fixed = URLSafeTimedSerializer(
            self._secret.decode(),
            salt=f"socialcrm.preferences.{purpose}",
            signer=signer,
            signer_kwargs={"digest_method": hashlib.sha256},
        )
        return str(fixed.dumps(payload))

    def read_timed(
        self, purpose: TimedPurpose, token: str, max_age_seconds: int
    ) -> list[str | None]:
        """The payload of ``token`` signed at most ``max_age_seconds`` ago;
        :class:`TokenExpired` when older, :class:`TokenError` when not ours for ``purpose``.

        >>> t = Tokens("k" * 32)
        >>> t.read_timed("preferences", t.make_timed("preferences", ["p1"]), 60)
        ['p1']
        >>> t.read_timed("signup", t.make_timed("preferences", ["p1"]), 60)
        Traceback (most recent call last):
        ...
        socialcrm.outbound.tokens.TokenError: invalid or tampered link
        """
        try:
            got = self._timed[purpose].loads(token, max_age=max_age_seconds)
        except SignatureExpired:
            raise TokenExpired("this link has expired") from None
        except (BadSignature, UnicodeError, ValueError):
            raise TokenError("invalid or tampered link") from None
        if not isinstance(got, list) or not all(x is None or isinstance(x, str) for x in got):
            raise TokenError("invalid or tampered link")
        return got


@lru_cache(maxsize=8)
def _tokens(home: str, configured: str | None) -> Tokens:
    return Tokens(workspace_secret(Path(home), configured))


def tokens_for(settings: Settings) -> Tokens:
    """The tokens of ``settings``' workspace (the key is read once per process)."""
    # abspath, not resolve(): no file system calls on the path of every message
    return _tokens(os.path.abspath(settings.home), settings.web_secret_key)


def public_base(settings: Settings) -> str:
    """``SOCIALCRM_PUBLIC_URL`` without its trailing slash; links need it."""
    if not settings.public_url:
        raise TokenError("set SOCIALCRM_PUBLIC_URL: the base of unsubscribe and click links")
    return settings.public_url.rstrip("/")


def unsubscribe_url(settings: Settings, campaign_id: str, customer_id: str) -> str:
    """The one-click unsubscribe link of one person in one campaign (never expires)."""
    token = tokens_for(settings).make("unsubscribe", [campaign_id, customer_id])
    return f"{public_base(settings)}/email/unsubscribe/{token}"


def click_url(settings: Settings, campaign_id: str, customer_id: str, url: str) -> str:
    """A tracked link to ``url``: the app records the click, then redirects there."""
    token = tokens_for(settings).make("click", [campaign_id, customer_id, url])
    return f"{public_base(settings)}/email/click/{token}"


def open_url(settings: Settings, campaign_id: str, customer_id: str) -> str:
    """The open pixel's address (a 1×1 GIF)."""
    token = tokens_for(settings).make("open", [campaign_id, customer_id])
    return f"{public_base(settings)}/email/open/{token}.gif"


def preferences_url(settings: Settings, customer_id: str, at: datetime | None = None) -> str:
    """The person's own link to the preference centre (expires
    ``SOCIALCRM_PREFERENCE_LINK_DAYS`` after ``at``; every email carries a fresh one)."""
    token = tokens_for(settings).make_timed("preferences", [customer_id], at)
    return f"{public_base(settings)}/preferences/{token}"


__all__ = [
    "PURPOSES",
    "TIMED_PURPOSES",
    "TimedPurpose",
    "TokenError",
    "TokenExpired",
    "Tokens",
    "click_url",
    "open_url",
    "preferences_url",
    "public_base",
    "tokens_for",
    "unsubscribe_url",
    "workspace_secret",
]
