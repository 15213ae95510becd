"""The Jetstream consumer against a local websocket server that speaks Jetstream's
protocol: ``/subscribe?wantedCollections=app.bsky.feed.post[&cursor=<time_us>]``, JSON
events (commit, identity), replay from the cursor on reconnect."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from websockets.sync.server import ServerConnection, serve

from socialcrm.listening.sources import SourceError, SourceQuery
from socialcrm.listening.sources.bluesky import Jetstream
from tests.listening.sources import fakes

T = 1_764_000_000_000_000


def post_event(n: int, text: str, did: str = "did:plc:alice", **record: Any) -> dict[str, Any]:
    return {"did": did, "time_us": T + n, "kind": "commit", "commit": {
        "rev": f"3l{n:011d}", "operation": "create", "collection": "app.bsky.feed.post",
        "rkey": f"3k{n:011d}", "cid": f"bafy{n}", "record": {
            "$type": "app.bsky.feed.post", "createdAt": "2026-11-02T09:00:00.000Z",
            "langs": ["en"], "text": text, **record}}}  # fmt: skip


EVENTS: list[Any] = [
    {
        "did": "did:plc:bob",
        "time_us": T + 1,
        "kind": "identity",
        "identity": {
            "did": "did:plc:bob",
            "handle": "bob.example.com",
            "seq": 1,
            "time": "2026-11-02T09:00:00.000Z",
        },
    },
    post_event(2, "I love this coffee", did="did:plc:bob"),
    post_event(3, "tea is fine"),
    "not json at all",
    post_event(
        4,
        "coffee again",
        reply={
            "root": {"uri": "at://did:plc:bob/app.bsky.feed.post/3k00000000002", "cid": "x"},
            "parent": {"uri": "at://did:plc:bob/app.bsky.feed.post/3k00000000002", "cid": "x"},
        },
    ),
    {
        "did": "did:plc:alice",
        "time_us": T + 5,
        "kind": "commit",
        "commit": {"operation": "delete", "collection": "app.bsky.feed.post", "rkey": "x"},
    },
]


@pytest.fixture
def jetstream() -> Iterator[tuple[str, list[str]]]:
    paths: list[str] = []

    def handler(conn: ServerConnection) -> None:
        assert conn.request is not None
        paths.append(conn.request.path)
        q = parse_qs(urlsplit(conn.request.path).query)
        assert q["wantedCollections"] == ["app.bsky.feed.post"]
        after = int(q.get("cursor", ["0"])[0])
        for ev in EVENTS:
            if isinstance(ev, str) or ev["time_us"] > after:
                conn.send(ev if isinstance(ev, str) else json.dumps(ev))
        conn.close()

    with serve(handler, "127.0.0.1", 0) as server:
        port = server.socket.getsockname()[1]
        t = threading.Thread(target=server.serve_forever, daemon=True)
        t.start()
        yield f"ws://127.0.0.1:{port}", paths
        server.shutdown()


def coffee(text: str, lang: str | None, author: str | None) -> bool:
    return "coffee" in text.lower()


def test_jetstream_keeps_matching_posts_and_resumes_from_its_cursor(
    jetstream: tuple[str, list[str]],
) -> None:
    url, paths = jetstream
    appview = fakes.Bluesky([])
    appview.profiles["did:plc:alice"] = {"did": "did:plc:alice", "handle": "alice.bsky.social",
                                         "displayName": "Alice", "followersCount": 321}  # fmt: skip
    src = Jetstream(url, httpx.MockTransport(appview), listen_seconds=5, allow_hosts="127.0.0.1")
    first = src.fetch(SourceQuery(("coffee",), matches=coffee), None)
    assert [r["text"] for r in first.rows] == ["I love this coffee", "coffee again"]
    bob, alice = first.rows
    assert bob["author_handle"] == "bob.example.com"  # from the identity event
    assert bob["post_id"] == "bluesky:at://did:plc:bob/app.bsky.feed.post/3k00000000002"
    assert alice["author_followers"] == 321 and alice["author_name"] == "Alice"
    assert alice["reply_to_post_id"] == bob["post_id"]
    assert len(first.rejects) == 1 and first.rejects[0].raw == "not json at all"
    assert first.next_cursor == str(T + 5)
    again = src.fetch(SourceQuery(("coffee",), matches=coffee), first.next_cursor)
    assert paths[-1].endswith(f"&cursor={T + 5}") and again.rows == []


def test_jetstream_refuses_private_addresses_unless_allowed() -> None:
    with pytest.raises(SourceError, match="jetstream"):
        Jetstream("ws://10.0.0.8:6008", httpx.MockTransport(fakes.Bluesky([]))).fetch(
            SourceQuery(("coffee",)), None
        )
