"""Each listening source against recorded responses shaped like its documented API:
pagination, a 429 with ``Retry-After`` (the wait asked for, not slept), a malformed item
(rejected with a reason, the rest kept), and a second run that adds nothing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from socialcrm.listening.sources import SourceError, SourceQuery
from socialcrm.listening.sources.base import Http
from socialcrm.listening.sources.bluesky import BlueskySearch
from socialcrm.listening.sources.feeds import FeedSource
from socialcrm.listening.sources.files import FileSource
from socialcrm.listening.sources.hackernews import HackerNewsSource
from socialcrm.listening.sources.mastodon import MastodonSource
from socialcrm.listening.sources.reddit import RedditSource
from socialcrm.outbound.urls import GuardedTransport, OutboundURLError
from tests.listening.sources import fakes

COFFEE = SourceQuery(("coffee", "#coffee"))


class Sleeps(list[float]):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def ids(rows: list[dict[str, Any]]) -> list[str]:
    return [r["post_id"] for r in rows]


# -- Mastodon ---------------------------------------------------------------------------
def test_mastodon_pages_back_then_forward_and_adds_nothing_twice() -> None:
    fake = fakes.Mastodon([fakes.mastodon_status(n, f"coffee #{n}") for n in range(1, 96)])
    src = MastodonSource("https://social.example", httpx.MockTransport(fake), sleep=Sleeps())
    first = src.fetch(SourceQuery(("#coffee",)), None)
    assert len(first.rows) == 95 and not first.rejects  # 40 + 40 + 15 by Link rel="next"
    assert [r.url.params.get("max_id") for r in fake.requests][1:] == [
        str(109_000_000_000_000_000 + 56),
        str(109_000_000_000_000_000 + 16),
    ]
    row = first.rows[-1]
    assert row["post_id"] == "mastodon:social.example/109000000000000095"
    assert row["author_handle"] == "user4@social.example" and row["author_name"] == "User 4"
    assert row["author_followers"] == 40 and row["text"] == "coffee #95"
    assert json.loads(row["raw_payload"])["id"] == "109000000000000095"
    again = src.fetch(SourceQuery(("#coffee",)), first.next_cursor)
    assert again.rows == [] and fake.requests[-1].url.params["min_id"].endswith("95")
    fake.statuses += [fakes.mastodon_status(n, "more coffee") for n in range(96, 141)]
    later = src.fetch(SourceQuery(("#coffee",)), first.next_cursor)  # 45 new: two pages forward
    assert len(later.rows) == 45 and ids(later.rows)[0].endswith("96")


def test_mastodon_waits_as_told_by_429_and_rejects_a_malformed_status() -> None:
    bad = fakes.mastodon_status(3, "coffee")
    del bad["account"]
    fake = fakes.Mastodon([fakes.mastodon_status(1, "coffee"), bad, fakes.mastodon_status(2, "x")])
    fake.throttle = [{"Retry-After": "7"}]
    sleeps = Sleeps()
    batch = MastodonSource("https://social.example", httpx.MockTransport(fake), sleep=sleeps).fetch(
        SourceQuery(("#coffee",)), None
    )
    assert sleeps == [7.0]
    assert len(batch.rows) == 2 and len(batch.rejects) == 1
    assert "account" in batch.rejects[0].reason
    assert json.loads(batch.rejects[0].raw)["id"] == bad["id"]  # verbatim


def test_mastodon_links_replies_and_boosts_to_their_originals() -> None:
    original = fakes.mastodon_status(1, "coffee")
    reply = fakes.mastodon_status(2, "coffee too", in_reply_to_id=original["id"])
    boost = fakes.mastodon_status(3, "", reblog=original)
    fake = fakes.Mastodon([reply, boost])
    rows = (
        MastodonSource("https://social.example", httpx.MockTransport(fake))
        .fetch(SourceQuery(("#coffee",)), None)
        .rows
    )
    by_id = {r["post_id"].rsplit("/", 1)[1][-1]: r for r in rows}
    assert by_id["2"]["reply_to_post_id"] == "mastodon:social.example/" + original["id"]
    assert by_id["3"]["reshare_of_post_id"] == "mastodon:social.example/" + original["id"]
    assert by_id["3"]["text"] == "coffee" and "1" in by_id  # the original is a row too


def test_mastodon_search_needs_a_token_words_alone_are_refused() -> None:
    fake = fakes.Mastodon([fakes.mastodon_status(1, "coffee")])
    with pytest.raises(SourceError, match="token"):
        MastodonSource("https://social.example", httpx.MockTransport(fake)).fetch(
            SourceQuery(("coffee",)), None
        )
    rows = (
        MastodonSource("https://social.example", httpx.MockTransport(fake), token="t")
        .fetch(SourceQuery(("coffee",)), None)
        .rows
    )
    assert len(rows) == 1
    assert fake.requests[-1].url.path == "/api/v2/search"
    assert fake.requests[-1].url.params["type"] == "statuses"


# -- Bluesky ----------------------------------------------------------------------------
def test_bluesky_search_pages_by_cursor_waits_rejects_and_then_adds_nothing() -> None:
    posts = [fakes.bluesky_post(n, f"coffee {n}") for n in range(1, 251)]
    posts.insert(5, {"cid": "bafy-no-uri", "record": {"text": "coffee"}})  # malformed
    reply = fakes.bluesky_post(
        300,
        "coffee reply",
        reply={
            "root": {"uri": posts[0]["uri"], "cid": "c"},
            "parent": {"uri": posts[0]["uri"], "cid": "c"},
        },
    )
    fake = fakes.Bluesky([*posts, reply])
    fake.throttle = [{"Retry-After": "3", "RateLimit-Remaining": "0"}]
    sleeps = Sleeps()
    src = BlueskySearch("https://public.api.bsky.app", httpx.MockTransport(fake), sleep=sleeps)
    first = src.fetch(SourceQuery(("coffee",)), None)
    assert sleeps == [3.0]
    assert len(first.rows) == 251 and len(first.rejects) == 1
    assert "uri" in first.rejects[0].reason
    assert [r.url.params.get("cursor") for r in fake.requests if r.url.params.get("cursor")] == [
        "100",
        "200",
    ]
    by_text = {r["text"]: r for r in first.rows}
    assert by_text["coffee reply"]["reply_to_post_id"] == "bluesky:" + posts[0]["uri"]
    assert by_text["coffee 7"]["author_handle"] == "user2.bsky.social"
    second = src.fetch(SourceQuery(("coffee",)), first.next_cursor)
    assert fake.requests[-1].url.params["since"] == reply["indexedAt"]
    assert ids(second.rows) == ["bluesky:" + reply["uri"]]  # `since` is inclusive


def test_bluesky_logs_in_with_an_app_password_where_the_host_requires_it() -> None:
    fake = fakes.Bluesky([fakes.bluesky_post(1, "coffee")], require_auth=True)
    with pytest.raises(SourceError, match="app password"):
        BlueskySearch("https://pds.example", httpx.MockTransport(fake)).fetch(COFFEE, None)
    src = BlueskySearch(
        "https://pds.example",
        httpx.MockTransport(fake),
        handle="brand.bsky.social",
        app_password="app-pass-1234",
    )
    assert len(src.fetch(SourceQuery(("coffee",)), None).rows) == 1
    assert fake.requests[-2].url.path == "/xrpc/com.atproto.server.createSession"


# -- Reddit -----------------------------------------------------------------------------
def test_reddit_client_credentials_pages_with_after_and_a_second_run_adds_nothing() -> None:
    links = [fakes.reddit_link(n, f"Best coffee grinder {n}") for n in range(1, 231)]
    links.insert(3, {"kind": "t3", "data": {"title": "coffee", "name": "t3_broken"}})
    fake = fakes.Reddit(links)
    fake.throttle = [{"x-ratelimit-remaining": "0", "x-ratelimit-reset": "12"}]
    sleeps = Sleeps()
    src = RedditSource(
        "https://oauth.reddit.com",
        httpx.MockTransport(fake),
        client_id="app-id",
        client_secret="app-secret",
        sleep=sleeps,
    )
    first = src.fetch(COFFEE, None)
    assert fake.requests[0].url.host == "www.reddit.com"  # the token from www, the rest oauth.
    assert sleeps == [12.0]  # 429 without Retry-After: x-ratelimit-reset says when
    assert len(first.rows) == 230 and len(first.rejects) == 1
    assert "created_utc" in first.rejects[0].reason
    afters = [r.url.params.get("after") for r in fake.requests if r.url.path == "/search"]
    assert afters[-2:] == ["t3_x00131", "t3_x00031"]
    assert first.rows[-1]["post_id"] == "reddit:t3_x00230"
    assert src.fetch(COFFEE, first.next_cursor).rows == []
    fake.links.append(fakes.reddit_link(400, "coffee again"))
    assert ids(src.fetch(COFFEE, first.next_cursor).rows) == ["reddit:t3_x00400"]


def test_reddit_subreddit_listing_and_missing_credentials() -> None:
    fake = fakes.Reddit([fakes.reddit_link(1, "hello", sub="espresso"), fakes.reddit_link(2, "x")])
    with pytest.raises(SourceError, match="REDDIT_CLIENT_ID"):
        RedditSource("https://oauth.reddit.com/r/espresso", httpx.MockTransport(fake)).fetch(
            COFFEE, None
        )
    rows = (
        RedditSource(
            "https://oauth.reddit.com/r/espresso",
            httpx.MockTransport(fake),
            client_id="app-id",
            client_secret="app-secret",
        )
        .fetch(COFFEE, None)
        .rows
    )
    assert ids(rows) == ["reddit:t3_x00001"] and fake.requests[-1].url.path == "/r/espresso/new"


# -- Hacker News ------------------------------------------------------------------------
def test_hackernews_pages_filters_by_time_waits_and_rejects() -> None:
    hits = [fakes.hn_hit(n, f"Coffee startup {n}", comment=n % 3 == 0) for n in range(1, 151)]
    hits.insert(10, {"objectID": "1", "title": "coffee"})  # no author, no time
    fake = fakes.HackerNews(hits)
    fake.throttle = [{"Retry-After": "2"}]
    sleeps = Sleeps()
    src = HackerNewsSource("https://hn.algolia.com", httpx.MockTransport(fake), sleep=sleeps)
    first = src.fetch(SourceQuery(("coffee",)), None)
    assert sleeps == [2.0] and len(first.rows) == 150 and len(first.rejects) == 1
    assert [r.url.params["page"] for r in fake.requests[1:]] == ["0", "1"]
    comment = next(r for r in first.rows if r["post_id"] == "hackernews:40000003")
    assert comment["reply_to_post_id"] == "hackernews:40000000"
    assert comment["text"] == "Coffee startup 3"
    assert src.fetch(SourceQuery(("coffee",)), first.next_cursor).rows == []
    assert fake.requests[-1].url.params["numericFilters"] == f"created_at_i>{first.next_cursor}"


# -- feeds ------------------------------------------------------------------------------
def test_rss_conditional_get_and_a_dateless_item_rejected() -> None:
    undated = "<item><title>coffee without a date</title><guid>post-x</guid></item>"
    fake = fakes.Feed(fakes.rss([(1, "Coffee one"), undated, (2, "Coffee two")]))
    fake.throttle = [{"Retry-After": "4"}]
    sleeps = Sleeps()
    src = FeedSource("https://blog.example/feed.xml", httpx.MockTransport(fake), sleep=sleeps)
    first = src.fetch(COFFEE, None)
    assert sleeps == [4.0]
    assert ids(first.rows) == ["web:post-1", "web:post-2"]
    assert first.rows[0]["text"] == "Coffee one — Notes on Coffee one"
    assert first.rows[0]["lang"] == "en"
    assert len(first.rejects) == 1 and "date" in first.rejects[0].reason
    second = src.fetch(COFFEE, first.next_cursor)
    assert fake.requests[-1].headers["if-none-match"] == fake.etag
    assert "if-modified-since" in fake.requests[-1].headers
    assert second.rows == [] and second.next_cursor == first.next_cursor  # 304


def test_atom_entries() -> None:
    fake = fakes.Feed(fakes.atom([(1, "Coffee review"), (2, "Tea")]), "application/atom+xml")
    rows = (
        FeedSource("https://video.example/feed", httpx.MockTransport(fake)).fetch(COFFEE, None).rows
    )
    assert ids(rows) == ["web:urn:uuid:entry-1", "web:urn:uuid:entry-2"]
    assert rows[0]["author_handle"] == "Channel 1"


# -- the HTTP client ----------------------------------------------------------------------
def test_backoff_with_jitter_on_5xx_then_gives_up_in_words() -> None:
    calls = []

    def down(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(503)

    sleeps = Sleeps()
    http = Http(
        "https://x.example",
        httpx.MockTransport(down),
        who="svc",
        retries=3,
        sleep=sleeps,
        jitter=lambda: 0.5,
    )
    with pytest.raises(SourceError, match="HTTP 503 after 4 tries"):
        http.request("GET", "/")
    assert len(calls) == 4 and sleeps == [0.75, 1.5, 3.0]  # half fixed, half jitter


def test_a_wait_too_long_is_not_slept_and_mastodon_reset_time_is_read() -> None:
    sleeps = Sleeps()
    http = Http(
        "https://x.example",
        httpx.MockTransport(
            lambda r: httpx.Response(
                200,
                json=[],
                headers={
                    "X-RateLimit-Remaining": "0",
                    "X-RateLimit-Reset": "2026-12-07T10:00:30.000Z",
                },
            )
        ),
        who="svc",
        sleep=sleeps,
        clock=lambda: 1796637600.0,
    )
    http.request("GET", "/")  # 2026-12-07T10:00:00Z now: the window resets in 30 s
    assert sleeps == [30.0]
    slow = Http(
        "https://x.example",
        httpx.MockTransport(lambda r: httpx.Response(429, headers={"Retry-After": "3600"})),
        who="svc",
        sleep=sleeps,
    )
    with pytest.raises(SourceError, match="rate limited"):
        slow.request("GET", "/")


def test_private_and_metadata_addresses_are_refused() -> None:
    http = Http("http://169.254.169.254", None, who="svc", retries=0)
    with pytest.raises(OutboundURLError):
        http.request("GET", "/latest/meta-data/")
    assert isinstance(http.client._transport, GuardedTransport)


def test_files_read_new_lines_only_and_reject_what_is_not_json(tmp_path: Path) -> None:
    path = tmp_path / "posts.jsonl"
    row = {"post_id": "p1", "platform": "mastodon", "author_handle": "a@b.example",
           "created_at": "2026-11-02T09:00:00Z", "text": "coffee"}  # fmt: skip
    path.write_text(json.dumps(row) + "\n{not json\n")
    src = FileSource(path)
    first = src.fetch(COFFEE, None)
    assert ids(first.rows) == ["p1"] and first.rows[0]["source"] == f"file:{path}"
    assert [r.reason for r in first.rejects] == ["not JSON"] and first.next_cursor == "2"
    assert src.fetch(COFFEE, first.next_cursor).rows == []
    with path.open("a") as f:
        f.write(json.dumps(row | {"post_id": "p2"}) + "\n")
    assert ids(src.fetch(COFFEE, first.next_cursor).rows) == ["p2"]
