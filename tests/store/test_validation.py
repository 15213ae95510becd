"""Validation that fits the domain: amount signs by status, the amount ceiling, decimal
marks and thousands groups, delimiters, field limits and how much of a value a reason
quotes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from socialcrm.config import Settings
from socialcrm.store.ingest import IngestReport, ingest_file
from socialcrm.store.readers import (
    MAX_FIELD_CHARS,
    MAX_HEADER_CHARS,
    ReadError,
    ReadOptions,
    parse_options,
    read_chunks,
    shorten,
)
from socialcrm.store.workspace import Workspace

HEADER = "order_id,customer_id,ordered_at,amount,currency,status,quantity\n"


def _load(ws: Workspace, tmp_path: Path, body: str, header: str = HEADER, **options: str):
    path = tmp_path / "orders.csv"
    path.write_text(header + body, encoding="utf-8")
    report = ingest_file(ws, "orders", path, options=ReadOptions(**options))
    assert report.committed
    stored = (
        {r["order_id"]: r for r in ws.warehouse.read_arrow("orders").to_pylist()}
        if ws.warehouse.exists("orders")
        else {}
    )
    return report, stored


def _reasons(report: IngestReport) -> dict[int, tuple[str | None, str]]:
    return {r.line: (r.field, r.reason) for r in report.rejects}


# -- the sign of an amount by its order's status ------------------------------------------
def test_amount_sign_fits_the_status(ws: Workspace, tmp_path: Path) -> None:
    report, stored = _load(
        ws,
        tmp_path,
        "a,c1,2024-01-01,10,EUR,completed,1\n"  # 2 good
        "b,c1,2024-01-01,0,EUR,completed,1\n"  # 3 good: a free order
        "c,c1,2024-01-01,-10,EUR,completed,1\n"  # 4 bad: a negative sale
        "d,c1,2024-01-01,-10,EUR,returned,1\n"  # 5 good: a refund
        "e,c1,2024-01-01,0,EUR,Returned,1\n"  # 6 good: a return with nothing refunded
        "f,c1,2024-01-01,10,EUR,returned,1\n"  # 7 bad: a positive refund
        "g,c1,2024-01-01,10,EUR,cancelled,1\n"  # 8 good: keeps its original amount
        "h,c1,2024-01-01,0,EUR,cancelled,1\n"  # 9 good
        "i,c1,2024-01-01,-10,EUR,cancelled,1\n"  # 10 bad
        "j,c1,2024-01-01,-0.0,EUR,completed,1\n",  # 11 good: minus zero is zero
    )
    assert sorted(stored) == ["a", "b", "d", "e", "g", "h", "j"]
    reasons = _reasons(report)
    assert sorted(reasons) == [4, 7, 10]
    assert reasons[4] == (
        "amount",
        "a completed order cannot have a negative amount, found -10 "
        "(a refund is a row with status returned)",
    )
    assert reasons[7] == (
        "amount",
        "a returned order is a refund: its amount must be negative or 0, found 10",
    )
    assert reasons[10][0] == "amount"
    assert reasons[10][1].startswith("a cancelled order keeps its original amount or 0")


def test_unknown_status_is_reported_once_not_as_a_sign(ws: Workspace, tmp_path: Path) -> None:
    report, _ = _load(ws, tmp_path, "a,c1,2024-01-01,-5,EUR,shipped,1\n")
    assert [(r.field, r.reason) for r in report.rejects] == [
        ("status", "'shipped' is not one of completed, returned, cancelled")
    ]


# -- the amount ceiling ------------------------------------------------------------------
def test_amounts_beyond_the_ceiling_or_not_finite(ws: Workspace, tmp_path: Path) -> None:
    report, stored = _load(
        ws,
        tmp_path,
        "a,c1,2024-01-01,1e308,EUR,completed,1\n"  # 2
        "b,c1,2024-01-01,-20000000,EUR,returned,1\n"  # 3
        "c,c1,2024-01-01,10000000,EUR,completed,1\n"  # 4: at the ceiling, good
        "d,c1,2024-01-01,-10000000,EUR,returned,1\n"  # 5: good
        "e,c1,2024-01-01,inf,EUR,completed,1\n"  # 6
        "f,c1,2024-01-01,NaN,EUR,completed,1\n"  # 7
        "g,c1,2024-01-01,1e309,EUR,completed,1\n"  # 8: overflows to inf
        "h,c1,2024-01-01,10000000.01,EUR,completed,1\n",  # 9
    )
    assert sorted(stored) == ["c", "d"]
    reasons = _reasons(report)
    assert sorted(reasons) == [2, 3, 6, 7, 8, 9]
    assert reasons[2] == (
        "amount",
        "amount 1e308 is beyond the ceiling of ±10,000,000 (setting "
        "SOCIALCRM_INGEST_MAX_AMOUNT; raise it if the amount is real)",
    )
    assert reasons[3][1].startswith("amount -20000000 is beyond the ceiling of ±10,000,000")
    for line, value in [(6, "inf"), (7, "NaN"), (8, "1e309")]:
        assert reasons[line] == (
            "amount",
            f"not a finite amount: {value} (amounts lie within ±10,000,000, "
            "setting SOCIALCRM_INGEST_MAX_AMOUNT)",
        )
    assert "10000000.01 is beyond" in reasons[9][1]


def test_the_ceiling_follows_the_setting(tmp_path: Path) -> None:
    body = "a,c1,2024-01-01,250.5,EUR,completed,1\nb,c1,2024-01-01,-251,EUR,returned,1\n"
    with Workspace.open(Settings(home=tmp_path / "ws", ingest_max_amount=250.5)) as ws:
        report, stored = _load(ws, tmp_path, body)
    assert sorted(stored) == ["a"]
    assert _reasons(report)[3][1].startswith("amount -251 is beyond the ceiling of ±250.5 ")


# -- decimal marks and thousands groups ---------------------------------------------------
def test_decimal_comma(ws: Workspace, tmp_path: Path) -> None:
    body = (
        "a;c1;2024-01-01;1.234,50;EUR;completed;1.000\n"  # 2
        "b;c1;2024-01-01;1234,5;EUR;completed;2\n"  # 3
        "c;c1;2024-01-01;-12,00;EUR;returned;3,0\n"  # 4: a whole number with decimals
        "d;c1;2024-01-01;1 234,50;EUR;completed;1 000\n"  # 5
        "e;c1;2024-01-01;1\u00a0234\u00a0567,5;EUR;completed;\n"  # 6: no-break spaces
        "f;c1;2024-01-01;12.5;EUR;completed;1\n"  # 7: a dot is no decimal mark here
        "g;c1;2024-01-01;1.23,5;EUR;completed;1\n"  # 8: a group of two
        "h;c1;2024-01-01;5;EUR;completed;1,5\n"  # 9: not whole
        "i;c1;2024-01-01;+0,5;EUR;completed;0\n"  # 10
        "j;c1;2024-01-01;1.234 567,5;EUR;completed;0\n"  # 11: mixed group marks
        "k;c1;2024-01-01;1e3;EUR;completed;0\n"  # 12: no exponents with a decimal comma
    )
    report, stored = _load(ws, tmp_path, body, HEADER.replace(",", ";"), decimal=",")
    amounts = {k: r["amount"] for k, r in stored.items()}
    assert amounts == {"a": 1234.5, "b": 1234.5, "c": -12.0, "d": 1234.5, "e": 1234567.5, "i": 0.5}
    quantities = {k: r["quantity"] for k, r in stored.items()}
    assert quantities == {"a": 1000, "b": 2, "c": 3, "d": 1000, "e": None, "i": 0}
    reasons = _reasons(report)
    assert sorted(reasons) == [7, 8, 9, 11, 12]
    assert reasons[7] == (
        "amount",
        "not a number: 12.5 (with --decimal , numbers are written 1234,50 or 1.234,50 or 1 234,50)",
    )
    assert reasons[9][0] == "quantity" and reasons[9][1].startswith("not an integer: 1,5")


def test_decimal_point_with_thousands_commas(ws: Workspace, tmp_path: Path) -> None:
    body = (
        '"a",c1,2024-01-01,"1,234.50",EUR,completed,"1,000"\n'  # 2
        'b,c1,2024-01-01,"1,234,567",EUR,completed,1\n'  # 3
        'c,c1,2024-01-01,"-1,234",EUR,returned,1\n'  # 4
        'd,c1,2024-01-01,"1,5",EUR,completed,1\n'  # 5: a decimal comma?
        'e,c1,2024-01-01,"12,34.5",EUR,completed,1\n'  # 6: a group of two
        'f,c1,2024-01-01,"1234,567",EUR,completed,1\n'  # 7: a first group of four
        "g,c1,2024-01-01,19.90,EUR,completed,2.0\n"  # 8
        "h,c1,2024-01-01,19.90,EUR,completed,1.5\n"  # 9: was rounded to 2 before
        "i,c1,2024-01-01,1e3,EUR,completed,1e1\n"  # 10
    )
    report, stored = _load(ws, tmp_path, body)
    amounts = {k: r["amount"] for k, r in stored.items()}
    assert amounts == {"a": 1234.5, "b": 1234567.0, "c": -1234.0, "g": 19.9, "i": 1000.0}
    assert {k: r["quantity"] for k, r in stored.items()} == {
        "a": 1000,
        "b": 1,
        "c": 1,
        "g": 2,
        "i": 10,
    }
    reasons = _reasons(report)
    assert sorted(reasons) == [5, 6, 7, 9]
    assert reasons[5] == (
        "amount",
        "not a number: 1,5 (with the decimal mark '.' a comma may only group thousands, "
        "as in 1,234.50; for a decimal comma use --decimal ,)",
    )
    assert reasons[9] == ("quantity", "not an integer: 1.5")


def test_decimal_comma_applies_to_every_number_column(ws: Workspace, tmp_path: Path) -> None:
    path = tmp_path / "posts.csv"
    path.write_text(
        "post_id;platform;author_handle;created_at;text;likes;author_followers\n"
        "p1;twitter;@a;2024-03-01T10:00:00Z;hi, there;1.200;12.345.678\n"
        "p2;twitter;@b;2024-03-01T11:00:00Z;x;1,5;0\n"
    )
    report = ingest_file(ws, "posts", path, options=ReadOptions(decimal=","))
    assert report.accepted == 1
    assert [(r.line, r.field) for r in report.rejects] == [(3, "likes")]
    (post,) = ws.warehouse.read_arrow("posts").to_pylist()
    assert (post["likes"], post["author_followers"], post["text"]) == (1200, 12345678, "hi, there")


# -- delimiters --------------------------------------------------------------------------
def test_a_given_delimiter_is_used_not_guessed(tmp_path: Path) -> None:
    path = tmp_path / "f.csv"
    path.write_text("a|b,c\n1|2,3\n4|5,6\n")
    names, chunks = read_chunks(path, "csv", options=parse_options("utf-8", "pipe", "."))
    assert names == ["a", "b,c"]
    assert next(chunks).columns == {"a": ["1", "4"], "b,c": ["2,3", "5,6"]}
    names, _ = read_chunks(path, "csv", options=ReadOptions(delimiter=","))
    assert names == ["a|b", "c"]


def test_a_decimal_comma_file_is_guessed_as_semicolon_separated(tmp_path: Path) -> None:
    path = tmp_path / "f.csv"
    path.write_text("a;b\n1,5;2,5\n3,5;4,5\n")
    names, chunks = read_chunks(path, "csv", options=ReadOptions(decimal=","))
    assert names == ["a", "b"]
    assert next(chunks).columns == {"a": ["1,5", "3,5"], "b": ["2,5", "4,5"]}


# -- limits and how much reasons quote ----------------------------------------------------
def test_a_field_over_the_limit_is_its_own_reject(ws: Workspace, tmp_path: Path) -> None:
    huge = "x" * (2 * 1024 * 1024)
    path = tmp_path / "posts.csv"
    path.write_text(
        "post_id,platform,author_handle,created_at,text\n"
        "p1,twitter,a,2024-03-01,short\n"
        f"p2,twitter,b,2024-03-01,{huge}\n"
        f'p3,twitter,c,2024-03-01,"{"y" * (MAX_FIELD_CHARS - 10)}"\n'  # under the limit
        "p4,twitter,d,2024-03-01,after\n"
    )
    report = ingest_file(ws, "posts", path)
    assert report.accepted == 3
    assert [(r.line, r.reason) for r in report.rejects] == [
        (3, f"a field over the limit of {MAX_FIELD_CHARS:,} characters")
    ]
    (kept,) = ws.warehouse.read_arrow("rejects").to_pylist()
    assert kept["raw"] == f"p2,twitter,b,2024-03-01,{huge}"  # verbatim, not cut
    texts = sorted(ws.warehouse.read_arrow("posts").column("text").to_pylist(), key=len)
    assert texts[:2] == ["short", "after"] and len(texts[2]) == MAX_FIELD_CHARS - 10


def test_a_json_value_over_the_limit_is_its_own_reject(tmp_path: Path) -> None:
    path = tmp_path / "f.jsonl"
    rows = [{"a": "1"}, {"a": "2", "b": "z" * (MAX_FIELD_CHARS + 1)}, {"a": "3"}]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    _names, chunks = read_chunks(path, "jsonl")
    (chunk,) = list(chunks)
    assert chunk.columns["a"] == ["1", "3"]
    ((line, reason, raw),) = chunk.structural
    assert (line, reason) == (2, f"field 'b' over the limit of {MAX_FIELD_CHARS:,} characters")
    assert raw == json.dumps(rows[1])


def test_reasons_quote_at_most_200_characters(ws: Workspace, tmp_path: Path) -> None:
    long = "q" * 5000
    report, _ = _load(
        ws,
        tmp_path,
        f"a,c1,2024-01-01,{long},EUR,completed,1\n"  # 2: not a number
        f"b,c1,{long},1,EUR,completed,1\n"  # 3: not a date-time
        f"c,c1,2024-01-01,1,{long},completed,1\n"  # 4: not a currency
        f"d,c1,2024-01-01,1,EUR,{long},1\n"  # 5: not a status
        f"e,c1,2024-01-01,1,EUR,completed,{long}\n"  # 6: not an integer
        f"f,c1,2024-01-01,-{'9' * 400},EUR,returned,1\n",  # 7: beyond the ceiling
    )
    reasons = _reasons(report)
    assert {line: field for line, (field, _) in reasons.items()} == {
        2: "amount",
        3: "ordered_at",
        4: "currency",
        5: "status",
        6: "quantity",
        7: "amount",
    }
    for line, (_field, reason) in reasons.items():
        quoted = "9" * 199 if line == 7 else "Q" * 200 if line == 4 else "q" * 200
        assert quoted + "…" in reason and quoted + quoted[0] not in reason, reason
    kept = {r["line"]: r["raw"] for r in ws.warehouse.read_arrow("rejects").to_pylist()}
    assert len(kept[2]) > 5000  # the row itself is kept whole


def test_normalisation_reasons_are_cut_too(ws: Workspace, tmp_path: Path) -> None:
    long = "n" * 3000 + "@"
    report, _ = _load(
        ws,
        tmp_path,
        f"a,c1,2024-01-01,1,EUR,completed,1,{long}\n",
        HEADER.replace("quantity", "quantity,email"),
    )
    ((field, reason),) = _reasons(report).values()
    assert field == "email"
    assert reason == repr("n" * 200 + "…") + " is not a valid email address"


def test_a_header_beyond_the_limit_is_refused_briefly(tmp_path: Path) -> None:
    path = tmp_path / "f.csv"
    path.write_text("h" * (MAX_HEADER_CHARS + 1) + ",x\n1,2\n")
    with pytest.raises(ReadError) as e:
        read_chunks(path, "csv")
    assert "more than a header line may have (65,536)" in str(e.value)
    assert len(str(e.value)) < 300


def test_a_header_naming_a_column_twice_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "f.csv"
    path.write_text("a,B,b,,\n1,2,3,4,5\n")
    with pytest.raises(ReadError, match="the header names column 'b' twice"):
        read_chunks(path, "csv")
    path.write_text("a,b,,\n1,2,3,4\n")  # unnamed columns may repeat: they are ignored
    names, chunks = read_chunks(path, "csv")
    assert names == ["a", "b", "", ""]
    assert next(chunks).columns == {"a": ["1"], "b": ["2"], "": ["3"]}


def test_shorten() -> None:
    assert shorten("abc") == "abc"
    assert shorten("x" * 201) == "x" * 200 + "… (1 more character)"
    assert shorten("x" * 5000, 10) == "xxxxxxxxxx… (4,990 more characters)"
