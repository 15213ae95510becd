"""Mastodon, any instance: hashtag timelines (public) and status search (with a token).

The documented API (docs.joinmastodon.org/methods/timelines, /methods/search):

- ``GET /api/v1/timelines/tag/:hashtag?limit=40`` — public, newest first;
- ``GET /api/v2/search?q=…&type=statuses&limit=40`` — needs a user token;
- paging by the ``Link`` header: ``rel="next"`` carries ``max_id`` (older),
  ``rel="prev"`` carries ``min_id`` (newer); ``min_id`` returns the statuses just
  after it, so an incremental run walks forward from the newest id seen.

The cursor keeps the newest status id per stream (one stream per hashtag and per search
term). Status ids are local to an instance, so a post id is
``mastodon:<instance>/<id>``: the same id on two instances is two posts, and a reply
links to its original on the same instance.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import httpx

from socialcrm.listening.sources.base import (
    DEFAULT_MAX_PAGES,
    Batch,
    Http,
    Reject,
    SourceError,
    SourceQuery,
    dump_cursor,
    html_text,
    link_params,
    load_cursor,
    post_row,
    verbatim,
)

PAGE = 40  # the API's maximum for both endpoints
_DOMAIN = re.compile(r"\.[a-z]{2,}$")


def _id_order(i: str) -> tuple[int, str]:
    return (len(i), i)  # numeric strings: longer is newer


class MastodonSource:
    """Statuses from one Mastodon instance."""

    platform = "mastodon"

    def __init__(
        self,
        base_url: str,
        transport: httpx.BaseTransport | None = None,
        *,
        token: str | None = None,
        max_pages: int = DEFAULT_MAX_PAGES,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        self.name = f"mastodon:{base_url.rstrip('/')}"
        self.instance = httpx.URL(base_url).host
        self.max_pages = max_pages
        self.token = token
        headers = {"Authorization": f"Bearer {token}"} if token else None
        kw: dict[str, Any] = {"sleep": sleep} if sleep is not None else {}
        self.http = Http(base_url, transport, who="mastodon", headers=headers, **kw)

    def fetch(self, query: SourceQuery, cursor: str | None) -> Batch:
        streams: list[tuple[str, str, dict[str, str]]] = [
            (f"tag:{t.lower()}", f"/api/v1/timelines/tag/{quote(t, safe='')}", {})
            for t in query.hashtags
        ]
        words = [t for t in query.searches if not t.startswith("#")]
        if words and self.token:
            search = {"type": "statuses", "resolve": "false"}
            streams += [(f"search:{w}", "/api/v2/search", {"q": w, **search}) for w in words]
        if not streams:
            raise SourceError(
                "mastodon: without a token only hashtags can be followed; add a #hashtag "
                "to the query or set SOCIALCRM_MASTODON_TOKEN",
                retryable=False,
            )
        positions = load_cursor(cursor)
        seen: dict[str, dict[str, Any]] = {}
        rejects: list[Reject] = []
        for key, path, params in streams:
            newest = self._stream(path, params, positions.get(key), seen, rejects)
            if newest is not None:
                positions[key] = newest
        rows: list[dict[str, Any]] = []
        for st in sorted(seen.values(), key=lambda s: _id_order(str(s["id"]))):
            try:
                rows += self._rows(st)
            except (KeyError, TypeError, ValueError, AttributeError) as e:
                rejects.append(Reject(verbatim(st), f"not a Mastodon status ({_why(e)})"))
        return Batch(rows, rejects, dump_cursor(positions))

    def _stream(
        self,
        path: str,
        params: dict[str, str],
        since: str | None,
        seen: dict[str, dict[str, Any]],
        rejects: list[Reject],
    ) -> str | None:
        """Read one stream; return its newest id (None: nothing seen)."""
        newest = since
        page_params: dict[str, str] = {"min_id": since} if since else {}
        for _ in range(self.max_pages):
            r = self.http.request("GET", path, params={**params, "limit": str(PAGE), **page_params})
            try:
                body = r.json()
            except ValueError as e:
                raise SourceError("mastodon: the answer is not JSON") from e
            page = body.get("statuses", []) if isinstance(body, dict) else body
            if not isinstance(page, list):
                raise SourceError("mastodon: the answer is not a list of statuses")
            good = []
            for st in page:
                if isinstance(st, dict) and isinstance(st.get("id"), str | int):
                    good.append(st)
                else:
                    rejects.append(Reject(verbatim(st), "a status without an id"))
            for st in good:
                seen.setdefault(str(st["id"]), st)
                if newest is None or _id_order(str(st["id"])) > _id_order(newest):
                    newest = str(st["id"])
            if not page:
                break
            if since:  # forward from the cursor: the page's newest is the next min_id
                nxt = link_params(r, "prev").get("min_id") or max(
                    (str(s["id"]) for s in good), key=_id_order, default=None
                )
                if not nxt:
                    break
                page_params = {"min_id": nxt}
            else:  # first run: back in time, bounded by max_pages
                older = link_params(r, "next").get("max_id")
                if not older:
                    if path.startswith("/api/v2/search") and good:
                        older = min((str(s["id"]) for s in good), key=_id_order)
                    else:
                        break
                page_params = {"max_id": older}
            if len(page) < PAGE:
                break
        return newest

    def _pid(self, status_id: Any) -> str:
        return f"{self.instance}/{status_id}"

    def _rows(self, st: dict[str, Any]) -> list[dict[str, Any]]:
        """The status's row; a boost is a row that reshares the original (also a row)."""
        acct = str(st["account"]["acct"])
        # a local account's acct has no domain: add the instance's (not an IP address)
        local = "@" not in acct and _DOMAIN.search(self.instance)
        handle = f"{acct}@{self.instance}" if local else acct
        original = st.get("reblog")
        rows = self._rows(original) if isinstance(original, dict) else []
        text = html_text((original or st).get("content") or "")
        if not text and st.get("spoiler_text"):
            text = str(st["spoiler_text"])
        reply_to = st.get("in_reply_to_id")
        rows.append(
            post_row(
                "mastodon",
                self._pid(st["id"]),
                author_handle=handle,
                created_at=str(st["created_at"]),
                text=text,
                raw=st,
                source=self.name,
                lang=st.get("language"),
                reply_to_post_id=(f"mastodon:{self._pid(reply_to)}" if reply_to else None),
                reshare_of_post_id=(
                    f"mastodon:{self._pid(original['id'])}" if isinstance(original, dict) else None
                ),
                likes=st.get("favourites_count"),
                reshares=st.get("reblogs_count"),
                replies=st.get("replies_count"),
                author_followers=st["account"].get("followers_count"),
                author_name=st["account"].get("display_name") or None,
                url=st.get("url") or st.get("uri"),
            )
        )
        return rows

    def close(self) -> None:
        self.http.close()


def _why(e: Exception) -> str:
    return f"missing {e}" if isinstance(e, KeyError) else str(e) or type(e).__name__
