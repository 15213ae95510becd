import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from socialcrm.store.ingest import IngestError, ingest_file
from socialcrm.store.workspace import Workspace

HEADER = "order_id,customer_id,email,ordered_at,amount,currency,status,quantity\n"
MESSY_ORDERS = HEADER + (
    "o1,c1,,2024-01-05,19.90,EUR,completed,1\n"  # line 2: good
    "o2,,Anna.Berg@Example.com ,2024-01-06T10:00:00+02:00,25,eur,completed,2\n"  # 3: good
    "o3,c2,,2024-13-45,10,EUR,completed,1\n"  # 4: bad date
    "o4,c2,,2024-02-01,-5,EUR,returned,-1\n"  # 5: negative quantity
    "o5,c3,,2024-02-02,12,ABC,completed,1\n"  # 6: unknown currency
    ",c3,,2024-02-03,12,EUR,completed,1\n"  # 7: missing key
    "o7,,,2024-02-04,12,EUR,completed,1\n"  # 8: neither customer nor email
    'o8,c4,,2024-02-05,"12,EUR,completed,1\n'  # 9: broken quoting
    "o9,c4,,2024-02-06,13,EUR,shipped,1\n"  # 10: unknown status
    "o10,c5,,2024-02-07 09:30,abc,EUR,completed,1\n"  # 11: amount not a number
    "o1,c1,,2024-01-05,19.90,EUR,completed,1\n"  # 12: repeated key
    "o11,c6,not-an-email,2024-02-08,10,EUR,completed,1\n"  # 13: bad email
    "o12,c6,,2024-02-09 08:00,-10,EUR,returned,\n"  # 14: good refund
)
EXPECTED_REJECTS = {
    4: "ordered_at",
    5: "quantity",
    6: "currency",
    7: "order_id",
    8: "customer_id|email",
    9: None,
    10: "status",
    11: "amount",
    12: "order_id",
    13: "email",
}


@pytest.fixture
def messy(tmp_path: Path) -> Path:
    p = tmp_path / "orders.csv"
    p.write_text(MESSY_ORDERS)
    return p


def test_good_rows_load_and_each_bad_row_is_reported(ws: Workspace, messy: Path) -> None:
    report = ingest_file(ws, "orders", messy)
    assert report.committed
    assert (report.accepted, report.rejected, report.updated, report.unchanged) == (3, 10, 0, 0)
    assert {r.line: r.field for r in report.rejects} == EXPECTED_REJECTS
    reasons = {r.line: r.reason for r in report.rejects}
    assert "2024-13-45" in reasons[4]
    assert "'ABC'" in reasons[6] and "ISO 4217" in reasons[6]
    assert "line 2" in reasons[12]

    orders = ws.warehouse.read_arrow("orders").to_pandas().set_index("order_id")
    assert sorted(orders.index) == ["o1", "o12", "o2"]
    assert orders.loc["o2", "email"] == "anna.berg@example.com"
    assert orders.loc["o2", "currency"] == "EUR"
    # an offset is converted to UTC; a date alone is midnight UTC
    assert orders.loc["o2", "ordered_at"].isoformat() == "2024-01-06T08:00:00+00:00"
    assert orders.loc["o1", "ordered_at"].isoformat() == "2024-01-05T00:00:00+00:00"
    assert orders.loc["o12", "amount"] == -10.0

    kept = ws.warehouse.read_arrow("rejects").to_pandas()
    assert len(kept) == 10
    assert kept.set_index("line").loc[9, "raw"] == 'o8,c4,,2024-02-05,"12,EUR,completed,1'
    assert set(kept.file) == {str(messy.resolve())}
    # every reject keeps its row verbatim, the repeated key (line 12) included
    lines = MESSY_ORDERS.splitlines()
    assert {line: raw for line, raw in zip(kept.line, kept.raw, strict=True)} == {
        line: lines[line - 1] for line in EXPECTED_REJECTS
    }


def test_each_repeat_of_a_key_is_rejected_verbatim(ws: Workspace, tmp_path: Path) -> None:
    path = tmp_path / "repeats.csv"
    path.write_text(
        HEADER + "o1,c1,,2024-01-05,1,EUR,completed,1\n"  # line 2: kept
        "o2,c2,,2024-01-05,2,EUR,completed,1\n"  # 3: kept
        "o1,c9,,2024-01-06,3,EUR,completed,1\n"  # 4: repeats line 2
        "o2,c2,,2024-01-05,2,EUR,completed,1\n"  # 5: repeats line 3
        "o1,c8,,2024-01-07,4,EUR,completed,1\n"  # 6: repeats line 2
    )
    report = ingest_file(ws, "orders", path)
    assert (report.accepted, report.rejected) == (2, 3)
    assert [(r.line, r.field) for r in report.rejects] == [
        (4, "order_id"),
        (5, "order_id"),
        (6, "order_id"),
    ]
    assert [r.reason for r in report.rejects] == [
        "repeats the order_id of line 2 in this file",
        "repeats the order_id of line 3 in this file",
        "repeats the order_id of line 2 in this file",
    ]
    orders = {r["order_id"]: r for r in ws.warehouse.read_arrow("orders").to_pylist()}
    assert orders["o1"]["customer_id"] == "c1" and orders["o1"]["amount"] == 1.0
    rejects = sorted(
        (r["line"], r["raw"], r["reason"]) for r in ws.warehouse.read_arrow("rejects").to_pylist()
    )
    lines = path.read_text().splitlines()
    assert [(line, raw) for line, raw, _ in rejects] == [(n, lines[n - 1]) for n in (4, 5, 6)]


def test_loading_twice_changes_nothing(ws: Workspace, messy: Path) -> None:
    ingest_file(ws, "orders", messy)
    version = (ws.warehouse.root / "orders" / "_CURRENT").read_text()
    again = ingest_file(ws, "orders", messy)
    assert (again.accepted, again.updated, again.unchanged, again.rejected) == (0, 0, 3, 10)
    assert (ws.warehouse.root / "orders" / "_CURRENT").read_text() == version
    assert ws.warehouse.rows("orders") == 3
    assert ws.warehouse.rows("rejects") == 10
    assert ws.warehouse.rows("ingest_log") == 2


def test_changed_row_updates_it(ws: Workspace, tmp_path: Path) -> None:
    first = tmp_path / "a.csv"
    first.write_text(
        HEADER + "o1,c1,,2024-01-05,19.90,EUR,completed,1\no2,c2,,2024-01-06,5,EUR,completed,1\n"
    )
    ingest_file(ws, "orders", first)
    second = tmp_path / "b.csv"
    second.write_text(
        HEADER + "o1,c1,,2024-01-05,21.00,EUR,completed,1\no3,c3,,2024-01-07,7,EUR,completed,1\n"
    )
    report = ingest_file(ws, "orders", second)
    assert (report.accepted, report.updated, report.unchanged) == (1, 1, 0)
    orders = ws.warehouse.read_arrow("orders").to_pandas().set_index("order_id")
    assert sorted(orders.index) == ["o1", "o2", "o3"]
    assert orders.loc["o1", "amount"] == 21.0


def test_strict_loads_nothing_when_a_row_is_bad(ws: Workspace, messy: Path) -> None:
    report = ingest_file(ws, "orders", messy, strict=True)
    assert not report.committed and report.rejected == 10
    assert not ws.warehouse.exists("orders")


def test_whole_file_errors_are_one_clear_line(ws: Workspace, tmp_path: Path) -> None:
    with pytest.raises(IngestError, match="unknown table 'order'; known tables: customers"):
        ingest_file(ws, "order", tmp_path / "x.csv")
    with pytest.raises(IngestError, match="no such file"):
        ingest_file(ws, "orders", tmp_path / "missing.csv")
    no_amount = tmp_path / "no_amount.csv"
    no_amount.write_text(
        "order_id,customer_id,ordered_at,currency,status\n1,c,2024-01-01,EUR,completed\n"
    )
    with pytest.raises(IngestError, match=r"missing required column.*amount"):
        ingest_file(ws, "orders", no_amount)
    binary = tmp_path / "bin.csv"
    binary.write_bytes(b"\xff\xfe\x00\x01" * 100)
    with pytest.raises(IngestError, match="not UTF-8"):
        ingest_file(ws, "orders", binary)


def test_identities_normalised_by_kind(ws: Workspace, tmp_path: Path) -> None:
    path = tmp_path / "identities.csv"
    path.write_text(
        "customer_id,kind,value,source,verified\n"
        "c1,email, Anna.Berg@Example.COM ,shop,true\n"
        "c1,phone,+49 30 901820,shop,no\n"
        "c1,twitter,@Anna_B,social,yes\n"
        "c1,mastodon,@anna@Mastodon.Social,social,1\n"
        "c2,phone,12,shop,false\n"
        "c2,myspace,anna,shop,false\n"
    )
    report = ingest_file(ws, "identities", path)
    assert report.accepted == 4
    assert {(r.line, r.field) for r in report.rejects} == {(6, "value"), (7, "kind")}
    ids = ws.warehouse.read_arrow("identities").to_pandas().set_index("kind")
    assert ids.loc["email", "value"] == "anna.berg@example.com"
    assert ids.loc["email", "raw_value"] == " Anna.Berg@Example.COM "  # verbatim
    assert ids.loc["phone", "value"] == "+4930901820"
    assert ids.loc["twitter", "value"] == "anna_b"
    assert ids.loc["mastodon", "value"] == "anna@mastodon.social"
    assert bool(ids.loc["twitter", "verified"]) is True


def test_jsonl_posts_and_parquet_orders(ws: Workspace, tmp_path: Path) -> None:
    posts = tmp_path / "posts.jsonl"
    rows = [
        {
            "post_id": "p1",
            "platform": "Twitter",
            "author_handle": "@Anna",
            "created_at": "2024-03-01T10:00:00Z",
            "text": "Love my new jacket 😍",
            "likes": 3,
        },
        {
            "post_id": "p2",
            "platform": "twitter",
            "author_handle": "@bob",
            "created_at": "2024-03-01T11:00:00Z",
            "text": "@anna same!",
            "reply_to_post_id": "p1",
            "likes": -1,
        },
    ]
    posts.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n")
    report = ingest_file(ws, "posts", posts)
    assert report.accepted == 1
    assert [(r.line, r.field) for r in report.rejects] == [(2, "likes")]
    got = ws.warehouse.read_arrow("posts").to_pylist()[0]
    assert got["author_handle"] == "anna" and got["text"] == "Love my new jacket 😍"

    table = pa.table(
        {
            "order_id": ["a", "b"],
            "customer_id": ["c1", "c2"],
            "ordered_at": pa.array(
                [1_700_000_000_000_000, 1_700_000_100_000_000], pa.timestamp("us", tz="UTC")
            ),
            "amount": [10.5, 3.0],
            "currency": ["EUR", "usd"],
            "status": ["completed", "completed"],
        }
    )
    pq.write_table(table, tmp_path / "orders.parquet")
    report = ingest_file(ws, "orders", tmp_path / "orders.parquet")
    assert report.accepted == 2 and report.rejected == 0
    loaded = ws.warehouse.read_arrow("orders").sort_by("order_id")
    assert loaded.column("ordered_at").to_pylist() == table.column("ordered_at").to_pylist()


def test_kill_during_large_import_leaves_previous_table(ws: Workspace, tmp_path: Path) -> None:
    small = tmp_path / "small.csv"
    small.write_text(HEADER + "o1,c1,,2024-01-05,19.90,EUR,completed,1\n")
    ingest_file(ws, "orders", small)
    before = ws.warehouse.read_arrow("orders")

    big = tmp_path / "big.csv"
    with open(big, "w") as fh:
        fh.write(HEADER)
        for i in range(400_000):
            fh.write(f"b{i},c{i % 5000},,2024-01-{1 + i % 28:02d},{i % 90 + 1}.5,EUR,completed,1\n")
    env = {**os.environ, "SOCIALCRM_HOME": str(ws.settings.home)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "socialcrm.cli", "ingest", "orders", str(big)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    scratch = ws.warehouse.root / ".scratch"
    # wait until the import is under way (its staging file exists), then kill it hard
    while proc.poll() is None and not any(scratch.glob("*/accepted.parquet")):
        time.sleep(0.05)
    assert proc.poll() is None, "the import finished before it could be interrupted"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert ws.warehouse.read_arrow("orders").equals(before)
    # and the next import still works
    report = ingest_file(ws, "orders", small)
    assert report.unchanged == 1


def test_a_garbage_header_is_quoted_short(ws: Workspace, tmp_path: Path) -> None:
    p = tmp_path / "garbage.csv"
    p.write_text("Z" * 5000 + "\n1\n")
    with pytest.raises(IngestError) as e:
        ingest_file(ws, "orders", p)
    message = str(e.value)
    assert "missing required column(s)" in message
    assert "z" * 200 in message and "z" * 201 not in message
    assert "4,800 more characters" in message
    assert len(message) < 600
