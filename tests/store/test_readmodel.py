"""The read model: same answers as plain SQL over the warehouse, and fresh after a swap."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from socialcrm.store import reads
from socialcrm.store.reads import CustomerFilter, ReadModel
from socialcrm.store.warehouse import Warehouse
from tests.web.conftest import N, build_targeting, build_warehouse, segment_of, tier_of, trinity_of


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
        items, total = rm.customers(CustomerFilter(**filters), page=page, page_size=7)
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
    dormant_first = CustomerFilter(segment="dormant", sort="trinity", order="desc")
    items, total = rm.customers(dormant_first, page_size=100)
    dormant = [i for i in range(N) if segment_of(i) == "dormant"]
    # trinity_of falls with i: highest TRInity first means lowest index first
    assert total == len(dormant)
    assert [x["customer_id"] for x in items] == [f"c{i:03d}" for i in dormant]
    assert [x["trinity_score"] for x in items] == [trinity_of(i) for i in dormant]
    assert rm.customers(CustomerFilter(min_trinity=60))[1] == sum(
        trinity_of(i) >= 60 for i in range(N)
    )
    top = rm.customers(CustomerFilter(tier="top", segment="high_value_buyer"), page_size=100)[0]
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


def test_targeting_views_on_an_empty_warehouse(tmp_path: Path) -> None:
    rm = ReadModel(tmp_path / "nothing")
    assert reads.targeting.segments(rm) == [] and reads.targeting.segment_trends(rm) == []
    assert reads.programs.campaigns(rm) == []


def test_pages_are_exact_whatever_path_finds_them() -> None:
    """Dense, sparse, empty and sort-opposed filters (the walk, the ranked matches and the
    walk that gives up half-way) all give the brute-force order, ties by customer_id."""
    import numpy as np

    from socialcrm.store.reads.model import LIST_COLUMNS, SORTS, CustomerIndex

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


def test_remembered_aggregates_follow_the_warehouse(tmp_path: Path) -> None:
    """A remembered result (:meth:`ReadModel.memo`) is computed once, then again after a
    new version of a table it names or a rebuild of the in-memory list; each caller gets
    its own copy to change."""
    root = tmp_path / "warehouse"
    build_warehouse(root)
    rm = ReadModel(root, recheck_seconds=0)
    calls: list[int] = []

    def compute() -> dict[str, list[int]]:
        calls.append(1)
        return {"rows": [len(calls)]}

    first = rm.memo(("k",), ("customer_influence",), compute)
    first["rows"].append(99)  # the caller's copy, not the remembered one
    assert rm.memo(("k",), ("customer_influence",), compute) == {"rows": [1]} and len(calls) == 1
    w = Warehouse(root)
    w.write("customer_influence", w.read_arrow("customer_influence").slice(0, 5))
    assert rm.memo(("k",), ("customer_influence",), compute) == {"rows": [2]}
    assert reads.customers.overview(rm)["customers"] == N
    w.write("customers", w.read_arrow("customers").slice(0, 10))  # the list is rebuilt
    assert reads.customers.overview(rm)["customers"] == 10
    assert rm.memo(("k",), ("customer_influence",), compute) == {"rows": [3]}
    assert len(reads.customers.influencers(rm)) == 5


def test_a_remembered_result_is_computed_once_for_concurrent_callers(tmp_path: Path) -> None:
    """Callers arriving while the result is computed wait for it rather than computing it
    again: the first computation is held open (no clock involved) until the others have
    been started, then released."""
    import threading

    rm = ReadModel(tmp_path / "nothing")
    computing, release = threading.Event(), threading.Event()
    again: list[int] = []

    def first() -> int:
        computing.set()
        release.wait()
        return 7

    def second() -> int:
        again.append(1)
        return 8

    found: list[int] = []
    one = threading.Thread(target=lambda: found.append(rm.memo(("k",), (), first)))
    one.start()
    computing.wait()
    others = [
        threading.Thread(target=lambda: found.append(rm.memo(("k",), (), second))) for _ in range(7)
    ]
    for t in others:
        t.start()
    release.set()
    for t in (one, *others):
        t.join()
    assert found == [7] * 8 and again == []


def test_columns_follow_the_version(tmp_path: Path) -> None:
    root = tmp_path / "warehouse"
    build_warehouse(root)
    rm = ReadModel(root)
    assert "nickname" not in rm.columns("customers") and rm.columns("missing") == frozenset()
    w = Warehouse(root)
    table = w.read_arrow("customers")
    w.write("customers", table.append_column("nickname", pa.array(["x"] * table.num_rows)))
    assert "nickname" in rm.columns("customers")


def test_a_few_rows_convert_as_to_pylist_does() -> None:
    """The 360's rows, converted value by value, are what Arrow's ``to_pylist`` gives."""
    from datetime import UTC, datetime
    from decimal import Decimal

    from socialcrm.store.reads.model import _pylist

    t = pa.table({
        "at": pa.array([datetime(2025, 1, 2, 3, tzinfo=UTC), None], pa.timestamp("us", "UTC")),
        "tags": pa.array([["a", "b"], []]),
        "pair": pa.array([{"x": 1, "y": "z"}, None]),
        "band": pa.array(["low", "high"]).dictionary_encode(),
        "money": pa.array([Decimal("1.50"), None], pa.decimal128(9, 2)),
        "attrs": pa.array([[("k", 1)], None], pa.map_(pa.string(), pa.int64())),
        "flag": pa.array([True, None]),
    })  # fmt: skip
    assert _pylist(t, [1, 0]) == t.take([1, 0]).to_pylist()
