"""``socialcrm clv``: fit, score and check purchase and spend models on any orders CSV.

Thin: it parses, calls :mod:`socialcrm.value.transaction`, and prints. No workspace is
needed; the file is summarised by an in-process DuckDB.
"""

from __future__ import annotations

import json
import math
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from socialcrm.cli_common import JsonOpt, command_group, err, out
from socialcrm.cli_common import fail as _fail

clv_app = command_group(
    "clv",
    (
        "Customer lifetime value on any orders CSV: BG/NBD, Pareto/NBD, Gamma-Gamma.\n\n"
        "Example: socialcrm clv fit orders.csv --customer-col customer_id --date-col date "
        "--amount-col amount --calibration-end 1997-09-30 --time-unit week --json"
    ),
)

FileArg = Annotated[
    Path, typer.Argument(help="Orders CSV: one row per order.", exists=True, dir_okay=False)
]
CustomerCol = Annotated[str, typer.Option(help="Column with the customer id.")]
DateCol = Annotated[str, typer.Option(help="Column with the order date or timestamp.")]
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


def _summary(
    file: Path,
    customer_col: str,
    date_col: str,
    amount_col: str | None,
    calibration_end: date,
    time_unit: str,
    zero: bool,
    holdout_end: date | None = None,
) -> tuple[Any, Any]:
    from socialcrm.value.mle import ModelFitError
    from socialcrm.value.transaction import read_orders_csv, summarise_orders

    _check_choice(time_unit, ("day", "week"), "time unit")
    try:
        orders = read_orders_csv(file, customer_col, date_col, amount_col)
        data = summarise_orders(orders, calibration_end, time_unit, holdout_end, zero)
    except (ValueError, ModelFitError) as e:
        raise _fail(str(e)) from None
    return orders, data


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
    as_json: JsonOpt = False,
) -> None:
    """Fit a model by maximum likelihood and print its parameters.

    Log-likelihood in the paper's convention (time in the chosen unit, unscaled).

    Example: socialcrm clv fit cdnow.csv --customer-col customer_id --date-col date
    --amount-col amount --calibration-end 1997-09-30 --time-unit week --model bgnbd --json
    """
    from socialcrm.value.mle import ModelFitError
    from socialcrm.value.transaction import fit_summary

    _check_choice(model, ("bgnbd", "paretonbd", "gammagamma"), "model")
    if model == "gammagamma" and not amount_col:
        raise _fail("gammagamma needs --amount-col")
    _, data = _summary(
        file,
        customer_col,
        date_col,
        amount_col,
        calibration_end.date(),
        time_unit,
        count_zero_amount,
    )
    try:
        result = fit_summary(data, model)
    except ModelFitError as e:
        raise _fail(str(e), 1) from None
    payload = _clean(result.as_dict())
    payload["time_unit"] = time_unit
    payload["calibration_end"] = calibration_end.date().isoformat()
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
        f"{result.n_customers:,} customers, {result.n_distinct:,} distinct summaries; "
        f"{status} in {result.iterations} iterations (max |gradient| "
        f"{result.gradient_norm:.1e}, Hessian condition {result.hessian_condition:.1e})"
    )


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
    as_json: JsonOpt = False,
) -> None:
    """Score every customer: P(alive), expected purchases and spend, CLV.

    Writes one row per customer with: the customer id, frequency, recency, T, monetary,
    p_alive, expected_purchases (calibration end to horizon end), expected_spend, clv,
    risk_band and overdue.

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
    _, data = _summary(file, customer_col, date_col, amount_col, cal, time_unit, count_zero_amount)
    try:
        result = score_customers(data.summary, model, horizon_days, discount_rate, time_unit)
    except ModelFitError as e:
        raise _fail(str(e), 1) from None
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
    }
    if as_json:
        print(json.dumps(_clean(summary), indent=2))
        return
    out.print(
        f"wrote {len(scores):,} customers to {out_file}: {summary['expected_purchases']:,.1f} "
        f"expected purchases in {horizon_days} days"
        + (f", total CLV {summary['clv']:,.2f}" if summary["clv"] is not None else "")
    )
    if result.models.spend_error:
        err.print(f"[yellow]no spend model:[/] {result.models.spend_error}")


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
    as_json: JsonOpt = False,
) -> None:
    """Model checks: calibration histogram with χ², holdout tracking, conditional
    expectations by calibration frequency.

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
    orders, data = _summary(
        file, customer_col, date_col, amount_col, cal, time_unit, count_zero_amount, hold
    )
    try:
        res = model_checks(orders, data, model, count_zero_amount)
    except ModelFitError as e:
        raise _fail(str(e), 1) from None
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
        out.print(f"chart: {f}")


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
