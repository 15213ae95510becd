"""The web app: FastAPI, server-rendered pages and the REST API.

This is the shell later issues fill: a health endpoint, the workspace's tables, and the
JSON API under ``/api/v1``.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from socialcrm import __version__
from socialcrm.config import Settings, get_settings
from socialcrm.store.warehouse import Warehouse

TEMPLATES = Jinja2Templates(directory=Path(__file__).parent / "templates")


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    app = FastAPI(
        title="socialcrm",
        version=__version__,
        openapi_url="/api/v1/openapi.json",
        docs_url="/api/v1/docs",
        redoc_url=None,
    )

    def warehouse() -> Warehouse:
        # Row counts come from Parquet footers: no engine (and no Spark) needed to list.
        return Warehouse(settings.warehouse_dir)

    @app.get("/health")
    def health() -> dict[str, object]:
        return {"status": "ok", "version": __version__, "tables": len(warehouse().tables())}

    @app.get("/api/v1/tables")
    def list_tables() -> list[dict[str, object]]:
        return [
            {"name": t.name, "rows": t.rows, "updated_at": t.updated_at.isoformat()}
            for t in warehouse().tables()
        ]

    @app.get("/", response_class=HTMLResponse)
    def home(request: Request) -> HTMLResponse:
        return TEMPLATES.TemplateResponse(
            request,
            "home.html",
            {"tables": warehouse().tables(), "home": settings.home, "version": __version__},
        )

    return app
