"""Fake Mastodon and Bluesky servers on loopback, replaying recorded-shaped responses.

They behave like the real APIs where the connectors depend on it: newest-first paging
with ``since_id``/``max_id``, the ``Idempotency-Key`` header answered with the status
first created for it, and failures a test can switch on.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.ports import free_port
from tests.waiting import wait_until

DATA = Path(__file__).parent / "data"
TOKEN = "mastodon-secret-token-123"


@dataclass
class FakeMastodon:
    notifications: list[dict[str, Any]]
    fail_posts: list[str] = field(default_factory=list)
    """Per POST attempt, in order: ``"before"`` (500, nothing stored), ``"lost"`` (stored,
    then 502 as if the answer was lost on the way), or nothing left: succeed."""
    statuses: list[dict[str, Any]] = field(default_factory=list)
    by_key: dict[str, dict[str, Any]] = field(default_factory=dict)
    requests: list[tuple[str, str]] = field(default_factory=list)
    auth_seen: set[str] = field(default_factory=set)
    post_delay: float = 0.0
    """Seconds each POST takes, so that concurrent delivery workers overlap."""

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/api/v1/notifications", self.list_notifications, methods=["GET"]),
                Route("/api/v1/statuses", self.create_status, methods=["POST"]),
            ]
        )

    def _authorised(self, request: Request) -> bool:
        auth = request.headers.get("authorization", "")
        self.auth_seen.add(auth)
        return auth == f"Bearer {TOKEN}"

    async def list_notifications(self, request: Request) -> JSONResponse:
        self.requests.append(("GET", str(request.url.query)))
        if not self._authorised(request):
            return JSONResponse({"error": "The access token is invalid"}, 401)
        q = request.query_params
        types = q.getlist("types[]")
        limit = int(q.get("limit", 40))
        rows = sorted(self.notifications, key=lambda n: int(n["id"]), reverse=True)
        if types:
            rows = [n for n in rows if n["type"] in types]
        if "since_id" in q:
            rows = [n for n in rows if int(n["id"]) > int(q["since_id"])]
        if "max_id" in q:
            rows = [n for n in rows if int(n["id"]) < int(q["max_id"])]
        return JSONResponse(rows[:limit])

    async def create_status(self, request: Request) -> JSONResponse:
        self.requests.append(("POST", request.headers.get("idempotency-key", "")))
        if self.post_delay:
            await asyncio.sleep(self.post_delay)
        if not self._authorised(request):
            return JSONResponse({"error": "The access token is invalid"}, 401)
        key = request.headers.get("idempotency-key")
        mode = self.fail_posts.pop(0) if self.fail_posts else None
        if mode == "before":
            return JSONResponse({"error": "Internal server error"}, 500)
        if key and key in self.by_key:
            return JSONResponse(self.by_key[key])  # Mastodon: same key, same status
        body = await request.json()
        status = {
            "id": str(900000 + len(self.statuses)),
            "content": f"<p>{body['status']}</p>",
            "in_reply_to_id": body.get("in_reply_to_id"),
            "visibility": body.get("visibility", "public"),
        }
        self.statuses.append(status)
        if key:
            self.by_key[key] = status
        if mode == "lost":
            return JSONResponse({"error": "Bad gateway"}, 502)
        return JSONResponse(status)


def recorded_mentions() -> list[dict[str, Any]]:
    return json.loads((DATA / "mastodon_notifications.json").read_text(encoding="utf-8"))


@contextmanager
def serving(app: Starlette) -> Iterator[str]:
    """``app`` on a free loopback port, in a thread, for the duration of the block."""
    port = free_port()
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    wait_until(lambda: srv.started or not thread.is_alive(), "the fake server up", bound=30)
    if not srv.started:
        raise RuntimeError("the fake server did not start")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        srv.should_exit = True
        thread.join()
