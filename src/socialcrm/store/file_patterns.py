"""One read of an orders file: its distinct (x, recency, T) patterns and who was left out.

``socialcrm clv fit`` needs, of a whole file, only what the purchase models are fitted on:
the distinct (frequency, recency, T) triples with their number of customers, and the
counts of the customers and rows the summary cannot hold. This computes both in one SQL
statement over the file (DuckDB streams it once) and pulls only the patterns (a few
hundred thousand rows for a million customers) into numpy: no Ibis, no pandas, no
per-customer frame, no sort of customer ids.

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
from typing import Any

import duckdb

from socialcrm.store.files import (
    ROW_REASONS,
    OrdersFileError,
    _first_line,
    _ident,
    _sql_str,
    create_rows_view,
)


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
