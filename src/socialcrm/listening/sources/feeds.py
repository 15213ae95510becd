"""RSS and Atom feeds (blogs, news, review sites, video channels), read with feedparser.

A conditional GET saves the service and us work: the cursor keeps the feed's ``ETag``
and ``Last-Modified`` and sends them back as ``If-None-Match`` / ``If-Modified-Since``;
a ``304 Not Modified`` adds nothing. An entry's id is its ``id`` (Atom ``<id>``, RSS
``<guid>``), else its link; entries already stored are counted as duplicates by the
ingestion, so a feed that ignores conditional requests still adds each entry once. A
feed cannot be searched: the collector keeps the entries its query matches.
"""

from __future__ import annotations

import calendar
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import feedparser
import httpx

from socialcrm.listening.sources.base import (
    Batch,
    Http,
    Reject,
    SourceError,
    SourceQuery,
    dump_cursor,
    html_text,
    load_cursor,
    post_row,
    verbatim,
)


class FeedSource:
    """One RSS or Atom feed at a URL."""

    platform = "web"

    def __init__(
        self,
        url: str,
        transport: httpx.BaseTransport | None = None,
        *,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        self.url = url
        self.name = f"rss:{url}"
        kw: dict[str, Any] = {"sleep": sleep} if sleep is not None else {}
        self.http = Http(url, transport, who="feed", **kw)

    def fetch(self, query: SourceQuery, cursor: str | None) -> Batch:
        state = load_cursor(cursor)
        headers = {"Accept": "application/atom+xml, application/rss+xml, application/xml;q=0.9"}
        if state.get("etag"):
            headers["If-None-Match"] = str(state["etag"])
        if state.get("modified"):
            headers["If-Modified-Since"] = str(state["modified"])
        r = self.http.request("GET", "", headers=headers, ok=(304,))
        if r.status_code == 304:
            return Batch([], [], cursor)
        parsed = feedparser.parse(r.content, response_headers={
            "content-type": r.headers.get("content-type", "application/xml"),
            "content-location": self.url})  # fmt: skip
        if parsed.bozo and not parsed.entries:
            raise SourceError(f"feed: not a readable feed ({type(parsed.bozo_exception).__name__})")
        site = httpx.URL(self.url).host
        feed_author = parsed.feed.get("author") or parsed.feed.get("title") or site
        rows, rejects = [], []
        for e in parsed.entries:
            native = e.get("id") or e.get("link")
            when = e.get("published_parsed") or e.get("updated_parsed")
            title = html_text(e.get("title") or "")
            body = html_text(e.get("summary") or "")
            text = f"{title} — {body}" if title and body and body != title else title or body
            raw = {k: v for k, v in e.items() if not k.endswith("_parsed")}
            if not native:
                rejects.append(Reject(verbatim(raw), "an entry without id or link"))
                continue
            if when is None:
                rejects.append(Reject(verbatim(raw), "an entry without a date"))
                continue
            if not text:
                rejects.append(Reject(verbatim(raw), "an entry without title or text"))
                continue
            created = datetime.fromtimestamp(calendar.timegm(when), UTC)
            rows.append(post_row(
                "web", str(native), author_handle=str(e.get("author") or feed_author),
                created_at=created, text=text, raw=raw, source=self.name,
                lang=(parsed.feed.get("language") or "").split("-")[0].lower() or None,
                author_name=e.get("author") or parsed.feed.get("title") or None,
                url=e.get("link"),
            ))  # fmt: skip
        got = {"etag": r.headers.get("etag"), "modified": r.headers.get("last-modified")}
        new_state = {k: v for k, v in got.items() if v}
        return Batch(rows, rejects, dump_cursor(new_state) or cursor)

    def close(self) -> None:
        self.http.close()


__all__ = ["FeedSource"]
