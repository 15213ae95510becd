"""``socialcrm listen collect``: its JSON contract, idempotent runs, a failing source that
does not stop the others, health kept per (query, source), and a crash between fetch and
commit that neither loses nor doubles a post (the cursor does not move)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from socialcrm.appdb.db import AppDB
from socialcrm.cli import app
from socialcrm.config import get_settings
from socialcrm.listening import collect as collecting
from socialcrm.store.workspace import Workspace
from tests.listening.sources import fakes

runner = CliRunner()


class World:
    def __init__(self, server: fakes.LocalServer, home: Path) -> None:
        self.server, self.home, self.url = server, home, server.url
        self.mastodon: fakes.Mastodon = server.routes["mastodon"]  # type: ignore[assignment]
        self.hn: fakes.HackerNews = server.routes["hn"]  # type: ignore[assignment]
        self.feed: fakes.Feed = server.routes["feed"]  # type: ignore[assignment]

    def sources(self) -> list[str]:
        return [f"mastodon:{self.url}/mastodon", f"hackernews:{self.url}/hn",
                f"rss:{self.url}/feed/coffee.xml"]  # fmt: skip

    def posts(self) -> list[dict[str, Any]]:
        with Workspace.open(get_settings()) as ws:
            if not ws.warehouse.exists("posts"):
                return []
            return ws.warehouse.read_arrow("posts").to_pylist()

    def rejects(self) -> list[dict[str, Any]]:
        with Workspace.open(get_settings()) as ws:
            return ws.warehouse.read_arrow("rejects").to_pylist()


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    statuses = [fakes.mastodon_status(n, f"Great coffee #{n}") for n in range(1, 51)]
    statuses.append(fakes.mastodon_status(60, "tea only, no match here"))
    statuses.append({"id": "109000000000000099", "content": "<p>coffee</p>"})  # malformed
    hits = [fakes.hn_hit(n, f"Coffee startup {n}") for n in range(1, 31)]
    feed = fakes.rss([(1, "Coffee in Vienna"), (2, "Tea in London")])
    routes = {"mastodon": fakes.Mastodon(statuses), "hn": fakes.HackerNews(hits),
              "feed": fakes.Feed(feed)}  # fmt: skip
    with fakes.LocalServer(routes) as server:  # type: ignore[arg-type]
        monkeypatch.setenv("SOCIALCRM_HOME", str(tmp_path / "ws"))
        monkeypatch.setenv("SOCIALCRM_OUTBOUND_ALLOW_HOSTS", "127.0.0.1")
        get_settings.cache_clear()
        try:
            w = World(server, tmp_path / "ws")
            add = ["listen", "query", "add", "coffee", "--terms", "coffee OR #coffee"]
            for s in w.sources():
                add += ["--source", s]
            r = runner.invoke(app, add)
            assert r.exit_code == 0, r.output
            yield w
        finally:
            get_settings.cache_clear()


def collect(*args: str) -> dict[str, Any]:
    r = runner.invoke(app, ["listen", "collect", *args, "--json"])
    assert r.exit_code == 0, r.output
    return json.loads(r.stdout)


def by_source(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    (q,) = doc["queries"]
    assert q["name"] == "coffee"
    return {s["source"].split(":", 1)[0]: s for s in q["sources"]}


def test_collect_json_contract_and_a_second_run_adds_nothing(world: World) -> None:
    doc = collect()
    for s in doc["queries"][0]["sources"]:
        assert {"source", "fetched", "new", "duplicates", "errors"} <= set(s)
    got = by_source(doc)
    assert got["mastodon"] | {"rejects": None} == {
        "source": f"mastodon:{world.url}/mastodon", "fetched": 52, "new": 50, "duplicates": 0,
        "errors": [], "matched": 50, "rejected": 1, "rejects": None}  # fmt: skip
    assert (got["hackernews"]["fetched"], got["hackernews"]["new"]) == (30, 30)
    assert (got["rss"]["fetched"], got["rss"]["new"]) == (2, 1)  # the tea post is not kept
    posts = world.posts()
    assert len(posts) == 81 and len({p["post_id"] for p in posts}) == 81
    assert {p["platform"] for p in posts} == {"mastodon", "hackernews", "web"}
    one = next(p for p in posts if p["post_id"].endswith("/109000000000000007"))
    assert one["author_name"] == "User 0" and one["source"] == f"mastodon:{world.url}/mastodon"
    assert json.loads(one["raw_payload"])["account"]["acct"] == "user0@social.example"
    rejected = [r for r in world.rejects() if r["file"].endswith("#source")]
    assert len(rejected) == 1 and "account" in rejected[0]["reason"]
    assert json.loads(rejected[0]["raw"])["id"] == "109000000000000099"

    again = by_source(collect("--query", "coffee"))
    assert [again[k]["new"] for k in ("mastodon", "hackernews", "rss")] == [0, 0, 0]
    assert len(world.posts()) == 81
    assert len([r for r in world.rejects() if r["file"].endswith("#source")]) == 1

    world.hn.hits.append(fakes.hn_hit(99, "Coffee again"))
    world.mastodon.statuses.append(fakes.mastodon_status(120, "coffee later"))
    third = by_source(collect())
    assert (third["hackernews"]["new"], third["mastodon"]["new"]) == (1, 1)
    assert len(world.posts()) == 83


def test_a_failing_source_is_reported_and_the_others_go_on(world: World) -> None:
    edit = ["listen", "query", "edit", "coffee", "--source", f"hackernews:{world.url}/nowhere",
            "--source", f"mastodon:{world.url}/mastodon"]  # fmt: skip
    r = runner.invoke(app, edit)
    assert r.exit_code == 0, r.output
    got = by_source(collect())
    assert got["hackernews"]["new"] == 0 and "HTTP 404" in got["hackernews"]["errors"][0]
    assert got["mastodon"]["new"] == 50 and got["mastodon"]["errors"] == []
    settings = get_settings()
    db = AppDB(settings.resolved_database_url)
    try:
        health = {h.source.split(":", 1)[0]: h for h in collecting.health(db)}
    finally:
        db.close()
    assert health["hackernews"].failures == 1 and "404" in (health["hackernews"].last_error or "")
    assert health["hackernews"].last_success_at is None
    assert health["mastodon"].ok and health["mastodon"].new == 50
    assert health["mastodon"].newest_post_at is not None


def test_a_crash_between_fetch_and_commit_neither_loses_nor_doubles(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = collecting._record_success

    def crash(*args: Any, **kw: Any) -> None:
        raise KeyboardInterrupt("killed after the posts were stored, before the cursor")

    monkeypatch.setattr(collecting, "_record_success", crash)
    r = runner.invoke(app, ["listen", "collect", "--json"])
    assert r.exit_code != 0
    stored = len(world.posts())
    assert stored > 0
    db = AppDB(get_settings().resolved_database_url)
    try:  # the posts are in, but no cursor moved and no success was recorded
        assert all(h.last_success_at is None for h in collecting.health(db))
    finally:
        db.close()
    monkeypatch.setattr(collecting, "_record_success", real)
    got = by_source(collect())
    assert sum(s["new"] for s in got.values()) == 81 - stored
    assert len(world.posts()) == 81 and len({p["post_id"] for p in world.posts()}) == 81
    assert got["mastodon"]["duplicates"] + got["mastodon"]["new"] == 50


def test_no_queries_is_an_empty_document(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOCIALCRM_HOME", str(tmp_path / "ws"))
    get_settings.cache_clear()
    try:
        assert collect() == {"queries": []}
        r = runner.invoke(app, ["listen", "collect", "--query", "nope", "--json"])
        assert r.exit_code == 2 and "nope" in r.output
    finally:
        get_settings.cache_clear()


def test_watch_runs_passes_and_prints_one_document_each(world: World) -> None:
    r = runner.invoke(app, ["listen", "collect", "--watch", "--tick", "0.1", "--passes", "2",
                            "--json"])  # fmt: skip
    assert r.exit_code == 0, r.output
    docs = [json.loads(line) for line in r.stdout.splitlines() if line.startswith("{")]
    assert len(docs) == 2
    assert sum(s["new"] for s in docs[0]["queries"][0]["sources"]) == 81
    assert docs[1]["queries"][0]["sources"] == []  # nothing due yet: intervals not passed
