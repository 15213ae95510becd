"""`socialcrm inbox` with the default JSONL connector, and the Bluesky connector against
a fake AT Protocol server on loopback."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from typer.testing import CliRunner

from socialcrm.cli import app
from socialcrm.config import get_settings
from socialcrm.outbound.social import ConnectorError
from socialcrm.responding.connectors import BlueskyConnector
from tests.responding.fakes import serving

runner = CliRunner()


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("SOCIALCRM_HOME", str(tmp_path / "ws"))
    monkeypatch.setenv("SOCIALCRM_INBOX_BRAND_HANDLE", "acme")
    get_settings.cache_clear()
    yield tmp_path / "ws"
    get_settings.cache_clear()


def line(pid: str, who: str, text: str, at: str, **kw: Any) -> str:
    return json.dumps({"platform": "jsonl", "post_id": pid, "author_handle": who, "text": text,
                       "created_at": at, **kw})  # fmt: skip


def test_pull_reply_deliver_with_the_jsonl_connector(home: Path) -> None:
    folder = home / "inbox"
    folder.mkdir(parents=True)
    (folder / "mentions.jsonl").write_text(
        "\n".join([
            line("j1", "zoe", "@acme my parcel never arrived, awful", "2026-11-20T08:00:00Z"),
            line("j2", "yan", "@acme do you ship to Norway?", "2026-11-20T08:30:00Z"),
            line("j3", "zoe", "@acme still nothing", "2026-11-20T09:00:00Z", reply_to_post_id="j1"),
        ]) + "\n"
    )  # fmt: skip
    r = runner.invoke(app, ["inbox", "pull", "--json"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["fetched"] == 3 and doc["conversations"] == 2 and doc["messages"] == 3
    again = json.loads(runner.invoke(app, ["inbox", "pull", "--json"]).stdout)
    assert again["fetched"] == 0
    listed = json.loads(runner.invoke(app, ["inbox", "list", "--json"]).stdout)
    assert listed["total"] == 2 and listed["items"][0]["author_handle"] == "zoe"

    from socialcrm.appdb.db import AppDB
    from socialcrm.responding import workflow

    db = AppDB(get_settings().resolved_database_url)
    with db.session() as s:
        conv = workflow.get(s, listed["items"][0]["id"])
        workflow.reply(s, conv, "Sorry {handle}!", "cli-test", connector="jsonl", key="k-1")
    db.close()
    for _ in range(2):
        r = runner.invoke(app, ["inbox", "deliver", "--json"])
        assert r.exit_code == 0, r.output
    replies = (folder / "replies.jsonl").read_text().splitlines()
    assert len(replies) == 1 and json.loads(replies[0])["in_reply_to"] == "j3"
    m = json.loads(runner.invoke(app, ["inbox", "metrics", "--json"]).stdout)
    assert m["conversations"] == 2 and m["first_response_hours"]["n"] == 1


def test_cli_errors_are_one_line(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOCIALCRM_INBOX_CONNECTOR", "mastodon")
    get_settings.cache_clear()
    r = runner.invoke(app, ["inbox", "pull"])
    assert r.exit_code != 0
    assert "SOCIALCRM_MASTODON_URL" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    for cmd in ("sync", "pull", "deliver", "sla", "assign", "metrics", "list", "skills"):
        assert "Example:" in runner.invoke(app, ["inbox", cmd, "--help"]).stdout


class FakeBluesky:
    """listNotifications pages, getPosts, createRecord that refuses a repeated rkey."""

    def __init__(self) -> None:
        self.records: dict[str, dict[str, Any]] = {}
        self.fail_next = 0

    def app(self) -> Starlette:
        return Starlette(routes=[
            Route("/xrpc/com.atproto.server.createSession", self.session, methods=["POST"]),
            Route("/xrpc/app.bsky.notification.listNotifications", self.notes),
            Route("/xrpc/app.bsky.feed.getPosts", self.posts),
            Route("/xrpc/com.atproto.repo.createRecord", self.create, methods=["POST"]),
        ])  # fmt: skip

    async def session(self, request: Request) -> JSONResponse:
        body = await request.json()
        if body["password"] != "app-pass-1234":
            return JSONResponse({"error": "AuthenticationRequired"}, 401)
        return JSONResponse({"did": "did:plc:acme", "accessJwt": "jwt-1", "handle": "acme"})

    NOTES: ClassVar[list[dict[str, Any]]] = [
        {"uri": f"at://did:plc:u{i}/app.bsky.feed.post/{i}", "cid": f"cid{i}",
         "author": {"handle": h, "did": f"did:plc:u{i}"}, "reason": reason,
         "record": {"text": t, "createdAt": f"2026-11-20T0{i}:00:00.000Z"},
         "indexedAt": f"2026-11-20T0{i}:00:01.000Z"}
        for i, (h, reason, t) in enumerate([
            ("ivy.bsky.social", "mention", "@acme my lamp flickers, so annoying"),
            ("max.bsky.social", "like", ""),
            ("ola.bsky.social", "mention", "@acme when is the sale?"),
        ], start=1)
    ]  # fmt: skip

    async def notes(self, request: Request) -> JSONResponse:
        assert request.headers["authorization"] == "Bearer jwt-1"
        rows = sorted(self.NOTES, key=lambda n: n["indexedAt"], reverse=True)
        start = int(request.query_params.get("cursor", 0))
        page = rows[start : start + 2]
        nxt = str(start + 2) if start + 2 < len(rows) else None
        return JSONResponse({"notifications": page, **({"cursor": nxt} if nxt else {})})

    async def posts(self, request: Request) -> JSONResponse:
        uri = request.query_params["uris"]
        found = [n for n in self.NOTES if n["uri"] == uri]
        return JSONResponse({"posts": [{"uri": n["uri"], "cid": n["cid"],
                                        "record": n["record"]} for n in found]})  # fmt: skip

    async def create(self, request: Request) -> JSONResponse:
        body = await request.json()
        if body["rkey"] in self.records:
            return JSONResponse({"error": "InvalidRequest",
                                 "message": "Record already exists"}, 400)  # fmt: skip
        self.records[body["rkey"]] = body
        if self.fail_next:
            self.fail_next -= 1
            return JSONResponse({"error": "UpstreamFailure"}, 502)
        return JSONResponse({"uri": f"at://did:plc:acme/app.bsky.feed.post/{body['rkey']}",
                             "cid": "bafy"})  # fmt: skip


def test_bluesky_mentions_in_and_a_reply_out_once() -> None:
    fake = FakeBluesky()
    with serving(fake.app()) as url:
        c = BlueskyConnector(url, "acme", "app-pass-1234")
        posts, cursor = c.fetch(None)
        assert [p.author_handle for p in posts] == ["ivy.bsky.social", "ola.bsky.social"]
        assert cursor == "2026-11-20T03:00:01.000Z"
        assert c.fetch(cursor)[0] == []
        fake.fail_next = 1  # stored, but the answer is lost
        target = posts[0].post_id
        with pytest.raises(ConnectorError) as e:
            c.post_reply(target, "Sorry to hear that", "outbox-key-1")
        assert e.value.retryable
        uri = c.post_reply(target, "Sorry to hear that", "outbox-key-1")
        assert len(fake.records) == 1 and uri.endswith(next(iter(fake.records)))
        rec = next(iter(fake.records.values()))["record"]
        assert rec["reply"]["parent"] == {"uri": target, "cid": "cid1"}
        c.close()
        bad = BlueskyConnector(url, "acme", "wrong")
        with pytest.raises(ConnectorError) as e:
            bad.fetch(None)
        assert not e.value.retryable and "wrong" not in str(e.value)
        bad.close()
