"""The read model: same answers as plain SQL over the warehouse, and fresh after a swap."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from socialcrm.store.warehouse import Warehouse
from socialcrm.web import views
from socialcrm.web.charts import bar_list, trend
from socialcrm.web.readmodel import ReadModel
from socialcrm.web.security import LoginLimiter, TokenCache
from tests.web.conftest import (
    SEGMENT_ACTION,
    XSS,
    N,
    build_targeting,
    build_warehouse,
    relationship_value,
    segment_of,
    tier_of,
    trinity_of,
)


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


@pytest.fixture(scope="module")
def full_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    r = tmp_path_factory.mktemp("rm-full") / "warehouse"
    build_warehouse(r)
    build_targeting(r)
    return r


def test_the_list_carries_segments_and_trinity(full_root: Path) -> None:
    rm = ReadModel(full_root)
    items, total = rm.customers(segment="dormant", sort="trinity", order="desc", page_size=100)
    dormant = [i for i in range(N) if segment_of(i) == "dormant"]
    # trinity_of falls with i: highest TRInity first means lowest index first
    assert total == len(dormant)
    assert [x["customer_id"] for x in items] == [f"c{i:03d}" for i in dormant]
    assert [x["trinity_score"] for x in items] == [trinity_of(i) for i in dormant]
    assert rm.customers(min_trinity=60)[1] == sum(trinity_of(i) >= 60 for i in range(N))
    top = rm.customers(tier="top", segment="high_value_buyer", page_size=100)[0]
    assert {x["customer_id"] for x in top} == {
        f"c{i:03d}" for i in range(N) if tier_of(i) == "top" and segment_of(i) == "high_value_buyer"
    }
    c = rm.customer("c006")
    assert (c["segment"], c["tier"], c["segment_reason"]) == (
        "at_risk_high_value",
        "top",
        "rule of at_risk_high_value matched c006",
    )
    assert c["relationship_pct"] == float((6 * 37) % 100) and c["person_id"] is None


def test_score_explanation_states_unknown_axes_and_four_ps(full_root: Path) -> None:
    rm = ReadModel(full_root)
    c = views.customer_360(rm, "c001")
    s = c["scores"]
    assert s["composite"] == trinity_of(1) and s["axes"] == "TRI"
    rel = s["relationship"]
    assert rel["value"] == relationship_value(1)
    # points per P add up to the relationship value: 100 · weight · depth · recency
    assert [p["points"] for p in rel["parts"]] == [
        16.0,
        10.0,
        5.0,
        round(100 * 0.3 * 0.25 * 0.8, 2),
    ]
    assert sum(p["points"] for p in rel["parts"]) == pytest.approx(relationship_value(1))
    assert s["influence"]["known"] and s["influence"]["percentile"] == 90.0
    unknown = views.customer_360(rm, "c004")["scores"]
    assert unknown["influence"] == {
        "known": False,
        "reason": "no social_linking consent",
        "percentile": None,
        "value": None,
        "drivers": ["unknown: no social_linking consent"],
    }
    assert unknown["axes"] == "TR" and unknown["unknown"] == {
        "influence": "no social_linking consent"
    }
    assert [a["rank"] for a in views.customer_360(rm, "c004")["actions"]] == [1, 2]
    # a customer never scored by the TRInity step says so, and relationship is not made up
    plain = views.score_explanation(rm.customer("c003"))
    assert plain["relationship"] is None and "customer_scores" in plain["note"]


def test_a_record_shows_its_resolved_persons_scores(tmp_path: Path) -> None:
    root = tmp_path / "warehouse"
    build_warehouse(root)
    build_targeting(root)
    ids = [f"c{i:03d}" for i in range(N)]
    person = {r: r for r in ids} | {"c059": "c000"}  # c059 is another record of c000
    Warehouse(root).write(
        "identity_clusters",
        pa.table({"record_id": list(person), "customer_id": list(person.values())}),
    )
    rm = ReadModel(root, recheck_seconds=0)
    c = views.customer_360(rm, "c059")
    assert c["person_id"] == "c000"
    assert c["scores"]["composite"] == trinity_of(0)
    assert c["segment"]["segment"] == segment_of(0)
    assert c["next_best_action"]["action"] == SEGMENT_ACTION[segment_of(0)][0]
    own = views.customer_360(rm, "c000")
    assert own["person_id"] is None
    # one history for the person: both records' orders and identities, each row naming
    # its record, orders newest first; consents stay the viewed record's
    assert c["records"] == own["records"] == ["c000", "c059"]
    for table, key in (("orders", "order_id"), ("identities", "value")):
        per_record = {r: {x[key] for x in rm.detail(table, r)} for r in ("c000", "c059")}
        assert per_record["c000"]  # c059 alone would show none of these
        got = {(x["record_id"], x[key]) for x in c[table]}
        assert got == {(r, v) for r, vs in per_record.items() for v in vs}
        assert {(x["record_id"], x[key]) for x in own[table]} == got
    dates = [o["ordered_at"] for o in c["orders"]]
    assert dates == sorted(dates, reverse=True)
    assert {k["customer_id"] for k in c["consent_history"]} <= {"c059"}


def test_targeting_views_on_an_empty_warehouse(tmp_path: Path) -> None:
    rm = ReadModel(tmp_path / "nothing")
    assert views.segments(rm) == [] and views.segment_trends(rm) == []
    assert views.campaigns(rm) == []


def test_trend_chart_draws_a_dot_per_run_and_escapes_labels() -> None:
    svg = str(trend(XSS, ["01 Jun", "01 Jul", "01 Aug"], [3, None, 5]))
    assert svg.count("<circle") == 2 and "<script>" not in svg
    assert str(trend("t", ["x"], [None])) == ""


def test_pages_are_exact_whatever_path_finds_them() -> None:
    """Dense, sparse, empty and sort-opposed filters (the walk, the ranked matches and the
    walk that gives up half-way) all give the brute-force order, ties by customer_id."""
    import numpy as np

    from socialcrm.web.readmodel import LIST_COLUMNS, SORTS, CustomerIndex

    n = 20_000
    rng = np.random.default_rng(3)
    clv = rng.gamma(1.0, 300.0, n).round(0)  # many ties
    clv[rng.random(n) < 0.05] = np.nan  # nulls sort last both ways
    p_alive = rng.random(n)
    names = [*LIST_COLUMNS, *SORTS.values(), "tier"]
    cols: dict[str, pa.Array] = {c: pa.array(rng.random(n)) for c in names}
    cols |= {
        "customer_id": pa.array([f"c{i:06d}" for i in range(n)]),
        "name": pa.array([f"n{i % 97}" for i in range(n)]),
        "name_lc": pa.array([""] * n),
        "segment": pa.array(rng.choice(["new", "dormant"], n)),
        "tier": pa.array(rng.choice(["top", "low"], n)),
        "amplifier": pa.array(rng.random(n) < 0.1),
        "clv": pa.array(clv, from_pandas=True),
        "p_alive": pa.array(p_alive),
        "risk_band": pa.array(rng.choice(["low", "high"], n)),
        "community_id": pa.array(rng.integers(0, 50, n)),
        "trinity_score": pa.array(rng.random(n) * 100),
        "frequency": pa.array(rng.integers(0, 9, n)),
        "spend": pa.array(rng.random(n)),
        "last_purchase": pa.array(rng.integers(0, 900, n).astype("int32")).cast(pa.date32()),
        "influence_score": pa.array(rng.random(n)),
    }
    index = CustomerIndex(pa.table(cols))

    def brute(mask: np.ndarray, values: np.ndarray, descending: bool) -> list[int]:
        rows = np.flatnonzero(mask)
        v = values[rows]
        key = np.where(np.isnan(v), np.inf, -v if descending else v)
        return rows[np.lexsort((rows, key))].tolist()

    masks = {
        "dense": p_alive < 0.7,
        "sparse": rng.random(n) < 0.002,
        "empty": np.zeros(n, dtype=bool),
        "against the sort": p_alive >= 0.9,
        "one": np.arange(n) == 12_345,
    }
    for name, mask in masks.items():
        for key, values in (("clv", clv), ("p_alive", p_alive)):
            for descending in (True, False):
                want = brute(mask, values, descending)
                for offset in (0, 50, 1_950):
                    rows, total = index.page(mask, key, descending, offset, 50)
                    got = [int(r["customer_id"][1:]) for r in rows]
                    assert total == len(want), name
                    assert got == want[offset : offset + 50], (name, key, descending, offset)
