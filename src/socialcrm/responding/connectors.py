"""Social network connectors behind one small interface: mentions in, replies out.

Every network connector takes an ``httpx.BaseTransport``, so tests replay recorded
responses from a loopback server and production uses the default transport. Tokens come
from settings as secrets: they go into the Authorization header and nowhere else.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, Protocol

import httpx

from socialcrm.config import Settings
from socialcrm.responding.inbox import Post


class ConnectorError(Exception):
    """A failed call; ``retryable`` says whether trying again later may succeed."""

    def __init__(self, message: str, retryable: bool = True) -> None:
        super().__init__(message)
        self.retryable = retryable


class Connector(Protocol):
    """Reads new mentions after a cursor and posts replies, idempotently."""

    name: str
    platform: str
    account: str | None

    def fetch(self, cursor: str | None) -> tuple[list[Post], str | None]:
        """Mentions newer than ``cursor``, oldest first, and the cursor to keep."""
        ...

    def post_reply(self, in_reply_to: str | None, body: str, idempotency_key: str) -> str:
        """Post ``body`` in reply to ``in_reply_to``; returns the new post's id."""
        ...


# -- files ------------------------------------------------------------------------------
class JsonlConnector:
    """Mentions from a JSON-lines file (one post per line); replies appended to another.

    The default: works offline, and is how other tools hand posts over. The cursor is the
    number of lines read; a reply already in the replies file (by key) is not written again.
    """

    name = platform = "jsonl"
    account: str | None = "brand"

    def __init__(self, inbox: Path, replies: Path) -> None:
        self.inbox, self.replies = inbox, replies

    def fetch(self, cursor: str | None) -> tuple[list[Post], str | None]:
        start = int(cursor or 0)
        if not self.inbox.exists():
            return [], cursor
        lines = self.inbox.read_text(encoding="utf-8").splitlines()
        posts = []
        for n, line in enumerate(lines[start:], start=start + 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                posts.append(_post_of(row))
            except (ValueError, KeyError, TypeError) as e:
                raise ConnectorError(f"{self.inbox}:{n}: {e}", retryable=False) from e
        return posts, str(len(lines))

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


def _post_of(row: dict[str, Any]) -> Post:
    return Post(
        platform=str(row.get("platform", "jsonl")),
        post_id=str(row["post_id"]),
        author_handle=str(row["author_handle"]),
        text=str(row["text"]),
        created_at=_naive(str(row["created_at"])),
        reply_to_post_id=row.get("reply_to_post_id"),
        topic_id=row.get("topic_id"),
        sentiment_score=row.get("sentiment_score"),
        intent=row.get("intent"),
        customer_id=row.get("customer_id"),
    )


# -- Mastodon ---------------------------------------------------------------------------
class MastodonConnector:
    """Mastodon's REST API: ``/api/v1/notifications?types[]=mention`` in, statuses out."""

    name = platform = "mastodon"
    page_size = 40

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

    def fetch(self, cursor: str | None) -> tuple[list[Post], str | None]:
        # Mastodon pages newest first: walk back with max_id until since_id is reached.
        seen: dict[str, dict[str, Any]] = {}
        max_id: str | None = None
        while True:
            params: list[tuple[str, str]] = [("types[]", "mention"), ("limit", str(self.page_size))]
            if cursor:
                params.append(("since_id", cursor))
            if max_id:
                params.append(("max_id", max_id))
            page = self._get("/api/v1/notifications", params)
            fresh = [n for n in page if str(n["id"]) not in seen]
            for n in fresh:
                seen[str(n["id"])] = n
            if len(page) < self.page_size or not fresh:
                break
            max_id = min((str(n["id"]) for n in page), key=_id_order)
        notes = sorted(seen.values(), key=lambda n: _id_order(str(n["id"])))
        posts = [p for p in (self._post(n) for n in notes) if p is not None]
        new_cursor = str(notes[-1]["id"]) if notes else cursor
        return posts, new_cursor

    def _get(self, path: str, params: list[tuple[str, str]]) -> list[dict[str, Any]]:
        try:
            r = self._client.get(path, params=params)
        except httpx.HTTPError as e:
            raise ConnectorError(f"mastodon: {type(e).__name__}") from e
        _raise_for(r, "mastodon")
        return r.json()

    def _post(self, n: dict[str, Any]) -> Post | None:
        st = n.get("status")
        if n.get("type") != "mention" or not st:
            return None
        return Post(
            platform="mastodon",
            post_id=str(st["id"]),
            author_handle=str(n["account"]["acct"]),
            text=html_text(st.get("content") or ""),
            created_at=_naive(st.get("created_at") or n["created_at"]),
            reply_to_post_id=st.get("in_reply_to_id"),
            is_reshare=st.get("reblog") is not None,
        )

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
        _raise_for(r, "mastodon")
        return str(r.json()["id"])

    def close(self) -> None:
        self._client.close()


# -- Bluesky ----------------------------------------------------------------------------
class BlueskyConnector:
    """The AT Protocol: ``app.bsky.notification.listNotifications`` in,
    ``com.atproto.repo.createRecord`` (an ``app.bsky.feed.post`` with a reply ref) out."""

    name = platform = "bluesky"

    def __init__(
        self, base_url: str, handle: str, app_password: str,
        transport: httpx.BaseTransport | None = None,
    ) -> None:  # fmt: skip
        self.account = handle
        self._handle, self._password = handle, app_password
        self._client = httpx.Client(base_url=base_url.rstrip("/"), transport=transport, timeout=20)
        self._did: str | None = None

    def _login(self) -> None:
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
        _raise_for(r, "bluesky")
        return r

    def fetch(self, cursor: str | None) -> tuple[list[Post], str | None]:
        """Mentions and replies indexed after ``cursor`` (an ``indexedAt`` timestamp)."""
        self._login()
        found: list[dict[str, Any]] = []
        page: str | None = None
        while True:
            params = {"limit": "50", **({"cursor": page} if page else {})}
            data = self._call("GET", "app.bsky.notification.listNotifications",
                              params=params).json()  # fmt: skip
            notes = data.get("notifications", [])
            newer = [n for n in notes if cursor is None or n["indexedAt"] > cursor]
            found += newer
            page = data.get("cursor")
            if not page or len(newer) < len(notes) or not notes:
                break
        posts = []
        for n in sorted(found, key=lambda n: n["indexedAt"]):
            if n.get("reason") not in ("mention", "reply"):
                continue
            rec = n.get("record", {})
            parent = (rec.get("reply") or {}).get("parent", {}).get("uri")
            posts.append(
                Post(
                    platform="bluesky",
                    post_id=n["uri"],
                    author_handle=n["author"]["handle"],
                    text=str(rec.get("text", "")),
                    created_at=_naive(rec.get("createdAt") or n["indexedAt"]),
                    reply_to_post_id=parent,
                )
            )
        new_cursor = max((n["indexedAt"] for n in found), default=cursor)
        return posts, new_cursor

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


_B32 = "234567abcdefghijklmnopqrstuvwxyz"


def tid_of(key: str) -> str:
    """A stable AT Protocol record key (TID syntax) for an idempotency key.

    >>> len(tid_of("abc")), tid_of("abc") == tid_of("abc")
    (13, True)
    """
    n = int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big") & ((1 << 63) - 1)
    return "".join(_B32[(n >> (5 * i)) & 31] for i in reversed(range(13)))


# -- helpers ----------------------------------------------------------------------------
def _raise_for(r: httpx.Response, who: str) -> None:
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


def _id_order(i: str) -> tuple[int, str]:
    return (len(i), i)  # Mastodon ids are numeric strings: longer is newer


def _naive(text: str) -> datetime:
    dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return dt.astimezone(UTC).replace(tzinfo=None) if dt.tzinfo else dt


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        if tag in ("br", "p") and self.parts:
            self.parts.append(" ")

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def html_text(html: str) -> str:
    """Mastodon's HTML content as plain text (tags dropped, entities decoded).

    >>> html_text('<p><span class="h-card"><a href="x">@<span>acme</span></a></span> '
    ...           'hi &amp; bye</p>')
    '@acme hi & bye'
    """
    p = _Text()
    p.feed(html)
    return re.sub(r"\s+", " ", "".join(p.parts)).strip()


def from_settings(settings: Settings, transport: httpx.BaseTransport | None = None) -> Connector:
    """The connector named by ``settings.inbox_connector``, with its secrets."""
    kind = settings.inbox_connector
    if kind == "jsonl":
        folder = settings.home / "inbox"
        return JsonlConnector(folder / "mentions.jsonl", folder / "replies.jsonl")
    if kind == "mastodon":
        if not settings.mastodon_url or settings.mastodon_token is None:
            raise ConnectorError("set SOCIALCRM_MASTODON_URL and SOCIALCRM_MASTODON_TOKEN", False)
        return MastodonConnector(settings.mastodon_url, settings.mastodon_token.get_secret_value(),
                                 transport, account=settings.inbox_brand_handle)  # fmt: skip
    if kind == "bluesky":
        if not settings.bluesky_handle or settings.bluesky_app_password is None:
            raise ConnectorError(
                "set SOCIALCRM_BLUESKY_HANDLE and SOCIALCRM_BLUESKY_APP_PASSWORD", False
            )
        return BlueskyConnector(settings.bluesky_url, settings.bluesky_handle,
                                settings.bluesky_app_password.get_secret_value(),
                                transport)  # fmt: skip
    raise ConnectorError(f"unknown connector {kind!r}; use jsonl, mastodon or bluesky", False)
