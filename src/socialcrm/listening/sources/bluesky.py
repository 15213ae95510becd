"""Bluesky: post search over the AppView, and the Jetstream firehose for continuous
listening.

Search (docs.bsky.app, ``app.bsky.feed.searchPosts``): ``GET
/xrpc/app.bsky.feed.searchPosts?q=…&sort=latest&limit=100[&since=…][&cursor=…]``
answers ``{"cursor", "hitsTotal", "posts": [postView]}``; ``cursor`` pages within one
search, ``since`` (inclusive) makes a run incremental: the cursor we keep is the newest
``indexedAt`` seen per term. Where the host requires auth, an app password opens a
session first (``com.atproto.server.createSession``), as the inbox does.

Jetstream (github.com/bluesky-social/jetstream): ``wss://…/subscribe?
wantedCollections=app.bsky.feed.post[&cursor=<time_us>]`` streams JSON events
``{"did", "time_us", "kind": "commit", "commit": {"operation": "create", "collection",
"rkey", "cid", "record": {...}}}``; events carry the author's DID only, so handles,
display names and followers come from ``app.bsky.actor.getProfiles`` (25 per call). The
cursor is the last ``time_us`` read: a reconnect replays from there.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import httpx

from socialcrm.listening.sources.base import (
    DEFAULT_MAX_PAGES,
    Batch,
    Http,
    Reject,
    SourceError,
    SourceQuery,
    dump_cursor,
    load_cursor,
    post_row,
    verbatim,
)
from socialcrm.outbound.urls import OutboundURLError, check_outbound_url

PAGE = 100


def _links(record: dict[str, Any]) -> tuple[str | None, str | None]:
    """(reply parent, quoted post) of a post record, as post ids."""
    parent = ((record.get("reply") or {}).get("parent") or {}).get("uri")
    embed = record.get("embed") or {}
    quoted = (embed.get("record") or {}).get("uri")
    if isinstance((embed.get("record") or {}).get("record"), dict):  # recordWithMedia
        quoted = embed["record"]["record"].get("uri")
    return (f"bluesky:{parent}" if parent else None, f"bluesky:{quoted}" if quoted else None)


def _lang(record: dict[str, Any]) -> str | None:
    langs = record.get("langs") or []
    return str(langs[0]).split("-")[0].lower() if langs else None


class BlueskySearch:
    """``app.bsky.feed.searchPosts``, one search per query term."""

    platform = "bluesky"

    def __init__(
        self,
        base_url: str = "https://public.api.bsky.app",
        transport: httpx.BaseTransport | None = None,
        *,
        handle: str | None = None,
        app_password: str | None = None,
        max_pages: int = DEFAULT_MAX_PAGES,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        self.name = f"bluesky:{base_url.rstrip('/')}"
        self.max_pages = max_pages
        self._login_as = (handle, app_password) if handle and app_password else None
        self._logged_in = False
        kw: dict[str, Any] = {"sleep": sleep} if sleep is not None else {}
        self.http = Http(base_url, transport, who="bluesky", **kw)

    def _login(self) -> None:
        if self._login_as is None or self._logged_in:
            return
        handle, password = self._login_as
        r = self.http.request("POST", "/xrpc/com.atproto.server.createSession",
                              json={"identifier": handle, "password": password})  # fmt: skip
        self.http.client.headers["Authorization"] = f"Bearer {r.json()['accessJwt']}"
        self._logged_in = True

    def fetch(self, query: SourceQuery, cursor: str | None) -> Batch:
        self._login()
        positions = load_cursor(cursor)
        seen: dict[str, dict[str, Any]] = {}
        rejects: list[Reject] = []
        for term in query.searches:
            since = positions.get(term)
            newest = since
            page: str | None = None
            for _ in range(self.max_pages):
                params = {"q": term, "sort": "latest", "limit": str(PAGE)}
                if query.lang:
                    params["lang"] = query.lang
                if since:
                    params["since"] = since
                if page:
                    params["cursor"] = page
                try:
                    body = self.http.get_json("/xrpc/app.bsky.feed.searchPosts", params=params)
                except SourceError as e:
                    if "HTTP 401" in str(e) or "HTTP 403" in str(e):
                        raise SourceError(
                            f"{e}; this host needs an app password (set SOCIALCRM_BLUESKY_HANDLE "
                            "and SOCIALCRM_BLUESKY_APP_PASSWORD)",
                            retryable=False,
                        ) from e
                    raise
                posts = body.get("posts") if isinstance(body, dict) else None
                if not isinstance(posts, list):
                    raise SourceError("bluesky: the answer has no posts list")
                for p in posts:
                    uri = p.get("uri") if isinstance(p, dict) else None
                    if not isinstance(uri, str):
                        rejects.append(Reject(verbatim(p), "a post without a uri"))
                        continue
                    seen.setdefault(uri, p)
                    at = p.get("indexedAt")
                    if isinstance(at, str) and (newest is None or at > newest):
                        newest = at
                page = body.get("cursor")
                if not page or not posts:
                    break
            if newest:
                positions[term] = newest
        rows = []
        for p in sorted(seen.values(), key=lambda p: str(p.get("indexedAt", ""))):
            try:
                rows.append(self._row(p))
            except (KeyError, TypeError, AttributeError) as e:
                rejects.append(Reject(verbatim(p), f"not a Bluesky post view (missing {e})"))
        return Batch(rows, rejects, dump_cursor(positions))

    def _row(self, p: dict[str, Any]) -> dict[str, Any]:
        record, author = p["record"], p["author"]
        reply_to, quoted = _links(record)
        rkey = p["uri"].rsplit("/", 1)[-1]
        return post_row(
            "bluesky",
            p["uri"],
            author_handle=str(author["handle"]),
            created_at=str(record["createdAt"]),
            text=str(record["text"]),
            raw=p,
            source=self.name,
            lang=_lang(record),
            reply_to_post_id=reply_to,
            reshare_of_post_id=quoted,
            likes=p.get("likeCount"),
            reshares=p.get("repostCount"),
            replies=p.get("replyCount"),
            author_followers=author.get("followersCount"),
            author_name=author.get("displayName") or None,
            url=f"https://bsky.app/profile/{author['handle']}/post/{rkey}",
        )

    def close(self) -> None:
        self.http.close()


class Jetstream:
    """Continuous listening on Jetstream: new posts as they are made, filtered by the
    query's own test; each run reads for at most ``listen_seconds`` or ``max_events``."""

    platform = "bluesky"

    def __init__(
        self,
        url: str = "wss://jetstream2.us-east.bsky.network",
        transport: httpx.BaseTransport | None = None,
        *,
        appview: str = "https://public.api.bsky.app",
        listen_seconds: float = 10.0,
        max_events: int = 5000,
        allow_hosts: str | None = None,
        connect: Callable[..., Any] | None = None,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self.name = f"jetstream:{self.url}"
        self.listen_seconds, self.max_events = listen_seconds, max_events
        self._allow = allow_hosts
        self._connect = connect
        kw: dict[str, Any] = {"sleep": sleep} if sleep is not None else {}
        self.http = Http(appview, transport, who="bluesky", **kw)

    def _endpoint(self, cursor: str | None) -> str:
        http_form = "http" + self.url.removeprefix("ws") if self.url.startswith("ws") else ""
        try:  # the same guard as every HTTP source: no private or metadata addresses
            check_outbound_url(http_form or self.url, allow_hosts=self._allow)
        except OutboundURLError as e:
            raise SourceError(f"jetstream: {e}", retryable=False) from e
        url = f"{self.url}/subscribe?wantedCollections=app.bsky.feed.post"
        return url + (f"&cursor={int(cursor)}" if cursor else "")

    def fetch(self, query: SourceQuery, cursor: str | None) -> Batch:
        from websockets.exceptions import ConnectionClosedOK, WebSocketException
        from websockets.sync.client import connect

        last = cursor if cursor and cursor.isdigit() else None
        kept: list[dict[str, Any]] = []
        rejects: list[Reject] = []
        handles: dict[str, str] = {}
        deadline = time.monotonic() + self.listen_seconds
        opener = self._connect or connect
        try:
            with opener(self._endpoint(last), open_timeout=10) as ws:
                for _ in range(self.max_events):
                    left = deadline - time.monotonic()
                    if left <= 0:
                        break
                    try:
                        message = ws.recv(timeout=left)
                    except (TimeoutError, ConnectionClosedOK):
                        break  # listened long enough, or the server ended the stream
                    ev = _event(message, rejects)
                    if ev is None:
                        continue
                    last = str(ev["time_us"])
                    if ev.get("kind") == "identity":
                        ident = ev.get("identity") or {}
                        if ident.get("handle"):
                            handles[str(ev["did"])] = str(ident["handle"])
                        continue
                    commit = ev.get("commit") or {}
                    if ev.get("kind") != "commit" or commit.get("operation") != "create":
                        continue
                    if commit.get("collection") != "app.bsky.feed.post":
                        continue
                    record = commit.get("record") or {}
                    text = record.get("text")
                    if not isinstance(text, str):
                        rejects.append(Reject(verbatim(ev), "a post event without text"))
                        continue
                    if query.matches is not None and not query.matches(text, _lang(record), None):
                        continue
                    kept.append(ev)
        except (OSError, WebSocketException) as e:
            if not kept:
                raise SourceError(f"jetstream: cannot read the stream ({type(e).__name__})") from e
        rows = self._rows(kept, handles, rejects)
        return Batch(rows, rejects, last)

    def _rows(
        self, events: list[dict[str, Any]], handles: dict[str, str], rejects: list[Reject]
    ) -> list[dict[str, Any]]:
        profiles = self._profiles(sorted({str(e["did"]) for e in events} - set(handles)))
        rows = []
        for ev in events:
            did, commit = str(ev["did"]), ev["commit"]
            record = commit["record"]
            prof = profiles.get(did, {})
            handle = handles.get(did) or prof.get("handle")
            if not handle:
                rejects.append(Reject(verbatim(ev), "the author's handle could not be found"))
                continue
            reply_to, quoted = _links(record)
            uri = f"at://{did}/app.bsky.feed.post/{commit.get('rkey')}"
            if not record.get("createdAt") or not commit.get("rkey"):
                rejects.append(Reject(verbatim(ev), "a post event without createdAt or rkey"))
                continue
            rows.append(post_row(
                "bluesky", uri, author_handle=handle, created_at=str(record["createdAt"]),
                text=str(record["text"]), raw=ev, source=self.name, lang=_lang(record),
                reply_to_post_id=reply_to, reshare_of_post_id=quoted,
                author_followers=prof.get("followersCount"),
                author_name=prof.get("displayName") or None,
                url=f"https://bsky.app/profile/{handle}/post/{commit['rkey']}",
            ))  # fmt: skip
        return rows

    def _profiles(self, dids: list[str]) -> dict[str, dict[str, Any]]:
        found: dict[str, dict[str, Any]] = {}
        for i in range(0, len(dids), 25):
            chunk = dids[i : i + 25]
            body = self.http.get_json("/xrpc/app.bsky.actor.getProfiles",
                                      params=[("actors", d) for d in chunk])  # fmt: skip
            for p in body.get("profiles", []) if isinstance(body, dict) else []:
                if isinstance(p, dict) and p.get("did"):
                    found[str(p["did"])] = p
        return found

    def close(self) -> None:
        self.http.close()


def _event(message: str | bytes, rejects: list[Reject]) -> dict[str, Any] | None:
    try:
        ev = json.loads(message)
    except ValueError:
        rejects.append(Reject(message if isinstance(message, str) else message.decode(
            "utf-8", "replace"), "not JSON"))  # fmt: skip
        return None
    if not isinstance(ev, dict) or not ev.get("did") or not isinstance(ev.get("time_us"), int):
        rejects.append(Reject(verbatim(ev), "an event without did or time_us"))
        return None
    return ev


__all__ = ["BlueskySearch", "Jetstream"]
