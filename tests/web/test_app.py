"""The app shell over real HTTP: health, tables, the published OpenAPI schema."""

from __future__ import annotations

import httpx

from tests.web.conftest import Site


def test_health_is_open_and_counts_tables(site: Site) -> None:
    health = httpx.get(f"{site.url}/health").json()
    assert health["status"] == "ok" and health["tables"] == 12


def test_tables_need_a_caller_and_list_row_counts(site: Site) -> None:
    assert httpx.get(f"{site.url}/api/v1/tables").status_code == 401
    with site.api("viewer") as c:
        rows = {t["name"]: t["rows"] for t in c.get("/api/v1/tables").json()}
    assert rows["customers"] == 60 and rows["posts_enriched"] == 30


def test_openapi_is_published_with_the_api(site: Site) -> None:
    spec = httpx.get(f"{site.url}/api/v1/openapi.json").json()
    assert {"/api/v1/customers", "/api/v1/customers/{customer_id}", "/api/v1/posts"} <= set(
        spec["paths"]
    )
    assert "/login" not in spec["paths"]  # pages are not part of the API
