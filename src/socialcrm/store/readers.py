"""Streaming readers that turn an input file into chunks of raw string records.

Every record keeps the line it started on and its verbatim text, so a bad row can be
reported by line and kept as it was. Rows that cannot even be split into fields (broken
CSV quoting, invalid JSON) become *structural* rejects here; a broken quote costs only
the line it opened on: the lines it swallowed are read again on their own.
"""

from __future__ import annotations

import csv
import json
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

Format = Literal["csv", "jsonl", "parquet"]
CHUNK_ROWS = 100_000


class ReadError(Exception):
    """The file as a whole cannot be read (missing, not text, no header)."""


@dataclass(frozen=True)
class ReadOptions:
    """How to read a text file: its encoding, field delimiter and decimal mark."""

    encoding: str = "utf-8"
    delimiter: str | None = None
    """CSV field delimiter; None guesses it from the first lines."""
    decimal: str = "."
    """Decimal mark of numbers: "." or "," (then "." or a space groups thousands)."""


ENCODINGS = {"utf-8": "utf-8", "utf8": "utf-8", "latin-1": "latin-1", "latin1": "latin-1",
             "iso-8859-1": "latin-1", "cp1252": "cp1252", "windows-1252": "cp1252",
             "utf-16": "utf-16"}
DELIMITERS = {"tab": "\t", "\\t": "\t", "comma": ",", "semicolon": ";", "pipe": "|"}


def parse_options(encoding: str, delimiter: str | None, decimal: str) -> ReadOptions:
    """Options as a person types them on the command line; ValueError says what is wrong."""
    enc = ENCODINGS.get(encoding.strip().lower())
    if enc is None:
        raise ValueError(
            f"unknown encoding {encoding[:40]!r}; use one of utf-8, latin-1, cp1252, utf-16"
        )
    if delimiter is not None:
        delimiter = DELIMITERS.get(delimiter.lower(), delimiter)
        if len(delimiter) != 1 or delimiter in "\"\r\n":
            raise ValueError(
                f"the delimiter must be one character (or 'tab'), not {delimiter[:20]!r}"
            )
    if decimal not in (".", ","):
        raise ValueError(f"the decimal mark must be '.' or ',', not {decimal[:20]!r}")
    if delimiter is not None and delimiter == decimal:
        raise ValueError("the delimiter and the decimal mark must differ")
    return ReadOptions(enc, delimiter, decimal)


@dataclass
class RawChunk:
    """Raw records: column -> list of strings (None when absent), with their lines."""

    lines: list[int]
    raw: list[str]
    columns: dict[str, list[str | None]]
    structural: list[tuple[int, str, str]] = field(default_factory=list)
    """(line, reason, raw) for rows that could not be split into fields."""

    def __len__(self) -> int:
        return len(self.lines)


def detect_format(path: Path) -> Format:
    suffix = "".join(path.suffixes[-2:]).lower()
    if suffix.endswith((".jsonl", ".ndjson", ".json")):
        return "jsonl"
    if suffix.endswith((".parquet", ".pq")):
        return "parquet"
    return "csv"


def read_chunks(
    path: Path,
    fmt: Format,
    on_bytes: Callable[[int], None] | None = None,
    chunk_rows: int = CHUNK_ROWS,
    options: ReadOptions | None = None,
) -> tuple[list[str], Iterator[RawChunk]]:
    """Open ``path`` and return its column names and an iterator of raw chunks."""
    options = options or ReadOptions()
    if not path.exists():
        raise ReadError(f"{path}: no such file")
    if path.is_dir():
        raise ReadError(f"{path}: is a folder, not a file")
    if fmt == "csv":
        return _csv_chunks(path, on_bytes, chunk_rows)
    if fmt == "jsonl":
        return _jsonl_chunks(path, on_bytes, chunk_rows)
    return _parquet_chunks(path, on_bytes, chunk_rows)


# -- CSV ---------------------------------------------------------------------------------
class _Lines:
    """Physical lines with their numbers, a record buffer, and push-back for re-reading."""

    def __init__(self, fh, on_bytes: Callable[[int], None] | None) -> None:
        self._fh = fh
        self._on_bytes = on_bytes
        self._next_number = 1
        self._pushed: deque[tuple[int, str]] = deque()
        self.buffer: list[tuple[int, str]] = []

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        # A class, not a generator: after end of file, pushed-back lines must still flow.
        if self._pushed:
            number, line = self._pushed.popleft()
        else:
            line = self._fh.readline()
            if not line:
                raise StopIteration
            number = self._next_number
            self._next_number += 1
            if self._on_bytes:
                self._on_bytes(len(line))
        self.buffer.append((number, line))
        return line

    def take(self) -> list[tuple[int, str]]:
        taken, self.buffer = self.buffer, []
        return taken

    def push_back(self, lines: list[tuple[int, str]]) -> None:
        self._pushed.extendleft(reversed(lines))


def _open_text(path: Path):
    fh = open(path, encoding="utf-8-sig", newline="")  # noqa: SIM115
    try:
        fh.read(4096)
        fh.seek(0)
    except UnicodeDecodeError:
        fh.close()
        raise ReadError(f"{path}: not UTF-8 text (is it a binary or another encoding?)") from None
    return fh


def _csv_chunks(
    path: Path, on_bytes: Callable[[int], None] | None, chunk_rows: int
) -> tuple[list[str], Iterator[RawChunk]]:
    fh = _open_text(path)
    sample = fh.read(65536)
    fh.seek(0)
    try:
        dialect = csv.Sniffer().sniff(sample, delimiters=",;\t|")
        delimiter = dialect.delimiter
    except csv.Error:
        delimiter = ","
    lines = _Lines(fh, on_bytes)
    reader = csv.reader(lines, delimiter=delimiter, strict=True)
    try:
        header = next(reader)
    except (StopIteration, csv.Error, UnicodeDecodeError):
        fh.close()
        raise ReadError(f"{path}: empty file or unreadable header") from None
    lines.take()
    names = [h.strip().lower() for h in header]
    if not any(names):
        fh.close()
        raise ReadError(f"{path}: the header line names no columns")

    def chunks() -> Iterator[RawChunk]:
        width = len(names)
        chunk = _new_chunk(names)
        try:
            while True:
                try:
                    row = next(reader)
                except StopIteration:
                    break
                except UnicodeDecodeError as e:
                    taken = lines.take()
                    first = taken[0][0] if taken else 0
                    chunk.structural.append((first, f"not UTF-8 text ({e.reason})", ""))
                    break
                except csv.Error as e:
                    _reject_first_line(chunk, lines, _quoting_reason(str(e)))
                    continue
                taken = lines.take()
                if not row or (len(row) == 1 and not row[0].strip()):
                    continue
                if len(row) != width:
                    if len(taken) > 1:
                        _reject_first_line(
                            chunk,
                            lines,
                            f"broken CSV quoting: a quote opened here ran over {len(taken)} lines",
                            taken,
                        )
                        continue
                    chunk.structural.append(
                        (
                            taken[0][0],
                            f"expected {width} fields, found {len(row)}",
                            _verbatim(taken),
                        )
                    )
                    continue
                chunk.lines.append(taken[0][0])
                chunk.raw.append(_verbatim(taken))
                for name, value in zip(names, row, strict=True):
                    chunk.columns[name].append(value if value != "" else None)
                if len(chunk) >= chunk_rows:
                    yield chunk
                    chunk = _new_chunk(names)
            if len(chunk) or chunk.structural:
                yield chunk
        finally:
            fh.close()

    return names, chunks()


def _reject_first_line(
    chunk: RawChunk, lines: _Lines, reason: str, taken: list[tuple[int, str]] | None = None
) -> None:
    """Reject the line a broken record started on and read the lines after it again."""
    if taken is None:
        taken = lines.take()
    if not taken:
        return
    number, text = taken[0]
    chunk.structural.append((number, reason, text.rstrip("\r\n")))
    lines.push_back(taken[1:])


def _quoting_reason(message: str) -> str:
    if "unexpected end of data" in message:
        return "broken CSV quoting: a quote opened on this line is never closed"
    if "expected after" in message:
        return (
            "broken CSV quoting: text follows a closing quote "
            "(a quote inside a field must be doubled)"
        )
    return f"broken CSV quoting: {message}"


def _verbatim(taken: list[tuple[int, str]]) -> str:
    return "".join(t for _, t in taken).rstrip("\r\n")


def _new_chunk(names: list[str]) -> RawChunk:
    return RawChunk([], [], {n: [] for n in names})


# -- JSON lines --------------------------------------------------------------------------
def _jsonl_chunks(
    path: Path, on_bytes: Callable[[int], None] | None, chunk_rows: int
) -> tuple[list[str], Iterator[RawChunk]]:
    fh = _open_text(path)
    names: list[str] = []

    def scalar(v: object) -> str | None:
        if v is None:
            return None
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, dict | list):
            raise TypeError
        return str(v)

    def chunks() -> Iterator[RawChunk]:
        chunk = RawChunk([], [], {})
        try:
            for number, line in enumerate(fh, start=1):
                if on_bytes:
                    on_bytes(len(line))
                text = line.rstrip("\r\n")
                if not text.strip():
                    continue
                try:
                    obj = json.loads(text)
                except json.JSONDecodeError as e:
                    chunk.structural.append((number, f"invalid JSON: {e.msg}", text))
                    continue
                if not isinstance(obj, dict):
                    chunk.structural.append((number, "a line must hold one JSON object", text))
                    continue
                try:
                    record = {str(k).strip().lower(): scalar(v) for k, v in obj.items()}
                except TypeError:
                    chunk.structural.append(
                        (number, "nested objects or lists are not allowed", text)
                    )
                    continue
                for k in record:
                    if k not in chunk.columns:
                        chunk.columns[k] = [None] * len(chunk)
                        if k not in names:
                            names.append(k)
                for k, col in chunk.columns.items():
                    col.append(record.get(k))
                chunk.lines.append(number)
                chunk.raw.append(text)
                if len(chunk) >= chunk_rows:
                    yield chunk
                    chunk = RawChunk([], [], {k: [] for k in chunk.columns})
            if len(chunk) or chunk.structural:
                yield chunk
        finally:
            fh.close()

    return names, chunks()


# -- Parquet -----------------------------------------------------------------------------
def _parquet_chunks(
    path: Path, on_bytes: Callable[[int], None] | None, chunk_rows: int
) -> tuple[list[str], Iterator[RawChunk]]:
    try:
        pf = pq.ParquetFile(path)
    except (pa.ArrowInvalid, OSError) as e:
        raise ReadError(f"{path}: not a readable Parquet file ({e})") from None
    names = [n.strip().lower() for n in pf.schema_arrow.names]
    total_rows = max(pf.metadata.num_rows, 1)
    size = path.stat().st_size

    def as_strings(col: pa.Array) -> list[str | None]:
        if pa.types.is_timestamp(col.type):
            if col.type.tz is None:
                col = pc.strftime(col, format="%Y-%m-%dT%H:%M:%S")
            else:
                col = pc.strftime(col.cast(pa.timestamp("us", "UTC")), format="%Y-%m-%dT%H:%M:%SZ")
        elif pa.types.is_boolean(col.type):
            col = pc.if_else(col, "true", "false")
        elif not pa.types.is_string(col.type):
            col = col.cast(pa.string())
        return col.to_pylist()

    def chunks() -> Iterator[RawChunk]:
        first = 1
        for batch in pf.iter_batches(batch_size=chunk_rows):
            n = batch.num_rows
            cols = {name: as_strings(batch.column(i)) for i, name in enumerate(names)}
            lines = list(range(first, first + n))
            raw = [json.dumps(r, default=str) for r in batch.to_pylist()]
            if on_bytes:
                on_bytes(int(size * n / total_rows))
            first += n
            yield RawChunk(lines, raw, cols)

    return names, chunks()
