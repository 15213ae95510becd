"""Security of the served app over real HTTP (issue 15, item 7).

- one CSRF rule for every write: walks ``app.routes``, so a new route cannot forget it;
- the login limiter's client address: ``X-Forwarded-For`` only from trusted proxies;
- ``Retry-After`` on 429; ``Cache-Control: no-store`` on everything but static assets;
- viewers see social handles and staff emails masked, on every page and API answer;
- ``socialcrm serve`` on a busy port: one line, exit code 2, no URL printed first.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

import fastapi.routing
import httpx
import pyarrow as pa
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from starlette.routing import BaseRoute, Mount

from socialcrm.appdb.db import AppDB
from socialcrm.config import Settings
from socialcrm.store.warehouse import Warehouse
from socialcrm.web.app import create_app
from socialcrm.web.security import CSRF_EXEMPT, client_address, parse_networks
from tests.web.conftest import (
    PASSWORD,
    build_targeting,
    build_warehouse,
    seed_activity,
    seed_users,
    serve,
    sign_in,
)

WRITES = {"POST", "PUT", "PATCH", "DELETE"}
# Full social handles and staff emails the viewer must never see (the agent does).
HANDLES = [
    "ada_insta",  # c000's instagram identity
    "open_author",  # inbox conversations
    "closed_author",
    "other_author",
    "trailqueen",  # an idea's contributor, a community's amplifier
    *(f"author{i}" for i in range(30)),  # post authors
]
STAFF = ["agent@test.io", "admin@test.io", "analyst@test.io"]
SECRETS = HANDLES + STAFF


@dataclass
class Served:
    url: str
    settings: Settings
    tokens: dict[str, str]
    ids: dict[str, int]
    app: FastAPI

    def api(self, role: str) -> httpx.Client:
        return httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {self.tokens[role]}"}, timeout=30
        )


def _with_handles(root: Path) -> None:
    """A community whose amplifier is a bare handle, and its recommendation naming it."""
    w = Warehouse(root)
    communities = w.read_arrow("communities").to_pylist()
    communities[0]["top_amplifiers"] = "@trailqueen (bluesky), customer c001"
    w.write(
        "communities", pa.Table.from_pylist(communities, schema=w.read_arrow("communities").schema)
    )
    w.write(
        "community_recommendations",
        pa.table(
            {
                "community_id": [0],
                "label": ["trail runners"],
                "recommendation": ["engage its amplifiers @trailqueen (bluesky)"],
            }
        ),
    )


def _contributor(db_url: str, idea_id: int) -> None:
    """A contributor known only by a social handle (as a turned-into-idea post makes)."""
    from socialcrm.appdb.models import IdeaContributor

    db = AppDB(db_url)
    with db.session() as s:
        s.add(
            IdeaContributor(
                idea_id=idea_id,
                origin_idea_id=idea_id,
                platform="bluesky",
                handle="trailqueen",
                post_id="p05",
            )
        )
    db.close()


def _user_id(db_url: str, email: str) -> int:
    from sqlalchemy import select

    from socialcrm.appdb.models import User

    db = AppDB(db_url)
    with db.session() as s:
        uid = s.scalar(select(User.id).where(User.email == email))
    db.close()
    return int(uid)


@pytest.fixture(scope="module")
def wsite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """A site of its own (tests here write): the known warehouse, targeting, activity,
    handles in a community and on an idea, and staff at work (assignee, notes, history)."""
    home = tmp_path_factory.mktemp("security") / "ws"
    build_warehouse(home / "warehouse")
    build_targeting(home / "warehouse")
    _with_handles(home / "warehouse")
    settings = Settings(home=home, web_token_cache_seconds=0)
    db_url = settings.resolved_database_url
    tokens = seed_users(db_url)
    ids = seed_activity(db_url)
    _contributor(db_url, ids["battery"])
    _saved_query(db_url)
    app = create_app(settings)
    for url in serve(settings, app):
        site = Served(url, settings, tokens, ids, app)
        agent_id = _user_id(db_url, "agent@test.io")
        with site.api("admin") as admin, site.api("agent") as agent, site.api("analyst") as an:
            r = admin.post(f"/api/v1/inbox/{ids['open']}/assign", json={"user_id": agent_id})
            assert r.status_code == 200, r.text
            r = agent.post(f"/api/v1/inbox/{ids['open']}/notes", json={"text": "call back"})
            assert r.status_code == 200, r.text
            r = agent.post(
                f"/api/v1/ideas/{ids['battery']}/status",
                json={"status": "in_progress", "reason": "on it"},
            )
            assert r.status_code == 200, r.text
            r = an.post(f"/api/v1/ideas/{ids['strap']}/votes", json={"voter": "c042"})
            assert r.status_code == 200, r.text
            r = admin.post(
                f"/api/v1/ideas/{ids['unrelated']}/status",
                json={"status": "declined", "reason": "not for us"},
            )
            assert r.status_code == 200, r.text
        yield site


def _saved_query(db_url: str) -> None:
    from socialcrm.listening.saved_queries import add_query

    db = AppDB(db_url)
    try:
        with db.session() as s:
            add_query(s, "battery talk", '"battery life" OR charger', ["file:/tmp/posts.jsonl"])
    finally:
        db.close()


def _csrf(c: httpx.Client) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', c.get("/").text).group(1)


def _message(r: httpx.Response) -> str:
    if r.headers.get("content-type", "").startswith("application/json"):
        return r.json()["error"]["message"]
    return r.text


def routes(app: FastAPI) -> Iterator[tuple[BaseRoute, str, set[str]]]:
    """Every route the app serves, as (route, path, methods), through included routers
    (which recent FastAPI keeps as lazy branches of ``app.routes``)."""
    contexts = getattr(fastapi.routing, "iter_route_contexts", None)
    for ctx in contexts(app.routes) if contexts else app.routes:
        route = getattr(ctx, "original_route", ctx)
        yield route, ctx.path_format or ctx.path or "", set(ctx.methods or ())


def write_routes(app: FastAPI) -> list[tuple[str, str]]:
    """(method, path) of every write route of the app, path parameters filled in."""
    found = []
    for route, path, methods in routes(app):
        if isinstance(route, Mount):
            # a mounted app would not get the app's dependencies: only static files
            assert route.path == "/static", route.path
            continue
        for method in sorted(methods & WRITES):
            if (method, path) in CSRF_EXEMPT:
                continue  # the one-click unsubscribe: its signed token is the credential
            assert isinstance(route, APIRoute), f"{path} is not a FastAPI route"
            # unknown ids: once past the guard, nothing is found, nothing is written
            found.append((method, re.sub(r"\{[^}]+\}", "999999", path)))
    return found


def test_every_write_route_refuses_a_session_without_its_csrf_token(wsite: Served) -> None:
    writes = write_routes(wsite.app)
    paths = {p for _, p in writes}
    # not vacuous: forms and API, inbox and ideas, sign-in and sign-out are all walked
    assert len(writes) >= 30
    assert {"/login", "/logout", "/api/v1/inbox/999999/notes", "/api/v1/ideas"} <= paths
    assert {"/inbox/999999/note", "/ideas", "/segments/999999/export"} <= paths
    with closing(sign_in(wsite.url, "admin@test.io")) as c:
        token = _csrf(c)
        for method, path in writes:
            for how in (
                {"json": {}},  # a JSON API call riding the cookie
                {"data": {"x": "1"}},  # a cross-site HTML form
                {"content": b'{"text": "x"}', "headers": {"content-type": "text/plain"}},
                {"json": {}, "headers": {"X-CSRF-Token": "not-the-token"}},
                {"data": {"csrf_token": "not-the-token"}},
            ):
                r = c.request(method, path, **how)
                assert r.status_code == 403, (method, path, how, r.status_code)
                assert "CSRF" in _message(r), (method, path, how)
        # the same calls with the session's token get past the rule (then 404, 422, …);
        # sign-out last, as it ends the session
        for method, path in sorted(writes, key=lambda r: r[1] == "/logout"):
            for how in (
                {"json": {}, "headers": {"X-CSRF-Token": token}},
                {"data": {"csrf_token": token}},
            ):
                if path == "/logout" and "data" in how:
                    continue  # signed out already
                r = c.request(method, path, **how)
                assert not (r.status_code == 403 and "CSRF" in _message(r)), (method, path, how)
    # with a bearer token (and no cookie) the rule is met too
    with wsite.api("admin") as api:
        for method, path in writes:
            if path.startswith("/api/"):
                r = api.request(method, path, json={})
                assert not (r.status_code == 403 and "CSRF" in _message(r)), (method, path)


def _notes(site: Served, conv: int) -> list[str]:
    with site.api("agent") as api:
        return [n["text"] for n in api.get(f"/api/v1/inbox/{conv}").json()["notes"]]


def test_inbox_and_ideas_api_writes_follow_the_one_rule(wsite: Served) -> None:
    conv = wsite.ids["other"]
    agent = sign_in(wsite.url, "agent@test.io")
    with closing(agent):
        # the finding: the inbox API took a cookie alone; now refused, nothing written
        r = agent.post(f"/api/v1/inbox/{conv}/notes", json={"text": "cookie only"})
        assert r.status_code == 403 and "CSRF" in r.json()["error"]["message"]
        r = agent.post("/api/v1/ideas", json={"title": "cookie only"})
        assert r.status_code == 403 and "CSRF" in r.json()["error"]["message"]
        # a bogus bearer header does not unlock the cookie: the token is checked, and fails
        bogus = {"Authorization": "Bearer nope"}
        r = agent.post(f"/api/v1/inbox/{conv}/notes", json={"text": "bogus"}, headers=bogus)
        assert r.status_code == 401
        assert _notes(wsite, conv) == []
        # the session with its token in the header: both APIs take it, alike
        token = re.search(r'<meta name="csrf-token" content="([^"]+)">', agent.get("/").text)[1]
        assert token == _csrf(agent)
        ok = {"X-CSRF-Token": token}
        r = agent.post(f"/api/v1/inbox/{conv}/notes", json={"text": "with token"}, headers=ok)
        assert r.status_code == 200, r.text
        r = agent.post("/api/v1/ideas", json={"title": "Session idea"}, headers=ok)
        assert r.status_code == 201, r.text
    assert _notes(wsite, conv) == ["with token"]
    # no credentials at all: 401 on the API, as for a read
    r = httpx.post(f"{wsite.url}/api/v1/inbox/{conv}/notes", json={"text": "anon"})
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
    # a bearer token is the rule's other half, cookie or none
    with wsite.api("agent") as api:
        r = api.post(f"/api/v1/inbox/{conv}/notes", json={"text": "by token"})
        assert r.status_code == 200
    assert _notes(wsite, conv) == ["with token", "by token"]


# -- the login limiter's client address ---------------------------------------------------
@pytest.fixture
def limited(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    """A site allowing 3 failed sign-ins per window, trusting the proxies in the param."""
    settings = Settings(
        home=tmp_path / "ws",
        web_login_attempts=3,
        web_login_window_seconds=600,
        trusted_proxies=request.param,
    )
    seed_users(settings.resolved_database_url)
    yield from serve(settings)


def _attempt(url: str, email: str, forwarded: str | None, password: str = "wrong password!"):
    c = httpx.Client(base_url=url, timeout=30)
    with closing(c):
        token = re.search(r'name="csrf_token" value="([^"]+)"', c.get("/login").text).group(1)
        headers = {"X-Forwarded-For": forwarded} if forwarded else {}
        data = {"email": email, "password": password, "csrf_token": token}
        return c.post("/login", data=data, headers=headers)


def _retry_after(r: httpx.Response) -> int:
    assert r.status_code == 429, r.status_code
    seconds = int(r.headers["retry-after"])
    assert 0 < seconds <= 600
    assert f"Try again in {seconds} seconds" in r.text
    return seconds


@pytest.mark.parametrize("limited", [[]], indirect=True)
def test_forwarded_for_from_an_untrusted_peer_is_ignored(limited: str) -> None:
    # each failure claims another address and another email: only the peer's counts
    fails = [_attempt(limited, f"nobody{i}@test.io", f"10.0.0.{i}") for i in range(3)]
    assert [r.status_code for r in fails] == [401, 401, 401]
    locked = _attempt(limited, "admin@test.io", "10.9.9.9", password=PASSWORD)
    _retry_after(locked)
    assert _attempt(limited, "admin@test.io", None, password=PASSWORD).status_code == 429


@pytest.mark.parametrize("limited", [["127.0.0.1", "10.0.0.0/8"]], indirect=True)
def test_behind_trusted_proxies_the_right_most_untrusted_address_counts(limited: str) -> None:
    # through two trusted proxies (the test client is 127.0.0.1, then 10.1.2.3)
    fails = [_attempt(limited, f"nobody{i}@test.io", "203.0.113.5, 10.1.2.3") for i in range(3)]
    assert [r.status_code for r in fails] == [401, 401, 401]
    # the client writing addresses to the left of its own changes nothing
    spoofed = _attempt(limited, "viewer@test.io", "198.51.100.7, 203.0.113.5", PASSWORD)
    _retry_after(spoofed)
    # another client behind the same proxy is not locked out
    other = _attempt(limited, "viewer@test.io", "198.51.100.7, 10.1.2.3", password=PASSWORD)
    assert other.status_code == 303


def test_client_address_rules() -> None:
    from starlette.requests import Request

    def req(peer: str, *xff: str) -> Request:
        headers = [(b"x-forwarded-for", v.encode()) for v in xff]
        return Request({"type": "http", "client": (peer, 1), "headers": headers})

    none, lo = parse_networks([]), parse_networks(["127.0.0.1", "10.0.0.0/8", "::1"])
    assert client_address(req("127.0.0.1", "1.2.3.4"), none) == "127.0.0.1"
    assert client_address(req("192.0.2.1", "1.2.3.4"), lo) == "192.0.2.1"  # untrusted peer
    assert client_address(req("127.0.0.1", "9.9.9.9, 1.2.3.4"), lo) == "1.2.3.4"
    assert client_address(req("::1", "9.9.9.9", "1.2.3.4, 10.0.0.7"), lo) == "1.2.3.4"
    assert client_address(req("127.0.0.1", "10.0.0.8, 10.0.0.7"), lo) == "10.0.0.8"
    assert client_address(req("127.0.0.1"), lo) == "127.0.0.1"
    assert client_address(req("::ffff:127.0.0.1", "1.2.3.4"), lo) == "1.2.3.4"
    with pytest.raises(ValueError):
        Settings(trusted_proxies="10.0.0.0/8, nonsense")
    assert Settings(trusted_proxies="10.0.0.1, ::1/128").trusted_proxies == ["10.0.0.1", "::1/128"]


# -- caching ----------------------------------------------------------------------------
def test_no_store_on_every_page_and_api_answer_but_static_assets(wsite: Served) -> None:
    ids = wsite.ids
    pages = ["/", "/customers", "/customers/c000", "/listening", "/influencers", "/segments",
             "/programs", "/inbox", f"/inbox/{ids['open']}", "/ideas", f"/ideas/{ids['battery']}",
             "/admin", "/webhooks", "/customers/nobody"]  # fmt: skip
    with closing(sign_in(wsite.url, "admin@test.io")) as c:
        for path in pages:
            r = c.get(path)
            assert r.status_code in (200, 404), path
            assert r.headers["cache-control"] == "no-store", path
        assert c.get("/api/v1/customers/c000").headers["cache-control"] == "no-store"
        static = c.get("/static/app.css")
        assert static.status_code == 200 and "no-store" not in static.headers.get(
            "cache-control", ""
        )
    anon = httpx.get(f"{wsite.url}/login")
    assert anon.headers["cache-control"] == "no-store"  # holds the session's CSRF token
    assert httpx.get(f"{wsite.url}/customers").headers["cache-control"] == "no-store"  # 303


# -- masking for viewers ----------------------------------------------------------------
def _pages(site: Served) -> list[str]:
    ids = site.ids
    return [
        "/", "/customers", "/customers/c000", "/customers/c001", "/listening",
        "/listening?q=number", "/influencers", "/segments", "/programs", "/inbox",
        "/inbox?state=all", *(f"/inbox/{ids[k]}" for k in ("open", "closed", "other")),
        "/ideas", *(f"/ideas/{ids[k]}" for k in ("battery", "strap", "unrelated")),
    ]  # fmt: skip


PARAMS = {
    "customer_id": "c000",
    "segment": "dormant",
    "campaign_id": "spring",
    "name": "battery talk",  # a saved listening query
}


def _api_reads(site: Served) -> list[str]:
    """Every GET route of the API, path parameters filled with ids that exist."""
    known = PARAMS | {"conversation_id": str(site.ids["open"]), "idea_id": str(site.ids["battery"])}
    out = []
    for route, path, methods in routes(site.app):
        if not isinstance(route, APIRoute) or "GET" not in methods:
            continue
        if not path.startswith("/api/v1/"):
            continue
        names = re.findall(r"\{([^}]+)\}", path)
        missing = [n for n in names if n not in known]
        assert not missing, f"{path}: give this test a value for {missing}"
        out.append(re.sub(r"\{([^}]+)\}", lambda m: known[m.group(1)], path))
    return out


def _bodies(site: Served, role: str) -> dict[str, str]:
    extra = {
        "/api/v1/customers/c000?include_activity=true",
        "/api/v1/posts?page_size=200&include_spam=true",
        f"/api/v1/inbox/{site.ids['other']}",
        f"/api/v1/ideas/{site.ids['strap']}",
        "/api/v1/inbox?state=all",
    }
    with closing(sign_in(site.url, f"{role}@test.io")) as c, site.api(role) as api:
        out = {path: c.get(path).text for path in _pages(site)}
        for path in [*_api_reads(site), *sorted(extra)]:
            r = api.get(path)
            assert r.status_code in (200, 403), (path, r.status_code)  # 403: admin only
            out[path] = r.text
    return out


def test_viewers_see_no_full_handle_or_staff_email(wsite: Served) -> None:
    agent = "\n".join(_bodies(wsite, "agent").values())
    # the data is there: an agent sees every one of them somewhere
    assert [s for s in SECRETS if s not in agent] == []
    viewer = _bodies(wsite, "viewer")
    leaks = {path: [s for s in SECRETS if s in body] for path, body in viewer.items()}
    assert {path: found for path, found in leaks.items() if found} == {}
    seen = "\n".join(viewer.values())
    # masked, not dropped: enough to tell them apart
    for shown in ("a•••", "o•••", "@t•••", "a•••@t•••.io"):
        assert shown in seen, shown
    assert len(_api_reads(wsite)) >= 30


def test_viewer_json_masks_identities_handles_and_staff(wsite: Served) -> None:
    ids = wsite.ids
    with wsite.api("viewer") as v, wsite.api("agent") as a:
        c = v.get("/api/v1/customers/c000").json()
        assert {i["kind"]: i["value"] for i in c["identities"]}["instagram"] == "a•••"
        assert {p["author_handle"] for p in c["posts"]} == {"a•••"}
        assert c["community"]["recommendation"] == "engage its amplifiers @t••• (bluesky)"
        conv = v.get(f"/api/v1/inbox/{ids['open']}").json()
        assert conv["author_handle"] == "o•••" and conv["assignee"] == "a•••@t•••.io"
        assert a.get(f"/api/v1/inbox/{ids['open']}").json()["assignee"] == "agent@test.io"
        idea = v.get(f"/api/v1/ideas/{ids['battery']}").json()
        assert "trailqueen" in str(a.get(f"/api/v1/ideas/{ids['battery']}").json())
        assert [x["handle"] for x in idea["contributors"] if x["handle"]] == ["t•••"]
        assert {h["actor"] for h in idea["history"]} >= {"a•••@t•••.io"}
        assert "bluesky:@t•••" in {n["recipient"] for n in idea["notifications"]}
        comms = v.get("/api/v1/communities").json()["items"]
        assert comms[0]["top_amplifiers"] == "@t••• (bluesky), customer c001"


# -- socialcrm serve ----------------------------------------------------------------------
def _serve(home: Path, *args: str, **env: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "socialcrm.cli", "serve", "--delivery-interval", "0", *args],
        env={**os.environ, "SOCIALCRM_HOME": str(home), "COLUMNS": "200", **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_serve_on_a_busy_port_says_so_in_one_line(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        proc = _serve(tmp_path / "ws", "--port", str(port))
        stdout, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 2
    assert stdout == ""  # no URL printed before the failure
    assert stderr.strip().splitlines() == [
        f"error: port {port} on 127.0.0.1 is already in use; choose another with --port"
    ]


def test_serve_prints_its_url_once_listening_and_ignores_forwarded_for(tmp_path: Path) -> None:
    home = tmp_path / "ws"
    seed_users(Settings(home=home).resolved_database_url)
    proc = _serve(home, "--port", "0", SOCIALCRM_WEB_LOGIN_ATTEMPTS="1")
    try:
        line = proc.stdout.readline()
        m = re.fullmatch(r"socialcrm on (http://127\.0\.0\.1:\d+) \(Ctrl\+C to stop\)\n", line)
        assert m, line
        url = m.group(1)
        assert httpx.get(f"{url}/health", timeout=60).json()["status"] == "ok"
        assert _attempt(url, "nobody@test.io", "10.0.0.1").status_code == 401
        # uvicorn's proxy headers are off: a new X-Forwarded-For is no new address
        _retry_after(_attempt(url, "admin@test.io", "10.0.0.2", password=PASSWORD))
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=300)


def test_bodies_over_the_limit_are_refused_before_anything_reads_them(tmp_path) -> None:
    """The CSRF check reads an unauthenticated form before refusing it; a body limit in
    front keeps anyone from making the app hold a body of any size."""
    from fastapi.testclient import TestClient

    from socialcrm.config import Settings
    from socialcrm.web.app import create_app

    app = create_app(Settings(home=tmp_path / "ws", web_max_body_bytes=1_000))
    with TestClient(app) as c:
        form = {"content-type": "application/x-www-form-urlencoded"}
        declared = c.post("/login", content=b"email=a&password=" + b"x" * 2_000, headers=form)
        assert declared.status_code == 413 and "1,000 bytes" in declared.text
        assert declared.headers["cache-control"] == "no-store"
        assert "content-security-policy" in declared.headers

        def chunks():  # no Content-Length: the body is counted as it streams
            for _ in range(20):
                yield b"x" * 100

        streamed = c.post("/login", content=chunks(), headers=form)
        assert streamed.status_code == 413
        small = c.post("/login", data={"email": "a@b.example", "password": "wrong"})
        assert small.status_code not in (413, 500)
