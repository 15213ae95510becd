"""Partial updates: a file with some columns updates only those in existing rows."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from socialcrm.store.ingest import ingest_file
from socialcrm.store.workspace import Workspace

FULL = (
    "customer_id,source,created_at,first_name,last_name,birth_date,city,country,"
    "preferred_channel,reviews_written\n"
    "c1,shop,2024-01-01,Anna,Berg,1990-05-01,Berlin,de,email,3\n"
    "c2,shop,2024-01-02,Bob,Marsh,1985-02-03,Paris,FR,sms,1\n"
)
KEPT = ["first_name", "birth_date", "city", "country", "preferred_channel", "reviews_written"]


def _customers(ws: Workspace) -> dict[str, dict]:
    return {r["customer_id"]: r for r in ws.warehouse.read_arrow("customers").to_pylist()}


def _counts(report) -> tuple[int, int, int]:
    return report.accepted, report.updated, report.unchanged


def test_partial_file_updates_only_its_columns(ws: Workspace, tmp_path: Path) -> None:
    full = tmp_path / "full.csv"
    full.write_text(FULL)
    ingest_file(ws, "customers", full)
    before = _customers(ws)

    part = tmp_path / "part.csv"
    part.write_text(
        "customer_id,source,created_at,last_name\n"
        "c1,shop,2024-01-01,Bergström\n"  # changed
        "c2,shop,2024-01-02,\n"  # an empty cell sets null
        "c3,newsletter,2024-01-03,New\n"  # new: absent columns are null
    )
    assert _counts(ingest_file(ws, "customers", part)) == (1, 2, 0)
    after = _customers(ws)
    assert after["c1"]["last_name"] == "Bergström"
    assert after["c2"]["last_name"] is None
    for cid in ("c1", "c2"):
        assert {c: after[cid][c] for c in KEPT} == {c: before[cid][c] for c in KEPT}
    assert after["c1"]["country"] == "DE" and after["c1"]["reviews_written"] == 3
    assert after["c3"]["last_name"] == "New" and after["c3"]["source"] == "newsletter"
    assert all(after["c3"][c] is None for c in KEPT)

    # the same partial file again: nothing changes, and the counts say so
    version = (ws.warehouse.root / "customers" / "_CURRENT").read_text()
    assert _counts(ingest_file(ws, "customers", part)) == (0, 0, 3)
    assert (ws.warehouse.root / "customers" / "_CURRENT").read_text() == version

    # the full file again restores c1 and c2's last names only: the rest is as it was
    assert _counts(ingest_file(ws, "customers", full)) == (0, 2, 0)
    assert _customers(ws)["c1"] == before["c1"]

    # replace: whole rows, absent columns become null
    assert _counts(ingest_file(ws, "customers", part, replace=True)) == (0, 2, 1)
    replaced = _customers(ws)
    assert replaced["c1"]["last_name"] == "Bergström"
    assert all(replaced["c1"][c] is None for c in KEPT)
    assert _counts(ingest_file(ws, "customers", part, replace=True)) == (0, 0, 3)


def test_jsonl_carries_a_column_any_record_names(ws: Workspace, tmp_path: Path) -> None:
    full = tmp_path / "full.csv"
    full.write_text(FULL)
    ingest_file(ws, "customers", full)
    records = [
        {"customer_id": "c1", "source": "shop", "created_at": "2024-01-01", "city": "Hamburg"},
        # names no city, but the file carries city: c2's city becomes null
        {"customer_id": "c2", "source": "shop", "created_at": "2024-01-02", "occupation": None},
    ]
    path = tmp_path / "part.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in records) + "\n")
    assert _counts(ingest_file(ws, "customers", path)) == (0, 2, 0)
    got = _customers(ws)
    assert got["c1"]["city"] == "Hamburg" and got["c2"]["city"] is None
    assert got["c1"]["last_name"] == "Berg" and got["c2"]["preferred_channel"] == "sms"
    assert _counts(ingest_file(ws, "customers", path)) == (0, 0, 2)


def test_parquet_partial_orders(ws: Workspace, tmp_path: Path) -> None:
    csv = tmp_path / "orders.csv"
    csv.write_text(
        "order_id,customer_id,email,ordered_at,amount,currency,status,quantity\n"
        "o1,c1,a@example.com,2024-01-05,19.90,EUR,completed,2\n"
        "o2,c2,,2024-01-06,5,EUR,completed,1\n"
    )
    ingest_file(ws, "orders", csv)
    table = pa.table(
        {
            "order_id": ["o1", "o3"],
            "customer_id": ["c1", "c3"],
            "ordered_at": ["2024-01-05", "2024-01-07"],
            "amount": [-19.9, 7.0],
            "currency": ["EUR", "EUR"],
            "status": ["returned", "completed"],
        }
    )
    pq.write_table(table, tmp_path / "status.parquet")
    report = ingest_file(ws, "orders", tmp_path / "status.parquet")
    assert _counts(report) == (1, 1, 0)
    orders = {r["order_id"]: r for r in ws.warehouse.read_arrow("orders").to_pylist()}
    assert len(orders) == 3
    assert orders["o1"]["status"] == "returned" and orders["o1"]["amount"] == -19.9
    assert orders["o1"]["email"] == "a@example.com" and orders["o1"]["quantity"] == 2
    assert orders["o3"]["email"] is None and orders["o3"]["quantity"] is None
    assert orders["o2"]["amount"] == 5.0


def test_identity_raw_value_kept_unless_the_file_carries_it(ws: Workspace, tmp_path: Path) -> None:
    first = tmp_path / "a.csv"
    first.write_text(
        "customer_id,kind,value,source,verified\nc1,email, Anna.Berg@Example.COM ,shop,false\n"
    )
    ingest_file(ws, "identities", first)
    # the same identity written another way, now verified: raw_value is not carried
    second = tmp_path / "b.csv"
    second.write_text(
        "customer_id,kind,value,source,verified\n"
        "c1,email,anna.berg@example.com,shop,true\n"
        "c2,email,Bob@Example.com,shop,false\n"
    )
    assert _counts(ingest_file(ws, "identities", second)) == (1, 1, 0)
    ids = {r["customer_id"]: r for r in ws.warehouse.read_arrow("identities").to_pylist()}
    assert ids["c1"]["raw_value"] == " Anna.Berg@Example.COM " and ids["c1"]["verified"]
    assert ids["c2"]["raw_value"] == "Bob@Example.com"  # new rows: the value as written
    assert _counts(ingest_file(ws, "identities", second)) == (0, 0, 2)
    # a file with raw_value sets it
    third = tmp_path / "c.csv"
    third.write_text(
        "customer_id,kind,value,raw_value,source,verified\n"
        "c1,email,anna.berg@example.com,ANNA.BERG@EXAMPLE.COM,shop,true\n"
    )
    assert _counts(ingest_file(ws, "identities", third)) == (0, 1, 0)
    ids = {r["customer_id"]: r for r in ws.warehouse.read_arrow("identities").to_pylist()}
    assert ids["c1"]["raw_value"] == "ANNA.BERG@EXAMPLE.COM"
