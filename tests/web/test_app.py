"""The app over real HTTP: uvicorn on a loopback port, httpx as the client."""

import socket
import threading
import time
from collections.abc import Iterator

import httpx
import pyarrow as pa
import pytest
import uvicorn

from socialcrm.config import Settings
from socialcrm.store.warehouse import Warehouse
from socialcrm.web.app import create_app


@pytest.fixture
def server(settings: Settings) -> Iterator[str]:
    Warehouse(settings.warehouse_dir).write("orders", pa.table({"x": list(range(1234))}))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="error")
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    while not srv.started:
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join()


def test_health_and_tables(server: str) -> None:
    health = httpx.get(f"{server}/health").json()
    assert health["status"] == "ok" and health["tables"] == 1
    assert httpx.get(f"{server}/api/v1/tables").json()[0] | {"updated_at": None} == {
        "name": "orders",
        "rows": 1234,
        "updated_at": None,
    }


def test_home_lists_tables_with_counts(server: str) -> None:
    page = httpx.get(f"{server}/")
    assert page.status_code == 200
    assert "<td>orders</td>" in page.text and "1,234" in page.text


def test_openapi_is_published(server: str) -> None:
    spec = httpx.get(f"{server}/api/v1/openapi.json").json()
    assert "/api/v1/tables" in spec["paths"]
