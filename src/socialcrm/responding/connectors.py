"""Social network connectors for the inbox: mentions in, on top of the senders' replies out.

A connector is a sender of :mod:`socialcrm.outbound.social` (which owns its HTTP client
and login, and posts replies) that also reads new mentions after a cursor; one client and
one session serve both directions. Every network connector takes an
``httpx.BaseTransport``, so tests replay recorded responses from a loopback server and
production uses the default transport.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, Protocol, Self, cast

import httpx

from socialcrm.config import Settings
from socialcrm.outbound import social
from socialcrm.outbound.channel import Sender
from socialcrm.outbound.social import (
    BlueskySender,
    ConnectorError,
    JsonlSender,
    MastodonSender,
    SocialSender,
    raise_for_status,
)
from socialcrm.responding.inbox import Post


class Connector(Sender, Protocol):
    """Reads new mentions after a cursor and posts replies, idempotently."""

    def fetch(self, cursor: str | None) -> tuple[list[Post], str | None]:
        """Mentions newer than ``cursor``, oldest first, and the cursor to keep."""
        ...


# -- files ------------------------------------------------------------------------------
class JsonlConnector(JsonlSender):
    """Mentions from a JSON-lines file (one post per line); replies appended to another.

    The default: works offline, and is how other tools hand posts over. The cursor is the
    number of lines read; a reply already in the replies file (by key) is not written again.
    """

    def __init__(self, inbox: Path, replies: Path) -> None:
        super().__init__(replies)
        self.inbox = inbox

    @classmethod
    def from_settings(cls, settings: Settings, transport: httpx.BaseTransport | None) -> Self:
        folder = settings.home / "inbox"
        return cls(folder / "mentions.jsonl", folder / "replies.jsonl")

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
class MastodonConnector(MastodonSender):
    """Mastodon's REST API: ``/api/v1/notifications?types[]=mention`` in, statuses out."""

    page_size = 40

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
            # a tuple: httpx reads it as the list, and its type is covariant
            r = self._client.get(path, params=tuple(params))
        except httpx.HTTPError as e:
            raise ConnectorError(f"mastodon: {type(e).__name__}") from e
        raise_for_status(r, "mastodon")
        page: list[dict[str, Any]] = r.json()
        return page

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


# -- Bluesky ----------------------------------------------------------------------------
class BlueskyConnector(BlueskySender):
    """The AT Protocol: ``app.bsky.notification.listNotifications`` in,
    ``com.atproto.repo.createRecord`` (an ``app.bsky.feed.post`` with a reply ref) out."""

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


# -- helpers ----------------------------------------------------------------------------
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


CONNECTORS: Mapping[str, type[SocialSender]] = {
    "jsonl": JsonlConnector,
    "mastodon": MastodonConnector,
    "bluesky": BlueskyConnector,
}


def from_settings(settings: Settings, transport: httpx.BaseTransport | None = None) -> Connector:
    """The connector named by ``settings.inbox_connector``, with its secrets (checked as
    the delivery loop's sender is: :func:`socialcrm.outbound.social.from_settings`)."""
    return cast(Connector, social.from_settings(settings, transport, CONNECTORS))
