"""A Mastodon instance and a Bluesky AppView on loopback, answering with recorded responses.

One server plays every host: a request for ``https://<host>/<path>`` is sent to
``http://127.0.0.1:<port>/<host>/<path>`` (:meth:`SocialWorld.reach`), so a test can
name several instances and handles. The answers are the documented shapes
(``tests/preferences/data/*.json``: Mastodon's Application, Token and CredentialAccount /
Account entities; Bluesky's resolveHandle output and ProfileViewDetailed), with the
values a test sets. The Mastodon side checks what a real instance checks: the client
id, secret and redirect URI, the single-use code, PKCE (S256) and the bearer token.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from socialcrm.preferences.proofs import Reach

DATA = Path(__file__).parent / "data"


def recorded(name: str) -> Any:
    return json.loads((DATA / name).read_text())


@dataclass
class Seen:
    method: str
    host: str
    path: str
    query: dict[str, str]
    form: dict[str, str]
    headers: dict[str, str]


@dataclass
class SocialWorld:
    url: str = ""
    seen: list[Seen] = field(default_factory=list)
    apps: dict[str, dict[str, str]] = field(default_factory=dict)
    """client_id → the registered app (per instance host)."""
    codes: dict[str, dict[str, str]] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)
    """access token → the instance host it was issued on."""
    revoked: list[str] = field(default_factory=list)
    mastodon_user: str = "anna"
    """Who signs in at /oauth/authorize (any instance)."""
    mastodon_note: str = "<p>Lamps, hikes and bread.</p>"
    mastodon_fields: list[dict[str, Any]] = field(default_factory=list)
    handles: dict[str, str] = field(default_factory=dict)
    """Bluesky handle → the DID resolveHandle answers (absent: "Unable to resolve")."""
    well_known: dict[str, str] = field(default_factory=dict)
    """Bluesky handle → the DID its /.well-known/atproto-did serves."""
    profiles: dict[str, dict[str, str]] = field(default_factory=dict)
    """Bluesky handle → {"did": …, "description": …} of its getProfile answer."""

    def reach(self, **kw: Any) -> Reach:
        """Every host and the AppView on this server. The client is the guarded one as
        in production: loopback must be let through with ``SOCIALCRM_OUTBOUND_ALLOW_HOSTS``
        (the ``world`` fixture does)."""
        return Reach(
            appview_url=f"{self.url}/appview.test", base_of=lambda host: f"{self.url}/{host}", **kw
        )

    def calls(self, path_end: str) -> list[Seen]:
        return [s for s in self.seen if s.path.endswith(path_end)]


def _account(world: SocialWorld, host: str) -> dict[str, Any]:
    a: dict[str, Any] = copy.deepcopy(recorded("mastodon_account.json"))
    a["username"] = a["acct"] = a["display_name"] = world.mastodon_user
    a["url"] = f"https://{host}/@{world.mastodon_user}"
    a["note"] = world.mastodon_note
    a["fields"] = world.mastodon_fields
    return a


def _answer(world: SocialWorld, seen: Seen) -> tuple[int, Any, dict[str, str]]:
    """(status, JSON body or text, extra headers) for one request."""
    host, path, q, form = seen.host, seen.path, seen.query, seen.form
    if seen.method == "POST" and path == "/api/v1/apps":
        app = recorded("mastodon_app.json")
        app["client_id"] = f"cid-{secrets.token_hex(8)}"
        app["client_secret"] = f"secret-{secrets.token_hex(16)}"
        app["redirect_uri"] = form["redirect_uris"]
        app["redirect_uris"] = [form["redirect_uris"]]
        app["scopes"] = form.get("scopes", "read").split()
        world.apps[app["client_id"]] = {**app, "host": host, "scope": form.get("scopes", "")}
        return 200, app, {}
    if path == "/oauth/authorize":
        app_ = world.apps.get(q.get("client_id", ""))
        if app_ is None or app_["redirect_uri"] != q.get("redirect_uri"):
            return 400, {"error": "invalid_client"}, {}
        code = secrets.token_urlsafe(16)
        world.codes[code] = {
            "client_id": q["client_id"],
            "challenge": q.get("code_challenge", ""),
            "host": host,
        }
        back = {"code": code, "state": q.get("state", "")}
        return 302, "", {"Location": f"{q['redirect_uri']}?{urlencode(back)}"}
    if seen.method == "POST" and path == "/oauth/token":
        grant = world.codes.pop(form.get("code", ""), None)
        app_ = world.apps.get(form.get("client_id", ""))
        verifier = form.get("code_verifier", "")
        challenge = (
            base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
            .rstrip(b"=")
            .decode()
        )
        if (
            grant is None
            or app_ is None
            or grant["client_id"] != app_["client_id"]
            or form.get("client_secret") != app_["client_secret"]
            or form.get("redirect_uri") != app_["redirect_uri"]
            or (grant["challenge"] and grant["challenge"] != challenge)
        ):
            return 400, recorded("mastodon_invalid_grant.json"), {}
        token = recorded("mastodon_token.json")
        token["access_token"] = secrets.token_urlsafe(24)
        token["scope"] = app_["scope"]
        world.tokens[token["access_token"]] = host
        return 200, token, {}
    if path == "/api/v1/accounts/verify_credentials":
        bearer = seen.headers.get("authorization", "").removeprefix("Bearer ")
        if world.tokens.get(bearer) != host:
            return 401, {"error": "The access token is invalid"}, {}
        return 200, _account(world, host), {}
    if seen.method == "POST" and path == "/oauth/revoke":
        world.tokens.pop(form.get("token", ""), None)
        world.revoked.append(form.get("token", ""))
        return 200, {}, {}
    if path == "/api/v1/accounts/lookup":
        if q.get("acct") != world.mastodon_user:
            return 404, {"error": "Record not found"}, {}
        return 200, _account(world, host), {}
    if host == "appview.test" and path == "/xrpc/com.atproto.identity.resolveHandle":
        did = world.handles.get(q.get("handle", ""))
        if did is None:
            return 400, {"error": "InvalidRequest", "message": "Unable to resolve handle"}, {}
        return 200, {"did": did}, {}
    if host == "appview.test" and path == "/xrpc/app.bsky.actor.getProfile":
        actor = q.get("actor", "")
        p = world.profiles.get(actor)
        if p is None:
            return 400, {"error": "InvalidRequest", "message": "Profile not found"}, {}
        profile = recorded("bluesky_profile.json")
        profile.update(handle=actor, did=p["did"], description=p.get("description", ""))
        return 200, profile, {}
    if path == "/.well-known/atproto-did" and host in world.well_known:
        return 200, world.well_known[host], {"Content-Type": "text/plain"}
    return 404, {"error": "Not found"}, {}


@contextmanager
def social_world() -> Iterator[SocialWorld]:
    world = SocialWorld()
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def _handle(self) -> None:
            parts = urlsplit(self.path)
            host, _, rest = parts.path.lstrip("/").partition("/")
            body = self.rfile.read(int(self.headers.get("Content-Length", 0) or 0))
            form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
            query = {k: v[0] for k, v in parse_qs(parts.query).items()}
            seen = Seen(
                self.command,
                host,
                "/" + rest,
                query,
                form,
                {k.lower(): v for k, v in self.headers.items()},
            )
            with lock:
                world.seen.append(seen)
                status, payload, headers = _answer(world, seen)
            data = payload.encode() if isinstance(payload, str) else json.dumps(payload).encode()
            self.send_response(status)
            headers.setdefault("Content-Type", "application/json; charset=utf-8")
            for k, v in headers.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = _handle

        def log_message(self, *args: object) -> None:
            pass

    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    world.url = f"http://127.0.0.1:{srv.server_address[1]}"
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    try:
        yield world
    finally:
        srv.shutdown()
        srv.server_close()
        thread.join()
