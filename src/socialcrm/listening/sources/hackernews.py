"""Hacker News, through its public Algolia search API (hn.algolia.com/api).

``GET /api/v1/search_by_date?query=…&tags=(story,comment)&numericFilters=created_at_i>N
&hitsPerPage=…&page=…`` answers ``{"hits": [...], "page", "nbPages", "hitsPerPage"}``,
newest first. The query's terms go as ``query`` with every word in ``optionalWords``,
so a hit needs any of them (the collector keeps what the query matches); the cursor is
the newest ``created_at_i`` seen, so the next run asks only for later items.
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


class HackerNewsSource:
    """Stories and comments on Hacker News."""

    platform = "hackernews"

    def __init__(
        self,
        base_url: str = "https://hn.algolia.com",
        transport: httpx.BaseTransport | None = None,
        *,
        max_pages: int = DEFAULT_MAX_PAGES,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        self.name = f"hackernews:{base_url.rstrip('/')}"
        self.max_pages = max_pages
        kw: dict[str, Any] = {"sleep": sleep} if sleep is not None else {}
        self.http = Http(base_url, transport, who="hackernews", **kw)

    def fetch(self, query: SourceQuery, cursor: str | None) -> Batch:
        since = int(cursor) if cursor and cursor.isdigit() else None
        words = " ".join(t.lstrip("#@").strip('"') for t in query.searches)
        params = {"query": words, "optionalWords": words, "tags": "(story,comment)",
                  "hitsPerPage": str(PAGE)}  # fmt: skip
        if since is not None:
            params["numericFilters"] = f"created_at_i>{since}"
        newest = since
        rows: list[dict[str, Any]] = []
        rejects: list[Reject] = []
        for page in range(self.max_pages):
            asked = {**params, "page": str(page)}
            body = self.http.get_json("/api/v1/search_by_date", params=asked)
            hits = body.get("hits") if isinstance(body, dict) else None
            if not isinstance(hits, list):
                raise SourceError("hackernews: the answer has no hits")
            for h in hits:
                try:
                    row = self._row(h)
                except (KeyError, TypeError, ValueError, AttributeError) as e:
                    rejects.append(Reject(verbatim(h), f"not a Hacker News item ({_why(e)})"))
                    continue
                rows.append(row)
                at = int(h["created_at_i"])
                newest = at if newest is None else max(newest, at)
            if page + 1 >= int(body.get("nbPages") or 0) or not hits:
                break
        rows.reverse()
        return Batch(rows, rejects, None if newest is None else str(newest))

    def _row(self, h: dict[str, Any]) -> dict[str, Any]:
        object_id = str(h["objectID"])
        text = h.get("title") or ""
        body = html_text(h.get("comment_text") or h.get("story_text") or "")
        text = f"{text} — {body}" if text and body else text or body
        if not text:
            raise ValueError("no title or text")
        parent = h.get("parent_id")
        return post_row(
            "hackernews", object_id, author_handle=str(h["author"]),
            created_at=from_unix(int(h["created_at_i"])), text=text, raw=h, source=self.name,
            reply_to_post_id=f"hackernews:{parent}" if parent else None,
            likes=h.get("points"), replies=h.get("num_comments"),
            url=h.get("url") or f"https://news.ycombinator.com/item?id={object_id}",
        )  # fmt: skip

    def close(self) -> None:
        self.http.close()


def _why(e: Exception) -> str:
    return f"missing {e}" if isinstance(e, KeyError) else str(e) or type(e).__name__


__all__ = ["HackerNewsSource"]
