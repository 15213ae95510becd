"""``socialcrm clv``: fit, score and check purchase and spend models on any orders file.

Thin: it reads the file (CSV, JSON lines or Parquet, like ``socialcrm ingest``) with
:mod:`socialcrm.store.files`, calls :mod:`socialcrm.value.transaction`, and prints. No
workspace is needed; the file is summarised by an in-process DuckDB.

Nothing is left out silently: rows without a customer id, a readable date or a readable
amount, and customers the summary cannot hold (no purchase by the calibration end), are
counted by reason and reported with the results (``left_out``, ``rows_left_out``).
"""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from socialcrm.cli.common import JsonOpt, command_group, err, out
from socialcrm.cli.common import fail as _fail
from socialcrm.store.files import ROW_REASONS, OrdersFile, OrdersFileError, read_orders_file

if TYPE_CHECKING:
    from ibis.expr import types as ir

    from socialcrm.value.checks import Histogram
    from socialcrm.value.mle import FitResult
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
    file: OrdersFile,
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

    counts = file.counts(calibration_end)
    rows, examples = counts.rows, counts.examples
    in_file, unreadable, later = counts.customers, counts.unreadable, counts.later
    no_sale = counts.by_calibration_end - len(summary)
    zero = 0
    if no_sale > 0 and not zero_amount_purchases:
        # no occasion, only zero amounts: zero-amount days would count
        zero = counts.only_zero
        if no_sale > zero:  # the rest have a negative amount: net their days
            fitted = ibis.memtable(
                pd.DataFrame({"customer_id": summary["customer_id"].astype(str)})
            )
            rest = file.orders.semi_join(counts.negative, "customer_id").anti_join(
                fitted, "customer_id"
            )
            occ = purchase_occasions(
                rest, "customer_id", calibration_end, zero_amount_purchases=True
            )
            zero += int(file.execute(occ.customer_id.nunique()))
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
        opened = read_orders_file(file, fmt, customer_col, date_col, amount_col)
    except OrdersFileError as e:
        raise _fail(str(e)) from None
    try:
        data = summarise_orders(opened.orders, calibration_end, time_unit, holdout_end, zero)
    except ModelFitError as e:  # no purchase by the end: say which customers and rows
        empty = pd.DataFrame({"customer_id": pd.Series([], dtype=str)})
        left = count_left_out(opened, empty, calibration_end, zero)
        why = left.describe(calibration_end)
        raise _fail(f"{e}" + (f" ({why})" if why else "")) from None
    except ValueError as e:
        raise _fail(str(e)) from None
    left = count_left_out(opened, data.summary, calibration_end, zero)
    return _Loaded(opened.orders, data, left, fmt)


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

    _check_choice(model, ("bgnbd", "paretonbd", "gammagamma"), "model")
    if model == "gammagamma" and not amount_col:
        raise _fail("gammagamma needs --amount-col")
    cal = calibration_end.date()
    spend_note = ""
    extra: dict[str, Any] = {}
    if model == "gammagamma":
        from socialcrm.value.transaction import fit_summary

        loaded = _summary(
            file, fmt, customer_col, date_col, amount_col, cal, time_unit, count_zero_amount
        )
        left, fmt = loaded.left_out, loaded.fmt
        try:
            result = fit_summary(loaded.data, model)
        except ModelFitError as e:
            why = left.describe(cal)
            raise _fail(str(e) + (f" ({why})" if why else ""), 1) from None
        # the spend model is for repeat buyers with a positive mean spend
        s = loaded.data.summary
        one_time = int((s.frequency == 0).sum())
        no_spend = int(((s.frequency > 0) & (s.monetary <= 0)).sum())
        extra["not_in_spend_model"] = {
            "one_time_buyers": one_time,
            "no_positive_mean_spend": no_spend,
        }
        spend_note = (
            f" ({one_time:,} one-time buyers"
            + (f" and {no_spend:,} repeat buyers with no positive mean spend" if no_spend else "")
            + " are not in a spend model)"
        )
    else:
        result, left, fmt = _fit_on_patterns(
            file, fmt, customer_col, date_col, amount_col, cal, time_unit, count_zero_amount, model
        )
    payload = _clean(result.as_dict())
    payload["time_unit"] = time_unit
    payload["calibration_end"] = cal.isoformat()
    payload["format"] = fmt
    payload.update(left.as_json())
    payload.update(extra)
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
    line = left.describe(cal)
    if line:
        out.print(f"[yellow]{escape(line)}[/]", highlight=False, soft_wrap=True)


def _fit_on_patterns(
    file: Path,
    fmt: str | None,
    customer_col: str,
    date_col: str,
    amount_col: str | None,
    calibration_end: date,
    time_unit: str,
    zero: bool,
    model: str,
) -> tuple[FitResult, LeftOut, str]:
    """Fit a purchase model on the file's distinct (x, recency, T) patterns, read in one
    pass (:func:`socialcrm.store.file_patterns.read_file_patterns`).

    The same fit as on the compacted RFM summary (the patterns come sorted, as
    :func:`~socialcrm.value.mle.compact` sorts them), without a frame per customer. The
    file is read on Arrow's (or DuckDB's) threads while this one imports the model's code.
    """
    from socialcrm.store.file_patterns import FilePatterns, read_file_patterns
    from socialcrm.value.units import DAYS_PER_UNIT

    _check_choice(time_unit, ("day", "week"), "time unit")
    if fmt is not None:
        _check_choice(fmt, ("csv", "jsonl", "parquet"), "format")
    fmt = fmt or _detect_format(file)
    box: dict[str, FilePatterns | BaseException] = {}

    def read() -> None:
        try:
            box["found"] = read_file_patterns(
                file, fmt, calibration_end, customer_col, date_col, amount_col, zero
            )
        except BaseException as e:  # raised again below, in the command's thread
            box["found"] = e

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    from socialcrm.value.mle import ModelFitError

    fitter = _purchase_fitter(model)  # imports scipy while the file is read
    reader.join()
    found = box["found"]
    if isinstance(found, OrdersFileError):
        raise _fail(str(found)) from None
    if isinstance(found, BaseException):
        raise found
    no_sale = found.by_calibration_end - int(found.customers.sum())
    zero_left = 0 if zero else found.only_zero + found.zero_occasion_only
    left = LeftOut(
        found.customers_in_file,
        {
            "only_zero_amount": zero_left,
            "first_purchase_after_calibration_end": found.later,
            "no_positive_amount": no_sale - zero_left,
            "only_unreadable_rows": found.unreadable,
        },
        found.rows,
        found.examples,
    )
    why = left.describe(calibration_end)
    if len(found.x) == 0:
        message = f"no purchases on or before {calibration_end}"
        raise _fail(message + (f" ({why})" if why else ""))
    unit = DAYS_PER_UNIT[time_unit]
    try:
        fitted = fitter(
            found.x.astype("float64"),
            found.recency_days / unit,
            found.t_days / unit,
            found.customers.astype("float64"),
        )
    except ModelFitError as e:
        raise _fail(str(e) + (f" ({why})" if why else ""), 1) from None
    assert fitted.fit is not None
    return fitted.fit, left, fmt


def _purchase_fitter(model: str) -> Any:
    """The fitting function of ``bgnbd`` or ``paretonbd``, importing only that model."""
    if model == "paretonbd":
        from socialcrm.value.paretonbd import fit_paretonbd

        return fit_paretonbd
    from socialcrm.value.bgnbd import fit_bgnbd

    return fit_bgnbd


def _detect_format(path: Path) -> str:
    """csv, jsonl or parquet by the file's extension, as ``socialcrm ingest`` decides
    (:func:`socialcrm.store.readers.detect_format`; a test keeps them equal) without
    importing the ingest readers (and pyarrow)."""
    suffix = "".join(path.suffixes[-2:]).lower()
    if suffix.endswith((".jsonl", ".ndjson", ".json")):
        return "jsonl"
    if suffix.endswith((".parquet", ".pq")):
        return "parquet"
    return "csv"


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
        # values of several types by key (see model_checks): read as Any, named below
        res: Mapping[str, Any] = model_checks(loaded.orders, loaded.data, model, count_zero_amount)
    except ModelFitError as e:
        why = loaded.left_out.describe(cal)
        raise _fail(str(e) + (f" ({why})" if why else ""), 1) from None
    hist: Histogram = res["histogram"]
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
