"""Files outside the warehouse, read by an in-process DuckDB, for work without a workspace.

The ``socialcrm clv`` commands summarise any orders file (CSV, JSON lines or Parquet)
without ingesting it: DuckDB streams the file, and what it reads comes back as Ibis
tables, so the value domain's expressions run on it as on an engine's tables. Rows that
are no orders are kept with the reason (:data:`ROW_REASONS`) and counted, never dropped
silently. Demo input files are written here too (:func:`write_json_lines`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa
    from ibis.backends.duckdb import Backend
    from ibis.expr import types as ir

ROW_REASONS = ("no_customer_id", "bad_date", "bad_amount")
"""Why a row is not an order, in the order they are decided."""
_JSON_SAMPLE = 20_000


class OrdersFileError(ValueError):
    """The file cannot be read as the format asked for, or lacks a column."""


def file_backend() -> Backend:
    """A new in-process DuckDB, as an Ibis backend, that reads (streams) files."""
    import ibis

    return ibis.duckdb.connect()


def _sql_str(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _json_pointer(key: str) -> str:
    return "/" + key.replace("~", "~0").replace("/", "~1")


def _source(
    db: Any, path: Path, fmt: str, wanted: list[str], csv_columns: list[str] | None = None
) -> tuple[str, dict[str, str], list[str]]:
    """SQL of a relation with the ``wanted`` columns, their types, and the file's columns.

    CSV columns are read as text (and parsed below, so one bad value is one bad row,
    not a failed read); JSON lines as the text of each field.
    """
    p = _sql_str(str(path))
    if fmt == "jsonl":
        objects = f"read_json_objects({p}, format='auto')"
        key_sql = "SELECT DISTINCT unnest(json_keys(json)) FROM (SELECT json FROM {} {})"
        keys = [r[0] for r in db.sql(key_sql.format(objects, f"LIMIT {_JSON_SAMPLE}")).fetchall()]
        if any(c not in keys for c in wanted):  # perhaps only in later rows: look at all
            keys = [r[0] for r in db.sql(key_sql.format(objects, "")).fetchall()]
        columns = sorted(keys)
        if any(c not in keys for c in wanted):
            return "", {}, columns
        fields = ", ".join(
            f"json_extract_string(json, {_sql_str(_json_pointer(c))}) AS {_ident(c)}"
            for c in dict.fromkeys(wanted)
        )
        return f"(SELECT {fields} FROM {objects})", dict.fromkeys(wanted, "VARCHAR"), columns
    if fmt == "parquet":
        rel = f"read_parquet({p})"
        described = db.sql(f"DESCRIBE SELECT * FROM {rel}").fetchall()
        return rel, {r[0]: str(r[1]) for r in described}, [r[0] for r in described]
    columns = csv_columns if csv_columns is not None else _sniff_csv(db, path)[0]
    present = [c for c in dict.fromkeys(wanted) if c in columns]
    types = ", ".join(f"{_sql_str(c)}: 'VARCHAR'" for c in present)
    return f"read_csv({p}, types={{{types}}})", dict.fromkeys(present, "VARCHAR"), columns


def _sniff_csv(db: Any, path: Path) -> tuple[list[str], list[str]]:
    """A CSV's column names, and the date and timestamp formats DuckDB's sniffer found in
    it (beyond ISO 8601), from one sniff."""
    row = db.sql(
        f"SELECT Columns, DateFormat, TimestampFormat FROM sniff_csv({_sql_str(str(path))})"
    ).fetchone()
    columns, *formats = row or ([],)
    return [c["name"] for c in columns], [f for f in formats if f]


def _date_sql(col: str, type_: str, formats: list[str]) -> str:
    c = _ident(col)
    if type_ == "DATE" or type_.startswith("TIMESTAMP"):
        return f"CAST({c} AS TIMESTAMP)"
    text = c if type_ == "VARCHAR" else f"CAST({c} AS VARCHAR)"
    # a plain YYYY-MM-DD (10 characters: no room for a time or an offset) is its own
    # day; a cast to DATE reads it at a fraction of the cost of the time-zone-aware cast
    tries = [f"CASE WHEN length({text}) = 10 THEN CAST(TRY_CAST({text} AS DATE) AS TIMESTAMP) END"]
    # an offset moves the time to UTC, as ingest and a typed column do
    tries += [f"CAST(TRY_CAST({text} AS TIMESTAMPTZ) AS TIMESTAMP)"]
    tries += [f"TRY_STRPTIME({text}, {_sql_str(f)})" for f in formats]
    return f"COALESCE({', '.join(tries)})"


def read_orders_file(
    path: Path,
    fmt: str,
    customer_col: str = "customer_id",
    date_col: str = "date",
    amount_col: str | None = None,
    con: Backend | None = None,
) -> OrdersFile:
    """The orders of a CSV, JSON lines or Parquet file, as the RFM summary needs them.

    Opened on an in-process DuckDB (``con``, or a new one). The orders table has
    ``customer_id`` as text, so leading zeros survive; ``ordered_at``; ``amount``, 1 for
    every row without ``amount_col``; ``status``. The backend also holds the view
    ``clv_rows``: every row of the file with ``problem`` (one of :data:`ROW_REASONS`, or
    null for an order) and ``bad_value`` (the text that could not be read), which
    :meth:`OrdersFile.counts` counts. Dates are ISO 8601 (and, in a
    CSV, any format DuckDB's sniffer recognised); amounts are finite numbers.

    Raises
    ------
    OrdersFileError
        When the file cannot be read as ``fmt`` or lacks one of the columns.
    """
    if con is None:
        import ibis

        con = ibis.duckdb.connect()
    create_rows_view(con.con, path, fmt, customer_col, date_col, amount_col)
    return OrdersFile(
        con,
        con.sql(
            "SELECT customer_id, ordered_at, amount, 'completed' AS status "
            "FROM clv_rows WHERE problem IS NULL"
        ),
    )


def create_rows_view(
    db: duckdb.DuckDBPyConnection,
    path: Path,
    fmt: str,
    customer_col: str = "customer_id",
    date_col: str = "date",
    amount_col: str | None = None,
) -> None:
    """Create the view ``clv_rows`` of :func:`read_orders_file` on a plain DuckDB
    connection (no Ibis: ``socialcrm clv fit`` needs no more than SQL).

    Raises
    ------
    OrdersFileError
        When the file cannot be read as ``fmt`` or lacks one of the columns.
    """
    import duckdb  # where it is used: `clv fit` on a clean CSV never needs it

    db.sql("SET TimeZone = 'UTC'")  # days of timestamps with an offset are UTC days
    wanted = [c for c in (customer_col, date_col, amount_col) if c]
    what = {"csv": "CSV", "jsonl": "JSON lines", "parquet": "Parquet"}[fmt]
    try:
        sniffed = _sniff_csv(db, path) if fmt == "csv" else None
        rel, types, columns = _source(db, path, fmt, wanted, sniffed and sniffed[0])
        missing = [c for c in wanted if c not in types]
        if missing:
            raise OrdersFileError(
                f"{path}: no column {', '.join(map(repr, missing))}; "
                f"it has {', '.join(columns) or 'none'}"
            )
        formats = sniffed[1] if sniffed else []
        cust = _ident(customer_col)
        cid = f"CAST({cust} AS VARCHAR)"
        cid = f"CASE WHEN trim({cid}) <> '' THEN {cid} END"
        ts = _date_sql(date_col, types[date_col], formats)
        if amount_col:
            a = _ident(amount_col)
            num = f"TRY_CAST({a} AS DOUBLE)"
            amt = f"CASE WHEN isfinite({num}) THEN {num} END"
            amt_text = f"CAST({a} AS VARCHAR)"
        else:
            amt, amt_text = "1.0::DOUBLE", "NULL"
        db.sql(
            f"""
            CREATE OR REPLACE TEMP VIEW clv_rows AS
            SELECT customer_id, ordered_at, amount,
                CASE WHEN customer_id IS NULL THEN 'no_customer_id'
                     WHEN ordered_at IS NULL THEN 'bad_date'
                     WHEN amount IS NULL THEN 'bad_amount' END AS problem,
                CASE WHEN customer_id IS NULL THEN NULL
                     WHEN ordered_at IS NULL THEN date_text
                     WHEN amount IS NULL THEN amount_text END AS bad_value
            FROM (
                SELECT {cid} AS customer_id, {ts} AS ordered_at, {amt} AS amount,
                    CAST({_ident(date_col)} AS VARCHAR) AS date_text,
                    {amt_text} AS amount_text
                FROM {rel}
            )
            """
        )
    except duckdb.Error as e:
        raise OrdersFileError(f"cannot read {path} as {what}: {_first_line(e)}") from None


def _first_line(e: Exception) -> str:
    return (str(e).strip().splitlines() or [type(e).__name__])[0]


@dataclass(frozen=True)
class FileCounts:
    """Rows and customers of an orders file by what the RFM summary can make of them."""

    rows: dict[str, int]
    """Rows that are no order, by :data:`ROW_REASONS`."""
    examples: dict[str, str]
    """A value that could not be read, per row reason (at most 60 characters)."""
    customers: int
    """Customers in the file (rows with a customer id)."""
    unreadable: int
    """Customers with no readable row."""
    later: int
    """Customers with readable rows, none by the calibration end."""
    by_calibration_end: int
    """Customers with a readable order by the calibration end."""
    only_zero: int
    """Of those, customers whose orders by the calibration end all have amount 0."""
    negative: ir.Table
    """Customers with a negative amount by the calibration end (``customer_id``)."""


@dataclass
class OrdersFile:
    """An orders file opened by :func:`read_orders_file`: its orders, and its other rows."""

    con: Backend
    orders: ir.Table
    """Readable orders: ``customer_id``, ``ordered_at``, ``amount``, ``status``."""

    def execute(self, expr: ir.Expr) -> Any:
        """Run an expression over this file's tables."""
        return self.con.execute(expr)

    def counts(self, calibration_end: date) -> FileCounts:
        """Count, in one pass over the rows, the rows that are no orders by reason and
        the file's customers by what their readable rows hold by ``calibration_end``.

        The temporary tables behind :attr:`FileCounts.negative` stay until the next
        count.
        """
        db = self.con.con
        cal = f"DATE {_sql_str(calibration_end.isoformat())}"
        db.sql(
            f"""
            CREATE OR REPLACE TEMP TABLE clv_groups AS
            SELECT customer_id, problem, count(*) AS n, min(bad_value) AS example,
                bool_or(CAST(ordered_at AS DATE) <= {cal}) AS by_cal,
                min(amount) FILTER (WHERE CAST(ordered_at AS DATE) <= {cal}) AS lo,
                max(amount) FILTER (WHERE CAST(ordered_at AS DATE) <= {cal}) AS hi
            FROM clv_rows GROUP BY customer_id, problem
            """
        )
        rows = dict.fromkeys(ROW_REASONS, 0)
        examples: dict[str, str] = {}
        for problem, n, example in db.sql(
            "SELECT problem, sum(n), min(example) FROM clv_groups "
            "WHERE problem IS NOT NULL GROUP BY problem"
        ).fetchall():
            rows[problem] = int(n)
            if example is not None:
                examples[problem] = str(example)[:60]
        db.sql(
            """
            CREATE OR REPLACE TEMP TABLE clv_customers AS
            SELECT customer_id, bool_or(problem IS NULL) AS ok,
                coalesce(bool_or(problem IS NULL AND by_cal), false) AS by_cal,
                coalesce(bool_or(problem IS NULL AND by_cal AND lo = 0 AND hi = 0), false)
                    AS only_zero,
                coalesce(bool_or(problem IS NULL AND by_cal AND lo < 0), false) AS negative
            FROM clv_groups WHERE customer_id IS NOT NULL GROUP BY customer_id
            """
        )
        in_file, unreadable, later, by_cal, only_zero = db.sql(
            """
            SELECT count(*),
                count(*) FILTER (WHERE NOT ok),
                count(*) FILTER (WHERE ok AND NOT by_cal),
                count(*) FILTER (WHERE by_cal),
                count(*) FILTER (WHERE only_zero)
            FROM clv_customers
            """
        ).fetchone()
        return FileCounts(
            rows,
            examples,
            int(in_file),
            int(unreadable),
            int(later),
            int(by_cal),
            int(only_zero),
            self.con.sql("SELECT customer_id FROM clv_customers WHERE negative"),
        )


def write_json_lines(data: pa.Table, path: Path) -> Path:
    """``data`` as JSON lines at ``path``, one object per row, in row order."""
    import duckdb

    con = duckdb.connect()
    try:
        con.execute("SET preserve_insertion_order = true")
        con.register("data", data)
        target = path.as_posix().replace("'", "''")
        con.execute(f"COPY (SELECT * FROM data) TO '{target}' (FORMAT JSON)")
    finally:
        con.close()
    return path
