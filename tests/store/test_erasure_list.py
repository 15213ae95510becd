"""The erasure list: keyed one-way hashes that ingestion checks, without the plain values."""

from __future__ import annotations

import doctest
from pathlib import Path

import pyarrow as pa

from socialcrm.config import Settings
from socialcrm.store import erasure
from socialcrm.store.erasure import (
    REASON,
    erased_list,
    erased_rows,
    erasure_key,
    identifier_hash,
)
from socialcrm.store.ingest import ingest_file
from socialcrm.store.workspace import Workspace


def test_doctests() -> None:
    assert doctest.testmod(erasure).failed == 0


def test_the_hash_depends_on_the_key_kind_and_normalised_value(tmp_path: Path) -> None:
    a = erasure_key(Settings(home=tmp_path, web_secret_key="a" * 40))
    b = erasure_key(Settings(home=tmp_path, web_secret_key="b" * 40))
    assert identifier_hash(a, "handle", "@Ann_K") == identifier_hash(a, "handle", "ann_k")
    assert identifier_hash(a, "handle", "ann_k") != identifier_hash(b, "handle", "ann_k")
    assert identifier_hash(a, "handle", "ann_k") != identifier_hash(a, "email", "ann_k")
    assert "ann" not in identifier_hash(a, "handle", "ann_k")


def test_screen_marks_rows_naming_an_erased_identifier_by_kind(tmp_path: Path) -> None:
    key = erasure_key(Settings(home=tmp_path, web_secret_key="k" * 40))
    hashes = [
        identifier_hash(key, "email", "ann@example.com"),
        identifier_hash(key, "record", "c7"),
    ]
    listed = erased_list(Settings(home=tmp_path, web_secret_key="k" * 40),
                         erased_rows(hashes, ["email", "record"]))  # fmt: skip
    assert listed is not None
    rows = pa.table({
        "customer_id": ["c1", "c2", "c7"],
        "kind": ["email", "phone", "email"],
        "value": ["ann@example.com", "+4915112345678", "x@example.com"],
    })  # fmt: skip
    hit, fields = listed.screen("identities", rows)
    assert hit.to_pylist() == [True, False, True]
    assert fields == ["value", None, "customer_id"]


def test_an_import_rejects_erased_rows_and_keeps_no_text(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "ws", web_secret_key="k" * 40, phone_region="DE")
    key = erasure_key(settings)
    with Workspace.open(settings) as ws:
        ann = identifier_hash(key, "email", "ann@example.com")
        ws.warehouse.write(erasure.ERASED_TABLE, erased_rows([ann], ["email"]))
        path = tmp_path / "orders.csv"
        path.write_text(
            "order_id,customer_id,email,ordered_at,amount,currency,status\n"
            "o1,c1,Ann@Example.com,2025-01-01T10:00:00Z,10,EUR,completed\n"
            "o2,c2,bo@example.com,2025-01-01T10:00:00Z,12,EUR,completed\n"
        )
        report = ingest_file(ws, "orders", path)
        assert (report.accepted, report.rejected) == (1, 1)
        assert [(r.line, r.field, r.reason) for r in report.rejects] == [(2, "email", REASON)]
        rejects = ws.warehouse.read_arrow("rejects").to_pylist()
        assert [r["raw"] for r in rejects] == [""]
        assert ws.warehouse.read_arrow("orders").column("order_id").to_pylist() == ["o2"]
