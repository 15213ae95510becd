"""Text encodings: a line with invalid bytes costs only that line, never the file.

Every test checks true line numbers, byte offsets in the file, and the exact set of rows
that load, so a reader that drops or shifts lines fails.
"""

from __future__ import annotations

import codecs
import re
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from socialcrm.config import Settings
from socialcrm.store.ingest import IngestError, ingest_file
from socialcrm.store.readers import (
    ENCODING_ERROR_MIN_LINES,
    ENCODING_ERROR_SHARE,
    RawChunk,
    ReadError,
    ReadOptions,
    read_chunks,
)
from socialcrm.store.workspace import Workspace

HEADER = "order_id,customer_id,email,ordered_at,amount,currency,status,quantity\n"
CP1252_HINT = "this file looks like cp1252 (Windows Western European); try --encoding cp1252"


def _row(i: int) -> str:
    return f"o{i},c{i % 50},,2024-01-{1 + i % 28:02d},{10 + i % 90}.5,EUR,completed,1\n"


def _read(path: Path, fmt: str = "csv", **options: str) -> tuple[list[str], list[RawChunk]]:
    names, chunks = read_chunks(path, fmt, options=ReadOptions(**options))  # type: ignore[arg-type]
    return names, list(chunks)


def _good(chunks: list[RawChunk], column: str = "order_id") -> list[str | None]:
    return [v for c in chunks for v in c.columns[column]]


def _structural(chunks: list[RawChunk]) -> list[tuple[int, str, str]]:
    return sorted(s for c in chunks for s in c.structural)


def _offset(reason: str) -> int:
    found = re.search(r"at byte offset (\d+) of the file", reason)
    assert found, reason
    return int(found.group(1))


# -- the cases -------------------------------------------------------------------
def test_one_bad_byte_costs_one_row_of_six_thousand(ws: Workspace, tmp_path: Path) -> None:
    data = (HEADER + "".join(_row(i) for i in range(6000))).encode()
    at = data.index(b"\no2999,") + 4  # inside the order id of line 3001
    data = data[:at] + b"\xff" + data[at:]
    path = tmp_path / "orders.csv"
    path.write_bytes(data)

    report = ingest_file(ws, "orders", path)
    assert report.committed
    assert (report.accepted, report.rejected) == (5999, 1)
    (reject,) = report.rejects
    assert reject.line == 3001 and reject.field is None
    assert reject.reason.startswith("not UTF-8 text: invalid byte 0xFF")
    assert _offset(reject.reason) == at
    ids = set(ws.warehouse.read_arrow("orders").column("order_id").to_pylist())
    assert ids == {f"o{i}" for i in range(6000)} - {"o2999"}
    kept = ws.warehouse.read_arrow("rejects").to_pylist()
    assert [(r["line"], r["raw"]) for r in kept] == [
        (3001, "o29\\xff99,c49,,2024-01-04,39.5,EUR,completed,1")
    ]


@pytest.mark.parametrize("at", [4095, 4096, 5000, 40_000, 65_535, 65_536, 70_000])
def test_bad_byte_in_or_after_the_sniff_sample(tmp_path: Path, at: int) -> None:
    text = HEADER + "".join(_row(i) for i in range(3000))
    data = text.encode()
    data = data[:at] + b"\xe9" + data[at:]
    path = tmp_path / "orders.csv"
    path.write_bytes(data)
    _names, chunks = _read(path)
    (bad,) = _structural(chunks)
    assert bad[0] == data[:at].count(b"\n") + 1
    assert _offset(bad[1]) == at
    assert "\\xe9" in bad[2]
    assert len(_good(chunks)) == 2999


def test_bad_line_inside_a_quoted_record(tmp_path: Path) -> None:
    # line 3 opens a quoted field that runs over line 4, which holds a bad byte: line 3 is
    # rejected as a broken record, line 4 for its byte, and line 5 is read on its own
    data = (
        b'a,b,c\n1,2,3\n4,"multi\nli\x81ne",6\n7,8,9\n10,"two\nlines",12\n'
        b"13,14,15\r\n16,17\r18,19,20"
    )
    path = tmp_path / "f.csv"
    path.write_bytes(data)
    names, chunks = _read(path)
    assert names == ["a", "b", "c"]
    (chunk,) = chunks
    assert chunk.lines == [2, 5, 6, 8, 10]
    assert chunk.columns["a"] == ["1", "7", "10", "13", "18"]
    assert chunk.columns["b"][2] == "two\nlines"
    rejected = {line: (reason, raw) for line, reason, raw in chunk.structural}
    assert sorted(rejected) == [3, 4, 9]
    assert rejected[3] == (
        "broken CSV record: a quote opened here runs into line 4, which is not UTF-8 text",
        '4,"multi',
    )
    assert _offset(rejected[4][0]) == data.index(b"\x81")
    assert rejected[4][1] == 'li\\x81ne",6'
    assert rejected[9][0] == "expected 3 fields, found 2"


def test_jsonl_bad_bytes_cost_their_line(tmp_path: Path) -> None:
    data = b'{"a": "x"}\n{"a": "caf\xe9"}\n{"a": "z\xc3\xa9"}\n'
    path = tmp_path / "f.jsonl"
    path.write_bytes(data)
    _names, chunks = _read(path, "jsonl")
    (chunk,) = chunks
    assert chunk.lines == [1, 3]
    assert chunk.columns["a"] == ["x", "zé"]
    ((line, reason, raw),) = chunk.structural
    assert (line, raw) == (2, '{"a": "caf\\xe9"}')
    assert _offset(reason) == data.index(b"\xe9")


# -- encodings ---------------------------------------------------------------------------
TEXT = "id,name\n1,Müller € „quoted“\n2,Zoë\n3,plain\n"


@pytest.mark.parametrize(
    ("encoding", "data"),
    [
        ("utf-8", TEXT.encode()),
        ("utf-8", codecs.BOM_UTF8 + TEXT.encode()),
        ("cp1252", TEXT.encode("cp1252")),
        ("latin-1", TEXT.replace("€ „quoted“", "ß").encode("latin-1")),
        ("utf-16", TEXT.encode("utf-16")),
        ("utf-16", codecs.BOM_UTF16_BE + TEXT.encode("utf-16-be")),
        ("utf-16", TEXT.encode("utf-16-le")),  # no mark: the NUL bytes tell the order
        ("utf-16", TEXT.replace("\n", "\r\n").encode("utf-16")),
    ],
)
def test_each_encoding_reads_the_same_text(tmp_path: Path, encoding: str, data: bytes) -> None:
    path = tmp_path / "f.csv"
    path.write_bytes(data)
    names, chunks = _read(path, encoding=encoding)
    assert names == ["id", "name"]
    (chunk,) = chunks
    assert chunk.lines == [2, 3, 4]
    expected = TEXT.splitlines()[1].split(",")[1]
    if encoding == "latin-1":
        expected = "Müller ß"
    assert chunk.columns["name"] == [expected, "Zoë", "plain"]
    assert not chunk.structural


def test_utf16_bad_code_unit_is_rejected_with_its_offset(tmp_path: Path) -> None:
    head = "id,name\n1,a\n".encode("utf-16")
    bad_line = "2,b".encode("utf-16-le") + b"\x00\xd8" + "x\n".encode("utf-16-le")  # lone high
    tail = "3,c😀\n4,d".encode("utf-16-le") + b"\x00"  # astral character; odd last byte
    data = head + bad_line + tail
    path = tmp_path / "f.csv"
    path.write_bytes(data)
    _names, chunks = _read(path, encoding="utf-16")
    (chunk,) = chunks
    assert chunk.lines == [2, 4]
    assert chunk.columns["name"] == ["a", "c😀"]
    rejected = {line: (reason, raw) for line, reason, raw in chunk.structural}
    assert sorted(rejected) == [3, 5]
    assert _offset(rejected[3][0]) == len(head) + 6
    assert rejected[3][1] == "2,b\\x00\\xd8x"
    assert _offset(rejected[5][0]) == len(data) - 1
    assert rejected[5][1] == "4,d\\x00"


def test_line_endings_and_offsets_with_cr_only(tmp_path: Path) -> None:
    data = b"a,b\r1,2\r3,\xff\r5,6\r"
    path = tmp_path / "f.csv"
    path.write_bytes(data)
    _names, chunks = _read(path)
    (chunk,) = chunks
    assert chunk.lines == [2, 4]
    ((line, reason, _raw),) = chunk.structural
    assert line == 3 and _offset(reason) == data.index(b"\xff")


def test_a_line_longer_than_the_read_block(tmp_path: Path) -> None:
    long = "x" * 200_000
    data = f"a,b\n1,{long}\n2,\xe9{long}\n3,3\n".encode("latin-1")
    path = tmp_path / "f.csv"
    path.write_bytes(data)
    _names, chunks = _read(path)
    (chunk,) = chunks
    assert chunk.columns["a"] == ["1", "3"]
    assert chunk.columns["b"][0] == long
    ((line, reason, raw),) = chunk.structural
    assert line == 3 and _offset(reason) == data.index(b"\xe9")
    assert raw == "2,\\xe9" + long


# -- hints and refusals ------------------------------------------------------------------
def test_a_cp1252_file_is_refused_with_a_hint(ws: Workspace, tmp_path: Path) -> None:
    names = ["José", "Müller", "Françoise", "Øre", "Zoë", "Ægir"]
    text = HEADER + "".join(
        f"o{i},c{i},{names[i % 6].lower()}{i}@example.com,2024-01-05,1,EUR,completed,1\n"
        for i in range(30)
    )
    path = tmp_path / "orders.csv"
    path.write_bytes(text.encode("cp1252"))
    with pytest.raises(IngestError) as e:
        ingest_file(ws, "orders", path)
    message = str(e.value)
    assert "not UTF-8 text: 30 of the first 31 lines hold invalid bytes" in message
    assert f"(the first at line 2, byte offset {len(HEADER) + len('o0,c0,jos')})" in message
    assert message.endswith(CP1252_HINT)
    assert not ws.warehouse.exists("orders")

    report = ingest_file(ws, "orders", path, options=ReadOptions("cp1252"))
    assert (report.accepted, report.rejected) == (30, 0)
    emails = ws.warehouse.read_arrow("orders").column("email").to_pylist()
    assert "josé0@example.com" in emails


def test_few_bad_lines_are_rejected_each_with_the_hint(tmp_path: Path) -> None:
    rows = [_row(i) for i in range(40)]
    for i in (3, 17, 30):
        rows[i] = rows[i].replace(",,", ",Müller,").replace("o", "ö", 1)
    path = tmp_path / "orders.csv"
    path.write_bytes((HEADER + "".join(rows)).encode("cp1252"))
    _names, chunks = _read(path)
    rejects = _structural(chunks)
    assert [r[0] for r in rejects] == [5, 19, 32]
    assert all(r[1].endswith(CP1252_HINT) for r in rejects)
    assert len(_good(chunks)) == 37


def test_no_hint_when_the_file_holds_clean_utf8(tmp_path: Path) -> None:
    rows = [_row(i).replace(",,", ",zoë,") for i in range(10)]
    rows[4] = rows[4].replace("zoë", "zo\xeb")  # one damaged line among clean UTF-8 ones
    path = tmp_path / "orders.csv"
    data = HEADER.encode() + b"".join(
        r.encode("latin-1") if i == 4 else r.encode() for i, r in enumerate(rows)
    )
    path.write_bytes(data)
    _names, chunks = _read(path)
    ((line, reason, _raw),) = _structural(chunks)
    assert line == 6 and "looks like" not in reason
    assert _offset(reason) == data.index(b"\xeb")


@pytest.mark.parametrize(
    ("data", "encoding", "expected"),
    [
        (TEXT.encode("utf-16"), "utf-8", "UTF-16 byte-order mark; this file looks like UTF-16"),
        (TEXT.encode("utf-16-be"), "utf-8", "NUL byte; this file looks like UTF-16"),
        (TEXT.encode("utf-16-le"), "cp1252", "try --encoding utf-16"),
        (codecs.BOM_UTF8 + TEXT.encode(), "cp1252", "this file looks like UTF-8"),
        (codecs.BOM_UTF8 + TEXT.encode(), "latin-1", "try --encoding utf-8"),
        (TEXT.encode(), "utf-16", "not UTF-16 text: it has neither a byte-order mark"),
        ("nämé,x\n1,2\n".encode("latin-1"), "utf-8", "the header line is not UTF-8 text"),
        (b"", "utf-8", "empty file"),
        (codecs.BOM_UTF8, "utf-8", "empty file"),
    ],
)
def test_whole_file_refusals_say_what_to_try(
    tmp_path: Path, data: bytes, encoding: str, expected: str
) -> None:
    path = tmp_path / "f.csv"
    path.write_bytes(data)
    with pytest.raises(ReadError, match=re.escape(expected)):
        read_chunks(path, "csv", options=ReadOptions(encoding))


def test_the_wrong_encoding_threshold(tmp_path: Path) -> None:
    def file_with(bad: int, lines: int) -> Path:
        rows = [_row(i) for i in range(lines - 1)]
        for i in range(bad):
            rows[i] = rows[i].replace("EUR", "E\x80R")
        path = tmp_path / f"f{bad}-{lines}.csv"
        path.write_bytes((HEADER + "".join(rows)).encode("latin-1"))
        return path

    n = ENCODING_ERROR_MIN_LINES
    # fewer than the minimum, even if they are most lines: rejected one by one
    _names, chunks = _read(file_with(n - 1, n + 1))
    assert [r[0] for r in _structural(chunks)] == [2 + i for i in range(n - 1)]
    # the minimum, and over the share of lines: the file is refused
    lines = int(n / ENCODING_ERROR_SHARE) - 1
    with pytest.raises(ReadError, match=f"{n} of the first {lines} lines hold invalid bytes"):
        _read(file_with(n, lines))
    # the minimum, but not over the share: rejected one by one
    _names, chunks = _read(file_with(n, int(n / ENCODING_ERROR_SHARE)))
    assert len(_structural(chunks)) == n


def test_bad_lines_after_the_first_mib_are_rejected_not_refused(tmp_path: Path) -> None:
    rows = [_row(i) for i in range(30_000)]  # about 1.3 MB
    bad = list(range(29_000, 30_000))
    for i in bad:
        rows[i] = rows[i].replace("EUR", "E\xe9R")
    path = tmp_path / "orders.csv"
    path.write_bytes((HEADER + "".join(rows)).encode("latin-1"))
    _names, chunks = _read(path)
    assert [r[0] for r in _structural(chunks)] == [i + 2 for i in bad]
    assert len(_good(chunks)) == 29_000


# -- property: exactly the good lines load -----------------------------------------------
INVALID_UTF8 = [*range(0x80, 0xC2), *range(0xF5, 0x100)]
"""Bytes that make any UTF-8 text they are inserted into invalid."""
TEXTS = st.text(alphabet=st.sampled_from(list("abcxyz019 -_.éüß€😀")), min_size=0, max_size=12)


@st.composite
def damaged_files(draw: st.DrawFn) -> tuple[bytes, list[str], dict[int, int]]:
    """An orders file, the ids of its lines, and {line: byte offset of its first bad byte}."""
    n = draw(st.integers(1, 60))
    products = draw(st.lists(TEXTS, min_size=n, max_size=n))
    crlf = draw(st.booleans())
    end = b"\r\n" if crlf else b"\n"
    header = HEADER.strip().replace("quantity", "quantity,product_id").encode() + end
    lines = [
        f"o{i},c{i % 7},,2024-02-{1 + i % 28:02d},{i}.25,EUR,completed,{i % 4},{p}".encode()
        for i, p in enumerate(products)
    ]
    damaged = draw(st.sets(st.integers(0, n - 1), max_size=n))
    for i in damaged:
        inserts = draw(
            st.lists(
                st.tuples(st.integers(0, len(lines[i])), st.sampled_from(INVALID_UTF8)),
                min_size=1,
                max_size=3,
            )
        )
        line = lines[i]
        for at, byte in sorted(inserts, reverse=True):
            line = line[:at] + bytes([byte]) + line[at:]
        lines[i] = line
    data = header
    offsets: dict[int, int] = {}
    for i, line in enumerate(lines):
        if i in damaged:
            try:
                line.decode()
            except UnicodeDecodeError as e:
                offsets[i + 2] = len(data) + e.start
        data += line + (end if i < n - 1 or draw(st.booleans()) else b"")
    return data, [f"o{i}" for i in range(n)], offsets


def _refused(bad: int, lines: int) -> bool:
    return bad >= ENCODING_ERROR_MIN_LINES and bad > ENCODING_ERROR_SHARE * lines


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(damaged_files())
def test_property_reader_keeps_exactly_the_good_lines(
    case: tuple[bytes, list[str], dict[int, int]],
) -> None:
    data, ids, offsets = case
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "orders.csv"
        path.write_bytes(data)
        physical = len(data.splitlines())
        if _refused(len(offsets), physical):
            with pytest.raises(ReadError, match="hold invalid bytes"):
                read_chunks(path, "csv")
            return
        _names, chunks = _read(path)
    good = [i for i in range(len(ids)) if i + 2 not in offsets]
    assert _good(chunks) == [ids[i] for i in good]
    assert [line for c in chunks for line in c.lines] == [i + 2 for i in good]
    rejects = _structural(chunks)
    assert {line: _offset(reason) for line, reason, _ in rejects} == offsets


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(damaged_files())
def test_property_ingest_loads_exactly_the_good_lines(
    case: tuple[bytes, list[str], dict[int, int]],
) -> None:
    data, ids, offsets = case
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "orders.csv"
        path.write_bytes(data)
        with Workspace.open(Settings(home=Path(tmp) / "ws")) as ws:
            if _refused(len(offsets), len(data.splitlines())):
                with pytest.raises(IngestError, match="hold invalid bytes"):
                    ingest_file(ws, "orders", path)
                return
            report = ingest_file(ws, "orders", path)
            assert report.committed
            good = {ids[i] for i in range(len(ids)) if i + 2 not in offsets}
            loaded = ws.warehouse.read_arrow("orders") if good else None
            assert (set(loaded.column("order_id").to_pylist()) if loaded else set()) == good
            assert {(r.line, _offset(r.reason)) for r in report.rejects} == set(offsets.items())
            assert report.accepted == len(good) and report.rejected == len(offsets)
