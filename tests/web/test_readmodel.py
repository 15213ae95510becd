"""The read model: same answers as plain SQL over the warehouse, and fresh after a swap."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from socialcrm.store.warehouse import Warehouse
from socialcrm.web.charts import bar_list
from socialcrm.web.readmodel import ReadModel
from socialcrm.web.security import LoginLimiter, TokenCache
from tests.web.conftest import XSS, build_warehouse


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    r = tmp_path_factory.mktemp("rm") / "warehouse"
    build_warehouse(r)
    return r


@pytest.mark.parametrize(
    ("filters", "where"),
    [
        ({"risk_band": "medium", "sort": "clv", "order": "desc"}, "risk_band = 'medium'"),
        ({"min_clv": 500.0, "sort": "p_alive", "order": "asc"}, "clv >= 500"),
        ({"sort": "last_purchase", "order": "desc"}, "TRUE"),
        ({"sort": "influence", "order": "asc", "min_p_alive": 0.5}, "p_alive >= 0.5"),
    ],
)
def test_pages_match_sql(root: Path, filters: dict, where: str) -> None:
    rm = ReadModel(root)
    key = {"influence": "influence_score"}.get(filters["sort"], filters["sort"])
    expected = [
        r[0]
        for r in duckdb.connect()
        .execute(
            "SELECT c.customer_id FROM read_parquet(?) c "
            "LEFT JOIN read_parquet(?) s USING (customer_id) "
            "LEFT JOIN read_parquet(?) f USING (customer_id) "
            f"WHERE {where} ORDER BY {key} {filters['order']} NULLS LAST, customer_id",
            [
                str(next((root / "customers").glob("v-*/*.parquet"))),
                str(next((root / "customer_transaction_scores").glob("v-*/*.parquet"))),
                str(next((root / "customer_influence").glob("v-*/*.parquet"))),
            ],
        )
        .fetchall()
    ]
    got, total = [], None
    for page in (1, 2, 3):
        items, total = rm.customers(**filters, page=page, page_size=7)
        got += [i["customer_id"] for i in items]
    assert total == len(expected) and got == expected[:21]


def test_a_new_version_is_seen(tmp_path: Path) -> None:
    root = tmp_path / "warehouse"
    build_warehouse(root)
    rm = ReadModel(root, recheck_seconds=0)
    assert rm.customers()[1] == 60
    w = Warehouse(root)
    w.write("customers", w.read_arrow("customers").slice(0, 10))
    assert rm.customers()[1] == 10
    assert rm.customer("c020") is None and rm.detail("identities", "c000")[0]["kind"] == "email"


def test_chart_labels_are_escaped() -> None:
    svg = str(bar_list("topics", [(XSS, 3.0)]))
    assert "<script>" not in svg and "&lt;script&gt;" in svg


def test_token_cache_remembers_for_its_ttl() -> None:
    calls = []
    cache = TokenCache(ttl=60)
    for _ in range(3):
        cache.get("secret", lambda: calls.append(1))
    assert len(calls) == 1
    TokenCache(ttl=0).get("secret", lambda: calls.append(1))
    assert len(calls) == 2


def test_login_limiter_window() -> None:
    now = [0.0]
    lim = LoginLimiter(attempts=2, window=10, clock=lambda: now[0])
    lim.failed("ip:1")
    lim.failed("ip:1")
    assert lim.retry_after("ip:1") == 10 and lim.retry_after("ip:2") == 0
    now[0] = 10.5
    assert lim.retry_after("ip:1") == 0


def test_empty_warehouse(tmp_path: Path) -> None:
    rm = ReadModel(tmp_path / "nothing")
    assert rm.customers() == ([], 0) and rm.customer("x") is None
    assert rm.detail("orders", "x") == []
