"""The web app: FastAPI serving server-rendered pages and the REST API under ``/api/v1``.

``create_app`` wires the pieces: the app database (migrated on start), the per-process
read model over the warehouse, signed-cookie sessions, the one CSRF rule for every write
(:func:`~socialcrm.web.security.csrf_guard`), security and cache headers, and error
bodies that are the same shape everywhere in the API.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.sessions import SessionMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from socialcrm import __version__
from socialcrm.appdb.accounts import Principal
from socialcrm.appdb.db import AppDB
from socialcrm.config import Settings, get_settings
from socialcrm.store.reads import ReadModel
from socialcrm.store.warehouse import Warehouse
from socialcrm.web import api, email_links, inbox, pages, preference_centre, preference_linking
from socialcrm.web import campaigns as campaigns_web
from socialcrm.web import ideas as ideas_web
from socialcrm.web import listening_queries as queries_web
from socialcrm.web import privacy as privacy_web
from socialcrm.web.deps import AppState, LoginRequired, api_principal
from socialcrm.web.security import (
    SECURITY_HEADERS,
    LoginLimiter,
    TokenCache,
    csrf_guard,
    parse_networks,
    secret_key,
)

STATIC = Path(__file__).parent / "static"
CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    422: "invalid_request",
    429: "too_many_requests",
}


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    app = FastAPI(
        title="socialcrm",
        version=__version__,
        description="REST API of socialcrm. Authenticate with `Authorization: Bearer <token>` "
        "(make one with `socialcrm users token EMAIL`).",
        openapi_url="/api/v1/openapi.json",
        docs_url=None,  # Swagger UI loads from a CDN, which the CSP forbids
        redoc_url=None,
        lifespan=_lifespan,
        # Every write of every route, pages and API, present and future: a bearer token or
        # the session's CSRF token (tests/web/test_security.py walks app.routes to check).
        dependencies=[Depends(csrf_guard)],
    )
    app.state.crm = AppState(
        settings=settings,
        db=AppDB(settings.resolved_database_url),
        rm=ReadModel(settings.warehouse_dir, settings.duckdb_threads, freeze_heap=True),
        limiter=LoginLimiter(settings.web_login_attempts, settings.web_login_window_seconds),
        tokens=TokenCache(settings.web_token_cache_seconds),
        proxies=parse_networks(settings.trusted_proxies),
    )
    app.add_middleware(
        SessionMiddleware,
        secret_key=secret_key(settings.home, settings.web_secret_key),
        session_cookie="socialcrm_session",
        max_age=settings.web_session_hours * 3600,
        same_site="lax",
        https_only=settings.web_secure_cookies,
    )

    app.add_middleware(BodyLimit, limit=settings.web_max_body_bytes)
    app.add_middleware(SecurityHeaders)

    def _wants_json(request: Request) -> bool:
        return request.url.path.startswith("/api/") or request.url.path == "/health"

    def _error(
        request: Request,
        status: int,
        message: str,
        details: object = None,
        headers: Mapping[str, str] | None = None,
    ) -> Response:
        if _wants_json(request):
            body: dict[str, object] = {
                "status": status,
                "code": CODES.get(status, "error"),
                "message": message,
            }
            if details is not None:
                body["details"] = details
            return JSONResponse({"error": body}, status_code=status, headers=headers)
        return pages.render(
            request, "error.html", None, status=status, status_code=status, message=message
        )

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        return _error(request, exc.status_code, str(exc.detail), headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        details = [
            {"field": ".".join(str(x) for x in e["loc"][1:]), "message": e["msg"]}
            for e in exc.errors()
        ]
        fields = ", ".join(d["field"] for d in details)
        return _error(request, 422, f"invalid value for {fields}", details)

    @app.exception_handler(LoginRequired)
    async def login_required(request: Request, exc: LoginRequired) -> Response:
        return RedirectResponse(f"/login?next={request.url.path}", status_code=303)

    @app.get("/health", tags=["meta"])
    def health() -> dict[str, object]:
        # Row counts come from Parquet footers: no engine (and no Spark) needed.
        tables = Warehouse(settings.warehouse_dir).tables()
        return {"status": "ok", "version": __version__, "tables": len(tables)}

    @app.get("/api/v1/tables", tags=["meta"], summary="Warehouse tables and row counts")
    def list_tables(p: Principal = Depends(api_principal)) -> list[dict[str, object]]:
        return [
            {"name": t.name, "rows": t.rows, "updated_at": t.updated_at.isoformat()}
            for t in Warehouse(settings.warehouse_dir).tables()
        ]

    app.include_router(api.router)
    app.include_router(pages.router)
    app.include_router(inbox.router)
    app.include_router(ideas_web.router)
    app.include_router(queries_web.router)
    app.include_router(campaigns_web.router)
    app.include_router(email_links.router)
    app.include_router(preference_centre.router)
    app.include_router(preference_linking.router)
    app.include_router(privacy_web.router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    return app


class SecurityHeaders:
    """Security headers on every response, and ``Cache-Control: no-store`` on every one
    but the static assets: pages and API answers carry personal data (and pages the
    session's CSRF token), which no browser or shared cache should keep. Plain ASGI: no
    per-request task overhead."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        static = scope["path"].startswith("/static/")

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for k, v in SECURITY_HEADERS.items():
                    headers.setdefault(k, v)
                if not static:
                    headers.setdefault("Cache-Control", "no-store")
            await send(message)

        await self.app(scope, receive, with_headers)


class _TooLarge(Exception):
    """A request body past the limit, raised from ``receive`` to unwind the app."""


class BodyLimit:
    """413 for a request body over ``limit`` bytes, declared (Content-Length) or streamed.

    Below every route and the CSRF check, which reads an unauthenticated form before it
    can refuse it: without a limit anyone could make the app hold any body in memory.
    Plain ASGI, inside :class:`SecurityHeaders` (which adds its headers to the 413)."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.limit:
            await self._refuse(send)
            return
        seen = 0
        started = False

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise _TooLarge
            return message

        async def tracked(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, tracked)
        except _TooLarge:
            if not started:
                await self._refuse(send)

    async def _refuse(self, send: Send) -> None:
        body = f"request body over {self.limit:,} bytes".encode()
        await send({"type": "http.response.start", "status": 413, "headers": [
            (b"content-type", b"text/plain; charset=utf-8"),
            (b"content-length", str(len(body)).encode()), (b"connection", b"close")]})  # fmt: skip
        await send({"type": "http.response.body", "body": body})


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    from socialcrm.outbound import delivery

    st = app.state.crm
    # Outbox replies and webhooks in the background, when SOCIALCRM_DELIVERY_INTERVAL_SECONDS > 0;
    # campaign emails too, with the campaign side's consent check (programs load only then).
    scheduler = app.state.delivery = None
    recheck = contextlib.ExitStack()
    if st.settings.delivery_interval_seconds > 0:
        from socialcrm.programs.sending import delivery_recheck

        check = recheck.enter_context(delivery_recheck(st.settings))
        scheduler = app.state.delivery = delivery.start(st.db, st.settings, email_recheck=check)
    # Journeys too, when SOCIALCRM_JOURNEY_INTERVAL_SECONDS > 0 (programs load only then).
    journeys = app.state.journeys = None
    if st.settings.journey_interval_seconds > 0:
        from socialcrm.programs import journeys as journey_runs

        journeys = app.state.journeys = journey_runs.start(st.db, st.settings)
    # Saved listening queries over their sources, when SOCIALCRM_LISTEN_INTERVAL_SECONDS > 0.
    collecting = app.state.listening = None
    if st.settings.listen_interval_seconds > 0:
        from socialcrm.listening import collect as listening_collect

        collecting = app.state.listening = listening_collect.start(st.db, st.settings)
    yield
    if collecting is not None:
        await collecting.stop()
    if journeys is not None:
        await journeys.stop()
    if scheduler is not None:
        await scheduler.stop()
    recheck.close()
    st.db.close()
