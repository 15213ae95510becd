"""Streaming readers that turn an input file into chunks of raw string records.

Every record keeps the line it started on and its verbatim text, so a bad row can be
reported by line and kept as it was. Rows that cannot even be split into fields (broken
CSV quoting, invalid JSON, invalid bytes) become *structural* rejects here; a broken quote
costs only the line it opened on: the lines it swallowed are read again on their own.

Text files are read as bytes and decoded a physical line at a time (UTF-16 as a stream),
so a line with bytes that are not valid in the file's encoding costs only that line: it
is rejected with its line number and the byte offset of its first bad byte, and kept
with the bad bytes written as ``\\xNN``. Lines end at ``\\n``, ``\\r\\n`` or ``\\r``.

Rules and limits:

- ``--encoding`` utf-8 (the default; a byte-order mark is skipped), latin-1, cp1252, or
  utf-16 (with a byte-order mark; without one, the byte order is read from where the NUL
  bytes of ASCII text fall).
- A file that starts with a UTF-16 byte-order mark, or has NUL bytes in every other
  byte, is refused unless read as utf-16; a file that starts with a UTF-8 byte-order mark
  is refused when read as latin-1 or cp1252. The error says which encoding to try.
- A file is refused as a whole, rather than yielding a reject per line, when in its first
  MiB (:data:`SAMPLE_BYTES`) at least :data:`ENCODING_ERROR_MIN_LINES` lines and more
  than :data:`ENCODING_ERROR_SHARE` of the lines hold invalid bytes: that is a wrong
  encoding, not a damaged line. An undecodable header line refuses the file too.
- Reasons and errors suggest another encoding when most of the invalid lines read as
  clean text in it (UTF-8 or cp1252: accented letters, currency signs, typographic
  quotes and dashes).
- A CSV field may hold at most :data:`MAX_FIELD_CHARS` characters (1 MiB); a record with
  a longer field is rejected ("field over the limit") and the next line is read on. JSON
  lines obey the same limit for each value.
- A header line longer than :data:`MAX_HEADER_CHARS` characters is refused; errors quote
  at most :data:`MAX_QUOTED_CHARS` characters of the offending text (see :func:`shorten`).
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import re
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from itertools import chain
from pathlib import Path
from typing import BinaryIO, Literal

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

Format = Literal["csv", "jsonl", "parquet"]
CHUNK_ROWS = 100_000

MAX_FIELD_CHARS = 1 << 20
"""Longest CSV field (and JSON value) in characters: 1 MiB. Python's csv default, 128 KiB,
is short for long texts such as posts with embedded media descriptions; longer fields
are almost always a quote that never closed or a binary blob."""
MAX_HEADER_CHARS = 65_536
"""Longest header line: wide exports have a few thousand characters of column names."""
MAX_QUOTED_CHARS = 200
"""Most characters of an offending text that an error or reason quotes."""
SAMPLE_BYTES = 1 << 20
"""The head of a text file that is checked for a wrong encoding before any row is read."""
SNIFF_CHARS = 65_536
"""Text from which the CSV delimiter is guessed when none is given."""
ENCODING_ERROR_MIN_LINES = 5
ENCODING_ERROR_SHARE = 0.10
"""A file whose first MiB has at least 5 lines, and more than 10% of its lines, with
invalid bytes is refused as a whole (the encoding is wrong) rather than rejected a line
at a time."""

csv.field_size_limit(MAX_FIELD_CHARS)


class ReadError(Exception):
    """The file as a whole cannot be read (missing, not text, no header)."""


def shorten(text: str, limit: int = MAX_QUOTED_CHARS) -> str:
    """``text`` cut to ``limit`` characters, with how much was left off.

    >>> shorten("abcdef", 3)
    'abc… (3 more characters)'
    """
    if len(text) <= limit:
        return text
    more = len(text) - limit
    return f"{text[:limit]}… ({more:,} more character{'s' if more > 1 else ''})"


@dataclass(frozen=True)
class ReadOptions:
    """How to read a text file: its encoding, field delimiter and decimal mark."""

    encoding: str = "utf-8"
    delimiter: str | None = None
    """CSV field delimiter; None guesses it from the first lines."""
    decimal: str = "."
    """Decimal mark of numbers: "." or "," (then "." or a space groups thousands)."""


ENCODINGS = {
    "utf-8": "utf-8",
    "utf8": "utf-8",
    "latin-1": "latin-1",
    "latin1": "latin-1",
    "iso-8859-1": "latin-1",
    "cp1252": "cp1252",
    "windows-1252": "cp1252",
    "utf-16": "utf-16",
}
DELIMITERS = {"tab": "\t", "\\t": "\t", "comma": ",", "semicolon": ";", "pipe": "|"}
ENCODING_NAMES = {
    "utf-8": "UTF-8",
    "latin-1": "Latin-1 (ISO 8859-1)",
    "cp1252": "cp1252 (Windows Western European)",
    "utf-16": "UTF-16",
}


def parse_options(encoding: str, delimiter: str | None, decimal: str) -> ReadOptions:
    """Options as a person types them on the command line; ValueError says what is wrong."""
    enc = ENCODINGS.get(encoding.strip().lower())
    if enc is None:
        raise ValueError(
            f"unknown encoding {encoding[:40]!r}; use one of utf-8, latin-1, cp1252, utf-16"
        )
    if delimiter is not None:
        delimiter = DELIMITERS.get(delimiter.lower(), delimiter)
        if len(delimiter) != 1 or delimiter in '"\r\n':
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
        return _csv_chunks(path, on_bytes, chunk_rows, options)
    if fmt == "jsonl":
        return _jsonl_chunks(path, on_bytes, chunk_rows, options)
    return _parquet_chunks(path, on_bytes, chunk_rows)


# -- decoding ----------------------------------------------------------------------------
def _escape_bytes(e: UnicodeError) -> tuple[str, int]:
    """Error handler: each undecodable byte becomes a lone surrogate U+DC00 + byte."""
    assert isinstance(e, UnicodeDecodeError)
    return "".join(chr(0xDC00 + b) for b in e.object[e.start : e.end]), e.end


codecs.register_error("socialcrm-escape", _escape_bytes)
_ESCAPED = re.compile("[\udc00-\udcff]")  # never in text that decoded cleanly
_TYPICAL = set("€£¥¢°§©®™«»‹›„“”‚‘’–—…·•×÷¿¡ªº±²³µ¹¼½¾´¨¸¦¤\xa0")
_HINT_CANDIDATES = ("utf-8", "cp1252")

Line = tuple[int, str, int, "_Bad | None"]
"""A physical line: number, text (bad bytes as ``\\xNN``), size in bytes, its fault."""


@dataclass(frozen=True)
class _Bad:
    offset: int
    """Byte offset in the file of the line's first invalid byte."""
    byte: int


def _looks_like(raw: bytes, encoding: str) -> bool:
    """Whether ``raw`` is clean text in ``encoding``, its non-ASCII characters typical."""
    try:
        text = raw.decode(encoding)
    except UnicodeDecodeError:
        return False
    extra = [c for c in text if ord(c) > 127]
    return bool(extra) and all(c.isalpha() or c in _TYPICAL for c in extra)


def _nul_pattern(head: bytes) -> str | None:
    """'le' or 'be' when NUL bytes fall in every other byte, as in UTF-16 ASCII text."""
    n = len(head) // 2
    if n < 2:
        return None
    even, odd = head[0 : 2 * n : 2].count(0), head[1 : 2 * n : 2].count(0)
    if odd >= 0.4 * n and even <= 0.05 * n:
        return "le"
    if even >= 0.4 * n and odd <= 0.05 * n:
        return "be"
    return None


def _split_lines(fh: BinaryIO, block_size: int = 1 << 16) -> Iterator[bytes]:
    """Physical lines with their endings (``\\n``, ``\\r\\n`` or ``\\r``)."""
    pending: list[bytes] = []
    while True:
        block = fh.read(block_size)
        if not block:
            if pending:
                yield b"".join(pending)
            return
        if pending:
            if b"\n" not in block and b"\r" not in block:
                pending.append(block)
                continue
            pending.append(block)
            block = b"".join(pending)
            pending = []
        parts = block.splitlines(keepends=True)
        last = parts[-1]
        if last.endswith(b"\n"):
            yield from parts
        else:  # no ending yet, or a "\r" whose "\n" may come in the next block
            yield from parts[:-1]
            pending = [last]


class _Decoder:
    """The physical lines of a text file, decoded one at a time (UTF-16 as a stream).

    Counts the lines with invalid bytes and, per other encoding, how many of them read as
    clean text in it, for the hint in reasons and errors.
    """

    def __init__(self, path: Path, fh: BinaryIO, encoding: str) -> None:
        self.path = path
        self.fh = fh
        self.encoding = encoding
        self.bad_lines = 0
        self.looks_like = dict.fromkeys(_HINT_CANDIDATES, 0)
        self.clean_non_ascii = 0
        """Lines with non-ASCII text that decoded cleanly: evidence for the encoding."""
        head = fh.read(4096)
        self.codec, skip = self._codec(head)
        fh.seek(skip)
        self.skip = skip

    def _codec(self, head: bytes) -> tuple[str, int]:
        enc, name = self.encoding, self.name
        if enc == "utf-16":
            if head.startswith(codecs.BOM_UTF16_LE):
                return "utf-16-le", 2
            if head.startswith(codecs.BOM_UTF16_BE):
                return "utf-16-be", 2
            order = _nul_pattern(head)
            if order is None and head:
                raise ReadError(
                    f"{self.path}: not UTF-16 text: it has neither a byte-order mark nor the "
                    "NUL bytes of UTF-16; try --encoding utf-8 (or cp1252)"
                )
            return f"utf-16-{order or 'le'}", 0
        if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            raise ReadError(
                f"{self.path}: not {name} text: it starts with a UTF-16 byte-order mark; "
                "this file looks like UTF-16; try --encoding utf-16"
            )
        if _nul_pattern(head):
            raise ReadError(
                f"{self.path}: not {name} text: every other byte is a NUL byte; "
                "this file looks like UTF-16; try --encoding utf-16"
            )
        if head.startswith(codecs.BOM_UTF8):
            if enc != "utf-8":
                raise ReadError(
                    f"{self.path}: not {name} text: it starts with a UTF-8 byte-order mark; "
                    "this file looks like UTF-8; try --encoding utf-8"
                )
            return enc, len(codecs.BOM_UTF8)
        return enc, 0

    @property
    def name(self) -> str:
        return {"latin-1": "Latin-1", "cp1252": "cp1252"}.get(
            self.encoding, ENCODING_NAMES[self.encoding]
        )

    def __iter__(self) -> Iterator[Line]:
        if self.codec.startswith("utf-16"):
            return self._stream_lines()
        return self._byte_lines()

    def _byte_lines(self) -> Iterator[Line]:
        codec, offset = self.codec, self.skip
        for number, line in enumerate(_split_lines(self.fh), start=1):
            try:
                text = line.decode(codec)
            except UnicodeDecodeError as e:
                self._count(line)
                bad = _Bad(offset + e.start, line[e.start])
                yield number, line.decode(codec, "backslashreplace"), len(line), bad
            else:
                if not line.isascii():
                    self.clean_non_ascii += 1
                yield number, text, len(line), None
            offset += len(line)

    def _stream_lines(self) -> Iterator[Line]:
        codec, offset = self.codec, self.skip
        text = io.TextIOWrapper(self.fh, encoding=codec, errors="socialcrm-escape", newline="")
        for number, line in enumerate(iter(text.readline, ""), start=1):
            found = _ESCAPED.search(line)
            if found is None:
                size = len(line.encode(codec))
                yield number, line, size, None
            else:
                self.bad_lines += 1
                escaped = _ESCAPED.findall(line)
                size = len(line.encode(codec, "surrogatepass")) - len(escaped)
                at = offset + len(line[: found.start()].encode(codec))
                shown = _ESCAPED.sub(lambda m: f"\\x{ord(m.group()) - 0xDC00:02x}", line)
                yield number, shown, size, _Bad(at, ord(found.group()) - 0xDC00)
            offset += size

    def _count(self, raw: bytes) -> None:
        self.bad_lines += 1
        for enc in _HINT_CANDIDATES:
            if enc != self.encoding and _looks_like(raw, enc):
                self.looks_like[enc] += 1

    def hint(self) -> str:
        """'; this file looks like X; try --encoding X' when most invalid lines read as X.

        Not when as many lines hold non-ASCII text that is clean in the file's encoding:
        then the encoding is right and the invalid lines are damaged.
        """
        for enc, n in self.looks_like.items():
            if n and 2 * n > self.bad_lines and n > self.clean_non_ascii:
                return f"; this file looks like {ENCODING_NAMES[enc]}; try --encoding {enc}"
        return ""

    def reason(self, bad: _Bad) -> str:
        return (
            f"not {self.name} text: invalid byte 0x{bad.byte:02X} at byte offset "
            f"{bad.offset} of the file{self.hint()}"
        )

    def check_head(self, head: list[Line]) -> None:
        """Refuse a file whose head is mostly undecodable: its encoding is wrong."""
        bad = [(n, b) for n, _, _, b in head if b is not None]
        if len(bad) >= ENCODING_ERROR_MIN_LINES and len(bad) > ENCODING_ERROR_SHARE * len(head):
            number, first = bad[0]
            raise ReadError(
                f"{self.path}: not {self.name} text: {len(bad):,} of the first "
                f"{len(head):,} lines hold invalid bytes (the first at line {number}, "
                f"byte offset {first.offset})"
                + (self.hint() or "; is it in another encoding? see --encoding")
            )


def _open_text(path: Path, options: ReadOptions) -> tuple[_Decoder, list[Line], Iterator[Line]]:
    """The decoder, the first MiB of decoded lines (checked), and the rest of the lines."""
    encoding = ENCODINGS.get(options.encoding.strip().lower())
    if encoding is None:
        raise ReadError(f"unknown encoding {options.encoding[:40]!r}")
    fh = open(path, "rb")  # noqa: SIM115  (closed when the chunks are done)
    try:
        decoder = _Decoder(path, fh, encoding)
        lines = iter(decoder)
        head: list[Line] = []
        size = 0
        for line in lines:
            head.append(line)
            size += line[2]
            if size >= SAMPLE_BYTES:
                break
        decoder.check_head(head)
    except BaseException:
        fh.close()
        raise
    return decoder, head, lines


class _BadLine(Exception):
    """Raised to the CSV loop for a line with invalid bytes, which never reaches the parser."""

    def __init__(self, number: int, text: str, bad: _Bad) -> None:
        self.number, self.text, self.bad = number, text, bad


# -- CSV ---------------------------------------------------------------------------------
class _Lines:
    """Decoded lines for the csv module, a record buffer, and push-back for re-reading."""

    def __init__(self, source: Iterator[Line], on_bytes: Callable[[int], None] | None) -> None:
        self._source = source
        self._on_bytes = on_bytes
        self._pushed: deque[tuple[int, str]] = deque()
        self.buffer: list[tuple[int, str]] = []

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        # A class, not a generator: after end of file, pushed-back lines must still flow.
        if self._pushed:
            number, line = self._pushed.popleft()
        else:
            number, line, size, bad = next(self._source)
            if self._on_bytes:
                self._on_bytes(size)
            if bad is not None:
                raise _BadLine(number, line.rstrip("\r\n"), bad)
        self.buffer.append((number, line))
        return line

    def take(self) -> list[tuple[int, str]]:
        taken, self.buffer = self.buffer, []
        return taken

    def push_back(self, lines: list[tuple[int, str]]) -> None:
        self._pushed.extendleft(reversed(lines))


def _sniff_delimiter(head: list[str], decimal: str) -> str:
    sample = "".join(head)[:SNIFF_CHARS]
    # With a decimal comma, a comma between digits is no delimiter: prefer the others.
    for candidates in ([";\t|"] if decimal == "," else []) + [",;\t|"]:
        try:
            return csv.Sniffer().sniff(sample, delimiters=candidates).delimiter
        except csv.Error:
            continue
    return ","


def _csv_chunks(
    path: Path,
    on_bytes: Callable[[int], None] | None,
    chunk_rows: int,
    options: ReadOptions,
) -> tuple[list[str], Iterator[RawChunk]]:
    decoder, head, rest = _open_text(path, options)
    fh = decoder.fh
    try:
        names, lines, reader = _csv_header(path, decoder, head, rest, on_bytes, options)
    except BaseException:
        fh.close()
        raise
    unique = list({n: i for i, n in reversed(list(enumerate(names)))}.items())
    unique.sort(key=lambda p: p[1])

    def chunks() -> Iterator[RawChunk]:
        width = len(names)
        chunk = _new_chunk(names)
        try:
            while True:
                if len(chunk) + len(chunk.structural) >= chunk_rows:
                    yield chunk
                    chunk = _new_chunk(names)
                try:
                    row = next(reader)
                except StopIteration:
                    break
                except _BadLine as bad:
                    taken = lines.take()
                    if taken:  # a record in progress runs into the line: it is broken too
                        _reject_first_line(
                            chunk,
                            lines,
                            f"broken CSV record: a quote opened here runs into line "
                            f"{bad.number}, which is not {decoder.name} text",
                            taken,
                        )
                    chunk.structural.append((bad.number, decoder.reason(bad.bad), bad.text))
                    continue
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
                for name, i in unique:
                    value = row[i]
                    chunk.columns[name].append(value if value != "" else None)
            if len(chunk) or chunk.structural:
                yield chunk
        finally:
            fh.close()

    return names, chunks()


def _csv_header(
    path: Path,
    decoder: _Decoder,
    head: list[Line],
    rest: Iterator[Line],
    on_bytes: Callable[[int], None] | None,
    options: ReadOptions,
) -> tuple[list[str], _Lines, Iterator[list[str]]]:
    """The column names, and the line source and reader positioned after the header."""
    delimiter = options.delimiter
    if delimiter is None:
        sample, size = [], 0
        for _, text, _, _ in head:
            sample.append(text)
            size += len(text)
            if size >= SNIFF_CHARS:
                break
        delimiter = _sniff_delimiter(sample, options.decimal)
    lines = _Lines(chain(head, rest), on_bytes)
    reader = csv.reader(lines, delimiter=delimiter, strict=True)
    try:
        header = next(reader)
    except StopIteration:
        raise ReadError(f"{path}: empty file (a header line is needed)") from None
    except _BadLine as bad:
        raise ReadError(f"{path}: the header line is {decoder.reason(bad.bad)}") from None
    except csv.Error as e:
        raise ReadError(f"{path}: unreadable header line: {_quoting_reason(str(e))}") from None
    text = _verbatim(lines.take())
    if len(text) > MAX_HEADER_CHARS:
        raise ReadError(
            f"{path}: the first line has {len(text):,} characters, more than a header line "
            f"may have ({MAX_HEADER_CHARS:,}); it starts {shorten(text, 60)!r}"
        )
    names = [h.strip().lower() for h in header]
    if not any(names):
        raise ReadError(f"{path}: the header line names no columns")
    seen: set[str] = set()
    for name in names:
        if name and name in seen:
            raise ReadError(f"{path}: the header names column {shorten(name)!r} twice")
        seen.add(name)
    return names, lines, reader


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
    if "field larger than field limit" in message:
        return f"a field over the limit of {MAX_FIELD_CHARS:,} characters"
    if "unexpected end of data" in message:
        return "broken CSV quoting: a quote opened on this line is never closed"
    if "expected after" in message:
        return (
            "broken CSV quoting: text follows a closing quote "
            "(a quote inside a field must be doubled)"
        )
    return f"broken CSV quoting: {shorten(message)}"


def _verbatim(taken: list[tuple[int, str]]) -> str:
    return "".join(t for _, t in taken).rstrip("\r\n")


def _new_chunk(names: list[str]) -> RawChunk:
    return RawChunk([], [], {n: [] for n in names})


# -- JSON lines --------------------------------------------------------------------------
def _jsonl_chunks(
    path: Path,
    on_bytes: Callable[[int], None] | None,
    chunk_rows: int,
    options: ReadOptions,
) -> tuple[list[str], Iterator[RawChunk]]:
    decoder, head, rest = _open_text(path, options)
    fh = decoder.fh
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
            for number, line, size, bad in chain(head, rest):
                if on_bytes:
                    on_bytes(size)
                if len(chunk) + len(chunk.structural) >= chunk_rows:
                    yield chunk
                    chunk = RawChunk([], [], {k: [] for k in chunk.columns})
                text = line.rstrip("\r\n")
                if bad is not None:
                    chunk.structural.append((number, decoder.reason(bad), text))
                    continue
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
                if len(text) > MAX_FIELD_CHARS:
                    long = [k for k, v in record.items() if v and len(v) > MAX_FIELD_CHARS]
                    if long:
                        chunk.structural.append(
                            (
                                number,
                                f"field {shorten(long[0], 60)!r} over the limit of "
                                f"{MAX_FIELD_CHARS:,} characters",
                                text,
                            )
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
        out: list[str | None] = col.to_pylist()
        return out

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
