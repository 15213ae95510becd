"""Listening sources: each an adapter behind one small interface (see :mod:`.base`),
named by a spec ``kind:where`` as a saved query lists them.

==============  ==============================================  =========================
kind            where                                           reads
==============  ==============================================  =========================
``mastodon``    an instance's base URL                          hashtag timelines, search
``bluesky``     an AppView or PDS base URL                      ``searchPosts``
``jetstream``   a Jetstream ``wss://`` URL                      the live post stream
``rss``         a feed URL (``atom`` is the same)               RSS and Atom entries
``reddit``      ``https://oauth.reddit.com[/r/<sub>]``          search or a subreddit
``hackernews``  ``https://hn.algolia.com``                      stories and comments
``file``        a JSON-lines path                               ``posts`` rows
==============  ==============================================  =========================

>>> parse_spec("mastodon:https://mastodon.social")
('mastodon', 'https://mastodon.social')
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
from pydantic import SecretStr

from socialcrm.config import Settings
from socialcrm.listening.sources.base import (
    Batch,
    Reject,
    Source,
    SourceError,
    SourceQuery,
)

KINDS = ("mastodon", "bluesky", "jetstream", "rss", "atom", "reddit", "hackernews", "file")


def parse_spec(spec: str) -> tuple[str, str]:
    """``(kind, where)`` of a source spec; a ``SourceError`` names the kinds if unknown."""
    kind, sep, where = spec.partition(":")
    kind = kind.strip().lower()
    if not sep or kind not in KINDS or not where.strip():
        raise SourceError(
            f"unknown source {spec!r}; use kind:URL with kind one of {', '.join(KINDS)}",
            retryable=False,
        )
    return kind, where.strip()


def _secret(value: SecretStr | None) -> str | None:
    return value.get_secret_value() if value is not None else None


def _same_host(a: str | None, b: str) -> bool:
    return bool(a) and httpx.URL(a or "").host == httpx.URL(b).host


def open_source(
    spec: str,
    settings: Settings,
    transport: httpx.BaseTransport | None = None,
    *,
    sleep: Callable[[float], None] | None = None,
) -> Source:
    """The adapter for ``spec``, with credentials from ``settings`` where the service
    needs them (a Mastodon token only for its own instance)."""
    from socialcrm.listening.sources.bluesky import BlueskySearch, Jetstream
    from socialcrm.listening.sources.feeds import FeedSource
    from socialcrm.listening.sources.files import FileSource
    from socialcrm.listening.sources.hackernews import HackerNewsSource
    from socialcrm.listening.sources.mastodon import MastodonSource
    from socialcrm.listening.sources.reddit import RedditSource

    kind, where = parse_spec(spec)
    kw: dict[str, Any] = {"sleep": sleep} if sleep is not None else {}
    pages = settings.listen_max_pages
    match kind:
        case "mastodon":
            own = _same_host(settings.mastodon_url, where)
            token = _secret(settings.mastodon_token) if own else None
            return MastodonSource(where, transport, token=token, max_pages=pages, **kw)
        case "bluesky":
            return BlueskySearch(where, transport, handle=settings.bluesky_handle,
                                 app_password=_secret(settings.bluesky_app_password),
                                 max_pages=pages, **kw)  # fmt: skip
        case "jetstream":
            return Jetstream(where, transport, **kw)
        case "rss" | "atom":
            return FeedSource(where, transport, **kw)
        case "reddit":
            return RedditSource(where, transport, client_id=settings.reddit_client_id,
                                client_secret=_secret(settings.reddit_client_secret),
                                max_pages=pages, **kw)  # fmt: skip
        case "hackernews":
            return HackerNewsSource(where, transport, max_pages=pages, **kw)
        case _:
            return FileSource(where)


__all__ = [
    "KINDS",
    "Batch",
    "Reject",
    "Source",
    "SourceError",
    "SourceQuery",
    "open_source",
    "parse_spec",
]
