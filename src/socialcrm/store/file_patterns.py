"""One read of an orders file: its distinct (x, recency, T) patterns and who was left out.

``socialcrm clv fit`` needs, of a whole file, only what the purchase models are fitted on:
the distinct (frequency, recency, T) triples with their number of customers, and the
counts of the customers and rows the summary cannot hold. A clean CSV (the common case:
every row a dated order with a positive amount) is read once by Arrow and counted with
numpy sorts; any other file is read by one SQL statement (DuckDB streams it once), which
also names each kind of row it left out. Either way only the patterns (a few hundred
thousand rows for a million customers) reach numpy: no Ibis, no pandas, no per-customer
frame, and neither engine imported unless it is used.

The purchase occasions are those of :func:`socialcrm.value.rfm.purchase_occasions` on
the file's orders (every row of a file is a completed order): a (customer, day) whose
net amount is positive, or, with zero-amount purchases, zero with a non-negative order.
Tests check that the patterns equal the compacted :func:`~socialcrm.value.rfm.rfm_summary`
and the counts those of :meth:`socialcrm.store.files.OrdersFile.counts`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from socialcrm.store.files import (
    ROW_REASONS,
    OrdersFileError,
    _first_line,
    _ident,
    _sql_str,
    create_rows_view,
)

if TYPE_CHECKING:
    import duckdb


@dataclass(frozen=True)
class FilePatterns:
    """The distinct (x, recency, T) of a file's customers, in days, sorted, with counts."""

    x: Any
    """Repeat purchase occasions (int64 array)."""
    recency_days: Any
    """Days from the first to the last occasion (int64 array)."""
    t_days: Any
    """Days from the first occasion to the calibration end (int64 array)."""
    customers: Any
    """Customers with each pattern (int64 array)."""
    rows: dict[str, int]
    """Rows that are no order, by :data:`~socialcrm.store.files.ROW_REASONS`."""
    examples: dict[str, str]
    """A value that could not be read, per row reason (at most 60 characters)."""
    customers_in_file: int
    unreadable: int
    """Customers with no readable row."""
    later: int
    """Customers with readable rows, none by the calibration end."""
    by_calibration_end: int
    """Customers with a readable order by the calibration end."""
    only_zero: int
    """Of those, customers whose orders by the calibration end all have amount 0."""
    zero_occasion_only: int
    """Of those, customers with a negative amount, no purchase occasion, and one
    were zero-amount days counted."""


def read_file_patterns(
    path: Path,
    fmt: str,
    calibration_end: date,
    customer_col: str = "customer_id",
    date_col: str = "date",
    amount_col: str | None = None,
    zero_amount_purchases: bool = False,
    threads: int | None = None,
) -> FilePatterns:
    """Patterns and counts of an orders file, reading it once.

    Raises
    ------
    OrdersFileError
        When the file cannot be read as ``fmt`` or lacks one of the columns.
    """
    if fmt == "csv":
        clean = _clean_csv_patterns(
            path, calibration_end, customer_col, date_col, amount_col, zero_amount_purchases
        )
        if clean is not None:
            return clean
    import duckdb  # only here: the clean CSV above needs none of it

    db = duckdb.connect(config={"threads": threads} if threads else {})
    try:
        db.sql("SET enable_progress_bar = false")
        create_rows_view(db, path, fmt, customer_col, date_col, amount_col)
        cal = f"DATE '{calibration_end.isoformat()}'"
        zero_rule = "(spend > 0 OR (spend = 0 AND sales > 0))"
        occasion = zero_rule if zero_amount_purchases else "spend > 0"
        # a customer whose every order by the end has an amount above 0 (at least 0 with
        # zero-amount purchases) has an occasion on every day they ordered
        sure = "lo >= 0" if zero_amount_purchases else "lo > 0"
        # one read of the file into memory (parsed: a fraction of its text's size; the
        # aggregations run several times faster on it than streamed from the reader)
        if not (fmt == "csv" and _read_typed_csv(db, path, customer_col, date_col, amount_col)):
            db.sql(
                "CREATE OR REPLACE TEMP TABLE clv_read AS SELECT customer_id, problem, "
                "bad_value, CAST(ordered_at AS DATE) AS day, amount FROM clv_rows"
            )
        # one row per customer: their days are their occasions when they are sure (their
        # distinct days from a list: cheaper than count(DISTINCT) in DuckDB 1.5)
        db.sql(
            f"""
            CREATE TEMP TABLE clv_people AS
            SELECT customer_id, count(*) FILTER (WHERE problem IS NULL) > 0 AS ok,
                count(*) FILTER (WHERE live) > 0 AS by_cal,
                len(list_distinct(list(day) FILTER (WHERE live))) AS days,
                min(day) FILTER (WHERE live) AS first_day,
                max(day) FILTER (WHERE live) AS last_day,
                min(amount) FILTER (WHERE live) AS lo, max(amount) FILTER (WHERE live) AS hi
            FROM (
                SELECT customer_id, day, amount, problem,
                    problem IS NULL AND day <= {cal} AS live
                FROM clv_read WHERE customer_id IS NOT NULL
            )
            GROUP BY customer_id
            """
        )
        # the others (returns, zero amounts) have their days netted, as the summary does
        db.sql(
            f"""
            CREATE TEMP TABLE clv_unsure AS
            WITH days AS (
                SELECT customer_id, day, sum(amount) AS spend,
                    count(*) FILTER (WHERE amount >= 0) AS sales
                FROM clv_read
                WHERE problem IS NULL AND day <= {cal} AND customer_id IN (
                    SELECT customer_id FROM clv_people WHERE by_cal AND NOT ({sure})
                )
                GROUP BY ALL
            )
            SELECT customer_id, count(*) FILTER (WHERE {occasion}) AS occasions,
                min(day) FILTER (WHERE {occasion}) AS first_day,
                max(day) FILTER (WHERE {occasion}) AS last_day,
                count(*) FILTER (WHERE {zero_rule}) AS zero_occasions
            FROM days GROUP BY customer_id
            """
        )
        found = db.sql(
            f"""
            WITH per AS (
                SELECT days AS occasions, first_day, last_day FROM clv_people
                WHERE by_cal AND {sure}
                UNION ALL
                SELECT occasions, first_day, last_day FROM clv_unsure WHERE occasions > 0
            )
            SELECT occasions - 1 AS x, date_diff('day', first_day, last_day) AS r,
                date_diff('day', first_day, {cal}) AS t, count(*) AS n
            FROM per GROUP BY ALL ORDER BY ALL
            """
        ).fetchnumpy()
        counts = db.sql(
            """
            SELECT count(*), count(*) FILTER (WHERE NOT ok),
                count(*) FILTER (WHERE ok AND NOT by_cal), count(*) FILTER (WHERE by_cal),
                count(*) FILTER (WHERE by_cal AND lo = 0 AND hi = 0),
                (SELECT count(*) FROM clv_unsure JOIN clv_people USING (customer_id)
                 WHERE lo < 0 AND occasions = 0 AND zero_occasions > 0)
            FROM clv_people
            """
        ).fetchone()
        problems = db.sql(
            "SELECT problem, count(*), min(bad_value) FROM clv_read "
            "WHERE problem IS NOT NULL GROUP BY problem"
        ).fetchall()
    except duckdb.Error as e:
        what = {"csv": "CSV", "jsonl": "JSON lines", "parquet": "Parquet"}[fmt]
        raise OrdersFileError(f"cannot read {path} as {what}: {_first_line(e)}") from None
    finally:
        db.close()
    assert counts is not None
    customers, unreadable, later, by_cal, only_zero, zero_only = (int(v) for v in counts)
    rows = dict.fromkeys(ROW_REASONS, 0)
    examples: dict[str, str] = {}
    for problem, n, example in problems:
        rows[problem] = int(n)
        if example is not None:
            examples[problem] = str(example)[:60]
    return FilePatterns(
        found["x"],
        found["r"],
        found["t"],
        found["n"],
        rows,
        examples,
        customers,
        unreadable,
        later,
        by_cal,
        only_zero,
        zero_only,
    )


def _read_typed_csv(
    db: duckdb.DuckDBPyConnection,
    path: Path,
    customer_col: str,
    date_col: str,
    amount_col: str | None,
) -> bool:
    """Fill ``clv_read`` from a CSV whose amounts DuckDB's reader parses as numbers and
    whose dates are cast from plain text (cheaper than reading every value as text and
    trying each date as a time with a zone), when every date is a plain
    YYYY-MM-DD (or empty) and every amount a finite number; else False, and ``clv_rows``, which
    reads each value as text, is the way (a second read, only of such files).

    On such a file both ways give the same rows: an empty date or amount is a bad row
    with no example either way, and nothing else can be bad.
    """
    import duckdb

    # dates as text, cast only when 10 characters long: DuckDB's DATE reader would take
    # the day of "2024-07-01T01:00:00+02:00" as written, not its UTC day
    types = {customer_col: "VARCHAR", date_col: "VARCHAR"}
    if amount_col:
        types[amount_col] = "DOUBLE"
    typed = ", ".join(f"{_sql_str(k)}: '{v}'" for k, v in types.items())
    cid, d = _ident(customer_col), _ident(date_col)
    amount = _ident(amount_col) if amount_col else "1.0::DOUBLE"
    try:
        db.sql(
            f"""
            CREATE OR REPLACE TEMP TABLE clv_read AS
            SELECT customer_id,
                CASE WHEN customer_id IS NULL THEN 'no_customer_id'
                     WHEN day IS NULL THEN 'bad_date'
                     WHEN amount IS NULL THEN 'bad_amount' END AS problem,
                CAST(NULL AS VARCHAR) AS bad_value, day, amount, dated
            FROM (
                SELECT CASE WHEN trim({cid}) <> '' THEN {cid} END AS customer_id,
                    CASE WHEN length({d}) = 10 THEN TRY_CAST({d} AS DATE) END AS day,
                    {d} IS NOT NULL AS dated, {amount} AS amount
                FROM read_csv({_sql_str(str(path))}, types={{{typed}}})
            )
            """
        )
    except duckdb.Error:
        return False
    found = db.sql(
        "SELECT count(*) FROM clv_read WHERE NOT isfinite(amount) OR (dated AND day IS NULL)"
    ).fetchone()
    return found is not None and found[0] == 0


_BITS = 21
"""Bits of each of recency and age in days (about 5,700 years) in a pattern's sort key."""


def _clean_csv_patterns(
    path: Path,
    calibration_end: date,
    customer_col: str,
    date_col: str,
    amount_col: str | None,
    zero_amount_purchases: bool,
) -> FilePatterns | None:
    """The patterns of a *clean* CSV, read by Arrow and counted in numpy; None otherwise.

    Clean: Arrow's reader parses every date as a plain ``YYYY-MM-DD`` day and every
    amount as a finite number above 0 (at least 0 with zero-amount purchases), and no
    customer id is empty or blank. Then every row is an order and every (customer, day)
    by the calibration end a purchase occasion, so a customer's pattern is their
    distinct days, first and last: a sort, no hash table of (customer, day) pairs, and
    about a third of the SQL path's CPU time on a million customers. Anything else
    (returns, zero amounts, unreadable values, timestamps with an offset, another
    delimiter) returns None, and :func:`read_file_patterns` reads the file with DuckDB,
    which reports each kind of row it left out. Tests check both paths agree.
    """
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pcsv

    wanted = [c for c in (customer_col, date_col, amount_col) if c]
    types = {customer_col: pa.string(), date_col: pa.date32()}
    if amount_col:
        types[amount_col] = pa.float64()
    pool = _memory_pool()
    try:
        table = pcsv.read_csv(
            path,
            convert_options=pcsv.ConvertOptions(column_types=types, include_columns=wanted),
            memory_pool=pool,
        )
    except (pa.ArrowException, OSError, UnicodeError):
        return None
    if table.num_rows == 0 or any(table.column(c).null_count for c in wanted):
        return None
    if amount_col:
        amounts = _values(table.column(amount_col).combine_chunks(memory_pool=pool), np.float64)
        floor_ok = amounts >= 0 if zero_amount_purchases else amounts > 0
        if not bool(np.all(floor_ok & np.isfinite(amounts))):
            return None
    ids = table.column(customer_col).combine_chunks(memory_pool=pool)
    encoded = pc.dictionary_encode(ids, memory_pool=pool)
    if not pa.types.is_string(encoded.dictionary.type) or _any_blank(encoded.dictionary):
        return None
    codes = _values(encoded.indices, np.int32).astype(np.int64)
    n_customers = len(encoded.dictionary)
    days = _values(table.column(date_col).combine_chunks(memory_pool=pool), np.int32)
    days = days.astype(np.int64)
    end = calibration_end.toordinal() - date(1970, 1, 1).toordinal()
    live = days <= end
    if not live.any():
        return None
    first_day = int(days[live].min())
    if end - first_day >= 1 << _BITS:
        return None
    # one sort of (customer, day) keys gives each customer's distinct days in order
    key = np.sort((codes[live] << _BITS) | (days[live] - first_day))
    distinct = np.empty(len(key), dtype=bool)
    distinct[0] = True
    np.not_equal(key[1:], key[:-1], out=distinct[1:])
    key = key[distinct]
    who, day = key >> _BITS, (key & ((1 << _BITS) - 1)) + first_day
    starts = np.flatnonzero(np.r_[True, who[1:] != who[:-1]])
    stops = np.r_[starts[1:], len(key)] - 1
    x = stops - starts
    recency = day[stops] - day[starts]
    age = end - day[starts]
    if x.max() >= 1 << _BITS:
        return None
    pattern = np.sort((x << (2 * _BITS)) | (recency << _BITS) | age)
    edge = np.flatnonzero(np.r_[True, pattern[1:] != pattern[:-1], True])
    distinct_patterns, customers = pattern[edge[:-1]], np.diff(edge)
    mask = (1 << _BITS) - 1
    by_end = len(starts)
    return FilePatterns(
        x=distinct_patterns >> (2 * _BITS),
        recency_days=(distinct_patterns >> _BITS) & mask,
        t_days=distinct_patterns & mask,
        customers=customers.astype(np.int64),
        rows=dict.fromkeys(ROW_REASONS, 0),
        examples={},
        customers_in_file=n_customers,
        unreadable=0,
        later=n_customers - by_end,
        by_calibration_end=by_end,
        only_zero=_only_zero(codes, live, amounts, n_customers) if amount_col else 0,
        zero_occasion_only=0,
    )


def _values(array: Any, dtype: Any) -> Any:
    """A null-free fixed-width Arrow array's values as numpy, without a copy
    (``to_numpy`` would import pandas: half a second, for nothing here)."""
    import numpy as np

    dtype = np.dtype(dtype)
    return np.frombuffer(
        array.buffers()[1], dtype=dtype, count=len(array), offset=array.offset * dtype.itemsize
    )


def _any_blank(strings: Any) -> bool:
    """Whether a null-free Arrow string array holds an empty or all-whitespace string,
    counted on its buffers (Arrow's own string kernels import pandas on first use: half
    a second of a command that takes two)."""
    import numpy as np

    if len(strings) == 0:
        return False
    offsets = np.frombuffer(
        strings.buffers()[1], dtype=np.int32, count=len(strings) + 1, offset=strings.offset * 4
    )
    data = strings.buffers()[2]
    text = np.frombuffer(data, dtype=np.uint8) if data is not None else np.zeros(0, np.uint8)
    solid = ~np.isin(text, np.frombuffer(b" \t\n\r\x0b\x0c", dtype=np.uint8))
    seen = np.concatenate(([0], np.cumsum(solid, dtype=np.int64)))
    return bool(np.any(seen[offsets[1:]] == seen[offsets[:-1]]))


def _memory_pool() -> Any:
    """jemalloc where Arrow has it: with its default (mimalloc) this read spent more time
    in the kernel than in parsing (1.3 s of system time against 0.25 s on a million
    customers)."""
    import pyarrow as pa

    try:
        return pa.jemalloc_memory_pool()
    except NotImplementedError:
        return pa.system_memory_pool()


def _only_zero(codes: Any, live: Any, amounts: Any, n_customers: int) -> int:
    """Customers whose orders by the calibration end all have amount 0 (only possible
    with zero-amount purchases, where the clean path allows amounts of 0)."""
    import numpy as np

    paid = np.bincount(codes[live], weights=(amounts[live] > 0), minlength=n_customers)
    ordered = np.bincount(codes[live], minlength=n_customers)
    return int(((ordered > 0) & (paid == 0)).sum())
