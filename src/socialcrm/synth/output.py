"""Writing the demo's input files (as a brand's exports would look) and its hidden truth.

Columns are written in the order and with the names of the declared schemas; values are
strings formatted the way exports format them (ISO 8601 with ``Z`` or an offset, dates as
``YYYY-MM-DD``, booleans as ``true``/``false``). Posts are JSON lines.

Large columns are built in Arrow: repeated strings (record ids, handles, statuses) are
taken from a small vocabulary by index, and timestamps are assembled as fixed-width
bytes, which is several times faster than formatting them one by one.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from socialcrm.store.files import write_json_lines
from socialcrm.store.schemas import INPUT_TABLES
from socialcrm.synth.clock import DAY

_NULL = pa.scalar(None, pa.string())


def _with_nulls(arr: pa.Array, missing: np.ndarray | None) -> pa.Array:
    if missing is None:
        return arr
    missing = np.asarray(missing, bool)
    if not missing.any():
        return arr
    return pc.if_else(pa.array(missing), _NULL, arr)


def string(values: np.ndarray, missing: np.ndarray | None = None) -> pa.Array:
    """A string column; ``missing`` (or empty strings, if not given) become nulls."""
    arr = pa.array(values, pa.string())
    if missing is None:
        empty = pc.equal(arr, "")
        return pc.if_else(empty, _NULL, arr) if pc.any(empty).as_py() else arr
    return _with_nulls(arr, missing)


def take(
    vocabulary: np.ndarray | list[str] | tuple[str, ...],
    index: np.ndarray,
    missing: np.ndarray | None = None,
) -> pa.Array:
    """``vocabulary[index]`` as an Arrow string column, without a per-row Python string."""
    vocab = pa.array(np.asarray(vocabulary, dtype=object), pa.string())
    idx = pa.array(
        np.asarray(index, np.int64), mask=None if missing is None else np.asarray(missing, bool)
    )
    return vocab.take(idx)


def ids(prefix: str, numbers: np.ndarray, width: int) -> pa.Array:
    """``prefix`` + zero-padded number, e.g. ``T000000042``."""
    digits = pc.utf8_lpad(pa.array(np.asarray(numbers, np.int64)).cast(pa.string()), width, "0")
    return pc.binary_join_element_wise(pa.scalar(prefix), digits, "")


@cache
def _clock_bytes() -> np.ndarray:
    """``HH:MM:SS`` for every second of a day, as an (86400, 8) byte matrix."""
    s = np.arange(DAY)
    h, m, sec = s // 3600, s // 60 % 60, s % 60
    digits = np.stack([h // 10, h % 10, m // 10, m % 10, sec // 10, sec % 10], axis=1) + 48
    out = np.full((DAY, 8), ord(":"), np.uint8)
    out[:, [0, 1, 3, 4, 6, 7]] = digits
    return out


def _date_bytes(days: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(byte matrix of ``YYYY-MM-DD`` for the day range, index of each day in it)."""
    d0 = int(days.min()) if len(days) else 0
    d1 = int(days.max()) if len(days) else 0
    text = np.datetime_as_string(np.arange(d0, d1 + 1).astype("datetime64[D]"), unit="D")
    return np.frombuffer(text.astype("S10").tobytes(), np.uint8).reshape(-1, 10), days - d0


def _fixed_width(n: int, parts: list[np.ndarray]) -> pa.Array:
    """Concatenate per-row byte matrices of equal total width into a string array."""
    width = sum(p.shape[1] for p in parts)
    buf = np.concatenate(parts, axis=1) if parts else np.zeros((n, 0), np.uint8)
    offsets = np.arange(0, (n + 1) * width, width, dtype=np.int64)
    return pa.LargeStringArray.from_buffers(
        n, pa.py_buffer(offsets), pa.py_buffer(np.ascontiguousarray(buf))
    ).cast(pa.string())


def timestamps(
    seconds: np.ndarray, missing: np.ndarray | None = None, offset_hours: np.ndarray | None = None
) -> pa.Array:
    """ISO 8601: ``Z`` by default, or local time with the given offset (99 means ``Z``)."""
    seconds = np.asarray(seconds, np.int64)
    n = len(seconds)
    offset = np.full(n, 99) if offset_hours is None else np.asarray(offset_hours, np.int64)
    local = offset != 99
    shifted = seconds + np.where(local, offset, 0) * 3600
    days = shifted // DAY
    date_m, date_i = _date_bytes(days)
    clock = _clock_bytes()[shifted - days * DAY]
    z = np.frombuffer(b"Z", np.uint8)
    if not local.any():
        arr = _fixed_width(
            n,
            [
                date_m[date_i],
                np.full((n, 1), ord("T"), np.uint8),
                clock,
                np.broadcast_to(z, (n, 1)),
            ],
        )
        return _with_nulls(arr, missing)
    # Mixed widths: build both forms and choose per row.
    sign = np.where(offset < 0, ord("-"), ord("+"))
    hh = np.abs(np.where(local, offset, 0))
    suffix = np.stack(
        [
            sign,
            48 + hh // 10,
            48 + hh % 10,
            np.full(n, ord(":")),
            np.full(n, ord("0")),
            np.full(n, ord("0")),
        ],
        axis=1,
    ).astype(np.uint8)
    t = np.full((n, 1), ord("T"), np.uint8)
    with_offset = _fixed_width(n, [date_m[date_i], t, clock, suffix])
    utc = _fixed_width(n, [date_m[date_i], t, clock, np.broadcast_to(z, (n, 1))])
    arr = pc.if_else(pa.array(local), with_offset, utc)
    return _with_nulls(arr, missing)


def dates(seconds: np.ndarray, missing: np.ndarray | None = None) -> pa.Array:
    """``YYYY-MM-DD``."""
    days = np.asarray(seconds, np.int64) // DAY
    date_m, date_i = _date_bytes(days)
    return _with_nulls(_fixed_width(len(days), [date_m[date_i]]), missing)


def integers(values: np.ndarray, missing: np.ndarray | None = None) -> pa.Array:
    return pa.array(
        np.asarray(values, np.int64),
        pa.int64(),
        mask=None if missing is None else np.asarray(missing, bool),
    )


def floats(values: np.ndarray, decimals: int = 2, missing: np.ndarray | None = None) -> pa.Array:
    return pa.array(
        np.round(np.asarray(values, np.float64), decimals),
        pa.float64(),
        mask=None if missing is None else np.asarray(missing, bool),
    )


def booleans(values: np.ndarray) -> pa.Array:
    return pa.array(np.asarray(values, bool), pa.bool_())


def write_csv(path: Path, columns: dict[str, pa.Array], table: str | None = None) -> Path:
    """Write columns as CSV; for an input table, check names and order against its schema."""
    if table is not None:
        _check_columns(table, list(columns))
    path.parent.mkdir(parents=True, exist_ok=True)
    pacsv.write_csv(pa.table(columns), path)
    return path


def write_jsonl(path: Path, columns: dict[str, pa.Array], table: str) -> Path:
    """One JSON object per line, in row order."""
    _check_columns(table, list(columns))
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_json_lines(pa.table(columns), path)


def _check_columns(table: str, names: list[str]) -> None:
    """The schema's columns in its order; optional ones (that the demo has no data for,
    such as a collected post's raw payload) may be left out, as a user's file may."""
    schema = INPUT_TABLES[table]
    kept = [c.name for c in schema.columns if c.name in set(names) or c.required]
    if names != kept:
        raise ValueError(f"{table}: columns {names} != schema {schema.column_names}")
