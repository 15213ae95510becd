"""Recorded-response services for the listening sources, shaped as each API documents them.

Each fake is a function ``httpx.Request -> httpx.Response`` (for ``httpx.MockTransport``)
that keeps its own items and the requests it saw; :class:`LocalServer` serves any of them
over real HTTP on a loopback port (for the CLI, which builds its own guarded client).

Shapes follow the public documentation:

- Mastodon: Status entity (docs.joinmastodon.org/entities/Status), the tag timeline and
  v2 search, paged with a ``Link`` header (``next``: max_id, ``prev``: min_id);
- Bluesky: ``app.bsky.feed.searchPosts`` output (``cursor``, ``hitsTotal``, ``posts`` of
  ``app.bsky.feed.defs#postView``), ``com.atproto.server.createSession``,
  ``app.bsky.actor.getProfiles``;
- Reddit: ``/api/v1/access_token`` and Listings of ``t3`` things;
- Hacker News: Algolia ``search_by_date`` (``hits``, ``page``, ``nbPages``);
- RSS 2.0 and Atom 1.0 documents.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx

Handler = Callable[[httpx.Request], httpx.Response]
T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def iso(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%S.000Z")


class Fake:
    """Common parts: requests seen, and 429s to answer first (with ``Retry-After``)."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self.throttle: list[dict[str, str]] = []  # headers of 429s still to answer
        self.fail_with: int | None = None

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.fail_with:
            return httpx.Response(self.fail_with, json={"error": "service unavailable"})
        if self.throttle and not request.url.path.endswith("access_token"):
            return httpx.Response(
                429, headers=self.throttle.pop(0), json={"error": "Too many requests"}
            )
        return self.handle(request)

    def handle(self, request: httpx.Request) -> httpx.Response:
        raise NotImplementedError


# -- Mastodon ---------------------------------------------------------------------------
def mastodon_status(n: int, text: str, *, acct: str | None = None, **extra: Any) -> dict[str, Any]:
    """A Status as the API returns it (the fields we read and some we do not)."""
    acct = acct or f"user{n % 7}@social.example"
    at = T0 + timedelta(minutes=n)
    return {
        "id": str(109_000_000_000_000_000 + n),
        "created_at": iso(at),
        "in_reply_to_id": None,
        "in_reply_to_account_id": None,
        "sensitive": False,
        "spoiler_text": "",
        "visibility": "public",
        "language": "en",
        "uri": f"https://social.example/users/{acct.split('@')[0]}/statuses/{n}",
        "url": f"https://social.example/@{acct.split('@')[0]}/{n}",
        "replies_count": n % 3,
        "reblogs_count": n % 5,
        "favourites_count": n % 11,
        "edited_at": None,
        "content": f"<p>{text}</p>",
        "reblog": None,
        "application": None,
        "account": {
            "id": str(1000 + n % 7),
            "username": acct.split("@")[0],
            "acct": acct,
            "display_name": f"User {n % 7}",
            "locked": False,
            "bot": False,
            "created_at": "2022-11-01T00:00:00.000Z",
            "note": "",
            "url": f"https://social.example/@{acct.split('@')[0]}",
            "followers_count": 10 * (n % 7),
            "following_count": 3,
            "statuses_count": 40,
        },
        "media_attachments": [],
        "mentions": [],
        "tags": [{"name": "coffee", "url": "https://social.example/tags/coffee"}],
        "emojis": [],
        "card": None,
        "poll": None,
        **extra,
    }


class Mastodon(Fake):
    """An instance with one tag timeline and search, newest first, 40 a page at most."""

    def __init__(
        self, statuses: list[dict[str, Any]], base: str = "https://social.example"
    ) -> None:
        super().__init__()
        self.statuses = statuses
        self.base = base

    @staticmethod
    def _key(s: dict[str, Any]) -> tuple[int, str]:
        return (len(str(s.get("id", ""))), str(s.get("id", "")))

    def handle(self, request: httpx.Request) -> httpx.Response:
        path, q = request.url.path, request.url.params
        if path.startswith("/api/v2/search"):
            if "authorization" not in request.headers:
                return httpx.Response(401, json={"error": "The access token is invalid"})
        elif not path.startswith("/api/v1/timelines/tag/"):
            return httpx.Response(404, json={"error": "Record not found"})
        limit = min(int(q.get("limit", 20)), 40)
        items = sorted(self.statuses, key=self._key, reverse=True)
        if "max_id" in q:
            items = [s for s in items if self._key(s) < self._key({"id": q["max_id"]})]
        if "since_id" in q:
            items = [s for s in items if self._key(s) > self._key({"id": q["since_id"]})]
        if "min_id" in q:  # the statuses immediately newer than min_id
            newer = [s for s in items if self._key(s) > self._key({"id": q["min_id"]})]
            items = newer[-limit:]
        page = items[:limit]
        headers = {}
        if page:
            here = f"{self.base}{path}"
            headers["Link"] = (
                f'<{here}?limit={limit}&max_id={page[-1]["id"]}>; rel="next", '
                f'<{here}?limit={limit}&min_id={page[0]["id"]}>; rel="prev"'
            )
        if path.startswith("/api/v2/search"):
            return httpx.Response(200, json={"accounts": [], "statuses": page, "hashtags": []})
        return httpx.Response(200, json=page, headers=headers)


# -- Bluesky ----------------------------------------------------------------------------
def bluesky_post(n: int, text: str, **record: Any) -> dict[str, Any]:
    """An ``app.bsky.feed.defs#postView``."""
    handle = f"user{n % 5}.bsky.social"
    did = f"did:plc:user{n % 5}aaaaaaaaaaaaaaaaa"
    at = T0 + timedelta(minutes=n)
    return {
        "uri": f"at://{did}/app.bsky.feed.post/3k{n:011d}",
        "cid": f"bafyreig{n:040d}",
        "author": {
            "did": did,
            "handle": handle,
            "displayName": f"User {n % 5}",
            "avatar": "https://cdn.bsky.app/img/avatar/plain/x.jpg",
            "labels": [],
            "createdAt": "2023-04-01T00:00:00.000Z",
        },
        "record": {
            "$type": "app.bsky.feed.post",
            "createdAt": iso(at),
            "langs": ["en"],
            "text": text,
            **record,
        },
        "replyCount": n % 3,
        "repostCount": n % 4,
        "likeCount": n % 9,
        "quoteCount": 0,
        "indexedAt": iso(at + timedelta(seconds=2)),
        "labels": [],
    }


class Bluesky(Fake):
    """searchPosts (``sort=latest``, ``since``, ``cursor`` as an offset) and
    createSession; ``require_auth`` answers 403 to calls without a session."""

    def __init__(self, posts: list[dict[str, Any]], require_auth: bool = False) -> None:
        super().__init__()
        self.posts = posts
        self.require_auth = require_auth
        self.profiles: dict[str, dict[str, Any]] = {}

    def handle(self, request: httpx.Request) -> httpx.Response:
        path, q = request.url.path, request.url.params
        if path == "/xrpc/com.atproto.server.createSession":
            body = json.loads(request.content)
            if body.get("password") != "app-pass-1234":
                return httpx.Response(
                    401,
                    json={
                        "error": "AuthenticationRequired",
                        "message": "Invalid identifier or password",
                    },
                )
            return httpx.Response(
                200,
                json={
                    "did": "did:plc:brand",
                    "handle": body["identifier"],
                    "accessJwt": "jwt-access",
                    "refreshJwt": "jwt-refresh",
                },
            )
        if self.require_auth and request.headers.get("authorization") != "Bearer jwt-access":
            return httpx.Response(403, json={"error": "Forbidden", "message": "auth required"})
        if path == "/xrpc/app.bsky.actor.getProfiles":
            found = [self.profiles[a] for a in q.get_list("actors") if a in self.profiles]
            return httpx.Response(200, json={"profiles": found})
        if path != "/xrpc/app.bsky.feed.searchPosts":
            return httpx.Response(404, json={"error": "MethodNotImplemented"})
        term = q["q"].strip('"').lstrip("#").lower()
        hits = [p for p in self.posts if term in json.dumps(p).lower()]
        hits.sort(key=lambda p: str(p.get("indexedAt", "")), reverse=True)
        if "since" in q:
            hits = [p for p in hits if str(p.get("indexedAt", "")) >= q["since"]]
        start = int(q.get("cursor", 0))
        limit = int(q.get("limit", 25))
        page = hits[start : start + limit]
        doc: dict[str, Any] = {"hitsTotal": len(hits), "posts": page}
        if start + limit < len(hits):
            doc["cursor"] = str(start + limit)
        return httpx.Response(200, json=doc)


# -- Reddit -----------------------------------------------------------------------------
def reddit_link(n: int, title: str, sub: str = "coffee", **extra: Any) -> dict[str, Any]:
    at = T0 + timedelta(minutes=n)
    return {
        "kind": "t3",
        "data": {
            "id": f"x{n:05d}",
            "name": f"t3_x{n:05d}",
            "subreddit": sub,
            "title": title,
            "selftext": "",
            "author": f"redditor_{n % 4}",
            "created_utc": at.timestamp(),
            "permalink": f"/r/{sub}/comments/x{n:05d}/post/",
            "url": f"https://www.reddit.com/r/{sub}/",
            "ups": n % 13,
            "score": n % 13,
            "num_comments": n % 6,
            "num_crossposts": 0,
            "over_18": False,
            **extra,
        },
    }


class Reddit(Fake):
    """``/api/v1/access_token`` (client credentials) and Listings paged with ``after``."""

    def __init__(self, links: list[dict[str, Any]]) -> None:
        super().__init__()
        self.links = links

    def handle(self, request: httpx.Request) -> httpx.Response:
        path, q = request.url.path, request.url.params
        if path == "/api/v1/access_token":
            if (
                request.headers.get("authorization", "")
                != httpx.BasicAuth("app-id", "app-secret")._auth_header
            ):
                return httpx.Response(401, json={"message": "Unauthorized", "error": 401})
            return httpx.Response(
                200,
                json={
                    "access_token": "tok-1",
                    "token_type": "bearer",
                    "expires_in": 86400,
                    "scope": "*",
                },
            )
        if request.headers.get("authorization") != "bearer tok-1":
            return httpx.Response(401, json={"message": "Unauthorized", "error": 401})
        items = sorted(
            self.links, key=lambda c: -float((c.get("data") or {}).get("created_utc", 0))
        )
        if path.startswith("/r/"):
            sub = path.split("/")[2]
            items = [c for c in items if (c.get("data") or {}).get("subreddit") == sub]
        elif path == "/search":
            words = [w.lower() for w in q["q"].split(" OR ")]
            items = [c for c in items if any(w in json.dumps(c).lower() for w in words)]
        else:
            return httpx.Response(404, json={"message": "Not Found", "error": 404})
        start = 0
        if "after" in q:
            names = [(c.get("data") or {}).get("name") for c in items]
            start = names.index(q["after"]) + 1
        limit = int(q.get("limit", 25))
        page = items[start : start + limit]
        after = (page[-1].get("data") or {}).get("name") if start + limit < len(items) else None
        return httpx.Response(
            200,
            json={
                "kind": "Listing",
                "data": {
                    "after": after,
                    "dist": len(page),
                    "modhash": "",
                    "children": page,
                    "before": None,
                },
            },
            headers={
                "x-ratelimit-used": "1",
                "x-ratelimit-remaining": "99",
                "x-ratelimit-reset": "300",
            },
        )


# -- Hacker News ------------------------------------------------------------------------
def hn_hit(n: int, text: str, *, comment: bool = False, **extra: Any) -> dict[str, Any]:
    at = T0 + timedelta(minutes=n)
    hit = {
        "objectID": str(40_000_000 + n),
        "created_at": iso(at),
        "created_at_i": int(at.timestamp()),
        "author": f"hn_user{n % 4}",
        "points": None if comment else n % 50,
        "num_comments": None if comment else n % 9,
        "_tags": ["comment" if comment else "story", f"author_hn_user{n % 4}"],
    }
    if comment:
        hit |= {
            "comment_text": f"<p>{text}</p>",
            "parent_id": 40_000_000,
            "story_id": 40_000_000,
            "title": None,
            "url": None,
        }
    else:
        hit |= {"title": text, "url": f"https://blog.example/{n}", "story_text": None}
    return hit | extra


class HackerNews(Fake):
    def __init__(self, hits: list[dict[str, Any]]) -> None:
        super().__init__()
        self.hits = hits

    def handle(self, request: httpx.Request) -> httpx.Response:
        q = request.url.params
        if request.url.path != "/api/v1/search_by_date":
            return httpx.Response(404, json={"message": "Not Found", "status": 404})
        words = [w.lower() for w in q.get("query", "").split()]
        hits = [h for h in self.hits if any(w in json.dumps(h).lower() for w in words)]
        for f in q.get("numericFilters", "").split(","):
            if f.startswith("created_at_i>"):
                hits = [h for h in hits if int(h.get("created_at_i", 0)) > int(f.split(">")[1])]
        hits.sort(key=lambda h: -int(h.get("created_at_i", 0)))
        per, page = int(q.get("hitsPerPage", 20)), int(q.get("page", 0))
        pages = (len(hits) + per - 1) // per
        return httpx.Response(
            200,
            json={
                "hits": hits[page * per : (page + 1) * per],
                "nbHits": len(hits),
                "page": page,
                "nbPages": pages,
                "hitsPerPage": per,
                "processingTimeMS": 1,
                "query": q.get("query", ""),
                "params": "",
            },
        )


# -- feeds ------------------------------------------------------------------------------
def rss(items: list[tuple[int, str] | str]) -> bytes:
    """An RSS 2.0 document; an item given as a plain string is inserted verbatim."""
    parts = []
    for it in items:
        if isinstance(it, str):
            parts.append(it)
            continue
        n, title = it
        parts.append(
            f"<item><title>{title}</title><link>https://blog.example/p/{n}</link>"
            f'<guid isPermaLink="false">post-{n}</guid>'
            f"<pubDate>{format_datetime(T0 + timedelta(hours=n))}</pubDate>"
            f"<description>&lt;p&gt;Notes on {title}&lt;/p&gt;</description>"
            f"<author>editor@blog.example (Ed Itor)</author></item>"
        )
    return (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
        "<title>Coffee Blog</title><link>https://blog.example/</link>"
        "<description>Coffee news</description><language>en-gb</language>"
        + "".join(parts)
        + "</channel></rss>"
    ).encode()


def atom(entries: list[tuple[int, str]]) -> bytes:
    body = "".join(
        f"<entry><title>{t}</title><id>urn:uuid:entry-{n}</id>"
        f'<link href="https://video.example/watch?v={n}"/>'
        f"<updated>{iso(T0 + timedelta(hours=n))}</updated>"
        f"<author><name>Channel {n % 2}</name></author><summary>About {t}</summary></entry>"
        for n, t in entries
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
        "<title>Video channel</title><id>urn:uuid:feed</id>"
        f"<updated>{iso(T0)}</updated>{body}</feed>"
    ).encode()


class Feed(Fake):
    """A feed with an ``ETag`` and ``Last-Modified``: a conditional GET that matches is
    answered ``304 Not Modified``."""

    def __init__(self, document: bytes, content_type: str = "application/rss+xml") -> None:
        super().__init__()
        self.set(document)
        self.content_type = content_type

    def set(self, document: bytes) -> None:
        self.document = document
        self.etag = f'"v{abs(hash(document)) % 10**8}"'
        self.modified = format_datetime(T0, usegmt=True)

    def handle(self, request: httpx.Request) -> httpx.Response:
        if request.headers.get("if-none-match") == self.etag:
            return httpx.Response(304, headers={"ETag": self.etag})
        return httpx.Response(
            200,
            content=self.document,
            headers={
                "Content-Type": self.content_type,
                "ETag": self.etag,
                "Last-Modified": self.modified,
            },
        )


# -- a loopback server ----------------------------------------------------------------------
class LocalServer:
    """Serve ``routes`` (first path segment → fake) over HTTP on 127.0.0.1; the prefix is
    stripped, so ``http://127.0.0.1:PORT/mastodon`` is a Mastodon base URL."""

    def __init__(self, routes: dict[str, Handler]) -> None:
        self.routes = routes
        outer = self

        class H(BaseHTTPRequestHandler):
            disable_nagle_algorithm = True  # headers and body at once: no delayed-ACK stall

            def _any(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else b""
                prefix, _, rest = self.path.lstrip("/").partition("/")
                handler = outer.routes.get(prefix)
                url = f"http://{self.headers.get('host')}/{rest}"
                req = httpx.Request(
                    self.command, url, headers=dict(self.headers.items()), content=body
                )
                resp = handler(req) if handler else httpx.Response(404)
                resp.read()
                self.send_response(resp.status_code)
                for k, v in resp.headers.items():
                    if k.lower() not in ("content-length", "transfer-encoding", "connection"):
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(resp.content)))
                self.end_headers()
                self.wfile.write(resp.content)

            do_GET = do_POST = _any

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> LocalServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
