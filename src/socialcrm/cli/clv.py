"""``socialcrm clv``: fit, score and check purchase and spend models on any orders file.

Thin: it reads the file (CSV, JSON lines or Parquet, like ``socialcrm ingest``), calls
:mod:`socialcrm.value.transaction`, and prints. No workspace is needed; the file is
summarised by an in-process DuckDB.

Nothing is left out silently: rows without a customer id, a readable date or a readable
amount, and customers the summary cannot hold (no purchase by the calibration end), are
counted by reason and reported with the results (``left_out``, ``rows_left_out``).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from socialcrm.cli_common import JsonOpt, command_group, err, out
from socialcrm.cli_common import fail as _fail

if TYPE_CHECKING:
    from ibis.backends.duckdb import Backend
    from ibis.expr import types as ir

    from socialcrm.value.transaction import FileSummary

clv_app = command_group(
    "clv",
    (
        "Customer lifetime value on any orders file (CSV, JSON lines or Parquet): "
        "BG/NBD, Pareto/NBD, Gamma-Gamma.\n\n"
        "Example: socialcrm clv fit orders.csv --customer-col customer_id --date-col date "
        "--amount-col amount --calibration-end 1997-09-30 --time-unit week --json"
    ),
)

FileArg = Annotated[
    Path,
    typer.Argument(
        help="Orders file, one row per order: CSV, JSON lines or Parquet.",
        exists=True,
        dir_okay=False,
    ),
]
FormatOpt = Annotated[
    str | None,
    typer.Option(
        "--format",
        "-f",
        help="csv | jsonl | parquet (default: by extension: .jsonl/.ndjson/.json, "
        ".parquet/.pq, else csv).",
    ),
]
CustomerCol = Annotated[str, typer.Option(help="Column with the customer id.")]
DateCol = Annotated[
    str, typer.Option(help="Column with the order date or timestamp (ISO 8601, YYYY-MM-DD).")
]
AmountCol = Annotated[
    str | None, typer.Option(help="Column with the order amount (needed for spend and CLV).")
]
CalEnd = Annotated[
    datetime, typer.Option(formats=["%Y-%m-%d"], help="Last day of the calibration period.")
]
TimeUnitOpt = Annotated[str, typer.Option(help="day | week: unit of recency, T and params.")]
ZeroOpt = Annotated[
    bool,
    typer.Option(
        "--count-zero-amount", help="Count days with a zero net amount as purchases (CDNOW)."
    ),
]


def _check_choice(value: str, allowed: tuple[str, ...], what: str) -> None:
    if value not in allowed:
        raise _fail(f"unknown {what} {value!r}; use {' or '.join(allowed)}")


# -- reading any orders file -------------------------------------------------------------
CUSTOMER_REASONS = (
    "only_zero_amount",
    "first_purchase_after_calibration_end",
    "no_positive_amount",
    "only_unreadable_rows",
)
"""Why a customer of the file has no RFM summary, in the order they are decided."""
ROW_REASONS = ("no_customer_id", "bad_date", "bad_amount")
"""Why a row is not an order, in the order they are decided."""
_JSON_SAMPLE = 20_000


class OrdersFileError(ValueError):
    """The file cannot be read as the format asked for, or lacks a column."""


def _sql_str(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _json_pointer(key: str) -> str:
    return "/" + key.replace("~", "~0").replace("/", "~1")


def _source(
    db: Any, path: Path, fmt: str, wanted: list[str]
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
    described = db.sql(f"DESCRIBE SELECT * FROM read_csv({p})").fetchall()
    columns = [r[0] for r in described]
    present = [c for c in dict.fromkeys(wanted) if c in columns]
    types = ", ".join(f"{_sql_str(c)}: 'VARCHAR'" for c in present)
    return f"read_csv({p}, types={{{types}}})", dict.fromkeys(present, "VARCHAR"), columns


def _csv_formats(db: Any, path: Path) -> list[str]:
    """Date and timestamp formats DuckDB's sniffer found in a CSV (beyond ISO 8601)."""
    row = db.sql(f"SELECT DateFormat, TimestampFormat FROM sniff_csv({_sql_str(str(path))})")
    return [f for f in row.fetchone() or () if f]


def _date_sql(col: str, type_: str, formats: list[str]) -> str:
    c = _ident(col)
    if type_ == "DATE" or type_.startswith("TIMESTAMP"):
        return f"CAST({c} AS TIMESTAMP)"
    text = c if type_ == "VARCHAR" else f"CAST({c} AS VARCHAR)"
    # an offset moves the time to UTC, as ingest and a typed column do
    tries = [f"CAST(TRY_CAST({text} AS TIMESTAMPTZ) AS TIMESTAMP)"]
    tries += [f"TRY_STRPTIME({text}, {_sql_str(f)})" for f in formats]
    return f"COALESCE({', '.join(tries)})" if len(tries) > 1 else tries[0]


def read_orders_file(
    path: Path,
    fmt: str,
    customer_col: str = "customer_id",
    date_col: str = "date",
    amount_col: str | None = None,
    con: Backend | None = None,
) -> tuple[Backend, ir.Table]:
    """The orders of a CSV, JSON lines or Parquet file, as the RFM summary needs them.

    Returns the DuckDB backend and the orders table (``customer_id`` as text, so
    leading zeros survive; ``ordered_at``; ``amount``, 1 for every row without
    ``amount_col``; ``status``). The backend also holds the view ``clv_rows``: every
    row of the file with ``problem`` (one of :data:`ROW_REASONS`, or null for an order)
    and ``bad_value`` (the text that could not be read). Dates are ISO 8601 (and, in a
    CSV, any format DuckDB's sniffer recognised); amounts are finite numbers.

    Raises
    ------
    OrdersFileError
        When the file cannot be read as ``fmt`` or lacks one of the columns.
    """
    import duckdb
    import ibis

    con = con or ibis.duckdb.connect()
    db = con.con
    db.sql("SET TimeZone = 'UTC'")  # days of timestamps with an offset are UTC days
    wanted = [c for c in (customer_col, date_col, amount_col) if c]
    what = {"csv": "CSV", "jsonl": "JSON lines", "parquet": "Parquet"}[fmt]
    try:
        rel, types, columns = _source(db, path, fmt, wanted)
        missing = [c for c in wanted if c not in types]
        if missing:
            raise OrdersFileError(
                f"{path}: no column {', '.join(map(repr, missing))}; "
                f"it has {', '.join(columns) or 'none'}"
            )
        formats = _csv_formats(db, path) if fmt == "csv" else []
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
        orders = con.sql(
            "SELECT customer_id, ordered_at, amount, 'completed' AS status "
            "FROM clv_rows WHERE problem IS NULL"
        )
    except duckdb.Error as e:
        raise OrdersFileError(f"cannot read {path} as {what}: {_first_line(e)}") from None
    return con, orders


def _first_line(e: Exception) -> str:
    return (str(e).strip().splitlines() or [type(e).__name__])[0]


@dataclass(frozen=True)
class LeftOut:
    """Customers and rows of the file that the summary does not hold, by reason."""

    customers_in_file: int
    customers: dict[str, int]
    rows: dict[str, int]
    examples: dict[str, str] = field(default_factory=dict)
    """A value that could not be read, per row reason."""

    def as_json(self) -> dict[str, Any]:
        return {
            "customers_in_file": self.customers_in_file,
            "left_out": self.customers,
            "rows_left_out": self.rows,
            "rows_left_out_examples": self.examples,
        }

    def describe(self, calibration_end: date) -> str | None:
        """One line, or None when nothing was left out."""
        c, r = self.customers, self.rows
        texts = {
            "only_zero_amount": "whose only orders by the calibration end have a zero amount "
            "(count them with --count-zero-amount)",
            "first_purchase_after_calibration_end": "whose first order is after the "
            f"calibration end ({calibration_end.isoformat()})",
            "no_positive_amount": "whose orders by the calibration end have no positive "
            "net amount (only returns or negative amounts)",
            "only_unreadable_rows": "with no readable row",
        }
        row_texts = {
            "no_customer_id": "without a customer id",
            "bad_date": "with a missing or unreadable date (ISO 8601: YYYY-MM-DD)",
            "bad_amount": "with a missing or unreadable amount",
        }
        parts = []
        who = [f"{c[k]:,} {texts[k]}" for k in CUSTOMER_REASONS if c[k]]
        if who:
            parts.append(
                f"left out of the file's {self.customers_in_file:,} customers: " + "; ".join(who)
            )
        rows = [
            f"{r[k]:,} {row_texts[k]}"
            + (f", e.g. {self.examples[k]!r}" if k in self.examples else "")
            for k in ROW_REASONS
            if r[k]
        ]
        if rows:
            parts.append("rows left out: " + "; ".join(rows))
        return "; ".join(parts) or None


def count_left_out(
    con: Backend,
    orders: ir.Table,
    summary: Any,
    calibration_end: date,
    zero_amount_purchases: bool,
) -> LeftOut:
    """Count, by reason, the rows of ``clv_rows`` that are no orders and the customers
    of the file missing from ``summary`` (the RFM summary's customers).

    The reasons are exclusive and complete: the file's customers are the summary's
    plus those left out. A customer with orders by the calibration end but no purchase
    occasion is ``only_zero_amount`` when counting zero-amount days would make one,
    else ``no_positive_amount``. One pass over the rows decides it for customers with
    no negative amount (they have an occasion if and only if some amount is positive);
    customers with a negative amount and no occasion, if any, have their days netted as
    the summary nets them, in a second pass.
    """
    import ibis
    import pandas as pd

    from socialcrm.value.rfm import purchase_occasions

    db = con.con
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
    no_sale = int(by_cal) - len(summary)
    zero = 0
    if no_sale > 0 and not zero_amount_purchases:
        # no occasion, only zero amounts: zero-amount days would count
        zero = int(only_zero)
        if no_sale > zero:  # the rest have a negative amount: net their days
            fitted = ibis.memtable(
                pd.DataFrame({"customer_id": summary["customer_id"].astype(str)})
            )
            negative = con.sql("SELECT customer_id FROM clv_customers WHERE negative")
            rest = orders.semi_join(negative, "customer_id").anti_join(fitted, "customer_id")
            occ = purchase_occasions(
                rest, "customer_id", calibration_end, zero_amount_purchases=True
            )
            zero += int(con.execute(occ.customer_id.nunique()))
    db.sql("DROP TABLE clv_groups; DROP TABLE clv_customers")
    customers = {
        "only_zero_amount": zero,
        "first_purchase_after_calibration_end": int(later),
        "no_positive_amount": no_sale - zero,
        "only_unreadable_rows": int(unreadable),
    }
    return LeftOut(int(in_file), customers, rows, examples)


@dataclass(frozen=True)
class _Loaded:
    orders: ir.Table
    data: FileSummary
    left_out: LeftOut
    fmt: str


def _summary(
    file: Path,
    fmt: str | None,
    customer_col: str,
    date_col: str,
    amount_col: str | None,
    calibration_end: date,
    time_unit: str,
    zero: bool,
    holdout_end: date | None = None,
) -> _Loaded:
    import pandas as pd

    from socialcrm.store.readers import detect_format
    from socialcrm.value.mle import ModelFitError
    from socialcrm.value.transaction import summarise_orders

    _check_choice(time_unit, ("day", "week"), "time unit")
    if fmt is not None:
        _check_choice(fmt, ("csv", "jsonl", "parquet"), "format")
    fmt = fmt or detect_format(file)
    try:
        con, orders = read_orders_file(file, fmt, customer_col, date_col, amount_col)
    except OrdersFileError as e:
        raise _fail(str(e)) from None
    try:
        data = summarise_orders(orders, calibration_end, time_unit, holdout_end, zero)
    except ModelFitError as e:  # no purchase by the end: say which customers and rows
        empty = pd.DataFrame({"customer_id": pd.Series([], dtype=str)})
        left = count_left_out(con, orders, empty, calibration_end, zero)
        why = left.describe(calibration_end)
        raise _fail(f"{e}" + (f" ({why})" if why else "")) from None
    except ValueError as e:
        raise _fail(str(e)) from None
    left = count_left_out(con, orders, data.summary, calibration_end, zero)
    return _Loaded(orders, data, left, fmt)


def _report_left_out(loaded: _Loaded) -> None:
    line = loaded.left_out.describe(loaded.data.calibration_end)
    if line:
        out.print(f"[yellow]{escape(line)}[/]", highlight=False, soft_wrap=True)


def _clean(value: Any) -> Any:
    """JSON-safe: NaN and infinities become null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


@clv_app.command()
def fit(
    file: FileArg,
    calibration_end: CalEnd,
    customer_col: CustomerCol = "customer_id",
    date_col: DateCol = "date",
    amount_col: AmountCol = None,
    time_unit: TimeUnitOpt = "day",
    model: Annotated[str, typer.Option(help="bgnbd | paretonbd | gammagamma")] = "bgnbd",
    count_zero_amount: ZeroOpt = False,
    fmt: FormatOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Fit a model by maximum likelihood and print its parameters.

    Log-likelihood in the paper's convention (time in the chosen unit, unscaled).

    Says how many customers and rows of the file were left out, and why.

    Example: socialcrm clv fit cdnow.csv --customer-col customer_id --date-col date
    --amount-col amount --calibration-end 1997-09-30 --time-unit week --model bgnbd --json

    Example: socialcrm clv fit orders.parquet --amount-col amount --calibration-end 2024-06-30
    """
    from socialcrm.value.mle import ModelFitError
    from socialcrm.value.transaction import fit_summary

    _check_choice(model, ("bgnbd", "paretonbd", "gammagamma"), "model")
    if model == "gammagamma" and not amount_col:
        raise _fail("gammagamma needs --amount-col")
    loaded = _summary(
        file,
        fmt,
        customer_col,
        date_col,
        amount_col,
        calibration_end.date(),
        time_unit,
        count_zero_amount,
    )
    try:
        result = fit_summary(loaded.data, model)
    except ModelFitError as e:
        why = loaded.left_out.describe(loaded.data.calibration_end)
        raise _fail(str(e) + (f" ({why})" if why else ""), 1) from None
    s = loaded.data.summary
    payload = _clean(result.as_dict())
    payload["time_unit"] = time_unit
    payload["calibration_end"] = calibration_end.date().isoformat()
    payload["format"] = loaded.fmt
    payload.update(loaded.left_out.as_json())
    spend_note = ""
    if model == "gammagamma":
        # the spend model is for repeat buyers with a positive mean spend
        one_time = int((s.frequency == 0).sum())
        no_spend = int(((s.frequency > 0) & (s.monetary <= 0)).sum())
        payload["not_in_spend_model"] = {
            "one_time_buyers": one_time,
            "no_positive_mean_spend": no_spend,
        }
        spend_note = (
            f" ({one_time:,} one-time buyers"
            + (f" and {no_spend:,} repeat buyers with no positive mean spend" if no_spend else "")
            + " are not in a spend model)"
        )
    if as_json:
        print(json.dumps(payload, indent=2))
        return
    table = Table(title=f"{model}: log-likelihood {result.log_likelihood:,.2f}")
    table.add_column("parameter")
    table.add_column("estimate", justify="right")
    table.add_column("std. error", justify="right")
    for name, value in result.params.items():
        table.add_row(name, f"{value:.4f}", f"{result.std_errors[name]:.4f}")
    out.print(table)
    status = "converged" if result.converged else "NOT converged"
    out.print(
        f"{result.n_customers:,} customers fitted{spend_note}, {result.n_distinct:,} "
        f"distinct summaries; {status} in {result.iterations} iterations (max |gradient| "
        f"{result.gradient_norm:.1e}, Hessian condition {result.hessian_condition:.1e})",
        highlight=False,
        soft_wrap=True,
    )
    _report_left_out(loaded)


@clv_app.command()
def predict(
    file: FileArg,
    calibration_end: CalEnd,
    horizon_end: Annotated[
        datetime, typer.Option(formats=["%Y-%m-%d"], help="End of the prediction horizon.")
    ],
    out_file: Annotated[Path, typer.Option("--out", help="CSV to write the scores to.")],
    customer_col: CustomerCol = "customer_id",
    date_col: DateCol = "date",
    amount_col: AmountCol = None,
    time_unit: TimeUnitOpt = "day",
    model: Annotated[str, typer.Option(help="bgnbd | paretonbd")] = "bgnbd",
    discount_rate: Annotated[float, typer.Option(help="Annual discount rate of CLV.")] = 0.10,
    count_zero_amount: ZeroOpt = False,
    fmt: FormatOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Score every customer: P(alive), expected purchases and spend, CLV.

    Writes one row per customer who bought by the calibration end: the id,
    frequency, recency, T, monetary, p_alive, expected_purchases (calibration
    end to horizon end), expected_spend, clv, risk_band and overdue.

    Says how many customers and rows of the file were left out, and why.

    Example: socialcrm clv predict orders.csv --amount-col amount
    --calibration-end 1997-09-30 --horizon-end 1998-06-30 --out scores.csv
    """
    from socialcrm.value.mle import ModelFitError
    from socialcrm.value.transaction import score_customers

    _check_choice(model, ("bgnbd", "paretonbd"), "model")
    cal = calibration_end.date()
    horizon_days = (horizon_end.date() - cal).days
    if horizon_days <= 0:
        raise _fail("--horizon-end must be after --calibration-end")
    loaded = _summary(
        file, fmt, customer_col, date_col, amount_col, cal, time_unit, count_zero_amount
    )
    try:
        result = score_customers(loaded.data.summary, model, horizon_days, discount_rate, time_unit)
    except ModelFitError as e:
        why = loaded.left_out.describe(cal)
        raise _fail(str(e) + (f" ({why})" if why else ""), 1) from None
    cols = [
        "customer_id",
        "frequency",
        "recency",
        "T",
        "monetary",
        "p_alive",
        "expected_purchases",
        "expected_spend",
        "clv",
        "risk_band",
        "overdue",
    ]
    scores = result.scores[cols].rename(columns={"customer_id": customer_col})
    out_file.parent.mkdir(parents=True, exist_ok=True)
    scores.to_csv(out_file, index=False)
    summary = {
        "model": model,
        "params": result.models.purchase.params,
        "spend_params": result.models.spend.params if result.models.spend else None,
        "spend_error": result.models.spend_error,
        "n_customers": len(scores),
        "horizon_days": horizon_days,
        "expected_purchases": float(scores.expected_purchases.sum()),
        "clv": float(scores.clv.sum()) if result.models.spend else None,
        "out": str(out_file),
        "format": loaded.fmt,
        **loaded.left_out.as_json(),
    }
    if as_json:
        print(json.dumps(_clean(summary), indent=2))
        return
    out.print(
        f"wrote {len(scores):,} customers to {escape(str(out_file))}: "
        f"{summary['expected_purchases']:,.1f} expected purchases in {horizon_days} days"
        + (f", total CLV {summary['clv']:,.2f}" if summary["clv"] is not None else ""),
        highlight=False,
        soft_wrap=True,
    )
    _report_left_out(loaded)
    if result.models.spend_error:
        err.print(f"[yellow]no spend model:[/] {escape(result.models.spend_error)}")


@clv_app.command()
def check(
    file: FileArg,
    calibration_end: CalEnd,
    holdout_end: Annotated[
        datetime | None,
        typer.Option(formats=["%Y-%m-%d"], help="End of the holdout period (for tracking)."),
    ] = None,
    customer_col: CustomerCol = "customer_id",
    date_col: DateCol = "date",
    amount_col: AmountCol = None,
    time_unit: TimeUnitOpt = "day",
    model: Annotated[str, typer.Option(help="bgnbd | paretonbd")] = "bgnbd",
    charts: Annotated[
        Path | None, typer.Option(help="Folder to draw PNG charts in (needs matplotlib).")
    ] = None,
    count_zero_amount: ZeroOpt = False,
    fmt: FormatOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Model checks: calibration histogram with χ², holdout tracking, conditional
    expectations by calibration frequency.

    Says how many customers and rows of the file were left out, and why.

    Example: socialcrm clv check cdnow.csv --calibration-end 1997-09-30
    --holdout-end 1998-06-30 --time-unit week --charts checks/
    """
    from socialcrm.value.mle import ModelFitError
    from socialcrm.value.transaction import model_checks

    _check_choice(model, ("bgnbd", "paretonbd"), "model")
    cal = calibration_end.date()
    hold = holdout_end.date() if holdout_end else None
    if hold is not None and hold <= cal:
        raise _fail("--holdout-end must be after --calibration-end")
    loaded = _summary(
        file, fmt, customer_col, date_col, amount_col, cal, time_unit, count_zero_amount, hold
    )
    try:
        res = model_checks(loaded.orders, loaded.data, model, count_zero_amount)
    except ModelFitError as e:
        why = loaded.left_out.describe(cal)
        raise _fail(str(e) + (f" ({why})" if why else ""), 1) from None
    hist = res["histogram"]
    files: list[str] = []
    if charts is not None:
        from socialcrm.value.checks import plot_checks

        files = [
            str(p)
            for p in plot_checks(
                charts, hist, res.get("tracking"), res.get("conditional"), title=model
            )
        ]
    if as_json:
        payload = {
            "model": model,
            "params": res["model"].params,
            "n_customers": len(loaded.data.summary),
            "histogram": hist.table.to_dict(orient="records"),
            "chi2": hist.chi2,
            "dof": hist.dof,
            "p_value": hist.p_value,
            "tracking": res["tracking"].to_dict(orient="records"),
            "conditional": (
                res["conditional"].to_dict(orient="records") if "conditional" in res else None
            ),
            "holdout": res.get("holdout"),
            "charts": files,
            "format": loaded.fmt,
            **loaded.left_out.as_json(),
        }
        print(json.dumps(_clean(payload), indent=2, default=_json_default))
        return
    _print_frame(
        hist.table, f"calibration: χ² = {hist.chi2:.2f} ({hist.dof} df, p = {hist.p_value:.3f})"
    )
    if "conditional" in res:
        _print_frame(res["conditional"], "holdout purchases by calibration frequency")
        h = res["holdout"]
        out.print(
            f"holdout repeat purchases: actual {h['actual']:,}; sum of conditional "
            f"expectations {h['conditional_expectations']:,.1f}; tracking forecast "
            f"{h['tracking_forecast']:,.1f}"
        )
    for f in files:
        out.print(f"chart: {escape(f)}")
    out.print(f"{len(loaded.data.summary):,} customers checked", highlight=False)
    _report_left_out(loaded)


def _print_frame(frame: Any, title: str) -> None:
    table = Table(title=title)
    for col in frame.columns:
        table.add_column(str(col), justify="right")
    for row in frame.itertuples(index=False):
        table.add_row(*(f"{v:,.3f}" if isinstance(v, float) else str(v) for v in row))
    out.print(table)


def _json_default(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    return str(value)
