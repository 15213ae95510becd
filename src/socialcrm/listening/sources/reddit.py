"""Reddit: search and subreddit listings over OAuth (an app's client credentials).

The documented API (reddit.com/dev/api, github.com/reddit-archive/reddit/wiki/OAuth2):
``POST https://www.reddit.com/api/v1/access_token`` with HTTP basic auth (client id and
secret) and ``grant_type=client_credentials`` answers a bearer token; calls then go to
``https://oauth.reddit.com``: ``/search?q=…&sort=new`` or ``/r/<sub>/new``, both
Listings (``{"kind": "Listing", "data": {"after", "children": [{"kind": "t3", "data":
{...}}]}}``) paged backwards with ``after``. Rate limits come as ``x-ratelimit-remaining``
/ ``x-ratelimit-reset`` (seconds). The cursor is the newest ``created_utc`` seen: a run
walks back until it reaches it.
"""

from __future__ import annotations

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
    from_unix,
    html_text,
    post_row,
    verbatim,
)

PAGE = 100


class RedditSource:
    """Reddit search (``reddit:https://oauth.reddit.com``) or one subreddit's new posts
    (``reddit:https://oauth.reddit.com/r/python``)."""

    platform = "reddit"

    def __init__(
        self,
        base_url: str = "https://oauth.reddit.com",
        transport: httpx.BaseTransport | None = None,
        *,
        client_id: str | None = None,
        client_secret: str | None = None,
        auth_url: str | None = None,
        max_pages: int = DEFAULT_MAX_PAGES,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        self.name = f"reddit:{base_url.rstrip('/')}"
        url = httpx.URL(base_url)
        self.subreddit = url.path.strip("/").removeprefix("r/") if url.path.strip("/") else None
        root = str(url.copy_with(path="/", query=None)).rstrip("/")
        if auth_url is None:
            auth_url = "https://www.reddit.com" if url.host == "oauth.reddit.com" else root
        self.max_pages = max_pages
        self._credentials = (client_id, client_secret)
        kw: dict[str, Any] = {"sleep": sleep} if sleep is not None else {}
        self.http = Http(root, transport, who="reddit", **kw)
        self.auth = Http(auth_url, transport, who="reddit", **kw)
        self._token = False

    def _login(self) -> None:
        if self._token:
            return
        cid, secret = self._credentials
        if not cid or not secret:
            raise SourceError(
                "reddit: set SOCIALCRM_REDDIT_CLIENT_ID and SOCIALCRM_REDDIT_CLIENT_SECRET "
                "(an app's credentials)",
                retryable=False,
            )
        r = self.auth.request("POST", "/api/v1/access_token", auth=(cid, secret),
                              data={"grant_type": "client_credentials"})  # fmt: skip
        token = r.json().get("access_token")
        if not token:
            raise SourceError("reddit: no access token in the answer", retryable=False)
        self.http.client.headers["Authorization"] = f"bearer {token}"
        self._token = True

    def fetch(self, query: SourceQuery, cursor: str | None) -> Batch:
        self._login()
        since = float(cursor) if cursor else None
        if self.subreddit:
            path, params = f"/r/{self.subreddit}/new", {}
        else:
            terms = [t.lstrip("#") for t in query.searches]
            path = "/search"
            params = {"q": " OR ".join(terms), "sort": "new", "type": "link"}
        newest = since
        rows: list[dict[str, Any]] = []
        rejects: list[Reject] = []
        after: str | None = None
        for _ in range(self.max_pages):
            page = {**params, "limit": str(PAGE), "raw_json": "1"}
            if after:
                page["after"] = after
            body = self.http.get_json(path, params=page)
            data = body.get("data") if isinstance(body, dict) else None
            if not isinstance(data, dict) or not isinstance(data.get("children"), list):
                raise SourceError("reddit: the answer is not a Listing")
            reached = False
            for child in data["children"]:
                item = child.get("data") if isinstance(child, dict) else None
                try:
                    created = float(item["created_utc"])  # type: ignore[index]
                except (KeyError, TypeError, ValueError):
                    rejects.append(Reject(verbatim(child), "a listing item without created_utc"))
                    continue
                if since is not None and created <= since:
                    reached = True
                    continue
                newest = created if newest is None else max(newest, created)
                try:
                    rows.append(self._row(item))  # type: ignore[arg-type]
                except (KeyError, TypeError, ValueError) as e:
                    rejects.append(Reject(verbatim(child), f"not a Reddit post (missing {e})"))
            after = data.get("after")
            if reached or not after or not data["children"]:
                break
        rows.reverse()  # oldest first
        return Batch(rows, rejects, None if newest is None else repr(newest))

    def _row(self, d: dict[str, Any]) -> dict[str, Any]:
        text = "\n\n".join(t for t in (d["title"], html_text(d.get("selftext") or "")) if t)
        parent = d.get("crosspost_parent")
        return post_row(
            "reddit", str(d["name"]), author_handle=str(d["author"]),
            created_at=from_unix(d["created_utc"]), text=text, raw=d, source=self.name,
            reshare_of_post_id=f"reddit:{parent}" if parent else None,
            likes=max(int(d.get("ups") or 0), 0), replies=d.get("num_comments"),
            reshares=d.get("num_crossposts"),
            url=f"https://www.reddit.com{d['permalink']}" if d.get("permalink") else d.get("url"),
        )  # fmt: skip

    def close(self) -> None:
        self.http.close()
        self.auth.close()


__all__ = ["RedditSource"]
