"""The bulk brand (benchmarks/pipeline_scale.py's input) is valid: ingestion rejects nothing."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from socialcrm.store.ingest import ingest_file
from socialcrm.store.schemas import INPUT_TABLES
from socialcrm.store.workspace import Workspace
from socialcrm.synth.bulk import LOAD_ORDER, PLATFORMS, generate_bulk

CUSTOMERS = 500


@pytest.fixture(scope="module")
def brand(tmp_path_factory: pytest.TempPathFactory):
    return generate_bulk(tmp_path_factory.mktemp("bulk"), customers=CUSTOMERS, seed=2)


def test_every_table_loads_without_a_reject(brand, ws: Workspace) -> None:
    assert list(brand.inputs) == list(LOAD_ORDER)
    for table in LOAD_ORDER:
        report = ingest_file(ws, table, brand.inputs[table])
        assert report.rejected == 0, (table, [r.reason for r in report.rejects[:5]])
        assert report.accepted == brand.rows[table] == ws.warehouse.rows(table)


def test_columns_are_the_declared_ones(brand) -> None:
    for table, path in brand.inputs.items():
        names = pq.read_schema(path).names
        assert set(names) <= set(INPUT_TABLES[table].column_names), table


def test_sizes_per_customer_record(brand) -> None:
    rows = brand.rows
    assert rows["customers"] == CUSTOMERS
    assert 7 * CUSTOMERS <= rows["orders"] <= 13 * CUSTOMERS
    assert 7 * CUSTOMERS <= rows["follows"] <= 10 * CUSTOMERS
    assert rows["posts"] == CUSTOMERS


def test_people_have_several_records_that_share_contact_points(brand) -> None:
    """Identity resolution has work: the same email on more than one record."""
    ids = pq.read_table(brand.inputs["identities"])
    emails = pc.utf8_lower(ids.filter(pc.equal(ids["kind"], "email"))["value"])
    assert pc.count_distinct(emails).as_py() < len(emails) * 0.9


def test_same_seed_same_files(brand, tmp_path: Path) -> None:
    again = generate_bulk(tmp_path, customers=CUSTOMERS, seed=2)
    for table in LOAD_ORDER:
        assert pq.read_table(again.inputs[table]).equals(pq.read_table(brand.inputs[table]))


def _unique(table, *columns: str) -> bool:
    keys = table.group_by(list(columns)).aggregate([])
    return keys.num_rows == table.num_rows


def test_keys_are_unique_and_every_reference_resolves(brand) -> None:
    t = {name: pq.read_table(path) for name, path in brand.inputs.items()}
    assert _unique(t["customers"], "customer_id")
    assert _unique(t["orders"], "order_id")
    assert _unique(t["touches"], "touch_id")
    assert _unique(t["posts"], "post_id")
    assert _unique(t["follows"], "platform", "follower_handle", "followed_handle")
    assert _unique(t["consents"], "customer_id", "purpose")
    customers = t["customers"]["customer_id"]
    for table in ("identities", "consents", "touches", "orders"):
        ids = t[table]["customer_id"].drop_null()
        assert pc.all(pc.is_in(ids, value_set=customers)).as_py(), table
    # an order names its customer by id or by email, never by neither
    orders = t["orders"]
    assert pc.sum(
        pc.and_(pc.is_null(orders["customer_id"]), pc.is_null(orders["email"]))
    ).as_py() in (0, None)
    emails = t["identities"].filter(pc.equal(t["identities"]["kind"], "email"))["value"]
    assert pc.all(pc.is_in(orders["email"].drop_null(), value_set=emails)).as_py()
    # a handle belongs to one customer record per network (demo issue: unique handles)
    social = t["identities"].filter(
        pc.is_in(t["identities"]["kind"], value_set=pa.array(PLATFORMS))
    )
    assert len(social) > 0.2 * CUSTOMERS
    assert _unique(social, "kind", "value")
    # replies and reshares point at an earlier post of the same network
    posts = t["posts"]
    where = {pid: (plat, at) for pid, plat, at in zip(
        posts["post_id"].to_pylist(), posts["platform"].to_pylist(),
        posts["created_at"].to_pylist(), strict=True)}  # fmt: skip
    parents = 0
    for row in posts.select(
        ["platform", "created_at", "reply_to_post_id", "reshare_of_post_id"]
    ).to_pylist():
        for parent in (row["reply_to_post_id"], row["reshare_of_post_id"]):
            if parent is not None:
                parents += 1
                assert parent in where
                assert where[parent][0] == row["platform"] and where[parent][1] <= row["created_at"]
    assert parents > 0.2 * CUSTOMERS
    # no one follows themselves
    follows = t["follows"]
    assert not pc.any(pc.equal(follows["follower_handle"], follows["followed_handle"])).as_py()
