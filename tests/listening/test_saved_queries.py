"""Saved queries in the app database, and what the pipeline and the preview do with them."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pyarrow as pa
import pytest

from socialcrm.appdb.db import AppDB
from socialcrm.config import Settings
from socialcrm.listening import saved_queries as sq
from socialcrm.listening.query_language import parse


@pytest.fixture
def db(tmp_path: Path) -> AppDB:
    return AppDB(f"sqlite:///{tmp_path / 'app.db'}")


def test_sources_are_checked_and_normalised() -> None:
    assert sq.parse_source("Mastodon:https://mastodon.social/") == (
        "mastodon", "https://mastodon.social")  # fmt: skip
    assert sq.parse_source("file:/tmp/posts.jsonl") == ("file", "/tmp/posts.jsonl")
    for bad in ("mastodon", "ftp:https://x", "rss:ftp://example.com/feed",
                "reddit:https://", "bluesky:javascript:alert(1)", "file:"):  # fmt: skip
        with pytest.raises(sq.SavedQueryError):
            sq.parse_source(bad)


def test_add_get_edit_remove(db: AppDB) -> None:
    with db.session() as s:
        q = sq.add_query(s, " coffee ", "coffee -decaf",
                         ["mastodon:https://mastodon.social", "mastodon:https://mastodon.social/"],
                         lang="EN", actor="ana@x.io")  # fmt: skip
    assert (q.name, q.lang, q.sources) == ("coffee", "en", ("mastodon:https://mastodon.social",))
    assert q.query().matches("Coffee!", lang="en") and not q.query().matches("Coffee!", lang="de")
    with db.session() as s:
        assert sq.get_query(s, "coffee") == q
        with pytest.raises(KeyError) as e:
            sq.get_query(s, "tea")
        assert str(e.value) == "no saved query is named 'tea'"
        with pytest.raises(sq.SavedQueryError, match="already exists"):
            sq.add_query(s, "coffee", "tea", ["rss:https://example.com/f.xml"])
        with pytest.raises(sq.SavedQueryError, match="at least one source"):
            sq.add_query(s, "tea", "tea", [])
        with pytest.raises(sq.SavedQueryError, match="position"):
            sq.add_query(s, "tea", "tea OR", ["rss:https://example.com/f.xml"])
        same = sq.edit_query(s, "coffee", terms="coffee -decaf", actor="ana@x.io")
        assert same == q  # nothing changed: nothing audited
        q2 = sq.edit_query(s, "coffee", lang=None, needs_response=True, new_name="beans")
        assert (q2.name, q2.lang, q2.needs_response) == ("beans", None, True)
        assert [x.name for x in sq.list_queries(s)] == ["beans"]
        sq.remove_query(s, "beans")
        assert sq.list_queries(s) == []


def test_saved_queries_of_reads_the_workspace_app_database(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "ws")
    db = AppDB(settings.resolved_database_url)
    with db.session() as s:
        sq.add_query(s, "lamp", "aurora", ["bluesky:https://public.api.bsky.app"])
    db.close()
    assert [q.name for q in sq.saved_queries_of(settings)] == ["lamp"]


def test_match_batch_uses_the_posts_language_else_the_detected_one() -> None:
    saved = [sq.SavedQuery(1, "en", "coffee", (), "en", False),
             sq.SavedQuery(2, "any", "coffee OR @acme", (), None, True)]  # fmt: skip
    posts = pa.table({"post_id": ["a", "b", "c", "d"],
                      "text": ["coffee", "Coffee", "café", "hello"],
                      "lang": ["en", None, "de", None],
                      "author_handle": [None, None, None, "acme"]})  # fmt: skip
    enriched = pa.table({"lang_detected": ["de", "en", "en", "en"]})
    got = sq.match_batch(saved, posts, enriched).to_pylist()
    assert sorted((r["post_id"], r["query"]) for r in got) == [
        ("a", "any"), ("a", "en"), ("b", "any"), ("b", "en"), ("d", "any")]  # fmt: skip
    assert sq.match_batch([], posts, enriched).num_rows == 0


def test_preview_counts_by_source_and_day_and_pages() -> None:
    n = 45
    posts = pa.table({
        "post_id": [f"p{i}" for i in range(n)],
        "text": [f"#aurora lamp number {i}" if i % 3 else f"other {i}" for i in range(n)],
        "platform": ["mastodon" if i % 2 else "bluesky" for i in range(n)],
        "day": [date(2025, 1, 1 + i % 5) for i in range(n)],
    })  # fmt: skip
    pv = sq.preview(parse("#aurora"), posts, page=2, page_size=20)
    expected = [i for i in range(n) if i % 3]
    assert pv.total == len(expected) == 30 and pv.scanned == n
    assert dict(pv.by_source) == {"mastodon": 15, "bluesky": 15}
    assert [d for d, _ in pv.by_day] == [f"2025-01-0{k}" for k in range(1, 6)]
    assert sum(c for _, c in pv.by_day) == 30
    assert (pv.page, pv.pages, len(pv.items)) == (2, 2, 10)
    assert [x["post_id"] for x in pv.items] == [f"p{i}" for i in expected[20:]]
    assert sq.preview(parse("zebra"), posts).total == 0


def test_a_query_may_name_a_jetstream_stream_by_its_websocket_address() -> None:
    from socialcrm.listening.saved_queries import SavedQueryError, parse_source

    url = "wss://jetstream2.us-east.bsky.network/subscribe"
    assert parse_source(f"jetstream:{url}") == ("jetstream", url)
    with pytest.raises(SavedQueryError, match="must be a ws:// or wss:// URL"):
        parse_source("jetstream:https://jetstream.example")
    with pytest.raises(SavedQueryError, match="must be an http:// or https:// URL"):
        parse_source("mastodon:wss://mastodon.example")
