"""Public replies and private messages on social networks: the sending half of the
inbox's connectors, and a campaign's private-message channels (``mastodon_dm``,
``bluesky_dm``).

Each network's sender owns the HTTP client and the authentication (Mastodon's bearer
token, Bluesky's session), and posts replies idempotently. The inbox's connectors
(:mod:`socialcrm.responding.connectors`) extend these classes with reading mentions, so
one client and one login serve both directions. Every sender takes an
``httpx.BaseTransport``, so tests replay recorded responses from a loopback server and
production uses the default transport. Tokens come from settings as secrets: they go into
the Authorization header and nowhere else.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol, Self

import httpx

from socialcrm.config import Settings
from socialcrm.outbound.channel import ChannelError, Sender


class ConnectorError(ChannelError):
    """A failed call to a social network (either direction); ``retryable`` says whether
    trying again later may succeed."""


class SocialSender(Sender, Protocol):
    """A sender built from settings (see :func:`from_settings`)."""

    @classmethod
    def from_settings(cls, settings: Settings, transport: httpx.BaseTransport | None) -> Self:
        """The sender configured by ``settings``, with its secrets."""
        ...


# -- files ------------------------------------------------------------------------------
class JsonlSender:
    """Replies appended to a JSON-lines file, once per key: the offline default, and how
    other tools take the replies over."""

    name = platform = "jsonl"
    account: str | None = "brand"

    def __init__(self, replies: Path) -> None:
        self.replies = replies

    @classmethod
    def from_settings(cls, settings: Settings, transport: httpx.BaseTransport | None) -> Self:
        return cls(settings.home / "inbox" / "replies.jsonl")

    def post_reply(self, in_reply_to: str | None, body: str, idempotency_key: str) -> str:
        external = f"reply-{idempotency_key}"
        if self.replies.exists():
            for line in self.replies.read_text(encoding="utf-8").splitlines():
                if line and json.loads(line).get("key") == idempotency_key:
                    return external
        self.replies.parent.mkdir(parents=True, exist_ok=True)
        with self.replies.open("a", encoding="utf-8") as f:
            row = {"key": idempotency_key, "post_id": external, "in_reply_to": in_reply_to,
                   "text": body, "created_at": datetime.now(UTC).isoformat()}  # fmt: skip
            f.write(json.dumps(row) + "\n")
        return external


# -- Mastodon ---------------------------------------------------------------------------
class MastodonSender:
    """Mastodon's REST API: replies are statuses (``POST /api/v1/statuses``) carrying
    the outbox's key as ``Idempotency-Key``."""

    name = platform = "mastodon"

    def __init__(
        self, base_url: str, token: str, transport: httpx.BaseTransport | None = None,
        account: str | None = None,
    ) -> None:  # fmt: skip
        self.account = account
        self._client = httpx.Client(
            base_url=base_url.rstrip("/"),
            headers={"Authorization": f"Bearer {token}"},
            transport=transport,
            timeout=20.0,
        )

    @classmethod
    def from_settings(cls, settings: Settings, transport: httpx.BaseTransport | None) -> Self:
        if not settings.mastodon_url or settings.mastodon_token is None:
            raise ConnectorError("set SOCIALCRM_MASTODON_URL and SOCIALCRM_MASTODON_TOKEN", False)
        return cls(settings.mastodon_url, settings.mastodon_token.get_secret_value(),
                   transport, account=settings.inbox_brand_handle)  # fmt: skip

    def post_reply(self, in_reply_to: str | None, body: str, idempotency_key: str) -> str:
        payload: dict[str, Any] = {"status": body, "visibility": "public"}
        if in_reply_to:
            payload["in_reply_to_id"] = in_reply_to
        try:
            r = self._client.post(
                "/api/v1/statuses", json=payload, headers={"Idempotency-Key": idempotency_key}
            )
        except httpx.HTTPError as e:
            raise ConnectorError(f"mastodon: {type(e).__name__}") from e
        raise_for_status(r, "mastodon")
        return str(r.json()["id"])

    def close(self) -> None:
        self._client.close()


# -- Bluesky ----------------------------------------------------------------------------
class BlueskySender:
    """The AT Protocol: a reply is ``com.atproto.repo.createRecord`` (an
    ``app.bsky.feed.post`` with a reply ref), its record key derived from the outbox's key."""

    name = platform = "bluesky"

    def __init__(
        self, base_url: str, handle: str, app_password: str,
        transport: httpx.BaseTransport | None = None,
    ) -> None:  # fmt: skip
        self.account: str | None = handle
        self._handle, self._password = handle, app_password
        self._client = httpx.Client(base_url=base_url.rstrip("/"), transport=transport, timeout=20)
        self._did: str | None = None

    @classmethod
    def from_settings(cls, settings: Settings, transport: httpx.BaseTransport | None) -> Self:
        if not settings.bluesky_handle or settings.bluesky_app_password is None:
            raise ConnectorError(
                "set SOCIALCRM_BLUESKY_HANDLE and SOCIALCRM_BLUESKY_APP_PASSWORD", False
            )
        return cls(settings.bluesky_url, settings.bluesky_handle,
                   settings.bluesky_app_password.get_secret_value(), transport)  # fmt: skip

    def _login(self) -> None:
        """Open a session once (app password → access token), for both directions."""
        if self._did is not None:
            return
        r = self._call("POST", "com.atproto.server.createSession",
                       json={"identifier": self._handle, "password": self._password})  # fmt: skip
        data = r.json()
        self._did = data["did"]
        self._client.headers["Authorization"] = f"Bearer {data['accessJwt']}"

    def _call(self, method: str, nsid: str, **kw: Any) -> httpx.Response:
        try:
            r = self._client.request(method, f"/xrpc/{nsid}", **kw)
        except httpx.HTTPError as e:
            raise ConnectorError(f"bluesky: {type(e).__name__}") from e
        raise_for_status(r, "bluesky")
        return r

    def post_reply(self, in_reply_to: str | None, body: str, idempotency_key: str) -> str:
        self._login()
        record: dict[str, Any] = {
            "$type": "app.bsky.feed.post",
            "text": body,
            "createdAt": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        }
        if in_reply_to:
            got = self._call("GET", "app.bsky.feed.getPosts", params={"uris": in_reply_to})
            posts = got.json().get("posts", [])
            if not posts:
                raise ConnectorError(f"bluesky: {in_reply_to} is gone", retryable=False)
            parent = {"uri": posts[0]["uri"], "cid": posts[0]["cid"]}
            root = (posts[0].get("record", {}).get("reply") or {}).get("root") or parent
            record["reply"] = {"root": root, "parent": parent}
        rkey = tid_of(idempotency_key)
        try:
            r = self._call("POST", "com.atproto.repo.createRecord", json={
                "repo": self._did, "collection": "app.bsky.feed.post", "rkey": rkey,
                "record": record})  # fmt: skip
        except ConnectorError as e:
            # The same record key again: the first attempt landed, its answer was lost.
            if "already exists" in str(e) or "RecordAlreadyExists" in str(e):
                return f"at://{self._did}/app.bsky.feed.post/{rkey}"
            raise
        return str(r.json()["uri"])

    def close(self) -> None:
        self._client.close()


# -- private messages (issue 18) ---------------------------------------------------------
_MENTION = re.compile(r"(?<![\w/@])@(?=\w)")


def unmention(text: str) -> str:
    """``text`` with no ``@handle`` a Mastodon server would turn into a mention; email
    addresses (``help@brand.example``) are left as they are.

    >>> unmention("Hi @eve@evil.social, write to help@brand.example") == (
    ...     "Hi @\u200beve@evil.social, write to help@brand.example")
    True
    """
    return _MENTION.sub("@\u200b", text)


class MastodonDirect(MastodonSender):
    """Private messages on Mastodon: a status with ``visibility=direct`` that mentions the
    addressee (only mentioned accounts see it), sent with the outbox's key as
    ``Idempotency-Key`` so a retry after a lost answer does not post twice."""

    name = "mastodon_dm"

    def send_direct(self, handle: str, body: str, idempotency_key: str) -> str:
        mention = "@" + handle.lstrip("@")
        # every account mentioned sees a direct status: an ``@eve@evil.social`` in the
        # personalised text (a display name, a product) would copy Eve in, so the other
        # mentions are broken with a zero-width space (shown the same, linking nobody)
        payload = {"status": f"{mention} {unmention(body)}", "visibility": "direct"}
        try:
            r = self._client.post(
                "/api/v1/statuses", json=payload, headers={"Idempotency-Key": idempotency_key}
            )
        except httpx.HTTPError as e:
            raise ConnectorError(f"mastodon: {type(e).__name__}") from e
        raise_for_status(r, "mastodon")
        return str(r.json()["id"])


CHAT_PROXY = "did:web:api.bsky.chat#bsky_chat"
"""Bluesky's chat service: the PDS forwards ``chat.bsky.*`` calls there (``atproto-proxy``)."""


class BlueskyDirect(BlueskySender):
    """Private messages on Bluesky: the 1-1 conversation with the addressee
    (``chat.bsky.convo.getConvoForMembers``, made on first use), then
    ``chat.bsky.convo.sendMessage``, both through the PDS's chat proxy. The app password
    needs the "direct messages" permission. The chat API takes no idempotency key: the
    outbox's lease keeps it to one attempt at a time."""

    name = "bluesky_dm"

    def send_direct(self, handle: str, body: str, idempotency_key: str) -> str:
        self._login()
        did = handle if handle.startswith("did:") else self._resolve(handle)
        proxy = {"atproto-proxy": CHAT_PROXY}
        convo = self._call("GET", "chat.bsky.convo.getConvoForMembers",
                           params={"members": did}, headers=proxy).json()["convo"]  # fmt: skip
        sent = self._call("POST", "chat.bsky.convo.sendMessage", headers=proxy,
                          json={"convoId": convo["id"], "message": {"text": body}})  # fmt: skip
        return f"{convo['id']}/{sent.json()['id']}"

    def _resolve(self, handle: str) -> str:
        r = self._call("GET", "com.atproto.identity.resolveHandle",
                       params={"handle": handle.lstrip("@")})  # fmt: skip
        return str(r.json()["did"])


DIRECT: Mapping[str, type[SocialSender]] = {
    "mastodon_dm": MastodonDirect,
    "bluesky_dm": BlueskyDirect,
}


def direct_from_settings(
    connector: str, settings: Settings, transport: httpx.BaseTransport | None = None
) -> SocialSender:
    """The private-message sender ``connector`` (``mastodon_dm`` or ``bluesky_dm``)."""
    cls = DIRECT.get(connector)
    if cls is None:
        raise ConnectorError(f"unknown private-message channel {connector!r}", False)
    return cls.from_settings(settings, transport)


_B32 = "234567abcdefghijklmnopqrstuvwxyz"


def tid_of(key: str) -> str:
    """A stable AT Protocol record key (TID syntax) for an idempotency key.

    >>> len(tid_of("abc")), tid_of("abc") == tid_of("abc")
    (13, True)
    """
    n = int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big") & ((1 << 63) - 1)
    return "".join(_B32[(n >> (5 * i)) & 31] for i in reversed(range(13)))


# -- helpers ----------------------------------------------------------------------------
def raise_for_status(r: httpx.Response, who: str) -> None:
    """A :class:`ConnectorError` for an HTTP error answer of ``who`` (retryable: 5xx, 408,
    429), with the network's own error text; nothing for a success."""
    if r.status_code < 400:
        return
    retry = r.status_code >= 500 or r.status_code in (408, 429)
    detail = ""
    try:
        body = r.json()
        if isinstance(body, dict):
            detail = " ".join(str(body[k]) for k in ("error", "message") if body.get(k))[:200]
    except ValueError:
        pass
    raise ConnectorError(f"{who}: HTTP {r.status_code} {detail}".strip(), retryable=retry)


SENDERS: Mapping[str, type[SocialSender]] = {
    "jsonl": JsonlSender,
    "mastodon": MastodonSender,
    "bluesky": BlueskySender,
}


def from_settings(
    settings: Settings,
    transport: httpx.BaseTransport | None = None,
    kinds: Mapping[str, type[SocialSender]] = SENDERS,
) -> SocialSender:
    """The sender of ``settings.inbox_connector``, with its secrets.

    ``kinds`` maps each connector name to its class; the inbox passes its connectors
    (senders that also read mentions), so both ends check the settings the same way.
    """
    kind = settings.inbox_connector
    cls = kinds.get(kind)
    if cls is None:
        raise ConnectorError(f"unknown connector {kind!r}; use jsonl, mastodon or bluesky", False)
    return cls.from_settings(settings, transport)
